"""No silent stall: a worker that stopped making progress says so on /health/live, so Kubernetes restarts it.

Faust can hang with the process alive: a recovery after a rebalance that never finishes ("No event received for
active tp ... since recovery start", faust-streaming #74/#21), or a partition whose records wait while nothing
is processed. Each `LivenessMonitor.check` (every few seconds, on the worker's loop):
- asks the broker for the end offsets of every assigned source partition (fresh lag; an unreachable broker
  is an outage, reported but not a reason to restart: a restart does not bring the broker back);
- judges (`judge`, pure): a partition with records waiting past its committed offset and no record processed
  for `stall_seconds` is stalled; a rebalance/recovery running longer than `recovery_stall_seconds` is stalled;
  a consumer that does not answer while the broker does is stalled; a worker that refused to commit after a
  record the broker never took (streams/consumer.py) must restart to replay.
It exports `aetherius_partition_lag`, `aetherius_partition_idle_seconds`, `aetherius_worker_stalled{reason}` and
`aetherius_worker_stalls_total{reason}` (deploy/prometheus/rules.yml alerts on them).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from prometheus_client import Counter, Gauge

from aetherius.metrics import REGISTRY

log = logging.getLogger(__name__)

LAG = Gauge("aetherius_partition_lag", "Records past the committed offset of an assigned source partition",
            ["topic", "partition"], registry=REGISTRY)
IDLE = Gauge("aetherius_partition_idle_seconds",
             "Seconds an assigned partition has had records waiting with none processed (0: nothing waits)",
             ["topic", "partition"], registry=REGISTRY)
STALLED = Gauge("aetherius_worker_stalled", "1 while this worker is stalled, by reason (it fails /health/live)",
                ["reason"], registry=REGISTRY)
STALLS = Counter("aetherius_worker_stalls_total", "Stalls detected, by reason", ["reason"], registry=REGISTRY)
BROKER_UP = Gauge("aetherius_broker_reachable", "1 when the last end-offsets request got an answer", registry=REGISTRY)

REASONS = ("partition", "recovery", "consumer", "commit")
PROBE_TIMEOUT = 4.0


@dataclass(frozen=True)
class Sample:
    committed: int | None
    highwater: int | None
    last_progress: float  # when a record of the partition was last processed (or it was assigned)


@dataclass
class Verdict:
    alive: bool = True
    reasons: dict[str, str] = field(default_factory=dict)  # reason -> what was seen
    lag: dict[Any, int] = field(default_factory=dict)
    idle: dict[Any, float] = field(default_factory=dict)


def judge(samples: dict[Any, Sample], waiting_since: dict[Any, float], now: float, *, stall_seconds: float,
          rebalancing_since: float | None, recovery_stall_seconds: float, consumer_answers: bool,
          broker_answers: bool, commit_refused: str) -> Verdict:
    """Pure. `waiting_since` (updated in place) remembers since when each partition has had records waiting."""
    verdict = Verdict()
    if commit_refused:
        verdict.reasons["commit"] = commit_refused
    if rebalancing_since is not None and now - rebalancing_since >= recovery_stall_seconds:
        verdict.reasons["recovery"] = f"rebalance/recovery running for {now - rebalancing_since:.0f}s"
    if broker_answers and not consumer_answers:
        verdict.reasons["consumer"] = "the broker answers but the consumer did not"
    for tp, s in samples.items():
        waiting = s.highwater is not None and s.highwater > (s.committed or 0)
        verdict.lag[tp] = max(0, (s.highwater or 0) - (s.committed or 0)) if s.highwater is not None else 0
        if not waiting:
            waiting_since.pop(tp, None)
            verdict.idle[tp] = 0.0
            continue
        since = waiting_since.setdefault(tp, now)
        idle = now - max(since, s.last_progress)
        verdict.idle[tp] = max(0.0, idle)
        if broker_answers and rebalancing_since is None and idle >= stall_seconds:
            verdict.reasons.setdefault("partition", f"{tp} has {verdict.lag[tp]} records waiting, none processed "
                                                    f"for {idle:.0f}s")
    for tp in [t for t in waiting_since if t not in samples]:
        del waiting_since[tp]
    verdict.alive = not verdict.reasons
    return verdict


class LivenessMonitor:
    """Judges a Faust app every `interval` seconds (see the module docstring); `verdict` is what /health/live says."""

    def __init__(self, app: Any, *, stall_seconds: float, recovery_stall_seconds: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.app = app
        self.stall_seconds = stall_seconds
        self.recovery_stall_seconds = recovery_stall_seconds
        self.clock = clock
        self.verdict = Verdict()
        self._waiting_since: dict[Any, float] = {}
        self._rebalancing_since: float | None = None
        self._was: set[str] = set()
        self._exported: set[Any] = set()

    def register(self, app: Any, interval: float = 10.0) -> None:
        @app.timer(interval=interval)
        async def liveness() -> None:
            try:
                await self.check()
            except Exception:  # noqa: BLE001 - the next check runs in `interval` seconds
                log.exception("liveness check failed")

    def live(self) -> tuple[bool, dict[str, Any]]:
        return self.verdict.alive, ({"stalled": self.verdict.reasons} if self.verdict.reasons else {})

    async def check(self) -> Verdict:
        consumer = self.app.consumer
        now = self.clock()
        rebalancing = bool(getattr(self.app, "rebalancing", False)) or not self.app.tables.recovery.completed.is_set()
        if rebalancing:
            self._rebalancing_since = self._rebalancing_since or now
        else:
            self._rebalancing_since = None
        positions = consumer.positions() if hasattr(consumer, "positions") else {}
        broker_answers, consumer_answers = await self._probe(consumer, list(positions))
        if broker_answers and consumer_answers is not None:
            positions = {tp: (committed, consumer_answers.get(tp, high))
                         for tp, (committed, high) in positions.items()}
        progress = getattr(consumer, "last_progress", {})
        samples = {tp: Sample(committed, high, progress.get(tp, now)) for tp, (committed, high) in positions.items()}
        verdict = judge(samples, self._waiting_since, now, stall_seconds=self.stall_seconds,
                        rebalancing_since=self._rebalancing_since, recovery_stall_seconds=self.recovery_stall_seconds,
                        consumer_answers=consumer_answers is not None, broker_answers=broker_answers,
                        commit_refused=getattr(consumer, "commit_refused", ""))
        self._export(verdict, broker_answers)
        self.verdict = verdict
        return verdict

    async def _probe(self, consumer: Any, tps: list[Any]) -> tuple[bool, dict[Any, int] | None]:
        """(the broker answered a metadata request, the consumer's fresh end offsets or None if it did not answer)."""
        broker = await self._broker_answers()
        if not tps:
            return broker, {}
        try:
            ends = await asyncio.wait_for(consumer.highwaters(*tps), PROBE_TIMEOUT)
            return broker, {tp: int(off) for tp, off in ends.items() if off is not None}
        except Exception:  # noqa: BLE001 - the consumer thread did not answer in time (or the broker is gone)
            return broker, None

    async def _broker_answers(self) -> bool:
        client = getattr(getattr(self.app.producer, "_producer", None), "client", None)
        if client is None:
            return True  # nothing to ask with: judge the partitions
        try:
            await asyncio.wait_for(client.fetch_all_metadata(), PROBE_TIMEOUT)
            return True
        except Exception:  # noqa: BLE001
            return False

    def _export(self, verdict: Verdict, broker_answers: bool) -> None:
        BROKER_UP.set(1 if broker_answers else 0)
        for tp, lag in verdict.lag.items():
            LAG.labels(topic=tp.topic, partition=str(tp.partition)).set(lag)
            IDLE.labels(topic=tp.topic, partition=str(tp.partition)).set(verdict.idle.get(tp, 0.0))
        for tp in self._exported - set(verdict.lag):  # revoked: not this worker's to report any more
            for gauge in (LAG, IDLE):
                try:
                    gauge.remove(tp.topic, str(tp.partition))
                except KeyError:
                    pass
        self._exported = set(verdict.lag)
        now_stalled = set(verdict.reasons)
        for reason in REASONS:
            STALLED.labels(reason=reason).set(1 if reason in now_stalled else 0)
        for reason in now_stalled - self._was:  # one line per state change
            STALLS.labels(reason=reason).inc()
            log.error("worker stalled (%s): %s; /health/live now fails", reason, verdict.reasons[reason])
        for reason in self._was - now_stalled:
            log.warning("worker no longer stalled (%s)", reason)
        self._was = now_stalled
