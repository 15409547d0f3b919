"""SRS §5.9.2 strategy selection, every branch, and the complexity score that picks the model."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from agents.budget import BudgetLimits, DegradationState, ai_admission, apply_cost, new_ledger
from agents.strategy import Strategy, alert_complexity, choose_strategy, decide_for_task
from schemas.audit import CostRecord
from schemas.result import DiagnosticResult, ProblemCategory, ResultSummary, RootCauseAnalysis
from schemas.settings import LLMSettings
from schemas.signal import Priority
from schemas.task import DiagnosticTask, ResourceInfo, TaskContext

LLM = LLMSettings(base_url="http://127.0.0.1:1/v1", cheap_model="cheap", strong_model="strong",
                  prices={"cheap": (0.1, 0.4), "strong": (1.0, 4.0)})
AT = datetime(2026, 11, 25, 12, tzinfo=timezone.utc)


def task(severity="warning", alertname="KubePodCrashLooping", priority=Priority.P2, name="payment-7d9",
         kind="pod", **ctx) -> DiagnosticTask:
    return DiagnosticTask(id="t1", cluster_id="c1", priority=priority,
                          resource=ResourceInfo(kind=kind, name=name, namespace="shop"),
                          context=TaskContext(alertname=alertname, severity=severity, **ctx))


def finding(category: ProblemCategory, confidence: float) -> DiagnosticResult:
    return DiagnosticResult(task_id="t1", summary=ResultSummary(problem="x"), confidence=confidence,
                            root_cause=RootCauseAnalysis(description="x", category=category))


def choose(**kw):
    args = dict(knowledge_match=0.0, llm_configured=True, ai_available=True, budget_remaining_pct=100.0,
                complexity=3, cheap_model="cheap", strong_model="strong")
    args.update(kw)
    return choose_strategy(**args)


def test_knowledge_match_wins_from_0_8():
    assert choose(knowledge_match=0.8).strategy is Strategy.KNOWLEDGE_BASED
    assert choose(knowledge_match=0.8, llm_configured=False).strategy is Strategy.KNOWLEDGE_BASED
    assert choose(knowledge_match=0.79).strategy is Strategy.AI_POWERED


def test_ai_with_the_model_chosen_by_complexity():
    assert (choose(complexity=7).strategy, choose(complexity=7).model) == (Strategy.AI_POWERED, "strong")
    assert choose(complexity=6).model == "cheap"
    assert choose(complexity=6).estimated_cost_usd == 0.30


@pytest.mark.parametrize("kw, why", [
    (dict(llm_configured=False), "no LLM configured"),
    (dict(ai_available=False), "unavailable"),
    (dict(budget_remaining_pct=20.0), "budget left 20%"),
])
def test_rules_otherwise(kw, why):
    decision = choose(**kw)
    assert decision.strategy is Strategy.RULE_BASED and decision.model is None and why in decision.reason


def test_bad_match_score_is_refused():
    with pytest.raises(ValueError, match="knowledge_match"):
        choose(knowledge_match=1.2)


def test_complexity_score_factors():
    simple = alert_complexity(task(alertname="OOMKilled"), finding(ProblemCategory.OOM_KILLED, 0.9))
    assert simple.score == 0  # 3 + 1 warning - 2 self-explaining - 2 confident rules
    crash = alert_complexity(task(), finding(ProblemCategory.APPLICATION_CRASH, 0.7))
    assert crash.score == 4
    hard = alert_complexity(task(severity="critical", priority=Priority.P0, clusters=["a", "b", "c"],
                                 signal_fingerprints=["f1", "f2"]),
                            finding(ProblemCategory.UNKNOWN, 0.2))
    assert hard.score == 10  # 3+2+1+2+1+2 = 11, clamped
    assert ("rule engine found no cause", 2) in hard.factors
    assert alert_complexity(task(severity="critical")).score == 6  # no rule evidence yet: +1
    assert alert_complexity(task(severity="critical", name="")).score == 8
    assert alert_complexity(task(kind="node", name="n1", severity="info")).score == 5


def test_decide_for_task_reads_settings_budget_and_degradation():
    critical = task(severity="critical", priority=Priority.P0)
    assert decide_for_task(critical, LLM).model == "strong"  # 3+2+1+1 = 7
    assert decide_for_task(task(), LLM).model == "cheap"
    assert decide_for_task(task(), LLM, knowledge_match=0.9).strategy is Strategy.KNOWLEDGE_BASED
    assert decide_for_task(task(), LLM, degradation=DegradationState(level=2)).strategy is Strategy.RULE_BASED
    assert decide_for_task(task(), LLM, degradation=DegradationState(level=1)).strategy is Strategy.AI_POWERED

    day, _ = apply_cost(new_ledger("day", "2026-11-25", BudgetLimits(daily_usd=10)),
                        CostRecord(id="x:1:1", task_id="x", model="m", cost_usd=9.5, at=AT))
    assert decide_for_task(task(), LLM, admission=ai_admission(day, None)).strategy is Strategy.RULE_BASED

    spent, _ = apply_cost(new_ledger("task", "t1", BudgetLimits()),
                          CostRecord(id="t1:1:1", task_id="t1", model="m", cost_usd=0.41, at=AT))
    decision = decide_for_task(task(), LLM, task_ledger=spent)
    assert decision.strategy is Strategy.RULE_BASED and "budget left 18%" in decision.reason


def test_no_llm_configured_means_rules(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    assert decide_for_task(task(severity="critical"), LLMSettings()).strategy is Strategy.RULE_BASED
