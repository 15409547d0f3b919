"""Every task that ends has a final record (issue 15): a queued task cancelled by a user or resolved by its alert
gets a report (termination reason, who ended it) on the reports topic, as a diagnosed task does - so every
channel and the history show every task's end. Real broker, real worker process."""

from __future__ import annotations

import json

import pytest

from tests.kafkautil import produce, read_all, run
from tests.test_pipeline_kafka import labels_for, record
from tests.workerproc import WorkerProcess, wait_for

pytestmark = pytest.mark.kafka
ENV = {"AETHERIUS_PIPELINE__TOTAL_LIMIT": "0", "AETHERIUS_WORKER__STEP_LOOP": "false"}  # P1-P3 stay queued


def test_a_queued_task_that_is_cancelled_or_resolved_ends_with_a_report(kafka_bootstrap, topic_prefix, tmp_path):
    worker = WorkerProcess(kafka_bootstrap, topic_prefix, tmp_path, env_extra=ENV).start()
    try:
        raw = f"{topic_prefix}.alerts.raw"
        run(produce(kafka_bootstrap, raw, [record(labels_for("q", i, "warning", "shop")) for i in range(2)]))
        tasks = wait_for(lambda: (lambda b: b["tasks"] if len(b["tasks"]) == 2 else None)(
            worker.get("/api/v1/tasks?limit=10")[1]), what="two queued tasks")
        by_name = {t["context"]["alertname"]: t for t in tasks}
        cancelled, resolved = by_name["AlertQ0"], by_name["AlertQ1"]
        assert {t["status"] for t in tasks} == {"pending"}
        assert worker.post(f"/api/v1/tasks/{cancelled['id']}/cancel")[0] == 202
        run(produce(kafka_bootstrap, raw, [record(labels_for("q", 1, "warning", "shop"), status="resolved",
                                                  offset_s=30)]))

        def reports():
            got = {json.loads(v)["task_id"]: json.loads(v) for _k, v in
                   run(read_all(kafka_bootstrap, f"{topic_prefix}.reports"))}
            return got if len(got) == 2 else None

        got = wait_for(reports, what="a report for each ended task")
    finally:
        worker.stop(kill=True)
    one = got[cancelled["id"]]
    assert one["status"] == "cancelled" and one["termination_reason"] == "manual_stop"
    assert one["artifacts"] == [{"name": "termination", "content": "manual_stop: ended by test-sre"}]
    assert "before it started" in one["summary"]["problem"]
    two = got[resolved["id"]]
    assert two["status"] == "cancelled" and two["termination_reason"] == "alert_resolved"
