"""The console's read model: the newest tasks, their steps and reports, and the incidents, from the topics.

Pure: records in (`apply(topic, partition, offset, value)`), views out; no I/O, no clock. Every change bumps
`version` and is kept in a bounded log, so a live stream (SSE) asks `changes_since(v)` after a wake-up and a
browser that reconnects with `Last-Event-ID` misses nothing that is still in the log.

Memory stays bounded: the newest `max_tasks` tasks (by creation) with a summary of each step; a step's full
output stays on the steps topic and is read from there, by its position, when someone asks for it. Text that
reaches a page passes the one redaction module here, once, as it enters (it was redacted upstream already;
redaction is idempotent, and the console is a way out, so it does not rely on that).
"""

from __future__ import annotations

import json
import logging
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Iterable

from pydantic import ValidationError

from agents.redaction import redact_obj, redact_text  # the one redaction (moving to shared infrastructure)
from schemas.result import DiagnosticResult
from schemas.signal import CorrelatedIncident
from schemas.step import StepEvent
from schemas.task import DiagnosticTask, TaskStatus, TaskStatusChange

log = logging.getLogger(__name__)

TOPICS = ("task.state", "steps", "reports", "incidents")
SUMMARY_CHARS = 300
CHANGE_LOG = 50_000

# Where a status may go: ended tasks stay ended, running never goes back to pending. (The task view refuses the
# same transitions; the console applies the snapshots the view accepted, in order, so this only guards replays.)
_STAGE = {TaskStatus.PENDING: 0, TaskStatus.RUNNING: 1}


def _stage(status: TaskStatus) -> int:
    return _STAGE.get(status, 2)


@dataclass
class StepView:
    number: int
    tool: str
    parameters: dict[str, Any]
    status: str
    started_at: datetime
    duration_ms: float = 0.0
    summary: str = ""
    exit_code: int | None = None
    reasoning: str = ""
    security_event: str = ""
    cost_usd: float = 0.0
    model: str = ""
    output_at: tuple[str, int, int] | None = None  # (topic, partition, offset) of the completed event


@dataclass
class TaskView:
    task: DiagnosticTask
    version: int = 0
    steps: dict[int, StepView] = field(default_factory=dict)
    report: DiagnosticResult | None = None  # without its steps and artifacts (those live on the topic)

    @property
    def id(self) -> str:
        return self.task.id

    @property
    def cost_usd(self) -> float:
        if self.report is not None and self.report.token_usage.cost_usd:
            return self.report.token_usage.cost_usd
        return round(sum(s.cost_usd for s in self.steps.values()), 6)

    @property
    def category(self) -> str:
        return self.report.root_cause.category.value if self.report and self.report.root_cause else ""


@dataclass(frozen=True)
class Change:
    version: int
    kind: str  # task | step | report | incident
    key: str  # task id (incident id for incidents)
    detail: int = 0  # the step number of a step change


@dataclass(frozen=True)
class TaskFilter:
    status: str | None = None
    priority: str | None = None
    cluster: str | None = None
    namespace: str | None = None
    category: str | None = None

    def matches(self, view: TaskView) -> bool:
        t = view.task
        return ((self.status is None or t.status.value == self.status)
                and (self.priority is None or t.priority.value == self.priority)
                and (self.cluster is None or t.cluster_id == self.cluster or self.cluster in t.context.clusters)
                and (self.namespace is None or t.namespace == self.namespace)
                and (self.category is None or view.category == self.category
                     or (self.category == "none" and not view.category)))


def _summary(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SUMMARY_CHARS else text[:SUMMARY_CHARS - 1] + "…"


def redact_task(task: DiagnosticTask) -> DiagnosticTask:
    """Alert text is attacker-controlled and may carry secrets: labels, annotations and reasons redacted."""
    ctx = task.context.model_copy(update={"labels": redact_obj(task.context.labels),
                                          "annotations": redact_obj(task.context.annotations)})
    return task.model_copy(update={"context": ctx, "status_reason": redact_text(task.status_reason),
                                   "metadata": redact_obj(task.metadata)})


def step_view(event: StepEvent, where: tuple[str, int, int] | None) -> StepView:
    s = event.step
    out = s.output
    summary = ""  # what the step found, in a line: the analysis, an error, else why it ran; the output on demand
    if out is not None:
        summary = out.analysis or (out.stderr if out.exit_code else "") or s.reasoning or out.stdout[:160]
    return StepView(
        number=event.step_number, tool=s.tool_id or s.input.command, parameters=redact_obj(s.input.parameters),
        status=s.status.value, started_at=s.started_at, duration_ms=s.duration_ms,
        summary=_summary(redact_text(summary)), exit_code=out.exit_code if out is not None else None,
        reasoning=_summary(redact_text(s.reasoning)), security_event=out.security_event if out else "",
        cost_usd=s.token_usage.cost_usd, model=s.token_usage.model,
        output_at=where if event.kind == "completed" and out is not None else None)


def trim_report(result: DiagnosticResult) -> DiagnosticResult:
    """What the report section shows, redacted; the steps (with outputs) are shown from the steps topic."""
    body = result.model_dump(mode="json", exclude={"steps", "artifacts"})
    for text in ("summary", "root_cause", "recommendations", "termination_reason"):  # not token_usage's numbers
        body[text] = redact_obj(body[text])
    return DiagnosticResult.model_validate(body)


class Board:
    def __init__(self, max_tasks: int = 20_000, change_log: int = CHANGE_LOG) -> None:
        self.max_tasks = max_tasks
        self.tasks: dict[str, TaskView] = {}
        self.incidents: dict[str, CorrelatedIncident] = {}
        self._orphans: dict[str, TaskView] = {}  # steps or a report that came before the task's snapshot
        self.version = 0
        self.log: deque[Change] = deque(maxlen=change_log)
        self.listeners: list[Callable[[], None]] = []
        self.skipped = 0  # records that did not parse

    # ---------------------------------------------------------------- feeding

    def apply(self, topic: str, partition: int, offset: int, value: bytes | None) -> list[Change]:
        """One record of one of TOPICS (the name without the prefix). A record that does not parse is counted
        and skipped: one bad record must not stop the console's view of everything else."""
        if value is None:
            return []
        try:
            if topic == "task.state":
                changes = self._task_state(value)
            elif topic == "steps":
                changes = self._step(StepEvent.from_bytes(value), (topic, partition, offset))
            elif topic == "reports":
                changes = self._report(DiagnosticResult.from_bytes(value))
            elif topic == "incidents":
                incident = CorrelatedIncident.from_bytes(value)
                self.incidents[incident.incident_id] = incident
                changes = [self._bump("incident", incident.incident_id)]
            else:
                return []
        except (ValidationError, ValueError) as exc:
            self.skipped += 1
            log.warning("console skipped a %s record at %d/%d: %s", topic, partition, offset, str(exc)[:200])
            return []
        if changes:
            for listener in self.listeners:
                listener()
        return changes

    def _bump(self, kind: str, key: str, detail: int = 0) -> Change:
        self.version += 1
        change = Change(self.version, kind, key, detail)
        self.log.append(change)
        return change

    def _task_state(self, raw: bytes) -> list[Change]:
        body = json.loads(raw)
        if isinstance(body, dict) and body.get("kind") == "status_change":
            change = TaskStatusChange.model_validate(body)
            view = self.tasks.get(change.task_id)
            if view is None or _stage(change.status) <= _stage(view.task.status):
                return []
            new = view.task.model_copy(update={"status": change.status,
                                               "status_reason": redact_text(change.reason)})
        elif isinstance(body, dict) and body.get("kind") == "incident_member":
            return []  # the task view republishes the joined snapshot on this topic
        else:
            new = redact_task(DiagnosticTask.model_validate(body))
            view = self.tasks.get(new.id)
            if view is not None:
                old = view.task
                if _stage(new.status) < _stage(old.status) or (old.status.terminal and new.status != old.status):
                    return []  # an older snapshot, replayed or from a stale producer
                if old.context.incident_id and not new.context.incident_id:  # keep the incident it joined
                    new = new.model_copy(update={"context": new.context.model_copy(update={
                        "incident_id": old.context.incident_id, "clusters": old.context.clusters})})
        if view is None:
            view = self._orphans.pop(new.id, None) or TaskView(task=new)
            self.tasks[new.id] = view
        view.task = new
        change = self._bump("task", new.id)
        view.version = change.version
        self._evict()
        return [change]

    def _holder(self, task_id: str) -> TaskView | None:
        view = self.tasks.get(task_id) or self._orphans.get(task_id)
        if view is None and len(self._orphans) < self.max_tasks:
            view = self._orphans[task_id] = TaskView(task=DiagnosticTask(id=task_id, cluster_id="", priority="P3"))
        return view

    def _step(self, event: StepEvent, where: tuple[str, int, int]) -> list[Change]:
        view = self._holder(event.task_id)
        if view is None:
            return []
        current = view.steps.get(event.step_number)
        if current is not None and current.output_at is not None and event.kind == "requested":
            return []  # a redelivered request after its completion
        view.steps[event.step_number] = step_view(event, where)
        change = self._bump("step", event.task_id, event.step_number)
        if event.task_id in self.tasks:
            view.version = change.version
        return [change]

    def _report(self, result: DiagnosticResult) -> list[Change]:
        view = self._holder(result.task_id)
        if view is None:
            return []
        view.report = trim_report(result)
        change = self._bump("report", result.task_id)
        if result.task_id in self.tasks:
            view.version = change.version
        return [change]

    def _evict(self) -> None:
        """Past max_tasks (+10 %), forget the oldest tasks that ended (then the oldest at all) down to max_tasks."""
        if len(self.tasks) <= self.max_tasks * 1.1:
            return
        order = sorted(self.tasks.values(), key=lambda v: (not v.task.status.terminal, v.task.created_at))
        for view in order[:len(self.tasks) - self.max_tasks]:
            del self.tasks[view.id]
        self._orphans.clear()

    # ---------------------------------------------------------------- reading

    def listing(self, flt: TaskFilter, limit: int = 100, offset: int = 0) -> tuple[list[TaskView], int]:
        """Matching tasks, newest first, one page; and how many match."""
        found = [v for v in self.tasks.values() if flt.matches(v)]
        found.sort(key=lambda v: (v.task.created_at, v.id), reverse=True)
        return found[offset:offset + limit], len(found)

    def values(self, attribute: str) -> list[str]:
        """The values the filters can take, from the tasks known (clusters, namespaces, categories)."""
        if attribute == "cluster":
            return sorted({c for v in self.tasks.values() for c in [v.task.cluster_id, *v.task.context.clusters]})
        if attribute == "namespace":
            return sorted({v.task.namespace for v in self.tasks.values()})
        if attribute == "category":
            return sorted({v.category for v in self.tasks.values() if v.category})
        raise KeyError(attribute)

    def incident_members(self, incident_id: str) -> list[TaskView]:
        return sorted((v for v in self.tasks.values() if v.task.context.incident_id == incident_id),
                      key=lambda v: v.task.cluster_id)

    def incident_list(self) -> list[CorrelatedIncident]:
        return sorted(self.incidents.values(), key=lambda i: i.detected_at, reverse=True)

    def changes_since(self, version: int) -> list[Change] | None:
        """Every change after `version`, oldest first; None when the log no longer reaches back that far."""
        if version >= self.version:
            return []
        if not self.log or self.log[0].version > version + 1:
            return None
        out: list[Change] = []
        for change in reversed(self.log):
            if change.version <= version:
                break
            out.append(change)
        out.reverse()
        return out


def latest(changes: Iterable[Change]) -> list[Change]:
    """One change per (kind, key, detail), the newest: a stream re-renders each thing once per wake-up."""
    seen: dict[tuple[str, str, int], Change] = {}
    for change in changes:
        seen[(change.kind, change.key, change.detail)] = change
    return sorted(seen.values(), key=lambda c: c.version)
