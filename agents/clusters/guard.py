"""Cluster availability applied to reads (SRS §3.5.2): a read that cannot reach its cluster is tried 3 times
(10 s each); the third failure marks the cluster unavailable and notifies; later reads of that cluster fail
at once until a re-probe (every 30 s) finds it again. Only that cluster's tasks are affected.

Answers that prove the cluster is reachable (404, 403, bad requests) are passed through as they are: they
are not connection failures and must not mark a healthy cluster dead.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable

from agents.cluster.reader import ClusterReader, KubeObject, ReaderError
from agents.clusters.availability import AvailabilityTracker
from agents.clusters.probe import ClusterUnavailable, OnTransition, connect_with_retries, reprobe_once


def is_unreachable(exc: ReaderError) -> bool:
    """The live reader says "unreachable" for connection errors and timeouts; the Vault reader for missing creds."""
    text = str(exc)
    return "unreachable" in text or "credentials for cluster" in text


class _Answered(Exception):
    """Carries a reader error that is an answer (not a connection failure) out of the retry loop."""

    def __init__(self, error: ReaderError) -> None:
        self.error = error


class GuardedReader:
    def __init__(self, inner: ClusterReader, tracker: AvailabilityTracker, notify: OnTransition | None = None) -> None:
        self.inner = inner
        self.cluster_id = inner.cluster_id
        self.tracker = tracker
        self.notify = notify

    async def _guard(self, call: Callable[[], Awaitable[Any]]) -> Any:
        async def attempt() -> Any:
            try:
                return await call()
            except ReaderError as exc:
                if is_unreachable(exc):
                    raise
                return _Answered(exc)

        try:
            result = await connect_with_retries(self.cluster_id, attempt, self.tracker, self.notify)
        except ClusterUnavailable as exc:
            raise ReaderError(str(exc)) from None
        if isinstance(result, _Answered):
            raise result.error
        return result

    async def list(self, kind: str, namespace: str | None = None,
                   label_selector: dict[str, str] | None = None) -> list[KubeObject]:
        return await self._guard(lambda: self.inner.list(kind, namespace, label_selector))

    async def get(self, kind: str, name: str, namespace: str | None = None) -> KubeObject | None:
        return await self._guard(lambda: self.inner.get(kind, name, namespace))

    async def logs(self, namespace: str, pod: str, container: str | None = None,
                   previous: bool = False, tail_lines: int | None = None) -> str:
        return await self._guard(lambda: self.inner.logs(namespace, pod, container, previous, tail_lines))

    async def metrics(self, kind: str, namespace: str | None = None) -> list[KubeObject] | None:
        return await self._guard(lambda: self.inner.metrics(kind, namespace))


async def reprobe(tracker: AvailabilityTracker, readers: Callable[[str], ClusterReader],
                  notify: OnTransition | None = None) -> dict[str, str]:
    """One re-probe round over the clusters marked unavailable whose probe is due (a cheap list of namespaces)."""
    return await reprobe_once(tracker, lambda cid: readers(cid).list("namespaces"), notify)
