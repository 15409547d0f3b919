"""The analytics API (costs, budget, history, stats) over a real aiohttp server and the real chdb engine."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import aiohttp
import pytest
from aiohttp import web

from schemas.analytics_settings import AnalyticsSettings
from schemas.audit import CostRecord
from schemas.settings import Settings
from sinks.clickhouse import migrations, params, queries
from sinks.clickhouse.sink import ClickHouseSink
from aetherius.http.auth import generate_api_key, hash_api_key, security_middlewares
from sinks.clickhouse.api import add_routes
from sinks.clickhouse.store import AsyncStore, open_store
from sinks.clickhouse.synthetic import records
from sinks.clickhouse.writer import BatchWriter

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def seeded():
    store = open_store("chdb://memory")
    migrations.prepare(store, AnalyticsSettings())
    astore = AsyncStore(store)
    sink = ClickHouseSink(astore, BatchWriter(astore))
    by_topic: dict[str, list[bytes]] = {}
    for topic, model in records(120, now=NOW, days=3, seed=3):
        by_topic.setdefault(topic, []).append(model.to_bytes())
    # Today's spend for the budget: 850 $ of a 1000 $ day -> degradation level 1.
    by_topic["costs"].append(CostRecord(id="big", task_id="task-3-0", model="gpt-4o", cost_usd=850.0,
                                        at=NOW - timedelta(minutes=5)).to_bytes())

    async def feed():
        for topic, values in by_topic.items():
            await sink.handle(topic, values)
    asyncio.run(feed())
    yield astore
    astore.close()


KEY = generate_api_key()


def _call(astore, path: str, key: str | None = KEY) -> tuple[int, dict]:
    """Through the real auth middleware, as the sink role serves it, with an auditor-free admin key."""
    settings = Settings(security={"api_keys": [{"name": "t", "role": "admin", "hash": hash_api_key(KEY)}]})

    async def audit(_event) -> None:
        return None

    async def go():
        app = web.Application(middlewares=security_middlewares(settings.security, audit, settings.webhook))
        add_routes(app, astore, settings, clock=lambda: NOW)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        try:
            async with aiohttp.ClientSession() as http:
                headers = {"X-API-Key": key} if key else {}
                async with http.get(f"http://127.0.0.1:{port}{path}", headers=headers) as resp:
                    return resp.status, await resp.json()
        finally:
            await runner.cleanup()
    return asyncio.run(go())


def test_costs_grouped_with_totals(seeded) -> None:
    for group_by in ("day", "cluster", "task", "model", "priority", "category"):
        status, body = _call(seeded, f"/api/v1/costs?group_by={group_by}&from=2026-11-16T00:00:00Z")
        assert status == 200, body
        assert body["rows"] and {"key", "prompt_tokens", "completion_tokens", "tokens", "cost_usd", "calls"} <= set(body["rows"][0])
        if group_by != "task":  # task grouping is capped at 1000 rows; the others cover everything
            assert sum(r["cost_usd"] for r in body["rows"]) == pytest.approx(body["totals"]["cost_usd"])
            assert sum(r["tokens"] for r in body["rows"]) == body["totals"]["tokens"]
    assert body["totals"]["calls"] == 121


def test_budget_reports_spend_limits_and_degradation(seeded) -> None:
    status, body = _call(seeded, "/api/v1/budget")
    assert status == 200
    assert body["today"]["limit_usd"] == 1000.0 and body["month"]["limit_usd"] == 25000.0
    assert 850.0 <= body["today"]["spent_usd"] < 860.0 and body["month"]["spent_usd"] >= body["today"]["spent_usd"]
    assert body["degradation"]["level"] == 1 and "daily budget usage" in body["degradation"]["reasons"][0]
    assert body["today"]["since"] == "2026-11-20T00:00:00Z" and body["month"]["since"] == "2026-11-01T00:00:00Z"


def test_history_filters_and_pages(seeded) -> None:
    status, body = _call(seeded, "/api/v1/history?from=2026-11-16T00:00:00Z&limit=10")
    assert status == 200 and body["total"] == 120 and len(body["items"]) == 10
    item = body["items"][0]
    assert {"task_id", "status", "cluster_id", "namespace", "alertname", "category", "confidence", "created_at"} <= set(item)
    assert item["status"] in ("completed", "failed", "timeout")  # the latest status, not the first
    times = [i["created_at"] for i in body["items"]]
    assert times == sorted(times, reverse=True)
    _, page2 = _call(seeded, "/api/v1/history?from=2026-11-16T00:00:00Z&limit=10&offset=10")
    assert not {i["task_id"] for i in page2["items"]} & {i["task_id"] for i in body["items"]}
    _, prod = _call(seeded, "/api/v1/history?from=2026-11-16T00:00:00Z&cluster=prod-eu&namespace=payments&limit=500")
    assert prod["total"] == len(prod["items"]) > 0
    assert all(i["cluster_id"] == "prod-eu" and i["namespace"] == "payments" for i in prod["items"])
    _, failed = _call(seeded, "/api/v1/history?from=2026-11-16T00:00:00Z&status=failed&limit=500")
    assert all(i["status"] == "failed" for i in failed["items"])
    category = item["category"]
    _, cat = _call(seeded, f"/api/v1/history?from=2026-11-16T00:00:00Z&category={category}&limit=500")
    assert cat["total"] >= 1 and all(i["category"] == category for i in cat["items"])
    _, none = _call(seeded, "/api/v1/history?from=2026-11-16T00:00:00Z&alertname=x'%20OR%201=1%20--")
    assert none["total"] == 0  # parameters are bound, never spliced into SQL


def test_stats(seeded) -> None:
    status, body = _call(seeded, "/api/v1/stats?from=2026-11-16T00:00:00Z")
    assert status == 200
    assert sum(r["tasks"] for r in body["by_status"]) == 120
    assert sum(r["reports"] for r in body["by_category"]) == 120
    d = body["durations"]
    assert 0 < d["duration_p50_seconds"] <= d["duration_p95_seconds"] <= 300 and d["mttr_seconds"] > 0
    assert 1 <= body["feedback"]["avg_rating"] <= 5 and body["feedback"]["votes"] > 0
    assert body["top_alertnames"][0]["tasks"] >= body["top_alertnames"][-1]["tasks"]


def test_empty_window_gives_nulls_not_nan(seeded) -> None:
    status, body = _call(seeded, "/api/v1/stats?from=2020-01-01T00:00:00Z&to=2020-01-02T00:00:00Z")
    assert status == 200 and body["by_status"] == [] and body["durations"]["duration_p50_seconds"] is None


@pytest.mark.parametrize("query, param", [
    ("/api/v1/costs?group_by=week", "group_by"),
    ("/api/v1/costs?from=yesterday", "from"),
    ("/api/v1/costs?from=2026-11-20T00:00:00Z&to=2026-11-19T00:00:00Z", "from"),
    ("/api/v1/history?limit=0", "limit"),
    ("/api/v1/history?limit=abc", "limit"),
    ("/api/v1/history?offset=-1", "offset"),
    ("/api/v1/history?status=exploded", "status"),
    ("/api/v1/history?category=aliens", "category"),
    ("/api/v1/stats?colour=blue", "colour"),
    ("/api/v1/budget?x=1", "x"),
])
def test_bad_params_are_400_naming_the_param(seeded, query: str, param: str) -> None:
    status, body = _call(seeded, query)
    assert status == 400 and body["param"] == param and body["error"] == "bad_request"


def test_parse_time_forms() -> None:
    assert params.parse_time("from", "2026-11-20T10:00:00") == datetime(2026, 11, 20, 10, tzinfo=timezone.utc)
    assert params.parse_time("from", "1700000000") == datetime.fromtimestamp(1700000000, timezone.utc)
    assert params.parse_time("to", "2026-11-20T10:00:00+02:00").astimezone(timezone.utc).hour == 8


def test_degradation_levels_follow_srs_5_9_6() -> None:
    level = lambda **kw: queries.degradation_level(queries.DegradationInputs(**kw))[0]  # noqa: E731
    assert level(daily_budget_usage_pct=79.9) == 0
    assert level(daily_budget_usage_pct=80) == 1
    assert level(daily_budget_usage_pct=10, queue_depth=81) == 1
    assert level(daily_budget_usage_pct=10, queue_depth=80) == 0
    assert level(daily_budget_usage_pct=95) == 2
    assert level(daily_budget_usage_pct=10, ai_service_health=49) == 2
    assert level(daily_budget_usage_pct=10, ai_service_health=19) == 3
    assert level(daily_budget_usage_pct=10, system_error_rate_pct=51) == 3


def test_user_text_only_travels_as_parameters() -> None:
    f = queries.HistoryFilter(window=queries.Window(NOW - timedelta(days=1), NOW), cluster="a'b", alertname="x")
    sql, bound = queries.history(f)
    assert "a'b" not in sql and bound["cluster"] == "a'b" and "{cluster:String}" in sql


def test_analytics_settings_defaults_are_sane() -> None:
    a = AnalyticsSettings()
    assert a.api_port == 8081 and a.history_retention_days == 365 and a.audit_retention_days == 365
    assert SimpleNamespace(analytics=a).analytics.chdb_path.name == "clickhouse"


def test_every_analytics_route_needs_credentials(seeded) -> None:
    for path in ("/api/v1/costs", "/api/v1/budget", "/api/v1/history", "/api/v1/stats"):
        assert _call(seeded, path, key=None)[0] == 401
        assert _call(seeded, path, key="aek_wrong")[0] == 401
