"""`aetherius demo --once` end to end, as a new user runs it (on the session's broker instead of its own):
six tasks from seven alerts, one cross-cluster incident, a report per task with the right root causes, and
stats from ClickHouse."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

pytestmark = pytest.mark.kafka


def test_demo_once_prints_reports_and_stats(kafka_bootstrap, tmp_path):
    env = {**os.environ, "AETHERIUS_KAFKA_BOOTSTRAP": kafka_bootstrap}
    proc = subprocess.run([sys.executable, "-m", "aetherius.cli", "demo", "--once", "--work-dir", str(tmp_path)],
                          env=env, capture_output=True, text=True, timeout=600)
    out, err = proc.stdout, proc.stderr
    assert proc.returncode == 0, err[-3000:]
    assert "6 tasks from 7 alerts (1 duplicate suppressed); 1 cross-cluster incident" in out
    assert len(re.findall(r"^# \[", out, re.M)) == 6  # one Markdown report per task
    for category in ("oom_killed", "dependency_failure", "volume_mount_failure", "image_pull_failure"):
        assert f"\n{category}" in out.split("Stats: root causes")[1], category
    assert out.count("prod-eu,prod-us,staging") == 1  # the incident's task lists its three clusters
    assert "--limits=memory=512Mi" in out  # the SRS §3.4 fix, as text
    assert re.search(r"completed\s+6", out), out.split("Stats: task status")[1][:300]
    assert "done: 6 reports" in err
