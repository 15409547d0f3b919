"""The one step loop, run in memory (agents/inmemory.py) as `aetherius diagnose`, tests and benchmarks run it:
parallelism, step records, limits and failures, and that every call went through the MCP gateway (audit,
redaction) and ends with the worker's termination names."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from agents.cluster.dump import DumpReader
from agents.diagnose import diagnose_offline_run
from agents.engine import RulesEngine
from agents.gateway.inprocess import in_process_executor
from agents.inmemory import InMemoryRun, MemoryTopics, run_task
from agents.steploop import StepLoop
from agents.tools.types import ToolCall, ToolResult
from schemas.alertmanager import AlertmanagerPayload
from schemas.result import ProblemCategory
from schemas.signal import Priority
from schemas.step import StepStatus
from schemas.task import DiagnosticTask, ResourceInfo, TaskContext, TaskLimits
from tests.dumpkit import Ctr, DumpBuilder, alert_payload
from tests.test_rules_categories import NS, base, crashing, dependency_redis_other_ns, oom_deployment


class CountingExecutor:
    """The real gateway executor, recording how many calls run at once; some tools may be made to blow up."""

    def __init__(self, inner, fail: frozenset[str] = frozenset()) -> None:
        self.inner, self.fail, self.running, self.peak, self.calls = inner, fail, 0, 0, []

    async def call(self, call: ToolCall, *, task_id: str, cluster_id: str, role: str = "sre",
                   actor: str = "") -> ToolResult:
        self.running += 1
        self.peak = max(self.peak, self.running)
        self.calls.append(call.tool_id)
        try:
            await asyncio.sleep(0.01)
            if call.tool_id in self.fail:
                raise RuntimeError("gateway exploded")
            return await self.inner.call(call, task_id=task_id, cluster_id=cluster_id, role=role, actor=actor)
        finally:
            self.running -= 1


def _task(labels: dict, **limits) -> DiagnosticTask:
    kind = "deployment" if "deployment" in labels else "pod"
    return DiagnosticTask(id="task-1", cluster_id="c", namespace=labels["namespace"], priority=Priority.P2,
                          resource=ResourceInfo(kind=kind, name=labels[kind], namespace=labels["namespace"]),
                          limits=TaskLimits(**limits),
                          context=TaskContext(alertname="TestAlert", labels={**labels, "alertname": "TestAlert"}))


def _run(tmp_path: Path, scenario, fail: frozenset[str] = frozenset(), **limits) -> tuple[InMemoryRun, CountingExecutor]:
    b = DumpBuilder(tmp_path / "d")
    labels = scenario(b)
    b.write()

    async def go() -> tuple[InMemoryRun, CountingExecutor]:
        topics = MemoryTopics()
        inner = in_process_executor({"c": DumpReader(b.root, cluster_id="c")}, audit_sink=topics.audit_sink())
        ex = CountingExecutor(inner, fail)
        loop = StepLoop(topics=topics, table={}, engine=RulesEngine(), executor=ex)
        try:
            return await run_task(loop, topics, _task(labels, **limits), idle_seconds=0.2), ex
        finally:
            await inner.aclose()

    return asyncio.run(go())


def test_at_most_three_calls_at_once_and_every_step_recorded(tmp_path: Path) -> None:
    out, ex = _run(tmp_path, dependency_redis_other_ns)
    result = out.report
    assert result.root_cause.category is ProblemCategory.DEPENDENCY_FAILURE
    assert 1 < ex.peak <= 3
    assert sorted(s.tool_id for s in result.steps) == sorted(ex.calls)
    assert [s.step_number for s in result.steps] == list(range(1, len(ex.calls) + 1))
    assert all(s.id == f"task-1:{s.step_number}" and s.status is StepStatus.COMPLETED for s in result.steps)
    assert result.termination_reason in ("root_cause_identified", "evidence_exhausted")
    # every step is an event on the steps topic: requested, then completed with its (redacted) output
    completed = [e for e in out.steps if e.kind == "completed"]
    assert sorted(e.step_number for e in completed) == [s.step_number for s in result.steps]
    # and every call went through the gateway, which audited it
    tool_audits = [a for a in out.audit if a.action == "tool.call"]
    assert sorted(a.resource for a in tool_audits) == sorted(f"tool/{t}" for t in ex.calls)
    assert all(a.result == "allowed" and a.details["task_id"] == "task-1" for a in tool_audits)


def test_max_steps_ends_with_a_partial_result(tmp_path: Path) -> None:
    out, ex = _run(tmp_path, oom_deployment, max_steps=1)
    assert len(out.report.steps) == 1 and ex.calls == [out.report.steps[0].tool_id]
    assert out.report.termination_reason == "max_steps_reached"
    assert out.report.status == "completed_with_partial_results"
    assert out.report.root_cause is not None  # still an answer from what was seen


def test_executor_errors_become_failed_steps_not_crashes(tmp_path: Path) -> None:
    out, _ = _run(tmp_path, oom_deployment, fail=frozenset({"list_hpas", "list_events"}))
    failed = [s for s in out.report.steps if s.status is StepStatus.FAILED]
    assert failed and all("gateway exploded" in s.output.stderr for s in failed)
    assert out.report.root_cause.category is ProblemCategory.OOM_KILLED


SECRET = "Sup3rS3cretDbPassw0rd"


def leaky_crash(b: DumpBuilder) -> dict[str, str]:
    base(b)
    rs = b.deployment(NS, "billing", replicas=1, ready=0)
    pod = f"{rs}-q1w2e"
    b.pod(NS, pod, [crashing("billing", {"reason": "Error", "exitCode": 1})], owner=("ReplicaSet", rs))
    b.logs(NS, pod, f"connecting with DB_PASSWORD={SECRET}\npanic: cannot parse config\n", container="billing",
           previous=True)
    return {"pod": pod, "namespace": NS}


def test_offline_diagnosis_is_the_worker_loop_through_the_gateway(tmp_path: Path) -> None:
    """`aetherius diagnose`'s own path: the report, the steps topic and the audit trail carry no secret."""
    b = DumpBuilder(tmp_path / "d")
    labels = leaky_crash(b)
    b.write()
    payload = AlertmanagerPayload.model_validate(alert_payload(labels, alertname="KubePodCrashLooping"))
    out = asyncio.run(diagnose_offline_run(b.root, payload, engine="rules", cluster_id="prod"))
    assert out.report.root_cause.category is ProblemCategory.APPLICATION_CRASH
    assert out.report.termination_reason in ("root_cause_identified", "evidence_exhausted")
    assert {a.cluster_id for a in out.audit if a.action == "tool.call"} == {"prod"}
    logs = [e for e in out.steps if e.kind == "completed" and e.step.tool_id == "pod_logs"]
    assert logs and "[REDACTED" in logs[0].step.output.stdout
    everything = out.report.model_dump_json() + "".join(e.model_dump_json() for e in out.steps)
    assert SECRET not in everything


def test_offline_honours_the_task_budget_and_names(tmp_path: Path) -> None:
    """The task's limits come from the settings, as in a worker (a $0 budget means no model call)."""
    from schemas.settings import Settings

    b = DumpBuilder(tmp_path / "d")
    labels = oom_deployment(b)
    b.write()
    payload = AlertmanagerPayload.model_validate(alert_payload(labels, alertname="KubeDeploymentReplicasMismatch"))
    settings = Settings(tasks={"budget_usd": 0.0, "timeout_seconds": 30},
                        llm={"base_url": "http://127.0.0.1:9/v1", "api_key": "x"})
    out = asyncio.run(diagnose_offline_run(b.root, payload, engine="auto", settings=settings))
    assert out.costs == [] and out.report.engine == "rules"
    assert out.report.root_cause.category is ProblemCategory.OOM_KILLED
    assert out.report.termination_reason == "root_cause_identified"


@pytest.mark.parametrize("engine", ["bogus"])
def test_an_unknown_engine_is_refused(tmp_path: Path, engine: str) -> None:
    b = DumpBuilder(tmp_path / "d")
    b.pod(NS, "p", [Ctr("c")])
    b.write()
    payload = AlertmanagerPayload.model_validate(alert_payload({"pod": "p", "namespace": NS}))
    with pytest.raises(ValueError, match="engine must be one of"):
        asyncio.run(diagnose_offline_run(b.root, payload, engine=engine))
