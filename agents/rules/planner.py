"""The rule engine's PLANNER: which read-only tool calls to make next, from what has been seen so far.

Pure: `next_calls(target, observations)` recomputes the whole wish list from the facts and returns the
calls not made yet, most important first. It returns [] when nothing more would change the analysis.
Order of investigation: the target itself → the pods that matter (worst first) → their containers' logs
(previous first: that is the crash) → what the evidence points at (owner chain, node, PVCs, services named
in logs, configmaps, quotas, webhooks, HPAs).
"""

from __future__ import annotations

from agents.rules import k8s
from agents.rules.facts import Facts, Key, collect
from agents.rules.observations import Observations, call
from agents.rules.target import WORKLOAD_KINDS, Target
from agents.tools.types import ToolCall

MAX_PODS_DESCRIBED = 2
MAX_PODS_DEEP = 1  # pods whose logs and node we read (the worst one explains a ReplicaSet's pods)
MAX_CONTAINERS = 2
MAX_PVCS = 3
MAX_SERVICES_FROM_LOGS = 2


def target_call(target: Target) -> ToolCall:
    ns, name = target.namespace, target.name
    if target.kind == "pod":
        return call("describe_pod", "the alert's pod: its status and events", namespace=ns, name=name)
    if target.kind in WORKLOAD_KINDS:
        return call("get_workload", f"the alert's {target.kind}, its owners and pods", namespace=ns,
                    kind=target.kind, name=name)
    if target.kind == "hpa":
        return call("get_hpa", "the alert's autoscaler and what it scales", namespace=ns, name=name)
    if target.kind == "pvc":
        return call("get_pvc", "the alert's claim, its volume and storage class", namespace=ns, name=name)
    if target.kind == "service":
        return call("get_service", "the alert's service, its endpoints and selected pods", namespace=ns, name=name)
    if target.kind == "node":
        return call("get_node", "the alert's node and its conditions", name=name)
    return call("list_pods", "no single resource named: look at every pod of the namespace", namespace=ns)


def next_calls(target: Target, obs: Observations) -> list[ToolCall]:
    first = target_call(target)
    if not obs.has(first):
        return [first]
    facts = collect(obs)
    wanted: list[ToolCall] = []
    pods = _pods_of_interest(target, facts, wanted)
    for i, key in enumerate(pods[:MAX_PODS_DESCRIBED]):
        wanted.append(call("describe_pod", "an unhealthy pod: status and events", namespace=key[0], name=key[1]))
    for key in pods[:MAX_PODS_DEEP]:
        pod = facts.pod(*key)
        if pod is not None and key in facts.described:
            wanted.extend(_pod_calls(target, facts, pod))
    wanted.extend(_event_driven_calls(target, facts))
    seen: set[str] = set()
    result = []
    for c in wanted:
        ident = c.tool_id + repr(sorted(c.parameters.items()))
        if ident not in seen and not obs.has(c):
            seen.add(ident)
            result.append(c)
    return result


def _pods_of_interest(target: Target, facts: Facts, wanted: list[ToolCall]) -> list[Key]:
    ns = target.namespace
    if target.kind == "pod":
        return [(ns, target.name)] if facts.pod(ns, target.name) else []
    keys: list[Key] = []
    if target.kind in WORKLOAD_KINDS:
        obj = facts.workloads.get((target.kind, ns, target.name))
        if obj is None:
            return []
        keys = facts.workload_pods.get((target.kind, ns, target.name), [])
        status, spec = obj.get("status") or {}, obj.get("spec") or {}
        desired = spec.get("replicas", 1) if target.kind != "daemonset" else status.get("desiredNumberScheduled", 0)
        ready = status.get("readyReplicas", status.get("numberReady", 0)) or 0
        if target.kind == "job" or len(keys) < (desired or 0) or ready < (desired or 0):
            # missing pods are explained by events on the controller (FailedCreate: quota, webhook, PSA)
            wanted.append(call("list_events", "why pods are missing or failing: controller events", namespace=ns))
        if target.kind in ("deployment", "statefulset"):
            wanted.append(call("list_hpas", "is an autoscaler limiting this workload", namespace=ns))
    elif target.kind == "service":
        svc = facts.services.get((ns, target.name)) or {}
        if svc.get("service") is None:
            return []
        keys = [k for k in (_key(p) for p in svc.get("matching_pods") or [])]
        if (svc["service"].get("spec") or {}).get("selector") and not keys:
            wanted.append(call("list_pods", "the selector matches no pod: which labels do the pods have",
                               namespace=ns))
    elif target.kind == "namespace":
        keys = facts.namespace_pods.get(ns, [])
        wanted.append(call("list_events", "recent events of the namespace", namespace=ns))
    unhealthy = [k for k in keys if k in facts.pods and k8s.pod_unhealthy(facts.pods[k])]
    return sorted(unhealthy, key=lambda k: k8s.badness(facts.pods[k]))


def _key(pod: k8s.Obj) -> Key:
    return (k8s.meta(pod, "namespace") or "default", k8s.name_of(pod))


def _pod_calls(target: Target, facts: Facts, pod: k8s.Obj) -> list[ToolCall]:
    ns, name = _key(pod)
    calls: list[ToolCall] = []
    ref = k8s.controller_ref(pod)
    if target.kind == "pod" and ref and ref.get("kind", "").lower() in ("replicaset", "statefulset", "daemonset", "job"):
        calls.append(call("get_workload", "the pod's owner chain (for the fix command)", namespace=ns,
                          kind=ref["kind"].lower(), name=ref.get("name", "")))
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    scheduled = k8s.condition(pod, "PodScheduled")
    pod_events = k8s.events_for(facts.events, "Pod", name)
    if not spec.get("nodeName") and (scheduled is None or scheduled.get("status") != "True"):
        for claim in k8s.pvc_names(pod)[:MAX_PVCS]:
            calls.append(call("get_pvc", "a pending pod's claim: is it bound", namespace=ns, name=claim))
        if any(e.get("reason") == "FailedScheduling" for e in pod_events):
            calls.append(call("list_nodes", "scheduler refused the pod: node capacity, taints and labels"))
    elif spec.get("nodeName") and _node_suspect(pod, pod_events):
        calls.append(call("get_node", "the pod's node: conditions and pressure", name=spec["nodeName"]))
    if any(e.get("reason") in ("FailedMount", "FailedAttachVolume") for e in pod_events):
        for claim in k8s.pvc_names(pod)[:MAX_PVCS]:
            calls.append(call("get_pvc", "volume mount failed: the claim and its volume", namespace=ns, name=claim))
    views = sorted(k8s.containers(pod), key=lambda c: (c.name != target.container, c.ready, -c.restarts))
    for c in [v for v in views if _container_broken(v)][:MAX_CONTAINERS]:
        if c.waiting.get("reason") == "CreateContainerConfigError":
            calls.append(call("list_configmaps", "config error: which configmaps and keys exist", namespace=ns))
            continue
        if c.waiting.get("reason") in ("ErrImagePull", "ImagePullBackOff", "InvalidImageName"):
            continue  # the image never ran: there are no logs
        if c.last_terminated or c.restarts:
            calls.append(call("pod_logs", f"container {c.name} crashed: its previous log", namespace=ns, name=name,
                              container=c.name, previous=True, tail_lines=200))
        if c.running or c.terminated or not c.restarts:
            calls.append(call("pod_logs", f"container {c.name}: its current log", namespace=ns, name=name,
                              container=c.name, previous=False, tail_lines=200))
    calls.extend(_log_driven_calls(facts, ns, name))
    return calls


def _container_broken(c: k8s.ContainerView) -> bool:
    return bool(c.waiting or c.terminated.get("exitCode") or c.restarts or (not c.init and not c.ready)
                or c.last_terminated)


def _node_suspect(pod: k8s.Obj, pod_events: list[k8s.Obj]) -> bool:
    """Look at the node only when the pod's own state does not explain it (or the node is named)."""
    status = pod.get("status") or {}
    if status.get("phase") in ("Failed", "Unknown") or k8s.meta(pod, "deletionTimestamp", None):
        return True
    if any(e.get("reason") in ("NodeNotReady", "NodeLost", "Evicted", "TaintManagerEviction") for e in pod_events):
        return True
    ready = k8s.condition(pod, "Ready")
    app = [c for c in k8s.containers(pod) if not c.init]
    return bool(ready and ready.get("status") != "True" and all(c.ready or not c.status for c in app))


def _log_driven_calls(facts: Facts, ns: str, pod: str) -> list[ToolCall]:
    calls: list[ToolCall] = []
    services: list[tuple[str, str]] = []
    dns = False
    for (lns, lpod, _, _), text in facts.logs.items():
        if (lns, lpod) != (ns, pod):
            continue
        for line in k8s.matching_lines(text, k8s.CONN_ERROR, limit=5):
            for host, _port in k8s.conn_hosts(line):
                svc = k8s.service_of_host(host, ns)
                if svc and svc not in services:
                    services.append(svc)
        dns = dns or bool(k8s.matching_lines(text, k8s.DNS_ERROR, limit=1))
    for svc_ns, svc in services[:MAX_SERVICES_FROM_LOGS]:
        calls.append(call("get_service", f"the log shows connections to {svc} failing: does it have endpoints",
                          namespace=svc_ns, name=svc))
    if dns:
        calls.append(call("list_pods", "the log shows name resolution failing: is cluster DNS healthy",
                          namespace="kube-system", label_selector="k8s-app=kube-dns"))
    return calls


def _event_driven_calls(target: Target, facts: Facts) -> list[ToolCall]:
    calls: list[ToolCall] = []
    for e in k8s.recent(facts.events, facts.now):
        message = e.get("message") or ""
        ns = k8s.involved(e).get("namespace") or k8s.meta(e, "namespace") or target.namespace
        if "exceeded quota" in message:
            calls.append(call("list_resource_quotas", "creation refused by a quota: its usage", namespace=ns))
        if "admission webhook" in message or "failed calling webhook" in message:
            calls.append(call("list_admission_webhooks", "creation refused by an admission webhook"))
    return calls
