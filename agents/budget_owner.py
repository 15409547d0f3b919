"""The budget owner's decisions, pure: book one cost (or one tick) on the global ledgers.

The owner is whichever worker holds the single `costs` partition; its state is the day and month
`Ledger`s (keyed by UTC day / month, so the reset at 00:00 UTC is a new key) and the
`DegradationState`. Only the daily budget usage is known here, so it is the one indicator of the
SRS §5.9.6 health snapshot this owner can judge; the others stay at their healthy defaults.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from agents.budget import (BudgetLimits, DegradationState, HealthSnapshot, Ledger, apply_cost, current_ledger,
                           day_key, month_key, next_degradation)
from schemas.audit import CostRecord
from schemas.budget import BudgetDecision, DegradationDecision


class Booked(BaseModel):
    """The new state to store and the decisions to publish (publish first: they have deterministic ids)."""

    model_config = ConfigDict(frozen=True)

    day: Ledger | None = None
    month: Ledger | None = None
    degradation: DegradationState
    decisions: list[BudgetDecision | DegradationDecision] = Field(default_factory=list)


def day_usage_pct(day: Ledger | None, at: datetime) -> float:
    if day is None or day.key != day_key(at) or day.spent_usd <= 0:
        return 0.0
    return day.ratio * 100.0


def _fold(state: DegradationState, day: Ledger | None, at: datetime) -> tuple[DegradationState, DegradationDecision | None]:
    if state.since is not None and at < state.since:  # a late record: the level is judged on the present
        return state, None
    return next_degradation(state, HealthSnapshot(at=at, daily_budget_usage_pct=day_usage_pct(day, at)))


def book_cost(record: CostRecord, day: Ledger | None, month: Ledger | None, degradation: DegradationState,
              limits: BudgetLimits) -> Booked:
    """`day`/`month` are the stored ledgers for the record's own day and month (None when none yet).
    A record already booked changes nothing and decides nothing (idempotent by `CostRecord.id`)."""
    day = current_ledger("day", day_key(record.at), limits, day)
    month = current_ledger("month", month_key(record.at), limits, month)
    if record.id in day.applied_ids:
        return Booked(day=day, month=month, degradation=degradation)
    day, from_day = apply_cost(day, record)
    month, from_month = apply_cost(month, record)
    degradation, change = _fold(degradation, day, record.at)
    decisions: list[BudgetDecision | DegradationDecision] = [*from_day, *from_month]
    if change is not None:
        decisions.append(change)
    return Booked(day=day, month=month, degradation=degradation, decisions=decisions)


def on_tick(at: datetime, day: Ledger | None, degradation: DegradationState) -> Booked:
    """Re-judge the degradation level at `at` with no new cost (`day` is the ledger of `at`'s day)."""
    degradation, change = _fold(degradation, day, at)
    return Booked(day=day, degradation=degradation, decisions=[change] if change else [])
