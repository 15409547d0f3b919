"""SRS §5.9.4 termination: each condition, the boundaries, and the documented precedence."""

from __future__ import annotations

import pytest

from agents.termination import Termination, TerminationReason, check_termination
from schemas.task import TaskLimits, TaskStatus

LIMITS = TaskLimits()  # 10 steps, 600 s, $0.50


def check(**overrides) -> Termination | None:
    progress = dict(step_count=2, elapsed_seconds=30.0, cost_usd=0.05, confidence=None,
                    consecutive_errors=0, manual_stop=False, limits=LIMITS)
    progress.update(overrides)
    return check_termination(**progress)


def test_a_healthy_task_continues():
    assert check() is None
    assert check(confidence=0.84, step_count=9, elapsed_seconds=599.9, cost_usd=0.4999, consecutive_errors=2) is None


@pytest.mark.parametrize("overrides, reason, status, result_status", [
    (dict(confidence=0.85), TerminationReason.ROOT_CAUSE_IDENTIFIED, TaskStatus.COMPLETED, "completed"),
    (dict(step_count=10), TerminationReason.MAX_STEPS_REACHED, TaskStatus.COMPLETED, "completed_with_partial_results"),
    (dict(elapsed_seconds=600.0), TerminationReason.TIMEOUT, TaskStatus.TIMEOUT, "timeout"),
    (dict(cost_usd=0.50), TerminationReason.BUDGET_EXCEEDED, TaskStatus.COMPLETED, "stopped_by_budget"),
    (dict(consecutive_errors=3), TerminationReason.TOO_MANY_ERRORS, TaskStatus.FAILED, "failed"),
    (dict(manual_stop=True), TerminationReason.MANUAL_STOP, TaskStatus.CANCELLED, "cancelled"),
])
def test_each_condition_at_its_boundary(overrides, reason, status, result_status):
    t = check(**overrides)
    assert t is not None
    assert (t.reason, t.status, t.result_status) == (reason, status, result_status)
    assert t.generate_report
    assert t.partial == (reason is not TerminationReason.ROOT_CAUSE_IDENTIFIED)


def test_side_effects_the_srs_asks_for():
    assert check(cost_usd=0.6).notify_admin
    assert check(consecutive_errors=4).escalate
    assert not check(confidence=0.9).notify_admin


def test_task_limits_are_honoured():
    tight = TaskLimits(max_steps=3, timeout_seconds=60, budget_usd=0.1)
    assert check(step_count=3, limits=tight).reason is TerminationReason.MAX_STEPS_REACHED
    assert check(elapsed_seconds=61, limits=tight).reason is TerminationReason.TIMEOUT
    assert check(cost_usd=0.1, limits=tight).reason is TerminationReason.BUDGET_EXCEEDED
    with pytest.raises(ValueError):
        TaskLimits(max_steps=21)


def test_precedence_is_manual_then_answer_then_budget_timeout_errors_steps():
    everything = dict(manual_stop=True, confidence=0.95, cost_usd=1.0, elapsed_seconds=700,
                      consecutive_errors=5, step_count=20)
    order = [("manual_stop", False), ("confidence", 0.1), ("cost_usd", 0.0), ("elapsed_seconds", 0.0),
             ("consecutive_errors", 0), ("step_count", 0)]
    expected = [TerminationReason.MANUAL_STOP, TerminationReason.ROOT_CAUSE_IDENTIFIED,
                TerminationReason.BUDGET_EXCEEDED, TerminationReason.TIMEOUT,
                TerminationReason.TOO_MANY_ERRORS, TerminationReason.MAX_STEPS_REACHED]
    for (field, cleared), reason in zip(order, expected):
        assert check(**everything).reason is reason
        everything[field] = cleared
    assert check(**everything) is None


@pytest.mark.parametrize("bad", [dict(step_count=-1), dict(cost_usd=float("nan")), dict(elapsed_seconds=float("inf")),
                                 dict(confidence=1.5), dict(consecutive_errors=-2)])
def test_nonsense_progress_is_refused_by_name(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        check(**bad)


def test_tokens_are_a_budget_too_for_a_model_priced_at_zero():
    limits = TaskLimits(budget_tokens=5000)
    assert check(cost_usd=0.0, tokens=4999, limits=limits) is None
    stop = check(cost_usd=0.0, tokens=5000, limits=limits)
    assert stop.reason is TerminationReason.BUDGET_EXCEEDED and stop.result_status == "stopped_by_budget"
    assert "5000 tokens" in stop.note
    assert check(cost_usd=0.0, tokens=10**9) is None  # no token budget given: dollars only
    assert check(cost_usd=0.0, tokens=0, limits=TaskLimits(budget_tokens=0)) is None  # nothing spent, nothing to stop
    with pytest.raises(ValueError, match="tokens"):
        check(tokens=-1)
