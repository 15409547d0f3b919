"""Pure mapping from topic records to ClickHouse rows: schemas models in, `{table: [row dict]}` out.

No I/O here. Every row carries the record's deterministic identity in the table's sorting key, so a
redelivered record becomes a duplicate row that ReplacingMergeTree (and FINAL in queries) collapses.
Free text passes through the one redaction module before it is stored (no secret lands in ClickHouse).
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from typing import Any, Callable

from pydantic import BaseModel

from agents.redaction import redact_obj, redact_text
from schemas.audit import AuditEvent, CostRecord
from schemas.deadletter import DeadLetter
from schemas.feedback import UserFeedback
from schemas.result import DiagnosticResult
from schemas.step import StepEvent
from schemas.task import DiagnosticTask, TaskStatus, TaskStatusChange

Rows = dict[str, list[dict[str, Any]]]

# Column order per table, as inserted (every DDL column but the DEFAULT `inserted_at`).
COLUMNS: dict[str, tuple[str, ...]] = {
    "tasks": ("task_id", "status", "event_time", "created_at", "started_at", "completed_at", "duration_seconds",
              "alert_id", "cluster_id", "namespace", "resource_kind", "resource_name", "priority", "alertname",
              "severity", "incident_id", "status_reason", "max_steps", "timeout_seconds", "budget_usd",
              "requested_by", "requester_role"),
    "steps": ("task_id", "step_number", "kind", "step_type", "tool_id", "status", "started_at", "completed_at",
              "duration_ms", "exit_code", "truncated", "model", "prompt_tokens", "completion_tokens", "cost_usd",
              "emitted_at"),
    "reports": ("task_id", "cluster_id", "category", "severity", "confidence", "engine", "status",
                "termination_reason", "problem", "root_cause", "duration_seconds", "steps_count", "recommendations",
                "model", "prompt_tokens", "completion_tokens", "cost_usd", "generated_at"),
    "costs": ("id", "task_id", "cluster_id", "priority", "model", "task_type", "prompt_tokens", "completion_tokens",
              "cost_usd", "at"),
    "feedback": ("id", "task_id", "user_id", "rating", "helpful", "comments", "corrections", "status", "timestamp"),
    "knowledge_changes": ("id", "at", "entry_id", "change", "actor", "version", "confidence_before",
                          "confidence_after", "enabled", "reason"),
    "audit": ("id", "at", "actor", "role", "action", "resource", "cluster_id", "result", "reason", "duration_ms",
              "source_ip", "details"),
    "alerts_dropped": ("id", "at", "kind", "source", "cluster_id", "namespace", "priority", "alertname", "reason"),
    "deadletters": ("id", "at", "source_topic", "stage", "error", "partition", "offset", "value_bytes"),
}

# Audit actions that mean "an alert or task was dropped instead of diagnosed".
SHED_ACTIONS = frozenset({"task.shed", "alert.shed", "signal.shed"})
REJECT_PREFIXES = ("webhook.", "alert.", "signal.")
_U32 = 2**32 - 1
_TEXT_MAX = 4000


def utc(value: datetime | None) -> datetime | None:
    """Aware UTC; a naive datetime (pydantic accepts them from JSON) is taken to be UTC already."""
    if value is None:
        return None
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def _text(value: str, limit: int = _TEXT_MAX) -> str:
    return redact_text(value)[:limit] if value else ""


def _u32(value: int) -> int:
    return max(0, min(int(value), _U32))


def _u16(value: int) -> int:
    return max(0, min(int(value), 65535))


# ---------------------------------------------------------------------------------------------- tasks

def task_row(task: DiagnosticTask) -> dict[str, Any]:
    created, started, completed = utc(task.created_at), utc(task.started_at), utc(task.completed_at)
    if task.status.terminal:
        event_time = completed or started or created
    else:
        event_time = started or created if task.status is TaskStatus.RUNNING else created
    duration = (completed - started).total_seconds() if started and completed else None
    return {
        "task_id": task.id, "status": task.status.value, "event_time": event_time, "created_at": created,
        "started_at": started, "completed_at": completed, "duration_seconds": duration, "alert_id": task.alert_id,
        "cluster_id": task.cluster_id, "namespace": task.namespace, "resource_kind": task.resource.kind,
        "resource_name": task.resource.name, "priority": task.priority.value, "alertname": task.context.alertname,
        "severity": task.context.severity, "incident_id": task.context.incident_id or "",
        "status_reason": _text(task.status_reason), "max_steps": min(task.limits.max_steps, 255),
        "timeout_seconds": float(task.limits.timeout_seconds), "budget_usd": float(task.limits.budget_usd),
        "requested_by": task.requested_by.subject if task.requested_by else "",
        "requester_role": task.requested_by.role if task.requested_by else "",
    }


def status_change_row(change: TaskStatusChange, base: dict[str, Any] | None) -> dict[str, Any]:
    """A status change applied to the task's last known row (`base`); without one, what the change itself says.

    The scheduler sheds and cancels tasks by id, so the change carries no cluster or creation time: the sink
    looks the task up (in the same batch first, then in the store) and passes that row as `base`.
    """
    at = utc(change.at)
    row = dict(base) if base else {
        "task_id": change.task_id, "created_at": at, "started_at": None, "alert_id": "", "cluster_id": "",
        "namespace": "", "resource_kind": "", "resource_name": "", "priority": "", "alertname": "", "severity": "",
        "incident_id": "", "max_steps": 0, "timeout_seconds": 0.0, "budget_usd": 0.0,
        "requested_by": "", "requester_role": "",
    }
    terminal = change.status.terminal
    started = utc(row.get("started_at"))  # rows read back from the store carry naive UTC datetimes
    row.update({k: utc(row.get(k)) for k in ("created_at", "started_at")})
    row.update({
        "status": change.status.value, "event_time": at, "status_reason": _text(change.reason),
        "completed_at": at if terminal else None,
        "duration_seconds": (at - started).total_seconds() if terminal and started else None,
    })
    return row


# ---------------------------------------------------------------------------------------------- steps

def step_rows(event: StepEvent) -> Rows:
    step = event.step
    out = step.output
    usage = step.token_usage
    return {"steps": [{
        "task_id": event.task_id, "step_number": _u16(event.step_number), "kind": event.kind,
        "step_type": step.type.value, "tool_id": step.tool_id or step.input.command, "status": step.status.value,
        "started_at": utc(step.started_at), "completed_at": utc(step.completed_at),
        "duration_ms": float(step.duration_ms), "exit_code": int(out.exit_code) if out else 0,
        "truncated": bool(out.truncated) if out else False, "model": usage.model,
        "prompt_tokens": _u32(usage.prompt_tokens), "completion_tokens": _u32(usage.completion_tokens),
        "cost_usd": float(usage.cost_usd), "emitted_at": utc(event.emitted_at),
    }]}


# ---------------------------------------------------------------------------------------------- reports

def report_duration_seconds(result: DiagnosticResult) -> float:
    """Span of the diagnosis: first step start to last step end (0 without steps)."""
    if not result.steps:
        return 0.0
    start = min(utc(s.started_at) for s in result.steps)
    end = max(utc(s.completed_at or s.started_at) for s in result.steps)
    return max(0.0, (end - start).total_seconds())


def report_rows(result: DiagnosticResult) -> Rows:
    rc = result.root_cause
    usage = result.token_usage
    return {"reports": [{
        "task_id": result.task_id, "cluster_id": result.cluster_id,
        "category": rc.category.value if rc else "unknown", "severity": rc.severity.value if rc else "",
        "confidence": float(result.confidence), "engine": result.engine, "status": result.status,
        "termination_reason": result.termination_reason, "problem": _text(result.summary.problem),
        "root_cause": _text(rc.description) if rc else "", "duration_seconds": report_duration_seconds(result),
        "steps_count": _u16(len(result.steps)), "recommendations": _u16(len(result.recommendations)),
        "model": usage.model, "prompt_tokens": _u32(usage.prompt_tokens),
        "completion_tokens": _u32(usage.completion_tokens), "cost_usd": float(usage.cost_usd),
        "generated_at": utc(result.generated_at),
    }]}


# ---------------------------------------------------------------------------------------------- costs, feedback

def cost_rows(cost: CostRecord) -> Rows:
    return {"costs": [{
        "id": cost.id, "task_id": cost.task_id, "cluster_id": cost.cluster_id, "priority": cost.priority,
        "model": cost.model, "task_type": cost.task_type, "prompt_tokens": _u32(cost.prompt_tokens),
        "completion_tokens": _u32(cost.completion_tokens), "cost_usd": float(cost.cost_usd), "at": utc(cost.at),
    }]}


def feedback_rows(fb: UserFeedback) -> Rows:
    return {"feedback": [{
        "id": fb.id, "task_id": fb.task_id, "user_id": fb.user_id, "rating": fb.rating, "helpful": fb.helpful,
        "comments": _text(fb.comments), "corrections": _u16(len(fb.corrections)), "status": fb.status,
        "timestamp": utc(fb.timestamp),
    }]}


# ---------------------------------------------------------------------------------------------- audit

def _float_or_none(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def _resource_id(resource: str) -> str:
    """'task/abc' -> 'abc'; 'abc' -> 'abc'."""
    return resource.split("/", 1)[1] if "/" in resource else resource


def audit_rows(event: AuditEvent) -> Rows:
    """The audit row, plus a knowledge change or a dropped-alert row when the action is one.

    Knowledge changes are audit events with action `knowledge.<change>` and details such as
    entry_id, version, confidence_before, confidence_after, enabled (issue 4/6 emit them).
    """
    at = utc(event.at)
    details = redact_obj(event.details)
    rows: Rows = {"audit": [{
        "id": event.id, "at": at, "actor": event.actor, "role": event.role, "action": event.action,
        "resource": _text(event.resource, 500), "cluster_id": event.cluster_id, "result": event.result,
        "reason": _text(event.reason), "duration_ms": float(event.duration_ms), "source_ip": event.source_ip,
        "details": json.dumps(details, default=str, sort_keys=True)[:_TEXT_MAX],
    }]}
    if event.action.startswith("knowledge."):
        enabled = details.get("enabled")
        rows["knowledge_changes"] = [{
            "id": event.id, "at": at, "entry_id": str(details.get("entry_id") or _resource_id(event.resource)),
            "change": event.action.removeprefix("knowledge."), "actor": event.actor,
            "version": _u32(_float_or_none(details.get("version")) or 0),
            "confidence_before": _float_or_none(details.get("confidence_before")),
            "confidence_after": _float_or_none(details.get("confidence_after")),
            "enabled": enabled if isinstance(enabled, bool) else None, "reason": _text(event.reason),
        }]
    kind = "shed" if event.action in SHED_ACTIONS else \
        "rejected" if event.result == "rejected" and event.action.startswith(REJECT_PREFIXES) else None
    if kind:
        # A shed task is shed once: key it by the task, so a scheduler replay (new audit id) is not a second drop.
        drop_id = f"shed:{_resource_id(event.resource)}" if kind == "shed" and event.resource else event.id
        rows["alerts_dropped"] = [{
            "id": drop_id, "at": at, "kind": kind, "source": event.action, "cluster_id": event.cluster_id,
            "namespace": str(details.get("namespace", "")), "priority": str(details.get("priority", "")),
            "alertname": str(details.get("alertname", "")), "reason": _text(event.reason),
        }]
    return rows


def deadletter_rows(dl: DeadLetter, raw: bytes) -> Rows:
    if dl.offset >= 0:
        ident = f"{dl.source_topic}:{dl.partition}:{dl.offset}"
    else:  # no position: the content is the identity
        ident = "sha256:" + hashlib.sha256(raw).hexdigest()
    return {"deadletters": [{
        "id": ident, "at": utc(dl.at), "source_topic": dl.source_topic, "stage": dl.stage, "error": _text(dl.error),
        "partition": int(dl.partition), "offset": int(dl.offset), "value_bytes": _u32(len(dl.value_b64) * 3 // 4),
    }]}


# ---------------------------------------------------------------------------------------------- per topic

TaskStateRecord = DiagnosticTask | TaskStatusChange


def parse_task_state(raw: bytes) -> TaskStateRecord:
    """task.state carries full snapshots and, from the scheduler, bare status changes (kind=status_change)."""
    body = json.loads(raw)
    if isinstance(body, dict) and body.get("kind") == "status_change":
        return TaskStatusChange.model_validate(body)
    return DiagnosticTask.model_validate(body)


def _simple(model: type[BaseModel], fn: Callable[[Any], Rows]) -> Callable[[bytes], Rows]:
    return lambda raw: fn(model.model_validate_json(raw))


# Topics whose records map to rows on their own (task.state needs the store: see sinks.clickhouse.sink).
DECODERS: dict[str, Callable[[bytes], Rows]] = {
    "steps": _simple(StepEvent, step_rows),
    "reports": _simple(DiagnosticResult, report_rows),
    "costs": _simple(CostRecord, cost_rows),
    "feedback": _simple(UserFeedback, feedback_rows),
    "audit": _simple(AuditEvent, audit_rows),
    "deadletter": lambda raw: deadletter_rows(DeadLetter.model_validate_json(raw), raw),
}
SINK_TOPICS = ("task.state", *DECODERS)


def merge(into: Rows, more: Rows) -> Rows:
    for table, rows in more.items():
        into.setdefault(table, []).extend(rows)
    return into
