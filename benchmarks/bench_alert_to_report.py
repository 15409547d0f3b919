"""Alert -> report latency through Kafka with the rule engine (issue target: p95 < 2 s).

A real broker and a real `aetherius worker` subprocess read the demo's three cluster dumps; alerts are put on
alerts.raw at a steady rate (the bridge has its own benchmark), and each report's Kafka timestamp is compared
with its alert's received_at. Prints a table.

    python benchmarks/bench_alert_to_report.py [--alerts 200] [--rate 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from aetherius.localkafka import free_port, kafka_bootstrap  # noqa: E402
from schemas.alertmanager import Alert, RawAlert  # noqa: E402
from schemas.settings import KafkaSettings  # noqa: E402
from streams.admin import ensure_topics  # noqa: E402
from streams.fingerprint import labels_fingerprint  # noqa: E402
from streams.pipeline import task_id_for  # noqa: E402

DEMO = REPO / "deploy" / "demo"
TARGETS = [("prod-eu", "ecommerce", "payment-service-7d8f9b456-xyz12"), ("prod-eu", "shop", "accounts-7d8f9b456-uuuuu"),
           ("prod-us", "shop", "db-0"), ("staging", "shop", "api-0")]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


async def drive(bootstrap: str, prefix: str, n: int, rate: float) -> dict[str, float]:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=0)
    consumer = AIOKafkaConsumer(f"{prefix}.reports", bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                group_id=f"bench-{uuid.uuid4().hex[:6]}")
    await producer.start()
    await consumer.start()
    sent: dict[str, float] = {}  # task id (deterministic from the alert) -> received_at
    latencies: dict[str, float] = {}
    try:
        async def collect() -> None:
            while len(latencies) < n:
                batch = await consumer.getmany(timeout_ms=200)
                for msgs in batch.values():
                    for m in msgs:
                        report = json.loads(m.value)
                        key = report.get("task_id")
                        latencies[key] = m.timestamp / 1000
        collector = asyncio.create_task(collect())
        for i in range(n):
            cluster, ns, pod = TARGETS[i % len(TARGETS)]
            labels = {"alertname": f"Bench{i}", "cluster_id": cluster, "namespace": ns, "pod": pod, "severity": "warning"}
            fp = labels_fingerprint(labels)
            raw = RawAlert(fingerprint=fp, alert=Alert(labels=labels))
            sent[task_id_for(fp, raw.received_at.timestamp())] = raw.received_at.timestamp()
            await producer.send_and_wait(f"{prefix}.alerts.raw", key=fp.encode(), value=raw.to_bytes())
            await asyncio.sleep(1 / rate)
        await asyncio.wait_for(collector, timeout=300)
    finally:
        await producer.stop()
        await consumer.stop()
    return {"sent": sent, "reported": latencies}  # type: ignore[return-value]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=200)
    parser.add_argument("--rate", type=float, default=10.0, help="alerts per second")
    args = parser.parse_args()
    clusters = {p.name: {"dump": str(p)} for p in (DEMO / "clusters").iterdir() if p.is_dir()}
    with tempfile.TemporaryDirectory() as tmp, kafka_bootstrap(lambda m: print(m, file=sys.stderr), jvm="steady") as bootstrap:
        prefix = f"bench{uuid.uuid4().hex[:6]}"
        asyncio.run(ensure_topics(KafkaSettings(bootstrap=bootstrap, topic_prefix=prefix)))
        env = {**os.environ, "AETHERIUS_KAFKA__BOOTSTRAP": bootstrap, "AETHERIUS_KAFKA__TOPIC_PREFIX": prefix,
               "AETHERIUS_WORKER__APP_ID": prefix, "AETHERIUS_WORKER__PORT": str(free_port()),
               "AETHERIUS_WORKER__DATA_DIR": str(Path(tmp) / "w"), "AETHERIUS_CLUSTERS": json.dumps(clusters),
               "AETHERIUS_LOG_LEVEL": "WARNING", "AETHERIUS_PIPELINE__TOTAL_LIMIT": "1000",
               "AETHERIUS_PIPELINE__PER_CLUSTER_LIMIT": "1000", "AETHERIUS_PIPELINE__QUEUE_LIMIT": "100000",
               "AETHERIUS_PIPELINE__RUNNING_LIMITS": json.dumps({"P1": 1000, "P2": 1000, "P3": 1000})}
        worker = subprocess.Popen([sys.executable, "-m", "aetherius.cli", "worker"], env=env, cwd=REPO,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            time.sleep(8)  # join the group before the clock starts
            result = asyncio.run(drive(bootstrap, prefix, args.alerts, args.rate))
        finally:
            os.killpg(worker.pid, 9)
    latencies = [result["reported"][task] - at for task, at in result["sent"].items() if task in result["reported"]]
    if len(latencies) < args.alerts:
        raise SystemExit(f"only {len(latencies)} of {args.alerts} reports could be paired with their alerts")
    print(f"\n{args.alerts} alerts at {args.rate:.0f}/s, rule engine, one worker, 4 partitions, demo dumps\n")
    print(f"{'alert -> report':20} {'p50':>8} {'p95':>8} {'max':>8}")
    print(f"{'seconds':20} {statistics.median(latencies):8.3f} {percentile(latencies, 95):8.3f} {max(latencies):8.3f}")


if __name__ == "__main__":
    main()
