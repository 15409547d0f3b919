"""`Target`: the one resource a diagnosis is about, as the alert names it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

TargetKind = Literal["pod", "deployment", "statefulset", "daemonset", "job", "replicaset", "hpa", "pvc", "service",
                     "node", "namespace"]
WORKLOAD_KINDS: tuple[str, ...] = ("deployment", "statefulset", "daemonset", "job", "replicaset")
# schemas.subject's Kubernetes kinds → target kinds
TARGET_KIND: dict[str, str] = {
    "Pod": "pod", "Deployment": "deployment", "StatefulSet": "statefulset", "DaemonSet": "daemonset", "Job": "job",
    "ReplicaSet": "replicaset", "HorizontalPodAutoscaler": "hpa", "PersistentVolumeClaim": "pvc",
    "Service": "service", "Node": "node",
}


KIND_NAMES: dict[str, str] = {v: k for k, v in TARGET_KIND.items()}  # "statefulset" → "StatefulSet"


class Target(BaseModel):
    kind: TargetKind
    name: str = ""  # empty only for kind="namespace"
    namespace: str = "default"  # ignored for nodes
    container: str = ""  # the container the alert is about, when it says
    alertname: str = ""
    labels: dict[str, str] = Field(default_factory=dict)

    @property
    def kind_name(self) -> str:
        return KIND_NAMES.get(self.kind, self.kind.capitalize())

    @property
    def ref(self) -> str:
        """'pod/ns/name' style reference used in evidence sources and messages."""
        if self.kind == "node":
            return f"node/{self.name}"
        if self.kind == "namespace":
            return f"namespace/{self.namespace}"
        return f"{self.kind}/{self.namespace}/{self.name}"
