"""`SystemConfig` (SRS §6.6): per-cluster settings as a versioned, auditable record."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from schemas.base import Record, utcnow


class CostBudget(BaseModel):
    daily_limit: float = 1000.0
    monthly_limit: float = 25000.0
    per_task_limit: float = 0.50
    alert_threshold: float = 0.80


class Notifications(BaseModel):
    slack_webhook_url: str = ""
    webhook_urls: list[str] = Field(default_factory=list)


class ConfigSettings(BaseModel):
    max_concurrent_tasks: int = 50
    task_timeout_seconds: float = 600.0
    max_steps: int = Field(default=10, ge=1, le=20)
    cost_budget: CostBudget = Field(default_factory=CostBudget)
    notifications: Notifications = Field(default_factory=Notifications)


class SystemConfig(Record):
    id: str
    cluster_id: str = ""
    settings: ConfigSettings = Field(default_factory=ConfigSettings)
    tools: list[dict[str, Any]] = Field(default_factory=list)
    rules: list[dict[str, Any]] = Field(default_factory=list)
    updated_at: datetime = Field(default_factory=utcnow)
    updated_by: str = "system"
    version: int = 1
