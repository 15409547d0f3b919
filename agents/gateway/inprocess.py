"""The gateway as a process's own step loop reaches it: an MCP client of an in-process `GatewayServer`.

The worker (for the clusters it reads itself), `aetherius diagnose` (over a dump) and the tests all build
their executor here, so every diagnosis - wherever it runs - passes the same safety checks, redaction,
output caps, timeouts and audit records (agents/gateway/core.py). The MCP round trip in process costs
about 0.2 ms per call.
"""

from __future__ import annotations

from collections.abc import Mapping

from agents.cluster.reader import ClusterReader
from agents.gateway.client import GatewayExecutor
from agents.gateway.core import AuditSink, Gateway
from agents.gateway.server import GatewayServer
from agents.tools.registry import ToolRegistry, load_registry
from schemas.gateway_settings import GatewaySettings


def in_process_executor(readers: Mapping[str, ClusterReader], *, settings: GatewaySettings | None = None,
                        registry: ToolRegistry | None = None, audit_sink: AuditSink | None = None) -> GatewayExecutor:
    """`readers` is a live mapping (cluster id -> reader); `audit_sink` receives every tool call's AuditEvent."""
    settings = settings or GatewaySettings()
    gateway = Gateway(registry or load_registry(settings.registry_file), readers, audit_sink=audit_sink,
                      max_output_bytes=settings.max_output_bytes)
    return GatewayExecutor(GatewayServer(gateway), timeout_seconds=settings.call_timeout_seconds)
