"""The ClickHouse sink's per-record error contract on the real embedded engine (chdb): one record that cannot
be stored goes to the dead-letter topic with its reason, the good rows of its batch are written, and a store
outage holds the batch instead of dropping it (issue 13 #4: one failing record dropped the whole batch)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from types import SimpleNamespace

from schemas.audit import CostRecord
from sinks.clickhouse import rows
from sinks.clickhouse.sink import ClickHouseSink, write_batch
from sinks.clickhouse.store import AsyncStore
from sinks.clickhouse.writer import BatchWriter
from tests.test_clickhouse_sink import store  # noqa: F401 - the embedded engine, migrated

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)


class Picky:
    """The real store, refusing any insert that holds a row with a poisoned id (a row the schema cannot take),
    and reporting itself down while `down`."""

    def __init__(self, store, poison: str = "bad", down: int = 0) -> None:
        self.store, self.poison, self.down = store, poison, down

    def insert(self, table, columns, values):
        if self.down:
            raise ConnectionError("store went away")
        if any(self.poison in str(v) for v in values):
            raise ValueError(f"Code: 27. Cannot parse input: row {self.poison}")
        self.store.insert(table, columns, values)

    def ping(self) -> bool:
        if self.down:
            self.down -= 1
            return False
        return True

    def query(self, *a):
        return self.store.query(*a)

    def close(self) -> None:
        pass


def cost(i: str) -> bytes:
    return CostRecord(id=i, task_id="t", model="m", cost_usd=0.1, at=NOW).to_bytes()


def events(values):
    return [SimpleNamespace(key=f"k{i}".encode(), value=v, message=SimpleNamespace(topic="p.costs", partition=0, offset=i))
            for i, v in enumerate(values)]


def count(store) -> int:
    return int(store.query("SELECT count() AS n FROM costs FINAL")[0]["n"])


def sink_for(picky) -> ClickHouseSink:
    astore = AsyncStore(picky)
    return ClickHouseSink(astore, BatchWriter(astore, retries=0, sleep=lambda s: asyncio.sleep(0)))


def test_a_refused_row_and_an_invalid_record_are_dead_lettered_and_the_rest_written(store) -> None:
    sink = sink_for(Picky(store))
    values = [cost("c1"), b"not json", cost("bad"), cost("c2")]
    dead: list[tuple[int, str]] = []

    async def go():
        async def dl(event, reason):
            dead.append((event.message.offset, reason))
        await write_batch(sink, "costs", events(values), dl)

    asyncio.run(go())
    assert count(store) == 2
    assert [offset for offset, _ in dead] == [1, 2]
    assert dead[0][1].startswith("invalid costs record") and "refused by ClickHouse table costs" in dead[1][1]


def test_a_record_that_breaks_the_mapping_is_found_and_only_it_is_dead_lettered(store, monkeypatch) -> None:
    real = rows.DECODERS["costs"]

    def mapping(raw: bytes):
        if b"boom" in raw:
            raise RuntimeError("a mapping bug")  # not a validation error: the batch as a whole fails
        return real(raw)

    monkeypatch.setitem(rows.DECODERS, "costs", mapping)
    import sinks.clickhouse.sink as sink_module
    monkeypatch.setitem(sink_module.DECODERS, "costs", mapping)
    sink = sink_for(Picky(store))
    dead: list[int] = []

    async def go():
        async def dl(event, reason):
            dead.append(event.message.offset)
        await write_batch(sink, "costs", events([cost("c1"), cost("boom"), cost("c3")]), dl)

    asyncio.run(go())
    assert dead == [1] and count(store) == 2


def test_a_store_outage_holds_the_batch_until_the_store_is_back(store) -> None:
    picky = Picky(store, down=3)
    sleeps: list[float] = []

    async def sleep(s):
        sleeps.append(s)
        picky.down = max(0, picky.down - 1)

    astore = AsyncStore(picky)
    sink = ClickHouseSink(astore, BatchWriter(astore, retries=0, sleep=sleep))
    dead: list[int] = []

    async def go():
        async def dl(event, reason):
            dead.append(event.message.offset)
        await write_batch(sink, "costs", events([cost("c1"), cost("c2")]), dl, sleep=sleep)

    asyncio.run(go())
    assert dead == [] and count(store) == 2 and sleeps  # waited, then wrote everything
