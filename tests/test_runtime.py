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


# ------------------------------------------------------------------------------------ the LLM phase
from datetime import datetime, timezone  # noqa: E402

import pytest  # noqa: E402

from agents.llm.conversation import Conversation, PendingCall, Phase, accept_tool_calls  # noqa: E402
from agents.llm.engine import TurnResult  # noqa: E402
from agents.tools.types import ToolResult  # noqa: E402
from schemas.audit import CostRecord  # noqa: E402
from schemas.result import DiagnosticResult, ProblemCategory, ResultSummary, RootCauseAnalysis  # noqa: E402
from schemas.step import DiagnosticStep, StepStatus, StepType, TokenUsage  # noqa: E402

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)
ANSWER = {"summary": {"problem": "p"}, "root_cause": {"description": "d", "category": "dns_failure"},
          "confidence": 0.9}


def findings(confidence: float = 0.3) -> DiagnosticResult:
    return DiagnosticResult(task_id="t1", summary=ResultSummary(problem="unclear"), confidence=confidence,
                            root_cause=RootCauseAnalysis(description="?", category=ProblemCategory.UNKNOWN))


def llm_row(**limits) -> r.TaskRuntime:
    """A task whose rules phase made 2 calls and that is now handed to the LLM (turn 3 open)."""
    rt, _ = r.begin(task(**limits), planner_wanting(2), now=0, strategy="ai_powered", model="cheap")
    rt, _ = r.complete(rt, 1, {"ok": 1}, "", 1, planner_wanting(2))
    rt, nxt = r.complete(rt, 2, {"ok": 1}, "", 1, planner_wanting(2))
    assert r.continues_with_llm(rt, findings(), nxt.finish)  # evidence exhausted, or the rules' step limit
    conv = Conversation(task=rt.task, model="cheap", messages=[{"role": "system", "content": "s"},
                                                               {"role": "user", "content": "u"}], started_at=T0)
    rt, nxt = r.start_llm(rt, conv, findings(), "cheap", now=2)
    assert nxt.turn == 3 and rt.llm_turn == 3 and rt.phase == "llm"
    return rt


def model_call(conv: Conversation, action: str, calls: int = 0, usd: float = 0.01) -> TurnResult:
    """What LLMEngine.turn returns for one scripted reply, built with the same pure functions it uses."""
    n = conv.next_step
    usage = TokenUsage(model=conv.model, prompt_tokens=100, completion_tokens=10, cost_usd=usd)
    cost = CostRecord(id=f"{conv.task_id}:{n}:{conv.llm_calls + 1}", task_id=conv.task_id, model=conv.model,
                      cost_usd=usd, at=T0)
    step = DiagnosticStep(id=f"{conv.task_id}:{n}", task_id=conv.task_id, step_number=n, tool_id="llm",
                          type=StepType.ANALYSIS, status=StepStatus.COMPLETED, token_usage=usage)
    base = conv.model_copy(update={"next_step": n + 1, "llm_calls": conv.llm_calls + 1, "usage": conv.usage + usage,
                                   "steps": conv.steps + [step]})
    if action == "tool_calls":
        pending = [PendingCall(step_number=n + i, call_id=f"c{n}_{i}", tool_id="get_pod",
                               parameters={"namespace": "ns", "name": f"p{n}_{i}"}) for i in range(1, calls + 1)]
        wire = {"role": "assistant", "content": None, "tool_calls": [
            {"id": c.call_id, "type": "function", "function": {"name": "get_pod", "arguments": "{}"}} for c in pending]}
        new, _ = accept_tool_calls(base, wire, pending, conv.task.limits.max_steps, now=T0)
        return TurnResult(conversation=new, action="tool_calls", steps=[step], cost=cost, calls=pending)
    if action == "answer":
        from agents.llm.answer import LLMAnswer
        return TurnResult(conversation=base.model_copy(update={"phase": Phase.DONE}), action="answer", steps=[step],
                          cost=cost, answer=LLMAnswer.model_validate(ANSWER))
    if action == "invalid":
        return TurnResult(conversation=base.model_copy(update={"phase": Phase.DONE, "invalid_answers": 2}),
                          action="invalid", steps=[step], cost=cost, error="no JSON")
    raise ValueError(action)


def turn(rt: r.TaskRuntime, action: str, now: float = 3, **kw) -> tuple[r.TaskRuntime, r.Next]:
    outcome = r.turn_outcome(rt.conversation, model_call(rt.conversation, action, **kw))
    outcome = r.TurnOutcome.model_validate_json(outcome.model_dump_json())  # as it travels on the steps topic
    return r.apply_turn(rt, outcome, now)


def ok(tool: str = "get_pod") -> ToolResult:
    return ToolResult(tool_id=tool, ok=True, output='{"pod": null}')


def test_rules_hand_over_only_when_ai_powered_and_not_confident():
    rt, _ = r.begin(task(), planner_wanting(0), now=0, strategy="ai_powered")
    assert r.continues_with_llm(rt, findings(0.5), None)
    assert not r.continues_with_llm(rt, findings(0.85), None)  # SRS 5.9.4: confident rules end the task
    rules, _ = r.begin(task(), planner_wanting(0), now=0, strategy="rule_based")
    assert not r.continues_with_llm(rules, findings(0.1), None)
    cancelled, nxt = r.cancel(rt, 1, planner_wanting(0))
    assert not r.continues_with_llm(cancelled, findings(0.1), nxt.finish)


def test_rules_step_limit_still_hands_over():
    rt, _ = r.begin(task(max_steps=2), planner_wanting(5), now=0, strategy="ai_powered")
    rt, _ = r.complete(rt, 1, {}, "", 1, planner_wanting(5))
    rt, nxt = r.complete(rt, 2, {}, "", 1, planner_wanting(5))
    assert nxt.finish.reason is TerminationReason.MAX_STEPS_REACHED
    assert r.continues_with_llm(rt, findings(0.2), nxt.finish)


def test_llm_phase_continues_numbering_and_drops_rule_outputs():
    rt = llm_row()
    assert [s.output for s in rt.steps] == [None, None] and rt.findings.confidence == 0.3
    assert rt.engine == "llm" and rt.conversation.next_step == 3


def test_tool_calls_run_three_at_a_time_then_the_next_turn():
    rt = llm_row()
    rt, nxt = turn(rt, "tool_calls", calls=4)
    assert [s.number for s in nxt.dispatch] == [4, 5, 6] and rt.llm_turn is None
    assert rt.cost_usd == pytest.approx(0.01)
    assert sorted(s.number for s in rt.in_flight()) == [4, 5, 6]  # what the sweep re-dispatches after a crash
    rt, nxt = r.complete_llm_call(rt, 5, ok(), 4)
    assert [s.number for s in nxt.dispatch] == [7]
    for n in (4, 6):
        rt, nxt = r.complete_llm_call(rt, n, ok(), 4)
        assert nxt.dispatch == [] and nxt.turn is None
    rt, nxt = r.complete_llm_call(rt, 7, ok(), 5)
    assert nxt.turn == 8 and rt.llm_turn == 8 and rt.conversation.tool_steps == 4
    tool_answers = [m for m in rt.conversation.messages if m["role"] == "tool"]
    assert len(tool_answers) == 4


def test_a_redelivered_outcome_or_result_changes_nothing_and_costs_once():
    rt = llm_row()
    outcome = r.turn_outcome(rt.conversation, model_call(rt.conversation, "tool_calls", calls=1))
    rt2, nxt = r.apply_turn(rt, outcome, 3)
    again, nxt2 = r.apply_turn(rt2, outcome, 4)
    assert again is rt2 and nxt2 == r.Next() and rt2.cost_usd == pytest.approx(0.01)
    rt3, _ = r.complete_llm_call(rt2, 4, ok(), 5)
    assert r.complete_llm_call(rt3, 4, ok(), 6)[0] is rt3
    assert r.complete_llm_call(rt3, 1, ok(), 6)[0] is rt3  # a rules-phase completion, redelivered late


def test_answer_and_invalid_answer_end_the_llm_phase():
    rt, nxt = turn(llm_row(), "answer")
    assert nxt.llm_done and rt.answer["root_cause"]["category"] == "dns_failure"
    rt, nxt = turn(llm_row(), "invalid")
    assert nxt.llm_done and rt.llm_stop == "llm_invalid_answer" and rt.llm_stop_detail == "no JSON"


def test_task_budget_stops_between_steps():
    rt = llm_row(budget_usd=0.05)
    rt, nxt = turn(rt, "tool_calls", calls=1, usd=0.06)
    assert nxt.dispatch  # the round the model asked for runs ...
    rt, nxt = r.complete_llm_call(rt, 4, ok(), 4)
    assert nxt.finish.reason is TerminationReason.BUDGET_EXCEEDED  # ... but no further model call


def test_step_limit_asks_the_model_to_conclude_without_tools():
    rt = llm_row(max_steps=2)
    rt, nxt = turn(rt, "tool_calls", calls=2)
    rt, _ = r.complete_llm_call(rt, 4, ok(), 4)
    rt, nxt = r.complete_llm_call(rt, 5, ok(), 4)
    assert nxt.turn == 6 and not rt.conversation.tools_enabled
    assert rt.conversation.concluding == "max_steps_reached"


def test_three_failed_llm_calls_in_a_row_fail_the_task():
    rt = llm_row()
    rt, _ = turn(rt, "tool_calls", calls=3)
    for n in (4, 5, 6):
        rt, nxt = r.complete_llm_call(rt, n, ToolResult(tool_id="get_pod", ok=False, error="boom"), 4)
    assert nxt.finish.reason is TerminationReason.TOO_MANY_ERRORS


def test_cancel_during_a_model_call_wins_and_its_late_outcome_is_ignored():
    rt = llm_row()
    outcome = r.turn_outcome(rt.conversation, model_call(rt.conversation, "answer"))
    rt, nxt = r.cancel(rt, 3, planner_wanting(0))
    assert nxt.finish.reason is TerminationReason.MANUAL_STOP
    done = rt.model_copy(update={"finished": True})
    assert r.apply_turn(done, outcome, 4)[0] is done


def test_timeout_finishes_the_llm_phase_while_a_call_runs():
    rt = llm_row(timeout_seconds=10)
    assert r.advance(rt, 9, planner_wanting(0))[1] == r.Next()
    assert r.advance(rt, 10, planner_wanting(0))[1].finish.reason is TerminationReason.TIMEOUT


def test_a_turn_may_only_append():
    rt = llm_row()
    result = model_call(rt.conversation, "answer")
    shrunk = result.model_copy(update={"conversation": result.conversation.model_copy(update={"messages": []})})
    with pytest.raises(ValueError):
        r.turn_outcome(rt.conversation, shrunk)
