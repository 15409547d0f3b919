"""Raw alert or Kubernetes event -> `Signal`: one shape for everything downstream.

Pure: the caller passes the configured default cluster and the known cluster ids.

The signal is where the worker's size budget starts (schemas/bounds.py): whatever the entry points accept, its
labels and annotations are kept once, each value bounded, and the text copied from them (the resource name,
the message) is cut shorter, with a marker. A label of 200 KB used to be copied about seven times into a
task's row and push it past the broker's limit.
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas.alertmanager import RawAlert
from schemas.bounds import clip, clip_map
from schemas.kube import KubeEvent
from schemas.signal import Signal
from schemas.subject import alert_subject
from streams.fingerprint import labels_fingerprint

_SEVERITY = {"critical": "critical", "page": "critical", "error": "critical", "high": "critical",
             "warning": "warning", "warn": "warning", "medium": "warning",
             "info": "info", "low": "info", "none": "info"}
CRITICAL_EVENT_REASONS = frozenset({"NodeNotReady", "OOMKilling", "SystemOOM"})

# Bytes (JSON-escaped). Real labels are short; annotations hold prose. A Kubernetes name is at most 253
# characters (DNS-1123 subdomain), so a longer "name" can only be cut: no object has it anyway.
LABEL_VALUE_BYTES, LABELS_BYTES = 4 * 1024, 32 * 1024
ANNOTATION_VALUE_BYTES, ANNOTATIONS_BYTES = 16 * 1024, 64 * 1024
NAME_BYTES, MESSAGE_BYTES = 253, 2 * 1024


def bounded_labels(labels: dict[str, str]) -> dict[str, str]:
    return clip_map(labels, LABEL_VALUE_BYTES, LABELS_BYTES)


def bounded_annotations(annotations: dict[str, str]) -> dict[str, str]:
    return clip_map(annotations, ANNOTATION_VALUE_BYTES, ANNOTATIONS_BYTES)


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
    labels = bounded_labels(alert.labels)
    annotations = bounded_annotations(alert.annotations)
    named = alert.labels.get("cluster_id") or alert.labels.get("cluster")
    cluster_id, cluster_defaulted = clusters.resolve(clip(named, NAME_BYTES) if named else named)
    subject = alert_subject(labels)
    namespace = clip(subject.namespace, NAME_BYTES)  # exported_namespace when the exporter's took `namespace`
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
        resource_name=clip(name, NAME_BYTES),
        alertname=clip(labels["alertname"], NAME_BYTES),
        severity=severity_of(labels.get("severity")),  # type: ignore[arg-type]
        labels=labels,
        annotations=annotations,
        message=clip(annotations.get("summary") or annotations.get("description", ""), MESSAGE_BYTES),
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
        resource_name=clip(obj.name, NAME_BYTES),
        alertname=event.reason,
        severity="critical" if event.reason in CRITICAL_EVENT_REASONS else "warning",
        labels=bounded_labels({"alertname": event.reason, "namespace": namespace,
                               obj.kind.lower() or "object": obj.name, "cluster_id": cluster_id}),
        message=clip(event.message, MESSAGE_BYTES),
        first_seen=event.first_timestamp or seen,
        last_seen=seen,
    )
