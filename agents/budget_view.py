"""What every worker knows about the global budget: a pure fold over the `budget` topic's records.

The budget owner (agents/budget_agent.py) is the only one that books costs on the day and month
ledgers; the others learn the outcome from its decisions. A `rules_only` or `exhausted` decision
for day "2026-11-25" blocks the AI path for new tasks only while it is that UTC day - the daily
reset at 00:00 UTC needs no message, the new day simply has no decision yet. The degradation level
is the latest `DegradationDecision` by time (redelivered or out-of-order records do not roll it back).
"""

from __future__ import annotations

import json
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from agents.budget import Admission, DegradationState, day_key, month_key
from schemas.budget import BudgetDecision, BudgetTick, DegradationDecision

MAX_REMEMBERED = 64  # (scope, key) entries; old days fall off, today's never does


class BudgetView(BaseModel):
    model_config = ConfigDict(frozen=True)

    # (scope, key) -> (highest decision kind seen, ratio at that decision)
    blocked: tuple[tuple[str, str, str, float], ...] = ()
    warned: tuple[tuple[str, str, float], ...] = ()
    degradation: DegradationState = DegradationState()
    degradation_at: datetime | None = None
    ai_disabled: bool = False  # the latest degradation decision forbids every LLM call

    def apply(self, record: BudgetDecision | DegradationDecision | BudgetTick) -> "BudgetView":
        if isinstance(record, BudgetDecision):
            if record.scope == "task":
                return self
            if record.kind == "warning":
                entries = [w for w in self.warned if (w[0], w[1]) != (record.scope, record.key)]
                return self.model_copy(update={"warned": tuple([*entries, (record.scope, record.key, record.ratio)]
                                                                [-MAX_REMEMBERED:])})
            if any((b[0], b[1]) == (record.scope, record.key) for b in self.blocked):
                return self
            entry = (record.scope, record.key, record.kind, record.ratio)
            return self.model_copy(update={"blocked": tuple([*self.blocked, entry][-MAX_REMEMBERED:])})
        if isinstance(record, DegradationDecision):
            if self.degradation_at is not None and record.at <= self.degradation_at:
                return self
            return self.model_copy(update={"degradation": DegradationState(level=record.level, since=record.at),
                                           "degradation_at": record.at, "ai_disabled": record.ai_disabled})
        return self

    def admission(self, now: datetime) -> Admission:
        """May a new task use the LLM now? (SRS §5.8.2: not from 95% of the day's or month's budget on.)"""
        keys = {"day": day_key(now), "month": month_key(now)}
        ratios = {scope: 0.0 for scope in keys}
        for scope, key, ratio in self.warned:
            if keys.get(scope) == key:
                ratios[scope] = max(ratios[scope], ratio)
        for scope, key, kind, ratio in self.blocked:
            if keys.get(scope) == key:
                return Admission(ai_allowed=False, day_ratio=max(ratios["day"], ratio if scope == "day" else 0.0),
                                 month_ratio=max(ratios["month"], ratio if scope == "month" else 0.0),
                                 reason=f"{scope} budget {key} {kind.replace('_', '-')} ({ratio * 100:.0f}%)")
        return Admission(ai_allowed=True, reason="within budget", day_ratio=ratios["day"], month_ratio=ratios["month"])


def parse_budget_record(raw: bytes) -> BudgetDecision | DegradationDecision | BudgetTick:
    """One record of the budget topic, by its `type`; raises ValueError (or pydantic's) for junk."""
    data = json.loads(raw)
    kind = data.get("type") if isinstance(data, dict) else None
    model = _TYPES.get(kind)  # type: ignore[arg-type]
    if model is None:
        raise ValueError(f"budget record has unknown type {kind!r}")
    return model.model_validate(data)


_TYPES: dict[str, type[BudgetDecision] | type[DegradationDecision] | type[BudgetTick]] = {
    "budget_decision": BudgetDecision, "degradation_decision": DegradationDecision, "tick": BudgetTick}
