"""`AuditEvent` and `CostRecord`: what was done, by whom, and what it cost."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from schemas.base import Record, utcnow


class AuditEvent(Record):
    id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    at: datetime = Field(default_factory=utcnow)
    actor: str = "system"  # user id, API key name, or the component
    role: str = ""
    action: str  # e.g. webhook.accept, task.shed, tool.call, api.request
    resource: str = ""
    cluster_id: str = ""
    result: Literal["allowed", "rejected", "error", "ok"] = "ok"
    reason: str = ""
    duration_ms: float = 0.0
    source_ip: str = ""
    details: dict[str, Any] = Field(default_factory=dict)


class CostRecord(Record):
    id: str  # f"{task_id}:{step_number}:{call}" - deterministic for idempotent budget updates
    task_id: str
    cluster_id: str = ""
    priority: str = ""
    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    price_assumed: bool = False  # charged at `llm.assumed_price`, not a price from the table
    task_type: str = "diagnosis"
    at: datetime = Field(default_factory=utcnow)
