"""Raw alert / Kubernetes event -> Signal, including the defaults that raise a config warning."""

from datetime import datetime, timezone

from schemas.alertmanager import Alert, RawAlert
from schemas.kube import InvolvedObject, KubeEvent
from streams.fingerprint import labels_fingerprint
from streams.normalize import ClusterPolicy, from_alert, from_kube_event, severity_of

T = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)


def raw(labels, **kw):
    return RawAlert(fingerprint=labels_fingerprint(labels), alert=Alert(labels=labels, **kw), received_at=T)


def test_alert_fields_and_target():
    s = from_alert(raw({"alertname": "KubePodCrashLooping", "cluster_id": "prod-eu", "namespace": "shop",
                        "pod": "cart-1", "deployment": "cart", "severity": "critical"},
                       annotations={"summary": "crashing"}), ClusterPolicy("default"))
    assert (s.cluster_id, s.namespace, s.resource_kind, s.resource_name) == ("prod-eu", "shop", "Pod", "cart-1")
    assert s.severity == "critical" and s.message == "crashing" and not s.cluster_defaulted
    assert not s.namespace_defaulted and s.source == "alertmanager"


def test_missing_namespace_and_cluster_are_defaulted_and_flagged():
    s = from_alert(raw({"alertname": "X"}), ClusterPolicy("fallback"))
    assert s.namespace == "default" and s.namespace_defaulted
    assert s.cluster_id == "fallback" and s.cluster_defaulted


def test_unknown_cluster_falls_back_when_registry_given():
    policy = ClusterPolicy("fallback", known=frozenset({"a"}))
    assert from_alert(raw({"alertname": "X", "cluster": "a"}), policy).cluster_id == "a"
    s = from_alert(raw({"alertname": "X", "cluster": "zz"}), policy)
    assert s.cluster_id == "fallback" and s.cluster_defaulted


def test_severity_mapping():
    assert [severity_of(x) for x in ("CRITICAL", "page", "warning", "info", None, "weird")] == \
        ["critical", "critical", "warning", "info", "warning", "warning"]


def test_kube_event_fingerprint_is_stable_per_object_and_reason():
    ev = KubeEvent(cluster_id="c1", uid="u1", namespace="shop", reason="BackOff", message="back-off",
                   involved_object=InvolvedObject(kind="Pod", name="cart-1", namespace="shop"), last_timestamp=T)
    a = from_kube_event(ev, ClusterPolicy("default"))
    b = from_kube_event(ev.model_copy(update={"uid": "u2", "count": 7}), ClusterPolicy("default"))
    c = from_kube_event(ev.model_copy(update={"reason": "Failed"}), ClusterPolicy("default"))
    assert a.fingerprint == b.fingerprint != c.fingerprint
    assert (a.source, a.alertname, a.resource_kind, a.last_seen) == ("kubernetes", "BackOff", "Pod", T)
