"""The Events watcher against a real kube-apiserver + etcd: 10,000 events in 50 namespaces.

Starts its own API server pair (tests/kubeapi.py; the binaries from deploy/tools/install-kube-apiserver.sh),
seeds N events as the admin, then runs an EventWatcher in a process of its own (as a user bound to get/list/watch
events, publishing to a counter): the initial paged list; then, while it is stopped, M more events are written and
it resumes its watch from the version it held (the watch replays them from etcd). Prints a table: seed, list and
watch rates, the watcher process's RSS, the server's RSS.

    python benchmarks/bench_kubeapi_watch.py [--events 10000] [--backlog 2000] [--namespaces 50]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from schemas.watch_settings import WatchSettings
from streams.watcher import EventWatcher
from tests.kubeapi import KubeAPIServer, ensure_binaries, make_event


def rss_mb() -> float:
    return float(Path("/proc/self/status").read_text().split("VmRSS:")[1].split()[0]) / 1024


async def watcher_process(url: str, ca: str, token: str, expected: int, backlog: int) -> None:
    """The watcher, in a process of its own (so its RSS is its own): list, stop, then resume from the version it
    held once the parent has written `backlog` more events (read back from etcd's history by the watch)."""
    from kubernetes_asyncio import client

    cfg = client.Configuration(host=url)
    cfg.ssl_ca_cert, cfg.api_key, cfg.api_key_prefix = ca, {"BearerToken": token}, {"BearerToken": "Bearer"}
    api = client.ApiClient(configuration=cfg)
    published = 0

    async def sink(key: str, value: bytes) -> None:
        nonlocal published
        published += 1

    base = rss_mb()
    watcher = EventWatcher(api, "bench", sink, ["BackOff", "OOMKilling"], WatchSettings(timeout_seconds=60))
    t0 = time.perf_counter()
    await watcher.relist()
    listed = time.perf_counter() - t0
    print(json.dumps({"listed": listed, "published": published, "rss": rss_mb(), "base": base}), flush=True)
    await asyncio.to_thread(sys.stdin.readline)  # the parent wrote the backlog
    t0 = time.perf_counter()
    task = asyncio.create_task(watcher.run())
    while published < expected + backlog:
        await asyncio.sleep(0.005)
    watched = time.perf_counter() - t0
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    print(json.dumps({"watched": watched, "rss": rss_mb(), "duplicates": watcher.stats.duplicates,
                      "lists": watcher.stats.lists, "published": published}), flush=True)
    await api.close()


async def run(server: KubeAPIServer, events: int, backlog: int, namespaces: int) -> list[tuple[str, str]]:
    spaces = [f"bench-{uuid.uuid4().hex[:6]}-{i}" for i in range(namespaces)]
    rows: list[tuple[str, str]] = []

    async def write(prefix: str, n: int, reason: str) -> float:
        t0 = time.perf_counter()
        await asyncio.gather(*(kube.create(f"/api/v1/namespaces/{spaces[i % namespaces]}/events",
                                           make_event(f"{prefix}{i}.1", reason, namespace=spaces[i % namespaces],
                                                      object_name=f"{prefix}{i}")) for i in range(n)))
        return time.perf_counter() - t0

    async with server.admin() as kube:
        await kube.create("/apis/rbac.authorization.k8s.io/v1/clusterroles", {
            "metadata": {"name": "events-reader"},
            "rules": [{"apiGroups": [""], "resources": ["events"], "verbs": ["get", "list", "watch"]}]})
        await kube.create("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", {
            "metadata": {"name": "events-reader"}, "subjects": [{"kind": "User", "name": "nobody"}],
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "events-reader"}})
        await asyncio.gather(*(kube.create("/api/v1/namespaces", {"metadata": {"name": s}}) for s in spaces))
        took = await write("e", events, "BackOff")
        rows.append((f"seed {events:,} events in {namespaces} namespaces (admin, 16 in flight)",
                     f"{events / took:,.0f} events/s"))
        child = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--child", server.url, str(server.ca_file), server.nobody_token, str(events),
            str(backlog), stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        assert child.stdout is not None and child.stdin is not None
        first = json.loads(await child.stdout.readline())
        rows.append((f"initial list, pages of 500 ({first['published']:,} published)",
                     f"{events / first['listed']:,.0f} events/s ({first['listed']:.2f} s)"))
        await write("w", backlog, "OOMKilling")
        child.stdin.write(b"go\n")
        await child.stdin.drain()
        second = json.loads(await child.stdout.readline())
        await child.wait()
        rows.append((f"watch: {backlog:,} written while stopped, resumed from its version",
                     f"{backlog / second['watched']:,.0f} events/s ({second['watched']:.2f} s)"))
        rows.append(("watcher process RSS: start / after the list / after the watch",
                     f"{first['base']:.0f} / {first['rss']:.0f} / {second['rss']:.0f} MB"))
        rss = server.rss()
        rows.append(("kube-apiserver / etcd RSS", f"{rss['kube-apiserver'] / 2**20:.0f} / {rss['etcd'] / 2**20:.0f} MB"))
        rows.append(("published / duplicates / lists", f"{second['published']:,} / {second['duplicates']} / "
                                                       f"{second['lists']}"))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=10_000)
    ap.add_argument("--backlog", type=int, default=2_000)
    ap.add_argument("--namespaces", type=int, default=50)
    ap.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        url, ca, token, expected, backlog = args.child
        asyncio.run(watcher_process(url, ca, token, int(expected), int(backlog)))
        return
    with tempfile.TemporaryDirectory(prefix="bench-kubeapi-") as tmp:
        server = KubeAPIServer(ensure_binaries(), Path(tmp))
        with server.running():
            rows = [("API server start to /readyz", f"{server.started_seconds:.2f} s")]
            rows += asyncio.run(run(server, args.events, args.backlog, args.namespaces))
    width = max(len(r[0]) for r in rows)
    print(f"{'measure'.ljust(width)}  value")
    for name, value in rows:
        print(f"{name.ljust(width)}  {value}")


if __name__ == "__main__":
    main()
