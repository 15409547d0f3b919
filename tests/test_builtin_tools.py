"""The built-in tools (the contract shared by rule engine, gateway and LLM) over a real DumpReader,
and their parameter checks."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from agents.cluster.dump import DumpReader
from agents.tools import builtin
from agents.tools.builtin import BUILTIN_TOOLS
from tests.dumpkit import Ctr, DumpBuilder

NS = "shop"
CONTRACT = {
    "get_pod": {"pod"}, "list_pods": {"pods"}, "describe_pod": {"pod", "events"},
    "pod_logs": {"logs", "container", "previous"}, "list_events": {"events"},
    "get_workload": {"object", "owner_chain", "pods"}, "get_service": {"service", "endpoints", "matching_pods"},
    "list_services": {"services"}, "get_pvc": {"pvc", "pv", "storageclass", "events"}, "list_nodes": {"nodes"},
    "get_node": {"node", "conditions", "events"}, "list_resource_quotas": {"quotas"}, "list_hpas": {"hpas"},
    "list_limit_ranges": {"limit_ranges"}, "list_network_policies": {"network_policies"},
    "get_hpa": {"hpa", "target"}, "list_admission_webhooks": {"validating", "mutating"},
    "list_configmaps": {"configmaps"}, "top_pods": {"available", "pods"}, "top_nodes": {"available", "nodes"},
}


@pytest.fixture()
def reader(tmp_path: Path) -> DumpReader:
    b = DumpBuilder(tmp_path / "dump")
    b.node("node-1", ready="False", reason="KubeletNotReady")
    b.event("default", "Node", "node-1", "NodeNotReady", "Node node-1 status is now: NodeNotReady")
    rs = b.deployment(NS, "api", replicas=2)
    b.pod(NS, "api-7d8f9b456-aaaaa", [Ctr("api"), Ctr("proxy")], owner=("ReplicaSet", rs), labels={"app": "api"})
    b.pod(NS, "lonely", [Ctr("x")], labels={"app": "other"})
    b.event(NS, "Pod", "api-7d8f9b456-aaaaa", "Unhealthy", "Readiness probe failed")
    b.event(NS, "Pod", "lonely", "BackOff", "Back-off")
    b.logs(NS, "api-7d8f9b456-aaaaa", "api says hi\n", container="api")
    b.logs(NS, "api-7d8f9b456-aaaaa", "proxy says hi\n", container="proxy")
    b.service(NS, "api", {"app": "api"})
    b.endpoints(NS, "api", ready=1)
    b.storageclass("standard", default=True)
    b.pv("pv-1", claim=(NS, "data"))
    b.pvc(NS, "data", volume="pv-1", storage_class=None)
    b.event(NS, "PersistentVolumeClaim", "data", "ProvisioningSucceeded", "ok", type="Normal")
    b.quota(NS, "q", {"pods": "10"}, {"pods": "3"})
    b.hpa(NS, "api", "api", max_replicas=5, current=2)
    b.webhook("v", "v.example.com")
    b.webhook("m", "m.example.com", mutating=True)
    b.configmap(NS, "cfg", {"K1": "secret-ish value", "K2": "v"})
    b.job(NS, "export")
    b.pod(NS, "export-abcde", [Ctr("export")], owner=("Job", "export"))
    b.limitrange(NS, "bounds", {"type": "Container", "max": {"memory": "1Gi"}})
    b.networkpolicy(NS, "deny-egress", pod_selector={}, egress=[])
    return DumpReader(b.write())


def call(reader, tool, **params):
    return asyncio.run(BUILTIN_TOOLS[tool](reader, **params))


def test_every_contract_tool_exists_with_its_output_keys(reader: DumpReader) -> None:
    assert set(BUILTIN_TOOLS) == set(CONTRACT)
    params = {"namespace": NS, "name": "api"}
    examples = {
        "get_pod": {"namespace": NS, "name": "lonely"}, "list_pods": {"namespace": NS},
        "describe_pod": {"namespace": NS, "name": "lonely"}, "pod_logs": {"namespace": NS, "name": "api-7d8f9b456-aaaaa"},
        "list_events": {"namespace": NS}, "get_workload": {"namespace": NS, "kind": "deployment", "name": "api"},
        "get_service": params, "list_services": {"namespace": NS}, "get_pvc": {"namespace": NS, "name": "data"},
        "list_nodes": {}, "get_node": {"name": "node-1"}, "list_resource_quotas": {"namespace": NS},
        "list_hpas": {"namespace": NS}, "get_hpa": params, "list_admission_webhooks": {},
        "list_configmaps": {"namespace": NS}, "top_pods": {"namespace": NS}, "top_nodes": {},
        "list_limit_ranges": {"namespace": NS}, "list_network_policies": {"namespace": NS},
    }
    for tool, keys in CONTRACT.items():
        out = call(reader, tool, **examples[tool])
        assert keys <= set(out), tool
        json.dumps(out)  # JSON-able


def test_describe_pod_and_events(reader: DumpReader) -> None:
    out = call(reader, "describe_pod", namespace=NS, name="api-7d8f9b456-aaaaa")
    assert out["pod"]["metadata"]["name"] == "api-7d8f9b456-aaaaa"
    assert [e["reason"] for e in out["events"]] == ["Unhealthy"]
    assert [e["reason"] for e in call(reader, "list_events", namespace=NS, kind="pod", name="lonely")["events"]] == ["BackOff"]
    assert call(reader, "describe_pod", namespace=NS, name="nope") == {"pod": None, "events": []}


def test_pod_logs_default_container_and_choice(reader: DumpReader) -> None:
    assert call(reader, "pod_logs", namespace=NS, name="api-7d8f9b456-aaaaa") == {"logs": "api says hi", "container": "api",
                                                                                  "previous": False}
    assert call(reader, "pod_logs", namespace=NS, name="api-7d8f9b456-aaaaa", container="proxy")["logs"] == "proxy says hi"


def test_workload_owner_chain_and_pods(reader: DumpReader) -> None:
    dep = call(reader, "get_workload", namespace=NS, kind="deployment", name="api")
    assert [p["metadata"]["name"] for p in dep["pods"]] == ["api-7d8f9b456-aaaaa"]
    assert [rs["metadata"]["name"] for rs in dep["replicasets"]] == ["api-7d8f9b456"]
    rs = call(reader, "get_workload", namespace=NS, kind="replicaset", name="api-7d8f9b456")
    assert [o["metadata"]["name"] for o in rs["owner_chain"]] == ["api"]
    job = call(reader, "get_workload", namespace=NS, kind="job", name="export")
    assert [p["metadata"]["name"] for p in job["pods"]] == ["export-abcde"]
    assert call(reader, "get_workload", namespace=NS, kind="deployment", name="nope")["object"] is None


def test_service_pvc_node_hpa_webhooks_configmaps(reader: DumpReader) -> None:
    svc = call(reader, "get_service", namespace=NS, name="api")
    assert [p["metadata"]["name"] for p in svc["matching_pods"]] == ["api-7d8f9b456-aaaaa"]
    assert svc["endpoints"]["subsets"][0]["addresses"]
    pvc = call(reader, "get_pvc", namespace=NS, name="data")
    assert pvc["pv"]["metadata"]["name"] == "pv-1" and pvc["storageclass"]["metadata"]["name"] == "standard"
    assert [e["reason"] for e in pvc["events"]] == ["ProvisioningSucceeded"]
    node = call(reader, "get_node", name="node-1")
    assert any(c["type"] == "Ready" and c["status"] == "False" for c in node["conditions"])
    assert [e["reason"] for e in node["events"]] == ["NodeNotReady"]
    assert call(reader, "get_hpa", namespace=NS, name="api")["target"]["metadata"]["name"] == "api"
    hooks = call(reader, "list_admission_webhooks")
    assert [h["metadata"]["name"] for h in hooks["validating"]] == ["v"] and len(hooks["mutating"]) == 1
    cms = call(reader, "list_configmaps", namespace=NS)
    assert cms == {"configmaps": [{"name": "cfg", "keys": ["K1", "K2"]}]}
    assert call(reader, "top_pods", namespace=NS) == {"available": False, "pods": []}


@pytest.mark.parametrize("params", [
    {"namespace": "shop; rm -rf /", "name": "x"}, {"namespace": "$(id)", "name": "x"}, {"namespace": "../etc", "name": "x"},
    {"namespace": "shop\n", "name": "x"}, {"namespace": "shop", "name": "ａｐｉ"}, {"namespace": "shop", "name": "a" * 10_000},
    {"namespace": 7, "name": "x"},
])
def test_bad_names_are_value_errors(reader: DumpReader, params: dict) -> None:
    with pytest.raises(ValueError):
        call(reader, "get_pod", **params)


def test_bad_other_params(reader: DumpReader) -> None:
    with pytest.raises(ValueError):
        call(reader, "get_workload", namespace=NS, kind="secret", name="x")
    with pytest.raises(ValueError):
        call(reader, "pod_logs", namespace=NS, name="lonely", tail_lines=10**9)
    with pytest.raises(ValueError):
        call(reader, "pod_logs", namespace=NS, name="lonely", previous="yes")
    with pytest.raises(ValueError):
        call(reader, "list_pods", namespace=NS, label_selector="app in (a,b)")
    assert builtin.parse_label_selector("app=web, tier=api") == {"app": "web", "tier": "api"}


def test_limit_ranges_and_network_policies_are_listed(reader: DumpReader) -> None:
    ranges = call(reader, "list_limit_ranges", namespace=NS)["limit_ranges"]
    assert [(r["metadata"]["name"], r["spec"]["limits"][0]["max"]) for r in ranges] == [("bounds", {"memory": "1Gi"})]
    policies = call(reader, "list_network_policies", namespace=NS)["network_policies"]
    assert [p["metadata"]["name"] for p in policies] == ["deny-egress"]
    assert policies[0]["spec"]["policyTypes"] == ["Egress"] and policies[0]["spec"]["egress"] == []
    assert call(reader, "list_network_policies", namespace="nothing-here")["network_policies"] == []
