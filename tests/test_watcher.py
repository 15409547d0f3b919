"""The Events watcher: pure decisions directly; the list/watch protocol against the fake API server
(tests/fake_kube_api.py: no real API server can run here); one run into the real Kafka."""

from __future__ import annotations

import asyncio
import socket
import sys
import uuid
from typing import Any, Awaitable, Callable

import pytest
from kubernetes_asyncio import client

from schemas.kube import KubeEvent
from schemas.watch_settings import WatchSettings
from streams.watcher import (EventWatcher, SeenEvents, backoff_delay, event_count, is_wanted, next_attempt,
                             to_kube_event, watch_clusters)
from tests.fake_kube_api import FakeKubeAPI, make_event, write_kubeconfig

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


def test_list_then_watch_publishes_only_wanted_events():
    def seed(fake: FakeKubeAPI) -> None:
        fake.add("events", make_event("web-1.1", "BackOff", namespace="shop"))
        fake.add("events", make_event("web-1.2", "Pulled", namespace="shop", type="Normal"))
        fake.add("events", make_event("web-1.3", "SomethingOdd", namespace="shop"))
        fake.add("events", make_event("n1.1", "NodeNotReady", type="Normal", kind="Node", object_name="n1"))

    async def check(fake: FakeKubeAPI, w: EventWatcher, sink: Sink) -> None:
        await until(lambda: len(sink.records) == 2 and fake.open_watches == 1, "the listed events")
        assert sorted(sink.reasons()) == ["BackOff", "NodeNotReady"]
        fake.add("events", make_event("db-0.2", "FailedScheduling", namespace="data", object_name="db-0"))
        fake.add("events", make_event("db-0.3", "Scheduled", namespace="data", type="Normal"))
        fake.add("events", make_event("db-0.4", "BackOff", namespace="data", type="Normal"))
        await until(lambda: len(sink.records) == 3, "the watched event")
        key, rec = sink.records[-1]
        assert key == "c1/data/Pod/db-0" and rec.reason == "FailedScheduling" and rec.cluster_id == "c1"
        # The watch resumed from the list's version, with the protocol's parameters.
        q = watch_requests(fake)[0]
        assert q["watch"] == "True" and q["timeoutSeconds"] == "5" and q["allowWatchBookmarks"] == "True"
        assert q["resourceVersion"] == "5"  # four objects were added after rv 1
        # A repeat (count up) is published again; a MODIFIED with the same count is not.
        fake.update("events", {**fake.get_object("events", "db-0.2", "data"), "count": 2})
        await until(lambda: len(sink.records) == 4, "the repeat")
        assert sink.records[-1][1].count == 2
        fake.update("events", {**fake.get_object("events", "db-0.2", "data"), "message": "still pending"})
        fake.add("events", make_event("x.1", "OOMKilling", kind="Node", object_name="node-1"))
        await until(lambda: len(sink.records) == 5, "the event after the same-count update")
        assert sink.reasons()[-1] == "OOMKilling" and w.stats.duplicates == 1
        assert w.stats.lists == 1

    run_watcher(check, seed)


def test_paged_list_publishes_every_page():
    async def check(fake: FakeKubeAPI, w: EventWatcher, sink: Sink) -> None:
        await until(lambda: len(sink.records) == 5 and fake.open_watches == 1, "all five listed events")
        lists = [r.query for r in fake.requests if not r.is_watch]
        assert [q.get("continue") is not None for q in lists] == [False, True, True]
        assert watch_requests(fake)[0]["resourceVersion"] == "6"  # the first page's version

    run_watcher(check, backoffs(5), FAST.model_copy(update={"list_page_size": 2}))


def test_bookmark_advances_the_resume_point_without_a_relist():
    async def check(fake: FakeKubeAPI, w: EventWatcher, sink: Sink) -> None:
        await until(lambda: fake.open_watches == 1, "the watch")
        for i in range(3):  # objects the watch does not see move the cluster's version
            fake.add("pods", {"metadata": {"name": f"p{i}"}})
        fake.bookmark()
        await until(lambda: w.resource_version == str(fake.rv), "the bookmark's version")
        fake.end_watches()  # the server ends the stream: resume from the bookmark
        await until(lambda: len(watch_requests(fake)) == 2, "the next watch")
        assert watch_requests(fake)[1]["resourceVersion"] == str(fake.rv)
        assert w.stats.lists == 1 and sink.records[0][1].reason == "BackOff"

    run_watcher(check, backoffs(1))


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


def test_410_when_resuming_after_a_cut_relists():
    async def check(fake: FakeKubeAPI, w: EventWatcher, sink: Sink) -> None:
        await until(lambda: len(sink.records) == 2 and fake.open_watches == 1, "the listed events")
        fake.expire_history()  # the version we hold is now too old ...
        fake.drop_watches()  # ... and the connection drops: the resumed watch gets ERROR 410
        await until(lambda: w.stats.gone == 1 and w.stats.lists == 2 and fake.open_watches == 1, "the re-list")
        assert len(sink.records) == 2

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


def test_server_down_backs_off_then_recovers():
    async def check(fake: FakeKubeAPI, w: EventWatcher, sink: Sink) -> None:
        await until(lambda: len(sink.records) == 1 and fake.open_watches == 1, "the listed event")
        await fake.stop()
        await until(lambda: w.stats.failures >= 3, "repeated failures while down")
        fake.add("events", make_event("web-5.1", "OOMKilling", namespace="shop", object_name="web-5"))
        seen_while_down = len(fake.requests)
        await fake.start()
        await until(lambda: len(sink.records) == 2, "the event written while the server was down")
        assert sink.reasons() == ["BackOff", "OOMKilling"]
        assert w.stats.lists == 1  # the history still held our version: resumed, nothing re-listed
        assert len(fake.requests) > seen_while_down

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


def test_the_clusters_own_token_is_sent():
    async def check(fake: FakeKubeAPI, w: EventWatcher, sink: Sink) -> None:
        await until(lambda: len(sink.records) == 1 and fake.open_watches == 1, "the event, with the right token")
        assert w.stats.failures == 0

    run_watcher(check, backoffs(1), token="s3cret")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_clusters_one_dead_the_other_keeps_publishing():
    async def main() -> None:
        async with FakeKubeAPI(token="token-a") as live, FakeKubeAPI(token="token-b") as wrong_creds:
            sink = Sink()
            clients = [api_client(live.url, "token-a"),
                       api_client(f"http://127.0.0.1:{_free_port()}", "x"),  # nothing listens there
                       api_client(wrong_creds.url, "token-a")]  # 401: not this cluster's credentials
            watchers = [EventWatcher(c, cid, sink, REASONS, FAST, rand=lambda: 0.5)
                        for c, cid in zip(clients, ["live", "dead", "denied"])]
            wrong_creds.add("events", make_event("b.1", "BackOff"))
            task = asyncio.create_task(watch_clusters(watchers))
            try:
                for i in range(5):
                    live.add("events", make_event(f"web-{i}.1", "BackOff", namespace="shop", object_name=f"web-{i}"))
                    await until(lambda: len(sink.records) == i + 1, f"live event {i}")
                await until(lambda: watchers[1].stats.failures >= 2 and watchers[2].stats.failures >= 2,
                            "the other two clusters to keep failing")
                assert {k.split("/")[0] for k, _ in sink.records} == {"live"}
                assert not task.done()
                assert wrong_creds.count("/api/v1/events") >= 2 and wrong_creds.writes == []
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
                for c in clients:
                    await c.close()
    asyncio.run(main())


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


@pytest.mark.kafka
def test_watcher_publishes_to_the_real_kafka_without_duplicates_across_a_relist(kafka_bootstrap, topic_prefix):
    from aetherius.commands.watch import kafka_publisher, make_producer
    from schemas.topics import topic_name

    topic = topic_name(topic_prefix, "k8s.events")

    async def main() -> None:
        await _create_topic(kafka_bootstrap, topic)
        producer = make_producer(kafka_bootstrap)
        await producer.start()
        try:
            async with FakeKubeAPI() as fake:
                fake.add("events", make_event("web-0.1", "BackOff", namespace="shop", object_name="web-0"))
                fake.add("events", make_event("web-0.2", "Pulled", namespace="shop", type="Normal"))
                ac = api_client(fake.url)
                w = EventWatcher(ac, "kc1", kafka_publisher(producer, topic), REASONS, FAST)
                task = asyncio.create_task(w.run())
                try:
                    await until(lambda: w.stats.published == 1 and fake.open_watches == 1, "the listed event")
                    fake.add("events", make_event("db-0.1", "FailedMount", namespace="data", object_name="db-0"))
                    await until(lambda: w.stats.published == 2, "the watched event")
                    fake.gone()
                    await until(lambda: w.stats.lists == 2 and fake.open_watches == 1, "the re-list")
                finally:
                    task.cancel()
                    await asyncio.gather(task, return_exceptions=True)
                    await ac.close()
        finally:
            await producer.stop()
        got = await _consume(kafka_bootstrap, topic, 2)
        assert sorted((k, r.reason) for k, r in got) == [("kc1/data/Pod/db-0", "FailedMount"),
                                                          ("kc1/shop/Pod/web-0", "BackOff")]
        assert all(r.schema_version == 1 and r.cluster_id == "kc1" for _, r in got)

    asyncio.run(main())


@pytest.mark.kafka
def test_aetherius_watch_command_end_to_end(kafka_bootstrap, topic_prefix, tmp_path):
    """The real CLI process: kubeconfig -> fake API server -> real Kafka; SIGTERM stops it cleanly."""
    import os
    import signal as sig

    from schemas.topics import topic_name

    topic = topic_name(topic_prefix, "k8s.events")

    async def main() -> None:
        await _create_topic(kafka_bootstrap, topic)
        async with FakeKubeAPI(token="cli-token") as fake:
            fake.add("events", make_event("web-0.1", "BackOff", namespace="shop", object_name="web-0"))
            kc = write_kubeconfig(tmp_path / "kc", fake.url, "cli-token")
            env = {**os.environ, "AETHERIUS_KAFKA__BOOTSTRAP": kafka_bootstrap,
                   "AETHERIUS_KAFKA__TOPIC_PREFIX": topic_prefix}
            env.pop("AETHERIUS_CONFIG", None)
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-c", "import sys; from aetherius.cli import main; sys.exit(main())",
                "watch", "--cluster", "cli", "--kubeconfig", str(kc), env=env,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            try:
                await until(lambda: fake.open_watches == 1, "the command's watch", timeout=30)
                fake.add("events", make_event("db-0.1", "OOMKilling", namespace="data", object_name="db-0"))
                got = await _consume(kafka_bootstrap, topic, 2)
            finally:
                proc.send_signal(sig.SIGTERM)
                _, err = await asyncio.wait_for(proc.communicate(), 30)
            assert proc.returncode == 0, err.decode()[-2000:]
            assert b"Traceback" not in err and b"Unclosed" not in err, err.decode()[-2000:]
            assert sorted((k, r.reason) for k, r in got) == [("cli/data/Pod/db-0", "OOMKilling"),
                                                              ("cli/shop/Pod/web-0", "BackOff")]
            assert fake.writes == [] and fake.count("/api/v1/events") >= 2

    asyncio.run(main())
