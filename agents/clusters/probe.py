"""The I/O edge of availability: connect with retries (fail fast when the cluster is marked unavailable), and a
re-probe loop for unavailable clusters. The connection attempt itself is injected (e.g. a reader's `list_nodes`)."""

from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable, TypeVar

from agents.clusters.availability import AvailabilityTracker, Transition

log = logging.getLogger(__name__)
T = TypeVar("T")

OnTransition = Callable[[str, Transition, str], Awaitable[None]]


class ClusterUnavailable(Exception):
    """The task for this cluster fails; nothing about it touches other clusters."""

    def __init__(self, cluster_id: str, reason: str) -> None:
        self.cluster_id = cluster_id
        self.reason = reason
        super().__init__(f"cluster {cluster_id} is unavailable: {reason}")


def _describe(exc: BaseException) -> str:
    if isinstance(exc, asyncio.TimeoutError):
        return "connection timed out"
    return f"{exc.__class__.__name__}: {exc}"[:300]


async def connect_with_retries(cluster_id: str, attempt: Callable[[], Awaitable[T]], tracker: AvailabilityTracker,
                               on_transition: OnTransition | None = None) -> T:
    """Run `attempt` up to policy.attempts times, each bounded by attempt_timeout_seconds. The third consecutive
    failure marks the cluster unavailable (and fires on_transition, e.g. to notify); later calls fail at once."""
    if not tracker.admits_tasks(cluster_id):
        raise ClusterUnavailable(cluster_id, tracker.health(cluster_id).last_error or "marked unavailable")
    last = ""
    for _ in range(tracker.policy.attempts):
        try:
            result = await asyncio.wait_for(attempt(), timeout=tracker.policy.attempt_timeout_seconds)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - every failure is a failed try
            last = _describe(exc)
            transition = tracker.failure(cluster_id, last)
            if transition != "none":
                await _notify(on_transition, cluster_id, transition, last)
                break
            continue
        await _notify(on_transition, cluster_id, tracker.success(cluster_id), "")
        return result
    raise ClusterUnavailable(cluster_id, last)


async def reprobe_once(tracker: AvailabilityTracker, probe: Callable[[str], Awaitable[object]],
                       on_transition: OnTransition | None = None) -> dict[str, Transition]:
    """Probe every cluster whose re-probe is due, concurrently; a dead cluster cannot delay another's probe."""
    due = tracker.due_probes()

    async def one(cluster_id: str) -> tuple[str, Transition]:
        try:
            await asyncio.wait_for(probe(cluster_id), timeout=tracker.policy.attempt_timeout_seconds)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001
            error = _describe(exc)
            transition = tracker.failure(cluster_id, error)
        else:
            error, transition = "", tracker.success(cluster_id)
        await _notify(on_transition, cluster_id, transition, error)
        return cluster_id, transition

    return dict(await asyncio.gather(*(one(c) for c in due)))


async def reprobe_loop(tracker: AvailabilityTracker, probe: Callable[[str], Awaitable[object]], stop: asyncio.Event,
                       tick_seconds: float = 1.0, on_transition: OnTransition | None = None) -> None:
    while not stop.is_set():
        try:
            await reprobe_once(tracker, probe, on_transition)
        except Exception as exc:  # noqa: BLE001 - the loop outlives any single bad probe
            log.error("cluster re-probe round failed: %s", exc.__class__.__name__)
        try:
            await asyncio.wait_for(stop.wait(), timeout=tick_seconds)
        except asyncio.TimeoutError:
            pass


async def _notify(callback: OnTransition | None, cluster_id: str, transition: Transition, error: str) -> None:
    if transition == "none" or callback is None:
        return
    try:
        await callback(cluster_id, transition, error)
    except Exception as exc:  # noqa: BLE001 - a failed notification must not change the outcome
        log.error("availability notification failed: %s", exc.__class__.__name__, extra={"cluster_id": cluster_id})
