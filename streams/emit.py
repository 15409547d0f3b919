"""Records and table rows written through Faust's producer, without Faust's per-record send machinery.

Why: on this stack `topic.send()` costs about 125 µs a record and `table[key] = value` about 130 µs (its
changelog record takes the same path), while consuming a record at all costs about 70 µs, so a stage with
one write and one forward ran at a quarter of a no-op agent's rate (benchmarks/bench_pipeline.py).
`app.producer.send()` - the same producer, through Faust's public ProducerT API - appends the record to
aiokafka's batch directly, for about a third of that.

What stays as Faust does it:
- the producer is Faust's, so a commit still waits for these records (Faust flushes its producer before
  it commits offsets): at-least-once is unchanged;
- a changelog record is the one Faust would write - the table's own key and value serializers, the
  partition of the record being processed - so recovery and standbys read it as their own;
- a row is deleted only if present, with a tombstone, as `table.pop(key, None)` does.
What is not: Faust's send sensors (we count failures here) and the changelog-offset callback, which only a
RocksDB store reads (the worker's store is memory://, rebuilt from the changelog).

Every record has a size budget (`RECORD_BUDGET`, below the producer's 1 MB request limit): a bigger one raises
`RecordTooLarge` before anything changes - the row stays as it was, nothing is sent - so the agent's error
boundary dead-letters the record that caused it and the task it belongs to fails with a reason. Without
the check, aiokafka's MessageSizeTooLargeError surfaced in Faust's producer buffer and stopped the worker,
again after every restart. A table row is changed in memory only once its changelog record is on the
producer (the commit then waits for it: streams.consumer). A record the broker refuses after the producer's
retries is counted in `DELIVERY`, and the consumer commits nothing after it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import faust
from faust.serializers import codecs
from faust.streams import current_event
from prometheus_client import Counter

from aetherius.metrics import REGISTRY
from schemas.bounds import RECORD_BUDGET

log = logging.getLogger(__name__)

PRODUCE_FAILURES = Counter("aetherius_produce_failures_total",
                           "Records the broker did not take after the producer's retries", ["topic"],
                           registry=REGISTRY)


class RecordTooLarge(ValueError):
    """A record over the size budget; nothing was written."""

    def __init__(self, topic: str, size: int, budget: int = RECORD_BUDGET) -> None:
        super().__init__(f"a record for {topic} is {size} bytes, over the {budget}-byte budget")
        self.topic, self.size, self.budget = topic, size, budget


class DeliveryHealth:
    """Records the broker refused after the producer's retries, in this process."""

    def __init__(self) -> None:
        self.failures = 0
        self.last_error = ""

    def failed(self, topic: str, exc: BaseException) -> None:
        self.failures += 1
        self.last_error = f"{topic}: {exc!r}"[:300]


DELIVERY = DeliveryHealth()


def check_size(topic: str, key: bytes | None, value: bytes | None, budget: int = RECORD_BUDGET) -> None:
    size = len(key or b"") + len(value or b"")
    if size > budget:
        raise RecordTooLarge(topic, size, budget)


class Emitter:
    """Sends (from anywhere in the worker) and table writes (only while an agent processes a record)."""

    def __init__(self, app: faust.App) -> None:
        self.app = app

    async def send(self, topic: faust.TopicT, key: bytes | None, value: bytes | None) -> None:
        await self._produce(topic.get_topic_name(), key, value, None)

    async def put(self, table: Any, key: Any, value: Any) -> None:
        """`table[key] = value`: the in-memory row now, its changelog record on the producer."""
        partition = _source_partition()
        await self._changelog(table, key, codecs.dumps(table.value_serializer, value), partition)
        table.data[key] = value  # after the record is on the producer: a refused row changes nothing

    async def delete(self, table: Any, key: Any) -> None:
        """`table.pop(key, None)`: nothing to do for an absent row, else a tombstone."""
        partition = _source_partition()
        if key not in table.data:
            return
        await self._changelog(table, key, None, partition)
        del table.data[key]

    async def _changelog(self, table: Any, key: Any, value: bytes | None, partition: int) -> None:
        await self._produce(table.changelog_topic.get_topic_name(), codecs.dumps(table.key_serializer, key),
                            value, partition)

    async def _produce(self, topic: str, key: bytes | None, value: bytes | None, partition: int | None) -> None:
        check_size(topic, key, value)
        delivery = await self.app.producer.send(topic, key, value, partition, None, None)
        delivery.add_done_callback(lambda fut: _check_delivery(topic, fut))


def _source_partition() -> int:
    """A table row lives in the changelog partition of the record that wrote it (Faust's co-partitioning)."""
    event = current_event()
    if event is None:
        raise RuntimeError("a table row can only be written while an agent processes a record")
    return int(event.message.partition)


def _check_delivery(topic: str, fut: asyncio.Future[Any]) -> None:
    """aiokafka has retried already: a failure here is final. Say so loudly and record it: the consumer
    commits nothing after it (streams.consumer), so a restarted worker replays the records that produced it."""
    if fut.cancelled():
        exc: BaseException | None = asyncio.CancelledError()
    else:
        exc = fut.exception()
    if exc is not None:
        PRODUCE_FAILURES.labels(topic=topic).inc()
        DELIVERY.failed(topic, exc)
        log.error("the broker did not take a record for %s: %r", topic, exc, extra={"topic": topic})
