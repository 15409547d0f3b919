"""`aetherius kafka --data-dir D` restarts on its own data: same cluster id, same address, records kept.

Before, every start formatted the dir with a new random cluster id and the second start failed with
"Invalid cluster.id in D/data/meta.properties"."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aetherius.localkafka import free_port
from tests.kafkautil import produce, read_all, run

pytestmark = pytest.mark.kafka


def _start(data_dir: Path, port: int, log: Path) -> subprocess.Popen:
    out = open(log, "ab")
    proc = subprocess.Popen([sys.executable, "-m", "aetherius.cli", "kafka", "--data-dir", str(data_dir),
                             "--port", str(port)], stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    out.close()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if "Kafka ready" in log.read_text():
            return proc
        if proc.poll() is not None:
            raise AssertionError(f"aetherius kafka exited {proc.returncode}: {log.read_text()[-2000:]}")
        time.sleep(0.3)
    os.killpg(proc.pid, signal.SIGKILL)
    raise AssertionError(f"aetherius kafka not ready: {log.read_text()[-2000:]}")


def _stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


def test_kafka_restarts_on_its_data_dir(tmp_path: Path) -> None:
    data, port = tmp_path / "kafka", free_port()
    bootstrap = f"127.0.0.1:{port}"
    log = tmp_path / "first.log"
    proc = _start(data, port, log)
    try:
        identity = json.loads((data / "identity.json").read_text())
        from aiokafka.admin import AIOKafkaAdminClient, NewTopic

        async def create() -> None:
            admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
            await admin.start()
            try:
                await admin.create_topics([NewTopic("kept", num_partitions=1, replication_factor=1)])
            finally:
                await admin.close()

        run(create())
        run(produce(bootstrap, "kept", [(b"k1", b"one"), (b"k2", b"two")]))
    finally:
        _stop(proc)
    assert proc.returncode == 0, log.read_text()[-2000:]
    assert (data / "data" / "meta.properties").exists()  # the data stays: the user asked for it

    log = tmp_path / "second.log"
    proc = _start(data, port, log)  # the second start used to fail: "Invalid cluster.id"
    try:
        assert json.loads((data / "identity.json").read_text())["cluster_id"] == identity["cluster_id"]
        assert run(read_all(bootstrap, "kept")) == [(b"k1", b"one"), (b"k2", b"two")]
    finally:
        _stop(proc)
