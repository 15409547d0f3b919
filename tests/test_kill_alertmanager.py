"""Issue 13 #1 as a test: 100 distinct alerts through a real Alertmanager and the bridge into one worker, killed
with SIGKILL four times mid-run and restarted 2 s later each time. Before the fixes this left 3-10 tasks
`pending` for good (their admission records committed past with no step-loop row, their running slots held).
Now every alert is one task with one report, no slot is held, nothing is dead-lettered."""

from __future__ import annotations

import os

import pytest

from tests.alertmanager_run import ALERTMANAGER
from tests.chaosrig import Stack, census, cluster_dumps, clusters_env, distinct_alert, until

pytestmark = [pytest.mark.kafka,
              pytest.mark.skipif(ALERTMANAGER is None, reason="Alertmanager not installed (apt-get install "
                                                               "prometheus-alertmanager)")]
ALERTS = 100


def test_kill_9_under_alertmanager_load_loses_no_task_and_holds_no_slot(tmp_path, topic_prefix):
    clusters = cluster_dumps(tmp_path / "dumps", 10)
    stack = Stack(tmp_path / "stack", partitions=4, workers=1, prefix=topic_prefix,
                  external_bootstrap=os.environ.get("AETHERIUS_KAFKA_BOOTSTRAP"),
                  worker_env={"AETHERIUS_CLUSTERS": clusters_env(clusters)}).start()
    try:
        stack.post_alerts([distinct_alert(clusters, n) for n in range(ALERTS)])
        for done in (3, 15, 30, 45):  # kill at these report counts: steps in flight, reports half done
            until(lambda: len(census(stack).reports) >= done, 300, 0.2)
            stack.kill_worker(0, down_seconds=2)
        c = until(lambda: (lambda c: c if len(c.reports) >= ALERTS and c.gauges.get("aetherius_tasks_running") == 0
                           else None)(census(stack)), 300, 2)
        c = c or census(stack)
    finally:
        stack.stop()
    assert len(c.reports) == ALERTS, c.status_counts()
    assert len(c.tasks) == ALERTS and c.status_counts() == {"completed": ALERTS}
    assert c.gauges.get("aetherius_tasks_running") == 0 and c.gauges.get("aetherius_queue_depth") == 0
    assert c.deadletters == []
