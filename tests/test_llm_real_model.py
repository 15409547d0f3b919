"""The LLM path against a REAL OpenAI-compatible server: llama-cpp-python's, serving SmolLM2-135M
(tests/llama_server.py; built once by deploy/tools/install-llama-server.sh).

Protocol, not judgement: a 135M model cannot diagnose, so nothing here grades its answers. What must hold is
what breaks with real servers and never with a scripted one: the server accepts every request the engine sends
(tools with tool_choice, tool schemas, assistant turns without text, tool messages, max_tokens), the calls it
makes come back, are parsed, run through the MCP gateway and answered, its tokens are booked, and a useless
model ends in the rule engine's answer saying why - offline (`aetherius diagnose --engine llm`) and in a real
worker on Kafka. Timings are printed (`-s`) for the record, never asserted.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from pathlib import Path

import pytest

from agents.llm import EngineOptions, LLMEngine, record_tool_result
from agents.llm.tools import specs_from_registry
from agents.termination import Termination, TerminationReason
from agents.tools.registry import load_registry
from agents.tools.types import ToolResult
from schemas.settings import LLMSettings
from schemas.signal import Priority
from schemas.task import DiagnosticTask, ResourceInfo, TaskContext, TaskLimits, TaskStatus
from tests.dumpkit import DumpBuilder, alert_payload
from tests.kafkautil import produce, run
from tests.llama_server import MODEL, llama_server, llm_env, model_wire  # noqa: F401 - fixtures
from tests.test_diagnose_cli import aetherius
from tests.test_rules_categories import healthy_pod
from tests.test_steploop_llm import alert, records, report_for
from tests.workerproc import WorkerProcess, wait_for

pytestmark = pytest.mark.real_llm

# Why a task may end in the rule engine's answer when the model is useless (never a crash, never silence).
FALLBACKS = {"llm_invalid_answer", "llm_unavailable", "too_many_errors", "max_steps_reached", "timeout",
             "budget_exceeded"}


# How a step answered without running starts (agents/llm/engine.py `_calls`, conversation.py `accept_tool_calls`).
UNRUN = ("only function calls", "arguments must be", "arguments are not valid JSON", "not executed:")


def model_mistakes_are_security_events() -> bool:
    """Issue 21 item 1, as its repro states it: until the gateway judges what a call would do, a description the
    model copied into an argument is a `destructive_operation`, which stops the task and suspends its requester."""
    from agents.tools.safety import check_call

    decision = check_call(load_registry(), "get_pod", {"namespace": "Kubernetes namespace (DNS-1123 label).",
                                                       "name": "x"}, "sre", "prod-eu")
    return bool(decision.security_event)


def no_security_stop(reason: str) -> None:
    if reason == "security_violation" and model_mistakes_are_security_events():
        pytest.xfail("a model's malformed argument is still a security event (issue 21 item 1, agents/tools/safety.py)")
    assert reason != "security_violation", "a model's mistake stopped its task as a security violation"


@pytest.fixture(scope="module")
def case(tmp_path_factory) -> tuple[Path, Path, dict]:
    """A healthy pod under an alert: the rule engine finds nothing (unknown), so the model is asked."""
    root = tmp_path_factory.mktemp("real-llm")
    builder = DumpBuilder(root / "dump")
    labels = healthy_pod(builder)
    builder.write()
    alert_file = root / "alert.json"
    alert_file.write_text(json.dumps(alert_payload(labels, alertname="FrontendErrors")))
    return builder.root, alert_file, labels


def summary(exchanges) -> str:
    calls = sum(len(e.tool_calls) for e in exchanges)
    return (f"{len(exchanges)} requests ({Counter(e.status for e in exchanges)}), {calls} tool calls, "
            f"{sum(e.tokens for e in exchanges)} tokens, {sum(e.seconds for e in exchanges):.1f}s in the model")


def test_the_server_takes_every_request_shape_the_engine_sends(model_wire):
    """One engine, the gateway's real tool schemas, against the real server: a turn with tools, the answer to its
    calls (assistant turn without text + tool messages), and a concluding turn without tools under max_tokens."""
    settings = LLMSettings(base_url=model_wire.base_url, api_key="local", cheap_model=MODEL, strong_model=MODEL,
                           prices={MODEL: (0, 0)}, timeout_seconds=240, max_tokens=64)
    engine = LLMEngine(settings, tools=specs_from_registry(load_registry().tools, role="sre"),
                       options=EngineOptions(max_retries=0))
    task = DiagnosticTask(id="wire-1", cluster_id="c", namespace="shop", priority=Priority.P2,
                          resource=ResourceInfo(kind="pod", name="web-1", namespace="shop"),
                          limits=TaskLimits(timeout_seconds=900),
                          context=TaskContext(alertname="KubePodNotReady", labels={"pod": "web-1", "namespace": "shop"}))

    async def go():
        conv = engine.start(task, findings="category unknown; pod/shop/web-1 phase=Running ready=0/1")
        first = await engine.turn(conv)
        conv = first.conversation
        for call in first.calls:  # answer every call, as the gateway would
            conv, _ = record_tool_result(conv, call.step_number, ToolResult(
                tool_id=call.tool_id, ok=True, output=json.dumps({"metadata": {"name": "web-1"}, "status": {"phase": "Running"}})),
                now=engine.clock(), max_chars=4000)
        second = await engine.turn(conv) if conv.phase.value == "llm" else None
        stop = Termination(reason=TerminationReason.MAX_STEPS_REACHED, status=TaskStatus.COMPLETED,
                           result_status="completed_with_partial_results", note="The step limit is reached.")
        base = (second.conversation if second is not None and second.conversation.phase.value == "llm" else conv)
        concluding = await engine.turn(engine.conclude(base, stop))
        return first, second, concluding

    started = time.monotonic()
    first, second, concluding = asyncio.run(go())
    exchanges = model_wire.exchanges
    print(f"\nwire round trips: {summary(exchanges)}; {time.monotonic() - started:.1f}s")
    assert [e.status for e in exchanges] == [200] * len(exchanges), [e.response for e in exchanges if e.status != 200]
    with_tools = exchanges[0].request
    assert with_tools["tool_choice"] == "auto" and with_tools["max_tokens"] == 64 and with_tools["tools"]
    assert first.action == "tool_calls" and first.calls, first.error  # llama.cpp calls tools once asked to
    assert all(c.tool_id in {t["function"]["name"] for t in with_tools["tools"]} for c in first.calls)
    answered = exchanges[1].request["messages"]
    assert any(m["role"] == "assistant" and m.get("tool_calls") and m["content"] == "" for m in answered)
    assert any(m["role"] == "tool" for m in answered)
    assert second is None or second.action != "error"
    assert concluding.action in ("answer", "retry", "invalid"), concluding.error  # a reply, judged or not
    last = exchanges[-1]
    assert "tools" not in last.request and last.response["usage"]["completion_tokens"] <= 64


def test_offline_diagnosis_with_the_real_model(case, model_wire):
    dump, alert_file, _labels = case
    started = time.monotonic()
    proc = aetherius("--dump", str(dump), "--alert", str(alert_file), "--engine", "llm", "--max-steps", "2",
                     env=llm_env(model_wire.base_url, AETHERIUS_TASKS__TIMEOUT_SECONDS="600"), timeout=900)
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    exchanges = model_wire.exchanges
    print(f"\noffline diagnosis with {MODEL}: {elapsed:.1f}s, {result['engine']} / {result['termination_reason']}; "
          f"{summary(exchanges)}")
    assert exchanges and all(e.status == 200 for e in exchanges), [e.response for e in exchanges if e.status != 200]
    turns = [s for s in result["steps"] if s["tool_id"] == "llm"]
    assert len(turns) == len(exchanges)  # one analysis step per model call
    asked = sum(len(e.tool_calls) for e in exchanges)
    after_rules = result["steps"][result["steps"].index(turns[0]):]
    executed = [s for s in after_rules if s["tool_id"] != "llm"]
    assert len(executed) == asked  # every call the model made came back as a step: run, refused or unusable
    assert result["token_usage"]["prompt_tokens"] + result["token_usage"]["completion_tokens"] == model_wire.served_tokens()
    assert result["token_usage"]["cost_usd"] == 0
    no_security_stop(result["termination_reason"])
    if result["engine"] == "rules":  # the model was useless: the rules answer, saying why
        assert result["termination_reason"] in FALLBACKS
        assert any(a["name"] == "llm_fallback" for a in result["artifacts"])
        assert result["root_cause"]["category"] == "unknown"  # the rule engine's reading of a healthy pod


@pytest.mark.kafka
def test_worker_diagnosis_with_the_real_model_on_kafka(case, model_wire, kafka_bootstrap, topic_prefix, tmp_path):
    dump, _alert_file, labels = case
    env = llm_env(model_wire.base_url, AETHERIUS_CLUSTERS=json.dumps({"c0": {"dump": str(dump)}}),
                  AETHERIUS_TASKS__MAX_STEPS="2", AETHERIUS_TASKS__TIMEOUT_SECONDS="600")
    worker = WorkerProcess(kafka_bootstrap, topic_prefix, tmp_path, env_extra=env).start()
    try:
        started = time.monotonic()
        run(produce(kafka_bootstrap, f"{topic_prefix}.alerts.raw", alert(labels, "FrontendErrors")))
        report = wait_for(lambda: report_for(kafka_bootstrap, topic_prefix, "FrontendErrors"),
                          what="the report", timeout=900)
        elapsed = time.monotonic() - started
        costs = wait_for(lambda: [c for c in records(kafka_bootstrap, f"{topic_prefix}.costs")
                                  if c["task_id"] == report["task_id"]] or None, what="the cost records", timeout=60)
    finally:
        worker.stop(kill=True)
    exchanges = model_wire.exchanges
    print(f"\nworker diagnosis with {MODEL}: {elapsed:.1f}s, {report['engine']} / {report['termination_reason']}; "
          f"{summary(exchanges)}")
    assert exchanges and all(e.status == 200 for e in exchanges), [e.response for e in exchanges if e.status != 200]
    task_id = report["task_id"]
    events = [e for e in records(kafka_bootstrap, f"{topic_prefix}.steps") if e["task_id"] == task_id]
    turns = [e for e in events if e["kind"] == "completed" and e["step"]["tool_id"] == "llm"]
    assert len(turns) == len(exchanges)  # every model call is a step on the steps topic
    first_turn = min(t["step_number"] for t in turns)
    executed = {e["step_number"] for e in events if e["kind"] == "completed" and e["step"]["tool_id"] != "llm"
                and e["step_number"] > first_turn}
    assert len(executed) == sum(len(e.tool_calls) for e in exchanges)  # each call answered by a step
    ran = [e for e in events if e["kind"] == "completed" and e["step"]["tool_id"] != "llm"
           and not (e["step"]["output"] or {}).get("stderr", "").startswith(UNRUN)]
    gateway = [a for a in records(kafka_bootstrap, f"{topic_prefix}.audit")
               if a.get("action") == "tool.call" and a.get("details", {}).get("task_id") == task_id]
    assert len(gateway) == len(ran)  # every call that ran, the rules' and the model's, went through the gateway
    assert sum(c["prompt_tokens"] + c["completion_tokens"] for c in costs) == model_wire.served_tokens()
    assert all(c["cost_usd"] == 0 and c["model"] == MODEL for c in costs)
    no_security_stop(report["termination_reason"])
    if report["engine"] == "rules":
        assert report["termination_reason"] in FALLBACKS
        assert any(a["name"] == "llm_fallback" for a in report["artifacts"])
        assert report["root_cause"]["category"] == "unknown"


@pytest.mark.kafka
def test_a_cancel_during_a_real_model_call_still_books_every_token_served(case, model_wire, kafka_bootstrap,
                                                                          topic_prefix, tmp_path):
    """The task is cancelled through the API while the server generates: the report says cancelled at once, the
    call finishes in the background, and its CostRecord is published - booked tokens == served tokens."""
    dump, _alert_file, labels = case
    env = llm_env(model_wire.base_url, AETHERIUS_CLUSTERS=json.dumps({"c0": {"dump": str(dump)}}),
                  AETHERIUS_TASKS__TIMEOUT_SECONDS="600")
    worker = WorkerProcess(kafka_bootstrap, topic_prefix, tmp_path, env_extra=env).start()
    try:
        run(produce(kafka_bootstrap, f"{topic_prefix}.alerts.raw", alert(labels, "FrontendLatency")))
        wait_for(lambda: model_wire.in_flight > 0, what="a model call in flight", timeout=300, interval=0.05)
        task_id = next(t["id"] for t in records(kafka_bootstrap, f"{topic_prefix}.task.state")
                       if t["context"]["alertname"] == "FrontendLatency")
        status, body = worker.post(f"/api/v1/tasks/{task_id}/cancel")
        assert status == 202, body
        report = wait_for(lambda: report_for(kafka_bootstrap, topic_prefix, "FrontendLatency"), what="the report",
                          timeout=300)
        wait_for(lambda: model_wire.in_flight == 0, what="the call to end", timeout=300)
        costs = wait_for(lambda: (lambda cs: cs if len(cs) == len(model_wire.exchanges) else None)(
            [c for c in records(kafka_bootstrap, f"{topic_prefix}.costs") if c["task_id"] == task_id]),
            what="a cost record for every call", timeout=60)
    finally:
        worker.stop(kill=True)
    booked = sum(c["prompt_tokens"] + c["completion_tokens"] for c in costs)
    print(f"\ncancel during a model call: {len(model_wire.exchanges)} calls, {model_wire.served_tokens()} tokens served, "
          f"{booked} booked; report {report['termination_reason']}")
    assert report["termination_reason"] == "manual_stop" and report["status"] == "cancelled"
    assert booked == model_wire.served_tokens() > 0
    assert booked > report["token_usage"]["prompt_tokens"] + report["token_usage"]["completion_tokens"]
