"""`GatewayExecutor`: the planner's `ToolExecutor`, as an MCP client of the gateway.

In process by default (`GatewayExecutor(server)`: the SDK dispatches straight into the server object,
no sockets), or streamable HTTP to a remote per-cluster gateway (`GatewayExecutor("http://host:port/mcp",
token=...)`). One MCP session is kept open by a background task that owns it - anyio scopes must be
entered and left by the same task, while step-loop calls come from many - and is re-opened after a
transport failure. Like every executor, `call` never raises: failures are `ok=False` results.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp_types import CallToolResult, TextContent
from mcp_types import Tool as MCPTool

from agents.gateway.server import META_ACTOR, META_CLUSTER_ID, META_RESULT, META_ROLE, META_TASK_ID, GatewayServer
from agents.tools.types import ToolCall, ToolResult

log = logging.getLogger(__name__)


class GatewayExecutor:
    def __init__(self, target: GatewayServer | str, *, token: str | None = None, actor: str = "",
                 timeout_seconds: float = 120.0, connect_timeout_seconds: float = 15.0) -> None:
        self.target = target
        self.token = token
        self.actor = actor
        self.timeout_seconds = timeout_seconds
        self.connect_timeout_seconds = connect_timeout_seconds
        self._client: Client | None = None
        self._runner: asyncio.Task[None] | None = None
        self._ready: asyncio.Event | None = None
        self._closing: asyncio.Event | None = None
        self._lock = asyncio.Lock()
        self._error: BaseException | None = None

    # -- ToolExecutor ------------------------------------------------------------------------------------------
    async def call(self, call: ToolCall, *, task_id: str, cluster_id: str, role: str = "sre",
                   actor: str = "") -> ToolResult:
        meta = {META_ROLE: role, META_TASK_ID: task_id, META_CLUSTER_ID: cluster_id}
        if actor or self.actor:  # the caller's (the task's requester) before this executor's fixed one
            meta[META_ACTOR] = actor or self.actor
        try:
            client = await self._connected()
            answer = await client.call_tool(call.tool_id, dict(call.parameters), meta=meta,
                                            read_timeout_seconds=self.timeout_seconds)
        except Exception as exc:  # noqa: BLE001 - transport trouble is a failed call, not a crash
            await self._drop()
            return ToolResult(tool_id=call.tool_id, ok=False, error=f"gateway unavailable: {type(exc).__name__}: {exc}")
        return to_tool_result(call.tool_id, answer)

    async def list_tools(self) -> list[MCPTool]:
        client = await self._connected()
        return list((await client.list_tools()).tools)

    # -- session lifecycle ---------------------------------------------------------------------------------------
    async def __aenter__(self) -> GatewayExecutor:
        await self._connected()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._drop()

    async def _connected(self) -> Client:
        async with self._lock:
            if self._client is not None and self._runner is not None and not self._runner.done():
                return self._client
            self._ready, self._closing, self._error = asyncio.Event(), asyncio.Event(), None
            self._runner = asyncio.ensure_future(self._own_session(self._ready, self._closing))
            try:
                await asyncio.wait_for(self._ready.wait(), self.connect_timeout_seconds)
            except asyncio.TimeoutError:
                self._runner.cancel()
                raise ConnectionError(f"no MCP session with {self._describe()} within {self.connect_timeout_seconds:g}s")
            if self._client is None:
                raise ConnectionError(f"cannot open an MCP session with {self._describe()}: "
                                      f"{type(self._error).__name__}: {self._error}")
            return self._client

    async def _own_session(self, ready: asyncio.Event, closing: asyncio.Event) -> None:
        """Holds the MCP session open from one task until `closing` is set (or the transport dies)."""
        try:
            async with contextlib.AsyncExitStack() as stack:
                if isinstance(self.target, str):
                    headers = {"Authorization": f"Bearer {self.token}"} if self.token else None
                    http = await stack.enter_async_context(create_mcp_http_client(headers=headers))
                    client = Client(streamable_http_client(self.target, http_client=http), cache=None)
                else:
                    client = Client(self.target, cache=None)
                self._client = await stack.enter_async_context(client)
                await self._client.list_tools()  # so the session knows the tools it will call
                ready.set()
                await closing.wait()
        except Exception as exc:  # noqa: BLE001 - reported to the waiting caller, then the next call retries
            self._error = _leaf(exc)
            log.warning("MCP session with %s ended: %s", self._describe(), exc)
        finally:
            self._client = None
            ready.set()

    async def _drop(self) -> None:
        runner, closing = self._runner, self._closing
        self._client, self._runner = None, None
        if runner is not None and closing is not None:
            closing.set()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(runner, 10)

    def _describe(self) -> str:
        return self.target if isinstance(self.target, str) else "the in-process gateway"


def _leaf(exc: BaseException) -> BaseException:
    """The first real error inside anyio's nested ExceptionGroups (what a person needs to read)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def to_tool_result(tool_id: str, answer: CallToolResult) -> ToolResult:
    """Rebuild the gateway's ToolResult from an MCP answer (falls back to isError for foreign servers)."""
    text = "".join(block.text for block in answer.content if isinstance(block, TextContent))
    summary: Any = (answer.meta or {}).get(META_RESULT)
    if isinstance(summary, dict):
        ok = bool(summary.get("ok"))
        return ToolResult(tool_id=tool_id, ok=ok, output=text if ok else "",
                          error="" if ok else str(summary.get("error") or text),
                          rejected=bool(summary.get("rejected")), truncated=bool(summary.get("truncated")),
                          security_event=str(summary.get("security_event") or "")[:64],
                          duration_ms=float(summary.get("duration_ms") or 0.0))
    ok = not answer.is_error
    return ToolResult(tool_id=tool_id, ok=ok, output=text if ok else "", error="" if ok else text)
