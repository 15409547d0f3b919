"""The step loop's pure state machine: parallelism, step limit, idempotent completions, errors, cancel, timeout."""

from agents import runtime as r
from agents.rules.observations import Observations
from agents.termination import TerminationReason
from agents.tools.types import ToolCall
from schemas.signal import Priority
from schemas.task import DiagnosticTask, TaskLimits


def task(**limits) -> DiagnosticTask:
    return DiagnosticTask(id="t1", cluster_id="c1", priority=Priority.P2, limits=TaskLimits(**limits))


def planner_wanting(n: int):
    """Wants calls c0..c{n-1}; the runtime must skip those already made."""
    def plan(obs: Observations) -> list[ToolCall]:
        return [ToolCall(tool_id="get_pod", parameters={"namespace": "ns", "name": f"c{i}"}) for i in range(n)]
    return plan


def test_at_most_three_in_flight_and_numbers_are_sequential():
    rt, new = r.begin(task(), planner_wanting(5), now=0)
    assert [s.number for s in new] == [1, 2, 3] and len(rt.in_flight()) == 3


def test_next_round_only_after_all_in_flight_complete():
    rt, _ = r.begin(task(), planner_wanting(5), now=0)
    rt, nxt = r.complete(rt, 1, {"ok": 1}, "", 1, planner_wanting(5))
    assert nxt.dispatch == [] and nxt.finish is None
    rt, _ = r.complete(rt, 2, {"ok": 1}, "", 1, planner_wanting(5))
    rt, nxt = r.complete(rt, 3, {"ok": 1}, "", 1, planner_wanting(5))
    assert [s.number for s in nxt.dispatch] == [4, 5]
    assert [s.call.parameters["name"] for s in nxt.dispatch] == ["c3", "c4"]


def test_redelivered_completion_changes_nothing():
    rt, _ = r.begin(task(), planner_wanting(1), now=0)
    rt, nxt = r.complete(rt, 1, {"ok": 1}, "", 1, planner_wanting(1))
    assert nxt.evidence_exhausted
    again, nxt2 = r.complete(rt, 1, {"ok": 2}, "", 2, planner_wanting(1))
    assert again is rt and nxt2.dispatch == [] and not nxt2.evidence_exhausted
    assert r.complete(rt, 99, None, "x", 2, planner_wanting(1))[0] is rt


def test_max_steps_stops_with_partial_result():
    rt, new = r.begin(task(max_steps=2), planner_wanting(5), now=0)
    assert len(new) == 2
    rt, _ = r.complete(rt, 1, {}, "", 1, planner_wanting(5))
    rt, nxt = r.complete(rt, 2, {}, "", 1, planner_wanting(5))
    assert nxt.finish.reason is TerminationReason.MAX_STEPS_REACHED and nxt.finish.partial


def test_three_consecutive_errors_fail_the_task():
    rt, _ = r.begin(task(), planner_wanting(6), now=0)
    for n in (1, 2):
        rt, _ = r.complete(rt, n, None, "boom", 1, planner_wanting(6))
    rt, nxt = r.complete(rt, 3, None, "boom", 1, planner_wanting(6))
    assert rt.consecutive_errors == 3 and nxt.finish.reason is TerminationReason.TOO_MANY_ERRORS


def test_a_success_resets_the_error_count():
    rt, _ = r.begin(task(), planner_wanting(6), now=0)
    rt, _ = r.complete(rt, 1, None, "boom", 1, planner_wanting(6))
    rt, _ = r.complete(rt, 2, None, "boom", 1, planner_wanting(6))
    rt, _ = r.complete(rt, 3, {"ok": 1}, "", 1, planner_wanting(6))
    assert rt.consecutive_errors == 0


def test_cancel_finishes_at_once_even_with_steps_in_flight():
    rt, _ = r.begin(task(), planner_wanting(3), now=0)
    rt, nxt = r.cancel(rt, 1, planner_wanting(3))
    assert nxt.finish.reason is TerminationReason.MANUAL_STOP


def test_timeout_finishes_even_with_steps_in_flight():
    rt, _ = r.begin(task(timeout_seconds=10), planner_wanting(3), now=0)
    rt, nxt = r.advance(rt, 10.0, planner_wanting(3))
    assert nxt.finish.reason is TerminationReason.TIMEOUT
    _, before = r.advance(rt, 9.9, planner_wanting(3))
    assert before.finish is None


def test_observations_rebuilt_from_the_row():
    rt, _ = r.begin(task(), planner_wanting(2), now=0)
    rt, _ = r.complete(rt, 1, {"pod": {"x": 1}}, "", 1, planner_wanting(2))
    obs = r.observations(rt)
    assert obs.get("get_pod", namespace="ns", name="c0") == {"pod": {"x": 1}} and len(obs) == 1
