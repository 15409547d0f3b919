"""`GET /api/v1/audit-logs` (SRS §10) over a real aiohttp server with the real auth middleware and ClickHouse.

Seeded through the ClickHouse sink exactly as the audit topic lands (redelivered duplicates included). Runs on
embedded chdb; with `AETHERIUS_TEST_CLICKHOUSE_URL=clickhouse://user:pass@host:8123/db` the same requests run
against that ClickHouse server too and must give the same answers (no server can run on this machine kind:
Debian's clickhouse-server is too old for clickhouse-connect, and there is no Docker engine).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

import aiohttp
import pytest
from aiohttp import web

from aetherius.http.auth import hash_api_key, security_middlewares
from schemas.analytics_settings import AnalyticsSettings
from schemas.audit import AuditEvent
from schemas.settings import Settings
from sinks.clickhouse import migrations, params
from sinks.clickhouse.api import add_routes
from sinks.clickhouse.sink import ClickHouseSink
from sinks.clickhouse.store import AsyncStore, open_store
from sinks.clickhouse.writer import BatchWriter

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)
KEYS = {role: f"aek_audit_{role}_0123456789" for role in ("sre", "developer", "admin", "auditor")}
ACTORS = ("alice", "bob", "carol")
ACTIONS = ("api.request", "tool.call", "security.write_verb", "security.exec", "console.signin")
CLUSTERS = ("prod-eu", "prod-us")
RESULTS = ("ok", "rejected", "error", "allowed")


def events() -> list[AuditEvent]:
    """300 events over the last 3 days, every 15 minutes; some share a millisecond (the cursor's tie-break)."""
    out = []
    for i in range(300):
        at = NOW - timedelta(minutes=15 * i)
        out.append(AuditEvent(
            id=str(uuid.UUID(int=i)), at=at, actor=ACTORS[i % 3], role="sre", action=ACTIONS[i % 5],
            resource=f"GET /api/v1/tasks/{i}", cluster_id=CLUSTERS[i % 2], result=RESULTS[i % 4],
            reason=f"event {i}", details={"i": i, "nested": {"ok": True}}))
        if i % 50 == 0:  # a second event in the same millisecond
            out.append(AuditEvent(id=f"tie-{i}", at=at, actor="alice", action="api.request", result="ok"))
    return out


def _stores() -> list[str]:
    urls = ["chdb://memory"]
    if os.environ.get("AETHERIUS_TEST_CLICKHOUSE_URL"):
        urls.append(os.environ["AETHERIUS_TEST_CLICKHOUSE_URL"])
    return urls


@pytest.fixture(scope="module", params=_stores(), ids=lambda u: u.split(":")[0])
def store(request):
    store = open_store(request.param)
    migrations.prepare(store, AnalyticsSettings())
    if not request.param.startswith("chdb"):
        store.command("TRUNCATE TABLE audit")
    astore = AsyncStore(store)
    sink = ClickHouseSink(astore, BatchWriter(astore))
    batch = [e.to_bytes() for e in events()]
    asyncio.run(sink.handle("audit", batch + batch[:40]))  # at-least-once: redelivered records
    yield astore
    astore.close()


def call(astore, path: str, role: str | None = "auditor") -> tuple[int, dict]:
    settings = Settings(security={"api_keys": [{"name": f"k-{r}", "role": r, "hash": hash_api_key(k)}
                                               for r, k in KEYS.items()]})

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
                headers = {"X-API-Key": KEYS[role]} if role else {}
                async with http.get(f"http://127.0.0.1:{port}{path}", headers=headers) as resp:
                    return resp.status, await resp.json()
        finally:
            await runner.cleanup()
    return asyncio.run(go())


WINDOW = "start=2026-11-17T00:00:00Z&end=2026-11-21"


def walk(astore, query: str, limit: int) -> list[dict]:
    items, cursor, pages = [], None, 0
    while True:
        path = f"/api/v1/audit-logs?{query}&limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        status, body = call(astore, path)
        assert status == 200, body
        items += body["items"]
        pages += 1
        cursor = body["next_cursor"]
        assert len(body["items"]) == limit or cursor is None
        if cursor is None:
            return items
        assert pages < 1000


def test_paging_returns_every_row_once_newest_first(store) -> None:
    items = walk(store, WINDOW, limit=37)
    assert len(items) == 306 and len({i["id"] for i in items}) == 306  # duplicates collapsed, ties not lost
    keys = [(i["at"], i["id"]) for i in items]
    assert keys == sorted(keys, reverse=True)
    assert items[0]["details"] in ({"i": 0, "nested": {"ok": True}}, {})  # details come back as an object
    assert {"id", "at", "actor", "role", "action", "resource", "cluster_id", "result", "reason", "duration_ms",
            "source_ip", "details"} <= set(items[0])


def test_filters_combine(store) -> None:
    expected = [e for e in events() if e.actor == "bob" and e.cluster_id == "prod-us" and e.result == "rejected"
                and e.action.startswith("security.")]
    items = walk(store, f"{WINDOW}&actor=bob&cluster=prod-us&result=rejected&action=security.*", limit=5)
    assert sorted(i["id"] for i in items) == sorted(e.id for e in expected) and expected
    exact = walk(store, f"{WINDOW}&action=console.signin&actor=alice", limit=100)
    assert exact and all(i["action"] == "console.signin" and i["actor"] == "alice" for i in exact)
    status, body = call(store, "/api/v1/audit-logs?start=2026-11-20T11:00:00%2B01:00&end=2026-11-20T11:31:00Z")
    assert status == 200 and [i["reason"] for i in body["items"]] == [f"event {n}" for n in range(2, 9)]
    assert body["from"] == "2026-11-20T10:00:00Z" and body["to"] == "2026-11-20T11:31:00Z"
    _, injected = call(store, f"/api/v1/audit-logs?{WINDOW}&actor={quote(chr(39) + ' OR 1=1 --')}")
    assert injected["items"] == []  # bound as a parameter, never spliced into SQL


def test_default_window_is_the_last_day(store) -> None:
    status, body = call(store, "/api/v1/audit-logs?limit=1000")
    assert status == 200 and body["to"] == "2026-11-20T12:00:00Z" and body["from"] == "2026-11-19T12:00:00Z"
    assert len(body["items"]) == 96 + 1  # i = 1..96 (the end is exclusive, the start is not) + the tie at i = 50


@pytest.mark.parametrize("query, param", [
    ("start=yesterday", "start"), ("start=2026-11-20T08:00:00", "start"),  # no offset: refused
    ("end=2026-13-40", "end"), ("start=2026-11-20&end=2026-11-19", "start"), ("result=maybe", "result"),
    ("limit=0", "limit"), ("limit=1001", "limit"), ("limit=ten", "limit"), ("cursor=not-a-cursor", "cursor"),
    ("cursor=" + "A" * 2000, "cursor"), ("action=se*curity", "action"), ("actor=" + "x" * 300, "actor"),
    ("user=alice", "user"), ("start=1700000000", "start"),
])
def test_bad_parameters_are_400_naming_the_parameter(store, query: str, param: str) -> None:
    status, body = call(store, f"/api/v1/audit-logs?{query}")
    assert status == 400 and body["param"] == param and body["error"] == "bad_request", body


def test_who_may_read_it(store) -> None:
    for role, want in (("auditor", 200), ("admin", 200), ("sre", 403), ("developer", 403), (None, 401)):
        status, body = call(store, f"/api/v1/audit-logs?{WINDOW}&limit=1", role)
        assert status == want, (role, body)
    assert call(store, f"/api/v1/audit-logs?{WINDOW}", "sre")[1]["permission"] == "audit:read"


def test_rfc3339_parsing_is_strict_and_dates_include_their_day() -> None:
    assert params.parse_rfc3339("end", "2026-11-20", end=True) == datetime(2026, 11, 21, tzinfo=timezone.utc)
    assert params.parse_rfc3339("start", "2026-11-20") == datetime(2026, 11, 20, tzinfo=timezone.utc)
    assert params.parse_rfc3339("start", "2026-11-20t10:00:00.5-02:00") == \
        datetime(2026, 11, 20, 12, 0, 0, 500000, tzinfo=timezone.utc)
    for bad in ("2026-11-20T10:00Z", "20261120", "2026-11-20T25:00:00Z", ""):
        with pytest.raises(params.ParamError):
            params.parse_rfc3339("start", bad)
    cursor = params.decode_cursor(params.encode_cursor(params.AuditCursor(at=NOW, id="x")))
    assert cursor.at == NOW and cursor.id == "x"


SEED_DISK_STORE = """
import asyncio, sys
from datetime import datetime, timedelta, timezone
from schemas.analytics_settings import AnalyticsSettings
from schemas.audit import AuditEvent
from sinks.clickhouse import migrations
from sinks.clickhouse.sink import ClickHouseSink
from sinks.clickhouse.store import AsyncStore, open_store
from sinks.clickhouse.writer import BatchWriter
s = open_store("chdb://" + sys.argv[1])
migrations.prepare(s, AnalyticsSettings())
astore = AsyncStore(s)
recent = [AuditEvent(actor="dora", action="console.signin", result="ok", reason="signed in",
                     at=datetime.now(timezone.utc) - timedelta(minutes=m)) for m in range(3)]
asyncio.run(ClickHouseSink(astore, BatchWriter(astore)).handle("audit", [e.to_bytes() for e in recent]))
astore.close()
"""


def test_cli_prints_the_log_and_names_a_bad_parameter(tmp_path) -> None:
    """`aetherius audit` on a store named on the command line (the API path is the same `fetch` as stats/costs)."""
    import subprocess
    import sys

    path = tmp_path / "ch"
    # Seeded in a process of its own: chdb's engine is one per process and this one may hold another path.
    subprocess.run([sys.executable, "-c", SEED_DISK_STORE, str(path)], check=True, timeout=120)
    cli = [sys.executable, "-m", "aetherius.cli", "audit", "--chdb-path", str(path)]
    out = subprocess.run(cli + ["--actor", "dora", "--limit", "2"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("console.signin") == 2 and "dora" in out.stdout and "--cursor " in out.stdout
    bad = subprocess.run(cli + ["--start", "2026-11-20T08:00:00"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stderr.strip().startswith("aetherius audit: start: not an RFC 3339 time")
