"""The model's final answer: JSON text → a validated `LLMAnswer`, or an error message it can act on.

Models wrap JSON in code fences or a sentence despite instructions; the outermost `{...}` is taken,
but everything inside must validate against the same pydantic models the rule engine produces
(`root_cause.category` must be a `ProblemCategory`).
"""

from __future__ import annotations

import json
import re

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from schemas.result import Recommendation, ResultSummary, RootCauseAnalysis

_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.S)


class LLMAnswer(BaseModel):
    """The part of a `DiagnosticResult` the model writes; the engine adds task, steps, usage."""

    model_config = ConfigDict(extra="ignore")

    summary: ResultSummary
    root_cause: RootCauseAnalysis
    recommendations: list[Recommendation] = Field(default_factory=list)
    confidence: float = Field(ge=0.0, le=1.0)


class AnswerError(ValueError):
    """The reply is not a valid answer; the message is written to be sent back to the model."""


def parse_answer(text: str | None) -> LLMAnswer:
    if not text or not text.strip():
        raise AnswerError("the reply was empty")
    body = text.strip()
    fenced = _FENCE.match(body)
    if fenced:
        body = fenced.group(1)
    start, end = body.find("{"), body.rfind("}")
    if start < 0 or end <= start:
        raise AnswerError("the reply contains no JSON object")
    try:
        data = json.loads(body[start:end + 1])
    except json.JSONDecodeError as exc:
        raise AnswerError(f"the JSON does not parse: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    if not isinstance(data, dict):
        raise AnswerError("the JSON is not an object")
    try:
        return LLMAnswer.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in exc.errors()[:8])
        raise AnswerError(f"the JSON does not match the answer schema: {problems}") from None
