"""The Events watcher against a real kube-apiserver + etcd (tests/kubeapi.py), as the Helm chart's service account.

What the real server does on its own is tested here: the initial list (paged), the watch from its
resourceVersion, BOOKMARKs, resuming after a watcher restart, 410 Gone once etcd's history is compacted and the
server's watch cache no longer holds our version, the API server restarted under an open watch, and 10,000 events
in 50 namespaces. Faults a real server will not produce on demand (a stalled stream, a cut connection, a burst of
5xx) stay on the fake (tests/test_watcher.py). Each test works in its own namespaces and only counts its own events.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from schemas.kube import KubeEvent
from schemas.watch_settings import WatchSettings
from streams.watcher import EventWatcher, watch_clusters
from tests.kubeapi import Kube, KubeAPIServer, free_port, make_event, require_binaries
from tests.kubechart import ChartIdentity, install_chart_rbac
from tests.test_watcher import FAST, REASONS, Sink, until

EVENTS = "/api/v1/namespaces/{ns}/events"


@pytest.fixture(scope="module")
def reader_token(kube_api: KubeAPIServer) -> str:
    """The chart's service account token: the watcher runs with exactly the rights the chart grants."""
    async def install() -> ChartIdentity:
        async with kube_api.admin() as kube:
            return await install_chart_rbac(kube)
    return asyncio.run(install()).token


@pytest.fixture(scope="module")
def cached(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[KubeAPIServer, str]]:
    """A second server that keeps events in its watch cache (`--watch-cache-sizes=events#1000`, as some clusters
    are run): only a watch served from the cache gets BOOKMARKs and answers from the cache's window. A default
    kube-apiserver does not cache events: their watches go to etcd, with no bookmarks (the session server)."""
    server = KubeAPIServer(require_binaries(), tmp_path_factory.mktemp("kubeapi-cached"),
                           extra_args=("--watch-cache-sizes=events#1000",))
    with server.running():
        async def install() -> str:
            async with server.admin() as kube:
                return (await install_chart_rbac(kube)).token
        yield server, asyncio.run(install())


def new_namespace(server: KubeAPIServer) -> str:
    name = f"w-{uuid.uuid4().hex[:8]}"

    async def make() -> None:
        async with server.admin() as kube:
            await kube.create("/api/v1/namespaces", {"metadata": {"name": name}})
    asyncio.run(make())
    return name


@pytest.fixture
def ns(kube_api: KubeAPIServer) -> Iterator[str]:
    """A namespace of this test's own; its events are deleted afterwards (the namespace stays: no controller)."""
    name = f"w-{uuid.uuid4().hex[:8]}"

    async def make() -> None:
        async with kube_api.admin() as kube:
            await kube.create("/api/v1/namespaces", {"metadata": {"name": name}})
    asyncio.run(make())
    yield name

    async def clean() -> None:
        async with kube_api.admin() as kube:
            await kube.request("DELETE", EVENTS.format(ns=name), ok=(200,))
    asyncio.run(clean())


def mine(sink: Sink, *namespaces: str) -> list[KubeEvent]:
    return [r for _, r in sink.records if r.namespace in namespaces]


async def add(kube: Kube, ns: str, name: str, reason: str, **kw: object) -> dict:
    return await kube.create(EVENTS.format(ns=ns), make_event(name, reason, namespace=ns, **kw))


@contextlib.asynccontextmanager
async def watching(server: KubeAPIServer, token: str, settings: WatchSettings = FAST,
                   watcher: EventWatcher | None = None, sink: Sink | None = None) -> AsyncIterator[EventWatcher]:
    """A watcher (new, or an existing one carried over) running as a task until the block ends."""
    api = server.api_client(token)
    if watcher is None:
        watcher = EventWatcher(api, "real", sink or Sink(), REASONS, settings, rand=lambda: 0.5)
    else:
        watcher.source.api_client = api  # a restart: same resume point and memory, a new connection
    task = asyncio.create_task(watcher.run())
    try:
        yield watcher
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await api.close()


def test_list_then_watch_publishes_only_wanted_events(kube_api, reader_token, ns):
    async def main() -> None:
        sink = Sink()
        async with kube_api.admin() as kube:
            await add(kube, ns, "web-1.1", "BackOff")
            await add(kube, ns, "web-1.2", "Pulled", type="Normal")
            await add(kube, ns, "web-1.3", "SomethingOdd")
            await add(kube, ns, "n1.1", "NodeNotReady", type="Normal", kind="Node", object_name=f"node-{ns}")
            async with watching(kube_api, reader_token, sink=sink) as w:
                await until(lambda: len(mine(sink, ns)) == 2 and w.stats.watches >= 1, "the listed events")
                assert sorted(r.reason for r in mine(sink, ns)) == ["BackOff", "NodeNotReady"]
                db = await add(kube, ns, "db-0.2", "FailedScheduling", object_name="db-0")
                await add(kube, ns, "db-0.3", "Scheduled", type="Normal")
                await until(lambda: len(mine(sink, ns)) == 3, "the watched event")
                rec = mine(sink, ns)[-1]
                assert rec.reason == "FailedScheduling" and rec.cluster_id == "real"
                assert rec.uid == db["metadata"]["uid"] and rec.resource_version == db["metadata"]["resourceVersion"]
                # A repeat (count up) is published again; a MODIFIED with the same count is not.
                db = await kube.request("PUT", f"{EVENTS.format(ns=ns)}/db-0.2", {**db, "count": 2})
                await until(lambda: len(mine(sink, ns)) == 4, "the repeat")
                assert mine(sink, ns)[-1].count == 2
                duplicates = w.stats.duplicates
                await kube.request("PUT", f"{EVENTS.format(ns=ns)}/db-0.2", {**db, "message": "still pending"})
                await add(kube, ns, "x.1", "OOMKilling", kind="Node", object_name=f"node-{ns}")
                await until(lambda: len(mine(sink, ns)) == 5, "the event after the same-count update")
                assert mine(sink, ns)[-1].reason == "OOMKilling" and w.stats.duplicates == duplicates + 1
                assert w.stats.lists == 1 and w.stats.failures == 0
    asyncio.run(main())


def test_a_paged_list_publishes_every_page(kube_api, reader_token, ns):
    async def main() -> None:
        sink = Sink()
        async with kube_api.admin() as kube:
            await asyncio.gather(*(add(kube, ns, f"web-{i}.1", "BackOff", object_name=f"web-{i}") for i in range(7)))
        async with watching(kube_api, reader_token, FAST.model_copy(update={"list_page_size": 2}), sink=sink) as w:
            await until(lambda: len(mine(sink, ns)) == 7 and w.stats.watches >= 1, "all seven listed events")
        assert len({r.uid for r in mine(sink, ns)}) == 7
    asyncio.run(main())


def test_bookmarks_move_the_resume_point(cached):
    """A server that caches events sends a BOOKMARK 2 s before a watch's timeout, at its current version: the
    resume point passes writes the watch does not show (a pod here), so the next watch starts after them."""
    server, token = cached
    ns = new_namespace(server)

    async def main() -> None:
        sink = Sink()
        async with server.admin() as kube, watching(server, token, sink=sink) as w:
            await add(kube, ns, "web-0.1", "BackOff")
            await until(lambda: len(mine(sink, ns)) == 1, "the event")
            pod = await kube.create(f"/api/v1/namespaces/{ns}/pods", {
                "metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "x"}]}})
            pod_rv = int(pod["metadata"]["resourceVersion"])
            await until(lambda: int(w.resource_version or 0) >= pod_rv, "a bookmark past the pod", timeout=20)
            assert w.stats.bookmarks >= 1 and w.stats.lists == 1 and len(mine(sink, ns)) == 1
            await kube.delete(f"/api/v1/namespaces/{ns}/pods/p")
    asyncio.run(main())


def test_a_default_server_sends_no_bookmarks_for_events(kube_api, reader_token, ns):
    """Events are not watch-cached by default: their watches come from etcd, with no BOOKMARK; the resume point
    then moves only with events, which is enough (a version older than etcd's history is a 410, then a re-list)."""
    async def main() -> None:
        sink = Sink()
        async with kube_api.admin() as kube, watching(kube_api, reader_token, sink=sink) as w:
            await add(kube, ns, "web-0.1", "BackOff")
            await until(lambda: len(mine(sink, ns)) == 1 and w.stats.watches >= 2, "the event and a second stream",
                        timeout=15)
            assert w.stats.bookmarks == 0
    asyncio.run(main())


def test_a_restarted_watcher_resumes_from_its_version_without_duplicates(kube_api, reader_token, ns):
    async def main() -> None:
        sink = Sink()
        async with kube_api.admin() as kube:
            await add(kube, ns, "a.1", "BackOff", object_name="a")
            async with watching(kube_api, reader_token, sink=sink) as w:
                await until(lambda: len(mine(sink, ns)) == 1 and w.stats.watches >= 1, "the listed event")
            stopped_at = w.resource_version
            await add(kube, ns, "b.1", "BackOff", object_name="b")  # while no watcher runs
            await add(kube, ns, "c.1", "OOMKilling", object_name="c")
            async with watching(kube_api, reader_token, watcher=w):  # same resume point: no list
                await until(lambda: len(mine(sink, ns)) == 3, "the events written while stopped")
                assert w.stats.lists == 1 and int(w.resource_version) > int(stopped_at)
            # A new watcher that carries only the memory (the fleet's restart): it lists, publishes nothing again.
            await add(kube, ns, "d.1", "BackOff", object_name="d")
            fresh = EventWatcher(kube_api.api_client(reader_token), "real", sink, REASONS, FAST, rand=lambda: 0.5)
            fresh.seen = w.seen
            async with watching(kube_api, reader_token, watcher=fresh):
                await until(lambda: len(mine(sink, ns)) == 4 and fresh.stats.watches >= 1, "the new event")
            assert sorted(r.involved_object.name for r in mine(sink, ns)) == ["a", "b", "c", "d"]
            assert fresh.stats.lists == 1 and fresh.stats.duplicates >= 3
    asyncio.run(main())


def test_compaction_forces_410_and_the_relist_publishes_nothing_twice(kube_api, reader_token, ns):
    """`etcdctl compaction` past the watcher's version: its next watch (from etcd: events are not watch-cached)
    is answered ERROR 410 Gone; the watcher re-lists and publishes only what it had not."""
    async def main() -> None:
        sink = Sink()
        async with kube_api.admin() as kube:
            await add(kube, ns, "a.1", "BackOff", object_name="a")
            async with watching(kube_api, reader_token, sink=sink) as w:
                await until(lambda: len(mine(sink, ns)) == 1 and w.stats.watches >= 1, "the listed event")
            await add(kube, ns, "b.1", "BackOff", object_name="b")  # while stopped, then compacted away
            for i in range(3):
                await add(kube, ns, f"n{i}.1", "Pulled", type="Normal")
            kube_api.compact()
            async with watching(kube_api, reader_token, watcher=w):
                await until(lambda: w.stats.gone >= 1 and w.stats.lists == 2 and len(mine(sink, ns)) == 2,
                            "410, the re-list and the missed event")
                await add(kube, ns, "c.1", "FailedMount", object_name="c")
                await until(lambda: len(mine(sink, ns)) == 3, "an event after the re-list")
        assert sorted(r.involved_object.name for r in mine(sink, ns)) == ["a", "b", "c"]
        assert w.stats.duplicates >= 1  # "a" came back in the re-list and was recognised
    asyncio.run(main())


def test_the_watch_caches_window_forces_410_after_a_restart(cached):
    """A watch-cached server restarted after a compaction starts its cache at the current version: a watcher
    resuming from before that is told 410 Gone by the cache, re-lists, and publishes nothing twice."""
    server, token = cached
    ns = new_namespace(server)

    async def main() -> None:
        sink = Sink()
        async with server.admin() as kube:
            await add(kube, ns, "a.1", "BackOff", object_name="a")
            async with watching(server, token, sink=sink) as w:
                await until(lambda: len(mine(sink, ns)) == 1 and w.stats.watches >= 1, "the listed event")
            await add(kube, ns, "b.1", "BackOff", object_name="b")
            server.compact()
        await asyncio.to_thread(server.stop_apiserver)
        await asyncio.to_thread(server.start_apiserver)
        async with watching(server, token, watcher=w):
            await until(lambda: w.stats.gone >= 1 and w.stats.lists == 2 and len(mine(sink, ns)) == 2,
                        "410 from the cache, the re-list and the missed event")
        assert sorted(r.involved_object.name for r in mine(sink, ns)) == ["a", "b"]
    asyncio.run(main())


def test_the_api_server_restarted_under_an_open_watch(kube_api, reader_token, ns):
    async def main() -> None:
        sink = Sink()
        async with watching(kube_api, reader_token, sink=sink) as w:
            async with kube_api.admin() as kube:
                await add(kube, ns, "a.1", "BackOff", object_name="a")
                await until(lambda: len(mine(sink, ns)) == 1, "the watched event")
                await add(kube, ns, "b.1", "BackOff", object_name="b")  # possibly in flight when the server stops
            await asyncio.to_thread(kube_api.stop_apiserver)
            failures = w.stats.failures
            await until(lambda: w.stats.failures > failures, "the watcher to notice the server is gone")
            await asyncio.to_thread(kube_api.start_apiserver)
            async with kube_api.admin() as kube:
                await add(kube, ns, "c.1", "OOMKilling", object_name="c")
                await until(lambda: len(mine(sink, ns)) == 3, "every event, once", timeout=30)
        assert sorted(r.involved_object.name for r in mine(sink, ns)) == ["a", "b", "c"]
    asyncio.run(main())


def test_two_clusters_one_dead_one_refused_the_real_one_keeps_publishing(kube_api, reader_token, ns):
    async def main() -> None:
        sink = Sink()
        clients = [kube_api.api_client(reader_token),
                   kube_api.api_client(reader_token, host=f"https://127.0.0.1:{free_port()}"),  # nothing listens
                   kube_api.api_client("not-a-token")]  # 401 from the real authenticator
        watchers = [EventWatcher(c, cid, sink, REASONS, FAST, rand=lambda: 0.5)
                    for c, cid in zip(clients, ["live", "dead", "denied"], strict=True)]
        task = asyncio.create_task(watch_clusters(watchers))
        try:
            async with kube_api.admin() as kube:
                for i in range(1, 4):
                    await add(kube, ns, f"web-{i}.1", "BackOff", object_name=f"web-{i}")
                    await until(lambda n=i: len(mine(sink, ns)) == n, f"live event {i}")
            await until(lambda: watchers[1].stats.failures >= 2 and watchers[2].stats.credential_failures >= 2,
                        "the other two to keep failing")
            assert {r.cluster_id for r in mine(sink, ns)} == {"live"} and not task.done()
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            for c in clients:
                await c.close()
    asyncio.run(main())


def test_ten_thousand_events_in_fifty_namespaces(kube_api, reader_token):
    """The initial list pages through 10,000 events, the watch then takes 1,000 more; each published once.
    (benchmarks/bench_kubeapi_watch.py measures the rates and memory of the same run.)"""
    spaces = [f"many-{uuid.uuid4().hex[:6]}-{i}" for i in range(50)]

    async def main() -> None:
        sink = Sink()
        async with kube_api.admin() as kube:
            await asyncio.gather(*(kube.create("/api/v1/namespaces", {"metadata": {"name": s}}) for s in spaces))
            await asyncio.gather(*(add(kube, spaces[i % 50], f"e{i}.1", "BackOff", object_name=f"p{i}")
                                   for i in range(10_000)))
            try:
                async with watching(kube_api, reader_token, sink=sink) as w:
                    await until(lambda: len(mine(sink, *spaces)) == 10_000 and w.stats.watches >= 1,
                                "the listed 10,000", timeout=120)
                    await asyncio.gather(*(add(kube, spaces[i % 50], f"w{i}.1", "OOMKilling", object_name=f"q{i}")
                                           for i in range(1_000)))
                    await until(lambda: len(mine(sink, *spaces)) == 11_000, "the watched 1,000", timeout=120)
                    assert w.stats.lists == 1
                got = mine(sink, *spaces)
                assert len({r.uid for r in got}) == 11_000
            finally:
                await asyncio.gather(*(kube.request("DELETE", EVENTS.format(ns=s), ok=(200,)) for s in spaces))
    asyncio.run(main())


@pytest.mark.kafka
def test_aetherius_watch_command_as_the_chart_into_the_real_kafka(kube_api, reader_token, ns, kafka_bootstrap,
                                                                 topic_prefix, tmp_path):
    """The real CLI process: a kubeconfig with the chart's service-account token and the per-run CA -> the real
    API server -> the real Kafka; the server restarts under it; SIGTERM stops it cleanly."""
    import os
    import signal as sig
    import sys

    from schemas.topics import topic_name
    from tests.test_watcher import _consume, _create_topic

    topic = topic_name(topic_prefix, "k8s.events")
    kubeconfig = kube_api.kubeconfig(reader_token, name="chart-reader")

    async def main() -> None:
        await _create_topic(kafka_bootstrap, topic)
        async with kube_api.admin() as kube:
            await add(kube, ns, "web-0.1", "BackOff", object_name="web-0")
        env = {**os.environ, "AETHERIUS_KAFKA__BOOTSTRAP": kafka_bootstrap, "AETHERIUS_KAFKA__TOPIC_PREFIX": topic_prefix}
        env.pop("AETHERIUS_CONFIG", None)
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", "import sys; from aetherius.cli import main; sys.exit(main())",
            "watch", "--cluster", "cli", "--kubeconfig", str(kubeconfig), env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        async def ours(n: int) -> list[tuple[str, str]]:
            """This test's records on the topic (the watcher also publishes other namespaces' events)."""
            deadline = asyncio.get_running_loop().time() + 40
            while True:
                got = sorted((k, r.reason) for k, r in await _consume(kafka_bootstrap, topic, 1, timeout=5)
                             if r.namespace == ns)
                if len(got) >= n or asyncio.get_running_loop().time() > deadline:
                    return got

        try:
            assert await ours(1) == [(f"cli/{ns}/Pod/web-0", "BackOff")]
            await asyncio.to_thread(kube_api.stop_apiserver)
            await asyncio.sleep(1)
            await asyncio.to_thread(kube_api.start_apiserver)
            async with kube_api.admin() as kube:
                await add(kube, ns, "db-0.1", "OOMKilling", object_name="db-0")
            got = await ours(2)
        finally:
            proc.send_signal(sig.SIGTERM)
            _, err = await asyncio.wait_for(proc.communicate(), 30)
        assert proc.returncode == 0, err.decode()[-2000:]
        assert b"Traceback" not in err and b"Unclosed" not in err, err.decode()[-2000:]
        assert got == [(f"cli/{ns}/Pod/db-0", "OOMKilling"), (f"cli/{ns}/Pod/web-0", "BackOff")]

    asyncio.run(main())
