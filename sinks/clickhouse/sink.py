"""The ClickHouse sink: raw topic records -> validated models -> rows -> batched INSERTs.

`ClickHouseSink.handle(topic, values, reject)` is the whole job for one batch and has no Faust in it (tests
call it directly); `register()` wires one Faust agent per topic around it.

The per-record error contract (as streams/boundary.py for the pipeline's agents): a record that does not
parse, does not map to rows, or whose row the store refuses even alone is handed to `reject` with the reason
(the agent puts it on the dead-letter topic) and the batch's other rows are written. A store that is down
holds the batch (the writer waits; the offsets stay uncommitted); a failure the sink cannot place on one
record is narrowed down by handling each record alone. Nothing escapes the agent.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable

from pydantic import ValidationError

from schemas.analytics_settings import AnalyticsSettings
from schemas.deadletter import DeadLetter
from schemas.task import DiagnosticTask
from schemas.topics import topic_name
from sinks.clickhouse import metrics
from sinks.clickhouse.migrations import prepare
from sinks.clickhouse.rows import COLUMNS, DECODERS, SINK_TOPICS, Rows, merge, parse_task_state, status_change_row, \
    task_row
from sinks.clickhouse.store import AsyncStore, Store, open_store, store_url
from sinks.clickhouse.writer import BatchWriter, WriteResult, backoff

log = logging.getLogger(__name__)

Reject = Callable[[int, str], Awaitable[None]]  # (index of the record in the batch, why)
Origins = dict[str, list[int]]  # table -> for each row, the index of the record it came from

_LATEST_TASK_ROWS = (
    "SELECT " + ", ".join(COLUMNS["tasks"]) + " FROM tasks WHERE task_id IN {ids:Array(String)} "
    "ORDER BY event_time DESC, inserted_at DESC LIMIT 1 BY task_id"
)


def analytics_settings(settings: Any) -> AnalyticsSettings:
    """`settings.analytics` once the lead wires it into Settings; the defaults until then."""
    return getattr(settings, "analytics", None) or AnalyticsSettings()


def open_analytics(settings: Any) -> AsyncStore:
    """Open the configured store and bring its schema and retention up to date (the sink role's start-up)."""
    analytics = analytics_settings(settings)
    store = open_store(store_url(analytics))
    prepare(store, analytics)
    return AsyncStore(store)


class ClickHouseSink:
    def __init__(self, store: AsyncStore, writer: BatchWriter) -> None:
        self.store = store
        self.writer = writer

    async def handle(self, topic: str, values: list[bytes | None], reject: Reject | None = None) -> WriteResult:
        rejected: list[tuple[int, str]] = []
        if topic == "task.state":
            rows, origins = await self._task_state_rows(values, rejected)
        else:
            rows, origins = {}, {}
            for index, raw in enumerate(values):
                decoded = self._decode(topic, raw, DECODERS[topic], index, rejected)
                if decoded is not None:
                    _add(rows, origins, decoded, index)
        result = await self.writer.write(rows)
        for table, refused in result.refused.items():
            rejected += [(origins[table][row], f"refused by ClickHouse table {table}: {error}") for row, error in refused]
        if reject is not None:
            done: set[int] = set()
            for index, reason in rejected:
                if index not in done:  # one dead letter per record, whatever number of its rows failed
                    done.add(index)
                    await reject(index, reason)
        return result

    def _decode(self, topic: str, raw: bytes | None, fn: Any, index: int, rejected: list[tuple[int, str]]) -> Any:
        try:
            if raw is None:
                raise ValueError("empty record (tombstone)")
            out = fn(raw)
        except (ValidationError, ValueError, TypeError) as exc:  # JSONDecodeError is a ValueError
            metrics.RECORDS.labels(topic=topic, outcome="invalid").inc()
            first = str(exc).splitlines()[0][:300]
            log.warning("skipped an invalid %s record: %s", topic, first, extra={"topic": topic, "stage": "clickhouse"})
            rejected.append((index, f"invalid {topic} record: {first}"))
            return None
        metrics.RECORDS.labels(topic=topic, outcome="ok").inc()
        return out

    async def _task_state_rows(self, values: list[bytes | None],
                               rejected: list[tuple[int, str]]) -> tuple[Rows, Origins]:
        """Snapshots map on their own; a bare status change needs the task's last row: from this batch, else the store."""
        records = [(i, r) for i, r in ((i, self._decode("task.state", raw, parse_task_state, i, rejected))
                                       for i, raw in enumerate(values)) if r is not None]
        pending_ids = {r.task_id for _, r in records if not isinstance(r, DiagnosticTask)}
        snapshot_ids = {r.id for _, r in records if isinstance(r, DiagnosticTask)}
        latest: dict[str, dict[str, Any]] = {}
        lookup = sorted(pending_ids - snapshot_ids)
        if lookup:
            for row in await self.store.query(_LATEST_TASK_ROWS, {"ids": lookup}):
                latest[row["task_id"]] = row
        rows: Rows = {}
        origins: Origins = {}
        for index, record in records:
            try:
                if isinstance(record, DiagnosticTask):
                    row = task_row(record)
                else:
                    base = latest.get(record.task_id)
                    if base is None:
                        log.warning("status change for a task the store has not seen; stored without its details",
                                    extra={"task_id": record.task_id})
                    row = status_change_row(record, base)
            except Exception as exc:  # noqa: BLE001 - one record's mapping failed: it alone is rejected
                rejected.append((index, f"task.state record does not map to a row: {type(exc).__name__}: {exc}"))
                continue
            latest[row["task_id"]] = row
            _add(rows, origins, {"tasks": [row]}, index)
        return rows, origins


def _add(rows: Rows, origins: Origins, more: Rows, index: int) -> None:
    merge(rows, more)
    for table, table_rows in more.items():
        origins.setdefault(table, []).extend([index] * len(table_rows))


def register(app: Any, settings: Any, store: AsyncStore | Store) -> None:
    """Add one agent per sink topic to `app`: raw bytes in, batches of `batch_size` within `batch_seconds`."""
    analytics = analytics_settings(settings)
    astore = store if isinstance(store, AsyncStore) else AsyncStore(store)
    sink = ClickHouseSink(astore, BatchWriter.from_settings(astore, analytics))
    deadletters = app.topic(topic_name(settings.kafka.topic_prefix, "deadletter"), key_serializer="raw",
                            value_serializer="raw")
    for name in SINK_TOPICS:
        channel = app.topic(topic_name(settings.kafka.topic_prefix, name), key_type=bytes, value_type=bytes,
                            key_serializer="raw", value_serializer="raw")
        app.agent(channel, name=f"aetherius.clickhouse.{name}")(_agent(sink, name, analytics, deadletters))


async def write_batch(sink: ClickHouseSink, topic: str, events: list[Any], dead_letter: Callable[[Any, str], Awaitable[None]],
                      sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
    """One batch of Faust events through `sink.handle` under the per-record contract (see the module docstring)."""
    values = [e.value for e in events]

    async def reject(index: int, reason: str) -> None:
        await dead_letter(events[index], reason)

    attempt = 0
    while True:
        try:
            await sink.handle(topic, values, reject)
            return
        except Exception as exc:  # noqa: BLE001 - classified below; nothing escapes the agent
            if not await sink.store.ping():
                metrics.STORE_UP.set(0)
                log.warning("analytics store unreachable; holding a %s batch of %d records", topic, len(values),
                            extra={"topic": topic, "stage": "clickhouse"})
                await sleep(backoff(attempt, 0.5, 30.0))
                attempt += 1
                continue
            log.warning("a %s batch of %d records failed (%s); handling its records one by one", topic, len(values),
                        f"{type(exc).__name__}: {exc}"[:300], extra={"topic": topic, "stage": "clickhouse"})
            break
    for index, event in enumerate(events):  # narrow the failure down to the records that cause it
        try:
            await sink.handle(topic, [event.value], lambda _i, reason, e=event: dead_letter(e, reason))
        except Exception as exc:  # noqa: BLE001
            log.exception("ClickHouse sink failed on a %s record", topic, extra={"topic": topic, "stage": "clickhouse"})
            await dead_letter(event, f"{type(exc).__name__}: {exc}")


def _agent(sink: ClickHouseSink, topic: str, analytics: AnalyticsSettings, deadletters: Any) -> Any:
    async def dead_letter(event: Any, reason: str) -> None:
        metrics.DEAD_LETTERS.labels(topic=topic).inc()
        if topic == "deadletter":  # a dead letter about a dead letter could loop: it is logged and counted only
            log.error("a dead letter could not be stored: %s", reason[:300], extra={"topic": topic, "stage": "clickhouse"})
            return
        message = event.message
        record = DeadLetter.of(topic=message.topic, key=event.key, value=event.value, error=reason,
                               stage=f"clickhouse.{topic}", partition=message.partition, offset=message.offset)
        await deadletters.send(key=event.key, value=record.to_bytes())

    async def consume(stream: Any) -> None:
        async for events in stream.take_events(analytics.batch_size, within=analytics.batch_seconds):
            await write_batch(sink, topic, list(events), dead_letter)
    consume.__name__ = f"clickhouse_{topic.replace('.', '_')}"
    return consume
