"""SRS §5.8.5 response 1, "temporarily disable the related user permission": the parts of a suspension.

- the pure decisions (in force or not, whom a security event suspends, a lift) and the in-memory list;
- the auth layer over real HTTP (aiohttp test server, real API keys): a suspended key gets 403 `suspended` and is
  audited, other keys and the probes are untouched, admins list and lift;
- the follower on the real broker: reads the compacted topic from the beginning, follows lifts and tombstones,
  skips bad records; with Kafka down the server still starts and serves (fail open).
The whole path across processes (worker -> topic -> bridge) is tests/test_suspensions_kafka.py.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime, timedelta, timezone

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import ValidationError

from aetherius.http.auth import hash_api_key, security_middlewares
from aetherius.http.health import add_health_routes
from aetherius.http.rbac import Principal, require
from aetherius.http.suspensions import SUSPENSIONS, add_suspension_routes, follow_suspensions, principal_subject
from aetherius.localkafka import free_port
from schemas.audit import AuditEvent
from schemas.requester import Requester
from schemas.security_settings import SecuritySettings
from schemas.settings import KafkaSettings, Settings
from schemas.signal import Priority
from schemas.suspension import Suspension, is_suspended, lifted, suspension_for
from schemas.task import DiagnosticTask, ResourceInfo, TaskContext
from streams.admin import ensure_topics
from streams.suspensions import SuspensionBook, SuspensionFollower, read_suspensions, requester_suspender
from streams.webhook import requester_of
from tests.kafkautil import produce, run

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)
KEYS = {role: f"aek_susp_{role}_0123456789abcdef" for role in ("sre", "developer", "admin", "auditor")}


def person(subject: str = "alice", via: str = "api") -> Requester:
    return Requester(subject=subject, role="sre", via=via)  # type: ignore[arg-type]


def entry(subject: str = "alice", minutes: float = 15, **kw) -> Suspension:
    return Suspension(subject=subject, until=NOW + timedelta(minutes=minutes), security_event="privilege_escalation",
                      task_id="t-1", created_at=NOW, **kw)


# ---- pure ---------------------------------------------------------------------------------------------------

def test_in_force_means_present_not_lifted_and_before_until():
    assert not is_suspended(None, NOW)
    e = entry(minutes=15)
    assert is_suspended(e, NOW) and is_suspended(e, NOW + timedelta(minutes=14, seconds=59))
    assert not is_suspended(e, e.until) and not is_suspended(e, NOW + timedelta(hours=1))  # runs out by itself
    gone = lifted(e, "root-admin", NOW + timedelta(minutes=1))
    assert not is_suspended(gone, NOW + timedelta(minutes=2))
    assert (gone.lifted_by, gone.lifted_at, gone.until) == ("root-admin", NOW + timedelta(minutes=1), e.until)


def test_only_a_person_who_asked_is_suspended_and_zero_turns_it_off():
    made = suspension_for(person(via="cli"), seconds=900, now=NOW, security_event="destructive_operation",
                          reason="x" * 5000, task_id="t-9", cluster_id="eu-1", audit_event_id="a-1")
    assert made is not None
    assert (made.subject, made.until, made.security_event, made.task_id, made.cluster_id, made.audit_event_id) == \
        ("alice", NOW + timedelta(seconds=900), "destructive_operation", "t-9", "eu-1", "a-1")
    assert len(made.reason) == 1000 and made.created_at == NOW and not made.lifted_by
    assert suspension_for(None, seconds=900, now=NOW, security_event="x") is None  # alert/event: the service role
    assert suspension_for(person(), seconds=0, now=NOW, security_event="x") is None
    # Round trip through the wire format, as every reader sees it.
    assert Suspension.from_bytes(made.to_bytes()) == made


def test_the_name_refused_is_the_name_a_task_carries():
    for name, method in (("test-sre", "api_key"), ("a" * 300, "oidc"), ("", "oidc")):
        p = Principal(name=name, role="sre", method=method)
        assert principal_subject(p) == requester_of(p).subject
    assert principal_subject(Principal(name="", role="sre", method="oidc")) == "unnamed-oidc"


def test_only_people_are_refused_never_the_alertmanager_credential():
    from aiohttp.test_utils import make_mocked_request

    from aetherius.http.suspensions import active_suspension

    book = SuspensionBook()
    book.put(Suspension(subject="alertmanager", until=datetime.now(timezone.utc) + timedelta(minutes=5)))
    app = web.Application()
    app[SUSPENSIONS] = book
    request = make_mocked_request("GET", "/api/v1/tasks", app=app)
    for method in ("api_key", "oidc"):  # a person who happens to carry that name
        assert active_suspension(request, Principal(name="alertmanager", role="sre", method=method)) is not None
    for method in ("webhook_bearer", "webhook_basic"):  # alert ingestion goes on
        assert active_suspension(request, Principal(name="alertmanager", role="alertmanager", method=method)) is None
    assert active_suspension(make_mocked_request("GET", "/", app=web.Application()),
                             Principal(name="alertmanager", role="sre", method="api_key")) is None  # no list: no one


def test_book_keeps_the_newest_record_per_subject_and_skips_bad_ones():
    book = SuspensionBook()
    book.apply(b"alice", entry().to_bytes())
    book.apply(b"bob", entry("bob").to_bytes())
    book.apply(b"alice", b"{not json")  # counted and skipped: alice stays suspended
    book.apply(b"alice", json.dumps({"subject": "alice"}).encode())  # no `until`: skipped too
    assert book.active("alice", NOW) is not None
    book.apply(b"bob", None)  # tombstone: forgotten
    assert book.get("bob") is None
    book.apply(b"alice", lifted(entry(), "admin-1", NOW).to_bytes())
    assert book.active("alice", NOW) is None and book.get("alice").lifted_by == "admin-1"
    assert book.count_active(NOW) == 0 and [e.subject for e in book.all()] == ["alice"]


def test_settings_default_bounds_and_env():
    assert SecuritySettings().suspensions.seconds == 900
    assert SecuritySettings(suspensions={"seconds": 0}).suspensions.seconds == 0
    for bad in (-1, 8 * 24 * 3600):
        with pytest.raises(ValidationError, match="seconds"):
            SecuritySettings(suspensions={"seconds": bad})


def test_env_sets_the_duration(monkeypatch: pytest.MonkeyPatch):
    from schemas.settings import load_settings

    monkeypatch.delenv("AETHERIUS_CONFIG", raising=False)
    monkeypatch.setenv("AETHERIUS_SECURITY__SUSPENSIONS__SECONDS", "60")
    assert load_settings().security.suspensions.seconds == 60


def task_for(requester: Requester | None) -> DiagnosticTask:
    return DiagnosticTask(id="t-7", cluster_id="eu-1", priority=Priority.P2,
                          resource=ResourceInfo(kind="Pod", namespace="prod", name="api"),
                          context=TaskContext(alertname="ManualDiagnosis"), requested_by=requester)


def test_the_suspender_publishes_for_persons_audits_and_never_raises():
    published: list[Suspension] = []
    audited: list[AuditEvent] = []

    async def publish(e: Suspension) -> None:
        published.append(e)

    async def audit(e: AuditEvent) -> None:
        audited.append(e)

    suspend = requester_suspender(publish, audit, 600)
    got = run(suspend(person("bob"), "privilege_escalation", "parameter 'name': sudo", task_id="t-7"))
    assert got is not None and published == [got] and got.subject == "bob" and got.task_id == "t-7"
    assert 599 <= (got.until - got.created_at).total_seconds() <= 600
    [event] = audited
    assert (event.action, event.resource, event.id, event.details["task_id"]) == \
        ("suspension.start", "user/bob", got.audit_event_id, "t-7")
    assert run(suspend(None, "privilege_escalation", "x")) is None and len(published) == 1

    async def broken(_: Suspension) -> None:
        raise ConnectionError("broker gone")

    assert run(requester_suspender(broken, audit, 600)(person(), "x", "y")) is None  # no exception

    async def broken_audit(_: AuditEvent) -> None:
        raise ConnectionError("audit topic gone")

    kept = run(requester_suspender(publish, broken_audit, 600)(person("carol"), "x", "y"))
    assert kept is not None and published[-1] == kept  # published: a missing audit line does not undo it


# ---- the auth layer over real HTTP --------------------------------------------------------------------------

def security() -> SecuritySettings:
    return SecuritySettings(api_keys=[{"name": f"k-{r}", "role": r, "hash": hash_api_key(k)} for r, k in KEYS.items()])


def app_with(book: SuspensionBook, audit: list[AuditEvent], published: list[Suspension],
             fail_publish: bool = False) -> web.Application:
    async def sink(event: AuditEvent) -> None:
        audit.append(event)

    async def publish(e: Suspension) -> None:
        if fail_publish:
            raise TimeoutError("no ack")
        published.append(e)

    app = web.Application(middlewares=security_middlewares(security(), sink))
    app[SUSPENSIONS] = book

    @require("history:read")
    async def page(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app.router.add_get("/api/v1/page", page)
    add_health_routes(app, lambda: True)
    add_suspension_routes(app, publish, sink)
    return app


def h(role: str) -> dict[str, str]:
    return {"X-API-Key": KEYS[role]}


def test_a_suspended_key_is_refused_everywhere_but_the_probes_and_an_admin_lifts_it():
    async def go() -> None:
        book, audit, published = SuspensionBook(), [], []
        now = datetime.now(timezone.utc)
        book.put(Suspension(subject="k-sre", until=now + timedelta(minutes=15), security_event="privilege_escalation",
                            task_id="t-1"))
        book.put(Suspension(subject="k-developer", until=now - timedelta(seconds=1)))  # ran out
        async with TestClient(TestServer(app_with(book, audit, published), host="127.0.0.1")) as c:
            resp = await c.get("/api/v1/page", headers=h("sre"))
            body = await resp.json()
            assert resp.status == 403 and body["error"] == "suspended", body
            assert datetime.fromisoformat(body["until"]) > now and "privilege_escalation" in body["reason"]
            refused = [e for e in audit if e.actor == "k-sre"][-1]
            assert (refused.action, refused.result, refused.details["status"]) == ("api.request", "rejected", 403)
            assert refused.reason.startswith("suspended until")
            assert (await c.get("/api/v1/page", headers=h("developer"))).status == 200  # expired
            assert (await c.get("/api/v1/page", headers=h("auditor"))).status == 200  # another key
            for path in ("/health/live", "/health/ready", "/metrics"):
                assert (await c.get(path, headers=h("sre"))).status == 200, path
            # Who may see and lift: auditors read, only admins lift; a suspended admin could not.
            resp = await c.get("/api/v1/security/suspensions", headers=h("auditor"))
            listed = {e["subject"]: e["active"] for e in (await resp.json())["suspensions"]}
            assert resp.status == 200 and listed == {"k-sre": True, "k-developer": False}
            assert (await c.get("/api/v1/security/suspensions", headers=h("developer"))).status == 403
            assert (await c.delete("/api/v1/security/suspensions/k-sre", headers=h("auditor"))).status == 403
            assert (await c.delete("/api/v1/security/suspensions/k-developer", headers=h("admin"))).status == 404
            resp = await c.delete("/api/v1/security/suspensions/k-sre", headers=h("admin"))
            assert resp.status == 200 and (await resp.json())["lifted_by"] == "k-admin"
            assert [(p.subject, p.lifted_by) for p in published] == [("k-sre", "k-admin")]
            assert [e.action for e in audit if e.action.startswith("suspension.")] == ["suspension.lift"]
            assert (await c.get("/api/v1/page", headers=h("sre"))).status == 200  # this process: at once

    run(go())


def test_a_lift_kafka_did_not_take_changes_nothing():
    async def go() -> None:
        book = SuspensionBook()
        book.put(Suspension(subject="k-sre", until=datetime.now(timezone.utc) + timedelta(minutes=5)))
        async with TestClient(TestServer(app_with(book, [], [], fail_publish=True), host="127.0.0.1")) as c:
            resp = await c.delete("/api/v1/security/suspensions/k-sre", headers=h("admin"))
            assert resp.status == 503 and resp.headers["Retry-After"] == "5"
            assert (await c.get("/api/v1/page", headers=h("sre"))).status == 403

    run(go())


# ---- the follower on the real broker ------------------------------------------------------------------------

async def _until(predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.1)


@pytest.mark.kafka
def test_follower_reads_the_topic_from_the_beginning_then_follows(kafka_bootstrap, topic_prefix):
    topic = f"{topic_prefix}.security.suspensions"
    run(ensure_topics(KafkaSettings(bootstrap=kafka_bootstrap, topic_prefix=topic_prefix, partitions=2)))
    soon = datetime.now(timezone.utc) + timedelta(minutes=10)
    run(produce(kafka_bootstrap, topic, [
        (b"alice", Suspension(subject="alice", until=soon).to_bytes()),
        (b"bob", Suspension(subject="bob", until=soon).to_bytes()),
        (b"bob", None),  # type: ignore[list-item]  # tombstone
        (b"mallory", b"garbage"),
    ]))

    async def go() -> None:
        follower = SuspensionFollower(kafka_bootstrap, topic)
        follower.start()
        try:
            await _until(lambda: follower.book.synced)
            now = datetime.now(timezone.utc)
            assert follower.book.active("alice", now) is not None  # written before this process started
            assert follower.book.get("bob") is None and follower.book.get("mallory") is None
            lift = lifted(follower.book.get("alice"), "admin", now)  # type: ignore[arg-type]
            await produce(kafka_bootstrap, topic, [(b"alice", lift.to_bytes()),
                                                   (b"carol", Suspension(subject="carol", until=soon).to_bytes())])
            await _until(lambda: follower.book.get("carol") is not None)
            assert follower.book.active("alice", datetime.now(timezone.utc)) is None
        finally:
            await follower.stop()
        # The CLI's one-shot read sees the same list.
        book = await read_suspensions(kafka_bootstrap, topic, 10)
        assert book is not None and book.active("carol", datetime.now(timezone.utc)) is not None
        assert book.active("alice", datetime.now(timezone.utc)) is None

    run(go())


def test_with_kafka_down_the_server_starts_and_serves(caplog: pytest.LogCaptureFixture):
    """Fail open (docs/security.md): no broker on the port, the app still comes up and answers, says loudly that
    suspensions are not enforced, and stops promptly."""
    dead = f"127.0.0.1:{free_port()}"
    loud = "a suspension published meanwhile is NOT enforced here"

    async def go() -> None:
        book, audit = SuspensionBook(), []
        app = app_with(book, audit, [])
        del app[SUSPENSIONS]
        follow_suspensions(app, dead, "nowhere")
        async with TestClient(TestServer(app, host="127.0.0.1")) as c:
            assert (await c.get("/api/v1/page", headers=h("sre"))).status == 200
            await _until(lambda: any(loud in r.getMessage() for r in caplog.records), timeout=15)
            assert app[SUSPENSIONS].synced is False
            assert (await c.get("/api/v1/page", headers=h("sre"))).status == 200
            started = time.monotonic()
        assert time.monotonic() - started < 5  # the follower's retry loop does not hold up the shutdown
        assert await read_suspensions(dead, "nowhere.security.suspensions", 1.0) is None

    run(go())


def test_bridge_app_follows_the_list():
    """The webhook bridge wires the follower itself (the worker's Task API and the sink do the same)."""
    from streams.producer import Producer
    from streams.webhook import create_app

    app = create_app(Settings(), Producer("127.0.0.1:9"), manage_producer=False, freeze_gc=False)
    assert isinstance(app[SUSPENSIONS], SuspensionBook)
