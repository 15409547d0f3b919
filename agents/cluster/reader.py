"""The one read-only interface every diagnosis uses to look at a cluster.

There is deliberately no method that writes, execs or reads a Secret's or ConfigMap's values:
a backend cannot be asked to, so no caller can make it. Objects are plain dicts shaped like the
Kubernetes API's JSON (`metadata`, `spec`, `status`), with Secret/ConfigMap `data` reduced to key names.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

KubeObject = dict[str, Any]

# Plural resource names the readers understand, namespaced and cluster-scoped.
NAMESPACED_KINDS: frozenset[str] = frozenset({
    "pods", "events", "services", "endpoints", "deployments", "replicasets", "statefulsets", "daemonsets",
    "jobs", "cronjobs", "replicationcontrollers", "persistentvolumeclaims", "configmaps", "secrets",
    "resourcequotas", "limitranges", "horizontalpodautoscalers", "ingresses", "networkpolicies",
    "serviceaccounts", "poddisruptionbudgets",
})
CLUSTER_KINDS: frozenset[str] = frozenset({
    "nodes", "namespaces", "persistentvolumes", "storageclasses",
    "validatingwebhookconfigurations", "mutatingwebhookconfigurations",
})


class ReaderError(RuntimeError):
    """The cluster could not answer (unreachable, forbidden, timed out); the message says which."""


@runtime_checkable
class ClusterReader(Protocol):
    cluster_id: str

    async def list(self, kind: str, namespace: str | None = None,
                   label_selector: dict[str, str] | None = None) -> list[KubeObject]:
        """Objects of a plural `kind`; `namespace=None` means all namespaces (or cluster-scoped)."""
        ...

    async def get(self, kind: str, name: str, namespace: str | None = None) -> KubeObject | None:
        """One object, or None when it does not exist."""
        ...

    async def logs(self, namespace: str, pod: str, container: str | None = None,
                   previous: bool = False, tail_lines: int | None = None) -> str:
        """A container's log text ('' when there is none)."""
        ...

    async def metrics(self, kind: str, namespace: str | None = None) -> list[KubeObject] | None:
        """metrics.k8s.io PodMetrics/NodeMetrics, or None when the metrics API does not answer."""
        ...


def strip_secret_values(obj: KubeObject) -> KubeObject:
    """A Secret or ConfigMap with every value replaced by its key name only (values never leave a reader)."""
    kind = obj.get("kind", "")
    if kind not in ("Secret", "ConfigMap"):
        return obj
    clean = {k: v for k, v in obj.items() if k not in ("data", "binaryData", "stringData")}
    # `kubectl apply` keeps the whole object, values included, in this annotation; managedFields can too.
    metadata = dict(clean.get("metadata") or {})
    metadata.pop("managedFields", None)
    annotations = {k: v for k, v in (metadata.get("annotations") or {}).items()
                   if k != "kubectl.kubernetes.io/last-applied-configuration"}
    if "annotations" in metadata:
        metadata["annotations"] = annotations
    clean["metadata"] = metadata
    keys: list[str] = []
    for field in ("data", "binaryData", "stringData"):
        keys.extend(sorted((obj.get(field) or {}).keys()))
    clean["keys"] = keys
    return clean
