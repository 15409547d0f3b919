"""The console's parts without a broker: the board (pure), sessions and CSRF, the pages through the real auth
middleware (aiohttp test server), the live stream's resume, and that the console imports no other stage."""

from __future__ import annotations

import ast
import asyncio
import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from aetherius.http.auth import hash_api_key
from aetherius.http.openapi import route_mismatches
from aetherius.http.rbac import Principal
from schemas.result import CausalLink, DiagnosticResult, Recommendation, ResultSummary, RootCauseAnalysis
from schemas.settings import Settings
from schemas.signal import CorrelatedIncident
from schemas.step import DiagnosticStep, StepEvent, StepInput, StepOutput, TokenUsage
from schemas.task import DiagnosticTask, ResourceInfo, TaskContext, TaskStatusChange
from sinks.console.app import create_console_app
from sinks.console.board import Board, TaskFilter
from sinks.console.pages import safe_next, task_filter
from sinks.console.sessions import SessionStore

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc)
KEYS = {"sre": "k-sre-0123456789", "developer": "k-dev-0123456789", "auditor": "k-aud-0123456789"}


def task(task_id: str = "t1", status: str = "pending", minutes: int = 0, **ctx) -> DiagnosticTask:
    return DiagnosticTask(id=task_id, cluster_id="prod", namespace="shop", priority="P2", status=status,
                          created_at=T0 + timedelta(minutes=minutes), resource=ResourceInfo(kind="Pod", name="db-0"),
                          context=TaskContext(alertname="KubePodNotReady", **ctx))


def step(task_id: str, n: int, kind: str = "completed", cost: float = 0.0) -> bytes:
    s = DiagnosticStep(id=f"{task_id}:{n}", task_id=task_id, step_number=n, tool_id="describe_pod",
                       input=StepInput(command="describe_pod", parameters={"name": "db-0", "token": "hunter2hunter2"}),
                       output=StepOutput(stdout="password=hunter2hunter2 pod db-0") if kind == "completed" else None,
                       status="completed" if kind == "completed" else "running", reasoning="why",
                       token_usage=TokenUsage(model="m", cost_usd=cost))
    return StepEvent(kind=kind, task_id=task_id, step_number=n, step=s).to_bytes()


def report(task_id: str) -> bytes:
    return DiagnosticResult(task_id=task_id, summary=ResultSummary(problem="claim pending"),
                            root_cause=RootCauseAnalysis(description="no storage class", category="volume_mount_failure",
                                                         causal_chain=[CausalLink(resource="pvc/shop/data",
                                                                                  finding="Pending")]),
                            recommendations=[Recommendation(action="fix", command="kubectl get sc", risk="low")],
                            token_usage=TokenUsage(prompt_tokens=10, cost_usd=0.25)).to_bytes()


# ---------------------------------------------------------------- the board

def test_board_applies_snapshots_changes_steps_reports_in_any_order() -> None:
    b = Board()
    assert b.apply("steps", 0, 7, step("t1", 1, "requested")) and b.apply("reports", 0, 1, report("t1"))
    assert "t1" not in b.tasks  # held until its snapshot arrives
    b.apply("task.state", 0, 0, task(labels={"db_password": "hunter2hunter2"}).to_bytes())
    v = b.tasks["t1"]
    assert v.steps[1].status == "running" and v.report is not None and v.category == "volume_mount_failure"
    assert v.task.context.labels["db_password"].startswith("[REDACTED")  # alert text redacted as it enters
    b.apply("steps", 0, 8, step("t1", 1, cost=0.1))
    assert v.steps[1].output_at == ("steps", 0, 8) and v.steps[1].parameters["token"].startswith("[REDACTED")
    b.apply("steps", 0, 9, step("t1", 1, "requested"))  # a redelivered request after its completion: ignored
    assert v.steps[1].output_at == ("steps", 0, 8)
    assert v.cost_usd == 0.25 and v.report.token_usage.prompt_tokens == 10  # the report's own numbers
    b.apply("task.state", 0, 1, task(status="running").to_bytes())
    b.apply("task.state", 0, 2, TaskStatusChange(task_id="t1", status="cancelled", reason="by user").to_bytes())
    assert b.tasks["t1"].task.status.value == "cancelled"
    b.apply("task.state", 0, 3, task(status="running").to_bytes())  # an older snapshot, replayed
    b.apply("task.state", 0, 4, TaskStatusChange(task_id="t1", status="failed").to_bytes())
    assert b.tasks["t1"].task.status.value == "cancelled"  # ended stays ended
    assert b.apply("task.state", 0, 5, b"{not json") == [] and b.skipped == 1


def test_board_keeps_the_incident_a_task_joined_and_lists_members() -> None:
    b = Board()
    b.apply("task.state", 0, 0, task(incident_id="inc", clusters=["a", "b", "c"]).to_bytes())
    b.apply("task.state", 0, 1, task(status="running").to_bytes())  # the step loop's snapshot lacks it
    assert b.tasks["t1"].task.context.incident_id == "inc"
    b.apply("incidents", 0, 0, CorrelatedIncident(incident_id="inc", alertname="X", clusters=["a", "b", "c"],
                                                  member_fingerprints=["f1"], window_start=T0).to_bytes())
    assert [v.id for v in b.incident_members("inc")] == ["t1"] and b.incident_list()[0].clusters == ["a", "b", "c"]
    assert TaskFilter(cluster="b").matches(b.tasks["t1"])  # a member cluster matches too


def test_board_filters_pages_evicts_and_keeps_a_change_log() -> None:
    b = Board(max_tasks=100, change_log=50)
    for i in range(120):
        b.apply("task.state", 0, i, task(f"t{i:03}", status="completed" if i < 60 else "pending", minutes=i).to_bytes())
    assert len(b.tasks) <= 110 and "t119" in b.tasks and "t000" not in b.tasks  # oldest ended ones go first
    rows, total = b.listing(TaskFilter(status="pending"), limit=10)
    assert total == 60 and [r.id for r in rows][:2] == ["t119", "t118"]
    assert b.changes_since(b.version - 3) and len(b.changes_since(b.version - 3)) == 3
    assert b.changes_since(0) is None  # the log no longer reaches back: the stream says reload
    assert b.changes_since(b.version) == []


def test_task_filter_and_next_are_validated() -> None:
    from aiohttp import web

    assert task_filter({"status": "running", "priority": "P1", "category": "none"}).status == "running"
    for bad in ({"status": "done"}, {"priority": "P9"}, {"category": "x"}, {"cluster": "c" * 300}):
        with pytest.raises(web.HTTPBadRequest) as exc:
            task_filter(bad)
        assert json.loads(exc.value.text)["param"] == next(iter(bad))
    assert safe_next("/ui/tasks?x=1") == "/ui/tasks?x=1"
    for bad in ("https://evil.example/", "//evil.example", "/ui//evil", "/api/v1/tasks", "/ui/\\evil"):
        assert safe_next(bad) == ""


def test_sessions_expire_when_idle_or_old_and_are_bounded() -> None:
    now = [1000.0]
    store = SessionStore(max_age=100, idle=30, limit=2, clock=lambda: now[0])
    p = Principal("a", "sre", "api_key")
    s1 = store.create("the-credential", p)
    now[0] += 20
    assert store.get(s1.id) is s1
    now[0] += 31
    assert store.get(s1.id) is None  # idle
    s2 = store.create("k", p, token_expiry=now[0] + 5)
    now[0] += 6
    assert store.get(s2.id) is None  # the OIDC token's own expiry
    a, b, c = (store.create("k", p) for _ in range(3))
    assert store.get(a.id) is None and store.get(c.id) is c and len(store) == 2
    assert "the-credential" not in repr(s1) and s1.csrf not in repr(s1)  # neither shows


# ---------------------------------------------------------------- the app through the real middleware

def settings() -> Settings:
    return Settings(security={"api_keys": [{"name": f"u-{r}", "role": r, "hash": hash_api_key(k)}
                                           for r, k in KEYS.items()]},
                    console={"cookie_secure": False, "worker_url": "http://127.0.0.1:9", "heartbeat_seconds": 0.2})


async def signed_in(client: TestClient, role: str) -> str:
    page = await (await client.get("/ui/login")).text()
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    origin = str(client.make_url("")).rstrip("/")
    r = await client.post("/ui/login", data={"csrf": token, "credential": KEYS[role], "next": ""},
                          headers={"Origin": origin}, allow_redirects=False)
    assert r.status == 303, await r.text()
    html = await (await client.get(r.headers["Location"])).text()
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def run_app(check, board: Board | None = None):  # noqa: ANN001, ANN201
    events = []

    async def audit(event) -> None:  # noqa: ANN001
        events.append(event)

    async def go():  # noqa: ANN202
        app, _ = create_console_app(settings(), board or Board(), None, audit)
        async with TestClient(TestServer(app)) as client:
            return await check(client)

    return asyncio.run(go()), events


def test_routes_match_the_catalogue_and_every_page_needs_its_permission() -> None:
    app, _ = create_console_app(settings(), Board(), None, lambda e: None)
    assert route_mismatches(app, "console") == []


def test_sign_in_csrf_headers_and_rbac() -> None:
    b = Board()
    b.apply("task.state", 0, 0, task().to_bytes())

    async def check(client: TestClient):  # noqa: ANN202
        origin = str(client.make_url("")).rstrip("/")
        anon = await client.get("/ui/tasks", allow_redirects=False)
        assert anon.status == 303 and anon.headers["Location"] == "/ui/login?next=/ui/tasks"
        page = await client.get("/ui/login")
        csp = page.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe" not in csp and "frame-ancestors 'none'" in csp
        assert page.headers["X-Frame-Options"] == "DENY" and page.headers["Cache-Control"] == "no-store"
        html = await page.text()
        assert "<script>" not in html and " style=" not in html and " on" + "click" not in html
        token = re.search(r'name="csrf" value="([^"]+)"', html).group(1)
        wrong_origin = await client.post("/ui/login", data={"csrf": token, "credential": KEYS["sre"]},
                                         headers={"Origin": "http://evil.example"}, allow_redirects=False)
        no_token = await client.post("/ui/login", data={"credential": KEYS["sre"]}, headers={"Origin": origin},
                                     allow_redirects=False)
        bad_key = await client.post("/ui/login", data={"csrf": token, "credential": "nope"},
                                    headers={"Origin": origin}, allow_redirects=False)
        assert (wrong_origin.status, no_token.status, bad_key.status) == (403, 403, 401)
        csrf = await signed_in(client, "developer")
        cookie = next(c for c in client.session.cookie_jar if c.key == "aetherius_session")
        assert cookie["httponly"] and cookie["samesite"] == "Strict"
        stop = await client.post("/ui/tasks/t1/stop", data={"csrf": csrf}, headers={"Origin": origin})
        assert stop.status == 403 and (await stop.json())["permission"] == "tasks:cancel"
        detail = await (await client.get("/ui/tasks/t1")).text()
        assert "data-testid=\"stop\"" not in detail
        audit_page = await client.get("/ui/audit", headers={"Accept": "text/html"})
        assert audit_page.status == 403 and "Not allowed" in await audit_page.text()
        static = await client.get("/ui/static/vendor/htmx.min.js")
        assert static.status == 200 and "javascript" in static.headers["Content-Type"]
        assert (await client.get("/ui/static/../pages.py")).status in (401, 404)
        await signed_in(client, "sre")
        forged = await client.post("/ui/tasks/t1/stop", data={"csrf": csrf}, headers={"Origin": origin})
        assert forged.status == 403 and "CSRF" in (await forged.json())["reason"]  # another session's token
        return True

    ok, events = run_app(check, b)
    assert ok
    signins = [(e.actor, e.result) for e in events if e.action == "console.signin"]
    assert signins == [("anonymous", "rejected"), ("u-developer", "ok"), ("u-sre", "ok")]
    assert any(e.action == "api.request" and e.resource == "POST /ui/tasks/t1/stop" and e.result == "rejected"
               for e in events)


def test_live_stream_sends_rows_and_resumes_from_last_event_id() -> None:
    b = Board()
    b.apply("task.state", 0, 0, task("a").to_bytes())

    async def check(client: TestClient):  # noqa: ANN202
        await signed_in(client, "sre")
        since = b.version
        b.apply("task.state", 0, 1, task("b", minutes=1).to_bytes())
        b.apply("task.state", 0, 2, task("c", minutes=2, status="running").to_bytes())
        resp = await client.get(f"/ui/live/tasks?status=pending&since={since}")
        text = ""
        while text.count("\n\n") < 2:
            text += (await resp.content.readany()).decode()
        resp.close()
        assert "event: upsert" in text and "task-b" in text and "event: remove" in text
        again = await client.get("/ui/live/tasks", headers={"Last-Event-ID": "0"})
        first = (await again.content.readany()).decode() + (await again.content.readany()).decode()
        again.close()
        return first

    first, _ = run_app(check, b)
    assert "task-a" in first or "retry" in first


def test_the_console_imports_no_other_stage() -> None:
    """Stages talk over topics and HTTP: sinks/console imports schemas, shared infrastructure and itself - and the
    one redaction module, which the renovation moves to infrastructure (agents/redaction -> infra/redaction)."""
    allowed_agents = {"agents.redaction"}
    for path in (Path(__file__).resolve().parents[1] / "sinks" / "console").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            for name in names:
                assert not name.startswith("streams"), f"{path.name} imports {name}"
                assert not name.startswith("agents") or name in allowed_agents, f"{path.name} imports {name}"


def test_oidc_token_sign_in_lasts_no_longer_than_the_token(tmp_path: Path) -> None:
    import time as _time

    from tests.test_auth import KEY_A, jwk_of, mint, oidc_security

    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [jwk_of(KEY_A, "a")]}))
    s = Settings(security=oidc_security(jwks).model_dump(), console={"cookie_secure": False})
    exp = int(_time.time()) + 120

    async def check(client: TestClient):  # noqa: ANN202
        page = await (await client.get("/ui/login")).text()
        token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        origin = str(client.make_url("")).rstrip("/")
        r = await client.post("/ui/login", data={"csrf": token, "credential": mint(KEY_A, "a", exp=exp,
                                                                                     roles=["ops-team"])},
                              headers={"Origin": origin}, allow_redirects=False)
        assert r.status == 303 and r.headers["Location"] == "/ui/tasks"
        assert (await client.get("/ui/tasks")).status == 200
        page = await (await client.get("/ui/login")).text()  # the sign-in token is used up by a sign-in
        token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        viewer = await client.post("/ui/login", data={"csrf": token, "credential": mint(KEY_A, "a", roles=["viewer"])},
                                   headers={"Origin": origin}, allow_redirects=False)
        return app_sessions[0], viewer.status

    app_sessions = []

    async def go():  # noqa: ANN202
        async def audit(_e) -> None:  # noqa: ANN001
            return None

        app, console = create_console_app(s, Board(), None, audit)
        app_sessions.append(console.sessions)
        async with TestClient(TestServer(app)) as client:
            return await check(client)

    store, viewer = asyncio.run(go())
    session = next(iter(store._sessions.values()))
    assert session.principal.method == "oidc" and session.principal.role == "sre"
    assert abs(session.expires - exp) < 1  # the token's exp, not the 8-hour default
    assert viewer == 401  # a token with no Aetherius role signs nobody in
