"""One `ToolExecutor` over several gateways: clusters with a remote gateway go there, the rest in process."""

from __future__ import annotations

from typing import Mapping

from agents.tools.types import ToolCall, ToolExecutor, ToolResult


class RoutedExecutor:
    def __init__(self, default: ToolExecutor, by_cluster: Mapping[str, ToolExecutor]) -> None:
        self.default = default
        self.by_cluster = dict(by_cluster)

    async def call(self, call: ToolCall, *, task_id: str, cluster_id: str, role: str = "sre",
                   actor: str = "") -> ToolResult:
        executor = self.by_cluster.get(cluster_id, self.default)
        return await executor.call(call, task_id=task_id, cluster_id=cluster_id, role=role, actor=actor)
