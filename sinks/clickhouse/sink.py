"""The ClickHouse sink: raw topic records -> validated models -> rows -> batched INSERTs.

`ClickHouseSink.handle(topic, values)` is the whole job for one batch and has no Faust in it (tests call it
directly); `register()` wires one Faust agent per topic around it. Invalid records are skipped, counted
and logged, never raised: an exception escaping a Faust agent acks and skips the rest of the batch.
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import ValidationError

from schemas.analytics_settings import AnalyticsSettings
from schemas.task import DiagnosticTask
from schemas.topics import topic_name
from sinks.clickhouse import metrics
from sinks.clickhouse.migrations import prepare
from sinks.clickhouse.rows import COLUMNS, DECODERS, SINK_TOPICS, Rows, merge, parse_task_state, status_change_row, \
    task_row
from sinks.clickhouse.store import AsyncStore, Store, open_store, store_url
from sinks.clickhouse.writer import BatchWriter, WriteResult

log = logging.getLogger(__name__)

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

    async def handle(self, topic: str, values: list[bytes | None]) -> WriteResult:
        if topic == "task.state":
            rows = await self._task_state_rows(values)
        else:
            rows = {}
            for raw in values:
                decoded = self._decode(topic, raw, DECODERS[topic])
                if decoded is not None:
                    merge(rows, decoded)
        return await self.writer.write(rows)

    def _decode(self, topic: str, raw: bytes | None, fn: Any) -> Any:
        try:
            if raw is None:
                raise ValueError("empty record (tombstone)")
            out = fn(raw)
        except (ValidationError, ValueError, TypeError) as exc:  # JSONDecodeError is a ValueError
            metrics.RECORDS.labels(topic=topic, outcome="invalid").inc()
            log.warning("skipped an invalid %s record: %s", topic, str(exc).splitlines()[0][:300],
                        extra={"topic": topic, "stage": "clickhouse"})
            return None
        metrics.RECORDS.labels(topic=topic, outcome="ok").inc()
        return out

    async def _task_state_rows(self, values: list[bytes | None]) -> Rows:
        """Snapshots map on their own; a bare status change needs the task's last row: from this batch, else the store."""
        records = [r for r in (self._decode("task.state", raw, parse_task_state) for raw in values) if r is not None]
        pending_ids = {r.task_id for r in records if not isinstance(r, DiagnosticTask)}
        snapshot_ids = {r.id for r in records if isinstance(r, DiagnosticTask)}
        latest: dict[str, dict[str, Any]] = {}
        lookup = sorted(pending_ids - snapshot_ids)
        if lookup:
            for row in await self.store.query(_LATEST_TASK_ROWS, {"ids": lookup}):
                latest[row["task_id"]] = row
        out: list[dict[str, Any]] = []
        for record in records:
            if isinstance(record, DiagnosticTask):
                row = task_row(record)
            else:
                base = latest.get(record.task_id)
                if base is None:
                    log.warning("status change for a task the store has not seen; stored without its details",
                                extra={"task_id": record.task_id})
                row = status_change_row(record, base)
            latest[row["task_id"]] = row
            out.append(row)
        return {"tasks": out} if out else {}


def register(app: Any, settings: Any, store: AsyncStore | Store) -> None:
    """Add one agent per sink topic to `app`: raw bytes in, batches of `batch_size` within `batch_seconds`."""
    analytics = analytics_settings(settings)
    astore = store if isinstance(store, AsyncStore) else AsyncStore(store)
    sink = ClickHouseSink(astore, BatchWriter.from_settings(astore, analytics))
    for name in SINK_TOPICS:
        channel = app.topic(topic_name(settings.kafka.topic_prefix, name), key_type=bytes, value_type=bytes,
                            key_serializer="raw", value_serializer="raw")
        app.agent(channel, name=f"aetherius.clickhouse.{name}")(_agent(sink, name, analytics))


def _agent(sink: ClickHouseSink, topic: str, analytics: AnalyticsSettings) -> Any:
    async def consume(stream: Any) -> None:
        async for batch in stream.take(analytics.batch_size, within=analytics.batch_seconds):
            try:
                await sink.handle(topic, list(batch))
            except Exception:  # a bug, not bad data: log it loudly, keep the agent alive
                log.exception("ClickHouse sink failed on a %s batch of %d records", topic, len(batch),
                              extra={"topic": topic, "stage": "clickhouse"})
    consume.__name__ = f"clickhouse_{topic.replace('.', '_')}"
    return consume
