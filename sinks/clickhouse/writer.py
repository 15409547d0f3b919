"""The batching writer: one INSERT per table per batch, retried until the store takes it.

Never loses a batch to a store outage: after `insert_retries` failed attempts it probes the store; while the
store is down it keeps waiting (the Kafka offsets stay uncommitted, so nothing is acknowledged early). Only
when a healthy store refuses the batch is it split row by row: the good rows are written, and those refused
even alone are reported back (`WriteResult.refused`, by row index, with the store's error) so the sink can
dead-letter the records they came from (retrying them forever would stall the partition).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from sinks.clickhouse import metrics
from sinks.clickhouse.rows import COLUMNS, Rows
from sinks.clickhouse.store import AsyncStore

log = logging.getLogger(__name__)


@dataclass
class WriteResult:
    written: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)
    refused: dict[str, list[tuple[int, str]]] = field(default_factory=dict)  # table -> (row index, error)


def backoff(attempt: int, base: float, cap: float) -> float:
    """Exponential backoff: base, 2·base, 4·base … capped."""
    return min(cap, base * (2 ** max(0, attempt)))


def to_values(table: str, rows: list[dict[str, Any]]) -> list[list[Any]]:
    columns = COLUMNS[table]
    return [[row[c] for c in columns] for row in rows]


class BatchWriter:
    def __init__(self, store: AsyncStore, *, retries: int = 5, base_seconds: float = 0.5, max_seconds: float = 30.0,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.store = store
        self.retries = retries
        self.base = base_seconds
        self.cap = max_seconds
        self._sleep = sleep

    @classmethod
    def from_settings(cls, store: AsyncStore, analytics: Any) -> "BatchWriter":
        return cls(store, retries=analytics.insert_retries, base_seconds=analytics.retry_base_seconds,
                   max_seconds=analytics.retry_max_seconds)

    async def write(self, rows: Rows) -> WriteResult:
        result = WriteResult()
        for table, table_rows in rows.items():
            if not table_rows:
                continue
            values = to_values(table, table_rows)
            if await self._insert_until_done(table, values):
                result.written[table] = len(values)
            else:
                refused = await self._row_by_row(table, values)
                result.written[table], result.rejected[table] = len(values) - len(refused), len(refused)
                result.refused[table] = refused
            metrics.ROWS_WRITTEN.labels(table=table).inc(result.written[table])
        return result

    async def _try(self, table: str, values: list[list[Any]]) -> str | None:
        """None when inserted, else the store's error."""
        started = time.perf_counter()
        try:
            await self.store.insert(table, COLUMNS[table], values)
        except Exception as exc:
            metrics.INSERT_FAILURES.labels(table=table).inc()
            log.warning("insert into %s (%d rows) failed: %s", table, len(values), str(exc)[:300])
            return f"{type(exc).__name__}: {exc}"[:1000]
        metrics.INSERT_SECONDS.labels(table=table).observe(time.perf_counter() - started)
        metrics.STORE_UP.set(1)
        return None

    async def _insert_until_done(self, table: str, values: list[list[Any]]) -> bool:
        """True once inserted; False when a healthy store keeps refusing the batch (a data problem)."""
        attempt = 0
        while True:
            if await self._try(table, values) is None:
                return True
            if attempt >= self.retries:
                if await self.store.ping():
                    return False
                metrics.STORE_UP.set(0)
                log.error("analytics store unreachable; holding %d %s rows until it is back", len(values), table)
            await self._sleep(backoff(attempt, self.base, self.cap))
            attempt += 1

    async def _row_by_row(self, table: str, values: list[list[Any]]) -> list[tuple[int, str]]:
        """Insert each row alone; the (index, error) of those the store refuses."""
        refused: list[tuple[int, str]] = []
        for index, row in enumerate(values):
            error = await self._try(table, [row])
            if error is not None:
                refused.append((index, error))
                metrics.ROWS_REJECTED.labels(table=table).inc()
                log.error("row refused by %s and not stored: %s", table, str(row)[:500])
        return refused
