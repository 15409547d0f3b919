"""The pure planner: what is asked first, and that nothing is asked twice (the loop: test_inmemory_loop.py)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from agents.cluster.dump import DumpReader
from agents.diagnose import diagnose_offline
from agents.gateway.inprocess import in_process_executor
from agents.rules import Observations, Target, analyze, next_calls
from schemas.alertmanager import AlertmanagerPayload
from schemas.result import DiagnosticResult, ProblemCategory
from tests.dumpkit import DumpBuilder, alert_payload


def _diagnose(target: Target, dump: Path) -> DiagnosticResult:
    """The one loop (in memory, through the gateway) on an alert naming `target` by its label."""
    labels = {target.kind: target.name} if target.kind == "node" else {target.kind: target.name,
                                                                       "namespace": target.namespace}
    payload = AlertmanagerPayload.model_validate(alert_payload(labels, alertname="TestAlert"))
    return asyncio.run(diagnose_offline(dump, payload, engine="rules", cluster_id="c"))


def test_planner_asks_for_the_target_first_and_never_repeats() -> None:
    target = Target(kind="deployment", name="cart", namespace="shop")
    obs = Observations()
    first = next_calls(target, obs)
    assert [(c.tool_id, c.parameters) for c in first] == [
        ("get_workload", {"namespace": "shop", "kind": "deployment", "name": "cart"})]
    obs.record(first[0], None, error="cluster unreachable")  # a failed call is not planned again
    assert next_calls(target, obs) == []
    assert analyze(target, obs).category is ProblemCategory.UNKNOWN


# --- the causal walk: depth first, deepest cause, its fix first -----------------------------------------------------

def _issue_example(tmp_path: Path):
    """cart crash-loops → sessions-db:5432 refused → Service sessions-db has 0 ready endpoints → sessions-db-0: disk full."""
    from tests.corpus import (
        FAMILIES,
        build,
        families_deps,  # noqa: F401
    )

    assert any(name == "dependency_down" for name, _, _ in FAMILIES)
    (incident,) = build(tmp_path, only="dependency_down-1")
    return incident


def test_dependency_chain_is_followed_depth_first_to_the_full_volume(tmp_path: Path) -> None:
    incident = _issue_example(tmp_path)
    payload = AlertmanagerPayload.model_validate(incident.expect.payload)
    result = asyncio.run(diagnose_offline(incident.root, payload, engine="rules"))
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
    async def walk() -> Observations:
        obs = Observations()
        executor = in_process_executor({"c": DumpReader(incident.root)})
        try:
            while planned := next_calls(target, obs):
                for c in planned[:3]:
                    out = await executor.call(c, task_id="t", cluster_id="c")
                    obs.record(c, json.loads(out.output) if out.ok else None, out.error)
        finally:
            await executor.aclose()
        return obs

    analysis = analyze(target, asyncio.run(walk()))
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
    result = _diagnose(target, b.root)
    assert result.root_cause.category is ProblemCategory.QUOTA_EXCEEDED
    assert any(e.source == "resourcequota/shop/q/status" for e in result.root_cause.evidence)


def test_a_node_named_by_address_is_found_by_listing_nodes(tmp_path: Path) -> None:
    b = DumpBuilder(tmp_path / "d")
    node = b.node("worker-7", ready="False", reason="KubeletNotReady", message="PLEG is not healthy")
    node["status"]["addresses"] = [{"type": "InternalIP", "address": "10.0.3.7"}]
    b.write()
    target = Target(kind="node", name="10.0.3.7")
    result = _diagnose(target, b.root)
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
    result = _diagnose(target, b.root)
    assert ("list_pods", {"namespace": "shop", "label_selector": "app=checkout"}) in \
        [(s.tool_id, s.input.parameters) for s in result.steps]
    assert result.root_cause.category is ProblemCategory.APPLICATION_CRASH
    assert any("cannot parse PRICE_TABLE" in e.detail for e in result.root_cause.evidence)
