"""Feeds the console's Board from Kafka: every partition of the task-state, steps, reports and incidents topics,
from the beginning (the topics' retention bounds how far back), then live. No consumer group: every console
process needs all of it, not a share, and it commits nothing.

Also reads one record back by its position (`fetch`): a step's full output is shown on demand, from the topic,
so the board keeps only summaries in memory. Kafka down: the console serves what it has and retries.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client import Counter, Gauge

from aetherius.metrics import REGISTRY
from schemas.topics import topic_name
from sinks.console.board import TOPICS, Board

log = logging.getLogger(__name__)

RECORDS = Counter("aetherius_console_records_total", "Topic records the console applied to its live view",
                  ["topic"], registry=REGISTRY)
CAUGHT_UP = Gauge("aetherius_console_caught_up", "1 once the console has read its topics up to their end at start",
                  registry=REGISTRY)


class Follower:
    def __init__(self, board: Board, bootstrap: str, prefix: str, *, retry_seconds: float = 2.0) -> None:
        self.board = board
        self.bootstrap = bootstrap
        self.names = {topic_name(prefix, name): name for name in TOPICS}
        self.retry_seconds = retry_seconds
        self.caught_up = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._fetcher: AIOKafkaConsumer | None = None
        self._fetch_lock = asyncio.Lock()
        self._positions: dict[TopicPartition, int] = {}  # where this process got to: a reconnect resumes there

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="console-follower")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        if self._fetcher is not None:
            await self._fetcher.stop()
            self._fetcher = None

    async def _run(self) -> None:
        delay = self.retry_seconds
        while True:
            try:
                await self._follow()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - keep serving what we have; try again
                log.error("console: topics not followed (%s: %s); retrying in %.0f s", type(exc).__name__, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

    async def _partitions(self) -> list[TopicPartition]:
        """Every partition of the topics, once they all exist (a role creates them at its start)."""
        while True:
            admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=15_000)
            await admin.start()
            try:
                described = await admin.describe_topics(list(self.names))
            finally:
                await admin.close()
            found = {t["topic"]: t["partitions"] for t in described if t["error_code"] == 0 and t["partitions"]}
            missing = sorted(set(self.names) - set(found))
            if not missing:
                return [TopicPartition(name, p["partition"]) for name in self.names
                        for p in sorted(found[name], key=lambda p: p["partition"])]
            log.info("console: waiting for topics %s", ", ".join(missing))
            await asyncio.sleep(self.retry_seconds)

    async def _follow(self) -> None:
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False,
                                    auto_offset_reset="earliest", max_partition_fetch_bytes=4 * 1024 * 1024,
                                    fetch_max_wait_ms=100, request_timeout_ms=15_000)
        parts = await self._partitions()
        await consumer.start()
        try:
            consumer.assign(parts)
            # Resume where this process got to (after a broker outage); from the beginning at start.
            positions = self._positions
            for tp in parts:
                if tp in positions:
                    consumer.seek(tp, positions[tp])
                else:
                    await consumer.seek_to_beginning(tp)
            ends = await consumer.end_offsets(parts)
            while True:
                batch = await consumer.getmany(timeout_ms=200, max_records=2000)
                for tp, records in batch.items():
                    name = self.names[tp.topic]
                    for rec in records:
                        self.board.apply(name, tp.partition, rec.offset, rec.value)
                    RECORDS.labels(name).inc(len(records))
                    positions[tp] = records[-1].offset + 1 if records else positions.get(tp, 0)
                if not self.caught_up.is_set():
                    if all([await consumer.position(tp) >= ends[tp] for tp in parts]):
                        self.caught_up.set()
                        CAUGHT_UP.set(1)
                        log.info("console: live view loaded (%d tasks, %d incidents)", len(self.board.tasks),
                                 len(self.board.incidents))
                if not batch:
                    await asyncio.sleep(0)  # getmany already waited; let the loop breathe
        finally:
            await consumer.stop()

    async def fetch(self, topic: str, partition: int, offset: int, timeout: float = 5.0) -> bytes | None:
        """The value of one record, by position (None when retention removed it)."""
        async with self._fetch_lock:
            if self._fetcher is None:
                self._fetcher = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False,
                                                 auto_offset_reset="none", request_timeout_ms=15_000)
                await self._fetcher.start()
            tp = TopicPartition(topic, partition)
            fetcher = self._fetcher
            fetcher.assign([tp])
            fetcher.seek(tp, offset)
            try:
                batch: dict[Any, list] = await asyncio.wait_for(fetcher.getmany(tp, timeout_ms=int(timeout * 1000),
                                                                                max_records=1), timeout + 1)
            except Exception as exc:  # noqa: BLE001 - out of range (retention), broker down: "not available"
                log.warning("console: record %s/%d/%d not read: %s", topic, partition, offset, type(exc).__name__)
                return None
            for rec in batch.get(tp, []):
                if rec.offset == offset:
                    return rec.value
            return None

    def topic_of(self, name: str) -> str:
        """The full topic name of a catalogue name."""
        return next(full for full, short in self.names.items() if short == name)
