"""Raw alert or Kubernetes event -> `Signal`: one shape for everything downstream.

Pure: the caller passes the configured default cluster and the known cluster ids.
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas.alertmanager import RawAlert
from schemas.kube import KubeEvent
from schemas.signal import Signal
from schemas.subject import alert_subject
from streams.fingerprint import labels_fingerprint

_SEVERITY = {"critical": "critical", "page": "critical", "error": "critical", "high": "critical",
             "warning": "warning", "warn": "warning", "medium": "warning",
             "info": "info", "low": "info", "none": "info"}
CRITICAL_EVENT_REASONS = frozenset({"NodeNotReady", "OOMKilling", "SystemOOM"})


@dataclass(frozen=True)
class ClusterPolicy:
    default_cluster: str
    known: frozenset[str] = frozenset()  # empty: every named cluster is accepted

    def resolve(self, named: str | None) -> tuple[str, bool]:
        """(cluster id, whether it was defaulted because it was missing or unknown)."""
        if named and (not self.known or named in self.known):
            return named, False
        return self.default_cluster, True


def severity_of(label: str | None) -> str:
    return _SEVERITY.get((label or "").strip().lower(), "warning")


def resource_of(labels: dict[str, str]) -> tuple[str, str]:
    """(kind, name) of the resource the alert is about; scrape-target labels are not it (schemas/subject.py)."""
    subject = alert_subject(labels)
    return subject.kind, subject.name


def from_alert(raw: RawAlert, clusters: ClusterPolicy) -> Signal:
    alert = raw.alert
    labels = alert.labels
    cluster_id, cluster_defaulted = clusters.resolve(labels.get("cluster_id") or labels.get("cluster"))
    subject = alert_subject(labels)
    namespace = subject.namespace  # exported_namespace when the exporter's own namespace took `namespace`
    kind, name = subject.kind, subject.name
    seen = raw.received_at
    return Signal(
        source="manual" if labels.get("alertname") == "ManualDiagnosis" else "alertmanager",
        fingerprint=raw.fingerprint,
        status=alert.status,
        cluster_id=cluster_id,
        cluster_defaulted=cluster_defaulted,
        namespace=namespace or "default",
        namespace_defaulted=not namespace,
        resource_kind=kind,
        resource_name=name,
        alertname=labels["alertname"],
        severity=severity_of(labels.get("severity")),  # type: ignore[arg-type]
        labels=labels,
        annotations=alert.annotations,
        message=alert.annotations.get("summary") or alert.annotations.get("description", ""),
        first_seen=alert.startsAt or seen,
        last_seen=seen,
        requested_by=raw.requested_by,  # the person behind a manual request; the task's tool calls take its role
    )


def from_kube_event(event: KubeEvent, clusters: ClusterPolicy) -> Signal:
    obj = event.involved_object
    cluster_id, cluster_defaulted = clusters.resolve(event.cluster_id)
    namespace = obj.namespace or event.namespace or "default"
    identity = {"cluster": cluster_id, "namespace": namespace, "kind": obj.kind, "name": obj.name,
                "reason": event.reason}
    seen = event.last_timestamp or event.observed_at
    return Signal(
        source="kubernetes",
        fingerprint=labels_fingerprint(identity),
        cluster_id=cluster_id,
        cluster_defaulted=cluster_defaulted,
        namespace=namespace,
        resource_kind=obj.kind,
        resource_name=obj.name,
        alertname=event.reason,
        severity="critical" if event.reason in CRITICAL_EVENT_REASONS else "warning",
        labels={"alertname": event.reason, "namespace": namespace, obj.kind.lower() or "object": obj.name,
                "cluster_id": cluster_id},
        message=event.message,
        first_seen=event.first_timestamp or seen,
        last_seen=seen,
    )
