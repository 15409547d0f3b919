"""The built-in read-only tools: one async function per tool id, each over a `ClusterReader`.

The ids, parameters and output keys are a contract shared by the rule engine, the gateway's registry
and the LLM (see helpers' COMMON.md). Every function only reads; none can write, exec or return a
Secret/ConfigMap value, because the reader it is given has no way to. Parameters are checked here too
(the gateway checks patterns first), so a direct caller gets a `ValueError` naming the bad parameter.
"""

from __future__ import annotations

import re
from typing import Any, Awaitable, Callable

from agents.cluster.reader import ClusterReader, KubeObject, strip_secret_values

ToolFn = Callable[..., Awaitable[dict[str, Any]]]

# RFC 1123 names as Kubernetes uses them (pods, namespaces, nodes: lower case, digits, '-', '.').
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
_LABEL_PART = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_./]{0,251}[A-Za-z0-9])?$")
MAX_TAIL_LINES = 5000

# Workload kinds get_workload accepts, and the plural each one is stored under.
WORKLOAD_PLURALS: dict[str, str] = {
    "deployment": "deployments", "replicaset": "replicasets", "statefulset": "statefulsets",
    "daemonset": "daemonsets", "job": "jobs", "cronjob": "cronjobs",
    "replicationcontroller": "replicationcontrollers",
}
_GET_WORKLOAD_KINDS = ("deployment", "replicaset", "statefulset", "daemonset", "job")


def _name(value: Any, param: str, *, optional: bool = False) -> str:
    if optional and value in ("", None):
        return ""
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise ValueError(f"{param} must be a Kubernetes name (lower-case letters, digits, '-', '.'), got {value!r}")
    return value


def parse_label_selector(selector: str) -> dict[str, str]:
    """'k=v,k2=v2' (equality only: that is all a read-only diagnosis needs) → {'k': 'v', 'k2': 'v2'}."""
    if not isinstance(selector, str):
        raise ValueError(f"label_selector must be a string like 'k=v,k2=v2', got {selector!r}")
    result: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in selector.split(","))):
        key, sep, value = part.partition("=")
        key, value = key.strip(), value.strip().lstrip("=")
        if not sep or not _LABEL_PART.fullmatch(key) or (value and not _LABEL_PART.fullmatch(value)):
            raise ValueError(f"label_selector term {part!r} is not 'key=value'")
        result[key] = value
    return result


def labels_match(selector: dict[str, str], labels: dict[str, str] | None) -> bool:
    """True when every selector pair is in `labels` (an empty selector matches nothing, like a Service's)."""
    labels = labels or {}
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def _meta(obj: KubeObject | None, field: str, default: Any = "") -> Any:
    return ((obj or {}).get("metadata") or {}).get(field, default)


def _involves(event: KubeObject, kind: str, name: str) -> bool:
    inv = event.get("involvedObject") or event.get("regarding") or {}
    return (not kind or inv.get("kind", "").lower() == kind.lower()) and (not name or inv.get("name") == name)


def _event_time(event: KubeObject) -> str:
    return (event.get("lastTimestamp") or event.get("eventTime") or event.get("firstTimestamp")
            or _meta(event, "creationTimestamp") or "")


def _sorted_events(events: list[KubeObject]) -> list[KubeObject]:
    return sorted(events, key=_event_time)


def _owned_by(obj: KubeObject, owner: KubeObject) -> bool:
    """Ownership by uid when both have one, else by kind and name (dumps written by hand may lack uids)."""
    uid, kind, name = _meta(owner, "uid"), owner.get("kind", ""), _meta(owner, "name")
    for ref in _meta(obj, "ownerReferences", []) or []:
        if uid and ref.get("uid"):
            if ref["uid"] == uid:
                return True
        elif ref.get("name") == name and (not kind or ref.get("kind") == kind):
            return True
    return False


async def get_pod(reader: ClusterReader, namespace: str, name: str) -> dict[str, Any]:
    return {"pod": await reader.get("pods", _name(name, "name"), _name(namespace, "namespace"))}


async def list_pods(reader: ClusterReader, namespace: str, label_selector: str = "") -> dict[str, Any]:
    selector = parse_label_selector(label_selector)
    pods = await reader.list("pods", _name(namespace, "namespace"), selector or None)
    return {"pods": pods}


async def describe_pod(reader: ClusterReader, namespace: str, name: str) -> dict[str, Any]:
    ns, name = _name(namespace, "namespace"), _name(name, "name")
    pod = await reader.get("pods", name, ns)
    events = [e for e in await reader.list("events", ns) if _involves(e, "Pod", name)]
    return {"pod": pod, "events": _sorted_events(events)}


async def pod_logs(reader: ClusterReader, namespace: str, name: str, container: str = "",
                   previous: bool = False, tail_lines: int = 200) -> dict[str, Any]:
    ns, name = _name(namespace, "namespace"), _name(name, "name")
    container = _name(container, "container", optional=True)
    if not isinstance(previous, bool):
        raise ValueError(f"previous must be true or false, got {previous!r}")
    if isinstance(tail_lines, bool) or not isinstance(tail_lines, int) or not 1 <= tail_lines <= MAX_TAIL_LINES:
        raise ValueError(f"tail_lines must be an integer from 1 to {MAX_TAIL_LINES}, got {tail_lines!r}")
    if not container:  # kubectl's rule: the default-container annotation, else the first container
        pod = await reader.get("pods", name, ns)
        if pod:
            containers = (pod.get("spec") or {}).get("containers") or [{}]
            container = ((_meta(pod, "annotations", {}) or {}).get("kubectl.kubernetes.io/default-container")
                         or containers[0].get("name", ""))
    text = await reader.logs(ns, name, container or None, previous, tail_lines)
    return {"logs": text, "container": container, "previous": previous}


async def list_events(reader: ClusterReader, namespace: str, kind: str = "", name: str = "") -> dict[str, Any]:
    ns = _name(namespace, "namespace")
    if kind and not re.fullmatch(r"[A-Za-z]{1,63}", str(kind)):
        raise ValueError(f"kind must be a Kubernetes kind like 'Pod', got {kind!r}")
    name = _name(name, "name", optional=True)
    events = [e for e in await reader.list("events", ns) if _involves(e, kind, name)]
    return {"events": _sorted_events(events)}


async def _owner_chain(reader: ClusterReader, obj: KubeObject, namespace: str) -> list[KubeObject]:
    """The objects up the controller ownerReferences (ReplicaSet → Deployment, Job → CronJob)."""
    chain: list[KubeObject] = []
    current = obj
    for _ in range(5):  # ownership is at most a few levels deep; a cycle in bad data must not spin
        refs = _meta(current, "ownerReferences", []) or []
        ref = next((r for r in refs if r.get("controller")), refs[0] if refs else None)
        plural = WORKLOAD_PLURALS.get(str((ref or {}).get("kind", "")).lower())
        if not ref or not plural:
            break
        owner = await reader.get(plural, ref.get("name", ""), namespace)
        if owner is None:
            break
        chain.append(owner)
        current = owner
    return chain


async def get_workload(reader: ClusterReader, namespace: str, kind: str, name: str) -> dict[str, Any]:
    ns, name = _name(namespace, "namespace"), _name(name, "name")
    kind_l = str(kind).lower()
    if kind_l not in _GET_WORKLOAD_KINDS:
        raise ValueError(f"kind must be one of {', '.join(_GET_WORKLOAD_KINDS)}, got {kind!r}")
    obj = await reader.get(WORKLOAD_PLURALS[kind_l], name, ns)
    result: dict[str, Any] = {"object": obj, "owner_chain": [], "pods": []}
    if obj is None:
        return result
    result["owner_chain"] = await _owner_chain(reader, obj, ns)
    pods = await reader.list("pods", ns)
    owners = [obj]
    if kind_l == "deployment":  # a Deployment owns pods through its ReplicaSets
        replicasets = [rs for rs in await reader.list("replicasets", ns) if _owned_by(rs, obj)]
        result["replicasets"] = replicasets
        owners = replicasets
    result["pods"] = [p for p in pods if any(_owned_by(p, o) for o in owners)]
    return result


async def get_service(reader: ClusterReader, namespace: str, name: str) -> dict[str, Any]:
    ns, name = _name(namespace, "namespace"), _name(name, "name")
    service = await reader.get("services", name, ns)
    if service is None:
        return {"service": None, "endpoints": None, "matching_pods": []}
    selector = (service.get("spec") or {}).get("selector") or {}
    pods = await reader.list("pods", ns) if selector else []
    return {"service": service, "endpoints": await reader.get("endpoints", name, ns),
            "matching_pods": [p for p in pods if labels_match(selector, _meta(p, "labels", {}))]}


async def list_services(reader: ClusterReader, namespace: str) -> dict[str, Any]:
    return {"services": await reader.list("services", _name(namespace, "namespace"))}


async def get_pvc(reader: ClusterReader, namespace: str, name: str) -> dict[str, Any]:
    ns, name = _name(namespace, "namespace"), _name(name, "name")
    pvc = await reader.get("persistentvolumeclaims", name, ns)
    result: dict[str, Any] = {"pvc": pvc, "pv": None, "storageclass": None, "events": []}
    if pvc is None:
        return result
    spec = pvc.get("spec") or {}
    if spec.get("volumeName"):
        result["pv"] = await reader.get("persistentvolumes", spec["volumeName"])
    class_name = spec.get("storageClassName")
    if class_name:
        result["storageclass"] = await reader.get("storageclasses", class_name)
    elif class_name is None:  # unset means "the default class", if there is one
        for sc in await reader.list("storageclasses"):
            if (_meta(sc, "annotations", {}) or {}).get("storageclass.kubernetes.io/is-default-class") == "true":
                result["storageclass"] = sc
                break
    result["events"] = _sorted_events(
        [e for e in await reader.list("events", ns) if _involves(e, "PersistentVolumeClaim", name)])
    return result


async def list_nodes(reader: ClusterReader) -> dict[str, Any]:
    return {"nodes": await reader.list("nodes")}


async def get_node(reader: ClusterReader, name: str) -> dict[str, Any]:
    name = _name(name, "name")
    node = await reader.get("nodes", name)
    conditions = ((node or {}).get("status") or {}).get("conditions") or []
    events = [e for e in await reader.list("events") if _involves(e, "Node", name)] if node else []
    return {"node": node, "conditions": conditions, "events": _sorted_events(events)}


async def list_resource_quotas(reader: ClusterReader, namespace: str) -> dict[str, Any]:
    return {"quotas": await reader.list("resourcequotas", _name(namespace, "namespace"))}


async def list_limit_ranges(reader: ClusterReader, namespace: str) -> dict[str, Any]:
    return {"limit_ranges": await reader.list("limitranges", _name(namespace, "namespace"))}


async def list_network_policies(reader: ClusterReader, namespace: str) -> dict[str, Any]:
    return {"network_policies": await reader.list("networkpolicies", _name(namespace, "namespace"))}


async def list_hpas(reader: ClusterReader, namespace: str) -> dict[str, Any]:
    return {"hpas": await reader.list("horizontalpodautoscalers", _name(namespace, "namespace"))}


async def get_hpa(reader: ClusterReader, namespace: str, name: str) -> dict[str, Any]:
    ns, name = _name(namespace, "namespace"), _name(name, "name")
    hpa = await reader.get("horizontalpodautoscalers", name, ns)
    target = None
    ref = ((hpa or {}).get("spec") or {}).get("scaleTargetRef") or {}
    plural = WORKLOAD_PLURALS.get(str(ref.get("kind", "")).lower())
    if plural and ref.get("name"):
        target = await reader.get(plural, ref["name"], ns)
    return {"hpa": hpa, "target": target}


async def list_admission_webhooks(reader: ClusterReader) -> dict[str, Any]:
    return {"validating": await reader.list("validatingwebhookconfigurations"),
            "mutating": await reader.list("mutatingwebhookconfigurations")}


async def list_configmaps(reader: ClusterReader, namespace: str) -> dict[str, Any]:
    configmaps = await reader.list("configmaps", _name(namespace, "namespace"))
    out = []
    for cm in configmaps:
        # readers already reduce values to key names; strip again in case one did not (never trust, never leak)
        clean = strip_secret_values({**cm, "kind": "ConfigMap"}) if any(
            f in cm for f in ("data", "binaryData", "stringData")) else cm
        out.append({"name": _meta(clean, "name"), "keys": list(clean.get("keys") or [])})
    return {"configmaps": out}


async def top_pods(reader: ClusterReader, namespace: str) -> dict[str, Any]:
    metrics = await reader.metrics("pods", _name(namespace, "namespace"))
    return {"available": metrics is not None, "pods": metrics or []}


async def top_nodes(reader: ClusterReader) -> dict[str, Any]:
    metrics = await reader.metrics("nodes")
    return {"available": metrics is not None, "nodes": metrics or []}


BUILTIN_TOOLS: dict[str, ToolFn] = {
    "get_pod": get_pod,
    "list_pods": list_pods,
    "describe_pod": describe_pod,
    "pod_logs": pod_logs,
    "list_events": list_events,
    "get_workload": get_workload,
    "get_service": get_service,
    "list_services": list_services,
    "get_pvc": get_pvc,
    "list_nodes": list_nodes,
    "get_node": get_node,
    "list_resource_quotas": list_resource_quotas,
    "list_limit_ranges": list_limit_ranges,
    "list_network_policies": list_network_policies,
    "list_hpas": list_hpas,
    "get_hpa": get_hpa,
    "list_admission_webhooks": list_admission_webhooks,
    "list_configmaps": list_configmaps,
    "top_pods": top_pods,
    "top_nodes": top_nodes,
}
