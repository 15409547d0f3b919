"""Budget records on the `budget` topic: threshold decisions, degradation changes, and ticks.

The budget owner (agents/budget_agent.py) publishes a `BudgetDecision` when a day/month ledger
crosses 80%/95%/100% and a `DegradationDecision` when the degradation level changes; every worker
folds them into its view (agents/budget_view.py) to decide new tasks' strategy. A `BudgetTick` asks
the owner to re-evaluate without a cost (so a degraded level can recover on a quiet day).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from schemas.base import Record, utcnow

Scope = Literal["task", "day", "month"]
DecisionKind = Literal["warning", "rules_only", "exhausted"]


class BudgetDecision(Record):
    """A threshold crossing, published so admins are told and the scheduler/strategy can react."""

    type: Literal["budget_decision"] = "budget_decision"
    id: str  # f"budget:{scope}:{key}:{kind}" - one per ledger and threshold
    kind: DecisionKind
    scope: Scope
    key: str
    spent_usd: float
    limit_usd: float
    ratio: float
    cost_record_id: str  # the cost that crossed the threshold
    at: datetime = Field(default_factory=utcnow)
    message: str = ""


class DegradationDecision(Record):
    """A level change and what it asks of the system; the scheduler and strategy act on it."""

    type: Literal["degradation_decision"] = "degradation_decision"
    id: str  # f"degradation:{at}:{previous}->{level}"
    level: int
    previous_level: int
    reasons: list[str] = Field(default_factory=list)
    at: datetime
    max_concurrent_tasks: int | None = None  # None: the configured limit applies
    prioritise_high: bool = False
    rules_only: bool = False  # new tasks use the rule engine
    ai_disabled: bool = False  # no LLM calls at all, running tasks included
    p0_only: bool = False
    notify: Literal["none", "admin", "urgent", "disaster"] = "none"


class BudgetTick(Record):
    """'Look at the clock': lets the budget owner fold a health snapshot when no cost arrives."""

    type: Literal["tick"] = "tick"
    at: datetime = Field(default_factory=utcnow)
    sender: str = ""
