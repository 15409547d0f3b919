"""An LLM conclusion is accepted only when the evidence it cites came from this task's tool outputs (issue 12):
the matcher on its own, then on the one loop against the scripted server - an answer citing what no step
returned gets a correction turn, and a second such answer hands the task to the rule engine."""

from __future__ import annotations

import asyncio
import json

import pytest

from agents.llm.answer import LLMAnswer
from agents.llm.grounding import record_words, ungrounded
from tests.llm_server import Answer, LLMTestServer, ToolCalls
from tests.test_llm_engine import NS, Harness, answer, dump, make_task  # noqa: F401 - dump is a fixture

POD_JSON = json.dumps({"metadata": {"name": "payment-7d9-x7k2p", "namespace": "shop"},
                       "status": {"containerStatuses": [{"name": "app", "restartCount": 5, "lastState": {
                           "terminated": {"reason": "OOMKilled", "exitCode": 137}}}]}})
LOGS = "starting payment\njava.lang.OutOfMemoryError: Java heap space\n"
SEEN = record_words([POD_JSON, LOGS], findings="")


def cited(*items: tuple[str, str], category: str = "oom_killed") -> LLMAnswer:
    return LLMAnswer.model_validate({
        "summary": {"problem": "p"}, "confidence": 0.9,
        "root_cause": {"description": "d", "category": category,
                       "evidence": [{"source": s, "detail": d} for s, d in items]}})


@pytest.mark.parametrize("source, detail", [
    ("pod/shop/payment-7d9-x7k2p lastState", "lastState.terminated.reason=OOMKilled exitCode=137"),
    ("pod/shop/payment-7d9-x7k2p logs (previous)", "java.lang.OutOfMemoryError: Java heap space"),
    ("pod payment-7d9-x7k2p", "restartCount 5, reason OOMKilled"),
])
def test_evidence_quoting_what_the_steps_returned_holds(source, detail):
    assert ungrounded(cited((source, detail)), SEEN) == []


@pytest.mark.parametrize("source, detail, why", [
    ("logs/shop/payment", "dial tcp: lookup payments.shop: no such host", "not in any function result"),
    ("pod/shop/payment-7d9-x7k2p", "exitCode=139 SIGSEGV", "not in any function result"),
    ("pod/shop/payment-7d9-x7k2p", "it is so", "quotes nothing"),
    ("pod/shop/payment-7d9-x7k2p", "app shop", "no specific value"),
    ("deployment/shop/checkout-api status", "OOMKilled exitCode=137", "source names nothing"),
])
def test_evidence_nothing_returned_is_refused_with_the_reason(source, detail, why):
    (problem,) = ungrounded(cited((source, detail)), SEEN)
    assert why in problem and "evidence[0]" in problem


def test_every_item_must_hold_and_a_cause_needs_evidence():
    good = ("pod/shop/payment-7d9-x7k2p", "OOMKilled exitCode=137")
    assert len(ungrounded(cited(good, ("runbook oom_killed#fix", "raise the JVM -Xmx below the limit")), SEEN)) == 1
    assert ungrounded(cited(), SEEN) == ["the answer cites no evidence; cite the function results that show the cause"]
    assert ungrounded(cited(category="unknown"), SEEN) == []  # "nothing found" needs no citation
    # the rule engine's findings are this task's reads too
    assert ungrounded(cited(("node/node-1", "MemoryPressure True")), record_words([], "node-1 MemoryPressure=True")) == []


def test_an_ungrounded_answer_is_corrected_then_accepted_when_it_cites_the_reads(dump):
    dump_dir, pod = dump
    invented = answer()
    invented["root_cause"]["evidence"] = [{"source": f"logs/{NS}/payment", "detail": "connection refused to redis:6379"}]
    script = [ToolCalls([("get_pod", {"namespace": NS, "name": pod})]), Answer(invented), Answer(answer(pod=pod))]

    async def go():
        async with LLMTestServer(script) as srv:
            h = Harness(dump_dir, srv)
            return await h.diagnose(make_task(pod)), srv

    out, srv = asyncio.run(go())
    assert out.report.engine == "llm" and out.report.termination_reason == "root_cause_identified"
    correction = srv.requests[2]["messages"][-1]
    assert correction["role"] == "user" and "not in any function result" in correction["content"]
    assert "redis" in correction["content"] and "6379" in correction["content"]


def test_two_ungrounded_answers_hand_the_task_to_the_rules(dump):
    dump_dir, pod = dump
    invented = answer(category="dns_failure")
    invented["root_cause"]["evidence"] = [{"source": "pod/kube-system/coredns-abc", "detail": "SERVFAIL upstream"}]
    script = [Answer(invented), Answer(invented)]

    async def go():
        async with LLMTestServer(script) as srv:
            h = Harness(dump_dir, srv)
            return await h.diagnose(make_task(pod)), srv

    out, srv = asyncio.run(go())
    assert len(srv.requests) == 2
    assert out.report.engine == "rules" and out.report.termination_reason == "llm_invalid_answer"
    assert out.report.root_cause.category.value == "oom_killed"  # the rule engine's own reading of the dump
    fallback = next(a for a in out.report.artifacts if a.name == "llm_fallback")
    assert "servfail" in fallback.content.lower()
