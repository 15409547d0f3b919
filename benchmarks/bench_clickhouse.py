"""ClickHouse sink benchmark: 1M synthetic task/step/cost rows through the sink's writer path into an on-disk chdb
store, then every dashboard panel's SQL and every API query at that size.

    python benchmarks/bench_clickhouse.py [--tasks 200000] [--batch 50000] [--data-dir DIR]

Each task makes 5 rows (pending + final task snapshot, 2 steps, 1 LLM cost): 200k tasks = 1M rows. Targets
(issue 5): >= 50k rows/s insert, < 500 ms per dashboard query. Prints tables; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from schemas.analytics_settings import AnalyticsSettings  # noqa: E402
from sinks.clickhouse import migrations, queries, rows, service  # noqa: E402
from sinks.clickhouse.grafana import expand  # noqa: E402
from sinks.clickhouse.sink import ClickHouseSink  # noqa: E402
from sinks.clickhouse.store import AsyncStore, open_store  # noqa: E402
from sinks.clickhouse.synthetic import CLUSTERS, records  # noqa: E402
from sinks.clickhouse.writer import BatchWriter  # noqa: E402

MAPPERS = {"task.state": lambda m: {"tasks": [rows.task_row(m)]}, "steps": rows.step_rows, "costs": rows.cost_rows}


def _table(title: str, header: list[str], body: list[list[str]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in body)) for i, h in enumerate(header)]
    print(f"\n{title}")
    print("  ".join(h.ljust(w) for h, w in zip(header, widths)))
    print("  ".join("-" * w for w in widths))
    for r in body:
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))


def bench_insert(astore: AsyncStore, n_tasks: int, batch: int, now: datetime) -> list[list[str]]:
    writer = BatchWriter(astore)
    gen_s = map_s = write_s = 0.0
    total = 0
    pending: rows.Rows = {}
    pending_n = 0
    it = records(n_tasks, now=now, days=30, seed=1, steps=2, costs=1, extras=False)

    async def flush(chunk: rows.Rows) -> None:
        await writer.write(chunk)

    while True:
        t0 = time.perf_counter()
        try:
            topic, model = next(it)
        except StopIteration:
            break
        t1 = time.perf_counter()
        rows.merge(pending, MAPPERS[topic](model))
        t2 = time.perf_counter()
        gen_s += t1 - t0
        map_s += t2 - t1
        pending_n += 1
        if pending_n >= batch:
            t3 = time.perf_counter()
            asyncio.run(flush(pending))
            write_s += time.perf_counter() - t3
            total += pending_n
            pending, pending_n = {}, 0
    if pending_n:
        t3 = time.perf_counter()
        asyncio.run(flush(pending))
        write_s += time.perf_counter() - t3
        total += pending_n
    return [
        ["rows inserted", f"{total:,}", ""],
        [f"writer (INSERT, batches of {batch:,} rows)", f"{write_s:.2f} s", f"{total / write_s:,.0f} rows/s"],
        ["record -> row mapping (pure Python)", f"{map_s:.2f} s", f"{total / map_s:,.0f} rows/s"],
        ["writer + mapping", f"{write_s + map_s:.2f} s", f"{total / (write_s + map_s):,.0f} rows/s"],
        ["(synthetic model generation, not sink cost)", f"{gen_s:.2f} s", ""],
    ]


def bench_sink_path(astore: AsyncStore, now: datetime, n_tasks: int = 4000) -> list[list[str]]:
    """Bytes -> pydantic -> rows -> INSERT through ClickHouseSink.handle, in the sink's default 500-record batches."""
    sink = ClickHouseSink(astore, BatchWriter(astore))
    by_topic: dict[str, list[bytes]] = {}
    for topic, model in records(n_tasks, now=now, days=30, seed=2, steps=2, costs=1, extras=True):
        by_topic.setdefault(topic, []).append(model.to_bytes())
    n = sum(len(v) for v in by_topic.values())

    async def go() -> None:
        for topic, values in by_topic.items():
            for i in range(0, len(values), 500):
                await sink.handle(topic, values[i:i + 500])
    t0 = time.perf_counter()
    asyncio.run(go())
    dt = time.perf_counter() - t0
    return [["records through ClickHouseSink.handle (500/batch, all topics)", f"{n:,} in {dt:.2f} s",
             f"{n / dt:,.0f} records/s"]]


def _time(fn, repeat: int = 3) -> tuple[float, int]:
    samples, n = [], 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        samples.append((time.perf_counter() - t0) * 1000)
        n = len(out) if isinstance(out, list) else 1
    return statistics.median(samples), n


def bench_queries(store, now: datetime, days: float) -> list[list[str]]:
    spec = importlib.util.spec_from_file_location("grafana_generate", ROOT / "deploy/grafana/generate.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    start, end = now - timedelta(days=days), now
    variables = {"cluster": list(CLUSTERS), "daily_budget": ["1000"]}
    out = []
    for uid in gen.DASHBOARDS:
        for title, _type, _kind, sql, _cols in gen.DASHBOARDS[uid][1]:
            ms, n = _time(lambda: store.query(expand(sql, start, end, 3600, variables)))
            out.append([f"{uid.removeprefix('aetherius-')}: {title}", f"{ms:.0f}", str(n), "ok" if ms < 500 else "SLOW"])
    window = queries.Window(now - timedelta(days=days), now)
    api = {
        "API costs group_by=day": lambda: service.costs_report(store, window, "day"),
        "API costs group_by=task": lambda: service.costs_report(store, window, "task"),
        "API budget": lambda: service.budget_report(store, 1000.0, 25000.0, now),
        "API history (limit 50)": lambda: service.history_report(store, queries.HistoryFilter(window)),
        "API history cluster+status": lambda: service.history_report(
            store, queries.HistoryFilter(window, cluster="prod-eu", status="failed")),
        "API stats": lambda: service.stats_report(store, queries.StatsFilter(window)),
    }
    for name, fn in api.items():
        ms, _ = _time(fn)
        out.append([name, f"{ms:.0f}", "-", "ok" if ms < 500 else "SLOW"])
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tasks", type=int, default=200_000)
    p.add_argument("--batch", type=int, default=50_000, help="rows per writer call (the sink's is 500 records)")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--window-days", type=float, default=31.0, help="query window (31: every synthetic row)")
    p.add_argument("--skip-insert", action="store_true", help="only the queries, on an existing --data-dir")
    args = p.parse_args()
    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="bench-ch-"))
    store = open_store(f"chdb://{data_dir.resolve()}")
    migrations.prepare(store, AnalyticsSettings())
    astore = AsyncStore(store)
    now = datetime.now(timezone.utc)
    print(f"chdb data dir: {data_dir}")
    if not args.skip_insert:
        _table("Insert (1M-row target: >= 50k rows/s)", ["stage", "time", "throughput"],
               bench_insert(astore, args.tasks, args.batch, now))
        _table("Full sink path (small sample)", ["stage", "time", "throughput"], bench_sink_path(astore, now))
    counts = {t: store.query(f"SELECT count() AS n FROM {t}")[0]["n"] for t in ("tasks", "steps", "costs", "reports")}
    print("\nrows now in the store: " + ", ".join(f"{t}={n:,}" for t, n in counts.items()))
    _table(f"Dashboard and API queries over {args.window_days:g} days (median of 3; target < 500 ms)",
           ["query", "ms", "rows", ""], bench_queries(store, now, args.window_days))
    astore.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
