"""`LocalExecutor`: a `ToolExecutor` that calls the built-in tools directly over in-process readers.

For tests, the offline CLI and as a fallback. It has none of the gateway's audit, role or redaction
machinery (the MCP gateway is the production path) but keeps its shape: JSON output, and every
failure (unknown tool, unknown cluster, bad parameters, reader error) is an `ok=False` result, never
an exception, so a planner treats both executors the same.
"""

from __future__ import annotations

import json
import time
from typing import Any

from agents.cluster.reader import ClusterReader, ReaderError
from agents.tools.builtin import BUILTIN_TOOLS, ToolFn
from agents.tools.types import ToolCall, ToolResult


class LocalExecutor:
    def __init__(self, readers: dict[str, ClusterReader], tools: dict[str, ToolFn] | None = None) -> None:
        self.readers = readers
        self.tools = tools if tools is not None else BUILTIN_TOOLS

    async def call(self, call: ToolCall, *, task_id: str, cluster_id: str, role: str = "sre",
                   actor: str = "") -> ToolResult:
        started = time.perf_counter()

        def done(**fields: Any) -> ToolResult:
            return ToolResult(tool_id=call.tool_id, duration_ms=(time.perf_counter() - started) * 1000, **fields)

        fn = self.tools.get(call.tool_id)
        if fn is None:
            return done(ok=False, rejected=True, error=f"unknown tool {call.tool_id!r}")
        reader = self.readers.get(cluster_id)
        if reader is None:
            return done(ok=False, rejected=True, error=f"unknown cluster {cluster_id!r}")
        try:
            output = await fn(reader, **call.parameters)
        except TypeError as exc:  # unknown or missing parameter
            return done(ok=False, rejected=True, error=f"bad parameters for {call.tool_id}: {exc}")
        except ValueError as exc:
            return done(ok=False, rejected=True, error=f"bad parameters for {call.tool_id}: {exc}")
        except ReaderError as exc:
            return done(ok=False, error=str(exc))
        return done(ok=True, output=json.dumps(output, default=str, separators=(",", ":")))
