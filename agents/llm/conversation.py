"""The LLM diagnosis as a serialisable state machine - the value a Faust table row can hold.

`Conversation` is everything needed to continue a diagnosis on another worker: the OpenAI message
list, the tool calls the model asked for (each with its step number, allocated before dispatch),
their results so far, counters and usage. A worker that crashes resumes from the stored value:

- phase `llm`:   the last model call did not complete (or its outcome was not stored): call again.
                 Its cost record id is the same (`{task_id}:{step}:{n}` from stored counters), so the
                 budget books it once (the provider may have billed the lost call: a known undercount).
- phase `tools`: `unresolved(conv)` lists the calls still to run; re-running one is harmless (every
                 tool is read-only) and `record_tool_result` ignores a step already recorded.
- phase `done`:  nothing to do; the result was produced.

Functions here are pure: they return a new `Conversation` and the `DiagnosticStep`s to publish.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from pydantic import BaseModel, Field

from agents.redaction import redact_obj, redact_text
from agents.tools.types import ToolResult
from schemas.base import Record, utcnow
from schemas.step import DiagnosticStep, StepInput, StepOutput, StepStatus, StepType, TokenUsage
from schemas.task import DiagnosticTask

MAX_STEP_TEXT = 4000  # analysis/reasoning text kept in a DiagnosticStep


class Phase(str, Enum):
    LLM = "llm"
    TOOLS = "tools"
    DONE = "done"


class PendingCall(BaseModel):
    """One function call the model asked for, with the step number it runs as."""

    step_number: int = Field(ge=1)
    call_id: str
    tool_id: str
    parameters: dict[str, Any] = Field(default_factory=dict)
    reason: str = ""  # the model's words around the call
    not_run: str = ""  # set when the call is answered without running (bad arguments, step limit)
    result: ToolResult | None = None

    @property
    def runnable(self) -> bool:
        return self.result is None and not self.not_run


class Conversation(Record):
    task: DiagnosticTask
    model: str
    messages: list[dict[str, Any]]
    # The role the task's tool calls run as (agents.runtime.tool_caller): the model is offered only the tools
    # that role may call, so it does not spend steps on tools the gateway would refuse. None: every tool.
    role: str | None = None
    # The rule engine's findings as the model was given them: with the tool messages, the record an answer's
    # evidence must come from (agents.llm.grounding).
    findings: str = ""
    phase: Phase = Phase.LLM
    tools_enabled: bool = True  # False once asked to conclude (step limit)
    concluding: str = ""  # the termination reason that asked for a final answer
    pending: list[PendingCall] = Field(default_factory=list)
    next_step: int = 1
    llm_calls: int = 0
    tool_steps: int = 0  # executed tool calls: what counts toward the task's max_steps
    invalid_answers: int = 0
    consecutive_errors: int = 0
    usage: TokenUsage = Field(default_factory=TokenUsage)
    steps: list[DiagnosticStep] = Field(default_factory=list)
    started_at: datetime = Field(default_factory=utcnow)

    @property
    def task_id(self) -> str:
        return self.task.id

    def elapsed_seconds(self, now: datetime) -> float:
        return max(0.0, (now - self.started_at).total_seconds())


def step_id(task_id: str, number: int) -> str:
    return f"{task_id}:{number}"


def unresolved(conv: Conversation) -> list[PendingCall]:
    """Calls still to run - what a resumed worker re-dispatches."""
    return [c for c in conv.pending if c.runnable]


def redact_json_text(text: str) -> str:
    """Redact a tool's JSON output value by value (`redact_obj`), which also catches a secret at the
    very start of a JSON string that text-level matching can miss; non-JSON falls back to text."""
    try:
        data = json.loads(text)
    except ValueError:
        return redact_text(text)
    return json.dumps(redact_obj(data), ensure_ascii=False, separators=(",", ":"))


def tool_message_content(call: PendingCall, max_chars: int) -> str:
    """What the model sees for one call: the output (redacted, capped) or a JSON error."""
    if call.not_run:
        return json.dumps({"error": call.not_run, "executed": False})
    result = call.result
    assert result is not None
    if not result.ok:
        return json.dumps({"error": redact_text(result.error), "rejected": result.rejected})
    text = redact_json_text(result.output)
    if len(text) > max_chars:
        text = text[:max_chars] + f"\n…[truncated: {len(text) - max_chars} more characters; ask for less]"
    return text


def accept_tool_calls(conv: Conversation, assistant_message: dict[str, Any], calls: list[PendingCall],
                      max_steps: int, *, now: datetime) -> tuple[Conversation, list[DiagnosticStep]]:
    """Store the model's turn and its calls: (new state, steps for calls that will not run).

    Calls beyond the step limit, or whose arguments were unusable (`not_run` already set), are
    answered with an error instead of being run - the API needs every call answered. Unusable
    arguments count as a failed step; a call cut by the step limit is only skipped.
    """
    budget = max(0, max_steps - conv.tool_steps)
    accepted: list[PendingCall] = []
    steps: list[DiagnosticStep] = []
    errors = conv.consecutive_errors
    for call in calls:
        if call.not_run:
            errors += 1
            steps.append(_unrun_step(conv, call, StepStatus.FAILED, now))
        elif budget <= 0:
            call = call.model_copy(update={"not_run": f"not executed: the step limit of {max_steps} is reached"})
            steps.append(_unrun_step(conv, call, StepStatus.SKIPPED, now))
        else:
            budget -= 1
        accepted.append(call)
    numbers = [c.step_number for c in accepted]
    conv = conv.model_copy(update={
        "messages": conv.messages + [assistant_message], "pending": accepted, "phase": Phase.TOOLS,
        "next_step": max(numbers + [conv.next_step - 1]) + 1, "consecutive_errors": errors,
        "steps": conv.steps + steps,
    })
    return conv, steps


def _unrun_step(conv: Conversation, call: PendingCall, status: StepStatus, now: datetime) -> DiagnosticStep:
    return DiagnosticStep(
        id=step_id(conv.task_id, call.step_number), task_id=conv.task_id, step_number=call.step_number,
        type=StepType.EXECUTION, tool_id=call.tool_id, input=StepInput(command=call.tool_id, parameters=call.parameters),
        output=StepOutput(exit_code=1, stderr=call.not_run), status=status, started_at=now, completed_at=now,
        reasoning=call.reason[:MAX_STEP_TEXT],
    )


def record_tool_result(conv: Conversation, step_number: int, result: ToolResult, *, now: datetime,
                       max_chars: int) -> tuple[Conversation, DiagnosticStep | None]:
    """Store one call's result: (new state, the step to publish). Idempotent: a step already
    recorded, or not pending, returns the state unchanged and no step."""
    call = next((c for c in conv.pending if c.step_number == step_number), None)
    if call is None or not call.runnable:
        return conv, None
    done = call.model_copy(update={"result": result})
    pending = [done if c.step_number == step_number else c for c in conv.pending]
    errors = 0 if result.ok else conv.consecutive_errors + 1
    step = DiagnosticStep(
        id=step_id(conv.task_id, step_number), task_id=conv.task_id, step_number=step_number,
        type=StepType.EXECUTION, tool_id=call.tool_id,
        input=StepInput(command=call.tool_id, parameters=call.parameters),
        output=StepOutput(exit_code=0 if result.ok else 1, stdout=tool_message_content(done, max_chars) if result.ok else "",
                          stderr=redact_text(result.error), truncated=result.truncated or len(result.output) > max_chars),
        status=StepStatus.COMPLETED if result.ok else StepStatus.FAILED,
        started_at=now - timedelta(milliseconds=result.duration_ms), completed_at=now,
        duration_ms=result.duration_ms, reasoning=call.reason[:MAX_STEP_TEXT],
    )
    conv = conv.model_copy(update={"pending": pending, "consecutive_errors": errors,
                                   "tool_steps": conv.tool_steps + 1, "steps": conv.steps + [step]})
    return _close_round_if_complete(conv, max_chars), step


def _close_round_if_complete(conv: Conversation, max_chars: int) -> Conversation:
    """Once every call of the round has an answer, hand the answers to the model (in call order)."""
    if any(c.runnable for c in conv.pending):
        return conv
    answers = [{"role": "tool", "tool_call_id": c.call_id, "content": tool_message_content(c, max_chars)}
               for c in conv.pending]
    return conv.model_copy(update={"messages": conv.messages + answers, "pending": [], "phase": Phase.LLM})


def close_round(conv: Conversation, max_chars: int) -> Conversation:
    """For a round with nothing runnable (every call refused up front)."""
    return _close_round_if_complete(conv, max_chars) if conv.phase is Phase.TOOLS else conv
