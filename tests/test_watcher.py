"""The Events watcher: pure decisions directly, and the faults a real API server will not produce on demand - a
stalled stream, a cut connection, ERROR 410 on an open stream, 5xx on the list, a failed publish - against the fake
API server (tests/fake_kube_api.py). The list/watch protocol, bookmarks, resume, compaction (410) and restarts run
against kube-apiserver in tests/test_kubeapi_watcher.py, as does the `aetherius watch` command into the real Kafka."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any, Awaitable, Callable

import pytest
from kubernetes_asyncio import client

from schemas.kube import KubeEvent
from schemas.watch_settings import WatchSettings
from streams.watcher import (EventWatcher, SeenEvents, backoff_delay, event_count, is_wanted, next_attempt,
                             to_kube_event)
from tests.fake_kube_api import FakeKubeAPI, make_event

REASONS = ["BackOff", "FailedScheduling", "OOMKilling", "NodeNotReady", "FailedMount"]
FAST = WatchSettings(timeout_seconds=5, read_grace_seconds=0.5, connect_timeout_seconds=1.0,
                     list_timeout_seconds=3.0, backoff_base_seconds=0.05, backoff_cap_seconds=0.3)


# --- pure parts ----------------------------------------------------------------------------------------
def _api_event(**over: Any) -> dict[str, Any]:
    ev = make_event("web-1.17a", "BackOff", namespace="shop", object_name="web-1",
                    message="Back-off restarting failed container")
    ev["metadata"].update(uid="u-1", resourceVersion="42")
    ev.update(over)
    return ev


def test_is_wanted_needs_a_configured_reason_on_a_warning():
    reasons = frozenset(REASONS)
    assert is_wanted(_api_event(), reasons)
    assert not is_wanted(_api_event(type="Normal"), reasons)
    assert not is_wanted(_api_event(reason="Pulled"), reasons)
    assert not is_wanted(_api_event(reason=None), reasons)


def test_is_wanted_takes_normal_events_for_reasons_recorded_as_normal():
    node = _api_event(reason="NodeNotReady", type="Normal")
    assert not is_wanted(node, frozenset(REASONS))
    assert is_wanted(node, frozenset(REASONS), frozenset({"NodeNotReady"}))
    assert not is_wanted(node, frozenset({"BackOff"}), frozenset({"NodeNotReady"}))  # still must be configured


def test_event_count_reads_count_or_series():
    assert event_count({"count": 7}) == 7
    assert event_count({"count": None, "series": {"count": 4}}) == 4
    assert event_count({}) == 1


def test_to_kube_event_maps_a_core_v1_event():
    rec = to_kube_event(_api_event(count=3), "prod-eu")
    assert (rec.cluster_id, rec.uid, rec.namespace, rec.reason, rec.count) == ("prod-eu", "u-1", "shop", "BackOff", 3)
    assert rec.involved_object.kind == "Pod" and rec.involved_object.name == "web-1"
    assert rec.resource_version == "42" and rec.source_component == "kubelet"
    assert rec.first_timestamp is not None and rec.last_timestamp is not None
    assert rec.topic_key() == "prod-eu/shop/Pod/web-1"
    assert KubeEvent.from_bytes(rec.to_bytes()) == rec


def test_to_kube_event_maps_an_events_k8s_io_style_event():
    ev = _api_event(count=None, firstTimestamp=None, lastTimestamp=None, source=None,
                    eventTime="2026-11-25T10:00:00.123456Z", reportingComponent="default-scheduler",
                    series={"count": 5, "lastObservedTime": "2026-11-25T10:05:00.000000Z"})
    rec = to_kube_event(ev, "c1")
    assert rec.count == 5 and rec.source_component == "default-scheduler"
    assert rec.first_timestamp.minute == 0 and rec.last_timestamp.minute == 5


def test_to_kube_event_names_what_is_wrong():
    no_uid = _api_event()
    no_uid["metadata"].pop("uid")
    with pytest.raises(ValueError, match="uid"):
        to_kube_event(no_uid, "c1")
    with pytest.raises(ValueError, match="malformed"):
        to_kube_event(_api_event(lastTimestamp="yesterday"), "c1")
    with pytest.raises(ValueError, match="malformed"):
        to_kube_event(_api_event(count="many"), "c1")


def test_backoff_doubles_is_capped_and_jittered():
    assert backoff_delay(0, 0.5, 30, 0.9) == 0
    assert [backoff_delay(a, 0.5, 30, 0.0) for a in (1, 2, 3, 4)] == [0.25, 0.5, 1.0, 2.0]
    assert backoff_delay(1, 0.5, 30, 0.999) < 0.5
    assert backoff_delay(50, 0.5, 30, 0.0) == 15 and backoff_delay(50, 0.5, 30, 0.999) < 30
    assert backoff_delay(10_000, 0.5, 30, 0.5) <= 30  # no overflow on a long outage


def test_next_attempt_rules():
    assert next_attempt("ended", False, 3) == (0, False)  # healthy end: resume at once
    assert next_attempt("gone", False, 0) == (1, False)  # first 410: re-list at once
    assert next_attempt("gone", False, 1) == (2, True)  # 410 again, nothing in between: back off
    assert next_attempt("gone", True, 4) == (1, False)  # progress clears the count
    assert next_attempt("failed", False, 2) == (3, True)
    assert next_attempt("failed", True, 5) == (1, True)


def test_seen_events_dedups_by_uid_and_count():
    seen = SeenEvents(max_entries=100)
    assert seen.is_new("a", 1)
    seen.mark("a", 1)
    assert not seen.is_new("a", 1) and seen.is_new("a", 2)
    seen.mark("a", 2)
    seen.mark("a", 1)  # an older copy never lowers the count
    assert not seen.is_new("a", 2)
    seen.mark("b", 1)
    seen.keep_only(["b"])
    assert seen.is_new("a", 1) and not seen.is_new("b", 1)
    seen.forget("b")
    assert seen.is_new("b", 1) and len(seen) == 0


def test_seen_events_is_bounded_oldest_first():
    seen = SeenEvents(max_entries=100)
    for i in range(150):
        seen.mark(f"u{i}", 1)
    assert len(seen) == 100
    assert seen.is_new("u0", 1) and not seen.is_new("u149", 1)


# --- against the fake API server --------------------------------------------------------------------
class Sink:
    """An injected publish: records (key, record); can be told to fail the next calls."""

    def __init__(self) -> None:
        self.records: list[tuple[str, KubeEvent]] = []
        self.fail = 0

    async def __call__(self, key: str, value: bytes) -> None:
        if self.fail:
            self.fail -= 1
            raise ConnectionError("broker not available")
        self.records.append((key, KubeEvent.from_bytes(value)))

    def reasons(self) -> list[str]:
        return [r.reason for _, r in self.records]


async def until(cond: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    """Wait for a condition (bounded so a broken watcher fails the test instead of hanging it)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not cond():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for: {what}")
        await asyncio.sleep(0.02)


def api_client(url: str, token: str | None = None) -> client.ApiClient:
    cfg = client.Configuration(host=url)
    if token:
        cfg.api_key["BearerToken"] = token
        cfg.api_key_prefix["BearerToken"] = "Bearer"
    return client.ApiClient(cfg)


def run_watcher(fn: Callable[..., Awaitable[None]], seed: Callable[[FakeKubeAPI], None] | None = None,
                settings: WatchSettings = FAST, **fake_kw: Any) -> None:
    """A fake (seeded), a watcher on it as a task, `await fn(fake, watcher, sink)`, then tear everything down."""
    async def main() -> None:
        async with FakeKubeAPI(**fake_kw) as fake:
            if seed:
                seed(fake)
            sink = Sink()
            ac = api_client(fake.url, fake_kw.get("token"))
            watcher = EventWatcher(ac, "c1", sink, REASONS, settings, rand=lambda: 0.5)
            task = asyncio.create_task(watcher.run())
            try:
                await fn(fake, watcher, sink)
                assert fake.writes == []  # the watcher only ever reads
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
                await ac.close()
    asyncio.run(main())


def backoffs(n: int) -> Callable[[FakeKubeAPI], None]:
    """A seed: n BackOff events in namespace shop, on pods web-0 .. web-(n-1)."""
    def seed(f: FakeKubeAPI) -> None:
        for i in range(n):
            f.add("events", make_event(f"web-{i}.1", "BackOff", namespace="shop", object_name=f"web-{i}"))
    return seed


def watch_requests(fake: FakeKubeAPI) -> list[dict[str, str]]:
    return [r.query for r in fake.requests if r.is_watch]


def test_410_on_an_open_watch_relists_without_duplicates():
    async def check(fake: FakeKubeAPI, w: EventWatcher, sink: Sink) -> None:
        await until(lambda: len(sink.records) == 2 and fake.open_watches == 1, "the listed events")
        fake.gone()
        fake.add("events", make_event("api-0.9", "FailedMount", namespace="shop", object_name="api-0"))
        await until(lambda: w.stats.lists == 2 and len(sink.records) == 3, "the re-list")
        assert sorted(sink.reasons()) == ["BackOff", "BackOff", "FailedMount"]
        assert w.stats.gone == 1 and w.stats.duplicates == 2  # the re-listed ones were recognised
        await until(lambda: fake.open_watches == 1, "the new watch")
        fake.add("events", make_event("api-0.10", "BackOff", namespace="shop", object_name="api-0"))
        await until(lambda: len(sink.records) == 4, "an event after the re-list")

    run_watcher(check, backoffs(2))


def test_a_stalled_stream_is_detected_and_replaced():
    stall = FAST.model_copy(update={"timeout_seconds": 1, "read_grace_seconds": 0.5})

    async def check(fake: FakeKubeAPI, w: EventWatcher, sink: Sink) -> None:
        await until(lambda: w.stats.failures == 1 and len(watch_requests(fake)) >= 2, "the stall to be noticed")
        await until(lambda: fake.open_watches >= 1, "a live watch")
        fake.add("events", make_event("web-9.1", "BackOff", namespace="shop", object_name="web-9"))
        await until(lambda: len(sink.records) == 1, "an event on the new stream")
        assert w.stats.lists == 1  # resumed, not re-listed

    def seed(fake: FakeKubeAPI) -> None:
        fake.stall_next_watches(1)

    run_watcher(check, seed, stall)


def test_a_cut_connection_resumes_from_the_last_version():
    async def check(fake: FakeKubeAPI, w: EventWatcher, sink: Sink) -> None:
        await until(lambda: len(sink.records) == 1 and fake.open_watches == 1, "the listed event")
        fake.add("events", make_event("web-2.1", "BackOff", namespace="shop", object_name="web-2"))
        await until(lambda: len(sink.records) == 2, "the watched event")
        rv = w.resource_version
        fake.drop_watches()
        await until(lambda: len(watch_requests(fake)) == 2, "the reconnect")
        assert watch_requests(fake)[1]["resourceVersion"] == rv
        fake.add("events", make_event("web-3.1", "BackOff", namespace="shop", object_name="web-3"))
        await until(lambda: len(sink.records) == 3, "an event after the reconnect")
        assert w.stats.lists == 1 and w.stats.duplicates == 0

    run_watcher(check, backoffs(1))


def test_http_errors_on_list_back_off_and_retry():
    async def check(fake: FakeKubeAPI, w: EventWatcher, sink: Sink) -> None:
        await until(lambda: len(sink.records) == 1, "the listed event after the failures")
        assert w.stats.failures == 2 and w.stats.lists == 3

    def seed(fake: FakeKubeAPI) -> None:
        backoffs(1)(fake)
        fake.fail_next(2, 500, path_contains="/events")

    run_watcher(check, seed)


def test_a_failed_publish_is_retried_not_lost():
    async def check(fake: FakeKubeAPI, w: EventWatcher, sink: Sink) -> None:
        await until(lambda: len(sink.records) == 1 and fake.open_watches == 1, "the listed event")
        sink.fail = 2
        fake.add("events", make_event("web-7.1", "BackOff", namespace="shop", object_name="web-7"))
        await until(lambda: len(sink.records) == 2, "the event once the broker is back")
        assert w.stats.failures == 2 and sink.reasons().count("BackOff") == 2
        assert [k for k, _ in sink.records] == ["c1/shop/Pod/web-0", "c1/shop/Pod/web-7"]

    run_watcher(check, backoffs(1))


# --- the command ---------------------------------------------------------------------------------------
def test_cli_pairs_kubeconfig_and_context_with_the_preceding_cluster(tmp_path):
    from aetherius.cli import CliError, build_parser
    from aetherius.commands.watch import cluster_specs

    kc = tmp_path / "kc"
    kc.write_text("{}")
    args = build_parser().parse_args(["watch", "--cluster", "eu", "--kubeconfig", str(kc), "--context", "admin",
                                      "--cluster", "us"])
    specs = cluster_specs(args.clusters)
    assert [(s.id, s.kubeconfig, s.context) for s in specs] == [("eu", kc, "admin"), ("us", None, None)]
    for bad, message in ((["--cluster", "a b"], "cluster id 'a b'"), (["--cluster", "a", "--cluster", "a"], "twice"),
                         (["--cluster", "a", "--kubeconfig", str(tmp_path / "nope")], "does not exist")):
        with pytest.raises(CliError, match=message):
            cluster_specs(build_parser().parse_args(["watch", *bad]).clusters)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["watch", "--kubeconfig", str(kc), "--cluster", "a"])


# --- into the real Kafka -------------------------------------------------------------------------------
async def _create_topic(bootstrap: str, topic: str, partitions: int = 2) -> None:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])
    finally:
        await admin.close()


async def _consume(bootstrap: str, topic: str, n: int, timeout: float = 20.0) -> list[tuple[str, KubeEvent]]:
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                group_id=f"g-{uuid.uuid4().hex[:8]}", enable_auto_commit=False)
    await consumer.start()
    got: list[tuple[str, KubeEvent]] = []
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while len(got) < n and asyncio.get_running_loop().time() < deadline:
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                got.extend((m.key.decode(), KubeEvent.from_bytes(m.value)) for m in batch)
        extra = await consumer.getmany(timeout_ms=1000)  # nothing beyond what we expect
        got.extend((m.key.decode(), KubeEvent.from_bytes(m.value)) for b in extra.values() for m in b)
    finally:
        await consumer.stop()
    return got


