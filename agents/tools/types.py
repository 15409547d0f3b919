"""The seam between whoever chooses a tool (rule engine, LLM) and whoever runs it (gateway).

One method, like httpx's transport: `ToolExecutor.call`. The MCP gateway implements it for real;
tests and the offline CLI can implement it over a `ClusterReader` directly.
"""

from __future__ import annotations

from typing import Any, Protocol

from pydantic import BaseModel, Field


class ToolCall(BaseModel):
    tool_id: str
    parameters: dict[str, Any] = Field(default_factory=dict)
    reason: str = ""  # why the planner wants it; goes into the step's reasoning


class ToolResult(BaseModel):
    tool_id: str
    ok: bool
    output: str = ""  # JSON text of the tool's answer, already capped and redacted
    error: str = ""  # why it failed or was rejected (ok=False)
    rejected: bool = False  # refused by a safety check rather than failed while running
    security_event: str = ""  # the SRS §5.8.5 kind when the refusal is a security event (privilege_escalation ...)
    truncated: bool = False
    duration_ms: float = 0.0


class ToolExecutor(Protocol):
    """`role` is checked by the gateway's safety layer 4; `actor` names who the call is for in its audit event
    (the step loop passes the task's requester, agents/runtime.tool_caller)."""

    async def call(self, call: ToolCall, *, task_id: str, cluster_id: str, role: str = "sre",
                   actor: str = "") -> ToolResult:
        ...
