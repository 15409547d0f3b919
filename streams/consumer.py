"""Faust's Kafka consumer, made to commit an offset only past records an agent really processed.

Why (issue 13, reproduced with kill -9 under Alertmanager load; traced offsets in the commit message): after a
restart or a rebalance Faust resumes a worker's partitions *before* it seeks them to their committed offsets
(faust/tables/recovery.py), so the fetcher hands over records from the old position. Faust drops them - the
flow is stopped, or they belong to a batch fetched before the seek - but counts them as read; when the next
record is further on, its "gap" bookkeeping (meant for compacted topics and transaction markers, which our
source topics never have) marks the skipped offsets as acknowledged, and the next commit moves past records
that no agent ever saw: tasks admitted by the scheduler that the step loop never started. Its commit check
also lets the committed record itself slip (`min(acked) - committed > 1`: the committed offset is the next
record to process, not the last one processed).

What this consumer changes, per partition of a topic Faust acks (source topics; changelogs are untouched):
- records reach the agents in offset order without holes: a record after a hole is held back and the
  partition is sought back to the hole (a real hole - records deleted by retention - is accepted the
  second time it is seen, as Faust would);
- a commit never passes an offset that was not acknowledged: the committed record itself included;
- a partition whose next record was lost inside Faust (later records acknowledged, the next one neither
  acknowledged nor in flight for `REREAD_AFTER` seconds) is read again from its committed offset;
- before committing, the producer's buffer is fully drained (Faust's flush gives up after 0.1 s without
  progress, so a commit could precede the changelog writes of the records it covers), and no commit is made
  after a record the broker refused for good (`streams.emit.DELIVERY`): the worker reports itself not live
  and is restarted, to replay from the last commit.
Redelivered records are the price; every consumer is idempotent by record id (the architecture's invariant).

It also keeps what the stall detector (streams/liveness.py) reads: per partition, when a record was last
acknowledged and how far behind the partition is.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, AsyncIterator, Mapping

from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP, Message
from mode import Service
from prometheus_client import Counter

from aetherius.metrics import REGISTRY
from streams.emit import DELIVERY

log = logging.getLogger(__name__)

REREAD_AFTER = 10.0  # seconds a lost head record may stay lost before its partition is read again
HOLES = Counter("aetherius_consumer_holes_total",
                "Records Faust skipped that this worker read again (kind: fetch = a hole in a fetched batch, "
                "lost = the next record was never processed, retention = records gone from the log)",
                ["kind"], registry=REGISTRY)
COMMITS_REFUSED = Counter("aetherius_commits_refused_total",
                          "Offset commits refused because a record the broker did not take preceded them",
                          registry=REGISTRY)


def commit_point(acked: list[int], start: int) -> tuple[int | None, int]:
    """For sorted acknowledged offsets and the next offset to commit from (the committed one): the offset to
    commit (None: the record at `start` is not done, so nothing after it may be) and how many entries of
    `acked` that settles (those below `start` were committed already: acknowledged again after a re-read)."""
    used = 0
    while used < len(acked) and acked[used] < start:
        used += 1
    if used == len(acked) or acked[used] != start:
        return None, used
    end = used
    while end + 1 < len(acked) and acked[end + 1] <= acked[end] + 1:
        end += 1
    return acked[end] + 1, end + 1


class StrictConsumer(faust_aiokafka.Consumer):
    """See the module docstring."""

    # Faust's service messages stay under the "faust" logger and its level (a logger named after this module
    # would be made for them otherwise, at the application's level).
    logger = logging.getLogger("faust.strict_consumer")

    def __post_init__(self) -> None:
        super().__post_init__()
        self._expected: dict[TP, int] = {}  # next offset to hand to the agents, per acking partition
        self._first: dict[TP, int] = {}  # first offset handed over since assignment (no commit known yet)
        self._rereads: dict[TP, int] = {}  # a re-read in progress: partition -> offset sought
        self._reread_seq: dict[tuple[TP, int], int] = {}  # (partition, hole start) -> fetch seq after the re-read
        self._fetch_seq = 0
        self._lost_since: dict[TP, float] = {}
        self.last_progress: dict[TP, float] = {}  # when a record of the partition was last acknowledged
        self.commit_refused = ""

    # -- delivery in order ---------------------------------------------------------------------
    async def getmany(self, timeout: float) -> AsyncIterator[tuple[TP, Message]]:
        self._fetch_seq += 1
        seq = self._fetch_seq
        acking = self.app.topics.acks_enabled_for
        async for tp, message in super().getmany(timeout):
            if not acking(message.topic) or self._in_order(tp, message.offset, seq):
                yield tp, message

    def _in_order(self, tp: TP, offset: int, seq: int) -> bool:
        expected = self._expected.get(tp)
        if expected is None or offset == expected:
            return self._deliver(tp, offset)
        if offset < expected:
            return False  # handed over already (a batch overlapping a re-read)
        if tp in self._rereads:
            return False  # the re-read is under way: this record comes again after it
        done_at = self._reread_seq.get((tp, expected))
        if done_at is not None and seq > done_at:
            # Read again from `expected` and the hole is still there: the records are gone from the log.
            HOLES.labels(kind="retention").inc()
            log.warning("offsets %d-%d of %s are gone from the log; going on from %d", expected, offset - 1, tp,
                        offset, extra={"topic": tp.topic})
            self._gap[tp].addi(expected, offset)  # counted as done, as Faust does for a compacted topic
            return self._deliver(tp, offset)
        HOLES.labels(kind="fetch").inc()
        log.info("records %d-%d of %s were skipped by the fetcher; reading them again", expected, offset - 1, tp,
                 extra={"topic": tp.topic})
        self._reread(tp, expected)
        return False

    def _deliver(self, tp: TP, offset: int) -> bool:
        self._expected[tp] = offset + 1
        self._first.setdefault(tp, offset)
        # We decide the order now: Faust's own read-offset check would drop a record below a stale mark.
        self._read_offset[tp] = offset - 1
        return True

    def _reread(self, tp: TP, offset: int) -> None:
        self._rereads[tp] = offset
        asyncio.ensure_future(self._seek_back(tp, offset))

    async def _seek_back(self, tp: TP, offset: int) -> None:
        try:
            if tp in self.assignment():
                await self.seek(tp, offset)
                self._reread_seq[(tp, offset)] = self._fetch_seq
        except Exception as exc:  # noqa: BLE001 - a rebalance took the partition: its new owner seeks it
            log.warning("could not seek %s back to %d: %r", tp, offset, exc, extra={"topic": tp.topic})
        finally:
            self._rereads.pop(tp, None)

    async def seek(self, partition: TP, offset: int) -> None:
        await super().seek(partition, offset)
        self._expected[partition] = offset
        self._read_offset[partition] = offset - 1

    async def perform_seek(self) -> None:
        """Faust's seek to the committed offsets, remembering where each partition must go on from."""
        committed = await self.seek_to_committed()
        for tp, offset in committed.items():
            known = offset is not None and offset >= 0
            self._read_offset[tp] = offset - 1 if known else None
            if known:
                self._committed_offset[tp] = offset
                self._expected[tp] = offset
            else:
                self._expected.pop(tp, None)
            self._first.pop(tp, None)

    async def _add_gap(self, tp: TP, offset_from: int, offset_to: int) -> None:
        """Faust saw a jump: with in-order delivery that means a record it dropped itself. Never count it as
        done; the lost-record check below reads it again."""
        log.debug("ignoring a gap %d-%d on %s", offset_from, offset_to, tp)

    async def on_partitions_revoked(self, revoked: set[TP]) -> None:
        for tp in revoked:
            for state in (self._expected, self._first, self._lost_since, self.last_progress):
                state.pop(tp, None)
        for key in [k for k in self._reread_seq if k[0] in revoked]:
            del self._reread_seq[key]
        await super().on_partitions_revoked(revoked)

    async def on_partitions_assigned(self, assigned: set[TP], generation_id: int = 0) -> None:
        now = time.monotonic()
        for tp in assigned:
            self.last_progress.setdefault(tp, now)  # a partition is judged from when it was assigned
        await super().on_partitions_assigned(assigned, generation_id)

    # -- commits -------------------------------------------------------------------------------
    def ack(self, message: Message) -> bool:
        done = super().ack(message)
        if done:
            self.last_progress[message.tp] = time.monotonic()
        return done

    def _new_offset(self, tp: TP) -> int | None:
        """The offset after the run of acknowledged records that starts at the committed offset."""
        acked = self._acked[tp]
        if not acked:
            return None
        gaps = self._gap.get(tp)
        if gaps:  # only real holes (records gone from the log) are ever added
            top = max(acked)
            for interval in sorted(gaps.overlap(0, top + 1), key=lambda i: i.begin):
                acked.extend(o for o in range(interval.begin, interval.end) if o not in self._acked_index[tp])
            gaps.chop(0, top + 1)
        acked.sort()
        start = self._committed_offset[tp]
        if start is None:
            start = self._first.get(tp, acked[0])
        offset, used = commit_point(acked, start)
        self._acked_index[tp].difference_update(acked[:used])
        del acked[:used]
        return offset

    async def _commit_offsets(self, offsets: Mapping[TP, int], start_new_transaction: bool = True) -> bool:
        await self._drain_producer_buffer()
        if DELIVERY.failures:
            COMMITS_REFUSED.inc()
            if not self.commit_refused:
                self.commit_refused = f"a record was refused by the broker ({DELIVERY.last_error}); " \
                                      "not committing past it: restart to replay from the last commit"
                log.error(self.commit_refused)
            return False
        return await super()._commit_offsets(offsets, start_new_transaction)

    async def _drain_producer_buffer(self) -> None:
        """Every record written through the producer's buffer (table writes made with `table[key] = value`)
        handed to aiokafka, whose flush (in Faust's commit) then waits for the broker's acknowledgement."""
        buffer = self.app.producer.buffer
        while buffer.size:
            await buffer.flush_atmost(buffer.size)
            if buffer.size:
                await asyncio.sleep(0.01)

    # -- lost records ----------------------------------------------------------------------------
    @Service.timer(2.0)
    async def _lost_records(self) -> None:
        self.check_lost()

    def check_lost(self, now: float | None = None) -> None:
        """A partition whose committed record is neither acknowledged nor in flight while later ones are:
        Faust lost it (a record dropped during a rebalance). After REREAD_AFTER seconds, read it again."""
        now = time.monotonic() if now is None else now
        in_flight = {(m.tp, m.offset) for m in list(self._unacked_messages)}
        assigned = self.assignment()
        for tp, acked in list(self._acked.items()):
            start = self._committed_offset[tp]
            if start is None:
                start = self._first.get(tp)
            lost = (tp in assigned and start is not None and bool(acked) and min(acked) > start
                    and (tp, start) not in in_flight and tp not in self._rereads)
            if not lost:
                self._lost_since.pop(tp, None)
                continue
            since = self._lost_since.setdefault(tp, now)
            if now - since >= REREAD_AFTER:
                HOLES.labels(kind="lost").inc()
                log.info("record %d of %s was never processed; reading from it again", start, tp,
                         extra={"topic": tp.topic})
                self._lost_since.pop(tp, None)
                self._reread(tp, start)

    def positions(self) -> dict[TP, tuple[int | None, int | None]]:
        """Per assigned acking partition: (committed offset, highwater) - what the lag is made of."""
        acking = self.app.topics.acks_enabled_for
        out: dict[TP, tuple[int | None, int | None]] = {}
        for tp in self.assignment():
            if acking(tp.topic):
                try:
                    high = self.highwater(tp)
                except Exception:  # noqa: BLE001 - not fetched yet
                    high = None
                out[tp] = (self._committed_offset[tp], high)
        return out


class StrictTransport(faust_aiokafka.Transport):
    Consumer = StrictConsumer


def strict_transport(app: Any) -> StrictTransport:
    return StrictTransport(app.conf.broker_consumer, app)
