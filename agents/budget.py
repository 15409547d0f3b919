"""Cost budgets (SRS §3.3.2) and degradation levels (SRS §5.9.6) as pure functions over immutable values.

State lives in Faust tables keyed the way the architecture names them: one `Ledger` per task
[task_id], per UTC day ["2026-11-25"] and per UTC month ["2026-11"]. Every function here returns a
new value; the caller reassigns the table row (Faust does not see in-place mutation) and publishes
the returned decisions, which are records with deterministic ids, so a redelivered decision is
recognised downstream.

- `apply_cost` is idempotent by `CostRecord.id`: a ledger remembers the ids it applied (the most
  recent `remember` of them - at-least-once redelivery replays records since the last commit, a few
  seconds' worth, so a bounded memory suffices and keeps the table value small).
- Reset at 00:00 UTC (day) and on the 1st (month) is a change of key: `current_ledger` hands out a
  fresh ledger when the stored one belongs to another day or month. A cost is booked to the day of
  its own timestamp, so a late record from yesterday never lands on today's ledger.
- Thresholds: a `warning` decision when a ledger crosses 80%, `rules_only` at 95% (new tasks go to
  the rule engine), `exhausted` at 100%; each is emitted once per ledger.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

from pydantic import BaseModel, ConfigDict, Field

from schemas.audit import CostRecord
from schemas.budget import BudgetDecision, DecisionKind, DegradationDecision, Scope
from schemas.settings import TaskDefaults

__all__ = [
    "Admission", "BudgetDecision", "BudgetLimits", "DegradationDecision", "DegradationState", "HealthSnapshot",
    "Ledger", "RECOVERY_DWELL", "SCOPES", "ai_admission", "apply_cost", "current_ledger", "day_key",
    "ledger_key", "month_key", "new_ledger", "next_degradation", "recovered", "triggered_level",
]

SCOPES: tuple[Scope, ...] = ("task", "day", "month")
DEFAULT_REMEMBER = 1000


class BudgetLimits(BaseModel):
    model_config = ConfigDict(frozen=True)

    per_task_usd: float = Field(default=0.50, ge=0)
    daily_usd: float = Field(default=1000.0, ge=0)
    monthly_usd: float = Field(default=25000.0, ge=0)
    warn_ratio: float = Field(default=0.80, gt=0, le=1)
    rules_only_ratio: float = Field(default=0.95, gt=0, le=1)

    @classmethod
    def from_task_defaults(cls, defaults: TaskDefaults) -> "BudgetLimits":
        return cls(per_task_usd=defaults.budget_usd, daily_usd=defaults.daily_budget_usd,
                   monthly_usd=defaults.monthly_budget_usd)

    def limit(self, scope: Scope) -> float:
        return {"task": self.per_task_usd, "day": self.daily_usd, "month": self.monthly_usd}[scope]


def _utc(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError(f"timestamp {at.isoformat()} has no timezone; budgets are keyed by UTC day")
    return at.astimezone(timezone.utc)


def day_key(at: datetime) -> str:
    return _utc(at).strftime("%Y-%m-%d")


def month_key(at: datetime) -> str:
    return _utc(at).strftime("%Y-%m")


def ledger_key(scope: Scope, record: CostRecord) -> str:
    """The table key a cost record is booked under for `scope`."""
    if scope == "task":
        return record.task_id
    if scope == "day":
        return day_key(record.at)
    if scope == "month":
        return month_key(record.at)
    raise ValueError(f"unknown budget scope {scope!r}; expected one of {SCOPES}")


class Ledger(BaseModel):
    """What one budget scope has spent. Immutable: every change is a new value.

    The limit and ratios are copied in from `BudgetLimits` so a ledger is judged on its own;
    `current_ledger` refreshes them, so a configuration change applies to the running day too.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    scope: Scope
    key: str
    limit_usd: float = Field(ge=0)
    warn_ratio: float = Field(default=0.80, gt=0, le=1)
    rules_only_ratio: float = Field(default=0.95, gt=0, le=1)
    spent_usd: float = Field(default=0.0, ge=0)
    applied_ids: tuple[str, ...] = ()  # most recent last, bounded
    warned: bool = False
    rules_only: bool = False
    exhausted: bool = False
    updated_at: datetime | None = None

    @property
    def ratio(self) -> float:
        """Share of the limit spent; a zero limit counts as fully spent (no AI allowed)."""
        if self.limit_usd <= 0:
            return 1.0
        return self.spent_usd / self.limit_usd

    @property
    def remaining_pct(self) -> float:
        return max(0.0, (1.0 - self.ratio) * 100.0)

    @property
    def allows_ai(self) -> bool:
        """False from the rules-only threshold on (SRS §5.8.2: at 95% new tasks use the rule engine)."""
        return self.ratio < self.rules_only_ratio


def new_ledger(scope: Scope, key: str, limits: BudgetLimits) -> Ledger:
    return Ledger(scope=scope, key=key, limit_usd=limits.limit(scope), warn_ratio=limits.warn_ratio,
                  rules_only_ratio=limits.rules_only_ratio)


def current_ledger(scope: Scope, key: str, limits: BudgetLimits, existing: Ledger | None) -> Ledger:
    """The ledger to book on for `key`: `existing` (with today's configured limits) when it is the
    ledger for `key`, else a fresh one - a new key is how the daily and monthly reset happen."""
    if existing is None or existing.scope != scope or existing.key != key:
        return new_ledger(scope, key, limits)
    wanted = {"limit_usd": limits.limit(scope), "warn_ratio": limits.warn_ratio,
              "rules_only_ratio": limits.rules_only_ratio}
    if all(getattr(existing, k) == v for k, v in wanted.items()):
        return existing
    return existing.model_copy(update=wanted)


def apply_cost(ledger: Ledger, record: CostRecord, *,
               remember: int = DEFAULT_REMEMBER) -> tuple[Ledger, list[BudgetDecision]]:
    """Book `record` on `ledger`: (new ledger, threshold decisions this record crossed).

    A record already applied returns the same ledger and no decisions. A record that belongs to
    another key (another task, day or month) is refused, never silently booked to the wrong ledger.
    """
    if not math.isfinite(record.cost_usd) or record.cost_usd < 0:
        raise ValueError(f"cost record {record.id}: cost_usd must be a finite amount >= 0, got {record.cost_usd!r}")
    key = ledger_key(ledger.scope, record)
    if key != ledger.key:
        raise ValueError(f"cost record {record.id} belongs to {ledger.scope} {key!r}, not to ledger {ledger.key!r}")
    if record.id in ledger.applied_ids:
        return ledger, []
    ids = (ledger.applied_ids + (record.id,))[-remember:] if remember > 0 else ()
    updated = ledger.model_copy(update={
        "spent_usd": round(ledger.spent_usd + record.cost_usd, 9), "applied_ids": ids, "updated_at": record.at,
    })
    decisions: list[BudgetDecision] = []
    flags: dict[str, bool] = {}
    for kind, flag, threshold in (("warning", "warned", ledger.warn_ratio),
                                  ("rules_only", "rules_only", ledger.rules_only_ratio),
                                  ("exhausted", "exhausted", 1.0)):
        if updated.spent_usd > 0 and updated.ratio >= threshold and not getattr(ledger, flag):
            flags[flag] = True
            decisions.append(_decision(updated, kind, record))  # type: ignore[arg-type]
    return (updated.model_copy(update=flags) if flags else updated), decisions


def _decision(ledger: Ledger, kind: DecisionKind, record: CostRecord) -> BudgetDecision:
    text = {"warning": "has used {pct:.0f}% of its budget",
            "rules_only": "has used {pct:.0f}% of its budget: new tasks use the rule engine",
            "exhausted": "has used {pct:.0f}% of its budget: exhausted"}[kind]
    return BudgetDecision(
        id=f"budget:{ledger.scope}:{ledger.key}:{kind}", kind=kind, scope=ledger.scope, key=ledger.key,
        spent_usd=ledger.spent_usd, limit_usd=ledger.limit_usd, ratio=round(ledger.ratio, 6),
        cost_record_id=record.id, at=record.at,
        message=f"{ledger.scope} budget {ledger.key} " + text.format(pct=ledger.ratio * 100)
        + f" (${ledger.spent_usd:.2f} of ${ledger.limit_usd:.2f})",
    )


# ---------------------------------------------------------------------------------------------
# Admission of new tasks to the AI path.

class Admission(BaseModel):
    model_config = ConfigDict(frozen=True)

    ai_allowed: bool
    reason: str
    day_ratio: float = 0.0
    month_ratio: float = 0.0


def ai_admission(day: Ledger | None, month: Ledger | None) -> Admission:
    """May a new task use the LLM? Not once the day or the month has reached its rules-only ratio.

    A missing ledger means nothing was spent in that period yet (e.g. just after the daily reset).
    """
    day_ratio = day.ratio if day is not None and day.spent_usd > 0 else 0.0
    month_ratio = month.ratio if month is not None and month.spent_usd > 0 else 0.0
    for ledger, ratio in ((day, day_ratio), (month, month_ratio)):
        if ledger is not None and not ledger.allows_ai:
            return Admission(ai_allowed=False, day_ratio=day_ratio, month_ratio=month_ratio,
                             reason=f"{ledger.scope} budget {ledger.key} at {ratio * 100:.0f}% "
                                    f"(rules-only from {ledger.rules_only_ratio * 100:.0f}%)")
    return Admission(ai_allowed=True, reason="within budget", day_ratio=day_ratio, month_ratio=month_ratio)


# ---------------------------------------------------------------------------------------------
# Degradation levels (SRS §5.9.6): escalate at once, recover one level at a time after a dwell.

class HealthSnapshot(BaseModel):
    """The monitored indicators at one moment (percentages are 0-100)."""

    model_config = ConfigDict(frozen=True)

    at: datetime
    daily_budget_usage_pct: float = Field(default=0.0, ge=0)
    queue_depth: int = Field(default=0, ge=0)
    ai_service_health: float = Field(default=100.0, ge=0, le=100)
    system_error_rate_pct: float = Field(default=0.0, ge=0, le=100)


class DegradationState(BaseModel):
    model_config = ConfigDict(frozen=True)

    level: int = Field(default=0, ge=0, le=3)
    since: datetime | None = None  # when the current level was entered
    healthy_since: datetime | None = None  # start of the current run of all-recovered snapshots


# How long every recovery condition must hold before leaving a level (SRS: 5 min to leave the
# worst level, observe 5 min at level 2, 10 min at level 1).
RECOVERY_DWELL: dict[int, timedelta] = {3: timedelta(minutes=5), 2: timedelta(minutes=5), 1: timedelta(minutes=10)}


def triggered_level(s: HealthSnapshot) -> tuple[int, list[str]]:
    """The highest level whose trigger holds, with the reasons (empty for level 0)."""
    checks = (
        (3, s.ai_service_health < 20, f"AI service health {s.ai_service_health:.0f} < 20"),
        (3, s.system_error_rate_pct > 50, f"system error rate {s.system_error_rate_pct:.0f}% > 50%"),
        (2, s.daily_budget_usage_pct >= 95, f"daily budget usage {s.daily_budget_usage_pct:.0f}% >= 95%"),
        (2, s.ai_service_health < 50, f"AI service health {s.ai_service_health:.0f} < 50"),
        (1, s.daily_budget_usage_pct >= 80, f"daily budget usage {s.daily_budget_usage_pct:.0f}% >= 80%"),
        (1, s.queue_depth > 80, f"queue depth {s.queue_depth} > 80"),
    )
    level = max((lvl for lvl, hit, _ in checks if hit), default=0)
    return level, [why for lvl, hit, why in checks if hit and lvl == level]


def recovered(s: HealthSnapshot) -> bool:
    """SRS §5.9.6 recovery conditions, all of them."""
    return (s.ai_service_health >= 80 and s.daily_budget_usage_pct < 70
            and s.system_error_rate_pct < 5 and s.queue_depth < 50)


def next_degradation(state: DegradationState,
                     snapshot: HealthSnapshot) -> tuple[DegradationState, DegradationDecision | None]:
    """Fold one snapshot into the state: (new state, decision when the level changed)."""
    now = _utc(snapshot.at)
    target, reasons = triggered_level(snapshot)
    healthy_since = (state.healthy_since or now) if recovered(snapshot) else None
    if target > state.level:
        new = DegradationState(level=target, since=now, healthy_since=healthy_since)
        return new, _level_decision(state.level, target, reasons, now)
    if state.level > 0 and healthy_since is not None:
        observed_from = max(healthy_since, state.since or healthy_since)
        if now - observed_from >= RECOVERY_DWELL[state.level]:
            level = state.level - 1
            new = DegradationState(level=level, since=now, healthy_since=healthy_since)
            return new, _level_decision(state.level, level, [f"recovered for {RECOVERY_DWELL[state.level]}"], now)
    return state.model_copy(update={"healthy_since": healthy_since}), None


def _level_decision(previous: int, level: int, reasons: list[str], at: datetime) -> DegradationDecision:
    actions: dict[int, dict] = {
        0: {},
        1: {"max_concurrent_tasks": 30, "prioritise_high": True, "notify": "admin"},
        2: {"max_concurrent_tasks": 30, "prioritise_high": True, "rules_only": True, "notify": "urgent"},
        3: {"max_concurrent_tasks": 30, "prioritise_high": True, "rules_only": True, "ai_disabled": True,
            "p0_only": True, "notify": "disaster"},
    }
    return DegradationDecision(id=f"degradation:{at.isoformat()}:{previous}->{level}", level=level,
                               previous_level=previous, reasons=reasons, at=at, **actions[level])
