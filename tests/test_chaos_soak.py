"""The chaos soak with exact counts (tests/chaossoak.py says what it does): a few minutes of a steady alert
stream through a real Alertmanager while workers are killed with SIGKILL every ~20 s, the broker is restarted
twice, and a poison record and an oversize alert arrive. The longer variant is benchmarks/bench_chaos.py."""

from __future__ import annotations

import pytest

from tests.alertmanager_run import ALERTMANAGER
from tests.chaossoak import SoakConfig, run_soak

pytestmark = [pytest.mark.kafka,
              pytest.mark.skipif(ALERTMANAGER is None, reason="Alertmanager not installed (apt-get install "
                                                               "prometheus-alertmanager)")]


def test_chaos_soak_every_alert_one_task_one_report_nothing_stuck(tmp_path, capsys):
    result = run_soak(SoakConfig(work=tmp_path / "soak", seconds=150, rate=1.0))
    with capsys.disabled():
        print("\n" + result.table())
    assert result.kills >= 5 and result.broker_restarts == 2
    assert result.missing == [], result.missing[:10]
    assert result.tasks == result.alerts_in  # every distinct alert is one task (and nothing else is)
    assert result.reports_unique == result.tasks  # every task has its report on the topic
    assert result.clickhouse_reports == result.tasks and result.clickhouse_tasks == result.tasks
    assert result.stuck == 0 and result.running_slots == 0 and result.queue_depth == 0
    assert result.deaths == 0  # no worker died by itself
    assert [d["stage"] for d in result.deadletters] == ["signals"]  # the poison record, and only it
    assert set(result.task_statuses) <= {"completed", "failed"}
