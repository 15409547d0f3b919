"""The pure planner and the loop driver: what is asked first, when it stops, step records, failures."""

from __future__ import annotations

import asyncio
from pathlib import Path

from agents.cluster.dump import DumpReader
from agents.rules import Observations, Target, analyze, diagnose_with_rules, next_calls
from agents.tools.local import LocalExecutor
from agents.tools.types import ToolCall, ToolResult
from schemas.result import ProblemCategory
from schemas.step import StepStatus
from tests.dumpkit import DumpBuilder
from tests.test_rules_categories import dependency_redis_other_ns, oom_deployment


def test_planner_asks_for_the_target_first_and_never_repeats() -> None:
    target = Target(kind="deployment", name="cart", namespace="shop")
    obs = Observations()
    first = next_calls(target, obs)
    assert [(c.tool_id, c.parameters) for c in first] == [
        ("get_workload", {"namespace": "shop", "kind": "deployment", "name": "cart"})]
    obs.record(first[0], None, error="cluster unreachable")  # a failed call is not planned again
    assert next_calls(target, obs) == []
    assert analyze(target, obs).category is ProblemCategory.UNKNOWN


def _dump(tmp_path: Path, scenario) -> tuple[Target, DumpReader]:
    b = DumpBuilder(tmp_path / "d")
    labels = scenario(b)
    b.write()
    kind = "deployment" if "deployment" in labels else "pod"
    return Target(kind=kind, name=labels[kind], namespace=labels["namespace"]), DumpReader(b.root)


class CountingExecutor:
    """Wraps LocalExecutor and records how many calls run at once."""

    def __init__(self, inner: LocalExecutor, fail: set[str] = frozenset()) -> None:
        self.inner, self.fail, self.running, self.peak, self.calls = inner, fail, 0, 0, []

    async def call(self, call: ToolCall, *, task_id: str, cluster_id: str, role: str = "sre") -> ToolResult:
        self.running += 1
        self.peak = max(self.peak, self.running)
        self.calls.append(call.tool_id)
        try:
            await asyncio.sleep(0.01)
            if call.tool_id in self.fail:
                raise RuntimeError("gateway exploded")
            return await self.inner.call(call, task_id=task_id, cluster_id=cluster_id, role=role)
        finally:
            self.running -= 1


def test_driver_runs_at_most_three_calls_at_once_and_records_every_step(tmp_path: Path) -> None:
    target, reader = _dump(tmp_path, dependency_redis_other_ns)
    ex = CountingExecutor(LocalExecutor({"c": reader}))
    result = asyncio.run(diagnose_with_rules(target, ex, "task-1", "c"))
    assert result.root_cause.category is ProblemCategory.DEPENDENCY_FAILURE
    assert 1 < ex.peak <= 3
    assert [s.tool_id for s in result.steps] == ex.calls
    assert [s.step_number for s in result.steps] == list(range(1, len(ex.calls) + 1))
    assert all(s.id == f"task-1:{s.step_number}" and s.status is StepStatus.COMPLETED for s in result.steps)


def test_max_steps_stops_the_loop_with_partial_result(tmp_path: Path) -> None:
    target, reader = _dump(tmp_path, oom_deployment)
    result = asyncio.run(diagnose_with_rules(target, LocalExecutor({"c": reader}), "t", "c", max_steps=1))
    assert len(result.steps) == 1 and result.termination_reason == "max_steps"
    assert result.root_cause is not None  # still an answer from what was seen


def test_executor_errors_become_failed_steps_not_crashes(tmp_path: Path) -> None:
    target, reader = _dump(tmp_path, oom_deployment)
    ex = CountingExecutor(LocalExecutor({"c": reader}), fail={"pod_logs", "list_hpas"})
    result = asyncio.run(diagnose_with_rules(target, ex, "t", "c"))
    failed = [s for s in result.steps if s.status is StepStatus.FAILED]
    assert failed and all("gateway exploded" in s.output.stderr for s in failed)
    assert result.root_cause.category is ProblemCategory.OOM_KILLED
