"""The Alertmanager webhook payload (version 4) and the raw-alert record the bridge produces.

Inbound models ignore unknown fields (Alertmanager adds fields between releases) but insist on
what we need: every alert must carry an `alertname` label.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from schemas.base import Record, utcnow
from schemas.requester import Requester

AlertStatus = Literal["firing", "resolved"]


class Alert(BaseModel):
    model_config = ConfigDict(extra="ignore")

    status: AlertStatus = "firing"
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: datetime | None = None
    endsAt: datetime | None = None
    generatorURL: str = ""
    fingerprint: str = ""

    @field_validator("labels")
    @classmethod
    def _needs_alertname(cls, labels: dict[str, str]) -> dict[str, str]:
        if not labels.get("alertname", "").strip():
            raise ValueError("labels.alertname is required")
        return labels


class AlertmanagerPayload(BaseModel):
    model_config = ConfigDict(extra="ignore")

    version: str = "4"
    groupKey: str = ""
    truncatedAlerts: int = 0
    status: AlertStatus = "firing"
    receiver: str = ""
    groupLabels: dict[str, str] = Field(default_factory=dict)
    commonLabels: dict[str, str] = Field(default_factory=dict)
    commonAnnotations: dict[str, str] = Field(default_factory=dict)
    externalURL: str = ""
    alerts: list[Alert] = Field(min_length=1)


class RawAlert(Record):
    """One alert as accepted by the webhook bridge, keyed by its fingerprint on the raw-alerts topic."""

    fingerprint: str
    alert: Alert
    receiver: str = ""
    external_url: str = ""
    received_at: datetime = Field(default_factory=utcnow)
    # Set only by the manual routes (POST /api/v1/tasks, `aetherius trigger`) from the authenticated principal;
    # the Alertmanager route never sets it, so no alert label or annotation can claim a person's role.
    requested_by: Requester | None = None
