"""When a diagnosis stops (SRS §5.9.4): one pure function over the task's progress and limits.

The one step loop (agents/steploop.py, on Kafka in a worker or in memory for the offline CLI) calls
`check_termination` between steps, so a task stops for the same reason wherever it runs.

Precedence, when several conditions hold at once (the first match wins):
0. security_violation    - a tool request of this task was refused as a security event (SRS §5.8.5:
                           privilege escalation, a write verb, injection, a role it does not have). The
                           task's planner (rules fed by alert labels, or an LLM fed by cluster text) is
                           steering towards harm: the task stops at once, fails, and goes to a human;
                           no further tool call is made for it. Nothing outranks this. Raised by the
                           step loop (agents/runtime.stop_for_security) from the gateway's refusal.
1. manual_stop           - an operator's cancel is obeyed even if an answer arrived at the same time:
                           the cancel API promises "cancelled", so that is what the task ends as.
2. root_cause_identified - a confident answer (>= 0.85) is a complete result whichever limit was
                           crossed on the way to it; calling it "partial" would hide a good diagnosis.
3. budget_exceeded       - money is the hardest limit and the admin must hear about it (only once something
                           was spent: a $0 budget allows no model call, but the free rule engine still runs).
                           Tokens count too (`limits.budget_tokens`): a local model priced at 0 spends no
                           dollars, but its tokens are the same hours of a GPU or CPU.
4. timeout               - the time is up; partial results are kept.
5. too_many_errors       - 3 consecutive failed steps: the evidence is broken, the task fails and
                           goes to a human rather than being dressed up as a partial success.
6. max_steps_reached     - the ordinary end of a long investigation, partial results.

What counts as a step is the caller's business (the LLM engine counts executed tool calls, so a
reasoning turn without a tool call does not eat the step budget).
"""

from __future__ import annotations

import math
from enum import Enum

from pydantic import BaseModel, ConfigDict

from schemas.task import TaskLimits, TaskStatus

CONFIDENCE_THRESHOLD = 0.85
MAX_CONSECUTIVE_ERRORS = 3


class TerminationReason(str, Enum):
    SECURITY_VIOLATION = "security_violation"
    MANUAL_STOP = "manual_stop"
    ROOT_CAUSE_IDENTIFIED = "root_cause_identified"
    BUDGET_EXCEEDED = "budget_exceeded"
    TIMEOUT = "timeout"
    TOO_MANY_ERRORS = "too_many_errors"
    MAX_STEPS_REACHED = "max_steps_reached"


class Termination(BaseModel):
    """Why a task stops and what that means for its record and its report.

    `status` is the task's lifecycle status; `result_status` is the SRS's wording for the report
    (`DiagnosticResult.status`), which distinguishes e.g. a budget stop from a normal completion.
    """

    model_config = ConfigDict(frozen=True)

    reason: TerminationReason
    status: TaskStatus
    result_status: str
    partial: bool = False  # the report holds what was found so far, not a conclusion
    generate_report: bool = True  # every termination produces a report (an error report when failed)
    notify_admin: bool = False
    escalate: bool = False  # hand over to a human
    note: str = ""


# What a refused request must have tried for its task to be stopped (and a person behind it suspended): an
# escalation, a write, an injection. A role refusal (`unauthorized_access`) is not among them: the step loop's
# own planner chose that tool for the requester, nobody attempted anything, so it is an ordinary failed step
# (still audited by the gateway) and the diagnosis goes on with the tools the role allows.
STOPPING_SECURITY_EVENTS = frozenset({"privilege_escalation", "destructive_operation", "injection_attempt"})


def stops_task(kind: str | None) -> bool:
    return bool(kind) and kind in STOPPING_SECURITY_EVENTS


def security_stop(kind: str, detail: str = "") -> Termination:
    """The stop for a task whose tool request was refused as security event `kind` (e.g.
    privilege_escalation); `detail` is the gateway's (already redacted) reason."""
    note = f"security violation ({kind or 'unknown'}): a tool request was refused and the task stopped"
    if detail:
        note += f"; {detail}"
    return Termination(reason=TerminationReason.SECURITY_VIOLATION, status=TaskStatus.FAILED, result_status="failed",
                       partial=True, notify_admin=True, escalate=True, note=note[:1000])


def _progress_error(name: str, value: float) -> ValueError:
    return ValueError(f"{name} must be a finite number >= 0, got {value!r}")


def check_termination(
    *,
    step_count: int,
    elapsed_seconds: float,
    cost_usd: float,
    confidence: float | None,
    consecutive_errors: int,
    manual_stop: bool,
    limits: TaskLimits,
    confidence_threshold: float = CONFIDENCE_THRESHOLD,
    max_consecutive_errors: int = MAX_CONSECUTIVE_ERRORS,
    security_event: str = "",
    tokens: int = 0,
) -> Termination | None:
    """None to continue, else the `Termination` that applies (see the module docstring for precedence).

    `confidence` is the current root-cause confidence, None while there is no candidate answer;
    `security_event` the kind of a security rejection this task caused ("" when none); `tokens` the prompt and
    completion tokens its model calls used.
    """
    for name, value in (("step_count", step_count), ("elapsed_seconds", elapsed_seconds),
                        ("cost_usd", cost_usd), ("consecutive_errors", consecutive_errors), ("tokens", tokens)):
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) or value < 0:
            raise _progress_error(name, value)
    if confidence is not None and not (0.0 <= confidence <= 1.0):
        raise ValueError(f"confidence must be within [0, 1], got {confidence!r}")

    if security_event:
        return security_stop(security_event)
    if manual_stop:
        return Termination(reason=TerminationReason.MANUAL_STOP, status=TaskStatus.CANCELLED,
                           result_status="cancelled", partial=True, note="stopped by an operator")
    if confidence is not None and confidence >= confidence_threshold:
        return Termination(reason=TerminationReason.ROOT_CAUSE_IDENTIFIED, status=TaskStatus.COMPLETED,
                           result_status="completed")
    if cost_usd > 0 and cost_usd >= limits.budget_usd:  # nothing spent, nothing to stop: $0 means "rules only"
        return Termination(reason=TerminationReason.BUDGET_EXCEEDED, status=TaskStatus.COMPLETED,
                           result_status="stopped_by_budget", partial=True, notify_admin=True,
                           note=f"task cost ${cost_usd:.4f} reached its budget ${limits.budget_usd:.2f}")
    if tokens > 0 and limits.budget_tokens is not None and tokens >= limits.budget_tokens:
        return Termination(reason=TerminationReason.BUDGET_EXCEEDED, status=TaskStatus.COMPLETED,
                           result_status="stopped_by_budget", partial=True, notify_admin=True,
                           note=f"task used {tokens} tokens, its budget is {limits.budget_tokens}")
    if elapsed_seconds >= limits.timeout_seconds:
        return Termination(reason=TerminationReason.TIMEOUT, status=TaskStatus.TIMEOUT,
                           result_status="timeout", partial=True,
                           note=f"{elapsed_seconds:.0f}s elapsed, limit {limits.timeout_seconds:.0f}s")
    if consecutive_errors >= max_consecutive_errors:
        return Termination(reason=TerminationReason.TOO_MANY_ERRORS, status=TaskStatus.FAILED,
                           result_status="failed", partial=True, escalate=True,
                           note=f"{consecutive_errors} consecutive failed steps")
    if step_count >= limits.max_steps:
        return Termination(reason=TerminationReason.MAX_STEPS_REACHED, status=TaskStatus.COMPLETED,
                           result_status="completed_with_partial_results", partial=True,
                           note=f"step limit {limits.max_steps} reached; the diagnosis may be incomplete")
    return None
