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

log = logging.getLogger(__name__)

PRODUCE_FAILURES = Counter("aetherius_produce_failures_total",
                           "Records the broker did not take after the producer's retries", ["topic"],
                           registry=REGISTRY)


class Emitter:
    """Sends (from anywhere in the worker) and table writes (only while an agent processes a record)."""

    def __init__(self, app: faust.App) -> None:
        self.app = app

    async def send(self, topic: faust.TopicT, key: bytes | None, value: bytes | None) -> None:
        await self._produce(topic.get_topic_name(), key, value, None)

    async def put(self, table: Any, key: Any, value: Any) -> None:
        """`table[key] = value`: the in-memory row now, its changelog record on the producer."""
        partition = _source_partition()
        table.data[key] = value
        await self._changelog(table, key, codecs.dumps(table.value_serializer, value), partition)

    async def delete(self, table: Any, key: Any) -> None:
        """`table.pop(key, None)`: nothing to do for an absent row, else a tombstone."""
        partition = _source_partition()
        if key not in table.data:
            return
        del table.data[key]
        await self._changelog(table, key, None, partition)

    async def _changelog(self, table: Any, key: Any, value: bytes | None, partition: int) -> None:
        await self._produce(table.changelog_topic.get_topic_name(), codecs.dumps(table.key_serializer, key),
                            value, partition)

    async def _produce(self, topic: str, key: bytes | None, value: bytes | None, partition: int | None) -> None:
        delivery = await self.app.producer.send(topic, key, value, partition, None, None)
        delivery.add_done_callback(lambda fut: _check_delivery(topic, fut))


def _source_partition() -> int:
    """A table row lives in the changelog partition of the record that wrote it (Faust's co-partitioning)."""
    event = current_event()
    if event is None:
        raise RuntimeError("a table row can only be written while an agent processes a record")
    return int(event.message.partition)


def _check_delivery(topic: str, fut: asyncio.Future[Any]) -> None:
    """aiokafka has retried already: a failure here is final. Say so loudly; the offsets of the records that
    produced it may be committed by then, as with Faust's own sends."""
    if fut.cancelled():
        exc: BaseException | None = asyncio.CancelledError()
    else:
        exc = fut.exception()
    if exc is not None:
        PRODUCE_FAILURES.labels(topic=topic).inc()
        log.error("the broker did not take a record for %s: %r", topic, exc, extra={"topic": topic})
