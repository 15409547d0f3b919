"""`aetherius stats` / `aetherius costs`: through the API of a running server, and straight from a store."""

from __future__ import annotations

import asyncio
import contextlib
import io
from datetime import datetime, timezone
from pathlib import Path

import pytest
from aiohttp import web

from aetherius.cli import main
from schemas.analytics_settings import AnalyticsSettings
from schemas.settings import Settings
from sinks.clickhouse import migrations
from aetherius.http.auth import generate_api_key, hash_api_key, security_middlewares
from sinks.clickhouse.api import add_routes
from sinks.clickhouse.sink import ClickHouseSink
from sinks.clickhouse.store import AsyncStore, open_store
from sinks.clickhouse.synthetic import records
from sinks.clickhouse.writer import BatchWriter


def _seed(url: str) -> AsyncStore:
    store = open_store(url)
    migrations.prepare(store, AnalyticsSettings())
    astore = AsyncStore(store)
    sink = ClickHouseSink(astore, BatchWriter(astore))
    by_topic: dict[str, list[bytes]] = {}
    for topic, model in records(30, now=datetime.now(timezone.utc), days=0.5, seed=5):
        by_topic.setdefault(topic, []).append(model.to_bytes())

    async def feed():
        for topic, values in by_topic.items():
            await sink.handle(topic, values)
    asyncio.run(feed())
    return astore


def _run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def disk_store(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("ch") / "data"
    _seed(f"chdb://{path}").close()  # closed: the CLI opens it as the only process
    return path


def test_stats_from_the_store_directly(disk_store: Path) -> None:
    code, out, _ = _run(["stats", "--chdb-path", str(disk_store)])
    assert code == 0
    assert "By status" in out and "completed" in out and "MTTR (s)" in out and "Top alertnames" in out


def test_costs_from_the_store_directly(disk_store: Path) -> None:
    code, out, _ = _run(["costs", "--chdb-path", str(disk_store), "--group-by", "model"])
    assert code == 0 and "gpt-4o" in out and "TOTAL" in out and "Degradation level 0" in out


def test_bad_input_is_one_line_and_exit_2(disk_store: Path) -> None:
    code, _, err = _run(["stats", "--chdb-path", str(disk_store), "--from", "last tuesday"])
    assert code == 2 and "from" in err and len(err.strip().splitlines()) == 1


def test_through_the_api_of_the_process_that_owns_the_store() -> None:
    astore = _seed("chdb://memory")

    key = generate_api_key()
    settings = Settings(security={"api_keys": [{"name": "cli", "role": "sre", "hash": hash_api_key(key)}]})

    async def audit(_event) -> None:
        return None

    async def go():
        app = web.Application(middlewares=security_middlewares(settings.security, audit, settings.webhook))
        add_routes(app, astore, settings)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        api = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
        try:
            ok = await asyncio.to_thread(_run, ["costs", "--api", api, "--api-key", key, "--group-by", "cluster"])
            stats = await asyncio.to_thread(_run, ["stats", "--api", api, "--api-key", key, "--json"])
            bad = await asyncio.to_thread(_run, ["stats", "--api", api, "--api-key", key, "--top", "1000"])
            anonymous = await asyncio.to_thread(_run, ["stats", "--api", api])
            return ok, stats, bad, anonymous
        finally:
            await runner.cleanup()

    try:
        ok, stats, bad, anonymous = asyncio.run(go())
    finally:
        astore.close()
    assert ok[0] == 0 and "prod-" in ok[1] and "Budget" in ok[1]
    assert stats[0] == 0 and '"by_status"' in stats[1]
    assert bad[0] == 2 and "top" in bad[2]
    assert anonymous[0] == 2 and "credentials" in anonymous[2]


def test_an_unreachable_api_is_a_clear_error() -> None:
    code, _, err = _run(["stats", "--api", "http://127.0.0.1:9"])
    assert code == 2 and "cannot reach the analytics API" in err
