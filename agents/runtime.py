"""The step loop's state machine, pure: what a task has done, and what to do next.

The row (`TaskRuntime`) lives in a Faust table keyed by task_id; the Kafka wiring (agents/steploop.py)
only stores rows and moves records. Nothing here does I/O, so a crash can only lose what was not yet
stored, and a redelivered record is recognised: a step is identified by (task_id, step number).
"""

from __future__ import annotations

from typing import Any, Callable, Literal

from pydantic import BaseModel, Field

from agents.rules.observations import Observations, call_key
from agents.termination import Termination, check_termination
from agents.tools.types import ToolCall
from schemas.task import DiagnosticTask

MAX_PARALLEL_CALLS = 3  # per task (SRS §3.6.3)
MAX_STORED_OUTPUT = 256 * 1024  # a step's output kept in the row; the full text is on the steps topic

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
    steps: list[StepRecord] = Field(default_factory=list)
    consecutive_errors: int = 0
    cost_usd: float = 0.0
    cancel_requested: bool = False
    finished: bool = False
    termination_reason: str = ""

    def in_flight(self) -> list[StepRecord]:
        return [s for s in self.steps if s.status == "in_flight"]

    def step(self, number: int) -> StepRecord | None:
        return next((s for s in self.steps if s.number == number), None)


def observations(rt: TaskRuntime) -> Observations:
    obs = Observations()
    for s in rt.steps:
        if s.status != "in_flight":
            obs.record(s.call, s.output, s.error)
    return obs


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


def begin(task: DiagnosticTask, planner: Planner, now: float, engine: str = "rules"
          ) -> tuple[TaskRuntime, list[StepRecord]]:
    return _dispatch(TaskRuntime(task=task, engine=engine, started_at=now), planner, now)


def _termination(rt: TaskRuntime, now: float) -> Termination | None:
    return check_termination(step_count=len(rt.steps), elapsed_seconds=max(0.0, now - rt.started_at),
                             cost_usd=rt.cost_usd, confidence=None, consecutive_errors=rt.consecutive_errors,
                             manual_stop=rt.cancel_requested, limits=rt.task.limits)


class Next(BaseModel):
    """What the wiring must do after a change: open these steps, or finish with this reason."""

    dispatch: list[StepRecord] = Field(default_factory=list)
    finish: Termination | None = None
    evidence_exhausted: bool = False  # the planner has nothing more to ask: analyse and report


def complete(rt: TaskRuntime, number: int, output: dict[str, Any] | None, error: str, now: float,
             planner: Planner) -> tuple[TaskRuntime, Next]:
    """Apply a step's completion. Redelivered or unknown completions change nothing."""
    step = rt.step(number)
    if rt.finished or step is None or step.status != "in_flight":
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
    """Decide the next move once no step is in flight (cancel and timeout do not wait for them)."""
    if rt.finished:
        return rt, Next()
    if rt.cancel_requested or now - rt.started_at >= rt.task.limits.timeout_seconds:
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
