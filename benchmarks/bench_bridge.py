"""Benchmark the webhook bridge: alerts/s accepted and latency, against a real local Kafka.

The bridge (aiohttp + aiokafka, one event loop = one core) runs in this process; the load comes from a
second process (`--drive`, aiohttp client) so the client's CPU is not charged to the bridge. Every
request is checked for a 200 and, at the end of each scenario, the topic's end offsets must equal the
alerts the bridge reported accepted (a benchmark that loses records is not a result).

Scenarios (per compression setting):
  max, N alerts/request  closed loop, C connections: how many alerts/s the bridge accepts when batched as
                         Alertmanager does (one request per alert group)
  max, 1 alert/request   the same with the smallest possible requests
  fixed R req/s          open loop at a fixed rate; latency counted from each request's scheduled start
                         (no coordinated omission), p50/p99

    python benchmarks/bench_bridge.py [--duration 10] [--batch 50] [--rate 500] [--compression none,lz4] [--linger 2,5] [--repeat 3]
Targets (issue 2): >= 2,000 alerts/s on one core; p99 < 20 ms at 500 req/s.
"bridge CPU" is this process's CPU time over wall time (1.0 = one core busy); "CPU us/alert" is the
bridge's CPU cost per accepted alert, the number least disturbed by other load on a shared machine
(1e6 / it = alerts/s one saturated core would take).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

PATH = "/api/v1/webhook/alertmanager"
TOKEN = "bench-alertmanager-token"


# ---------------------------------------------------------------- the load generator (second process)

def make_payloads(count: int, batch: int, seed: str) -> list[bytes]:
    """Distinct realistic v4 payloads (~600 B per alert), fingerprints included as Alertmanager sends them."""
    from streams.fingerprint import labels_fingerprint

    out = []
    for r in range(count):
        alerts = []
        for a in range(batch):
            labels = {"alertname": "KubePodCrashLooping", "namespace": f"ns-{a % 7}", "pod": f"api-{seed}-{r}-{a}",
                      "container": "api", "severity": "critical" if a % 5 == 0 else "warning",
                      "cluster": f"c{a % 3}", "instance": "10.0.3.17:8080", "job": "kube-state-metrics",
                      "prometheus": "monitoring/k8s"}
            alerts.append({"status": "firing", "labels": labels, "fingerprint": labels_fingerprint(labels),
                           "annotations": {"summary": "Pod is crash looping.",
                                           "description": f"Pod {labels['namespace']}/{labels['pod']} restarted "
                                                          "5 times in the last 10 minutes.",
                                           "runbook_url": "https://runbooks.example/KubePodCrashLooping"},
                           "startsAt": "2026-11-25T13:06:09.343030741Z", "endsAt": "0001-01-01T00:00:00Z",
                           "generatorURL": "http://prometheus:9090/graph?g0.expr=x"})
        out.append(json.dumps({"version": "4", "groupKey": "{}:{alertname=\"KubePodCrashLooping\"}",
                               "truncatedAlerts": 0, "status": "firing", "receiver": "aetherius",
                               "groupLabels": {"alertname": "KubePodCrashLooping"},
                               "commonLabels": {"alertname": "KubePodCrashLooping"}, "commonAnnotations": {},
                               "externalURL": "http://alertmanager:9093", "alerts": alerts}).encode())
    return out


async def drive(url: str, mode: str, batch: int, duration: float, concurrency: int, rate: float) -> dict[str, Any]:
    import aiohttp

    payloads = make_payloads(256, batch, uuid.uuid4().hex[:6])
    # Alertmanager's http_config.authorization sends this bearer, as in production (the bridge refuses anonymous posts).
    headers = {"Content-Type": "application/json", "User-Agent": "Alertmanager/0.25.0",
               "Authorization": f"Bearer {TOKEN}"}
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    accepted = 0
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as http:
        async def post(i: int, scheduled: float, record: bool) -> None:
            nonlocal accepted
            async with http.post(url, data=payloads[i % len(payloads)], headers=headers) as resp:
                body = await resp.read()
            if record:
                latencies.append(time.perf_counter() - scheduled)
                statuses[resp.status] = statuses.get(resp.status, 0) + 1
            if resp.status == 200:
                accepted += json.loads(body)["accepted"]

        for i in range(concurrency):  # warm up connections and the bridge's code paths
            await post(i, time.perf_counter(), False)
        accepted = 0
        start = time.perf_counter()
        stop_at = start + duration
        if mode == "closed":
            async def worker(w: int) -> None:
                i = w
                while time.perf_counter() < stop_at:
                    t = time.perf_counter()
                    await post(i, t, True)
                    i += concurrency
            await asyncio.gather(*(worker(w) for w in range(concurrency)))
        else:  # open loop: request i starts at start + i/rate whether or not earlier ones finished
            tasks = []
            i = 0
            while True:
                scheduled = start + i / rate
                if scheduled >= stop_at:
                    break
                delay = scheduled - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(post(i, scheduled, True)))
                i += 1
            await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
    latencies.sort()
    q = statistics.quantiles(latencies, n=100, method="inclusive") if len(latencies) > 1 else [0.0] * 99
    return {"requests": len(latencies), "accepted": accepted, "elapsed": elapsed, "statuses": statuses,
            "req_s": len(latencies) / elapsed, "alerts_s": accepted / elapsed,
            "p50_ms": q[49] * 1000, "p99_ms": q[98] * 1000, "max_ms": latencies[-1] * 1000 if latencies else 0}


# ---------------------------------------------------------------- the bridge side (this process)

async def run_scenario(url: str, mode: str, batch: int, args: argparse.Namespace) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--drive", json.dumps({"url": url, "mode": mode, "batch": batch,
                                                             "duration": args.duration,
                                                             "concurrency": args.concurrency, "rate": args.rate})]
    proc = await asyncio.create_subprocess_exec(*cmd, stdout=asyncio.subprocess.PIPE)
    out, _ = await proc.communicate()  # the bridge keeps serving on this loop meanwhile
    if proc.returncode != 0:
        raise RuntimeError(f"driver failed ({proc.returncode})")
    return json.loads(out)


async def topic_total(bootstrap: str, topic: str) -> int:
    from aiokafka import AIOKafkaConsumer

    from streams.record_replay import topic_partitions

    parts = await topic_partitions(bootstrap, topic)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        return sum((await consumer.end_offsets(parts)).values())
    finally:
        await consumer.stop()


async def bench(bootstrap: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    from aiohttp import web
    from aetherius.localkafka import free_port
    from schemas.settings import Settings
    from schemas.topics import topic_name
    from streams.admin import ensure_topics
    from streams.producer import Producer
    from streams.webhook import create_app

    rows = []
    configs = [(c, int(g)) for c in args.compression.split(",") for g in args.linger.split(",")]
    # Repeats are interleaved (A B A B, not A A B B) so a burst of load from elsewhere hits every config alike.
    for _repeat, (compression, linger) in ((r, c) for r in range(args.repeat) for c in configs):
        prefix = f"bench{uuid.uuid4().hex[:8]}"
        settings = Settings(kafka={"bootstrap": bootstrap, "topic_prefix": prefix}, webhook={"bearer_token": TOKEN})
        topic = topic_name(prefix, "alerts.raw")
        await ensure_topics(settings.kafka)  # every catalogue topic, as at start-up: each request is also audited
        producer = Producer(bootstrap, compression=None if compression == "none" else compression, linger_ms=linger)
        await producer.start()
        runner = web.AppRunner(create_app(settings, producer, manage_producer=False), access_log=None)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        url = f"http://127.0.0.1:{port}{PATH}"
        try:
            plan = [("closed", args.batch, f"max, {args.batch} alerts/request"), ("closed", 1, "max, 1 alert/request"),
                    ("open", 1, f"fixed {args.rate:g} req/s, 1 alert/request"),
                    ("open", 10, f"fixed {args.rate:g} req/s, 10 alerts/request")]
            for mode, batch, label in plan:
                before = await topic_total(bootstrap, topic)
                cpu0 = time.process_time()
                result = await run_scenario(url, mode, batch, args)
                result["bridge_cpu"] = (time.process_time() - cpu0) / result["elapsed"]
                landed = await topic_total(bootstrap, topic) - before
                # Warm-up requests are accepted too: they land but are not counted by the driver.
                warmup = args.concurrency * batch
                result.update(scenario=label, compression=compression, linger=linger, landed=landed,
                              consistent=landed == result["accepted"] + warmup)
                rows.append(result)
                print_row(result, file=sys.stderr)
        finally:
            await runner.cleanup()
            await producer.stop()
    return rows


HEADER = (f"{'compression':<11} {'linger':>6} {'scenario':<34} {'req/s':>8} {'alerts/s':>9} {'p50 ms':>7} {'p99 ms':>7} "
          f"{'max ms':>7} {'bridge CPU':>10} {'CPU us/alert':>12} {'non-200':>7} {'on topic':>8}")


def print_row(r: dict[str, Any], file: Any = sys.stdout) -> None:
    bad = sum(n for s, n in r["statuses"].items() if int(s) != 200)
    print(f"{r['compression']:<11} {r['linger']:>6} {r['scenario']:<34} {r['req_s']:>8.0f} {r['alerts_s']:>9.0f} {r['p50_ms']:>7.1f} "
          f"{r['p99_ms']:>7.1f} {r['max_ms']:>7.1f} {r['bridge_cpu']:>9.0%} "
          f"{r['bridge_cpu'] / max(r['alerts_s'], 1e-9) * 1e6:>12.0f} {bad:>7} "
          f"{'ok' if r['consistent'] else 'MISMATCH':>8}", file=file)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per scenario")
    parser.add_argument("--batch", type=int, default=50, help="alerts per request in the batched scenario")
    parser.add_argument("--concurrency", type=int, default=32, help="connections in the closed-loop scenarios")
    parser.add_argument("--rate", type=float, default=500.0, help="requests/s in the fixed-rate scenarios")
    parser.add_argument("--compression", default="none", help="comma list of none|lz4 (lz4 needs cramjam)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per config; the table shows medians")
    parser.add_argument("--linger", default="0", help="comma list of producer linger_ms values")
    parser.add_argument("--drive", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.drive:
        spec = json.loads(args.drive)
        print(json.dumps(asyncio.run(drive(spec["url"], spec["mode"], spec["batch"], spec["duration"],
                                           spec["concurrency"], spec["rate"]))))
        return 0

    import logging

    from aetherius.localkafka import kafka_bootstrap

    logging.basicConfig(level=logging.WARNING)
    print(f"bench_bridge: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; starting Kafka",
          file=sys.stderr)
    with kafka_bootstrap(progress=lambda m: print(m, file=sys.stderr), jvm="steady") as bootstrap:
        rows = asyncio.run(bench(bootstrap, args))
    print(f"\nwebhook bridge, {args.duration:g} s per scenario, closed loop with {args.concurrency} connections, "
          f"median of {args.repeat} interleaved run(s), load average at end {os.getloadavg()[0]:.2f}")
    print(HEADER)
    for r in medians(rows):
        print_row(r)
    return 0 if all(r["consistent"] for r in rows) else 1


def medians(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (compression, linger, scenario): the median of each number over the repeats."""
    groups: dict[tuple[str, int, str], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["compression"], r["linger"], r["scenario"]), []).append(r)
    out = []
    for (compression, linger, scenario), runs in groups.items():
        row = {k: statistics.median(run[k] for run in runs)
               for k in ("req_s", "alerts_s", "p50_ms", "p99_ms", "max_ms", "bridge_cpu")}
        statuses: dict[str, int] = {}
        for run in runs:
            for code, n in run["statuses"].items():
                statuses[code] = statuses.get(code, 0) + n
        row.update(compression=compression, linger=linger, scenario=scenario, statuses=statuses,
                   consistent=all(run["consistent"] for run in runs))
        out.append(row)
    return out


if __name__ == "__main__":
    sys.exit(main())
