"""`DiagnosticStep` (SRS §6.2) and the step-loop events on the steps topic, keyed by task_id."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel, Field

from schemas.base import Record, utcnow


class StepType(str, Enum):
    ANALYSIS = "analysis"
    EXECUTION = "execution"
    VALIDATION = "validation"
    SUMMARY = "summary"


class StepStatus(str, Enum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    SKIPPED = "skipped"


class TokenUsage(BaseModel):
    model: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    price_assumed: bool = False  # some of it was charged at `llm.assumed_price`: the dollars are an estimate

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: "TokenUsage") -> "TokenUsage":
        return TokenUsage(
            model=self.model or other.model,
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            cost_usd=round(self.cost_usd + other.cost_usd, 6),
            price_assumed=self.price_assumed or other.price_assumed,
        )


class StepInput(BaseModel):
    command: str = ""  # the tool id
    parameters: dict[str, Any] = Field(default_factory=dict)
    context: str = ""


class StepOutput(BaseModel):
    exit_code: int = 0
    stdout: str = ""
    stderr: str = ""
    analysis: str = ""
    truncated: bool = False
    security_event: str = ""  # set when the gateway refused the call as a security event (SRS §5.8.5)


class DiagnosticStep(BaseModel):
    id: str  # f"{task_id}:{step_number}" - deterministic, so a redelivered step is recognised
    task_id: str
    step_number: int = Field(ge=1)
    type: StepType = StepType.EXECUTION
    tool_id: str = ""
    input: StepInput = Field(default_factory=StepInput)
    output: StepOutput | None = None
    status: StepStatus = StepStatus.PENDING
    started_at: datetime = Field(default_factory=utcnow)
    completed_at: datetime | None = None
    duration_ms: float = 0.0
    reasoning: str = ""
    token_usage: TokenUsage = Field(default_factory=TokenUsage)


class StepEvent(Record):
    """One event of the step loop. `kind` says what happened; the loop reacts to each."""

    kind: Literal["requested", "completed"]
    task_id: str
    step_number: int = Field(ge=1)
    step: DiagnosticStep
    emitted_at: datetime = Field(default_factory=utcnow)
