"""The gateway's one pipeline, independent of transport: check, run, serialise, redact, cap, audit.

    safety.check_call (SRS §5.9.3, 5 layers)
      -> built-in implementation over the cluster's reader, under the tool's timeout
      -> redact_obj -> JSON -> cap (default 10 MB, valid JSON with a `_truncated` marker)
      -> AuditEvent for every call (allowed, rejected or failed) through the injected sink,
         plus a `security.<kind>` AuditEvent when the rejection is a security event (SRS §5.8.5).

The MCP server (server.py) and anything else that exposes tools call `Gateway.execute`; there is no
other way to reach an implementation, and the implementations only hold a read-only `ClusterReader`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from prometheus_client import Counter, Histogram

from aetherius.metrics import REGISTRY
from agents.cluster.reader import ClusterReader, ReaderError
from agents.redaction import redact_obj, redact_text
from agents.tools.registry import ToolRegistry
from agents.tools.safety import Decision, Layer, check_call
from agents.tools.types import ToolResult
from schemas.audit import AuditEvent

log = logging.getLogger(__name__)

DEFAULT_MAX_OUTPUT_BYTES = 10 * 1024 * 1024
AuditSink = Callable[[AuditEvent], Awaitable[None]]
ToolFn = Callable[..., Awaitable[dict[str, Any]]]

CALLS = Counter("aetherius_gateway_calls_total", "Gateway tool calls by tool and result", ["tool", "result"],
                registry=REGISTRY)
REJECTIONS = Counter("aetherius_gateway_rejections_total", "Gateway rejections by safety layer", ["layer"],
                     registry=REGISTRY)
SECURITY_EVENTS = Counter("aetherius_security_events_total", "Security events raised by the gateway", ["kind"],
                          registry=REGISTRY)
AUDIT_FAILURES = Counter("aetherius_gateway_audit_failures_total", "Audit events the sink could not take",
                         registry=REGISTRY)
DURATION = Histogram("aetherius_gateway_call_seconds", "Gateway tool call duration", ["tool"], registry=REGISTRY,
                     buckets=(0.005, 0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60))


class Gateway:
    """Runs registered read-only tools for callers who say who they are (role, task, cluster).

    `readers` maps cluster id -> ClusterReader; `tools` defaults to the built-in implementations.
    `audit_sink` receives every AuditEvent (the lead wires it to the audit topic); without one the
    events are logged, so an unwired gateway still leaves a trail.
    """

    def __init__(self, registry: ToolRegistry, readers: Mapping[str, ClusterReader], *,
                 tools: Mapping[str, ToolFn] | None = None, audit_sink: AuditSink | None = None,
                 max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES) -> None:
        if tools is None:
            from agents.tools.builtin import BUILTIN_TOOLS
            tools = BUILTIN_TOOLS
        missing = [t.id for t in registry.tools if t.id not in tools]
        if missing:
            raise ValueError(f"registry tools without an implementation: {', '.join(missing)}")
        self.registry = registry
        self.readers = readers  # a live view: readers may be created lazily (kubeconfig, Vault)
        self.tools = dict(tools)
        self.audit_sink = audit_sink
        self.max_output_bytes = max_output_bytes

    async def execute(self, tool_id: Any, parameters: Any, *, role: Any, task_id: str = "", cluster_id: Any = "",
                      actor: str = "", transport: str = "inprocess", source_ip: str = "",
                      caller: dict[str, Any] | None = None) -> ToolResult:
        """One call, start to finish. Never raises for anything a caller sent or a tool did."""
        started = time.perf_counter()
        if not cluster_id and len(self.readers) == 1:  # a per-cluster gateway serves its one cluster
            cluster_id = next(iter(self.readers))
        decision = check_call(self.registry, tool_id, parameters, role, cluster_id)
        shown_id = tool_id if decision.tool is not None else "unregistered"
        if decision.allowed and cluster_id not in self.readers:
            decision = Decision.reject(Layer.CLUSTER, f"this gateway has no reader for cluster {cluster_id!r}",
                                       tool=decision.tool)
        if not decision.allowed:
            result = ToolResult(tool_id=str(tool_id)[:100], ok=False, rejected=True,
                                error=redact_text(f"rejected at layer {decision.layer.value}: {decision.reason}"),
                                security_event=decision.security_event.value if decision.security_event else "",
                                duration_ms=_ms(started))
        else:
            result = await self._run(decision, cluster_id, started)
        outcome = "rejected" if result.rejected else "allowed" if result.ok else "error"
        CALLS.labels(tool=shown_id, result=outcome).inc()
        DURATION.labels(tool=shown_id).observe(result.duration_ms / 1000)
        if decision.layer is not None:
            REJECTIONS.labels(layer=decision.layer.value).inc()
        await self._audit(decision, result, outcome, tool_id=tool_id, parameters=parameters, role=role,
                          task_id=task_id, cluster_id=cluster_id, actor=actor, transport=transport, source_ip=source_ip,
                          caller=caller or {})
        return result

    async def _run(self, decision: Decision, cluster_id: str, started: float) -> ToolResult:
        tool = decision.tool
        assert tool is not None
        fn = self.tools[tool.id]
        reader = self.readers[cluster_id]

        def failed(error: str, *, rejected: bool = False) -> ToolResult:
            return ToolResult(tool_id=tool.id, ok=False, rejected=rejected, error=redact_text(error),
                              duration_ms=_ms(started))

        try:
            output = await asyncio.wait_for(fn(reader, **decision.parameters), timeout=tool.timeout_seconds)
        except asyncio.TimeoutError:
            return failed(f"{tool.id} timed out after {tool.timeout_seconds:g}s")
        except ReaderError as exc:
            return failed(f"cluster {cluster_id}: {exc}")
        except (ValueError, TypeError) as exc:  # the implementation's own parameter checks (belt and braces)
            return failed(f"bad parameters for {tool.id}: {exc}", rejected=True)
        except Exception as exc:  # noqa: BLE001 - a tool bug is a failed call, and its text stays in the log
            log.exception("tool %s failed", tool.id, extra={"cluster_id": cluster_id})
            return failed(f"{tool.id} failed with an internal error ({type(exc).__name__})")
        text, truncated = serialise(output, tool.max_output_bytes or self.max_output_bytes)
        return ToolResult(tool_id=tool.id, ok=True, output=text, truncated=truncated, duration_ms=_ms(started))

    async def _audit(self, decision: Decision, result: ToolResult, outcome: str, *, tool_id: Any, parameters: Any,
                     role: Any, task_id: str, cluster_id: Any, actor: str, transport: str, source_ip: str,
                     caller: dict[str, Any]) -> None:
        details: dict[str, Any] = {
            "task_id": task_id, "transport": transport, "parameters": _audit_parameters(parameters), **caller,
        }
        if decision.layer is not None:
            details["layer"] = decision.layer.value
        if decision.parameter:
            details["parameter"] = decision.parameter[:100]
        if result.ok:
            details["output_bytes"] = len(result.output.encode())
            details["truncated"] = result.truncated
        if decision.security_event is not None:
            details["security_event"] = decision.security_event.value
        common = dict(actor=actor or (f"task:{task_id}" if task_id else "unknown"), role=str(role)[:40],
                      resource=f"tool/{str(tool_id)[:100]}", cluster_id=str(cluster_id)[:100], source_ip=source_ip)
        events = [AuditEvent(action="tool.call", result=outcome, reason=result.error[:1000],
                             duration_ms=result.duration_ms, details=details, **common)]
        if decision.security_event is not None:
            SECURITY_EVENTS.labels(kind=decision.security_event.value).inc()
            log.warning("security event %s: %s", decision.security_event.value, decision.reason,
                        extra={"task_id": task_id, "cluster_id": str(cluster_id)[:100]})
            events.append(AuditEvent(action=f"security.{decision.security_event.value}", result="rejected",
                                     reason=redact_text(decision.reason)[:1000], details=details, **common))
        for event in events:
            await self._emit(event)

    async def _emit(self, event: AuditEvent) -> None:
        if self.audit_sink is None:
            log.info("audit %s", event.model_dump_json())
            return
        try:
            await self.audit_sink(event)
        except Exception:  # noqa: BLE001 - the call already happened; the event must still not vanish
            AUDIT_FAILURES.inc()
            log.exception("audit sink failed; event follows: %s", event.model_dump_json())


def serialise(output: Any, limit: int) -> tuple[str, bool]:
    """Redacted compact JSON of a tool's answer, at most `limit` bytes, still valid JSON when cut.

    Redaction runs on the structure *before* the cut, so a secret is never split into a half that no
    pattern recognises. When too big, the largest top-level value is halved (lists keep their head,
    strings - logs - keep their tail) until it fits; `_truncated` records the original size.
    """
    clean = redact_obj(output)
    text = _dumps(clean)
    size = len(text.encode())
    if size <= limit:
        return text, False
    if isinstance(clean, dict):
        shrunk = dict(clean)
        shrunk["_truncated"] = {"original_bytes": size, "limit_bytes": limit}
        for _ in range(200):
            text = _dumps(shrunk)
            if len(text.encode()) <= limit:
                return text, True
            key = max((k for k in shrunk if k != "_truncated"), key=lambda k: len(_dumps(shrunk[k])), default=None)
            if key is None:
                break
            shrunk[key] = _halve(shrunk[key])
    marker = json.dumps({"_truncated": {"original_bytes": size, "limit_bytes": limit}})
    if len(marker) <= limit:
        return marker, True
    return "", True


def _halve(value: Any) -> Any:
    if isinstance(value, list):
        return value[: len(value) // 2]
    if isinstance(value, str):
        keep = len(value) // 2
        return "[...truncated...]" + value[len(value) - keep:] if keep else ""
    if isinstance(value, dict):
        if len(value) > 1:
            items = list(value.items())
            return dict(items[: len(items) // 2])
        if value:
            ((key, inner),) = value.items()
            return {key: _halve(inner)}
    return None


def _dumps(value: Any) -> str:
    return json.dumps(value, default=str, separators=(",", ":"), ensure_ascii=False)


def _audit_parameters(parameters: Any) -> Any:
    """What the caller sent, redacted and bounded (a 10 MB injection attempt is not stored whole)."""
    if not isinstance(parameters, dict):
        return f"<{type(parameters).__name__}>"
    out: dict[str, Any] = {}
    for key, value in list(parameters.items())[:32]:
        text = value if isinstance(value, (bool, int, float)) or value is None else str(value)
        if isinstance(text, str) and len(text) > 256:
            text = text[:256] + f"...(+{len(text) - 256} chars)"
        out[str(key)[:64]] = text
    return redact_obj(out)


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
