"""The gateway as an MCP server (mcp 2.x `MCPServer`): tools/list from the registry, tools/call -> Gateway.

Who is calling travels in the request's `_meta` (MCP's place for out-of-band data), under these keys:

    aetherius.io/role        caller role for safety layer 4 (sre|developer|admin|auditor); absent -> rejected
    aetherius.io/task_id     the diagnosis task, recorded in the audit event
    aetherius.io/cluster_id  target cluster; may be omitted when the gateway serves exactly one cluster
    aetherius.io/actor       who, for the audit trail (default "task:<task_id>")

The answer is one text content block holding the tool's JSON (redacted, capped) - or the reason for the
rejection/failure with `isError` - and `_meta["aetherius.io/result"]` with ok/rejected/truncated/
duration_ms/security_event, from which `GatewayExecutor` rebuilds a `ToolResult`.

Who may say so: in process, the caller is our own step loop, and the role and actor in `_meta` are those of the
task's requester. Over HTTP, every request carries a credential - an API key (`X-API-Key` or `Authorization:
Bearer`) or an OIDC JWT, verified exactly as the HTTP roles verify them (aetherius/http/auth.py) - and the role and
actor come from that verified credential, never from `_meta`: the actor is the credential's name, and a role
claimed in `_meta` is honoured only when it narrows what the credential may do (a worker's sre key calling for a
developer's task may ask for `developer`; no key may ask for more than its own roles allow). The claimed actor is
kept in the audit record as `on_behalf_of`, never as the actor.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp_types import CallToolResult, TextContent, ToolAnnotations
from mcp_types import Tool as MCPTool
from starlette.types import ASGIApp, Receive, Scope, Send

from agents.gateway.core import Gateway
from agents.tools.registry import ToolRegistry

META_ROLE = "aetherius.io/role"
META_TASK_ID = "aetherius.io/task_id"
META_CLUSTER_ID = "aetherius.io/cluster_id"
META_ACTOR = "aetherius.io/actor"
META_RESULT = "aetherius.io/result"
SCOPE_PRINCIPAL = "aetherius.principal"  # where CallerAuthMiddleware leaves the verified caller in the ASGI scope

_READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)


class GatewayServer(MCPServer):
    """MCPServer whose tool list and tool calls come from a `Gateway`, not from decorated functions.

    Overrides the two public hooks MCPServer routes tools/list and tools/call through, so every call -
    including unknown tools and malformed arguments - reaches the safety checks and the audit trail
    instead of being refused earlier by the SDK's own argument validation.
    """

    def __init__(self, gateway: Gateway, name: str = "aetherius-gateway") -> None:
        super().__init__(name, instructions="Read-only Kubernetes diagnostic tools. Every call is checked and audited.",
                         log_level="WARNING")
        self.gateway = gateway

    async def list_tools(self) -> list[MCPTool]:
        return [MCPTool(name=t.id, title=t.name, description=t.description, input_schema=t.json_schema(),
                        annotations=_READ_ONLY) for t in self.gateway.registry.tools]

    async def call_tool(self, name: str, arguments: dict[str, Any], context: Any = None) -> CallToolResult:
        meta, transport, source_ip, principal = _request_info(context)
        claimed_role, claimed_actor = meta.get(META_ROLE), str(meta.get(META_ACTOR) or "")[:200]
        details: dict[str, Any] = {}
        if transport == "streamable-http":
            if principal is None:  # unreachable behind CallerAuthMiddleware; refuse rather than trust a claim
                role, actor = None, "unverified"
            else:
                role, actor, details = verified_caller(principal, claimed_role, claimed_actor, self.gateway.registry)
        else:
            role, actor = claimed_role, claimed_actor
        result = await self.gateway.execute(
            name, arguments, role=role, task_id=str(meta.get(META_TASK_ID) or "")[:200],
            cluster_id=meta.get(META_CLUSTER_ID) or "", actor=actor, transport=transport, source_ip=source_ip,
            caller=details)
        summary = {"ok": result.ok, "rejected": result.rejected, "truncated": result.truncated,
                   "duration_ms": result.duration_ms, "error": result.error, "security_event": result.security_event}
        return CallToolResult(content=[TextContent(type="text", text=result.output if result.ok else result.error)],
                              is_error=not result.ok, _meta={META_RESULT: summary})


_RANK = {"auditor": 0, "developer": 1, "sre": 2, "admin": 3}  # the SRS roles, least to most privileged


def tools_of(registry: ToolRegistry, roles: Any) -> set[str]:
    return {t.id for t in registry.tools if any(r in t.allowed_roles for r in roles)}


def verified_caller(principal: Any, claimed_role: Any, claimed_actor: str,
                    registry: ToolRegistry) -> tuple[str, str, dict[str, Any]]:
    """(role, actor, audit details) for a verified principal: the principal's own role and name, or a claimed role
    ranked no higher and able to call no tool the principal's roles may not (a narrowing, e.g. sre -> developer
    for a developer's task).
    A wider claim is ignored - the call runs with the credential's role - and the audit says it was claimed."""
    details: dict[str, Any] = {"auth_method": principal.method, "verified_roles": sorted(principal.roles)}
    role = principal.role
    if isinstance(claimed_role, str) and claimed_role and claimed_role not in principal.roles:
        below = _RANK.get(claimed_role, 99) <= max(_RANK.get(r, -1) for r in principal.roles)
        if below and tools_of(registry, [claimed_role]) <= tools_of(registry, principal.roles):
            role = claimed_role
            details["narrowed_to"] = claimed_role
        else:
            details["claimed_role_refused"] = claimed_role[:40]
    elif isinstance(claimed_role, str) and claimed_role in principal.roles:
        role = claimed_role
    if claimed_actor and claimed_actor != principal.name:
        details["on_behalf_of"] = claimed_actor
    return role, principal.name, details


def _request_info(context: Any) -> tuple[dict[str, Any], str, str, Any]:
    """(request _meta, transport name, client IP, verified principal) from an MCPServer Context."""
    try:
        request_context = context.request_context
    except Exception:  # noqa: BLE001 - direct calls (tests, in-process helpers) have no request context
        return {}, "direct", "", None
    meta = dict(request_context.meta or {})
    request = request_context.request
    client = getattr(request, "client", None)
    if client is not None:
        scope = getattr(request, "scope", {}) or {}
        return meta, "streamable-http", getattr(client, "host", "") or "", scope.get(SCOPE_PRINCIPAL)
    return meta, "inprocess", "", None


class CallerAuthMiddleware:
    """Every HTTP request needs a credential the HTTP roles would accept (API key or OIDC JWT, `Authenticator`);
    else 401 (403 for a valid credential without a role, 503 when signing keys cannot be fetched). The verified
    principal travels to the tool call in the ASGI scope; a refused request never reaches the MCP app."""

    def __init__(self, app: ASGIApp, authenticator: Any, on_refusal: Any = None) -> None:
        if authenticator is None:
            raise ValueError("the gateway's HTTP transport needs verified callers (API keys or OIDC)")
        self.app = app
        self.authenticator = authenticator
        self.on_refusal = on_refusal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            from aetherius.http.auth import AuthFailure

            headers = {k.decode("latin-1").title(): v.decode("latin-1") for k, v in scope.get("headers") or []}
            headers = {("X-API-Key" if k.lower() == "x-api-key" else k): v for k, v in headers.items()}
            try:
                principal = await self.authenticator.authenticate_headers(headers, scope.get("path", ""))
            except AuthFailure as failure:
                if self.on_refusal is not None:
                    await self.on_refusal(scope, failure)
                body = json.dumps({"error": "unauthorized" if failure.status == 401 else "forbidden"
                                   if failure.status == 403 else "unavailable", "reason": failure.reason}).encode()
                await send({"type": "http.response.start", "status": failure.status,
                            "headers": [(b"content-type", b"application/json"),
                                        (b"www-authenticate", b'Bearer realm="aetherius"')]})
                await send({"type": "http.response.body", "body": body})
                return
            scope = {**scope, SCOPE_PRINCIPAL: principal}
        await self.app(scope, receive, send)


def http_app(server: GatewayServer, *, authenticator: Any, path: str = "/mcp", on_refusal: Any = None) -> ASGIApp:
    """The streamable-HTTP ASGI app behind caller verification. JSON responses (not SSE), so a 10 MB tool answer
    is one body - the SDK client caps SSE events at 1 MB. Request bodies are capped at 1 MB: arguments are small."""
    app: ASGIApp = server.streamable_http_app(streamable_http_path=path, json_response=True,
                                              max_request_body_size=1024 * 1024)
    return CallerAuthMiddleware(app, authenticator, on_refusal)


@asynccontextmanager
async def serving_http(server: GatewayServer, *, authenticator: Any, host: str = "127.0.0.1", port: int = 0,
                       on_refusal: Any = None) -> AsyncIterator[str]:
    """Serve streamable HTTP in this event loop while the block runs; yields the endpoint URL. `authenticator`
    (aetherius.http.auth.Authenticator) verifies every caller; there is no unauthenticated mode.

    `port=0` picks a free port. The socket is bound before uvicorn starts, so the URL is live on entry.
    """
    import uvicorn

    # proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on accepted sockets whose proto says TCP,
    # and without it every response waits ~40 ms for a delayed ACK (measured: 43 ms vs 1 ms per call).
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound_port = sock.getsockname()[1]
    config = uvicorn.Config(http_app(server, authenticator=authenticator, on_refusal=on_refusal), log_level="warning",
                            lifespan="on", access_log=False)
    uv = uvicorn.Server(config)
    task = asyncio.ensure_future(uv.serve(sockets=[sock]))
    try:
        while not uv.started:
            if task.done():
                task.result()  # raises what stopped it
                raise RuntimeError("the gateway HTTP server stopped while starting")
            await asyncio.sleep(0.01)
        shown = f"[{host}]" if ":" in host else host
        yield f"http://{shown}:{bound_port}/mcp"
    finally:
        uv.should_exit = True
        with contextlib.suppress(Exception):
            await task
        sock.close()
