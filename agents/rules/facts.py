"""`Facts`: every tool output merged into one index (pods, events, logs, nodes, …) for planner and analyzer.

Tool outputs overlap (a pod arrives through get_workload, describe_pod and get_service); merging them
once means each rule asks one question ("the pod", "its events") instead of knowing which tool said so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from agents.rules.k8s import Obj, event_time, meta, name_of, parse_time
from agents.rules.observations import Observations

Key = tuple[str, str]  # (namespace, name)


@dataclass
class Facts:
    pods: dict[Key, Obj] = field(default_factory=dict)
    described: set[Key] = field(default_factory=set)  # pods whose events we asked for
    events: list[Obj] = field(default_factory=list)
    logs: dict[tuple[str, str, str, bool], str] = field(default_factory=dict)  # (ns, pod, container, previous)
    workloads: dict[tuple[str, str, str], Obj] = field(default_factory=dict)  # (kind lower, ns, name)
    workload_pods: dict[tuple[str, str, str], list[Key]] = field(default_factory=dict)
    missing: set[str] = field(default_factory=set)  # "pod/ns/name" looked up and absent
    nodes: dict[str, Obj] = field(default_factory=dict)
    nodes_listed: bool = False
    pvcs: dict[Key, dict[str, Any]] = field(default_factory=dict)
    services: dict[Key, dict[str, Any]] = field(default_factory=dict)
    namespace_pods: dict[str, list[Key]] = field(default_factory=dict)  # list_pods without a selector
    selected_pods: dict[tuple[str, str], list[Key]] = field(default_factory=dict)  # (ns, selector) → pods
    quotas: dict[str, list[Obj]] = field(default_factory=dict)
    hpas: dict[str, list[Obj]] = field(default_factory=dict)
    hpa: dict[Key, dict[str, Any]] = field(default_factory=dict)
    webhooks: dict[str, list[Obj]] | None = None
    configmaps: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    pod_metrics: dict[str, list[Obj]] = field(default_factory=dict)
    service_lists: dict[str, list[Obj]] = field(default_factory=dict)  # list_services per namespace
    netpols: dict[str, list[Obj]] = field(default_factory=dict)
    limitranges: dict[str, list[Obj]] = field(default_factory=dict)
    failed: set[str] = field(default_factory=set)  # call keys that failed: never wait for them
    now: datetime | None = None  # the newest timestamp seen: "now" as far as the evidence knows

    def pod(self, namespace: str, name: str) -> Obj | None:
        return self.pods.get((namespace, name))


def _add_pod(facts: Facts, pod: Obj | None) -> Key | None:
    if not pod:
        return None
    key = (meta(pod, "namespace") or "default", name_of(pod))
    facts.pods[key] = pod
    return key


def _add_events(facts: Facts, events: list[Obj], seen: set[str]) -> None:
    for e in events or []:
        ident = f"{meta(e, 'namespace')}/{name_of(e)}" if name_of(e) else repr(sorted(e.items()))
        if ident not in seen:
            seen.add(ident)
            facts.events.append(e)


def _add_workload(facts: Facts, obj: Obj | None, namespace: str) -> None:
    if obj:
        facts.workloads[(str(obj.get("kind", "")).lower(), meta(obj, "namespace") or namespace, name_of(obj))] = obj


def collect(obs: Observations) -> Facts:
    f = Facts()
    seen_events: set[str] = set()
    for p, out in obs.outputs("list_pods"):
        keys = [k for k in (_add_pod(f, pod) for pod in out.get("pods") or []) if k]
        if p.get("label_selector"):
            f.selected_pods[(p["namespace"], p["label_selector"])] = keys
        else:
            f.namespace_pods[p["namespace"]] = keys
    for p, out in obs.outputs("get_workload"):
        kind = p["kind"].lower()
        obj = out.get("object")
        if obj is None:
            f.missing.add(f"{kind}/{p['namespace']}/{p['name']}")
            continue
        f.workloads[(kind, p["namespace"], p["name"])] = obj
        for owner in out.get("owner_chain") or []:
            _add_workload(f, owner, p["namespace"])
        for rs in out.get("replicasets") or []:
            _add_workload(f, {**rs, "kind": rs.get("kind") or "ReplicaSet"}, p["namespace"])
        f.workload_pods[(kind, p["namespace"], p["name"])] = [k for k in map(lambda x: _add_pod(f, x),
                                                                             out.get("pods") or []) if k]
    for p, out in obs.outputs("get_service"):
        if out.get("service") is None:
            f.missing.add(f"service/{p['namespace']}/{p['name']}")
        f.services[(p["namespace"], p["name"])] = out
        for pod in out.get("matching_pods") or []:
            _add_pod(f, pod)
    for tool in ("get_pod", "describe_pod"):
        for p, out in obs.outputs(tool):
            if out.get("pod") is None:
                f.missing.add(f"pod/{p['namespace']}/{p['name']}")
                continue
            _add_pod(f, out["pod"])
            if tool == "describe_pod":
                f.described.add((p["namespace"], p["name"]))
                _add_events(f, out.get("events") or [], seen_events)
    for p, out in obs.outputs("list_events"):
        _add_events(f, out.get("events") or [], seen_events)
    for p, out in obs.outputs("pod_logs"):
        f.logs[(p["namespace"], p["name"], out.get("container") or p.get("container", ""),
                bool(p.get("previous")))] = out.get("logs") or ""
    for _, out in obs.outputs("list_nodes"):
        f.nodes_listed = True
        for node in out.get("nodes") or []:
            f.nodes[name_of(node)] = node
    for p, out in obs.outputs("get_node"):
        if out.get("node") is None:
            f.missing.add(f"node/{p['name']}")
        else:
            f.nodes[p["name"]] = out["node"]
            _add_events(f, out.get("events") or [], seen_events)
    for p, out in obs.outputs("get_pvc"):
        if out.get("pvc") is None:
            f.missing.add(f"pvc/{p['namespace']}/{p['name']}")
        f.pvcs[(p["namespace"], p["name"])] = out
        _add_events(f, out.get("events") or [], seen_events)
    for p, out in obs.outputs("list_resource_quotas"):
        f.quotas[p["namespace"]] = out.get("quotas") or []
    for p, out in obs.outputs("list_hpas"):
        f.hpas[p["namespace"]] = out.get("hpas") or []
    for p, out in obs.outputs("get_hpa"):
        if out.get("hpa") is None:
            f.missing.add(f"hpa/{p['namespace']}/{p['name']}")
        f.hpa[(p["namespace"], p["name"])] = out
        _add_workload(f, out.get("target"), p["namespace"])
    for _, out in obs.outputs("list_admission_webhooks"):
        f.webhooks = {"validating": out.get("validating") or [], "mutating": out.get("mutating") or []}
    for p, out in obs.outputs("list_configmaps"):
        f.configmaps[p["namespace"]] = out.get("configmaps") or []
    for p, out in obs.outputs("top_pods"):
        if out.get("available"):
            f.pod_metrics[p["namespace"]] = out.get("pods") or []
    for p, out in obs.outputs("list_services"):
        f.service_lists[p["namespace"]] = out.get("services") or []
    for p, out in obs.outputs("list_network_policies"):
        f.netpols[p["namespace"]] = out.get("network_policies") or []
    for p, out in obs.outputs("list_limit_ranges"):
        f.limitranges[p["namespace"]] = out.get("limit_ranges") or []
    f.failed = {key for key, _ in obs.errors()}
    f.now = _newest_time(f)
    return f


def _newest_time(f: Facts) -> datetime | None:
    times = [t for t in (event_time(e) for e in f.events) if t]
    for node in f.nodes.values():
        for c in (node.get("status") or {}).get("conditions") or []:
            t = parse_time(c.get("lastHeartbeatTime") or c.get("lastTransitionTime"))
            if t:
                times.append(t)
    for pod in f.pods.values():
        status = pod.get("status") or {}
        for cs in (status.get("containerStatuses") or []) + (status.get("initContainerStatuses") or []):
            for state in (cs.get("state") or {}, cs.get("lastState") or {}):
                for detail in state.values():
                    for k in ("startedAt", "finishedAt"):
                        t = parse_time((detail or {}).get(k))
                        if t:
                            times.append(t)
        for c in status.get("conditions") or []:
            t = parse_time(c.get("lastTransitionTime"))
            if t:
                times.append(t)
    return max(times) if times else None
