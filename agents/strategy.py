"""Which engine diagnoses a task (SRS §5.9.2), and how complex an alert is.

Order of the decision:
1. knowledge match >= 0.8                                  -> knowledge_based
2. an LLM is configured, the AI path is available (service
   healthy, global budget admits it, degradation below level 2)
   and the task's own budget has more than 20% left        -> ai_powered, strong model when the
                                                              complexity score >= 7, else the cheap one
3. otherwise                                               -> rule_based (no LLM configured always lands here)

"Budget left" is the task's own budget (SRS §3.3.2 $0.50): the day and month budgets act through
`ai_available` (`agents.budget.ai_admission` turns them off at 95%). Reading it as the daily budget
would send every task to the rules from 80% daily use on, which contradicts §5.9.6 (level 1 at 80%
only reduces concurrency). A step loop that re-evaluates the strategy per step can use the same rule
to let a task that has spent 80% of its budget finish with the rule engine. The SRS's final `manual_escalation` branch cannot be reached
(the branches above cover every input), so it is not modelled.
"""

from __future__ import annotations

from enum import Enum

from pydantic import BaseModel, ConfigDict, Field

from agents.budget import Admission, DegradationState, Ledger
from schemas.result import DiagnosticResult, ProblemCategory
from schemas.settings import LLMSettings
from schemas.signal import Priority
from schemas.task import DiagnosticTask

KNOWLEDGE_MATCH_THRESHOLD = 0.8
MIN_BUDGET_REMAINING_PCT = 20.0
STRONG_MODEL_FROM = 7

# Alerts whose name already says what broke: the diagnosis confirms rather than searches.
_SELF_EXPLAINING_ALERTS = frozenset({
    "oomkilled", "oomkilling", "kubecontaineroomkilled", "imagepullbackoff", "errimagepull",
    "kubenodenotready", "nodenotready", "kubehpamaxedout", "kubequotaexceeded", "kubequotafullyused",
    "failedmount", "failedattachvolume", "evicted",
})


class Strategy(str, Enum):
    KNOWLEDGE_BASED = "knowledge_based"
    AI_POWERED = "ai_powered"
    RULE_BASED = "rule_based"


class Complexity(BaseModel):
    """A 0-10 score and the factors behind it, so a model choice can be explained."""

    model_config = ConfigDict(frozen=True)

    score: int = Field(ge=0, le=10)
    factors: tuple[tuple[str, int], ...] = ()


class StrategyDecision(BaseModel):
    model_config = ConfigDict(frozen=True)

    strategy: Strategy
    model: str | None = None  # set for ai_powered
    complexity: int = 0
    reason: str
    estimated_cost_usd: float = 0.0  # SRS §5.9.2 estimates, for the task record
    estimated_minutes: float = 0.0


def alert_complexity(task: DiagnosticTask, rule_finding: DiagnosticResult | None = None) -> Complexity:
    """How hard the alert is likely to be to explain, 0 (trivial) to 10.

    Starts at 3 and adds what makes a search wider (severity, urgency, several clusters or signals,
    no named target, a node-wide target, rules that found nothing) and subtracts what narrows it
    (an alert that names its cause, a confident rule-engine finding).
    """
    ctx = task.context
    factors: list[tuple[str, int]] = [("base", 3)]
    severity = {"critical": 2, "warning": 1}.get(ctx.severity, 0)
    if severity:
        factors.append((f"severity {ctx.severity}", severity))
    if task.priority is Priority.P0:
        factors.append(("priority P0", 1))
    if len(ctx.clusters) > 1 or ctx.incident_id:
        factors.append(("spans several clusters", 2))
    if len(ctx.signal_fingerprints) > 1:
        factors.append(("several correlated signals", 1))
    if not task.resource.name:
        factors.append(("no named target resource", 2))
    elif task.resource.kind.lower() in ("node", "nodes"):
        factors.append(("node-wide target", 1))
    if ctx.alertname.lower() in _SELF_EXPLAINING_ALERTS:
        factors.append((f"alert {ctx.alertname} names its cause", -2))
    if rule_finding is None:
        factors.append(("no rule-engine evidence", 1))
    elif rule_finding.root_cause is None or rule_finding.root_cause.category is ProblemCategory.UNKNOWN:
        factors.append(("rule engine found no cause", 2))
    elif rule_finding.confidence >= 0.85:
        factors.append(("rule engine is confident", -2))
    score = max(0, min(10, sum(delta for _, delta in factors)))
    return Complexity(score=score, factors=tuple(factors))


def choose_strategy(*, knowledge_match: float, llm_configured: bool, ai_available: bool,
                    budget_remaining_pct: float, complexity: int, cheap_model: str, strong_model: str,
                    strong_from: int = STRONG_MODEL_FROM) -> StrategyDecision:
    """SRS §5.9.2, as ordered in the module docstring."""
    if not 0.0 <= knowledge_match <= 1.0:
        raise ValueError(f"knowledge_match must be within [0, 1], got {knowledge_match!r}")
    if knowledge_match >= KNOWLEDGE_MATCH_THRESHOLD:
        return StrategyDecision(strategy=Strategy.KNOWLEDGE_BASED, complexity=complexity,
                                reason=f"knowledge match {knowledge_match:.2f} >= {KNOWLEDGE_MATCH_THRESHOLD}",
                                estimated_cost_usd=0.05, estimated_minutes=2)
    if not llm_configured:
        reason = "no LLM configured"
    elif not ai_available:
        reason = "AI service unavailable or held back by budget/degradation"
    elif budget_remaining_pct <= MIN_BUDGET_REMAINING_PCT:
        reason = f"task budget left {budget_remaining_pct:.0f}% <= {MIN_BUDGET_REMAINING_PCT:.0f}%"
    else:
        strong = complexity >= strong_from
        return StrategyDecision(
            strategy=Strategy.AI_POWERED, model=strong_model if strong else cheap_model, complexity=complexity,
            reason=f"complexity {complexity} {'>=' if strong else '<'} {strong_from}: "
                   f"{'strong' if strong else 'cheap'} model",
            estimated_cost_usd=0.30, estimated_minutes=6.5)
    return StrategyDecision(strategy=Strategy.RULE_BASED, complexity=complexity, reason=reason,
                            estimated_cost_usd=0.0, estimated_minutes=3)


def decide_for_task(task: DiagnosticTask, llm: LLMSettings, *, knowledge_match: float = 0.0,
                    rule_finding: DiagnosticResult | None = None, admission: Admission | None = None,
                    degradation: DegradationState | None = None, task_ledger: Ledger | None = None,
                    ai_service_healthy: bool = True) -> StrategyDecision:
    """`choose_strategy` fed from the system's own state: settings, budget admission, degradation level
    (>= 2 means rules only) and the task's ledger (missing means nothing spent yet)."""
    complexity = alert_complexity(task, rule_finding).score
    ai_available = (ai_service_healthy and (admission is None or admission.ai_allowed)
                    and (degradation is None or degradation.level < 2))
    remaining = 100.0 if task_ledger is None else task_ledger.remaining_pct
    if task_ledger is None and task.limits.budget_usd <= 0:
        remaining = 0.0
    if task.limits.budget_tokens == 0:  # no token may be spent: no model call, whatever the price
        remaining = 0.0
    return choose_strategy(knowledge_match=knowledge_match, llm_configured=llm.configured,
                           ai_available=ai_available, budget_remaining_pct=remaining, complexity=complexity,
                           cheap_model=llm.cheap_model, strong_model=llm.strong_model)
