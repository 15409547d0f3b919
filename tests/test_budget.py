"""Budgets (SRS §3.3.2) and degradation (SRS §5.9.6): idempotent booking, thresholds, resets, levels."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from agents.budget import (BudgetLimits, DegradationState, HealthSnapshot, Ledger, ai_admission, apply_cost,
                           current_ledger, day_key, ledger_key, month_key, new_ledger, next_degradation)
from schemas.audit import CostRecord
from schemas.settings import TaskDefaults

LIMITS = BudgetLimits()
T0 = datetime(2026, 11, 25, 23, 59, 30, tzinfo=timezone.utc)


def cost(n: int, usd: float, at: datetime = T0, task: str = "t1") -> CostRecord:
    return CostRecord(id=f"{task}:{n}:1", task_id=task, model="m", cost_usd=usd, at=at)


def book(ledger: Ledger, *records: CostRecord) -> tuple[Ledger, list]:
    decisions = []
    for r in records:
        ledger, d = apply_cost(ledger, r)
        decisions.extend(d)
    return ledger, decisions


def test_limits_follow_the_configured_task_defaults():
    limits = BudgetLimits.from_task_defaults(TaskDefaults(budget_usd=0.2, daily_budget_usd=10, monthly_budget_usd=99))
    assert (limits.per_task_usd, limits.daily_usd, limits.monthly_usd) == (0.2, 10, 99)
    assert (LIMITS.per_task_usd, LIMITS.daily_usd, LIMITS.monthly_usd) == (0.5, 1000, 25000)


def test_booking_is_idempotent_by_cost_record_id():
    ledger = new_ledger("task", "t1", LIMITS)
    once, _ = book(ledger, cost(1, 0.1), cost(2, 0.05))
    again, decisions = book(once, cost(1, 0.1), cost(2, 0.05))
    assert once.spent_usd == pytest.approx(0.15)
    assert again is once and decisions == []
    assert ledger.spent_usd == 0  # the original value never changes


def test_thresholds_warn_at_80_go_rules_only_at_95_and_each_is_said_once():
    ledger = new_ledger("day", day_key(T0), BudgetLimits(daily_usd=100))
    ledger, d = book(ledger, cost(1, 79.99))
    assert d == [] and ledger.allows_ai
    ledger, d = book(ledger, cost(2, 0.01))
    assert [x.kind for x in d] == ["warning"] and d[0].id == "budget:day:2026-11-25:warning"
    assert d[0].cost_record_id == "t1:2:1" and "80%" in d[0].message
    ledger, d = book(ledger, cost(3, 10))
    assert d == []
    ledger, d = book(ledger, cost(4, 5))
    assert [x.kind for x in d] == ["rules_only"] and not ledger.allows_ai
    ledger, d = book(ledger, cost(5, 6))
    assert [x.kind for x in d] == ["exhausted"] and ledger.exhausted
    _, d = book(ledger, cost(6, 1))
    assert d == []


def test_one_big_cost_crosses_every_threshold_at_once():
    ledger, d = book(new_ledger("task", "t1", LIMITS), cost(1, 0.75))
    assert [x.kind for x in d] == ["warning", "rules_only", "exhausted"]
    assert ledger.remaining_pct == 0


def test_costs_are_keyed_by_their_own_utc_day_and_month():
    late = cost(1, 1.0, at=datetime(2026, 11, 26, 1, 0, tzinfo=timezone(timedelta(hours=3))))  # 25 Nov 22:00 UTC
    assert ledger_key("day", late) == "2026-11-25" and ledger_key("month", late) == "2026-11"
    assert ledger_key("task", late) == "t1"
    with pytest.raises(ValueError, match="timezone"):
        day_key(datetime(2026, 11, 25))
    today = new_ledger("day", "2026-11-26", LIMITS)
    with pytest.raises(ValueError, match="belongs to day '2026-11-25'"):
        apply_cost(today, late)


def test_daily_reset_at_midnight_utc_and_monthly_on_the_first():
    limits = BudgetLimits(daily_usd=10)
    before = cost(1, 9.6, at=T0)  # 23:59:30 on the 25th: 96% -> rules only
    day = current_ledger("day", ledger_key("day", before), limits, None)
    day, _ = book(day, before)
    assert not ai_admission(day, None).ai_allowed
    after = T0 + timedelta(seconds=31)  # 00:00:01 on the 26th
    fresh = current_ledger("day", day_key(after), limits, day)
    assert fresh.key == "2026-11-26" and fresh.spent_usd == 0 and ai_admission(fresh, None).ai_allowed
    assert current_ledger("day", "2026-11-25", limits, day) is day
    month_end = datetime(2026, 11, 30, 23, 59, tzinfo=timezone.utc)
    assert month_key(month_end) == "2026-11" and month_key(month_end + timedelta(minutes=1)) == "2026-12"


def test_configuration_changes_apply_to_the_running_day():
    day, _ = book(new_ledger("day", "2026-11-25", BudgetLimits(daily_usd=100)), cost(1, 50))
    tighter = current_ledger("day", "2026-11-25", BudgetLimits(daily_usd=52), day)
    assert tighter.spent_usd == 50 and tighter.limit_usd == 52 and not tighter.allows_ai


def test_idempotency_memory_is_bounded():
    ledger = new_ledger("month", "2026-11", LIMITS)
    for n in range(30):
        ledger, _ = apply_cost(ledger, cost(n, 0.01), remember=10)
    assert len(ledger.applied_ids) == 10 and ledger.applied_ids[-1] == "t1:29:1"
    assert ledger.spent_usd == pytest.approx(0.30)


@pytest.mark.parametrize("usd", [-0.01, float("nan"), float("inf")])
def test_nonsense_costs_are_refused(usd):
    with pytest.raises(ValueError, match="cost_usd"):
        apply_cost(new_ledger("task", "t1", LIMITS), cost(1, usd))


def test_admission_names_the_scope_that_blocks_ai():
    month, _ = book(new_ledger("month", "2026-11", BudgetLimits(monthly_usd=10)), cost(1, 9.5))
    decision = ai_admission(None, month)
    assert not decision.ai_allowed and "month budget 2026-11 at 95%" in decision.reason
    zero = new_ledger("day", "2026-11-25", BudgetLimits(daily_usd=0))
    assert not ai_admission(zero, None).ai_allowed  # a zero budget means no AI


def snap(minutes: float, **kw) -> HealthSnapshot:
    return HealthSnapshot(at=T0 + timedelta(minutes=minutes), **kw)


def test_degradation_escalates_at_once_to_the_highest_triggered_level():
    state, d = next_degradation(DegradationState(), snap(0, daily_budget_usage_pct=81))
    assert state.level == 1 and d.max_concurrent_tasks == 30 and d.notify == "admin" and not d.rules_only
    state, d = next_degradation(state, snap(1, daily_budget_usage_pct=96))
    assert state.level == 2 and d.rules_only and not d.ai_disabled and "95%" in d.reasons[0]
    state, d = next_degradation(state, snap(2, ai_service_health=10))
    assert state.level == 3 and d.p0_only and d.ai_disabled and d.notify == "disaster"
    state2, d = next_degradation(DegradationState(), snap(0, queue_depth=81))
    assert state2.level == 1 and d.reasons == ["queue depth 81 > 80"]
    assert next_degradation(DegradationState(), snap(0, queue_depth=80)) == (DegradationState(), None)


def test_recovery_steps_down_one_level_at_a_time_after_the_dwell():
    state = DegradationState(level=3, since=T0)
    levels = []
    for minute in range(0, 31):
        state, d = next_degradation(state, snap(minute))  # all healthy from minute 0
        if d:
            levels.append((minute, d.level))
    assert levels == [(5, 2), (10, 1), (20, 0)]
    assert state.level == 0


def test_an_unhealthy_moment_restarts_the_recovery_clock():
    state = DegradationState(level=1, since=T0)
    state, _ = next_degradation(state, snap(0))
    state, _ = next_degradation(state, snap(9, daily_budget_usage_pct=75))  # not recovered (>= 70), not a trigger
    assert state.level == 1 and state.healthy_since is None
    state, d = next_degradation(state, snap(18))
    assert d is None
    state, d = next_degradation(state, snap(28))
    assert d is not None and d.level == 0 and d.max_concurrent_tasks is None
