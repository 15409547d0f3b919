"""Strategy per task at admission (SRS §5.9.2), through the step loop's own handlers.

The one loop is driven in memory (agents/inmemory.py; the Kafka transport itself is covered by
tests/test_steploop_kafka.py and test_steploop_llm.py). Tools run for real through the in-process MCP gateway
over a cluster dump. The knowledge base is a test double
of the `knowledge_lookup(task) -> (score, entries)` hook.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timezone
from types import SimpleNamespace

import pytest

from agents.budget_view import BudgetView
from agents.cluster.dump import DumpReader
from agents.engine import RulesEngine
from agents.llm.engine import LLMEngine
from agents.steploop import StepLoop
from agents.gateway.inprocess import in_process_executor
from agents.inmemory import MemoryTopics, run_task
from schemas.budget import BudgetDecision, DegradationDecision
from schemas.knowledge import KnowledgeEntry
from schemas.settings import LLMSettings
from schemas.signal import Priority
from schemas.task import DiagnosticTask, ResourceInfo, TaskContext
from tests.dumpkit import DumpBuilder
from tests.test_rules_categories import oom_deployment

ENTRY = KnowledgeEntry(id="kb-oom", title="JVM heap vs limit", content="Raise -Xmx below the memory limit.")


@pytest.fixture(scope="module")
def dump(tmp_path_factory):
    builder = DumpBuilder(tmp_path_factory.mktemp("strategy") / "dump")
    labels = oom_deployment(builder)
    builder.write()
    labels.pop("alertname", None)
    return builder.root, labels


def make_loop(dump_dir, *, lookup=None, llm=None, view=None) -> StepLoop:
    executor = in_process_executor({"c0": DumpReader(dump_dir, cluster_id="c0")})
    return StepLoop(topics=MemoryTopics(), table={}, engine=RulesEngine(), executor=executor, llm=llm,
                    budget=SimpleNamespace(view=view) if view is not None else None, knowledge_lookup=lookup)


def make_task(labels: dict) -> DiagnosticTask:
    return DiagnosticTask(id="t-1", cluster_id="c0", namespace=labels["namespace"], priority=Priority.P2,
                          resource=ResourceInfo(kind="deployment", name=labels.get("deployment", "")),
                          context=TaskContext(alertname="KubeDeploymentReplicasMismatch", labels=labels))


async def diagnose(loop: StepLoop, task: DiagnosticTask) -> dict:
    """The one loop in memory, from admission to the report (as a dict, as consumers read it)."""
    try:
        run = await run_task(loop, loop.topics, task, idle_seconds=0.2)
    finally:
        await loop.executor.aclose()
    return json.loads(run.report.model_dump_json())


def admitted(loop: StepLoop) -> dict:
    return json.loads(loop.topics.values("task.state")[0])["metadata"]


def sent(loop: StepLoop, topic: str) -> list[dict]:
    return [json.loads(v) for v in loop.topics.values(topic)]


def llm() -> LLMEngine:
    """Configured but never called in these tests (no turn is opened before the rules finish)."""
    return LLMEngine(LLMSettings(base_url="http://127.0.0.1:9/v1", api_key="x", cheap_model="cheap",
                                 strong_model="strong", prices={"cheap": (0.1, 0.4), "strong": (1.0, 4.0)}))


def test_a_strong_knowledge_match_is_knowledge_based(dump):
    dump_dir, labels = dump
    loop = make_loop(dump_dir, lookup=lambda task: (0.91, [ENTRY]), llm=llm())
    report = asyncio.run(diagnose(loop, make_task(labels)))
    assert admitted(loop)["strategy"] == "knowledge_based" and admitted(loop)["knowledge_ids"] == ["kb-oom"]
    assert report["engine"] == "knowledge" and report["root_cause"]["category"] == "oom_killed"
    assert any(a["name"] == "knowledge:kb-oom" and "Xmx" in a["content"] for a in report["artifacts"])
    assert sent(loop, "costs") == []


def test_a_weak_match_or_a_broken_lookup_without_llm_is_rule_based(dump):
    dump_dir, labels = dump

    async def weak(task):
        return 0.5, [ENTRY]

    def broken(task):
        raise RuntimeError("qdrant is down")

    for lookup in (weak, broken, None):
        loop = make_loop(dump_dir, lookup=lookup)
        report = asyncio.run(diagnose(loop, make_task(labels)))
        assert admitted(loop)["strategy"] == "rule_based" and report["engine"] == "rules"
        assert report["root_cause"]["category"] == "oom_killed" and report["steps"]


def test_an_llm_is_chosen_within_budget_and_not_from_95_percent(dump):
    dump_dir, labels = dump
    loop = make_loop(dump_dir, llm=llm(), view=BudgetView())
    asyncio.run(loop.on_admission(make_task(labels)))
    meta = admitted(loop)
    assert meta["strategy"] == "ai_powered" and meta["model"] in ("cheap", "strong")  # (asyncio.run cancelled its calls)

    now = datetime.now(timezone.utc)
    blocked = BudgetView().apply(BudgetDecision(
        id="b", kind="rules_only", scope="day", key=now.strftime("%Y-%m-%d"), spent_usd=9.6, limit_usd=10,
        ratio=0.96, cost_record_id="x:3:1", at=now))
    degraded = BudgetView().apply(DegradationDecision(id="d", level=2, previous_level=1, at=now, rules_only=True))
    for view, why in ((blocked, "budget"), (degraded, "degradation")):
        loop = make_loop(dump_dir, llm=llm(), view=view)
        report = asyncio.run(diagnose(loop, make_task(labels)))
        assert admitted(loop)["strategy"] == "rule_based", why
        assert "budget" in admitted(loop)["strategy_reason"] or "degradation" in admitted(loop)["strategy_reason"]
        assert report["engine"] == "rules"


def test_confident_rules_end_an_ai_powered_task_without_a_model_call(dump):
    """SRS §5.9.4: root-cause confidence >= 0.85 terminates - the rules already explain this OOM."""
    dump_dir, labels = dump
    loop = make_loop(dump_dir, llm=llm(), view=BudgetView())
    report = asyncio.run(diagnose(loop, make_task(labels)))
    assert admitted(loop)["strategy"] == "ai_powered"
    assert report["engine"] == "rules" and report["termination_reason"] == "root_cause_identified"
    assert report["confidence"] >= 0.85 and sent(loop, "costs") == []
