"""`aetherius diagnose --engine llm|auto` as a subprocess against the scripted OpenAI-compatible server:
the rule engine runs first over the dump, the LLM continues through the same offline executor, and
every way the LLM fails still prints one result (exit 0). Without an LLM, `llm` is exit 2 (see
test_diagnose_cli) and `auto` is the rule engine."""

from __future__ import annotations

import json

import pytest

from tests.dumpkit import DumpBuilder, alert_payload
from tests.llm_server import Answer, HttpError, ToolCalls
from tests.test_diagnose_cli import aetherius
from tests.test_rules_categories import healthy_pod
from tests.test_steploop_llm import PRICES, ServerThread, answer


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli-llm")
    builder = DumpBuilder(root / "dump")
    labels = healthy_pod(builder)
    builder.write()
    alert = root / "alert.json"
    alert.write_text(json.dumps(alert_payload(labels, alertname="FrontendErrors")))
    return builder.root, alert, labels["pod"]


def env(srv) -> dict[str, str]:
    return {"AETHERIUS_LLM__BASE_URL": srv.base_url, "AETHERIUS_LLM__API_KEY": "test-key",
            "AETHERIUS_LLM__CHEAP_MODEL": "test-cheap", "AETHERIUS_LLM__STRONG_MODEL": "test-strong",
            "AETHERIUS_LLM__PRICES": json.dumps(PRICES), "AETHERIUS_LLM__TIMEOUT_SECONDS": "10"}


@pytest.mark.parametrize("engine", ["llm", "auto"])
def test_llm_diagnosis_through_the_offline_executor(files, engine):
    dump, alert, pod = files
    script = [ToolCalls([("describe_pod", {"namespace": "shop", "name": pod})], usage=(800, 40)),
              Answer(answer("readiness_probe_failure", 0.88), usage=(900, 90))]
    with ServerThread(script) as srv:
        proc = aetherius("--dump", str(dump), "--alert", str(alert), "--engine", engine, env=env(srv))
        requests = list(srv.requests)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["engine"] == "llm" and result["root_cause"]["category"] == "readiness_probe_failure"
    assert result["termination_reason"] == "root_cause_identified"
    tools = [s["tool_id"] for s in result["steps"]]
    n = len(tools) - 3  # the worker's loop: the rule engine's steps first, then the model's
    assert n >= 1 and "llm" not in tools[:n] and tools[n:] == ["llm", "describe_pod", "llm"]
    assert result["steps"][n + 1]["status"] == "completed"
    assert pod in result["steps"][n + 1]["output"]["stdout"]  # the tool really ran over the dump
    assert result["token_usage"]["cost_usd"] == pytest.approx((800 + 40 * 4 + 900 + 90 * 4) / 1e6)
    first_prompt = json.dumps(requests[0]["messages"])
    assert "unknown" in first_prompt  # the rule engine's findings are the model's starting evidence
    assert len(requests) == 2 and requests[0]["model"] == "test-cheap"


def test_an_unreachable_llm_still_gives_the_rule_result(files):
    dump, alert, _pod = files
    with ServerThread([HttpError(500), HttpError(500), HttpError(500), HttpError(500)]) as srv:
        proc = aetherius("--dump", str(dump), "--alert", str(alert), "--engine", "llm", env=env(srv))
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["engine"] == "rules" and result["termination_reason"] == "llm_unavailable"
    assert result["root_cause"]["category"] == "unknown"


def test_auto_without_an_llm_is_the_rule_engine(files):
    dump, alert, _pod = files
    proc = aetherius("--dump", str(dump), "--alert", str(alert), "--engine", "auto")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["engine"] == "rules"
