"""Per-cluster availability (SRS §3.5.2): 3 failed connection tries (10 s each) mark a cluster unavailable;
an unavailable cluster fails its tasks at once, is re-probed every 30 s, and is re-activated when a probe succeeds.

The decisions are pure functions over an immutable `ClusterHealth`; `AvailabilityTracker` holds one per cluster
and takes an injectable clock, so every timing rule is tested without sleeping.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Callable, Literal

from prometheus_client import Gauge

from aetherius.metrics import REGISTRY

AVAILABLE = Gauge("aetherius_cluster_available", "1 when the cluster is reachable, 0 while marked unavailable",
                  ["cluster_id"], registry=REGISTRY)

State = Literal["available", "unavailable"]
Transition = Literal["none", "marked_unavailable", "reactivated"]


@dataclass(frozen=True)
class AvailabilityPolicy:
    attempts: int = 3
    attempt_timeout_seconds: float = 10.0
    reprobe_interval_seconds: float = 30.0


@dataclass(frozen=True)
class ClusterHealth:
    state: State = "available"
    consecutive_failures: int = 0
    since: float = 0.0  # when the current state began
    next_probe_at: float | None = None  # only while unavailable
    last_error: str = ""


def record_success(health: ClusterHealth, now: float) -> tuple[ClusterHealth, Transition]:
    if health.state == "unavailable":
        return ClusterHealth(state="available", since=now), "reactivated"
    return replace(health, consecutive_failures=0, last_error=""), "none"


def record_failure(health: ClusterHealth, now: float, error: str,
                   policy: AvailabilityPolicy) -> tuple[ClusterHealth, Transition]:
    failures = health.consecutive_failures + 1
    if health.state == "unavailable":  # a failed re-probe: wait another interval
        return replace(health, consecutive_failures=failures, last_error=error,
                       next_probe_at=now + policy.reprobe_interval_seconds), "none"
    if failures >= policy.attempts:
        return ClusterHealth(state="unavailable", consecutive_failures=failures, since=now,
                             next_probe_at=now + policy.reprobe_interval_seconds, last_error=error), "marked_unavailable"
    return replace(health, consecutive_failures=failures, last_error=error), "none"


def probe_due(health: ClusterHealth, now: float) -> bool:
    return health.state == "unavailable" and health.next_probe_at is not None and now >= health.next_probe_at


class AvailabilityTracker:
    def __init__(self, policy: AvailabilityPolicy | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.policy = policy or AvailabilityPolicy()
        self._clock = clock
        self._health: dict[str, ClusterHealth] = {}

    def health(self, cluster_id: str) -> ClusterHealth:
        return self._health.get(cluster_id) or ClusterHealth(since=self._clock())

    def admits_tasks(self, cluster_id: str) -> bool:
        """False while the cluster is marked unavailable: its tasks fail fast instead of waiting 30 s each."""
        return self.health(cluster_id).state == "available"

    def success(self, cluster_id: str) -> Transition:
        new, transition = record_success(self.health(cluster_id), self._clock())
        return self._set(cluster_id, new, transition)

    def failure(self, cluster_id: str, error: str) -> Transition:
        new, transition = record_failure(self.health(cluster_id), self._clock(), error, self.policy)
        return self._set(cluster_id, new, transition)

    def due_probes(self) -> list[str]:
        now = self._clock()
        return sorted(cid for cid, h in self._health.items() if probe_due(h, now))

    def forget(self, cluster_id: str) -> None:
        """For a cluster removed from the registry."""
        self._health.pop(cluster_id, None)
        try:
            AVAILABLE.remove(cluster_id)
        except KeyError:
            pass

    def _set(self, cluster_id: str, health: ClusterHealth, transition: Transition) -> Transition:
        self._health[cluster_id] = health
        AVAILABLE.labels(cluster_id).set(1 if health.state == "available" else 0)
        return transition
