"""The pure planner: what is asked first, and that nothing is asked twice (the loop: test_inmemory_loop.py)."""

from __future__ import annotations

from agents.rules import Observations, Target, analyze, next_calls
from schemas.result import ProblemCategory


def test_planner_asks_for_the_target_first_and_never_repeats() -> None:
    target = Target(kind="deployment", name="cart", namespace="shop")
    obs = Observations()
    first = next_calls(target, obs)
    assert [(c.tool_id, c.parameters) for c in first] == [
        ("get_workload", {"namespace": "shop", "kind": "deployment", "name": "cart"})]
    obs.record(first[0], None, error="cluster unreachable")  # a failed call is not planned again
    assert next_calls(target, obs) == []
    assert analyze(target, obs).category is ProblemCategory.UNKNOWN
