"""Pipeline throughput: raw alerts -> tasks through the real worker, next to a no-op Faust agent and to
Faust's own floor for a stateful stage (one table write + one forward, no logic) on the same broker in the
same run (issue target: pipeline >= 50% of the no-op rate).

Both consume a backlog that is produced before they start, so start-up time is not counted: the rate
is records / (time of the last output - time of the first). Prints a table.

    python benchmarks/bench_pipeline.py [--alerts 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
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
from tests.kafkautil import produce  # noqa: E402

PARTITIONS = 4


def alerts(n: int) -> list[tuple[bytes, bytes]]:
    out = []
    for i in range(n):
        labels = {"alertname": f"Bench{i % 50}", "pod": f"pod-{i}", "namespace": f"ns{i % 7}",
                  "cluster_id": f"c{i % 5}", "severity": ("critical", "warning", "info")[i % 3]}
        fp = labels_fingerprint(labels)
        out.append((fp.encode(), RawAlert(fingerprint=fp, alert=Alert(labels=labels)).to_bytes()))
    return out


async def consume_timestamps(bootstrap: str, topic: str, want: int, timeout: float,
                             accept=lambda v: True) -> list[float]:
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                group_id=f"bench-{uuid.uuid4().hex[:6]}")
    await consumer.start()
    stamps: list[float] = []
    deadline = time.monotonic() + timeout
    try:
        while len(stamps) < want and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for msgs in batch.values():
                stamps += [m.timestamp / 1000 for m in msgs if accept(m.value)]
    finally:
        await consumer.stop()
    return stamps


def run_yardstick(bootstrap: str, n: int, records, mode: str) -> float:
    topic = f"bench-{mode.replace('_', '-')}-{uuid.uuid4().hex[:6]}"
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    async def create():
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        await admin.create_topics([NewTopic(topic, PARTITIONS, 1), NewTopic(f"{topic}-out", PARTITIONS, 1)])
        await admin.close()

    asyncio.run(create())
    asyncio.run(produce(bootstrap, topic, records))
    env = {**os.environ, "BENCH_N": str(n), "BENCH_APP_ID": topic, "BENCH_BOOTSTRAP": bootstrap, "MODE": mode,
           "BENCH_TOPIC": topic, "BENCH_PARTITIONS": str(PARTITIONS), "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "faust", "-A", "benchmarks.yardstick_agent", "worker", "-l", "warn",
                             "--without-web"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            cwd=REPO, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        for line in proc.stdout:  # type: ignore[union-attr]
            if b"DONE " in line:
                first, last = map(float, line.split(b"DONE ", 1)[1].split()[:2])
                return n / max(last - first, 1e-6)
            if time.monotonic() > deadline:
                break
        raise RuntimeError(f"yardstick {mode} did not finish")
    finally:
        os.killpg(proc.pid, 9)


def run_pipeline(bootstrap: str, n: int, records, work: Path, queue_limit: int | None = None) -> tuple[float, float]:
    prefix = f"bench{uuid.uuid4().hex[:6]}"
    asyncio.run(ensure_topics(KafkaSettings(bootstrap=bootstrap, topic_prefix=prefix, partitions=PARTITIONS)))
    asyncio.run(produce(bootstrap, f"{prefix}.alerts.raw", records))
    env = {**os.environ, "AETHERIUS_KAFKA__BOOTSTRAP": bootstrap, "AETHERIUS_KAFKA__TOPIC_PREFIX": prefix,
           "AETHERIUS_KAFKA__PARTITIONS": str(PARTITIONS), "AETHERIUS_WORKER__APP_ID": prefix,
           "AETHERIUS_WORKER__PORT": str(free_port()), "AETHERIUS_WORKER__DATA_DIR": str(work / prefix),
           "AETHERIUS_WORKER__STEP_LOOP": "false", "AETHERIUS_LOG_LEVEL": "WARNING"}
    # Default limits (queue 100, 50 running): an alert storm fills the queue and sheds P3/P2 as in production.
    # With a queue limit above the storm every task waits instead (no shedding): the quiet path.
    if queue_limit is not None:
        env["AETHERIUS_PIPELINE__QUEUE_LIMIT"] = str(queue_limit)
    proc = subprocess.Popen([sys.executable, "-m", "aetherius.cli", "worker"], env=env, cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        signals = asyncio.run(consume_timestamps(bootstrap, f"{prefix}.signals", n, 300))
        # Every task's first record on task.state: its snapshot (pending, or failed when shed on arrival).
        tasks = asyncio.run(consume_timestamps(bootstrap, f"{prefix}.task.state", n, 300,
                                               accept=lambda v: b'"kind":"status_change"' not in v))
    finally:
        os.killpg(proc.pid, 9)
    if len(tasks) < n or len(signals) < n:
        raise RuntimeError(f"pipeline produced {len(signals)} signals and {len(tasks)} tasks of {n}")
    return n / (max(signals) - min(signals)), n / (max(tasks) - min(tasks))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=5000)
    args = parser.parse_args()
    n = args.alerts
    records = alerts(n)
    with tempfile.TemporaryDirectory() as tmp, kafka_bootstrap(lambda m: print(m, file=sys.stderr), jvm="steady") as bootstrap:
        run_yardstick(bootstrap, n, records, "noop")  # warm-up: the broker's JIT compiles its hot paths first
        noop = run_yardstick(bootstrap, n, records, "noop")
        floor = run_yardstick(bootstrap, n, records, "table_forward")
        emit_floor = run_yardstick(bootstrap, n, records, "emit_forward")
        signal_rate, task_rate = run_pipeline(bootstrap, n, records, Path(tmp))
        _, quiet_rate = run_pipeline(bootstrap, n, records, Path(tmp), queue_limit=n + 1)
    rows = [("no-op Faust agent (consume only)", noop),
            ("Faust floor: table write + forward, no logic", floor),
            ("same through streams.emit (the pipeline's path)", emit_floor),
            ("pipeline: raw alert -> signal (normalize+dedup)", signal_rate),
            ("pipeline: raw alert -> task, storm (sheds P3/P2)", task_rate),
            ("pipeline: raw alert -> task, queue never full", quiet_rate)]
    print(f"\n{n} distinct alerts, {PARTITIONS} partitions, one worker, one broker on this machine\n")
    print(f"{'stage':52} {'records/s':>10} {'vs no-op':>9} {'vs floor':>9}")
    for name, rate in rows:
        print(f"{name:52} {rate:10.0f} {rate / noop:8.0%} {rate / floor:8.0%}")
    print(json.dumps({"noop": round(noop), "floor": round(floor), "emit_floor": round(emit_floor),
                      "signals": round(signal_rate), "tasks_storm": round(task_rate),
                      "tasks_quiet": round(quiet_rate)}))


if __name__ == "__main__":
    main()
