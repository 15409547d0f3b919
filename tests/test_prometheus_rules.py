"""deploy/prometheus/rules.yml: valid for promtool, and the key alerts fire (and stay quiet) on synthetic series.

Needs promtool (Debian package `prometheus`: apt-get install -y prometheus); skipped, saying so, without it.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

RULES = Path(__file__).resolve().parents[1] / "deploy" / "prometheus" / "rules.yml"
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed (apt-get install -y prometheus)")

# Metric families the rules may use: exposed today, or to be exposed by the roles (listed in the sink README).
KNOWN_METRICS = {
    "up", "aetherius_tasks_total", "aetherius_task_duration_seconds_bucket", "aetherius_queue_depth",
    "aetherius_tasks_shed_total", "aetherius_tool_calls_total", "aetherius_http_auth_failures_total",
    "aetherius_audit_sink_failures_total", "aetherius_dead_letters_total", "aetherius_alerts_rejected_total",
    "aetherius_cluster_available", "aetherius_llm_tokens_total", "aetherius_llm_calls_total",
    "aetherius_kb_search_seconds_bucket", "aetherius_budget_usage_ratio", "aetherius_degradation_level",
    "aetherius_sink_deliveries_total", "aetherius_clickhouse_up", "aetherius_clickhouse_insert_failures_total",
    "aetherius_clickhouse_rows_rejected_total", "aetherius_clickhouse_records_total",
    "aetherius_security_events_total", "aetherius_security_alerts_total", "aetherius_watch_cluster_failing",
    "aetherius_produce_failures_total", "aetherius_worker_stalled", "aetherius_worker_stalls_total",
    "aetherius_partition_lag", "aetherius_slots_reconciled_total",
}

UNIT_TESTS = {
    "rule_files": [str(RULES)],
    "evaluation_interval": "1m",
    "tests": [
        {   # 20% of finished tasks fail -> HighTaskFailureRate after 2m; the healthy cluster alone would not.
            "interval": "1m",
            "input_series": [
                {"series": 'aetherius_tasks_total{status="failed",priority="P2",cluster="a"}', "values": "0+2x20"},
                {"series": 'aetherius_tasks_total{status="completed",priority="P2",cluster="a"}', "values": "0+8x20"},
                {"series": 'aetherius_tasks_total{status="pending",priority="P2",cluster="a"}', "values": "0+50x20"},
            ],
            "alert_rule_test": [
                {"eval_time": "10m", "alertname": "HighTaskFailureRate",
                 "exp_alerts": [{"exp_labels": {"severity": "warning"},
                                 "exp_annotations": {"summary": "High task failure rate detected",
                                                     "description": "Task failure rate is 20%"}}]},
            ],
        },
        {   # One changelog record refused -> RecordsUndeliverable, per topic; a topic with none stays quiet.
            "interval": "1m",
            "input_series": [
                {"series": 'aetherius_produce_failures_total{topic="x-dedup-changelog"}', "values": "0 0 1 1 1"},
                {"series": 'aetherius_produce_failures_total{topic="x.signals"}', "values": "0 0 0 0 0"},
            ],
            "alert_rule_test": [
                {"eval_time": "3m", "alertname": "RecordsUndeliverable",
                 "exp_alerts": [{"exp_labels": {"severity": "critical", "topic": "x-dedup-changelog"},
                                 "exp_annotations": {"summary": "Kafka refused records from the pipeline",
                                                     "description": "1 records for x-dedup-changelog were "
                                                                    "not delivered in 5 minutes"}}]},
            ],
        },
        {   # A worker stalled on a partition for 3 minutes fires, with its reason; one stalled 1 minute does not.
            "interval": "1m",
            "input_series": [
                {"series": 'aetherius_worker_stalled{instance="w1:6066",reason="partition"}',
                 "values": "0 1 1 1 1 1"},
                {"series": 'aetherius_worker_stalled{instance="w2:6066",reason="recovery"}',
                 "values": "0 1 0 0 0 0"},
                {"series": 'aetherius_worker_stalls_total{instance="w1:6066",reason="partition"}',
                 "values": "0 1 2 3 3 3"},
            ],
            "alert_rule_test": [
                {"eval_time": "4m", "alertname": "WorkerStalled",
                 "exp_alerts": [{"exp_labels": {"severity": "critical", "instance": "w1:6066", "reason": "partition"},
                                 "exp_annotations": {"summary": "A stream worker is stalled",
                                                     "description": "w1:6066 is stalled (partition); its liveness "
                                                                    "probe fails"}}]},
                {"eval_time": "4m", "alertname": "WorkerStallsRepeat",
                 "exp_alerts": [{"exp_labels": {"severity": "warning", "instance": "w1:6066"},
                                 "exp_annotations": {"summary": "A stream worker keeps stalling",
                                                     "description": "w1:6066 stalled 3 times in 30 minutes"}}]},
            ],
        },
        {   # 5% failures: quiet.
            "interval": "1m",
            "input_series": [
                {"series": 'aetherius_tasks_total{status="failed"}', "values": "0+1x20"},
                {"series": 'aetherius_tasks_total{status="completed"}', "values": "0+19x20"},
            ],
            "alert_rule_test": [{"eval_time": "10m", "alertname": "HighTaskFailureRate", "exp_alerts": []}],
        },
        {   # Budget: 85% of the day -> warning only; the worker down for 2m -> AIServiceDown.
            "interval": "1m",
            "input_series": [
                {"series": 'aetherius_budget_usage_ratio{period="day"}', "values": "0.85x10"},
                {"series": 'up{job="aetherius-worker",instance="w1:6066"}', "values": "1 1 0 0 0 0 0 0 0 0"},
                {"series": "aetherius_queue_depth", "values": "90x10"},
            ],
            "alert_rule_test": [
                {"eval_time": "5m", "alertname": "DailyBudgetWarning",
                 "exp_alerts": [{"exp_labels": {"severity": "warning"},
                                 "exp_annotations": {"summary": "80% of the daily LLM budget is spent",
                                                     "description": "Daily budget usage is 85%"}}]},
                {"eval_time": "5m", "alertname": "DailyBudgetCritical", "exp_alerts": []},
                {"eval_time": "5m", "alertname": "AIServiceDown",
                 "exp_alerts": [{"exp_labels": {"severity": "critical", "job": "aetherius-worker",
                                                "instance": "w1:6066"},
                                 "exp_annotations": {"summary": "AI reasoning service is down",
                                                     "description": "w1:6066 of job aetherius-worker has not "
                                                                    "answered scrapes for 1 minute"}}]},
                {"eval_time": "8m", "alertname": "TaskQueueBacklog",
                 "exp_alerts": [{"exp_labels": {"severity": "warning"},
                                 "exp_annotations": {"summary": "Diagnosis queue is backing up",
                                                     "description": "90 tasks are waiting for a running slot"}}]},
            ],
        },
        {   # A watcher failing for 12 minutes fires; one that recovered after 5 does not.
            "interval": "1m",
            "input_series": [
                {"series": 'aetherius_watch_cluster_failing{cluster="eu",instance="w"}',
                 "values": "0 1 2 3 4 5 6 7 8 9 10 11 12 13"},
                {"series": 'aetherius_watch_cluster_failing{cluster="us",instance="w"}',
                 "values": "0 1 2 3 4 0 0 0 0 0 0 0 0 0"},
            ],
            "alert_rule_test": [
                {"eval_time": "13m", "alertname": "WatchClusterFailing",
                 "exp_alerts": [{"exp_labels": {"severity": "warning", "cluster": "eu"},
                                 "exp_annotations": {"summary": "A cluster's event watcher keeps failing",
                                                     "description": "The watcher for eu has failed 13 times in a "
                                                                    "row (credentials or API)"}}]},
            ],
        },
        {   # One blocked escalation is enough to page.
            "interval": "1m",
            "input_series": [
                {"series": 'aetherius_security_events_total{kind="privilege_escalation",instance="w"}',
                 "values": "0 0 1 1 1 1"},
            ],
            "alert_rule_test": [
                {"eval_time": "4m", "alertname": "SecurityEventRaised",
                 "exp_alerts": [{"exp_labels": {"severity": "critical", "kind": "privilege_escalation"},
                                 "exp_annotations": {"summary": "A tool request was blocked as a security event",
                                                     "description": "1 privilege_escalation events in 10 minutes; "
                                                                    "see the audit log (security.*)"}}]},
            ],
        },
    ],
}


@needs_promtool
def test_promtool_accepts_the_rules() -> None:
    out = subprocess.run([PROMTOOL, "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS" in out.stdout


@needs_promtool
def test_the_key_alerts_fire_as_specified(tmp_path: Path) -> None:
    path = tmp_path / "rules_test.yml"
    path.write_text(yaml.safe_dump(UNIT_TESTS, sort_keys=False))
    out = subprocess.run([PROMTOOL, "test", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr


def test_srs_alerts_are_present_and_every_metric_is_known() -> None:
    import re

    doc = yaml.safe_load(RULES.read_text())
    rules = [r for g in doc["groups"] for r in g["rules"]]
    names = {r["alert"] for r in rules}
    assert {"HighTaskFailureRate", "AIServiceDown"} <= names  # SRS §8.1.3
    for r in rules:
        assert r["labels"]["severity"] in ("info", "warning", "critical") and r["annotations"]["summary"]
        used = set(re.findall(r"\b(aetherius_[a-z_]+|up)\b(?=\s*[{\[)=<>!]|\s*$)", r["expr"]))
        assert used and used <= KNOWN_METRICS, (r["alert"], used - KNOWN_METRICS)
