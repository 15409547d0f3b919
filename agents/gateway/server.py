"""The gateway as an MCP server (mcp 2.x `MCPServer`): tools/list from the registry, tools/call -> Gateway.

Who is calling travels in the request's `_meta` (MCP's place for out-of-band data), under these keys:

    aetherius.io/role        caller role for safety layer 4 (sre|developer|admin|auditor); absent -> rejected
    aetherius.io/task_id     the diagnosis task, recorded in the audit event
    aetherius.io/cluster_id  target cluster; may be omitted when the gateway serves exactly one cluster
    aetherius.io/actor       who, for the audit trail (default "task:<task_id>")

The answer is one text content block holding the tool's JSON (redacted, capped) - or the reason for the
rejection/failure with `isError` - and `_meta["aetherius.io/result"]` with ok/rejected/truncated/
duration_ms/security_event, from which `GatewayExecutor` rebuilds a `ToolResult`.

The role is asserted by the caller: in process that caller is our own step loop; over HTTP the server
listens on 127.0.0.1 and, when given a token, requires `Authorization: Bearer <token>` on every request.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp_types import CallToolResult, TextContent, ToolAnnotations
from mcp_types import Tool as MCPTool
from starlette.types import ASGIApp, Receive, Scope, Send

from agents.gateway.core import Gateway

META_ROLE = "aetherius.io/role"
META_TASK_ID = "aetherius.io/task_id"
META_CLUSTER_ID = "aetherius.io/cluster_id"
META_ACTOR = "aetherius.io/actor"
META_RESULT = "aetherius.io/result"

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
        meta, transport, source_ip = _request_info(context)
        result = await self.gateway.execute(
            name, arguments, role=meta.get(META_ROLE), task_id=str(meta.get(META_TASK_ID) or "")[:200],
            cluster_id=meta.get(META_CLUSTER_ID) or "", actor=str(meta.get(META_ACTOR) or "")[:200],
            transport=transport, source_ip=source_ip)
        summary = {"ok": result.ok, "rejected": result.rejected, "truncated": result.truncated,
                   "duration_ms": result.duration_ms, "error": result.error, "security_event": result.security_event}
        return CallToolResult(content=[TextContent(type="text", text=result.output if result.ok else result.error)],
                              is_error=not result.ok, _meta={META_RESULT: summary})


def _request_info(context: Any) -> tuple[dict[str, Any], str, str]:
    """(request _meta, transport name, client IP) from an MCPServer Context; empty when called directly."""
    try:
        request_context = context.request_context
    except Exception:  # noqa: BLE001 - direct calls (tests, in-process helpers) have no request context
        return {}, "direct", ""
    meta = dict(request_context.meta or {})
    request = request_context.request
    client = getattr(request, "client", None)
    if client is not None:
        return meta, "streamable-http", getattr(client, "host", "") or ""
    return meta, "inprocess", ""


class BearerTokenMiddleware:
    """Every HTTP request needs `Authorization: Bearer <token>` (constant-time compare); else 401."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        if not token:
            raise ValueError("an empty gateway token would let everyone in")
        self.app = app
        self._expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            given = dict(scope.get("headers") or []).get(b"authorization", b"")
            if not hmac.compare_digest(given, self._expected):
                await send({"type": "http.response.start", "status": 401,
                            "headers": [(b"content-type", b"application/json"), (b"www-authenticate", b"Bearer")]})
                await send({"type": "http.response.body", "body": b'{"error":"unauthorized"}'})
                return
        await self.app(scope, receive, send)


def http_app(server: GatewayServer, *, token: str | None = None, path: str = "/mcp") -> ASGIApp:
    """The streamable-HTTP ASGI app. JSON responses (not SSE), so a 10 MB tool answer is one body -
    the SDK client caps SSE events at 1 MB. Request bodies are capped at 1 MB: arguments are small."""
    app: ASGIApp = server.streamable_http_app(streamable_http_path=path, json_response=True,
                                              max_request_body_size=1024 * 1024)
    return BearerTokenMiddleware(app, token) if token else app


@asynccontextmanager
async def serving_http(server: GatewayServer, *, host: str = "127.0.0.1", port: int = 0,
                       token: str | None = None) -> AsyncIterator[str]:
    """Serve streamable HTTP in this event loop while the block runs; yields the endpoint URL.

    `port=0` picks a free port. The socket is bound before uvicorn starts, so the URL is live on entry.
    """
    import uvicorn

    # proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on accepted sockets whose proto says TCP,
    # and without it every response waits ~40 ms for a delayed ACK (measured: 43 ms vs 1 ms per call).
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound_port = sock.getsockname()[1]
    config = uvicorn.Config(http_app(server, token=token), log_level="warning", lifespan="on", access_log=False)
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
