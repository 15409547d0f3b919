"""`aetherius diagnose` as a subprocess: the offline contract other tools depend on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.dumpkit import alert_payload
from tests.test_rules_golden import POD, build

AETHERIUS = [str(Path(sys.executable).with_name("aetherius"))]  # the installed console script, as users run it


def aetherius(*args: str, env: dict | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("AETHERIUS_", "OPENAI_"))}
    full_env.update(env or {})
    return subprocess.run([*AETHERIUS, "diagnose", *args], capture_output=True, text=True, timeout=timeout,
                          env=full_env, cwd=Path(__file__).resolve().parents[1])


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("cli")
    dump = build(root / "dump")
    alerts = {
        "alert": alert_payload({"namespace": "ecommerce", "pod": POD}, alertname="PodCrashLoopBackOff"),
        "gone": alert_payload({"namespace": "ecommerce", "pod": "deleted-pod-0"}),
    }
    out = {"dump": dump}
    for name, payload in alerts.items():
        out[name] = root / f"{name}.json"
        out[name].write_text(json.dumps(payload))
    bad = {"not_json": "{oops", "no_alerts": json.dumps({"version": "4", "alerts": []}),
           "no_alertname": json.dumps({"alerts": [{"labels": {"pod": "x"}}]}), "list": "[1, 2]"}
    for name, text in bad.items():
        out[name] = root / f"{name}.json"
        out[name].write_text(text)
    broken = root / "broken-dump"
    (broken / "ecommerce").mkdir(parents=True)
    (broken / "ecommerce" / "pods.json").write_text("{truncated")
    out["broken"] = broken
    return out


def test_json_prints_exactly_one_result_object(files) -> None:
    proc = aetherius("--dump", str(files["dump"]), "--alert", str(files["alert"]), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)  # exactly one JSON document, nothing else on stdout
    assert result["root_cause"]["category"] == "oom_killed"
    assert result["root_cause"]["evidence"][0]["source"].endswith("containerStatuses[payment-service].lastState")
    assert result["recommendations"][0]["command"].endswith("--limits=memory=512Mi")
    assert result["confidence"] >= 0.85 and result["steps"] and result["engine"] == "rules"


def test_markdown_report(files) -> None:
    proc = aetherius("--dump", str(files["dump"]), "--alert", str(files["alert"]), "--format", "markdown", "--engine", "rules")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("# [dump] ")  # the sinks' renderer: the same Markdown Slack/Teams/email get
    assert "## Root cause\noom_killed (high): " in proc.stdout
    for heading in ("## Root cause", "### Evidence", "## Recommendations", "## Steps"):
        assert heading in proc.stdout
    assert "kubectl -n ecommerce set resources deployment/payment-service" in proc.stdout


def test_absent_target_is_unknown_not_an_error(files) -> None:
    proc = aetherius("--dump", str(files["dump"]), "--alert", str(files["gone"]))
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["root_cause"]["category"] == "unknown"
    assert result["root_cause"]["evidence"] == [{"source": "pod/ecommerce/deleted-pod-0", "detail": "not found", "kind": "field"}]


@pytest.mark.parametrize("dump,alert,fragment", [
    ("missing", "alert", "not a directory"),
    ("dump", "missing", "cannot read"),
    ("dump", "not_json", "not an Alertmanager payload"),
    ("dump", "no_alerts", "alerts"),
    ("dump", "no_alertname", "alertname"),
    ("dump", "list", "not an Alertmanager payload"),
    ("broken", "alert", "pods.json"),
])
def test_unreadable_input_exits_2_with_one_line(files, tmp_path, dump, alert, fragment) -> None:
    dump_path = files.get(dump, tmp_path / "nope")
    alert_path = files.get(alert, tmp_path / "nope.json")
    proc = aetherius("--dump", str(dump_path), "--alert", str(alert_path))
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], proc.stderr


def test_llm_engine_without_llm_is_a_clear_error(files) -> None:
    proc = aetherius("--dump", str(files["dump"]), "--alert", str(files["alert"]), "--engine", "llm")
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and "LLM" in proc.stderr


def test_an_alert_the_bridge_would_refuse_is_refused_offline_too(files, tmp_path) -> None:
    """The CLI is an entry point like the bridge: same name rules and budgets, one line on stderr, exit 2."""
    body = json.loads(files["alert"].read_text())
    body["alerts"][0]["labels"]["pod"] = "x" * 300  # longer than a pod name may be
    bad = tmp_path / "bad-alert.json"
    bad.write_text(json.dumps(body))
    proc = aetherius("--dump", str(files["dump"]), "--alert", str(bad))
    assert proc.returncode == 2 and proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1 and "alerts[0].labels.pod" in proc.stderr
