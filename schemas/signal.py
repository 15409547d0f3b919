"""The normalized `Signal`: one shape for an alert or a Kubernetes event, and the incident record."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Literal

from pydantic import Field

from schemas.base import Record, utcnow
from schemas.requester import Requester


class Priority(str, Enum):
    """P0 is the most urgent. SRS §6.1 numbers them the other way (Emergency=3); we use the names."""

    P0 = "P0"
    P1 = "P1"
    P2 = "P2"
    P3 = "P3"

    @property
    def rank(self) -> int:
        return int(self.value[1])


class Signal(Record):
    source: Literal["alertmanager", "kubernetes", "manual"]
    fingerprint: str
    status: Literal["firing", "resolved"] = "firing"
    cluster_id: str
    namespace: str = "default"
    namespace_defaulted: bool = False
    cluster_defaulted: bool = False
    resource_kind: str = ""
    resource_name: str = ""
    alertname: str  # the alert's name, or the event's reason
    severity: Literal["critical", "warning", "info"] = "warning"
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    message: str = ""
    first_seen: datetime = Field(default_factory=utcnow)
    last_seen: datetime = Field(default_factory=utcnow)
    historical_frequency: int = 1  # occurrences inside the dedup window
    priority: Priority | None = None
    requested_by: Requester | None = None  # the person behind a manual request; None for alerts and events


class CorrelatedIncident(Record):
    """The same alertname firing in enough clusters inside the window: diagnosed once, together."""

    incident_id: str
    alertname: str
    clusters: list[str]
    member_fingerprints: list[str]
    window_start: datetime
    detected_at: datetime = Field(default_factory=utcnow)
