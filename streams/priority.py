"""Priority P0-P3 from severity, business impact and context: SRS §5.9.1, exactly.

Base:  critical & impact >= 8 -> P0;  critical or impact >= 6 -> P1;  warning & impact >= 3 -> P2;  else P3.
Bumps: each of these raises the priority one level (they add up; P0 is the ceiling):
  - the alert repeated more than `frequency_threshold` times in the last hour,
  - the namespace is a system namespace (kube-system, istio-system),
  - the same alert fires in >= 3 clusters (cross-cluster correlation).
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas.signal import Priority

_BY_RANK = {p.rank: p for p in Priority}


def base_priority(severity: str, impact: int) -> Priority:
    if severity == "critical" and impact >= 8:
        return Priority.P0
    if severity == "critical" or impact >= 6:
        return Priority.P1
    if severity == "warning" and impact >= 3:
        return Priority.P2
    return Priority.P3


def raise_levels(priority: Priority, levels: int) -> Priority:
    return _BY_RANK[max(0, priority.rank - max(0, levels))]


@dataclass(frozen=True)
class PriorityInputs:
    severity: str
    impact: int
    frequency_per_hour: int = 1
    namespace: str = "default"
    clusters_firing: int = 1


@dataclass(frozen=True)
class PriorityRules:
    frequency_threshold: int = 3
    system_namespaces: frozenset[str] = frozenset({"kube-system", "istio-system"})
    cross_cluster_threshold: int = 3


def bumps(inputs: PriorityInputs, rules: PriorityRules = PriorityRules()) -> list[str]:
    """The names of the bumps that apply, in SRS order (also recorded on the task for explanation)."""
    applied = []
    if inputs.frequency_per_hour > rules.frequency_threshold:
        applied.append("frequency")
    if inputs.namespace in rules.system_namespaces:
        applied.append("system_namespace")
    if inputs.clusters_firing >= rules.cross_cluster_threshold:
        applied.append("cross_cluster")
    return applied


def assign_priority(inputs: PriorityInputs, rules: PriorityRules = PriorityRules()) -> Priority:
    return raise_levels(base_priority(inputs.severity, inputs.impact), len(bumps(inputs, rules)))


def business_impact(scores: dict[str, int], namespace: str, service: str, default: int) -> int:
    """Impact 0-10 from config: "namespace/service" beats "namespace" beats the default."""
    for key in (f"{namespace}/{service}" if service else None, namespace):
        if key and key in scores:
            return max(0, min(10, int(scores[key])))
    return max(0, min(10, default))
