"""The console's pages: thin handlers over the board (tasks, steps, reports, incidents, from the topics) and the
other roles' APIs (cancel, feedback, audit log, costs, knowledge), asked with the person's own credential.

Each handler is mounted with the permission it needs (sinks/console/app.py ROUTES: `@require`, enforced by the API's
auth middleware before it runs); a page shows only the controls the person's roles allow, and the server refuses the
rest whatever the page shows.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import quote, urlencode

import jinja2
from aiohttp import web
from pydantic import ValidationError

from aetherius.http.auth import AuthFailure
from aetherius.http.rbac import PRINCIPAL, Principal, allowed
from schemas.audit import AuditEvent
from schemas.knowledge import KnowledgeEntry
from schemas.result import ProblemCategory
from schemas.signal import Priority
from schemas.step import StepEvent
from schemas.task import TaskStatus
from agents.redaction import redact_text  # the one redaction (moving to shared infrastructure)
from sinks.console.board import Board, Change, TaskFilter, TaskView
from sinks.console.follower import Follower
from sinks.console.live import Event, Hub
from sinks.console.sessions import (COOKIE, CSRF_FIELD, LOGIN_COOKIE, SESSION, Session, SessionAuthenticator, SessionStore,
                                    clear_session_cookie, same_origin, set_session_cookie)
from sinks.console.upstream import Upstream

HERE = Path(__file__).resolve().parent
PAGE_SIZE = 100
_TASK_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,200}$")


# ---------------------------------------------------------------- templates

def _age(value: datetime, now: datetime) -> str:
    s = max(0, int((now - value).total_seconds()))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    return f"{s // 3600}h {s % 3600 // 60}m" if s < 86400 else f"{s // 86400}d"


def _usd(value: float | None) -> str:
    value = float(value or 0.0)
    return f"${value:,.4f}" if value < 100 else f"${value:,.2f}"


def templates() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(
        age=_age, usd=_usd,
        iso=lambda d: d.astimezone(timezone.utc).isoformat().replace("+00:00", "Z") if d else "",
        clock=lambda d: d.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC") if d else "-",
        compact=lambda obj: json.dumps(obj, separators=(", ", ": "), ensure_ascii=False, default=str)[:400],
    )
    return env


@dataclass(frozen=True)
class NavItem:
    label: str
    href: str
    permission: str


NAV = (NavItem("Tasks", "/ui/tasks", "tasks:read"), NavItem("Incidents", "/ui/incidents", "tasks:read"),
       NavItem("Costs", "/ui/costs", "costs:read"), NavItem("Knowledge", "/ui/knowledge", "knowledge:read"),
       NavItem("Audit", "/ui/audit", "audit:read"))


def landing(principal: Principal) -> str:
    """The first page after sign-in: the task list, else (an auditor) the audit log, else what the role may see."""
    order = sorted(NAV, key=lambda n: (n.href != "/ui/tasks", n.href != "/ui/audit"))
    return next((n.href for n in order if allowed(principal.roles, n.permission)), "/ui/login")


def safe_next(value: str | None) -> str:
    """Where to go after sign-in: a console path, never another site (no open redirect)."""
    if value and value.startswith("/ui/") and "//" not in value and "\\" not in value and len(value) < 500:
        return value
    return ""


@dataclass
class Urls:
    worker: str
    sink: str
    knowledge: str


class Console:
    def __init__(self, board: Board, follower: Follower | None, hub: Hub, upstream: Upstream, urls: Urls,
                 sessions: SessionStore, authenticator: SessionAuthenticator, audit: Any, cookie_secure: bool) -> None:
        self.board, self.follower, self.hub, self.upstream, self.urls = board, follower, hub, upstream, urls
        self.sessions, self.auth, self.audit, self.cookie_secure = sessions, authenticator, audit, cookie_secure
        self.env = templates()
        self._row_cache: dict[str, tuple[int, str]] = {}

    # ------------------------------------------------------------ rendering helpers

    def render(self, name: str, **context: Any) -> str:
        return self.env.get_template(name).render(now=datetime.now(timezone.utc), **context)

    def page(self, request: web.Request, name: str, status: int = 200, **context: Any) -> web.Response:
        session: Session | None = request.get(SESSION)
        nav = []
        if session is not None:
            nav = [{"label": n.label, "href": n.href, "current": request.path.startswith(n.href)}
                   for n in NAV if allowed(session.principal.roles, n.permission)]
        context.setdefault("flash", None)
        html = self.render(name, session=session, nav=nav, **context)
        return web.Response(text=html, status=status, content_type="text/html")

    def row(self, view: TaskView) -> str:
        cached = self._row_cache.get(view.id)
        if cached is not None and cached[0] == view.version:
            return cached[1]
        html = self.render("_task_row.html", v=view)
        if len(self._row_cache) > 2 * self.board.max_tasks:
            self._row_cache.clear()
        self._row_cache[view.id] = (view.version, html)
        return html

    def view_of(self, request: web.Request) -> TaskView:
        task_id = request.match_info["task_id"]
        view = self.board.tasks.get(task_id) if _TASK_ID.match(task_id) else None
        if view is None:
            raise web.HTTPNotFound(text=self.render("error.html", session=request.get(SESSION), nav=[], flash=None,
                                                    heading="No such task",
                                                    message="The console does not know this task (yet)."),
                                   content_type="text/html")
        return view

    def since(self, request: web.Request) -> int:
        """Where a live stream starts: the board version the page was rendered at (its `since`), else now."""
        return _int(request.query.get("since"), self.board.version, 0, self.board.version)

    # ------------------------------------------------------------ sign-in

    async def login_form(self, request: web.Request, error: str = "", status: int = 200) -> web.Response:
        token = request.cookies.get(LOGIN_COOKIE) or _token()
        response = self.page(request, "login.html", status=status, error=error, login_csrf=token,
                             next=safe_next(request.query.get("next") or (await _form(request)).get("next")))
        response.set_cookie(LOGIN_COOKIE, token, httponly=True, secure=self.cookie_secure, samesite="Strict",
                            path="/ui/login", max_age=3600)
        return response

    async def login(self, request: web.Request) -> web.StreamResponse:
        form = await _form(request)
        cookie = request.cookies.get(LOGIN_COOKIE, "")
        if not same_origin(request):
            return await self.login_form(request, "This sign-in did not come from this console's own page.", status=403)
        if not cookie or not _equal(form.get(CSRF_FIELD, ""), cookie):
            return await self.login_form(request, "The sign-in form expired; try again.", status=403)
        started = time.perf_counter()
        try:
            principal = await self.auth.verify_credential(form.get("credential", ""))
        except AuthFailure as failure:
            await self._audit(request, "console.signin", "rejected", failure.reason, None, started)
            return await self.login_form(request, "That credential was not accepted.", status=401)
        active = _suspended(request, principal)
        if active:
            await self._audit(request, "console.signin", "rejected", active, principal, started)
            return await self.login_form(request, f"You are {active}.", status=403)
        credential = form.get("credential", "").strip()
        self.sessions.drop(request.cookies.get(COOKIE))  # a sign-in never continues an earlier session (fixation)
        session = self.sessions.create(credential, principal, token_expiry=_jwt_expiry(credential))
        await self._audit(request, "console.signin", "ok", "", principal, started)
        response = web.HTTPSeeOther(safe_next(form.get("next")) or landing(principal))
        set_session_cookie(response, session, self.cookie_secure)
        response.del_cookie(LOGIN_COOKIE, path="/ui/login")
        raise response

    async def logout(self, request: web.Request) -> web.StreamResponse:
        session = self.sessions.drop(request[SESSION].id)
        await self._audit(request, "console.signout", "ok", "", session.principal if session else None,
                          time.perf_counter())
        response = web.HTTPSeeOther("/ui/login")
        clear_session_cookie(response, self.cookie_secure)
        raise response

    async def home(self, request: web.Request) -> web.StreamResponse:
        raise web.HTTPSeeOther(landing(request[PRINCIPAL]))

    async def _audit(self, request: web.Request, action: str, result: str, reason: str,
                     principal: Principal | None, started: float) -> None:
        event = AuditEvent(actor=principal.name if principal else "anonymous", role=principal.role if principal else "",
                           action=action, resource=f"{request.method} {request.path}", result=result,  # type: ignore[arg-type]
                           reason=reason, source_ip=request.remote or "",
                           duration_ms=round((time.perf_counter() - started) * 1000, 3),
                           details={"auth_method": principal.method if principal else ""})
        try:
            await self.audit(event)
        except Exception:  # noqa: BLE001 - logged by the audit sink; sign-in itself must not fail on it
            pass

    # ------------------------------------------------------------ tasks

    async def tasks(self, request: web.Request) -> web.Response:
        flt = task_filter(request.query)
        offset = _int(request.query.get("offset"), 0, 0, 10_000_000)
        rows, total = self.board.listing(flt, PAGE_SIZE, offset)
        query = {k: v for k, v in request.query.items() if k in FILTERS and v}
        more = offset + PAGE_SIZE < total
        return self.page(request, "tasks.html", rows=rows, total=total, flt=flt, choices=self.choices(),
                         live_url=f"/ui/live/tasks?{urlencode({**query, 'since': self.board.version})}",
                         next_offset=more, next_url=f"/ui/tasks?{urlencode({**query, 'offset': offset + PAGE_SIZE})}")

    def choices(self) -> dict[str, list[str]]:
        return {"status": [s.value for s in TaskStatus], "priority": [p.value for p in Priority],
                "cluster": self.board.values("cluster"), "namespace": self.board.values("namespace"),
                "category": [c.value for c in ProblemCategory] + ["none"]}

    async def live_tasks(self, request: web.Request) -> web.StreamResponse:
        flt = task_filter(request.query)

        async def render(changes: list[Change]) -> list[Event]:
            out: list[Event] = []
            for task_id in dict.fromkeys(c.key for c in changes if c.kind in ("task", "report", "step")):
                view = self.board.tasks.get(task_id)
                if view is None:
                    continue
                if flt.matches(view):
                    out.append(("upsert", {"id": f"task-{task_id}", "html": self.row(view), "into": "task-rows",
                                           "at": "start"}))
                else:
                    out.append(("remove", {"id": f"task-{task_id}"}))
            return out

        return await self.hub.stream(request, self.since(request), render)

    def detail_context(self, request: web.Request, view: TaskView) -> dict[str, Any]:
        roles = request[PRINCIPAL].roles
        report = view.report
        termination = report.termination_reason if report and report.termination_reason else ""
        if view.task.status.terminal and view.task.status_reason:
            termination = f"{view.task.status.value}: {view.task.status_reason}" + \
                (f" ({termination})" if termination and termination not in view.task.status_reason else "")
        return {"v": view, "can_cancel": allowed(roles, "tasks:cancel"), "can_feedback": allowed(roles, "feedback:write"),
                "termination": termination, "feedback_done": "", "feedback_error": "", "stop_message": "",
                "stop_kind": "", "task_id": view.id}

    async def task(self, request: web.Request) -> web.Response:
        view = self.view_of(request)
        steps = [view.steps[n] for n in sorted(view.steps)]
        return self.page(request, "task.html", steps=steps, **self.detail_context(request, view),
                         live_url=f"/ui/live/tasks/{view.id}?since={self.board.version}")

    async def live_task(self, request: web.Request) -> web.StreamResponse:
        view = self.view_of(request)
        session = request[SESSION]

        async def render(changes: list[Change]) -> list[Event]:
            mine = [c for c in changes if c.key == view.id and c.kind in ("task", "step", "report")]
            if not mine:
                return []
            current = self.board.tasks.get(view.id) or view
            ctx = {**self.detail_context(request, current), "session": session}
            out: list[Event] = [("upsert", {"id": "task-header", "html": self.render("_task_header.html", **ctx)})]
            for number in sorted({c.detail for c in mine if c.kind == "step"}):
                step = current.steps.get(number)
                if step is not None:
                    out.append(("upsert", {"id": f"step-{number}", "into": "step-rows", "at": "end",
                                           "html": self.render("_step_row.html", s=step, task_id=view.id)}))
            if any(c.kind == "report" for c in mine):
                out.append(("upsert", {"id": "report", "html": self.render("_report.html", **ctx)}))
            return out

        return await self.hub.stream(request, self.since(request), render)

    async def step_output(self, request: web.Request) -> web.Response:
        view = self.view_of(request)
        step = view.steps.get(_int(request.match_info["number"], -1, 1, 10_000))
        if step is None or step.output_at is None or self.follower is None:
            raise web.HTTPNotFound(text="no output recorded for this step")
        topic, partition, offset = step.output_at
        raw = await self.follower.fetch(self.follower.topic_of(topic), partition, offset)
        output = None
        if raw is not None:
            try:
                out = StepEvent.from_bytes(raw).step.output
            except (ValidationError, ValueError):
                out = None
            if out is not None:  # redacted again on its way to the page (idempotent; the console is a way out)
                output = out.model_copy(update={"stdout": redact_text(out.stdout), "stderr": redact_text(out.stderr),
                                                "analysis": redact_text(out.analysis)})
        return web.Response(text=self.render("_output.html", output=output), content_type="text/html")

    async def stop(self, request: web.Request) -> web.StreamResponse:
        view = self.view_of(request)
        session = request[SESSION]
        answer = await self.upstream.call(session.credential, "POST",
                                          f"{self.urls.worker}/api/v1/tasks/{view.id}/cancel")
        if answer.ok:
            message, kind = "Stop requested: the diagnosis ends as cancelled in a moment.", "ok"
        else:
            message, kind = f"Not stopped: {answer.reason}", "error"
        if request.headers.get("HX-Request"):
            ctx = {**self.detail_context(request, view), "session": session, "stop_message": message,
                   "stop_kind": kind}
            return web.Response(text=self.render("_task_header.html", **ctx), content_type="text/html",
                                status=200 if answer.ok else _status(answer.status))
        raise web.HTTPSeeOther(f"/ui/tasks/{view.id}")

    async def feedback(self, request: web.Request) -> web.StreamResponse:
        view = self.view_of(request)
        session = request[SESSION]
        form = await _form(request)
        rating = form.get("rating", "")
        if rating not in ("up", "down"):
            raise web.HTTPBadRequest(text=json.dumps({"error": "bad_request", "param": "rating",
                                                      "reason": "rating: up or down"}), content_type="application/json")
        answer = await self.upstream.call(session.credential, "POST", f"{self.urls.knowledge}/api/v1/feedback",
                                          json={"task_id": view.id, "rating": rating,
                                                "comment": form.get("comment", "")[:4000]})
        ctx = {**self.detail_context(request, view), "session": session}
        if answer.ok:
            ctx["feedback_done"] = f"Recorded {'👍' if rating == 'up' else '👎'} — thank you."
        else:
            ctx["feedback_error"] = f"Not recorded: {answer.reason}"
        if request.headers.get("HX-Request"):
            return web.Response(text=self.render("_feedback.html", **ctx), content_type="text/html",
                                status=200 if answer.ok else _status(answer.status))
        raise web.HTTPSeeOther(f"/ui/tasks/{view.id}")

    # ------------------------------------------------------------ incidents

    def incident_pairs(self) -> list[tuple[Any, list[TaskView]]]:
        return [(i, self.board.incident_members(i.incident_id)) for i in self.board.incident_list()]

    async def incidents(self, request: web.Request) -> web.Response:
        return self.page(request, "incidents.html", incidents=self.incident_pairs(),
                         live_url=f"/ui/live/incidents?since={self.board.version}")

    async def live_incidents(self, request: web.Request) -> web.StreamResponse:
        async def render(changes: list[Change]) -> list[Event]:
            ids = {c.key for c in changes if c.kind == "incident"}
            ids |= {v.task.context.incident_id for c in changes if c.kind == "task"
                    for v in [self.board.tasks.get(c.key)] if v is not None and v.task.context.incident_id}
            out: list[Event] = []
            for incident_id in ids:
                incident = self.board.incidents.get(incident_id)
                if incident is not None:
                    out.append(("upsert", {"id": f"incident-{incident_id}", "into": "incidents", "at": "start",
                                           "html": self.render("_incident.html", i=incident,
                                                               members=self.board.incident_members(incident_id))}))
            return out

        return await self.hub.stream(request, self.since(request), render)

    # ------------------------------------------------------------ audit, costs, knowledge (other roles' APIs)

    async def audit_page(self, request: web.Request) -> web.Response:
        q = {k: request.query.get(k, "") for k in ("start", "end", "actor", "action", "cluster", "result", "cursor")}
        params = {k: v for k, v in q.items() if v and k not in ("start", "end")}
        for k in ("start", "end"):  # the form's datetime-local is UTC without an offset: say so to the API
            if q[k]:
                params[k] = q[k] if q[k].endswith("Z") or len(q[k]) == 10 else \
                    (q[k] + (":00" if len(q[k]) == 16 else "") + "Z")
        params["limit"] = "100"
        answer = await self.upstream.call(request[SESSION].credential, "GET",
                                          f"{self.urls.sink}/api/v1/audit-logs", params=params)
        page, error, next_url = None, "", ""
        if answer.ok:
            page = answer.body
            if page.get("next_cursor"):
                next_url = "/ui/audit?" + urlencode({**{k: v for k, v in q.items() if v and k != "cursor"},
                                                     "cursor": page["next_cursor"]})
        else:
            error = f"The audit log did not answer: {answer.reason}"
        return self.page(request, "audit.html", q=q, page=page, error=error, next_url=next_url,
                         results=("ok", "allowed", "rejected", "error"))

    async def costs(self, request: web.Request) -> web.Response:
        credential = request[SESSION].credential
        days = 30
        start = (datetime.now(timezone.utc) - timedelta(days=days)).isoformat()
        calls = [self.upstream.call(credential, "GET", f"{self.urls.sink}/api/v1/budget")]
        calls += [self.upstream.call(credential, "GET", f"{self.urls.sink}/api/v1/costs",
                                     params={"group_by": g, "from": start}) for g in ("model", "cluster", "category")]
        budget, *groups = await asyncio.gather(*calls)
        errors = sorted({a.reason for a in (budget, *groups) if not a.ok})
        return self.page(request, "costs.html", days=days, errors=errors, budget=budget.body if budget.ok else None,
                         groups=[(name, a.body if a.ok else None)
                                 for name, a in zip(("model", "cluster", "category"), groups)])

    async def knowledge(self, request: web.Request) -> web.Response:
        q = request.query.get("q", "").strip()[:4000]
        hits, version, error = None, None, ""
        if q:
            answer = await self.upstream.call(request[SESSION].credential, "POST",
                                              f"{self.urls.knowledge}/api/v1/kb/search", json={"query": q, "top_k": 10})
            if answer.ok:
                version = answer.body.get("version")
                hits = [{"entry": KnowledgeEntry.model_validate(h["entry"]), "score": h["score"]}
                        for h in answer.body.get("hits", [])]
            else:
                error = f"The knowledge base did not answer: {answer.reason}"
        return self.page(request, "knowledge.html", q=q, hits=hits, version=version, error=error)

    async def knowledge_entry(self, request: web.Request) -> web.Response:
        entry_id = request.match_info["entry_id"][:500]
        credential = request[SESSION].credential
        entry, versions = await asyncio.gather(  # ids look like `oom_killed#symptoms`: the '#' must be encoded
            self.upstream.call(credential, "GET", f"{self.urls.knowledge}/api/v1/kb/entries/{quote(entry_id, safe='')}"),
            self.upstream.call(credential, "GET", f"{self.urls.knowledge}/api/v1/kb/versions"))
        if not entry.ok:
            return self.page(request, "error.html", status=_status(entry.status) if entry.status else 502,
                             heading="Entry not shown", message=entry.reason)
        changes = [{"version": v["version"], "at": v["at"], "actor": v["actor"], "action": v["action"],
                    "reason": v.get("reason", ""), "op": c["op"]}
                   for v in (versions.body.get("versions", []) if versions.ok else [])
                   for c in v.get("changes", []) if c.get("entry_id") == entry_id]
        return self.page(request, "knowledge_entry.html", e=KnowledgeEntry.model_validate(entry.body),
                         versions=sorted(changes, key=lambda c: c["version"], reverse=True))


# ---------------------------------------------------------------- small pure helpers

FILTERS = ("status", "priority", "cluster", "namespace", "category")


def task_filter(query: Mapping[str, str]) -> TaskFilter:
    """The list's filters from a query string; an unknown value is a 400 naming its parameter."""
    values = {k: (query.get(k) or "").strip() or None for k in FILTERS}
    allowed_values = {"status": {s.value for s in TaskStatus}, "priority": {p.value for p in Priority},
                      "category": {c.value for c in ProblemCategory} | {"none"}}
    for name, options in allowed_values.items():
        if values[name] is not None and values[name] not in options:
            raise web.HTTPBadRequest(text=json.dumps({"error": "bad_request", "param": name,
                                                      "reason": f"{name}: must be one of {', '.join(sorted(options))}"}),
                                     content_type="application/json")
    for name in ("cluster", "namespace"):
        if values[name] is not None and len(values[name]) > 253:  # type: ignore[arg-type]
            raise web.HTTPBadRequest(text=json.dumps({"error": "bad_request", "param": name,
                                                      "reason": f"{name}: longer than 253 characters"}),
                                     content_type="application/json")
    return TaskFilter(**values)


def _int(text: str | None, default: int, lo: int, hi: int) -> int:
    if text is None or not text.isdigit():
        return default
    return max(lo, min(hi, int(text)))


def _status(upstream: int) -> int:
    return upstream if 400 <= upstream < 600 else 502


def _token() -> str:
    import secrets

    return secrets.token_urlsafe(32)


def _equal(a: str, b: str) -> bool:
    import hmac

    return bool(a) and hmac.compare_digest(a.encode(), b.encode())


async def _form(request: web.Request) -> dict[str, str]:
    if request.method != "POST":
        return {}
    data = await request.post()
    return {k: v for k, v in data.items() if isinstance(v, str)}


def _jwt_expiry(credential: str) -> float | None:
    """A session built on an OIDC token ends when the token does (it was verified just before)."""
    if not (credential.startswith("eyJ") and credential.count(".") == 2):
        return None
    import jwt

    try:
        exp = jwt.decode(credential, options={"verify_signature": False}).get("exp")
    except jwt.PyJWTError:
        return None
    return float(exp) if isinstance(exp, (int, float)) else None


def _suspended(request: web.Request, principal: Principal) -> str:
    from aetherius.http.suspensions import active_suspension

    entry = active_suspension(request, principal)
    return f"suspended until {entry.until.isoformat()} after a security event" if entry else ""
