"""The one Kafka producer wrapper: durable by default, batched, and honest about failure.

Every producer in Aetherius (webhook bridge, manual trigger, replay, watchers) goes through this, so the
durability settings live in one place: acks="all" + idempotence (a retried batch is never written twice).
No linger: aiokafka keeps one request in flight per broker and batches whatever arrives meanwhile, so
records batch by themselves under load. Measured on benchmarks/bench_bridge.py (2 shared cores, one
local broker, medians of 3): linger 0, 2 and 5 ms give the same throughput (~20k alerts/s batched,
~2.9k req/s single-alert), and at 500 req/s p50 is 2.1 / 4.3 / 7.4 ms. lz4 measured no better than none
for ~0.6 KB JSON alerts and needs an extra package (cramjam), so compression is off. Both are arguments.

`send_all_and_wait` is the only way to report something as accepted: it enqueues a whole batch without
awaiting each record (awaiting one by one is ~30x slower) and returns only when the broker acknowledged
every record; any failure or the deadline raises `ProduceError`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Sequence
from typing import Any
from dataclasses import dataclass, field

from aiokafka import AIOKafkaProducer
from aiokafka.errors import InvalidProducerEpoch, KafkaError, OutOfOrderSequenceNumber, UnknownProducerId
from aiokafka.structs import RecordMetadata

log = logging.getLogger(__name__)

Headers = list[tuple[str, bytes]]


# The broker no longer accepts this idempotent producer's sequence (found by the chaos soak: after a broker restart
# every record the bridge sent failed with OutOfOrderSequenceNumber, 36,000 times a minute, until the bridge was
# restarted). aiokafka does not recover from these; a new producer (a new producer id) does.
LOST_SEQUENCE = (OutOfOrderSequenceNumber, InvalidProducerEpoch, UnknownProducerId)


class ProduceError(RuntimeError):
    """The broker did not acknowledge every record in time (or the producer is not connected)."""


@dataclass(frozen=True)
class OutRecord:
    topic: str
    value: bytes | None
    key: bytes | None = None
    headers: Headers = field(default_factory=list)
    timestamp_ms: int | None = None  # None: the producer's clock; replay passes the recorded time
    partition: int | None = None  # None: by key (default partitioner)


def _as_bytes(key: bytes | str | None) -> bytes | None:
    return key.encode() if isinstance(key, str) else key


@dataclass
class Producer:
    bootstrap: str
    client_id: str = "aetherius"
    linger_ms: int = 0
    compression: str | None = None  # None or "lz4"
    request_timeout_ms: int = 10_000
    max_request_size: int = 1_048_576
    _producer: AIOKafkaProducer | None = field(default=None, init=False, repr=False)
    unready_after_failure_s: float = 10.0
    _last_failure: float = field(default=float("-inf"), init=False)
    _renewing: asyncio.Lock = field(default_factory=asyncio.Lock, init=False, repr=False)
    renewals: int = field(default=0, init=False)

    @property
    def started(self) -> bool:
        return self._producer is not None

    @property
    def ready(self) -> bool:
        """Started and no delivery failed recently: what /health/ready reports.

        The failure mark expires (rather than waiting for a success) so a readiness probe that takes the
        pod out of rotation lets it back in to try again.
        """
        recent = time.monotonic() - self._last_failure < self.unready_after_failure_s
        return self._producer is not None and not recent

    def _failed(self) -> None:
        self._last_failure = time.monotonic()

    async def start(self) -> None:
        """Connect; raises (aiokafka's KafkaConnectionError) when no broker answers. Idempotent."""
        if self._producer is not None:
            return
        producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap, client_id=self.client_id, acks="all", enable_idempotence=True,
            linger_ms=self.linger_ms, compression_type=self.compression, request_timeout_ms=self.request_timeout_ms,
            max_request_size=self.max_request_size, max_batch_size=256 * 1024,
        )
        try:
            await producer.start()
        except BaseException:
            await producer.stop()
            raise
        self._producer, self._last_failure = producer, float("-inf")

    async def stop(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()  # flushes what is buffered

    async def send(self, topic: str, key: bytes | str | None, value: bytes | None,
                   headers: Headers | None = None, *, timestamp_ms: int | None = None,
                   partition: int | None = None) -> asyncio.Future[RecordMetadata]:
        """Enqueue one record; the returned future resolves when the broker acknowledged it.

        Waits while the topic's metadata is unknown or the buffer is full; errors at enqueue (unknown
        topic after request_timeout_ms, a record over max_request_size) raise `ProduceError`.
        """
        if self._producer is None:
            raise ProduceError("producer is not started")
        try:
            return await self._producer.send(topic, value=value, key=_as_bytes(key), headers=headers or None,
                                             timestamp_ms=timestamp_ms, partition=partition)
        except KafkaError as exc:
            self._failed()
            raise ProduceError(f"{type(exc).__name__}: {exc}") from exc

    async def wait_acks(self, futures: Sequence[asyncio.Future[RecordMetadata]],
                        timeout: float) -> list[RecordMetadata]:
        """Wait for every future from `send`; any failure, or a future still pending at the timeout, raises."""
        if futures:
            sender = self._producer
            # asyncio.wait, not gather: a timeout must not cancel aiokafka's own futures.
            _done, pending = await asyncio.wait(futures, timeout=max(timeout, 0.0))
            _consume_later(futures)
            if pending:
                self._failed()
                raise ProduceError(f"broker did not acknowledge {len(pending)} of {len(futures)} record(s) "
                                   f"within {timeout:g}s")
            failed = [f.exception() for f in futures if f.exception() is not None]
            if failed:
                self._failed()
                if any(isinstance(exc, LOST_SEQUENCE) for exc in failed):
                    await self._renew(sender, failed[0])
                raise ProduceError(f"{len(failed)} of {len(futures)} record(s) failed: "
                                   f"{type(failed[0]).__name__}: {failed[0]}") from failed[0]
        self._last_failure = float("-inf")
        return [f.result() for f in futures]

    async def _renew(self, sender: AIOKafkaProducer | None, cause: BaseException) -> None:
        """Replace the producer whose sequence the broker lost (once, however many requests saw it)."""
        async with self._renewing:
            if sender is None or self._producer is not sender:
                return  # another request renewed it already
            log.warning("the broker lost this producer's sequence (%s): starting a new producer",
                        type(cause).__name__)
            self._producer = None
            try:
                await asyncio.wait_for(sender.stop(), 10.0)
            except Exception:  # noqa: BLE001 - its batches fail anyway; the new producer is what matters
                pass
            delay = 0.5
            while self._producer is None:  # requests meanwhile get "not connected" (503: the sender retries)
                try:
                    await self.start()
                    self.renewals += 1
                except Exception as exc:  # noqa: BLE001 - the broker is away: keep trying, with backoff
                    log.warning("could not start a new producer (%s); retrying in %.1fs", exc, delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 10.0)

    async def send_all_and_wait(self, records: Iterable[OutRecord], timeout: float = 5.0) -> list[RecordMetadata]:
        """Send a batch and wait for every acknowledgement, or raise `ProduceError`.

        Not atomic: after a failure some records may already be on the topic. Callers report the whole batch
        as failed so the sender retries it; consumers are idempotent by key, so the repeat is harmless.
        """
        deadline = time.monotonic() + timeout
        futures: list[asyncio.Future[RecordMetadata]] = []
        try:
            async with asyncio.timeout(timeout):
                for r in records:
                    futures.append(await self.send(r.topic, r.key, r.value, r.headers,
                                                   timestamp_ms=r.timestamp_ms, partition=r.partition))
        except TimeoutError:
            self._failed()
            _consume_later(futures)
            raise ProduceError(f"could not enqueue the batch within {timeout:g}s (topic metadata unavailable?)"
                               ) from None
        except ProduceError:
            _consume_later(futures)
            raise
        return await self.wait_acks(futures, deadline - time.monotonic())


def _consume_later(futures: list[asyncio.Future[RecordMetadata]]) -> None:
    """Retrieve late exceptions so asyncio does not log 'exception was never retrieved'."""
    for fut in futures:
        fut.add_done_callback(lambda f: f.cancelled() or f.exception())


async def connect_with_retry(producer: Producer, stop: asyncio.Event, *, first_delay: float = 0.5,
                             max_delay: float = 10.0) -> None:
    """Keep trying to start `producer` until it connects or `stop` is set (a role starts before Kafka)."""
    delay = first_delay
    while not stop.is_set():
        try:
            await producer.start()
            log.info("producer connected to %s", producer.bootstrap)
            return
        except Exception as exc:  # KafkaConnectionError and friends: retry with backoff
            log.warning("kafka not reachable at %s (%s); retrying in %.1fs", producer.bootstrap, exc, delay)
        try:
            await asyncio.wait_for(stop.wait(), delay)
        except TimeoutError:
            pass
        delay = min(delay * 2, max_delay)


def audit_publisher(producer: Producer, topic: str, *, max_pending: int = 10_000):  # noqa: ANN201
    """An `async (AuditEvent) -> None` that publishes to the audit topic without slowing its caller: the send runs
    in the background (enqueueing can wait on topic metadata); a failure is logged (the event with it, so the trail
    survives in the log), never raised. Bounded: a dead broker cannot make audit sends pile up without limit."""
    pending: set[asyncio.Task[Any]] = set()

    async def send(event: Any) -> None:
        try:
            await producer.send(topic, event.id.encode(), event.to_bytes())
        except Exception as exc:  # noqa: BLE001 - audit trouble must not fail or slow the audited work
            log.warning("audit event not published (%s); event follows: %s", exc, event.model_dump_json())

    async def publish(event: Any) -> None:
        if len(pending) < max_pending:
            task = asyncio.create_task(send(event))
            pending.add(task)
            task.add_done_callback(pending.discard)
        else:
            log.warning("audit backlog full; event follows: %s", event.model_dump_json())
    return publish
