"""A report repeated on the topic after the sink restarted is delivered once (the delivery ledger is a Faust table
now, sinks.delivery.TableLedger; it was in memory, so a restart forgot what had been delivered).

`aetherius sink` as a real subprocess with a signed-webhook destination: report A is delivered, the sink is killed
with SIGKILL and started again, then A arrives again (at-least-once upstream) followed by a new report B."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from aetherius.localkafka import free_port
from schemas.result import DiagnosticResult, ResultSummary
from tests.fake_slack import FakeHooks
from tests.kafkautil import produce, run
from tests.threaded import InThread

pytestmark = pytest.mark.kafka
SECRET = "report-hook-secret"


def start_sink(env: dict, log) -> subprocess.Popen:  # noqa: ANN001
    return subprocess.Popen([sys.executable, "-m", "aetherius.cli", "sink"], env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)


def wait(predicate, timeout: float = 90.0) -> bool:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.3)
    return False


def test_a_report_repeated_after_a_sink_restart_is_delivered_once(kafka_bootstrap, topic_prefix, tmp_path):
    a, b = (DiagnosticResult(task_id=t, cluster_id="c1", summary=ResultSummary(problem=f"problem {t}"))
            for t in ("task-a", "task-b"))
    reports = f"{topic_prefix}.reports"
    with InThread(FakeHooks()) as hooks:
        env = {**os.environ, "AETHERIUS_KAFKA__BOOTSTRAP": kafka_bootstrap, "AETHERIUS_KAFKA__TOPIC_PREFIX": topic_prefix,
               "AETHERIUS_KAFKA__PARTITIONS": "2", "AETHERIUS_WORKER__APP_ID": topic_prefix,
               "AETHERIUS_WORKER__DATA_DIR": str(tmp_path / "worker"), "AETHERIUS_LOG_LEVEL": "WARNING",
               "AETHERIUS_ANALYTICS__CHDB_PATH": str(tmp_path / "chdb"), "AETHERIUS_ANALYTICS__API_PORT": str(free_port()),
               "AETHERIUS_SINKS": json.dumps({"destinations": {"hook": {"type": "webhook", "url": hooks.webhook.url,
                                                                        "secret": SECRET}},
                                              "default": ["hook"]})}
        log = open(tmp_path / "sink.log", "wb")
        proc = start_sink(env, log)
        try:
            run(produce(kafka_bootstrap, reports, [(b"task-a", a.to_bytes())]))
            assert wait(lambda: len(hooks.webhook.received) == 1), (tmp_path / "sink.log").read_text()[-2000:]
            time.sleep(3)  # past a commit: the restarted sink starts after report A
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(30)
            proc = start_sink(env, log)
            run(produce(kafka_bootstrap, reports, [(b"task-a", a.to_bytes()), (b"task-b", b.to_bytes())]))
            assert wait(lambda: len(hooks.webhook.received) >= 2), (tmp_path / "sink.log").read_text()[-2000:]
            time.sleep(2)  # a second copy of A would be here by now
            received = [json.loads(r["body"])["task_id"] for r in hooks.webhook.received]
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(30)
            log.close()
    assert received == ["task-a", "task-b"]
