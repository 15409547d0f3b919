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


# --- the causal walk: depth first, deepest cause, its fix first -----------------------------------------------------

def _issue_example(tmp_path: Path):
    """cart crash-loops → sessions-db:5432 refused → Service sessions-db has 0 ready endpoints → sessions-db-0: disk full."""
    from tests.corpus import FAMILIES, build
    from tests.corpus import families_deps  # noqa: F401

    assert any(name == "dependency_down" for name, _, _ in FAMILIES)
    (incident,) = build(tmp_path, only="dependency_down-1")
    return incident


def test_dependency_chain_is_followed_depth_first_to_the_full_volume(tmp_path: Path) -> None:
    from agents.diagnose import diagnose_offline
    from schemas.alertmanager import AlertmanagerPayload
    from schemas.settings import LLMSettings

    incident = _issue_example(tmp_path)
    payload = AlertmanagerPayload.model_validate(incident.expect.payload)
    result = asyncio.run(diagnose_offline(incident.root, payload, engine="rules", llm=LLMSettings()))
    calls = [(s.tool_id, s.input.parameters.get("name", "")) for s in result.steps]
    tools = [t for t, _ in calls]
    # the path first: the pod, its crash log, the Service the log names, its pod, that pod's log, its claim
    assert tools.index("get_service") < tools.index("get_pvc")
    assert ("get_service", "sessions-db") in calls and ("get_pvc", "data-sessions-db-0") in calls
    assert "list_hpas" not in tools, "nothing speculative once the chain explains the alert"
    assert len(result.steps) <= 10
    rc = result.root_cause
    assert rc.category is ProblemCategory.DEPENDENCY_FAILURE
    chain = rc.description.split("Causal chain: ")[1]
    assert chain.index("cart") < chain.index("sessions-db.data:5432 refused") < chain.index("0 ready endpoints") \
        < chain.index("No space left on device") < chain.index("claim data/data-sessions-db-0")
    first = result.recommendations[0]
    assert first.command.startswith("kubectl -n data patch pvc data-sessions-db-0"), "the fix targets the deepest link"


def test_analysis_carries_the_chain_structured(tmp_path: Path) -> None:
    incident = _issue_example(tmp_path)
    from agents.diagnose import target_from_alert
    from schemas.alertmanager import AlertmanagerPayload

    target = target_from_alert(AlertmanagerPayload.model_validate(incident.expect.payload).alerts[0])
    obs = Observations()
    executor = LocalExecutor({"c": DumpReader(incident.root)})
    while planned := next_calls(target, obs):
        for c in planned[:3]:
            out = asyncio.run(executor.call(c, task_id="t", cluster_id="c"))
            obs.record(c, __import__("json").loads(out.output) if out.ok else None, out.error)
    analysis = analyze(target, obs)
    resources = [link.resource for link in analysis.chain]
    assert resources[0].startswith("pod/shop/cart-") and resources[-1] == "pvc/data/data-sessions-db-0"
    assert "service/data/sessions-db" in resources and "pod/data/sessions-db-0" in resources
    assert all(link.evidence for link in analysis.chain)


def test_a_replicaset_named_by_a_kubernetes_event_is_a_target(tmp_path: Path) -> None:
    from agents.diagnose import target_from_alert
    from schemas.alertmanager import Alert

    b = DumpBuilder(tmp_path / "d")
    b.node("node-1")
    rs = b.deployment("shop", "api", replicas=3, ready=2)
    b.quota("shop", "q", {"pods": "2"}, {"pods": "2"})
    b.event("shop", "ReplicaSet", rs, "FailedCreate",
            f'Error creating: pods "{rs}-x" is forbidden: exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2')
    b.write()
    target = target_from_alert(Alert(labels={"alertname": "FailedCreate", "namespace": "shop", "replicaset": rs,
                                             "cluster_id": "c"}))
    assert (target.kind, target.name) == ("replicaset", rs)
    result = asyncio.run(diagnose_with_rules(target, LocalExecutor({"c": DumpReader(b.root)}), "t", "c"))
    assert result.root_cause.category is ProblemCategory.QUOTA_EXCEEDED
    assert any(e.source == "resourcequota/shop/q/status" for e in result.root_cause.evidence)


def test_a_node_named_by_address_is_found_by_listing_nodes(tmp_path: Path) -> None:
    b = DumpBuilder(tmp_path / "d")
    node = b.node("worker-7", ready="False", reason="KubeletNotReady", message="PLEG is not healthy")
    node["status"]["addresses"] = [{"type": "InternalIP", "address": "10.0.3.7"}]
    b.write()
    target = Target(kind="node", name="10.0.3.7")
    result = asyncio.run(diagnose_with_rules(target, LocalExecutor({"c": DumpReader(b.root)}), "t", "c"))
    assert [s.tool_id for s in result.steps] == ["get_node", "list_nodes"]
    assert result.root_cause.category is ProblemCategory.NODE_NOT_READY and "PLEG" in result.root_cause.description


def test_pods_are_found_by_selector_when_no_owner_link_is_in_the_data(tmp_path: Path) -> None:
    """A dump whose pods lack ownerReferences (or whose ReplicaSet is missing): the workload's selector finds them."""
    from tests.test_rules_categories import crashing

    b = DumpBuilder(tmp_path / "d")
    b.node("node-1")
    b.deployment("shop", "checkout", replicas=1, ready=0, labels={"app": "checkout"})
    b.ns_objects["shop"]["replicasets"].clear()
    b.pod("shop", "checkout-5d9f8-abcde", [crashing("checkout", {"reason": "Error", "exitCode": 3})], labels={"app": "checkout"})
    b.logs("shop", "checkout-5d9f8-abcde", "fatal: cannot parse PRICE_TABLE\n", container="checkout", previous=True)
    b.write()
    target = Target(kind="deployment", name="checkout", namespace="shop")
    result = asyncio.run(diagnose_with_rules(target, LocalExecutor({"c": DumpReader(b.root)}), "t", "c"))
    assert ("list_pods", {"namespace": "shop", "label_selector": "app=checkout"}) in \
        [(s.tool_id, s.input.parameters) for s in result.steps]
    assert result.root_cause.category is ProblemCategory.APPLICATION_CRASH
    assert any("cannot parse PRICE_TABLE" in e.detail for e in result.root_cause.evidence)
