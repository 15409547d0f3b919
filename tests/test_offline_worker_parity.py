"""Offline (`aetherius diagnose`) and the worker decide alike (issue 21 item 5): one loop, so the same strategy,
the same budget enforcement and the same termination names. Each case here was a disagreement the issue saw:
offline `--engine auto` called the model although the rules were at 0.95, offline ignored `tasks.budget_usd`,
and offline named its terminations `confidence_reached` / `analysis_complete`."""

from __future__ import annotations

import asyncio
from pathlib import Path

from agents.diagnose import diagnose_offline_run
from agents.termination import TerminationReason
from schemas.alertmanager import AlertmanagerPayload
from schemas.result import ProblemCategory
from schemas.settings import Settings
from tests.dumpkit import DumpBuilder, alert_payload
from tests.llm_server import Answer, LLMTestServer, ToolCalls
from tests.test_rules_categories import healthy_pod, oom_deployment

# Every reason the one loop can end a task with (agents/termination.py, agents/steploop.py, agents/llm/engine.py).
WORKER_NAMES = {r.value for r in TerminationReason} | {"evidence_exhausted", "cluster_unreadable", "model_concluded",
                                                         "llm_invalid_answer", "llm_unavailable"}


def write(tmp_path: Path, scenario, alertname: str) -> tuple[Path, AlertmanagerPayload]:
    b = DumpBuilder(tmp_path / "dump")
    labels = scenario(b)
    b.write()
    return b.root, AlertmanagerPayload.model_validate(alert_payload(labels, alertname=alertname))


def settings(srv: LLMTestServer, **tasks) -> Settings:
    return Settings(tasks={"timeout_seconds": 60, **tasks},
                    llm={"base_url": srv.base_url, "api_key": "k", "cheap_model": "m", "strong_model": "m",
                         "prices": {"m": [1.0, 4.0]}, "timeout_seconds": 5})


def test_auto_with_confident_rules_never_calls_the_model(tmp_path):
    dump, payload = write(tmp_path, oom_deployment, "KubeDeploymentReplicasMismatch")

    async def go():
        async with LLMTestServer([Answer("{}")]) as srv:
            return await diagnose_offline_run(dump, payload, engine="auto", settings=settings(srv)), srv

    out, srv = asyncio.run(go())
    assert srv.requests == [] and out.costs == []
    assert out.report.engine == "rules" and out.report.root_cause.category is ProblemCategory.OOM_KILLED
    assert out.report.confidence >= 0.85 and out.report.termination_reason == "root_cause_identified"


def test_offline_stops_spending_at_the_task_budget(tmp_path):
    """$0.001 budget: the first model call costs $0.0018, so no second call is made (the issue saw 28x spent)."""
    dump, payload = write(tmp_path, healthy_pod, "FrontendErrors")
    pod = payload.alerts[0].labels["pod"]
    script = [ToolCalls([("get_pod", {"namespace": "shop", "name": pod})], usage=(1000, 200)), Answer("{}")]

    async def go():
        async with LLMTestServer(script) as srv:
            return await diagnose_offline_run(dump, payload, engine="llm",
                                              settings=settings(srv, budget_usd=0.001)), srv

    out, srv = asyncio.run(go())
    assert len(srv.requests) == 1 and srv.remaining == 1
    assert out.report.termination_reason == "budget_exceeded" and out.report.status == "stopped_by_budget"
    assert sum(c.cost_usd for c in out.costs) == (1000 * 1.0 + 200 * 4.0) / 1e6


def test_offline_ends_with_the_workers_termination_names(tmp_path):
    names = set()
    for i, (scenario, alertname) in enumerate([(oom_deployment, "KubePodCrashLooping"), (healthy_pod, "FrontendErrors")]):
        dump, payload = write(tmp_path / str(i), scenario, alertname)
        names.add(asyncio.run(diagnose_offline_run(dump, payload, engine="rules")).report.termination_reason)
    assert names == {"root_cause_identified", "evidence_exhausted"} and names <= WORKER_NAMES
    assert not names & {"confidence_reached", "analysis_complete"}
