"""Global budgets: the owner's booking and the workers' view (pure), then on the real broker - with a
tiny daily budget the first task's model call crosses 80/95/100%, each crossing is a BudgetDecision
record on the budget topic, and the next task goes to the rule engine."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from agents.budget import BudgetLimits, DegradationState
from agents.budget_owner import book_cost, on_tick
from agents.budget_view import BudgetView, parse_budget_record
from schemas.audit import CostRecord
from schemas.budget import BudgetTick
from tests.kafkautil import produce, run
from tests.llm_server import Answer
from tests.test_steploop_llm import ServerThread, alert, answer, llm_env, metric, records, report_for
from tests.test_steploop_llm import cluster  # noqa: F401 - the fixture
from tests.workerproc import WorkerProcess, wait_for

T0 = datetime(2026, 11, 25, 23, 50, tzinfo=timezone.utc)
LIMITS = BudgetLimits(daily_usd=10.0, monthly_usd=1000.0)


def cost(n: int, usd: float, at: datetime = T0) -> CostRecord:
    return CostRecord(id=f"t{n}:3:1", task_id=f"t{n}", model="m", cost_usd=usd, at=at)


def book_all(*records: CostRecord):
    day = month = None
    deg = DegradationState()
    decisions = []
    for r in records:
        booked = book_cost(r, day, month, deg, LIMITS)
        day, month, deg = booked.day, booked.month, booked.degradation
        decisions += booked.decisions
    return day, month, deg, decisions


def test_owner_books_each_cost_once_and_decides_each_threshold_once():
    day, month, deg, decisions = book_all(cost(1, 7.0), cost(1, 7.0), cost(2, 1.0), cost(3, 1.5), cost(3, 1.5))
    assert day.spent_usd == pytest.approx(9.5) and month.spent_usd == pytest.approx(9.5)
    kinds = [(d.type, getattr(d, "kind", d.id.split(":")[-1])) for d in decisions]
    assert kinds == [("budget_decision", "warning"), ("degradation_decision", "0->1"),
                     ("budget_decision", "rules_only"), ("degradation_decision", "1->2")]
    assert deg.level == 2


def test_daily_reset_is_a_new_key_and_the_view_follows_the_clock():
    *_, decisions = book_all(cost(1, 9.6))
    view = BudgetView()
    for d in decisions:
        view = view.apply(parse_budget_record(d.to_bytes()))
    assert not view.admission(T0).ai_allowed and "day budget 2026-11-25" in view.admission(T0).reason
    assert view.admission(T0 + timedelta(minutes=15)).ai_allowed  # 00:05 UTC: a new day, a new ledger
    day, _m, _d, next_day = book_all(cost(2, 1.0, at=T0 + timedelta(minutes=15)))
    assert day.key == "2026-11-26" and day.spent_usd == 1.0 and next_day == []


def test_a_degraded_level_recovers_on_ticks_when_no_cost_arrives():
    _day, _month, deg, _ = book_all(cost(1, 9.6))
    assert deg.level == 2
    at, levels = T0 + timedelta(minutes=15), []
    for _ in range(40):  # every 30 s for 20 minutes into the new day
        booked = on_tick(at, None, deg)
        deg, at = booked.degradation, at + timedelta(seconds=30)
        levels += [d.level for d in booked.decisions]
    assert levels == [1, 0]


def test_view_keeps_the_latest_degradation_and_ignores_junk():
    _d, _m, _g, decisions = book_all(cost(1, 9.6))
    degradations = [d for d in decisions if d.type == "degradation_decision"]
    view = BudgetView()
    for d in reversed(degradations):  # out of order: the later decision wins
        view = view.apply(d)
    assert view.degradation.level == 2
    assert view.apply(BudgetTick()) == view
    with pytest.raises(ValueError):
        parse_budget_record(b'{"type": "nonsense"}')


@pytest.mark.kafka
def test_tiny_daily_budget_sends_the_next_task_to_the_rules(kafka_bootstrap, topic_prefix, tmp_path, cluster):  # noqa: F811
    dump, labels = cluster
    with ServerThread([Answer(answer(), usage=(1000, 50)), Answer(answer())]) as srv:
        env = llm_env(srv, dump, AETHERIUS_TASKS__DAILY_BUDGET_USD="0.001")  # the first call costs $0.0012
        worker = WorkerProcess(kafka_bootstrap, topic_prefix, tmp_path, env_extra=env).start()
        try:
            assert metric(worker, "aetherius_budget_ai_allowed") == 1
            run(produce(kafka_bootstrap, f"{topic_prefix}.alerts.raw", alert(labels, "FrontendErrors")))
            first = wait_for(lambda: report_for(kafka_bootstrap, topic_prefix, "FrontendErrors"), timeout=120,
                             what="the first report")
            wait_for(lambda: metric(worker, "aetherius_budget_ai_allowed") == 0, what="the worker to learn the 95%",
                     timeout=60)
            assert metric(worker, "aetherius_degradation_level") == 2
            run(produce(kafka_bootstrap, f"{topic_prefix}.alerts.raw", alert(labels, "FrontendLatency")))
            second = wait_for(lambda: report_for(kafka_bootstrap, topic_prefix, "FrontendLatency"), timeout=120,
                              what="the second report")
        finally:
            worker.stop(kill=True)
        assert len(srv.requests) == 1  # the second task never called the model

    assert first["engine"] == "llm" and second["engine"] == "rules"
    states = records(kafka_bootstrap, f"{topic_prefix}.task.state")
    meta = [t["metadata"] for t in states if t["id"] == second["task_id"]][-1]
    assert meta["strategy"] == "rule_based" and "budget" in meta["strategy_reason"]
    decisions = records(kafka_bootstrap, f"{topic_prefix}.budget")
    day = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    kinds = sorted(d["kind"] for d in decisions if d["type"] == "budget_decision")
    assert kinds == ["exhausted", "rules_only", "warning"]
    assert all(d["scope"] == "day" and d["key"] == day and d["cost_record_id"] == f"{first['task_id']}:3:1"
               for d in decisions if d["type"] == "budget_decision")
    assert [d["level"] for d in decisions if d["type"] == "degradation_decision"] == [2]
    costs = records(kafka_bootstrap, f"{topic_prefix}.costs")
    assert [c["id"] for c in costs] == [f"{first['task_id']}:3:1"]
