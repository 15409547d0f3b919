"""The step loop's state machine, pure: what a task has done, and what to do next.

The row (`TaskRuntime`) lives in a Faust table keyed by task_id; the Kafka wiring (agents/steploop.py)
only stores rows and moves records. Nothing here does I/O, so a crash can only lose what was not yet
stored, and a redelivered record is recognised: a step is identified by (task_id, step number).

A task has up to two phases:
- `rules`: the rule engine plans read-only calls (`StepRecord`s, at most 3 in flight) until it has
  nothing more to ask; its analysis is the result, or - for an `ai_powered` task whose rules are
  not already confident - the LLM's starting evidence and its fallback.
- `llm`: the LLM `Conversation` (agents/llm/conversation.py) lives in the row. A model call is a
  step like a tool call: opened here (`Next.turn`), run off the partition, and its outcome comes
  back as a record (`TurnOutcome`: what the call appended to the conversation) that `apply_turn`
  applies once - by the step number the row expects. The calls the model asks for become execution
  steps, at most 3 in flight. Termination is checked between steps; at the step limit the model is
  asked once to conclude without tools.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable, Literal

from pydantic import BaseModel, Field

from agents.llm.conversation import Conversation, Phase, record_tool_result, unresolved
from agents.llm.engine import EngineOptions, TurnResult
from agents.llm.prompts import conclude_message
from agents.rules.observations import Observations, call_key
from agents.termination import Termination, TerminationReason, check_termination, security_stop
from agents.tools.types import ToolCall, ToolResult
from schemas.audit import CostRecord
from schemas.bounds import clip, clip_map, json_size
from schemas.knowledge import KnowledgeEntry
from schemas.result import DiagnosticResult, ResultSummary
from schemas.step import DiagnosticStep
from schemas.task import DiagnosticTask, TaskStatus

MAX_PARALLEL_CALLS = 3  # per task (SRS §3.6.3)
MAX_STORED_OUTPUT = 64 * 1024  # a step's output kept in the row; the full text is on the steps topic
TOOL_OUTPUT_CHARS = EngineOptions().max_tool_output_chars  # per call, as the model sees it

Planner = Callable[[Observations], list[ToolCall]]


class StepRecord(BaseModel):
    number: int
    call: ToolCall
    status: Literal["in_flight", "completed", "failed"] = "in_flight"
    output: dict[str, Any] | None = None
    error: str = ""
    started_at: float
    completed_at: float | None = None


class TaskRuntime(BaseModel):
    task: DiagnosticTask
    engine: str = "rules"
    started_at: float
    steps: list[StepRecord] = Field(default_factory=list)  # the rules phase's tool calls
    consecutive_errors: int = 0
    cost_usd: float = 0.0
    tokens_used: int = 0  # prompt + completion tokens of the model calls applied (limits.budget_tokens)
    cancel_requested: bool = False
    cancelled_by: str = ""  # who asked for the cancel, for the report
    finished: bool = False
    termination_reason: str = ""
    # strategy (SRS §5.9.2), decided at admission
    strategy: str = "rule_based"
    model: str = ""
    knowledge: list[KnowledgeEntry] = Field(default_factory=list)
    # the LLM phase
    phase: Literal["rules", "llm"] = "rules"
    findings: DiagnosticResult | None = None  # the rule engine's result: LLM context and fallback
    conversation: Conversation | None = None
    llm_turn: int | None = None  # step number of the model call in flight
    llm_turn_opened_at: float = 0.0
    llm_dispatched: dict[int, float] = Field(default_factory=dict)  # call step number -> dispatched at
    answer: dict[str, Any] | None = None  # the model's validated answer (LLMAnswer), once given
    llm_stop: str = ""  # llm_invalid_answer | llm_unavailable: the rule engine answers
    llm_stop_detail: str = ""
    report: DiagnosticResult | None = None  # the published result, kept for feedback on it
    # Finished, but the broker has not yet confirmed the report and the final snapshot: the sweep asks for them
    # to be sent again (a kill between the row's write and the report's send must not lose the report).
    report_pending: bool = False

    def in_flight(self) -> list[StepRecord]:
        """Tool calls running (or to re-run after a crash), in either phase."""
        if self.phase == "llm" and self.conversation is not None:
            return [_call_record(c, self.llm_dispatched[c.step_number]) for c in unresolved(self.conversation)
                    if c.step_number in self.llm_dispatched]
        return [s for s in self.steps if s.status == "in_flight"]

    def step(self, number: int) -> StepRecord | None:
        return next((s for s in self.steps if s.number == number), None)


class ToolCaller(BaseModel):
    """Who a task's tool calls run as: `role` for the gateway's safety layer 4, `actor` for its audit events."""

    actor: str
    role: str


def tool_caller(task: DiagnosticTask, service_role: str) -> ToolCaller:
    """A manual request runs as the person who asked: their role decides which tools the gateway lets the
    diagnosis use (a developer cannot reach a tool kept for SREs by asking Aetherius to call it), and their name
    is the audit actor. Alert- and event-triggered tasks have no person behind them; they run with the
    configured `service_role` (`tasks.service_role`, default sre) - one operator decision about what automatic
    diagnoses may read - audited as `service:<source>` (alertmanager, kubernetes, or manual for a manual record
    written before requesters were recorded)."""
    who = task.requested_by
    if who is not None:
        return ToolCaller(actor=who.subject, role=who.role)
    return ToolCaller(actor=f"service:{task.metadata.get('source') or 'pipeline'}", role=service_role)


def _call_record(call: Any, at: float) -> StepRecord:
    return StepRecord(number=call.step_number, call=ToolCall(tool_id=call.tool_id, parameters=call.parameters,
                                                             reason=call.reason[:500]), started_at=at)


def observations(rt: TaskRuntime) -> Observations:
    obs = Observations()
    for s in rt.steps:
        if s.status != "in_flight":
            obs.record(s.call, s.output, s.error)
    return obs


class Next(BaseModel):
    """What the wiring must do after a change."""

    dispatch: list[StepRecord] = Field(default_factory=list)  # tool calls to run
    turn: int | None = None  # a model call to run, with this step number
    finish: Termination | None = None  # stop for this reason
    evidence_exhausted: bool = False  # rules phase: nothing more to ask - analyse, then report or hand to the LLM
    llm_done: bool = False  # LLM phase: `rt.answer` or `rt.llm_stop` is set - report


# ------------------------------------------------------------------------------------------ rules phase

def _dispatch(rt: TaskRuntime, planner: Planner, now: float) -> tuple[TaskRuntime, list[StepRecord]]:
    """Plan and open new steps: never more than 3 in flight, never past max_steps, never a call twice."""
    room = min(MAX_PARALLEL_CALLS - len(rt.in_flight()), rt.task.limits.max_steps - len(rt.steps))
    if room <= 0:
        return rt, []
    made = {call_key(s.call.tool_id, s.call.parameters) for s in rt.steps}
    fresh = [c for c in planner(observations(rt)) if call_key(c.tool_id, c.parameters) not in made][:room]
    start = len(rt.steps)
    new = [StepRecord(number=start + i + 1, call=c, started_at=now) for i, c in enumerate(fresh)]
    return rt.model_copy(update={"steps": [*rt.steps, *new]}), new


def begin(task: DiagnosticTask, planner: Planner, now: float, engine: str = "rules", *,
          strategy: str = "rule_based", model: str = "",
          knowledge: list[KnowledgeEntry] | None = None) -> tuple[TaskRuntime, list[StepRecord]]:
    rt = TaskRuntime(task=task, engine=engine, started_at=now, strategy=strategy, model=model,
                     knowledge=list(knowledge or []))
    return _dispatch(rt, planner, now)


def _termination(rt: TaskRuntime, now: float) -> Termination | None:
    if rt.phase == "llm" and rt.conversation is not None:
        conv = rt.conversation
        term = check_termination(step_count=conv.tool_steps, elapsed_seconds=max(0.0, now - rt.started_at),
                                 cost_usd=rt.cost_usd, confidence=None, consecutive_errors=conv.consecutive_errors,
                                 manual_stop=rt.cancel_requested, limits=rt.task.limits, tokens=rt.tokens_used)
        if term is not None and term.reason is TerminationReason.MAX_STEPS_REACHED and conv.concluding:
            return None  # the concluding turn may run past the step limit
        return term
    return check_termination(step_count=len(rt.steps), elapsed_seconds=max(0.0, now - rt.started_at),
                             cost_usd=rt.cost_usd, confidence=None, consecutive_errors=rt.consecutive_errors,
                             manual_stop=rt.cancel_requested, limits=rt.task.limits, tokens=rt.tokens_used)


def complete(rt: TaskRuntime, number: int, output: dict[str, Any] | None, error: str, now: float,
             planner: Planner) -> tuple[TaskRuntime, Next]:
    """Apply a rules-phase step's completion. Redelivered or unknown completions change nothing."""
    step = rt.step(number)
    if rt.finished or rt.phase != "rules" or step is None or step.status != "in_flight":
        return rt, Next()
    if output is not None and len(repr(output)) > MAX_STORED_OUTPUT:
        output = {"truncated": True, "note": "output too large to keep in the task row; see the steps topic"}
    done = step.model_copy(update={"status": "failed" if error else "completed", "output": None if error else output,
                                   "error": error, "completed_at": now})
    steps = [done if s.number == number else s for s in rt.steps]
    rt = rt.model_copy(update={"steps": steps,
                               "consecutive_errors": rt.consecutive_errors + 1 if error else 0})
    return advance(rt, now, planner)


def advance(rt: TaskRuntime, now: float, planner: Planner) -> tuple[TaskRuntime, Next]:
    """Decide the next move (cancel and timeout do not wait for work in flight)."""
    if rt.finished:
        return rt, Next()
    if rt.cancel_requested:
        return rt, Next(finish=_termination(rt, now))
    if rt.phase == "llm":
        return _advance_llm(rt, now)
    if now - rt.started_at >= rt.task.limits.timeout_seconds:
        return rt, Next(finish=_termination(rt, now))
    if rt.in_flight():
        return rt, Next()
    stop = _termination(rt, now)
    if stop is not None:
        return rt, Next(finish=stop)
    rt, new = _dispatch(rt, planner, now)
    if not new:
        return rt, Next(evidence_exhausted=True)
    return rt, Next(dispatch=new)


def cancel(rt: TaskRuntime, now: float, planner: Planner) -> tuple[TaskRuntime, Next]:
    if rt.finished:
        return rt, Next()
    return advance(rt.model_copy(update={"cancel_requested": True}), now, planner)


def stop_for_security(rt: TaskRuntime, number: int, result: ToolResult,
                      now: float) -> tuple[TaskRuntime, Termination | None]:
    """A call of this task was refused as a security event (SRS §5.8.5): record that step as failed and
    stop - nothing is planned or opened after it, whatever the phase. (row, None) when the step is not
    one this row is waiting for (redelivered, unknown, or the task already ended): nothing changes."""
    if rt.finished:
        return rt, None
    if rt.phase == "rules":
        step = rt.step(number)
        if step is None or step.status != "in_flight":
            return rt, None
        done = step.model_copy(update={"status": "failed", "output": None, "error": result.error, "completed_at": now})
        rt = rt.model_copy(update={"steps": [done if s.number == number else s for s in rt.steps],
                                   "consecutive_errors": rt.consecutive_errors + 1})
    else:
        if rt.conversation is None:
            return rt, None
        conv, step_done = record_tool_result(rt.conversation, number, result,
                                             now=datetime.fromtimestamp(now, timezone.utc), max_chars=TOOL_OUTPUT_CHARS)
        if step_done is None:
            return rt, None
        rt = rt.model_copy(update={"conversation": conv,
                                   "llm_dispatched": {n: at for n, at in rt.llm_dispatched.items() if n != number}})
    return rt, security_stop(result.security_event, result.error)


def continues_with_llm(rt: TaskRuntime, findings: DiagnosticResult, stop: Termination | None, *,
                       requested: bool = False) -> bool:
    """After the rules phase: does an `ai_powered` task go on to the LLM? Not when the rules are
    already confident (SRS §5.9.4: confidence >= 0.85 ends the diagnosis) unless the LLM was
    `requested` explicitly, nor when the task was stopped for a reason other than the rules' own step limit."""
    if rt.strategy != "ai_powered" or rt.phase != "rules" or rt.finished:
        return False
    if stop is not None and stop.reason is not TerminationReason.MAX_STEPS_REACHED:
        return False
    if requested:
        return True
    return check_termination(step_count=0, elapsed_seconds=0, cost_usd=0, confidence=findings.confidence,
                             consecutive_errors=0, manual_stop=False, limits=rt.task.limits) is None


# ------------------------------------------------------------------------------------------ LLM phase

def start_llm(rt: TaskRuntime, conv: Conversation, findings: DiagnosticResult, model: str,
              now: float) -> tuple[TaskRuntime, Next]:
    """Hand the task to the LLM: the conversation continues the step numbering after the rules'
    steps, and the rules' outputs leave the row (their conclusions are in `findings`)."""
    if rt.finished or rt.phase != "rules":
        return rt, Next()
    conv = conv.model_copy(update={"next_step": len(rt.steps) + 1})
    steps = [s.model_copy(update={"output": None}) for s in rt.steps]
    rt = rt.model_copy(update={"phase": "llm", "conversation": conv, "findings": findings, "model": model,
                               "steps": steps, "engine": "llm"})
    return advance(rt, now, _no_plan)


def _no_plan(_: Observations) -> list[ToolCall]:
    return []


def _advance_llm(rt: TaskRuntime, now: float) -> tuple[TaskRuntime, Next]:
    conv = rt.conversation
    assert conv is not None
    if rt.answer is not None or rt.llm_stop:
        return rt, Next(llm_done=True)  # an answer beats every limit but a cancel (termination precedence)
    if now - rt.started_at >= rt.task.limits.timeout_seconds:
        return rt, Next(finish=_termination(rt, now))
    if rt.llm_turn is not None:
        return rt, Next()
    if conv.phase is Phase.TOOLS:
        waiting = [c for c in unresolved(conv) if c.step_number in rt.llm_dispatched]
        fresh = [c for c in unresolved(conv) if c.step_number not in rt.llm_dispatched]
        fresh = fresh[:max(0, MAX_PARALLEL_CALLS - len(waiting))]
        if not fresh:
            return rt, Next()
        dispatched = {**rt.llm_dispatched, **{c.step_number: now for c in fresh}}
        rt = rt.model_copy(update={"llm_dispatched": dispatched})
        return rt, Next(dispatch=[_call_record(c, now) for c in fresh])
    stop = _termination(rt, now)
    if stop is not None and stop.reason is TerminationReason.MAX_STEPS_REACHED:
        conv = conv.model_copy(update={"tools_enabled": False, "concluding": stop.reason.value,
                                       "messages": conv.messages + [conclude_message(stop.note or stop.reason.value)]})
        rt = rt.model_copy(update={"conversation": conv})
        stop = None
    if stop is not None:
        return rt, Next(finish=stop)
    rt = rt.model_copy(update={"llm_turn": conv.next_step, "llm_turn_opened_at": now})
    return rt, Next(turn=conv.next_step)


def complete_llm_call(rt: TaskRuntime, number: int, result: ToolResult, now: float,
                      max_chars: int = TOOL_OUTPUT_CHARS) -> tuple[TaskRuntime, Next]:
    """Apply an LLM-phase tool call's result (idempotent: `record_tool_result` ignores a known step)."""
    if rt.finished or rt.phase != "llm" or rt.conversation is None:
        return rt, Next()
    conv, step = record_tool_result(rt.conversation, number, result, now=datetime.fromtimestamp(now, timezone.utc),
                                    max_chars=max_chars)
    if step is None:
        return rt, Next()
    dispatched = {n: at for n, at in rt.llm_dispatched.items() if n != number}
    rt = rt.model_copy(update={"conversation": conv, "llm_dispatched": dispatched})
    return _advance_llm(rt, now)


_STATE_FIELDS = {"phase", "tools_enabled", "concluding", "pending", "next_step", "llm_calls", "tool_steps",
                 "invalid_answers", "consecutive_errors", "usage"}


class TurnOutcome(BaseModel):
    """What one model call did to the conversation: appended messages and steps, new counters, the
    cost record and the answer. Small (this turn's content only), so it travels on the steps topic."""

    number: int
    action: Literal["tool_calls", "answer", "retry", "invalid", "error"]
    messages_from: int
    messages: list[dict[str, Any]] = Field(default_factory=list)
    steps_from: int
    steps: list[DiagnosticStep] = Field(default_factory=list)
    state: dict[str, Any] = Field(default_factory=dict)
    cost: CostRecord | None = None
    answer: dict[str, Any] | None = None
    error: str = ""


def turn_outcome(before: Conversation, result: TurnResult) -> TurnOutcome:
    after = result.conversation
    if after.messages[:len(before.messages)] != before.messages or after.steps[:len(before.steps)] != before.steps:
        raise ValueError("a turn may only append to the conversation")
    return TurnOutcome(
        number=before.next_step, action=result.action, messages_from=len(before.messages),
        messages=after.messages[len(before.messages):], steps_from=len(before.steps),
        steps=after.steps[len(before.steps):], state=after.model_dump(mode="json", include=_STATE_FIELDS),
        cost=result.cost, answer=result.answer.model_dump(mode="json") if result.answer else None, error=result.error)


def apply_turn(rt: TaskRuntime, outcome: TurnOutcome, now: float) -> tuple[TaskRuntime, Next]:
    """Apply a model call's outcome once: only the turn the row has open, only on the conversation it
    started from. Its cost joins the task's cost here, so a redelivered outcome is never paid twice."""
    conv = rt.conversation
    if (rt.finished or rt.phase != "llm" or conv is None or rt.llm_turn != outcome.number
            or conv.next_step != outcome.number or len(conv.messages) != outcome.messages_from
            or len(conv.steps) != outcome.steps_from):
        return rt, Next()
    conv = Conversation.model_validate({**conv.model_dump(mode="json"), **outcome.state,
                                        "messages": conv.messages + outcome.messages,
                                        "steps": [s.model_dump(mode="json") for s in conv.steps + outcome.steps]})
    cost = outcome.cost.cost_usd if outcome.cost is not None else 0.0
    tokens = outcome.cost.prompt_tokens + outcome.cost.completion_tokens if outcome.cost is not None else 0
    update: dict[str, Any] = {"conversation": conv, "llm_turn": None, "cost_usd": round(rt.cost_usd + cost, 9),
                              "tokens_used": rt.tokens_used + tokens}
    if outcome.action == "answer":
        update["answer"] = outcome.answer
    elif outcome.action in ("invalid", "error"):
        update["llm_stop"] = "llm_invalid_answer" if outcome.action == "invalid" else "llm_unavailable"
        update["llm_stop_detail"] = outcome.error[:1000]
    return advance(rt.model_copy(update=update), now, _no_plan)


# ------------------------------------------------------------------------------------------ size budget

def slimmed(rt: TaskRuntime, budget: int) -> TaskRuntime:
    """The row within `budget` bytes by dropping the largest stored step outputs first (the full outputs are on
    the steps topic); the row itself when it fits or has nothing left to drop."""
    size = json_size(rt.model_dump(mode="json"))
    if size <= budget:
        return rt
    sizes = sorted(((json_size(s.output), s.number) for s in rt.steps if s.output), reverse=True)
    dropped: set[int] = set()
    for n_bytes, number in sizes:
        if size <= budget:
            break
        dropped.add(number)
        size -= n_bytes
    if not dropped:
        return rt
    note = {"truncated": True, "note": "output dropped to keep the task row within its size budget"}
    return rt.model_copy(update={"steps": [s.model_copy(update={"output": note}) if s.number in dropped else s
                                           for s in rt.steps]})


def compact_task(task: DiagnosticTask) -> DiagnosticTask:
    """The task with everything copied from its alert cut short: what a failure row and report can always
    carry, whatever made the full one too big."""
    ctx = task.context.model_copy(update={
        "labels": clip_map(task.context.labels, 512, 8 * 1024), "annotations": clip_map(task.context.annotations, 1024, 8 * 1024),
        "alertname": clip(task.context.alertname, 253), "signal_fingerprints": task.context.signal_fingerprints[:50],
        "clusters": [clip(c, 253) for c in task.context.clusters[:50]]})
    metadata = {k: v for k, v in task.metadata.items() if isinstance(v, (int, float, bool, type(None)))}
    metadata.update({k: clip(v, 512) for k, v in task.metadata.items() if isinstance(v, str)})
    return task.model_copy(update={
        "context": ctx, "metadata": metadata, "cluster_id": clip(task.cluster_id, 253),
        "namespace": clip(task.namespace, 253), "status_reason": clip(task.status_reason, 1024),
        "resource": task.resource.model_copy(update={"name": clip(task.resource.name, 253),
                                                     "kind": clip(task.resource.kind, 64),
                                                     "namespace": clip(task.resource.namespace, 253)})})


FAILED_RECORD = "record_failed"  # termination reason of a task one of whose records could not be processed


def failed_row(task: DiagnosticTask, reason: str, now: float, started_at: float | None = None) -> TaskRuntime:
    """A finished row for a task that cannot go on because one of its records failed (too large for the broker,
    or a bug): a small failed report saying why, the step history left out (it is on the steps topic)."""
    task = compact_task(task)
    note = clip(f"diagnosis stopped: {reason}", 1000)
    final = task.model_copy(update={"status": TaskStatus.FAILED, "status_reason": FAILED_RECORD,
                                    "completed_at": datetime.fromtimestamp(now, timezone.utc)})
    report = DiagnosticResult(task_id=task.id, cluster_id=task.cluster_id, summary=ResultSummary(problem=note),
                              status="failed", termination_reason=FAILED_RECORD, engine="rules")
    return TaskRuntime(task=final, started_at=started_at if started_at is not None else now, finished=True,
                       termination_reason=FAILED_RECORD, report=report, report_pending=True)
