"""`DiagnosticTask` (SRS §6.1) and its lifecycle."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel, Field

from schemas.base import Record, utcnow
from schemas.requester import Requester
from schemas.signal import Priority


class TaskStatus(str, Enum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMEOUT = "timeout"

    @property
    def terminal(self) -> bool:
        return self not in (TaskStatus.PENDING, TaskStatus.RUNNING)


class ResourceInfo(BaseModel):
    kind: str = ""
    name: str = ""
    namespace: str = ""


class TaskContext(BaseModel):
    """What the task was created from; the step loop reads it, never the raw alert."""

    alertname: str = ""
    severity: str = "warning"
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    signal_fingerprints: list[str] = Field(default_factory=list)
    incident_id: str | None = None
    clusters: list[str] = Field(default_factory=list)  # cross-cluster tasks: every member cluster
    knowledge_ids: list[str] = Field(default_factory=list)


class TaskLimits(BaseModel):
    max_steps: int = Field(default=10, ge=1, le=20)
    timeout_seconds: float = Field(default=600.0, gt=0)
    budget_usd: float = Field(default=0.50, ge=0)
    # Tokens the task's model calls may use (prompt + completion); None: the worker's `tasks.budget_tokens`,
    # filled in at admission.
    budget_tokens: int | None = Field(default=None, ge=0)


class DiagnosticTask(Record):
    id: str
    alert_id: str = ""  # the signal fingerprint that created it
    cluster_id: str
    namespace: str = "default"
    resource: ResourceInfo = Field(default_factory=ResourceInfo)
    priority: Priority
    status: TaskStatus = TaskStatus.PENDING
    created_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    completed_at: datetime | None = None
    context: TaskContext = Field(default_factory=TaskContext)
    limits: TaskLimits = Field(default_factory=TaskLimits)
    status_reason: str = ""
    metadata: dict[str, Any] = Field(default_factory=dict)
    # Who asked (manual requests): its role is the role every tool call of the task runs with; None for alert-
    # and event-triggered tasks, which run with `tasks.service_role`. See schemas/requester.py (dedup: the first).
    requested_by: Requester | None = None


class TaskCommand(Record):
    """A request to change a task from outside the pipeline (cancel now; more verbs later)."""

    task_id: str
    action: str = "cancel"
    requested_by: str = "api"
    reason: str = ""
    requested_at: datetime = Field(default_factory=utcnow)


class SchedulerCommand(Record):
    """Everything that changes the scheduler's queue, on the single-partition task.queue topic."""

    # tick: re-check admission (rate windows) and running slots; started: the step loop took the task
    action: Literal["enqueue", "finish", "cancel", "resolve", "tick", "started"]
    task: DiagnosticTask | None = None  # enqueue
    task_id: str = ""  # finish, cancel
    fingerprint: str = ""  # resolve: cancel pending tasks created for this signal
    reason: str = ""
    requested_by: str = "pipeline"
    at: datetime = Field(default_factory=utcnow)


class IncidentMembership(Record):
    """A task joined a cross-cluster incident after it was created: its alert fired in one cluster first and got a
    task at once (P0 cannot wait), and the incident formed when enough other clusters followed. Sent by the
    correlation agent on task.annotations; the task view merges it into the task (streams.correlation.with_incident)."""

    kind: Literal["incident_member"] = "incident_member"
    task_id: str
    incident_id: str
    clusters: list[str]
    at: datetime = Field(default_factory=utcnow)


class TaskStatusChange(Record):
    """A status change for a task the sender holds no snapshot of (the scheduler sheds or cancels by id).

    The task view applies it only when the transition is legal."""

    kind: Literal["status_change"] = "status_change"
    task_id: str
    status: TaskStatus
    reason: str = ""
    changed_by: str = "scheduler"
    at: datetime = Field(default_factory=utcnow)
