"""Every Grafana panel's SQL, macros expanded as grafana-clickhouse-datasource does, run on seeded chdb data.

The macro expansion (sinks/clickhouse/grafana.py) follows the plugin's pkg/macros/macros.go: $__timeFilter(c) -> c >= toDateTime(from)
AND c <= toDateTime(to) (seconds), $__fromTime/$__toTime -> toDateTime(epoch), the _ms variants ->
fromUnixTimestamp64Milli(ms), $__timeInterval(c) -> toStartOfInterval(toDateTime(c), INTERVAL n second),
$__interval_s -> n. Template variables are replaced as Grafana does for ${var:singlequote} and ${var}.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import re
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml

from schemas.analytics_settings import AnalyticsSettings
from sinks.clickhouse import migrations
from sinks.clickhouse.sink import ClickHouseSink
from sinks.clickhouse.grafana import expand
from sinks.clickhouse.store import AsyncStore, open_store
from sinks.clickhouse.synthetic import CLUSTERS, records
from sinks.clickhouse.writer import BatchWriter

ROOT = Path(__file__).resolve().parents[1]
GRAFANA = ROOT / "deploy" / "grafana"
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)
FROM, TO = NOW - timedelta(days=3), NOW
INTERVAL_S = 3600


def _generator():
    spec = importlib.util.spec_from_file_location("grafana_generate", GRAFANA / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _dashboards() -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in sorted((GRAFANA / "dashboards").glob("*.json"))}


@pytest.fixture(scope="module")
def store():
    s = open_store("chdb://memory")
    migrations.prepare(s, AnalyticsSettings())
    astore = AsyncStore(s)
    sink = ClickHouseSink(astore, BatchWriter(astore))
    by_topic: dict[str, list[bytes]] = {}
    for topic, model in records(300, now=NOW - timedelta(hours=1), days=2, seed=11):
        by_topic.setdefault(topic, []).append(model.to_bytes())

    async def feed():
        for topic, values in by_topic.items():
            await sink.handle(topic, values)
            await sink.handle(topic, values)  # redelivered: the panels must not double-count
    asyncio.run(feed())
    yield s
    astore.close()


def _panels():
    for uid, dash in _dashboards().items():
        for panel in dash["panels"]:
            yield pytest.param(uid, panel, id=f"{uid}:{panel['id']}:{panel['title']}")


def _expected(uid: str, title: str):
    gen = _generator()
    return next(p[4] for p in gen.DASHBOARDS[uid][1] if p[0] == title)


@pytest.mark.parametrize("uid, panel", list(_panels()))
def test_panel_sql_runs_on_the_real_schema(store, uid: str, panel: dict) -> None:
    variables = {"cluster": list(CLUSTERS), "daily_budget": ["1000"]}
    target = panel["targets"][0]
    rows = store.query(expand(target["rawSql"], FROM, TO, INTERVAL_S, variables))
    assert rows, f"{panel['title']}: no rows on seeded data"
    columns = list(rows[0])
    expected = _expected(uid, panel["title"])
    if target["queryType"] == "timeSeries":
        assert columns[0] == "time" and all(isinstance(r["time"], datetime) for r in rows)
        times = [r["time"] for r in rows]
        assert times == sorted(times), "time series must be ordered by time"
        assert any(isinstance(v, (int, float)) for v in rows[0].values()), "no numeric series"
    else:
        assert tuple(columns) == expected
    # One cluster selected (the common case) must run too.
    if "${cluster" in target["rawSql"]:
        store.query(expand(target["rawSql"], FROM, TO, INTERVAL_S, {**variables, "cluster": [CLUSTERS[0]]}))


def test_redelivery_does_not_double_count_in_panels(store) -> None:
    rows = store.query(expand(
        "SELECT uniqExact(task_id) AS tasks, count() AS n FROM tasks FINAL WHERE $__timeFilter(created_at) "
        "AND status = 'pending'", FROM, TO, INTERVAL_S, {}))
    assert rows[0]["tasks"] == rows[0]["n"] == 300


def test_dashboards_are_valid_grafana_json() -> None:
    dashboards = _dashboards()
    assert set(dashboards) == {"aetherius-overview", "aetherius-diagnosis", "aetherius-cost", "aetherius-knowledge",
                               "aetherius-security"}
    uids = [d["uid"] for d in dashboards.values()]
    assert len(set(uids)) == len(uids) and all(re.fullmatch(r"[a-zA-Z0-9_-]{1,40}", u) for u in uids)
    datasource_uid = yaml.safe_load((GRAFANA / "provisioning/datasources/clickhouse.yml").read_text())["datasources"][0]["uid"]
    for name, dash in dashboards.items():
        assert dash["uid"] == name and dash["title"] and isinstance(dash["schemaVersion"], int)
        ids = [p["id"] for p in dash["panels"]]
        assert len(set(ids)) == len(ids), f"{name}: duplicate panel ids"
        for p in dash["panels"]:
            assert p["datasource"] == {"type": "grafana-clickhouse-datasource", "uid": datasource_uid}
            g = p["gridPos"]
            assert 0 <= g["x"] and g["x"] + g["w"] <= 24 and g["h"] > 0
            for t in p["targets"]:
                assert t["datasource"]["uid"] == datasource_uid and t["editorType"] == "sql" and t["rawSql"]
                assert t["queryType"] in ("timeSeries", "table") and t["format"] in (0, 1)
        for v in dash["templating"]["list"]:
            if v["type"] == "query":
                assert v["datasource"]["uid"] == datasource_uid


def test_template_variable_queries_run(store) -> None:
    for dash in _dashboards().values():
        for v in dash["templating"]["list"]:
            if v["type"] == "query":
                rows = store.query(expand(v["query"], FROM, TO, INTERVAL_S, {}))
                assert {r["cluster_id"] for r in rows} == set(CLUSTERS)


def test_dashboard_files_match_the_generator() -> None:
    gen = _generator()
    for uid in gen.DASHBOARDS:
        assert (GRAFANA / "dashboards" / f"{uid}.json").read_text() == gen.render(uid), \
            f"{uid}.json is stale: run python deploy/grafana/generate.py"


def test_provisioning_files_are_well_formed() -> None:
    ds = yaml.safe_load((GRAFANA / "provisioning/datasources/clickhouse.yml").read_text())
    assert ds["apiVersion"] == 1 and ds["datasources"][0]["type"] == "grafana-clickhouse-datasource"
    prov = yaml.safe_load((GRAFANA / "provisioning/dashboards/aetherius.yml").read_text())
    assert prov["providers"][0]["type"] == "file" and prov["providers"][0]["options"]["path"]


def test_macro_expansion_matches_the_plugin() -> None:
    start = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    end = start + timedelta(hours=1)
    got = expand("$__timeFilter(at) AND x > $__fromTime AND $__timeInterval(at) AND $__interval_s "
                 "AND c IN (${cluster:singlequote})", start, end, 60, {"cluster": ["a", "b"]})
    f, t = int(start.timestamp()), int(end.timestamp())
    assert got == (f"at >= toDateTime({f}) AND at <= toDateTime({t}) AND x > toDateTime({f}) AND "
                   f"toStartOfInterval(toDateTime(at), INTERVAL 60 second) AND 60 AND c IN ('a','b')")
    assert date.fromtimestamp(f) <= date(2026, 1, 3)
