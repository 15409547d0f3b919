"""`DiagnosticResult` (SRS §6.4): what a diagnosis concludes, with the evidence for it."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

from pydantic import BaseModel, Field

from schemas.base import Record, utcnow
from schemas.step import DiagnosticStep, TokenUsage


class ProblemCategory(str, Enum):
    OOM_KILLED = "oom_killed"
    APPLICATION_CRASH = "application_crash"
    MISSING_CONFIG = "missing_config"
    IMAGE_PULL_FAILURE = "image_pull_failure"
    INVALID_COMMAND = "invalid_command"
    SECURITY_CONTEXT_VIOLATION = "security_context_violation"
    INSUFFICIENT_RESOURCES = "insufficient_resources"
    SCHEDULING_CONSTRAINT = "scheduling_constraint"
    QUOTA_EXCEEDED = "quota_exceeded"
    VOLUME_MOUNT_FAILURE = "volume_mount_failure"
    NODE_NOT_READY = "node_not_ready"
    NODE_PRESSURE_EVICTION = "node_pressure_eviction"
    LIVENESS_PROBE_FAILURE = "liveness_probe_failure"
    READINESS_PROBE_FAILURE = "readiness_probe_failure"
    SERVICE_SELECTOR_MISMATCH = "service_selector_mismatch"
    DEPENDENCY_FAILURE = "dependency_failure"
    DNS_FAILURE = "dns_failure"
    AUTOSCALER_AT_MAX = "autoscaler_at_max"
    ADMISSION_WEBHOOK_FAILURE = "admission_webhook_failure"
    UNKNOWN = "unknown"


class Severity(str, Enum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class RiskLevel(str, Enum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class Evidence(BaseModel):
    """One observed fact and where it came from, e.g. source='pod/payment-7d9/status', detail='exitCode=137'."""

    source: str
    detail: str
    kind: str = "field"  # field | event | log | metric | knowledge


class TimelineEvent(BaseModel):
    at: datetime | None = None
    event: str


class CausalLink(BaseModel):
    """One hop of the causal chain, alerted resource first, deepest cause last: e.g. resource='service/db/pg',
    finding='Service db/pg has 0 ready endpoints', with the evidence for that hop."""

    resource: str
    finding: str
    evidence: list[Evidence] = Field(default_factory=list)


class RootCauseAnalysis(BaseModel):
    description: str
    category: ProblemCategory
    severity: Severity = Severity.MEDIUM
    evidence: list[Evidence] = Field(default_factory=list)
    timeline: list[TimelineEvent] = Field(default_factory=list)
    causal_chain: list[CausalLink] = Field(default_factory=list)  # the last link is the root cause


class Recommendation(BaseModel):
    priority: int = Field(default=1, ge=1, le=5)  # 1 first
    action: str
    description: str = ""
    command: str = ""  # the exact fix as text; Aetherius never runs it
    risk: RiskLevel = RiskLevel.LOW


class ResultSummary(BaseModel):
    problem: str
    impact: str = ""
    resolution: str = ""
    prevention: str = ""


class ResultArtifact(BaseModel):
    name: str
    content: str


class DiagnosticResult(Record):
    task_id: str
    cluster_id: str = ""
    summary: ResultSummary
    root_cause: RootCauseAnalysis | None = None
    recommendations: list[Recommendation] = Field(default_factory=list)
    artifacts: list[ResultArtifact] = Field(default_factory=list)
    confidence: float = Field(default=0.0, ge=0.0, le=1.0)
    token_usage: TokenUsage = Field(default_factory=TokenUsage)
    steps: list[DiagnosticStep] = Field(default_factory=list)
    engine: str = "rules"  # rules | llm | knowledge
    termination_reason: str = ""
    status: str = "completed"
    generated_at: datetime = Field(default_factory=utcnow)

    @classmethod
    def without_diagnosis(cls, task_id: str, cluster_id: str, *, status: str, reason: str, note: str,
                          ended_by: str = "") -> "DiagnosticResult":
        """The final report of a task that ended before (or without) a diagnosis - cancelled or resolved while
        queued, shed, released after holding a slot without progress - so every channel and the history
        show every task's end. `ended_by`: who or what ended it."""
        artifacts = [ResultArtifact(name="termination", content=f"{reason}: ended by {ended_by}")] if ended_by else []
        return cls(task_id=task_id, cluster_id=cluster_id, summary=ResultSummary(problem=note[:1000]),
                   status=status, termination_reason=reason, artifacts=artifacts)

    @property
    def report_id(self) -> str:
        """One report per task: the task id is the report id, so sinks can be idempotent on it."""
        return self.task_id
