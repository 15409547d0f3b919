"""The ClickHouse sink on the real embedded engine (chdb): migrations, mapping, idempotency, bad input, retries."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from schemas.analytics_settings import AnalyticsSettings
from schemas.audit import AuditEvent, CostRecord
from schemas.deadletter import DeadLetter
from schemas.feedback import UserFeedback
from schemas.task import DiagnosticTask, TaskStatus, TaskStatusChange
from sinks.clickhouse import migrations, rows
from sinks.clickhouse.sink import ClickHouseSink
from sinks.clickhouse.store import AsyncStore, StoreError, client_kwargs, open_store
from sinks.clickhouse.synthetic import records
from sinks.clickhouse.writer import BatchWriter, backoff

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def store():
    s = open_store("chdb://memory")
    migrations.prepare(s, AnalyticsSettings())
    yield s
    s.close()


def _sink(store, **kw) -> ClickHouseSink:
    astore = AsyncStore(store)
    return ClickHouseSink(astore, BatchWriter(astore, **kw))


def _by_topic(pairs):
    out: dict[str, list[bytes]] = {}
    for topic, model in pairs:
        out.setdefault(topic, []).append(model.to_bytes())
    return out


def _feed(sink: ClickHouseSink, batches: dict[str, list[bytes]]) -> None:
    async def go():
        for topic, values in batches.items():
            await sink.handle(topic, values)
    asyncio.run(go())


def _count(store, sql: str) -> int:
    return int(store.query(sql)[0]["n"])


# ------------------------------------------------------------------------------------------ migrations

def test_migrations_create_every_table_and_are_idempotent(store) -> None:
    tables = {r["name"] for r in store.query("SELECT name FROM system.tables WHERE database = currentDatabase()")}
    assert set(rows.COLUMNS) | {"schema_migrations"} <= tables
    assert migrations.migrate(store) == []  # second start-up: nothing to do
    assert sorted(r["version"] for r in store.query("SELECT version FROM schema_migrations FINAL")) == [1, 2]


def test_row_columns_match_the_ddl(store) -> None:
    for table, columns in rows.COLUMNS.items():
        ddl = [r["name"] for r in store.query(f"DESCRIBE TABLE {table}")]
        assert tuple(c for c in ddl if c != "inserted_at") == columns, table


def test_ddl_uses_monthly_partitions_lowcardinality_and_ttl(store) -> None:
    for r in store.query("SELECT name, engine_full, partition_key FROM system.tables "
                         "WHERE database = currentDatabase() AND name != 'schema_migrations'"):
        assert r["engine_full"].startswith("ReplacingMergeTree"), r["name"]
        assert r["partition_key"].startswith("toYYYYMM("), r["name"]
        assert "TTL toDateTime(" in r["engine_full"] and "toIntervalDay(365)" in r["engine_full"], r["name"]
    types = {r["name"]: r["type"] for r in store.query("DESCRIBE TABLE tasks")}
    assert all(types[c] == "LowCardinality(String)" for c in ("cluster_id", "namespace", "status"))


def test_an_edited_applied_migration_stops_start_up(tmp_path: Path) -> None:
    (tmp_path / "0001_a.sql").write_text("CREATE TABLE IF NOT EXISTS x (a UInt8) ENGINE = MergeTree ORDER BY a;\n")
    s = open_store("chdb://memory")
    try:
        assert migrations.migrate(s, tmp_path) == [1]
        (tmp_path / "0001_a.sql").write_text("CREATE TABLE IF NOT EXISTS x (a UInt16) ENGINE = MergeTree ORDER BY a;\n")
        with pytest.raises(migrations.MigrationError, match="changed after it was applied"):
            migrations.migrate(s, tmp_path)
        (tmp_path / "0001_a.sql").write_text("CREATE TABLE IF NOT EXISTS x (a UInt8) ENGINE = MergeTree ORDER BY a;\n")
        (tmp_path / "0002_b.sql").write_text("CREATE TABLE IF NOT EXISTS y (a UInt8) ENGINE = MergeTree ORDER BY a;\n")
        assert migrations.migrate(s, tmp_path) == [2]
    finally:
        s.close()


def test_plan_refuses_a_database_newer_than_the_code() -> None:
    m = migrations.Migration(1, "a", "SELECT 1")
    with pytest.raises(migrations.MigrationError, match="newer version"):
        migrations.plan([m], {1: m.checksum, 2: "x"})


def test_retention_follows_settings_and_audit_can_be_kept_forever(store) -> None:
    changed = migrations.apply_retention(store, AnalyticsSettings(history_retention_days=400, audit_retention_days=0))
    assert any("tasks MODIFY TTL" in s and "400 DAY" in s for s in changed)
    assert "ALTER TABLE audit REMOVE TTL" in changed
    engines = {r["name"]: r["engine_full"] for r in store.query(
        "SELECT name, engine_full FROM system.tables WHERE database = currentDatabase()")}
    assert "toIntervalDay(400)" in engines["costs"] and " TTL " not in engines["audit"]
    assert migrations.apply_retention(store, AnalyticsSettings(history_retention_days=400, audit_retention_days=0)) == []


def test_split_statements_ignores_comments() -> None:
    sql = "-- a comment; with a semicolon\nCREATE TABLE a (x UInt8) ENGINE = Log;\n\nSELECT 1;\n"
    assert migrations.split_statements(sql) == ["CREATE TABLE a (x UInt8) ENGINE = Log", "SELECT 1"]


# ------------------------------------------------------------------------------------------ idempotency

def test_the_same_batch_twice_counts_once(store) -> None:
    """At-least-once delivery: a redelivered batch lands as duplicate rows, and every read collapses them."""
    batches = _by_topic(records(40, now=NOW, seed=1))
    sink = _sink(store)
    _feed(sink, batches)
    first = {t: _count(store, f"SELECT count() AS n FROM {t} FINAL") for t in rows.COLUMNS}
    spend = store.query("SELECT sum(cost_usd) AS s FROM costs FINAL")[0]["s"]
    _feed(sink, batches)  # redelivery of everything
    raw_costs = _count(store, "SELECT count() AS n FROM costs")
    assert raw_costs in (first["costs"], 2 * first["costs"])  # duplicates may or may not be merged yet
    assert {t: _count(store, f"SELECT count() AS n FROM {t} FINAL") for t in rows.COLUMNS} == first
    assert store.query("SELECT sum(cost_usd) AS s FROM costs FINAL")[0]["s"] == pytest.approx(spend)
    assert first["tasks"] == 40 * 3 and first["steps"] == 40 * 2 and first["costs"] == 40 and first["reports"] == 40
    store.command("OPTIMIZE TABLE costs FINAL")
    assert _count(store, "SELECT count() AS n FROM costs") == first["costs"]


def test_a_later_vote_by_the_same_user_replaces_the_first(store) -> None:
    sink = _sink(store)
    early = UserFeedback(id="t1:alice", task_id="t1", user_id="alice", rating=1, timestamp=NOW)
    late = UserFeedback(id="t1:alice", task_id="t1", user_id="alice", rating=5, timestamp=NOW + timedelta(minutes=1))
    _feed(sink, {"feedback": [early.to_bytes()]})
    _feed(sink, {"feedback": [late.to_bytes(), early.to_bytes()]})  # the stale one redelivered after
    got = store.query("SELECT argMax(rating, timestamp) AS r, count() AS n FROM feedback FINAL GROUP BY id")
    assert got == [{"r": 5, "n": 1}]


# ------------------------------------------------------------------------------------------ task.state

def test_a_bare_status_change_takes_the_tasks_details_from_the_store(store) -> None:
    sink = _sink(store)
    task = DiagnosticTask(id="t9", cluster_id="prod-eu", namespace="payments", priority="P3", created_at=NOW)
    _feed(sink, {"task.state": [task.to_bytes()]})
    shed = TaskStatusChange(task_id="t9", status=TaskStatus.FAILED, reason="shed: queue depth 101",
                            at=NOW + timedelta(seconds=1))
    _feed(sink, {"task.state": [shed.to_bytes()]})
    got = store.query("SELECT status, cluster_id, namespace, priority, status_reason, created_at FROM tasks FINAL "
                      "ORDER BY event_time, status")
    assert [r["status"] for r in got] == ["pending", "failed"]
    assert got[1]["cluster_id"] == "prod-eu" and got[1]["namespace"] == "payments" and got[1]["priority"] == "P3"
    assert got[1]["status_reason"].startswith("shed") and got[1]["created_at"] == got[0]["created_at"]


def test_who_asked_for_a_manual_task_is_on_its_history_rows(store) -> None:
    from schemas.requester import Requester

    sink = _sink(store)
    manual = DiagnosticTask(id="m1", cluster_id="prod-eu", priority="P2", created_at=NOW,
                            requested_by=Requester(subject="alice", role="developer", via="api"))
    auto = DiagnosticTask(id="a1", cluster_id="prod-eu", priority="P2", created_at=NOW)
    _feed(sink, {"task.state": [manual.to_bytes(), auto.to_bytes()]})
    done = TaskStatusChange(task_id="m1", status=TaskStatus.CANCELLED, at=NOW + timedelta(seconds=1))
    _feed(sink, {"task.state": [done.to_bytes()]})
    got = store.query("SELECT task_id, status, requested_by, requester_role FROM tasks FINAL ORDER BY task_id, event_time")
    assert [(r["task_id"], r["status"], r["requested_by"], r["requester_role"]) for r in got] == [
        ("a1", "pending", "", ""), ("m1", "pending", "alice", "developer"), ("m1", "cancelled", "alice", "developer")]


def test_a_status_change_in_the_same_batch_as_its_snapshot(store) -> None:
    sink = _sink(store)
    started = NOW + timedelta(seconds=5)
    task = DiagnosticTask(id="t10", cluster_id="c", priority="P1", created_at=NOW, status=TaskStatus.RUNNING,
                          started_at=started)
    cancel = TaskStatusChange(task_id="t10", status=TaskStatus.CANCELLED, at=started + timedelta(seconds=10))
    _feed(sink, {"task.state": [task.to_bytes(), cancel.to_bytes()]})
    got = store.query("SELECT status, cluster_id, duration_seconds FROM tasks FINAL WHERE status = 'cancelled'")
    assert got == [{"status": "cancelled", "cluster_id": "c", "duration_seconds": 10.0}]


# ------------------------------------------------------------------------------------------ bad input

def test_invalid_records_are_skipped_counted_and_the_rest_stored(store) -> None:
    from sinks.clickhouse.metrics import RECORDS

    before = RECORDS.labels(topic="costs", outcome="invalid")._value.get()
    good = CostRecord(id="c1", task_id="t", model="gpt-4o", cost_usd=0.5, at=NOW).to_bytes()
    values = [b"not json", b'{"id": "c2"}', None, good, b'{"id":"c3","task_id":"t","model":"m","cost_usd":"x"}']
    result = asyncio.run(_sink(store).handle("costs", values))
    assert result.written == {"costs": 1}
    assert RECORDS.labels(topic="costs", outcome="invalid")._value.get() - before == 4
    assert asyncio.run(_sink(store).handle("task.state", [b"[]", b'{"kind":"status_change"}'])).written == {}


def test_secrets_in_free_text_never_reach_the_store(store) -> None:
    event = AuditEvent(action="api.request", reason="login with password=hunter2",
                       details={"headers": {"Authorization": "Bearer abcdefghijklmnopqrstuvwxyz0123456789"}})
    _feed(_sink(store), {"audit": [event.to_bytes()]})
    got = store.query("SELECT reason, details FROM audit")[0]
    assert "hunter2" not in got["reason"] and "abcdefghijklmnopqrstuvwxyz0123456789" not in got["details"]


# ------------------------------------------------------------------------------------------ derived rows

def test_audit_events_feed_knowledge_changes_and_dropped_alerts() -> None:
    kb = AuditEvent(id="k1", action="knowledge.disable", resource="knowledge/rb-1",
                    details={"version": 3, "confidence_before": 0.35, "confidence_after": 0.28, "enabled": False})
    out = rows.audit_rows(kb)
    assert out["knowledge_changes"][0] | {"at": None} == {
        "id": "k1", "at": None, "entry_id": "rb-1", "change": "disable", "actor": "system", "version": 3,
        "confidence_before": 0.35, "confidence_after": 0.28, "enabled": False, "reason": ""}
    shed1 = rows.audit_rows(AuditEvent(action="task.shed", resource="task/t1", result="rejected"))
    shed2 = rows.audit_rows(AuditEvent(action="task.shed", resource="task/t1", result="rejected"))
    assert shed1["alerts_dropped"][0]["id"] == shed2["alerts_dropped"][0]["id"] == "shed:t1"  # replay-safe
    rejected = rows.audit_rows(AuditEvent(action="webhook.accept", result="rejected", reason="bad payload"))
    assert rejected["alerts_dropped"][0]["kind"] == "rejected"
    assert "alerts_dropped" not in rows.audit_rows(AuditEvent(action="tool.call", result="rejected"))


def test_deadletter_identity_is_its_source_position() -> None:
    dl = DeadLetter.of(topic="x.signals", key=b"k", value=b"v" * 30, error="boom", stage="normalize",
                       partition=2, offset=17)
    row = rows.deadletter_rows(dl, dl.to_bytes())["deadletters"][0]
    assert row["id"] == "x.signals:2:17" and row["value_bytes"] == 30


# ------------------------------------------------------------------------------------------ writer

class _Flaky:
    """A real store that fails the first `fail` inserts, and reports itself down while `down`."""

    def __init__(self, store, fail: int, down: bool = False) -> None:
        self.store, self.fail, self.down, self.calls = store, fail, down, 0

    def insert(self, table, columns, values):
        self.calls += 1
        if self.fail > 0:
            self.fail -= 1
            raise ConnectionError("store went away")
        self.store.insert(table, columns, values)

    def ping(self) -> bool:
        return not self.down

    def query(self, *a):
        return self.store.query(*a)

    def close(self) -> None:
        pass


def test_the_writer_retries_until_the_store_is_back(store) -> None:
    flaky = _Flaky(store, fail=5, down=True)
    sleeps: list[float] = []

    async def sleep(s: float) -> None:
        sleeps.append(s)
        if len(sleeps) == 5:
            flaky.down = False

    writer = BatchWriter(AsyncStore(flaky), retries=2, base_seconds=0.5, max_seconds=2.0, sleep=sleep)
    cost = rows.cost_rows(CostRecord(id="c1", task_id="t", model="m", at=NOW))
    result = asyncio.run(writer.write(cost))
    assert result.written == {"costs": 1} and result.rejected == {} and flaky.calls == 6
    assert sleeps == [0.5, 1.0, 2.0, 2.0, 2.0]  # past the retries it waits for the store rather than drop
    assert _count(store, "SELECT count() AS n FROM costs") == 1


def test_a_row_a_healthy_store_refuses_is_dropped_alone(store) -> None:
    writer = BatchWriter(AsyncStore(store), retries=0, sleep=lambda s: asyncio.sleep(0))
    good = rows.cost_rows(CostRecord(id="ok", task_id="t", model="m", at=NOW))["costs"][0]
    bad = dict(good, id="bad", prompt_tokens="lots")  # a schema-breaking row (the mapping never makes one)
    result = asyncio.run(writer.write({"costs": [good, bad]}))
    assert result.written == {"costs": 1} and result.rejected == {"costs": 1}


def test_backoff_is_exponential_and_capped() -> None:
    assert [backoff(a, 0.5, 3.0) for a in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]


# ------------------------------------------------------------------------------------------ store URLs

def test_store_urls() -> None:
    assert client_kwargs("chdb:///var/lib/ch") == {"dsn": "chdb:///var/lib/ch"}
    assert client_kwargs("chdb://memory") == {"dsn": "chdb://memory"}
    assert client_kwargs("clickhouse://bob:p%40ss@ch.local/analytics") == {
        "host": "ch.local", "port": 8123, "interface": "http", "username": "bob", "password": "p@ss",
        "database": "analytics"}
    tls = client_kwargs("clickhouses://ch.local:9443")
    assert tls["interface"] == "https" and tls["port"] == 9443 and tls["username"] == "default"
    assert client_kwargs("clickhouse://h?secure=true")["port"] == 8443
    for bad in ("postgres://h/db", "clickhouse:///nohost", "chdb://host/path"):
        with pytest.raises(StoreError):
            client_kwargs(bad)


def test_a_second_process_cannot_open_an_owned_data_dir(tmp_path: Path) -> None:
    """Why the sink process owns the embedded store: chdb locks its data dir to one process."""
    import subprocess
    import sys

    path = tmp_path / "ch"
    owner = open_store(f"chdb://{path}")
    try:
        code = ("from sinks.clickhouse.store import open_store, StoreError\n"
                f"try:\n    open_store('chdb://{path}')\nexcept StoreError as e:\n    print('refused', e)\n")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                             cwd=Path(__file__).resolve().parents[1])
        assert "refused" in out.stdout, out.stdout + out.stderr
    finally:
        owner.close()
