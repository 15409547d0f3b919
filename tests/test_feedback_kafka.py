"""The feedback loop end to end on the real broker: the starter runbooks are ingested, a worker diagnoses the
SRS §3.4 OOM case, 👎 votes with comments lower the matched entry's confidence until it is disabled, a 👍
re-enables it, and `aetherius kb show` (run after the worker released the store) shows exactly that."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from schemas.alertmanager import Alert, RawAlert
from schemas.feedback import UserFeedback
from streams.fingerprint import labels_fingerprint
from tests.kafkautil import produce, read_all, run
from tests.workerproc import WorkerProcess, wait_for

pytestmark = pytest.mark.kafka
REPO = Path(__file__).resolve().parent.parent
DUMP = REPO / "deploy" / "demo" / "clusters" / "prod-eu"


def cli(env: dict[str, str], *args: str) -> dict:
    proc = subprocess.run([sys.executable, "-m", "aetherius.cli", "kb", "--json", *args], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_votes_change_confidence_disable_and_re_enable(kafka_bootstrap, topic_prefix, tmp_path):
    kb_env = {**os.environ, "AETHERIUS_KNOWLEDGE__PATH": str(tmp_path / "kb")}
    cli(kb_env, "ingest", str(REPO / "deploy" / "knowledge" / "runbooks"))
    env = {"AETHERIUS_KNOWLEDGE__PATH": str(tmp_path / "kb"),
           "AETHERIUS_CLUSTERS": json.dumps({"prod-eu": {"dump": str(DUMP)}})}
    worker = WorkerProcess(kafka_bootstrap, topic_prefix, tmp_path, env_extra=env).start()
    try:
        labels = {"alertname": "KubePodCrashLooping", "cluster_id": "prod-eu", "namespace": "ecommerce",
                  "pod": "payment-service-7d8f9b456-xyz12", "severity": "critical"}
        fp = labels_fingerprint(labels)
        run(produce(kafka_bootstrap, f"{topic_prefix}.alerts.raw",
                    [(fp.encode(), RawAlert(fingerprint=fp, alert=Alert(labels=labels)).to_bytes())]))
        reports = wait_for(lambda: run(read_all(kafka_bootstrap, f"{topic_prefix}.reports")), what="the report",
                           timeout=120)
        task_id = reports[0][0].decode()
        assert json.loads(reports[0][1])["root_cause"]["category"] == "oom_killed"

        def vote(user: str, rating: int, comment: str = "") -> None:
            fb = UserFeedback(id=f"{task_id}:{user}", task_id=task_id, user_id=user, rating=rating, comments=comment)
            run(produce(kafka_bootstrap, f"{topic_prefix}.feedback", [(task_id.encode(), fb.to_bytes())]))

        def changes() -> list[dict]:
            """Knowledge changes made by the worker, in version order (the audit topic is spread over partitions)."""
            found = [json.loads(v) for _, v in run(read_all(kafka_bootstrap, f"{topic_prefix}.audit"))
                     if json.loads(v)["action"].startswith("knowledge.")]
            return sorted(found, key=lambda c: c["details"]["version"])

        downvotes = 0
        while downvotes < 8 and not any(c["details"]["enabled"] is False for c in changes()):
            downvotes += 1
            vote(f"d{downvotes}", 1, comment="the limit was fine, the JVM flags were wrong")
            wait_for(lambda: len({c["details"]["version"] for c in changes()}) >= downvotes,
                     what=f"downvote {downvotes} applied", timeout=60)
        entry_id = changes()[0]["details"]["entry_id"]
        trail = [c["details"] for c in changes() if c["details"]["entry_id"] == entry_id]
        confidences = [round(t["confidence_after"], 4) for t in trail]
        start = trail[0]["confidence_before"]
        assert confidences == [round(start * 0.8 ** k, 4) for k in range(1, downvotes + 1)]  # x0.8 per commented 👎
        assert trail[-1]["enabled"] is False and confidences[-1] < 0.3 <= confidences[-2]  # disabled below 0.3

        vote("u1", 5)
        wait_for(lambda: any(c["details"]["entry_id"] == entry_id and c["details"]["enabled"] is True
                             for c in changes()[downvotes:]), what="the upvote re-enabling the entry", timeout=60)
    finally:
        worker.stop()  # SIGTERM: the worker releases the embedded store
    shown = cli(kb_env, "show", entry_id)
    assert shown["enabled"] is True and abs(shown["confidence"] - (trail[-1]["confidence_after"] + 0.1)) < 1e-6
    assert shown["feedback"]["unhelpful"] == downvotes and shown["feedback"]["helpful"] == 1
