"""The LLM as a planner of the one step loop: function calling over the read-only tools, ending in a validated result.

The loop (agents/steploop.py, in a worker or in memory) keeps the state in its table between steps:
`start()` → `Conversation`; while `conversation.phase` is `llm`, `turn()` makes one model call and returns
the new state, the steps and the `CostRecord` to publish, and the calls to dispatch; each call's result goes
through `conversation.record_tool_result()` (pure, idempotent); `termination()` is checked between turns.
See `agents.llm.conversation` for crash-resume.

How a diagnosis ends (`DiagnosticResult.termination_reason`):
- the model answers with valid JSON: `root_cause_identified` when its confidence >= 0.85, else
  `model_concluded` (a complete but less certain answer), or the termination that asked it to conclude;
- the step limit is reached: one last turn without tools asks the model to conclude from what it has
  (`max_steps_reached`, partial) - the evidence is paid for, so it is used;
- a malformed answer, or one whose evidence was not returned by this task's tool calls (agents.llm.grounding),
  is corrected once; a second one hands over to the rule engine (`llm_invalid_answer`);
- the endpoint fails (HTTP error, unreachable, after one retry; a timed-out call is not retried: the server
  may still be generating it): rule engine (`llm_unavailable`), as SRS §5.7.4 says for AI service errors;
- budget, timeout, too many errors, manual stop (SRS §5.9.4): rule engine, with that reason and status.
A rule-engine answer keeps the LLM's steps and token usage, and names why in an `llm_fallback` artifact.

Requests are shaped for the servers users run (OpenAI, vLLM, Ollama, llama.cpp, LiteLLM): `tool_choice: "auto"`
whenever tools are sent (llama.cpp's server ignores tools without it), an assistant turn that only calls tools
carries `content: ""` (llama.cpp and LM Studio refuse `null`, OpenAI and the others take ""), every call is
capped at `llm.max_tokens`, and tool schemas are simplified for grammar converters (agents.llm.tools).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Literal

import openai
from openai import AsyncOpenAI
from pydantic import BaseModel, ConfigDict, Field

from agents.llm.answer import AnswerError, LLMAnswer, parse_answer
from agents.llm.client import make_client
from agents.llm.conversation import (MAX_STEP_TEXT, Conversation, PendingCall, Phase, accept_tool_calls, close_round,
                                     step_id, unresolved)
from agents.llm.grounding import record_words, tool_outputs, ungrounded
from agents.llm.metrics import LLM_CALL_SECONDS, LLM_CALLS, LLM_COST, LLM_FALLBACKS, LLM_TOKENS
from agents.llm.pricing import cost_usd, price_for
from agents.llm.prompts import (Knowledge, RuleFindings, conclude_message, correction_message, findings_text,
                                initial_messages)
from agents.llm.tools import ToolSpec, builtin_specs, function_definitions
from agents.termination import CONFIDENCE_THRESHOLD, Termination, TerminationReason, check_termination
from schemas.audit import CostRecord
from schemas.base import utcnow
from schemas.result import DiagnosticResult, ProblemCategory, ResultArtifact, ResultSummary, RootCauseAnalysis
from schemas.settings import LLMSettings
from schemas.step import DiagnosticStep, StepInput, StepOutput, StepStatus, StepType, TokenUsage
from schemas.task import DiagnosticTask

log = logging.getLogger(__name__)

Fallback = Callable[[DiagnosticTask], Awaitable[DiagnosticResult]]


class EngineOptions(BaseModel):
    """Tuning with safe defaults (candidates for `LLMSettings` once they need configuring)."""

    model_config = ConfigDict(frozen=True)

    max_tool_output_chars: int = Field(default=12_000, ge=500)  # per call, as the model sees it
    # Retries of a call that failed before the model generated anything: connection refused or reset, 429, 5xx.
    # A call that timed out is never retried (the server may still be generating it: asking again pays twice).
    max_retries: int = Field(default=1, ge=0)
    retry_delay_seconds: float = Field(default=0.5, ge=0)  # doubled per retry; a 429's Retry-After wins (<= 10 s)
    temperature: float | None = 0.0
    confidence_threshold: float = CONFIDENCE_THRESHOLD
    min_call_timeout_seconds: float = 1.0


class TurnResult(BaseModel):
    """The outcome of one model call: the state to store, what to publish, and what to do next.

    action  tool_calls  run `calls`, feed each result to `record_tool_result`; `calls` may be empty when
                        every call was answered up front (bad arguments, step limit): the phase is `llm` again
            answer      phase `done`: the report is `engine.result_from_answer(conversation, answer)`
            retry       malformed answer, a correction was appended: call `turn` again
            invalid     the second malformed answer: `fallback_result(..., reason="llm_invalid_answer")`
            error       the endpoint failed: `fallback_result(..., reason="llm_unavailable")`
    """

    conversation: Conversation
    action: Literal["tool_calls", "answer", "retry", "invalid", "error"]
    steps: list[DiagnosticStep] = Field(default_factory=list)  # new steps, in step-number order
    cost: CostRecord | None = None
    calls: list[PendingCall] = Field(default_factory=list)  # to run (action tool_calls)
    answer: LLMAnswer | None = None
    error: str = ""


class LLMEngine:
    def __init__(self, settings: LLMSettings, *, client: AsyncOpenAI | None = None,
                 tools: list[ToolSpec] | None = None, options: EngineOptions | None = None,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.settings = settings
        self.options = options or EngineOptions()
        self.client = client or make_client(settings, max_retries=0)  # retries are ours: see `_create`
        self.tools = builtin_specs() if tools is None else tools
        self._defs_by_role: dict[str | None, list[dict[str, Any]]] = {}
        self.clock = clock

    def tool_definitions(self, role: str | None) -> list[dict[str, Any]]:
        """What the model is offered for a task running as `role` (cached: a handful of roles exist)."""
        if role not in self._defs_by_role:
            self._defs_by_role[role] = function_definitions(s for s in self.tools if s.offered_to(role))
        return self._defs_by_role[role]

    # ----------------------------------------------------------------------------- single steps

    def start(self, task: DiagnosticTask, *, model: str | None = None, findings: RuleFindings = None,
              knowledge: Knowledge = None, role: str | None = None) -> Conversation:
        return Conversation(task=task, model=model or self.settings.cheap_model, role=role,
                            messages=initial_messages(task, findings=findings, knowledge=knowledge),
                            findings=findings_text(findings), started_at=self.clock())

    def termination(self, conv: Conversation, *, manual_stop: bool = False) -> Termination | None:
        """SRS §5.9.4 for this conversation; the step limit does not stop the concluding turn."""
        term = check_termination(
            step_count=conv.tool_steps, elapsed_seconds=conv.elapsed_seconds(self.clock()),
            cost_usd=conv.usage.cost_usd, confidence=None, consecutive_errors=conv.consecutive_errors,
            manual_stop=manual_stop, limits=conv.task.limits, confidence_threshold=self.options.confidence_threshold,
            tokens=conv.usage.tokens)
        if term is not None and term.reason is TerminationReason.MAX_STEPS_REACHED and conv.concluding:
            return None
        return term

    def conclude(self, conv: Conversation, termination: Termination) -> Conversation:
        """Ask for a final answer without further tools (used at the step limit)."""
        return conv.model_copy(update={
            "tools_enabled": False, "concluding": termination.reason.value,
            "messages": conv.messages + [conclude_message(termination.note or termination.reason.value)],
        })

    async def turn(self, conv: Conversation) -> TurnResult:
        if conv.phase is not Phase.LLM:
            raise ValueError(f"task {conv.task_id}: turn() needs phase 'llm', the conversation is in {conv.phase.value!r}")
        number, ordinal, started = conv.next_step, conv.llm_calls + 1, self.clock()
        base = conv.model_copy(update={"next_step": number + 1, "llm_calls": ordinal})
        kwargs: dict[str, Any] = {"model": conv.model, "messages": conv.messages,
                                  self.settings.max_tokens_field: self.settings.max_tokens}
        defs = self.tool_definitions(conv.role) if conv.tools_enabled else []
        if defs:
            kwargs["tools"] = defs
            kwargs["tool_choice"] = "auto"
        if self.options.temperature is not None:
            kwargs["temperature"] = self.options.temperature
        try:
            with LLM_CALL_SECONDS.labels(conv.model).time():
                response = await self._create(conv, kwargs)
            if not isinstance(getattr(response, "choices", None), list):  # e.g. an HTML error page with status 200
                raise ValueError(f"the endpoint did not answer with a chat completion: {str(response)[:200]!r}")
        except Exception as exc:  # noqa: BLE001 - every failure of the endpoint means "fall back", never a crash
            error = f"{type(exc).__name__}: {exc}"
            LLM_CALLS.labels(conv.model, "error").inc()
            log.warning("LLM call failed: %s", error[:300], extra={"task_id": conv.task_id, "cluster_id": conv.task.cluster_id})
            step = self._llm_step(conv, number, started, StepStatus.FAILED, "", TokenUsage(model=conv.model), error)
            return TurnResult(conversation=base.model_copy(update={"steps": conv.steps + [step]}), action="error",
                              steps=[step], error=error)

        usage = self._usage(conv, response)
        cost = CostRecord(id=f"{conv.task_id}:{number}:{ordinal}", task_id=conv.task_id,
                          cluster_id=conv.task.cluster_id, priority=conv.task.priority.value, model=usage.model,
                          prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens,
                          cost_usd=usage.cost_usd, price_assumed=usage.price_assumed, at=self.clock())
        base = base.model_copy(update={"usage": conv.usage + usage})
        LLM_TOKENS.labels(conv.model, "prompt").inc(usage.prompt_tokens)
        LLM_TOKENS.labels(conv.model, "completion").inc(usage.completion_tokens)
        LLM_COST.labels(conv.model).inc(usage.cost_usd)
        message = response.choices[0].message if response.choices else None
        content = (message.content or "") if message else ""
        tool_calls = list(message.tool_calls or []) if message else []

        if tool_calls and conv.tools_enabled:
            calls, assistant = self._calls(tool_calls, content, number)
            step = self._llm_step(conv, number, started, StepStatus.COMPLETED, content or _requested(calls), usage)
            new, unrun = accept_tool_calls(base.model_copy(update={"steps": base.steps + [step]}), assistant, calls,
                                           conv.task.limits.max_steps, now=self.clock())
            LLM_CALLS.labels(conv.model, "tool_calls").inc()
            runnable = unresolved(new)
            if not runnable:
                new = close_round(new, self.options.max_tool_output_chars)
            return TurnResult(conversation=new, action="tool_calls", steps=[step] + unrun, cost=cost, calls=runnable)

        try:
            if tool_calls:
                raise AnswerError("function calls are no longer possible; answer with the JSON object")
            answer = parse_answer(content)
            problems = ungrounded(answer, record_words(tool_outputs(conv.messages), conv.findings))
            if problems:
                raise AnswerError("every evidence item must quote what this task's function results (or the rule "
                                  "engine's findings) showed, naming the object it came from; " + "; ".join(problems))
        except AnswerError as exc:
            LLM_CALLS.labels(conv.model, "invalid").inc()
            step = self._llm_step(conv, number, started, StepStatus.FAILED, content, usage, str(exc))
            invalid = conv.invalid_answers + 1
            new = base.model_copy(update={"steps": base.steps + [step], "invalid_answers": invalid})
            if invalid >= 2:
                return TurnResult(conversation=new.model_copy(update={"phase": Phase.DONE}), action="invalid",
                                  steps=[step], cost=cost, error=str(exc))
            retry = new.model_copy(update={"messages": new.messages + [
                {"role": "assistant", "content": content or ""}, correction_message(str(exc))]})
            return TurnResult(conversation=retry, action="retry", steps=[step], cost=cost, error=str(exc))

        LLM_CALLS.labels(conv.model, "answer").inc()
        step = self._llm_step(conv, number, started, StepStatus.COMPLETED, content, usage, summary=True)
        done = base.model_copy(update={"steps": base.steps + [step], "phase": Phase.DONE})
        return TurnResult(conversation=done, action="answer", steps=[step], cost=cost, answer=answer)

    def result_from_answer(self, conv: Conversation, answer: LLMAnswer) -> DiagnosticResult:
        if answer.confidence >= self.options.confidence_threshold:
            reason, status = TerminationReason.ROOT_CAUSE_IDENTIFIED.value, "completed"
        elif conv.concluding:
            reason, status = conv.concluding, "completed_with_partial_results"
        else:
            reason, status = "model_concluded", "completed"
        return DiagnosticResult(
            task_id=conv.task_id, cluster_id=conv.task.cluster_id, summary=answer.summary, root_cause=answer.root_cause,
            recommendations=answer.recommendations, confidence=answer.confidence, token_usage=conv.usage,
            steps=_ordered(conv.steps), engine="llm", termination_reason=reason, status=status,
            artifacts=self._price_notes(conv.usage))

    async def fallback_result(self, conv: Conversation, fallback: Fallback, *, reason: str,
                              termination: Termination | None = None, detail: str = "") -> DiagnosticResult:
        """The rule engine's answer, carrying the LLM's steps and usage. A failing fallback still gives
        a result (category unknown, saying why), so a task never ends without a report."""
        try:
            base = await fallback(conv.task)
        except Exception as exc:  # noqa: BLE001 - the task must still end with a report
            log.exception("rule-engine fallback failed", extra={"task_id": conv.task_id})
            base = DiagnosticResult(
                task_id=conv.task_id, cluster_id=conv.task.cluster_id, engine="rules",
                summary=ResultSummary(problem=f"diagnosis failed: the LLM stopped ({reason}) and the rule engine raised {exc!r}"),
                root_cause=RootCauseAnalysis(description="no engine could complete the diagnosis",
                                             category=ProblemCategory.UNKNOWN))
        offset = conv.next_step - 1
        steps = [s.model_copy(update={"step_number": s.step_number + offset, "task_id": conv.task_id,
                                      "id": step_id(conv.task_id, s.step_number + offset)}) for s in base.steps]
        why = reason + (f": {detail}" if detail else "")
        LLM_FALLBACKS.labels(reason).inc()
        return base.model_copy(update={
            "task_id": conv.task_id, "cluster_id": conv.task.cluster_id, "steps": _ordered(conv.steps) + steps,
            "token_usage": conv.usage + base.token_usage, "termination_reason": reason,
            "status": termination.result_status if termination else base.status,
            "artifacts": base.artifacts + [ResultArtifact(name="llm_fallback", content=why[:2000])]
            + self._price_notes(conv.usage),
        })

    def _price_notes(self, usage: TokenUsage) -> list[ResultArtifact]:
        """A report whose cost was (partly) charged at `llm.assumed_price` says so: its dollars are an estimate."""
        if not usage.price_assumed or self.settings.assumed_price is None:
            return []
        per_in, per_out = self.settings.assumed_price
        return [ResultArtifact(name="price_assumed", content=(
            f"price assumed: model {usage.model or '(unknown)'} is not in llm.prices and was charged the configured "
            f"llm.assumed_price (${per_in}/${per_out} per 1M input/output tokens); the cost is an estimate"))]

    # ----------------------------------------------------------------------------- helpers

    def _call_timeout(self, conv: Conversation) -> float:
        left = conv.task.limits.timeout_seconds - conv.elapsed_seconds(self.clock())
        return max(self.options.min_call_timeout_seconds, min(self.settings.timeout_seconds, left))

    async def _create(self, conv: Conversation, kwargs: dict[str, Any]) -> Any:
        """One chat completion within the call timeout (the client's and a wall clock: a server that trickles
        bytes must not hold the task). Retried only when the model cannot have generated anything yet."""
        for attempt in range(self.options.max_retries + 1):
            timeout = self._call_timeout(conv)
            try:
                return await asyncio.wait_for(self.client.chat.completions.create(**kwargs, timeout=timeout),
                                              timeout + 1.0)
            except (openai.APITimeoutError, asyncio.TimeoutError):
                raise TimeoutError(f"no answer within {timeout:.1f}s (not retried: the server may still be "
                                   "generating it)") from None
            except (openai.APIConnectionError, openai.RateLimitError, openai.InternalServerError) as exc:
                delay = self._retry_delay(exc, attempt)
                left = conv.task.limits.timeout_seconds - conv.elapsed_seconds(self.clock())
                if attempt >= self.options.max_retries or delay + self.options.min_call_timeout_seconds > left:
                    raise
                log.info("LLM call failed before generating (%s); retrying in %.1fs", type(exc).__name__, delay,
                         extra={"task_id": conv.task_id})
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def _retry_delay(self, exc: Exception, attempt: int) -> float:
        delay = self.options.retry_delay_seconds * (2 ** attempt)
        response = getattr(exc, "response", None)
        after = response.headers.get("retry-after") if response is not None else None
        try:
            return min(10.0, max(delay, float(after))) if after else delay
        except ValueError:  # an HTTP date: not worth parsing for one retry
            return delay

    def _usage(self, conv: Conversation, response: Any) -> TokenUsage:
        u = getattr(response, "usage", None)
        prompt = int(getattr(u, "prompt_tokens", 0) or 0)
        completion = int(getattr(u, "completion_tokens", 0) or 0)
        price = price_for(self.settings.prices, conv.model, getattr(response, "model", "") or "",
                          assumed=self.settings.assumed_price)
        return TokenUsage(model=conv.model, prompt_tokens=prompt, completion_tokens=completion,
                          cost_usd=cost_usd(price, prompt, completion), price_assumed=price.assumed)

    def _calls(self, tool_calls: list[Any], content: str, first_step: int) -> tuple[list[PendingCall], dict[str, Any]]:
        calls, wire = [], []
        for i, tc in enumerate(tool_calls, start=1):
            number = first_step + i
            call_id = getattr(tc, "id", None) or f"call_{number}"
            fn = getattr(tc, "function", None)
            name = getattr(fn, "name", "") or ""
            raw = getattr(fn, "arguments", "") or ""
            not_run, params = "", {}
            if fn is None:
                not_run = "only function calls are supported"
            else:
                try:
                    parsed = json.loads(raw) if raw.strip() else {}
                    if isinstance(parsed, dict):
                        params = parsed
                    else:
                        not_run = "arguments must be a JSON object"
                except json.JSONDecodeError as exc:
                    not_run = f"arguments are not valid JSON: {exc.msg}"
            calls.append(PendingCall(step_number=number, call_id=call_id, tool_id=name or "(none)", parameters=params,
                                     reason=content[:MAX_STEP_TEXT], not_run=not_run))
            wire.append({"id": call_id, "type": "function", "function": {"name": name, "arguments": raw}})
        return calls, {"role": "assistant", "content": content, "tool_calls": wire}  # "", never null: see above

    def _llm_step(self, conv: Conversation, number: int, started: datetime, status: StepStatus, text: str,
                  usage: TokenUsage, error: str = "", *, summary: bool = False) -> DiagnosticStep:
        now = self.clock()
        return DiagnosticStep(
            id=step_id(conv.task_id, number), task_id=conv.task_id, step_number=number,
            type=StepType.SUMMARY if summary else StepType.ANALYSIS, tool_id="llm",
            input=StepInput(command="chat.completions", parameters={"model": conv.model, "tools": conv.tools_enabled},
                            context=f"{len(conv.messages)} messages"),
            output=StepOutput(exit_code=1 if status is StepStatus.FAILED else 0, analysis=text[:MAX_STEP_TEXT],
                              stderr=error[:MAX_STEP_TEXT]),
            status=status, started_at=started, completed_at=now,
            duration_ms=max(0.0, (now - started).total_seconds() * 1000), reasoning=text[:MAX_STEP_TEXT],
            token_usage=usage)


def _ordered(steps: list[DiagnosticStep]) -> list[DiagnosticStep]:
    """Steps by number (a round's skipped calls are recorded before the executed ones finish)."""
    return sorted(steps, key=lambda s: s.step_number)


def _requested(calls: list[PendingCall]) -> str:
    return "requested: " + ", ".join(f"{c.tool_id}({json.dumps(c.parameters, sort_keys=True)})" for c in calls)
