"""One OpenAPI 3.1 document for every Aetherius HTTP route, built from a declarative route catalogue.

The catalogue (`CATALOGUE`) is the source: each entry names method, path, the role that serves it, how it is
authenticated, the RBAC permission it needs, its parameters and its bodies (pydantic models, named as
"module:Name" so importing this module stays cheap and free of import cycles). From it come:

- `build_document()`: the whole API; `document_for_app(app)`: only the routes an aiohttp app really mounts.
- `add_openapi_route(app)`: `GET /api/v1/openapi.json` on that app (see OPENAPI_PERMISSION for who may read it).
- `render_markdown()`: the API reference table for the README.
- `route_mismatches(app, role)`: what differs between an app's routes (and their `@require` marks) and the
  catalogue, both ways - the test that keeps code, document and docs from drifting apart.

Who may read the document: a credential of any human role (sre, developer, admin, auditor). It is not public,
because unauthenticated callers are not meant to discover routes (docs/security.md: unknown routes answer 401
before 404). The RBAC matrix has no permission of its own for it yet, so it is marked `history:read`, the one
permission every human role holds; a dedicated `docs:read` would say the same more plainly.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass, field
from typing import Any, Iterable, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict
from pydantic.json_schema import models_json_schema

from aetherius.http.rbac import PERMISSIONS, require, route_permissions

OPENAPI_PATH = "/api/v1/openapi.json"
OPENAPI_PERMISSION = "history:read"
OPENAPI_VERSION = "3.1.0"

Auth = Literal["public", "credential", "webhook", "slack_signature"]
Role = Literal["all", "worker", "webhook", "sink", "knowledge", "console"]
"""Which process serves a route. `all`: every role (probes, metrics, this document)."""

ROLE_TITLES: dict[str, str] = {
    "all": "every role", "worker": "`aetherius worker`", "webhook": "`aetherius webhook`",
    "sink": "`aetherius sink`", "knowledge": "`aetherius worker` (the one owning the knowledge base)",
    "console": "`aetherius console` (pages for people, signed in by a session cookie)",
}


class ErrorBody(BaseModel):
    """Every refusal: `error` says what kind, `reason` (or `details`) says why in words a caller can act on."""

    model_config = ConfigDict(extra="allow")
    error: str
    reason: str = ""


@dataclass(frozen=True)
class Param:
    name: str
    location: Literal["path", "query", "header"] = "query"
    schema: dict[str, Any] = field(default_factory=lambda: {"type": "string"})
    description: str = ""
    required: bool = False

    def to_openapi(self) -> dict[str, Any]:
        return {"name": self.name, "in": self.location, "required": self.required or self.location == "path",
                "description": self.description, "schema": self.schema}


@dataclass(frozen=True)
class Body:
    """A request or response body: a pydantic model ("module:Name"), or a literal JSON schema."""

    description: str = ""
    model: str | None = None
    schema: dict[str, Any] | None = None
    content_type: str = "application/json"


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    role: Role
    summary: str
    permission: str | None = None  # None only with auth public / slack_signature
    auth: Auth = "credential"
    params: tuple[Param, ...] = ()
    request: Body | None = None
    responses: dict[int, Body] = field(default_factory=dict)
    description: str = ""

    @property
    def key(self) -> tuple[str, str]:
        return self.method.upper(), self.path

    @property
    def operation_id(self) -> str:
        words = [w.strip("{}") for w in self.path.removeprefix("/api/v1/").replace(".", "_").split("/")]
        return self.method.lower() + "_" + "_".join(w.replace("-", "_") for w in words if w)


def _error(text: str) -> Body:
    return Body(text, model="aetherius.http.openapi:ErrorBody")


def _obj(**props: Any) -> dict[str, Any]:
    return {"type": "object", "properties": props}


_STR = {"type": "string"}
_TIME = Param("from", description="window start: ISO 8601 or Unix seconds"), \
    Param("to", description="window end: ISO 8601 or Unix seconds (default now)")
_TASK_ID = Param("task_id", "path", description="the task's id (UUID4)")
_ENTRY_ID = Param("id", "path", description="knowledge entry id")
_HEALTH = {200: Body("status", schema=_obj(status=_STR))}
_PROBE_READY = {200: Body("ready", schema=_obj(status=_STR)), 503: Body("not ready yet", schema=_obj(status=_STR))}
_DENIED = {401: _error("missing or invalid credential"), 403: _error("the caller's role lacks the permission, or the caller is suspended after a "
                                   "security event (`error: suspended`, `until`)"),
           429: _error("rate limit of this credential exceeded (see Retry-After)")}
_JSON_OBJECT = {"type": "object", "additionalProperties": True}
_HTML = Body("an HTML page", schema=_STR, content_type="text/html")
_SSE = Body("text/event-stream: upsert/remove/reload events carrying escaped HTML", schema=_STR,
            content_type="text/event-stream")

CATALOGUE: tuple[Route, ...] = (
    # ---- every role
    Route("GET", "/health/live", "all", "Liveness probe", auth="public", responses=_HEALTH),
    Route("GET", "/health/ready", "all", "Readiness probe (Kafka assignment and table recovery done)",
          auth="public", responses=_PROBE_READY),
    Route("GET", "/metrics", "all", "Prometheus metrics", auth="public",
          responses={200: Body("exposition format", schema=_STR, content_type="text/plain")}),
    Route("GET", OPENAPI_PATH, "all", "This OpenAPI document, limited to the routes of the serving role",
          permission=OPENAPI_PERMISSION, responses={200: Body("OpenAPI 3.1 document", schema=_JSON_OBJECT)}),
    # ---- worker: the Task API (FR-15/16)
    Route("GET", "/api/v1/tasks", "worker", "List tasks (every worker's partitions, merged; newest first)",
          permission="tasks:read",
          params=(Param("status", schema={"enum": ["pending", "running", "completed", "failed", "cancelled",
                                                   "timeout"]}),
                  Param("cluster", description="cluster id"),
                  Param("priority", schema={"enum": ["P0", "P1", "P2", "P3"]}),
                  Param("limit", schema={"type": "integer", "minimum": 1, "maximum": 1000, "default": 100})),
          responses={200: Body("matching tasks; `incomplete` names workers that did not answer",
                               model="streams.task_api:TaskListResponse"),
                     400: _error("a filter is invalid (the parameter is named)")}),
    Route("GET", "/api/v1/tasks/{task_id}", "worker", "One task (answered by the worker owning its key)",
          permission="tasks:read", params=(_TASK_ID,),
          responses={200: Body("the task", model="schemas.task:DiagnosticTask"), 404: _error("no such task"),
                     502: _error("the owning worker did not answer"), 503: _error("worker still recovering")}),
    Route("POST", "/api/v1/tasks/{task_id}/cancel", "worker", "Cancel a pending or running task",
          permission="tasks:cancel", params=(_TASK_ID,),
          responses={202: Body("cancellation requested", model="streams.task_api:CancelAccepted"),
                     404: _error("no such task"), 409: _error("the task already ended"),
                     502: _error("the owning worker did not answer"), 503: _error("worker still recovering")}),
    Route("GET", "/api/v1/security/suspensions", "worker",
          "People suspended after a security event in a diagnosis they asked for (SRS §5.8.5)",
          permission="suspensions:read",
          description="Every record of the suspension topic as this worker knows it, newest first; `active` says "
                      "whether it is in force now, `synced` whether the whole topic has been read.",
          responses={200: Body("the list", schema=_obj(
              suspensions={"type": "array", "items": _JSON_OBJECT},
              synced={"type": "boolean"}))}),
    Route("DELETE", "/api/v1/security/suspensions/{subject}", "worker", "Lift a suspension early",
          permission="suspensions:admin",
          params=(Param("subject", "path", description="the API key name or OIDC subject"),),
          description="Every API process (worker, sink, bridge) lets the subject in again once it has read the "
                      "lift from the suspension topic (about a second).",
          responses={200: Body("the lifted suspension", model="schemas.suspension:Suspension"),
                     404: _error("the subject is not suspended"),
                     503: _error("Kafka did not acknowledge the lift; retry")}),
    # ---- webhook bridge
    Route("POST", "/api/v1/webhook/alertmanager", "webhook", "Alertmanager webhook (version 4)",
          permission="alerts:ingest", auth="webhook",
          request=Body("Alertmanager's notification", model="schemas.alertmanager:AlertmanagerPayload"),
          responses={200: Body("every alert acknowledged by Kafka",
                               schema=_obj(accepted={"type": "integer"}, fingerprints={"type": "array", "items": _STR})),
                     400: _error("invalid JSON or a missing field (named)"), 413: _error("body over the limit"),
                     415: _error("content type is not JSON"), 503: _error("Kafka unavailable; retry")}),
    Route("POST", "/api/v1/tasks", "webhook", "Request a diagnosis of one resource (manual trigger)",
          permission="tasks:create", request=Body("the resource", model="streams.webhook:ManualRequest"),
          responses={202: Body("accepted", schema=_obj(accepted={"type": "integer"}, fingerprint=_STR)),
                     400: _error("invalid request (field named)"), 415: _error("content type is not JSON"),
                     503: _error("Kafka unavailable; retry")}),
    # ---- sink: analytics API (sinks/clickhouse/api.py); feedback is served by the worker owning the KB
    Route("GET", "/api/v1/costs", "sink", "LLM cost report over a window", permission="costs:read",
          params=(*_TIME, Param("group_by", schema={"enum": ["day", "cluster", "task", "model", "priority",
                                                           "category"], "default": "day"},
                                description="category: the root cause of each call's task (from its report)")),
          responses={200: Body("cost report", schema=_JSON_OBJECT), 400: _error("bad parameter (named)"),
                     503: _error("store unavailable")}),
    Route("GET", "/api/v1/budget", "sink", "Daily and monthly budget use", permission="costs:read",
          responses={200: Body("budget report", schema=_JSON_OBJECT), 400: _error("unknown parameter"),
                     503: _error("store unavailable")}),
    Route("GET", "/api/v1/history", "sink", "Diagnosis history", permission="history:read",
          params=(*_TIME, Param("cluster"), Param("namespace"), Param("alertname"),
                  Param("category", description="a ProblemCategory value"),
                  Param("status", description="a task status"),
                  Param("limit", schema={"type": "integer", "minimum": 1, "default": 50}),
                  Param("offset", schema={"type": "integer", "minimum": 0, "default": 0})),
          responses={200: Body("history page", schema=_JSON_OBJECT), 400: _error("bad parameter (named)"),
                     503: _error("store unavailable")}),
    Route("GET", "/api/v1/stats", "sink", "Diagnosis statistics", permission="history:read",
          params=(*_TIME, Param("cluster"),
                  Param("top", schema={"type": "integer", "minimum": 1, "maximum": 100, "default": 10})),
          responses={200: Body("statistics", schema=_JSON_OBJECT), 400: _error("bad parameter (named)"),
                     503: _error("store unavailable")}),
    Route("GET", "/api/v1/audit-logs", "sink", "Audit log: who did what, newest first (SRS §10)",
          permission="audit:read",
          description="Every AuditEvent stored in ClickHouse (API requests, tool calls, security events, sign-ins, "
                      "knowledge changes...), keyset-paged: pass `next_cursor` back as `cursor` for the next page "
                      "(null on the last). The same SQL runs on embedded chdb and on a ClickHouse server.",
          params=(Param("start", schema={"type": "string", "format": "date-time"},
                        description="window start, RFC 3339 with offset (2026-11-20T08:00:00Z) or a date "
                                    "(2026-11-20, that day's start); default: 24 hours before `end`"),
                  Param("end", schema={"type": "string", "format": "date-time"},
                        description="window end (exclusive), RFC 3339, or a date (that day included); default now"),
                  Param("actor", description="exactly this actor (API key name, OIDC subject, component)"),
                  Param("action", description="exactly this action, or a prefix ending in * (`security.*`)"),
                  Param("cluster", description="cluster id"),
                  Param("result", schema={"enum": ["allowed", "rejected", "error", "ok"]}),
                  Param("limit", schema={"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}),
                  Param("cursor", description="opaque: the `next_cursor` of the previous page")),
          responses={200: Body("one page", schema=_obj(
              **{"from": {"type": "string", "format": "date-time"}, "to": {"type": "string", "format": "date-time"}},
              limit={"type": "integer"}, items={"type": "array", "items": _JSON_OBJECT},
              next_cursor={"type": ["string", "null"]})),
              400: _error("a bad parameter; `param` names it"), 503: _error("store unavailable")}),
    Route("POST", "/api/v1/feedback", "knowledge", "Feedback on a diagnosis (one vote per task and user)",
          permission="feedback:write",
          request=Body("rating 1-5 or up/down, comment, corrections",
                       model="agents.knowledge.feedback_api:FeedbackRequest"),
          responses={202: Body("recorded", schema=_obj(id=_STR, status=_STR)), 400: _error("invalid feedback"),
                     404: _error("unknown task"), 503: _error("could not be recorded; retry")}),
    Route("POST", "/api/v1/slack/interactivity", "knowledge", "Slack interactivity (feedback buttons)",
          auth="slack_signature",
          description="Authenticated by Slack's v0 request signature, not by an Aetherius credential.",
          request=Body("form body payload=<json>", schema={"type": "object", "properties": {"payload": _STR}},
                       content_type="application/x-www-form-urlencoded"),
          responses={200: Body("acknowledged", schema=_JSON_OBJECT), 400: _error("not a Slack payload"),
                     401: _error("signature missing, stale or wrong"), 503: _error("could not be recorded")}),
    # ---- the web console (sinks/console): HTML for browsers, signed in with the API's credentials (a session
    # cookie); listed so every page's permission is documented and checked like an API route's.
    Route("GET", "/", "console", "Redirect to /ui/", auth="public", responses={303: Body("to /ui/")}),
    Route("GET", "/ui/static/{path}", "console", "The console's scripts, styles and their licences", auth="public",
          params=(Param("path", "path"),), responses={200: Body("the file"), 404: Body("no such file")}),
    Route("GET", "/ui/login", "console", "Sign-in page", auth="public", responses={200: _HTML}),
    Route("POST", "/ui/login", "console", "Sign in with an API key or an OIDC token (sets the session cookie)",
          auth="public", request=Body("form: credential, csrf, next", schema={"type": "object"},
                                      content_type="application/x-www-form-urlencoded"),
          responses={303: Body("signed in"), 401: _HTML, 403: _HTML}),
    *(Route(method, path, "console", summary, permission=permission,
            params=tuple(Param(n, "path") for n in ("task_id", "number", "entry_id") if "{" + n + "}" in path),
            responses={200: _SSE if "/live/" in path else _HTML} if method == "GET" else
            {200: _HTML, 303: Body("back to the page (without JavaScript)")})
      for method, path, permission, summary in (
          ("POST", "/ui/logout", "history:read", "Sign out"),
          ("GET", "/ui/", "history:read", "The first page the person's role may see"),
          ("GET", "/ui/tasks", "tasks:read", "Tasks: the live list, filtered by state, priority, cluster, namespace, "
                                              "category"),
          ("GET", "/ui/tasks/{task_id}", "tasks:read", "A task: steps live, report, stop, feedback"),
          ("GET", "/ui/tasks/{task_id}/steps/{number}/output", "tasks:read", "A step's redacted output"),
          ("POST", "/ui/tasks/{task_id}/stop", "tasks:cancel", "Stop a task (asks the worker's cancel API)"),
          ("POST", "/ui/tasks/{task_id}/feedback", "feedback:write", "👍/👎 with a comment (the feedback API)"),
          ("GET", "/ui/incidents", "tasks:read", "Cross-cluster incidents, members and clusters"),
          ("GET", "/ui/audit", "audit:read", "The audit log with filters (the audit-logs API)"),
          ("GET", "/ui/costs", "costs:read", "Costs and budget (the analytics API)"),
          ("GET", "/ui/knowledge", "knowledge:read", "Search the knowledge base"),
          ("GET", "/ui/knowledge/{entry_id}", "knowledge:read", "A knowledge entry: confidence and versions"),
          ("GET", "/ui/live/tasks", "tasks:read", "Server-sent events: task rows as they change"),
          ("GET", "/ui/live/tasks/{task_id}", "tasks:read", "Server-sent events: one task's steps and report"),
          ("GET", "/ui/live/incidents", "tasks:read", "Server-sent events: incidents as they form"),
      )),
    # ---- knowledge base (agents/knowledge/api.py), served by the process owning the store
    Route("POST", "/api/v1/kb/search", "knowledge", "Search runbooks and learned entries",
          permission="knowledge:read", request=Body("query", model="agents.knowledge.api:SearchRequest"),
          responses={200: Body("hits", schema=_JSON_OBJECT), 400: _error("invalid request")}),
    Route("GET", "/api/v1/kb/entries", "knowledge", "List knowledge entries", permission="knowledge:read",
          params=(Param("include_disabled", schema={"enum": ["true", "false"], "default": "true"}),),
          responses={200: Body("entries", schema=_JSON_OBJECT)}),
    Route("GET", "/api/v1/kb/entries/{id}", "knowledge", "One knowledge entry", permission="knowledge:read",
          params=(_ENTRY_ID,), responses={200: Body("the entry", model="schemas.knowledge:KnowledgeEntry"),
                                          404: _error("no such entry")}),
    Route("POST", "/api/v1/kb/entries/{id}/disable", "knowledge", "Disable a knowledge entry",
          permission="knowledge:write", params=(_ENTRY_ID, Param("actor")),
          responses={200: Body("the disabled entry", schema=_JSON_OBJECT), 404: _error("no such entry")}),
    Route("POST", "/api/v1/kb/ingest", "knowledge", "Ingest runbook documents (a new version)",
          permission="knowledge:write", request=Body("documents", model="agents.knowledge.api:IngestRequest"),
          responses={200: Body("ingest report", schema=_JSON_OBJECT), 400: _error("invalid runbook")}),
    Route("GET", "/api/v1/kb/versions", "knowledge", "Knowledge-base versions (change sets)",
          permission="knowledge:read", responses={200: Body("versions", schema=_JSON_OBJECT)}),
    Route("POST", "/api/v1/kb/rollback", "knowledge", "Roll the knowledge base back to a version",
          permission="knowledge:write", request=Body("target version", model="agents.knowledge.api:RollbackRequest"),
          responses={200: Body("what changed", schema=_JSON_OBJECT), 400: _error("unknown version")}),
)


# ---------------------------------------------------------------- checks on the catalogue itself

def catalogue_errors(routes: Iterable[Route] = CATALOGUE) -> list[str]:
    """Internal consistency: unique (method, path), known permissions, public routes carry none."""
    errors, seen = [], set()
    for r in routes:
        if r.key in seen:
            errors.append(f"{r.method} {r.path}: listed twice")
        seen.add(r.key)
        if r.permission is not None and r.permission not in PERMISSIONS:
            errors.append(f"{r.method} {r.path}: unknown permission {r.permission!r}")
        if (r.permission is None) != (r.auth in ("public", "slack_signature")):
            errors.append(f"{r.method} {r.path}: auth {r.auth} {'needs' if r.permission is None else 'takes no'} "
                          "permission")
    return errors


# ---------------------------------------------------------------- the document

def _resolve(ref: str) -> type[BaseModel]:
    module, _, name = ref.partition(":")
    model = getattr(importlib.import_module(module), name)
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise TypeError(f"{ref} is not a pydantic model")
    return model


def _security(route: Route) -> list[dict[str, list[str]]]:
    if route.auth == "public":
        return []
    if route.auth == "slack_signature":
        return [{"slackSignature": []}]
    schemes = [{"apiKey": []}, {"bearer": []}]
    if route.auth == "webhook":
        schemes.append({"webhookBasic": []})
    return schemes


def build_document(routes: Iterable[Route] = CATALOGUE, *, title: str = "Aetherius API",
                   version: str | None = None) -> dict[str, Any]:
    """The OpenAPI 3.1 document for `routes`; pydantic models become shared `components.schemas`."""
    routes = list(routes)
    refs = sorted({(b.model, mode) for r in routes
                   for b, mode in ([(r.request, "validation")] if r.request else []) +
                   [(b, "serialization") for b in r.responses.values()] if b.model})
    key_map, defs = models_json_schema([(_resolve(ref), mode) for ref, mode in refs],
                                       ref_template="#/components/schemas/{model}")
    schema_of = {(ref, mode): key_map[(_resolve(ref), mode)] for ref, mode in refs}

    def content(body: Body, mode: str) -> dict[str, Any]:
        schema = schema_of[(body.model, mode)] if body.model else body.schema or {}
        return {body.content_type: {"schema": schema}}

    paths: dict[str, dict[str, Any]] = {}
    for r in routes:
        op: dict[str, Any] = {
            "operationId": r.operation_id, "summary": r.summary, "tags": [r.role],
            "security": _security(r),
            "x-aetherius-role": r.role, "x-aetherius-permission": r.permission,
            "x-aetherius-roles-allowed": sorted(PERMISSIONS[r.permission]) if r.permission else [],
            "responses": {str(code): {"description": b.description or "-",
                                      **({"content": content(b, "serialization")} if (b.model or b.schema) else {})}
                          for code, b in sorted({**r.responses, **(_DENIED if r.permission else {})}.items())},
        }
        if r.description:
            op["description"] = r.description
        if r.params:
            op["parameters"] = [p.to_openapi() for p in r.params]
        if r.request:
            op["requestBody"] = {"required": True, "description": r.request.description,
                                 "content": content(r.request, "validation")}
        paths.setdefault(r.path, {})[r.method.lower()] = op
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": title, "version": version or _package_version(),
                 "description": "Read-only Kubernetes operations agent. Permissions and roles: docs/security.md."},
        "paths": paths,
        "components": {
            "schemas": defs.get("$defs", {}),
            "securitySchemes": {
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key",
                           "description": "an Aetherius API key (stored hashed, carries one role)"},
                "bearer": {"type": "http", "scheme": "bearer",
                           "description": "an OIDC JWT, or an API key sent as a bearer token"},
                "webhookBasic": {"type": "http", "scheme": "basic",
                                 "description": "Alertmanager's basic auth (webhook route only)"},
                "slackSignature": {"type": "apiKey", "in": "header", "name": "X-Slack-Signature",
                                   "description": "Slack's v0 signature with X-Slack-Request-Timestamp"},
            },
        },
    }


def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("aetherius")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0.0.0"


def app_route_keys(app: web.Application) -> set[tuple[str, str]]:
    """(METHOD, path) of every route an app mounts, without aiohttp's implicit HEAD twins of GET routes."""
    keys = {(m, p) for m, p, _ in route_permissions(app)}
    return {(m, p) for m, p in keys if not (m == "HEAD" and ("GET", p) in keys)}


def document_for_app(app: web.Application, routes: Iterable[Route] = CATALOGUE) -> dict[str, Any]:
    mounted = app_route_keys(app)
    return build_document([r for r in routes if r.key in mounted])


def add_openapi_route(app: web.Application) -> None:
    """Serve `GET /api/v1/openapi.json` on `app`: the catalogue filtered to the routes `app` mounts (computed
    once, on the first request, when the router is frozen)."""

    cache: list[bytes] = []

    @require(OPENAPI_PERMISSION)
    async def openapi(request: web.Request) -> web.Response:
        if not cache:
            cache.append(json.dumps(document_for_app(request.app), separators=(",", ":")).encode())
        return web.Response(body=cache[0], content_type="application/json")

    app.router.add_get(OPENAPI_PATH, openapi)


def route_mismatches(app: web.Application, roles: str | Iterable[str],
                     routes: Iterable[Route] = CATALOGUE) -> list[str]:
    """Differences between an app serving `roles` and the catalogue, both ways: a mounted route the catalogue
    lacks, a permission that differs from its `@require` mark, a catalogued route of those roles the app does not
    mount. (The worker that owns the knowledge base serves roles {"worker", "knowledge"}.)"""
    roles = {roles} if isinstance(roles, str) else set(roles)
    routes = list(routes)
    by_key = {r.key: r for r in routes}
    problems = []
    for method, path, mark in route_permissions(app):
        if method == "HEAD" and ("GET", path) in by_key:
            continue
        entry = by_key.get((method, path))
        if entry is None:
            problems.append(f"{method} {path}: mounted but not in the catalogue")
        elif entry.role not in roles | {"all"}:
            problems.append(f"{method} {path}: catalogued for role {entry.role}, mounted on {'/'.join(sorted(roles))}")
        elif entry.permission != mark:
            problems.append(f"{method} {path}: catalogue says {entry.permission}, @require says {mark}")
    mounted = app_route_keys(app)
    for r in routes:
        if r.role in roles and r.key not in mounted:
            problems.append(f"{r.method} {r.path}: catalogued for {r.role} but not mounted")
    return problems


# ---------------------------------------------------------------- README table

def render_markdown(routes: Iterable[Route] = CATALOGUE) -> str:
    """The README's API reference: one row per route, grouped by the role that serves it."""
    rows = ["| method | path | served by | needs | roles allowed | summary |", "|---|---|---|---|---|---|"]
    order = {role: i for i, role in enumerate(ROLE_TITLES)}
    for r in sorted(routes, key=lambda r: (order[r.role], r.path, r.method)):
        if r.auth == "public":
            needs, allowed = "nothing (public)", "anyone"
        elif r.auth == "slack_signature":
            needs, allowed = "Slack signature", "Slack"
        else:
            needs = f"`{r.permission}`"
            allowed = ", ".join(sorted(PERMISSIONS[r.permission]))  # type: ignore[index]
        rows.append(f"| {r.method} | `{r.path}` | {ROLE_TITLES[r.role]} | {needs} | {allowed} | {r.summary} |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":  # python -m aetherius.http.openapi [--json]
    import sys

    print(json.dumps(build_document(), indent=2) if "--json" in sys.argv else render_markdown(), end="")
