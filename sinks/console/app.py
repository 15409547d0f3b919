"""The console's aiohttp application: routes, middlewares (security headers, the API's auth + RBAC + audit with the
session plugged in, CSRF), static files, probes, and the lifetime of the follower, the audit producer and the
HTTP client to the other roles."""

from __future__ import annotations

import json
import mimetypes
from pathlib import Path
from typing import Any, Awaitable, Callable

from aiohttp import web

from aetherius.http.auth import security_middlewares
from aetherius.http.health import add_health_routes
from aetherius.http.openapi import add_openapi_route
from aetherius.http.rbac import require
from schemas.audit import AuditEvent
from schemas.settings import Settings
from sinks.console.board import Board
from sinks.console.follower import Follower
from sinks.console.live import Hub
from sinks.console.pages import Console, Urls
from sinks.console.sessions import SessionAuthenticator, SessionStore, csrf_middleware, security_headers
from sinks.console.upstream import Upstream

STATIC = Path(__file__).resolve().parent / "static"
STATIC_PREFIX = "/ui/static/"
LOGIN = "/ui/login"

AuditSink = Callable[[AuditEvent], Awaitable[None]]

# Every page and action with the permission it needs (aetherius/http/rbac.py): the auth middleware refuses the rest.
ROUTES: tuple[tuple[str, str, str, str], ...] = (
    ("POST", "/ui/logout", "logout", "history:read"),  # every person's role holds history:read
    ("GET", "/ui/", "home", "history:read"),
    ("GET", "/ui/tasks", "tasks", "tasks:read"),
    ("GET", "/ui/tasks/{task_id}", "task", "tasks:read"),
    ("GET", "/ui/tasks/{task_id}/steps/{number}/output", "step_output", "tasks:read"),
    ("POST", "/ui/tasks/{task_id}/stop", "stop", "tasks:cancel"),
    ("POST", "/ui/tasks/{task_id}/feedback", "feedback", "feedback:write"),
    ("GET", "/ui/incidents", "incidents", "tasks:read"),
    ("GET", "/ui/audit", "audit_page", "audit:read"),
    ("GET", "/ui/costs", "costs", "costs:read"),
    ("GET", "/ui/knowledge", "knowledge", "knowledge:read"),
    ("GET", "/ui/knowledge/{entry_id}", "knowledge_entry", "knowledge:read"),
    ("GET", "/ui/live/tasks", "live_tasks", "tasks:read"),
    ("GET", "/ui/live/tasks/{task_id}", "live_task", "tasks:read"),
    ("GET", "/ui/live/incidents", "live_incidents", "tasks:read"),
)


def _local(host: str) -> str:
    return "127.0.0.1" if host in ("", "0.0.0.0", "::") else host


def upstream_urls(settings: Settings) -> Urls:
    """The other roles' base URLs: as configured, else derived from their own settings in this file."""
    c = settings.console
    scheme = "https" if settings.security.tls.enabled else "http"
    worker = c.worker_url or f"{scheme}://{_local(settings.worker.host)}:{settings.worker.port}"
    sink = c.sink_url or f"{scheme}://{_local(settings.analytics.api_host)}:{settings.analytics.api_port}"
    knowledge = c.knowledge_url or settings.knowledge.api_url or worker
    return Urls(worker=worker.rstrip("/"), sink=sink.rstrip("/"), knowledge=knowledge.rstrip("/"))


def static_files() -> dict[str, tuple[bytes, str]]:
    """Every file under static/, read once: served from memory, nothing outside that directory is reachable."""
    out = {}
    for path in sorted(STATIC.rglob("*")):
        if path.is_file():
            kind = "text/plain" if path.name.endswith(".LICENSE") else \
                mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            out[STATIC_PREFIX + path.relative_to(STATIC).as_posix()] = (path.read_bytes(), kind)
    return out


def _wants_html(request: web.Request) -> bool:
    return "text/html" in request.headers.get("Accept", "") and not request.headers.get("HX-Request")


def browser_errors(console: Console):  # noqa: ANN201 - an aiohttp middleware
    """What a person's browser gets instead of the API's JSON refusals: the sign-in page for 401, a page saying
    what is not allowed for 403/404/400 (the JSON still goes to htmx and event streams)."""

    @web.middleware
    async def middleware(request: web.Request, handler):  # noqa: ANN001, ANN202
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            if exc.status < 400 or exc.content_type == "text/html":
                raise
            response = exc
        if response.status == 401:
            if request.headers.get("HX-Request"):
                return web.Response(status=401, headers={"HX-Redirect": LOGIN})
            if request.method == "GET" and "text/event-stream" not in request.headers.get("Accept", ""):
                target = LOGIN + (f"?next={request.path}" if request.path.startswith("/ui/") else "")
                raise web.HTTPSeeOther(target)
        if response.status in (400, 403, 404, 409, 503) and _wants_html(request) \
                and response.content_type == "application/json":
            reason = ""
            body = getattr(response, "text", None) or ""
            try:
                parsed = json.loads(body)
                reason = parsed.get("reason") or parsed.get("error") or ""
            except (ValueError, AttributeError):
                reason = body[:300]
            heading = {403: "Not allowed", 404: "Not found", 400: "Bad request"}.get(response.status, "Unavailable")
            return console.page(request, "error.html", status=response.status, heading=heading,
                                message=reason or heading)
        if isinstance(response, web.HTTPException):
            raise response
        return response

    return middleware


def create_console_app(settings: Settings, board: Board, follower: Follower | None, audit: AuditSink,
                       on_startup: list[Callable[[web.Application], Any]] | None = None) -> tuple[web.Application, Console]:
    c = settings.console
    files = static_files()
    public = ["/health/live", "/health/ready", "/metrics", "/", LOGIN, *files]
    security = settings.security.model_copy(update={"public_paths": public})
    sessions = SessionStore(c.session_seconds, c.idle_seconds, c.max_sessions)
    authenticator = SessionAuthenticator(security, sessions)
    hub = Hub(board, c.max_streams, c.heartbeat_seconds)
    upstream = Upstream(c.upstream_timeout_seconds)
    console = Console(board, follower, hub, upstream, upstream_urls(settings), sessions, authenticator, audit,
                      c.cookie_secure)
    web_app = web.Application(middlewares=[
        security_headers, browser_errors(console),
        *security_middlewares(security, audit, settings.webhook, authenticator=authenticator),
        csrf_middleware(frozenset({LOGIN})),
    ], client_max_size=64 * 1024)

    async def static(request: web.Request) -> web.Response:
        if request.path not in files:
            raise web.HTTPNotFound()
        body, kind = files[request.path]
        return web.Response(body=body, content_type=kind, headers={"Cache-Control": "public, max-age=3600"})

    async def root(_request: web.Request) -> web.Response:
        raise web.HTTPSeeOther("/ui/")

    async def lifecycle(_app: web.Application):  # noqa: ANN202 - aiohttp cleanup context
        await upstream.start()
        if follower is not None:
            follower.start()
        yield
        hub.close_all()
        if follower is not None:
            await follower.stop()
        await upstream.close()

    web_app.cleanup_ctx.append(lifecycle)
    for hook in on_startup or []:
        web_app.on_startup.append(hook)
    r = web_app.router
    r.add_get("/", root)
    r.add_get(STATIC_PREFIX + "{path:.+}", static)  # public: only the files read at start (public_paths)
    r.add_get(LOGIN, console.login_form)
    r.add_post(LOGIN, console.login)
    for method, path, name, permission in ROUTES:
        r.add_route(method, path, require(permission)(getattr(console, name)))
    ready = (lambda: follower.caught_up.is_set()) if follower is not None else (lambda: True)
    add_health_routes(web_app, ready, lambda: {"tasks": len(board.tasks), "streams": hub.open_streams,
                                                "sessions": len(sessions)})
    add_openapi_route(web_app)
    return web_app, console
