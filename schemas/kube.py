"""A Kubernetes core/v1 Event as a watcher publishes it to the k8s-events topic."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from schemas.base import Record, utcnow


class InvolvedObject(BaseModel):
    model_config = ConfigDict(extra="ignore")

    kind: str = ""
    name: str = ""
    namespace: str = ""
    uid: str = ""
    apiVersion: str = ""
    fieldPath: str = ""


class KubeEvent(Record):
    """The fields of an Event that diagnosis uses; `uid`+`count` makes a repeat recognisable."""

    cluster_id: str
    uid: str
    namespace: str = "default"
    reason: str
    message: str = ""
    type: str = "Warning"  # Normal | Warning
    count: int = 1
    involved_object: InvolvedObject
    first_timestamp: datetime | None = None
    last_timestamp: datetime | None = None
    resource_version: str = ""
    source_component: str = ""
    observed_at: datetime = Field(default_factory=utcnow)

    def topic_key(self) -> str:
        o = self.involved_object
        return f"{self.cluster_id}/{o.namespace or self.namespace}/{o.kind}/{o.name}"
