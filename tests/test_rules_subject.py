"""Which resource an alert is about (schemas/subject.py), on label sets as Alertmanager delivers them from
kube-prometheus-stack (kube-state-metrics scraped with honorLabels, kubelet/cAdvisor, node-exporter), an
OpenShift cluster-monitoring stack, a Prometheus without honorLabels (exported_*), manual requests and
Kubernetes events; and that the task's resource and the diagnosis target agree."""

from __future__ import annotations

import pytest

from agents.diagnose import target_from_alert
from schemas.alertmanager import Alert
from schemas.subject import alert_subject
from streams.normalize import resource_of

# The labels kube-prometheus-stack's kube-state-metrics scrape adds to every series it does not label itself.
KSM = {"container": "kube-state-metrics", "endpoint": "http", "instance": "10.244.2.17:8080", "job": "kube-state-metrics",
       "pod": "kube-prometheus-stack-kube-state-metrics-6d8b9c7f5-x2kqv", "prometheus": "monitoring/kube-prometheus-stack-prometheus",
       "service": "kube-prometheus-stack-kube-state-metrics"}
KUBELET = {"endpoint": "https-metrics", "instance": "10.0.3.21:10250", "job": "kubelet", "metrics_path": "/metrics",
           "node": "ip-10-0-3-21.eu-west-1.compute.internal", "prometheus": "monitoring/kps-prometheus",
           "service": "kps-kubelet"}
NODE_EXPORTER = {"container": "node-exporter", "endpoint": "http-metrics", "job": "node-exporter",
                 "namespace": "monitoring", "pod": "kps-prometheus-node-exporter-7hx2m", "service": "kps-prometheus-node-exporter",
                 "prometheus": "monitoring/kps-prometheus"}
OPENSHIFT_KSM = {"container": "kube-rbac-proxy-main", "endpoint": "https-main", "job": "kube-state-metrics",
                 "prometheus": "openshift-monitoring/k8s", "service": "kube-state-metrics"}

CASES = [
    # (id, labels, (kind, name, namespace, container))
    ("deployment-mismatch", {"alertname": "KubeDeploymentReplicasMismatch", "deployment": "cart", "namespace": "shop",
                             "severity": "warning", **KSM}, ("Deployment", "cart", "shop", "")),
    ("statefulset-mismatch", {"alertname": "KubeStatefulSetReplicasMismatch", "statefulset": "pg", "namespace": "db",
                              "severity": "warning", **KSM}, ("StatefulSet", "pg", "db", "")),
    ("daemonset-stuck", {"alertname": "KubeDaemonSetRolloutStuck", "daemonset": "fluent-bit", "namespace": "logging",
                         "severity": "warning", **KSM}, ("DaemonSet", "fluent-bit", "logging", "")),
    ("job-failed", {"alertname": "KubeJobFailed", "job_name": "nightly-export-28457160", "namespace": "batch",
                    "condition": "true", "severity": "warning", **KSM}, ("Job", "nightly-export-28457160", "batch", "")),
    ("hpa-maxed", {"alertname": "KubeHpaMaxedOut", "horizontalpodautoscaler": "web", "namespace": "front",
                   "severity": "warning", **KSM}, ("HorizontalPodAutoscaler", "web", "front", "")),
    ("crashloop-honor-labels", {"alertname": "KubePodCrashLooping", "namespace": "shop", "pod": "cart-5f7d6c9b8-x7k2p",
                                "container": "cart", "reason": "CrashLoopBackOff", "uid": "3f1c", "severity": "warning",
                                **{k: v for k, v in KSM.items() if k not in ("pod", "container")}},
     ("Pod", "cart-5f7d6c9b8-x7k2p", "shop", "cart")),
    ("pod-not-ready", {"alertname": "KubePodNotReady", "namespace": "ml", "pod": "trainer-0", "job": "kube-state-metrics",
                       "severity": "warning"}, ("Pod", "trainer-0", "ml", "")),
    ("container-waiting", {"alertname": "KubeContainerWaiting", "namespace": "shop", "pod": "api-0", "container": "api",
                           "reason": "ContainerCreating", "severity": "warning",
                           **{k: v for k, v in KSM.items() if k not in ("pod", "container")}}, ("Pod", "api-0", "shop", "api")),
    ("pvc-filling-up", {"alertname": "KubePersistentVolumeFillingUp", "namespace": "db",
                        "persistentvolumeclaim": "data-pg-0", "severity": "critical", **KUBELET},
     ("PersistentVolumeClaim", "data-pg-0", "db", "")),
    ("node-not-ready", {"alertname": "KubeNodeNotReady", "condition": "Ready", "node": "worker-3", "status": "true",
                        "namespace": "monitoring", "severity": "warning", **KSM}, ("Node", "worker-3", "monitoring", "")),
    ("node-exporter-fs", {"alertname": "NodeFilesystemAlmostOutOfSpace", "device": "/dev/nvme0n1p1", "fstype": "ext4",
                          "instance": "worker-7", "mountpoint": "/", "severity": "warning", **NODE_EXPORTER},
     ("Node", "worker-7", "monitoring", "")),
    ("cadvisor-throttling", {"alertname": "CPUThrottlingHigh", "namespace": "shop", "pod": "search-0", "container": "search",
                             **{**KUBELET, "metrics_path": "/metrics/cadvisor"}}, ("Pod", "search-0", "shop", "search")),
    ("openshift-deployment", {"alertname": "KubeDeploymentReplicasMismatch", "deployment": "demo", "namespace": "default",
                              "severity": "warning", **OPENSHIFT_KSM}, ("Deployment", "demo", "default", "")),
    ("no-honor-labels", {"alertname": "KubePodCrashLooping", "namespace": "monitoring", "exported_namespace": "shop",
                         "exported_pod": "cart-1", "exported_container": "cart", **KSM}, ("Pod", "cart-1", "shop", "cart")),
    ("unknown-alert-with-ksm-pod", {"alertname": "CartReplicasLow", "deployment": "cart", "namespace": "shop", **KSM},
     ("Deployment", "cart", "shop", "")),
    ("app-own-metrics", {"alertname": "HighErrorRate", "namespace": "shop", "pod": "cart-1", "container": "cart",
                         "job": "cart", "service": "cart", "endpoint": "http", "instance": "10.1.2.3:8080"},
     ("Pod", "cart-1", "shop", "cart")),
    ("target-down", {"alertname": "TargetDown", "job": "payments", "namespace": "pay", "service": "payments",
                     "severity": "warning"}, ("Service", "payments", "pay", "")),
    ("quota", {"alertname": "KubeQuotaAlmostFull", "namespace": "team-a", "resource": "requests.cpu",
               "resourcequota": "compute", "severity": "info", **KSM}, ("", "", "team-a", "")),
    ("manual-service", {"alertname": "ManualDiagnosis", "cluster_id": "eu-1", "namespace": "shop", "service": "reco",
                        "severity": "warning"}, ("Service", "reco", "shop", "")),
    ("manual-job", {"alertname": "ManualDiagnosis", "cluster_id": "eu-1", "namespace": "batch", "job_name": "export",
                    "severity": "warning"}, ("Job", "export", "batch", "")),
    ("kube-event-job", {"alertname": "BackoffLimitExceeded", "namespace": "batch", "job": "export", "cluster_id": "c"},
     ("Job", "export", "batch", "")),
    ("kube-event-replicaset", {"alertname": "FailedCreate", "namespace": "shop", "replicaset": "cart-5f7d6c9b8",
                               "cluster_id": "c"}, ("ReplicaSet", "cart-5f7d6c9b8", "shop", "")),
    ("cluster-wide", {"alertname": "KubeAPIErrorBudgetBurn", "long": "1h", "short": "5m", "severity": "critical"},
     ("", "", "", "")),
]


@pytest.mark.parametrize("labels,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_subject_of_real_alert_label_sets(labels: dict[str, str], expected: tuple[str, str, str, str]) -> None:
    s = alert_subject(labels)
    assert (s.kind, s.name, s.namespace, s.container) == expected


@pytest.mark.parametrize("labels,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_task_resource_and_diagnosis_target_agree(labels: dict[str, str], expected: tuple[str, str, str, str]) -> None:
    assert resource_of(labels) == expected[:2]
    target = target_from_alert(Alert(labels=labels))
    kinds = {"": "namespace", "HorizontalPodAutoscaler": "hpa", "PersistentVolumeClaim": "pvc"}
    assert target.kind == kinds.get(expected[0], expected[0].lower())
    assert target.name == expected[1] and target.container == expected[3]


def test_scrape_labels_are_named() -> None:
    s = alert_subject({"alertname": "KubeDeploymentReplicasMismatch", "deployment": "cart", "namespace": "shop", **KSM})
    assert {"pod", "container", "service", "job", "instance"} <= set(s.scrape_labels)
    assert s.label == "deployment"


def test_a_node_exporter_ip_instance_defers_to_a_node_label() -> None:
    s = alert_subject({"alertname": "NodeMemoryHighUtilization", "instance": "10.0.0.7:9100", "node": "worker-2",
                       **{k: v for k, v in NODE_EXPORTER.items() if k != "instance"}})
    assert (s.kind, s.name) == ("Node", "worker-2")


def test_a_pod_alert_about_an_exporter_pod_is_about_that_pod() -> None:
    s = alert_subject({"alertname": "KubePodCrashLooping", "namespace": "monitoring", "container": "kube-state-metrics",
                       "pod": "kps-kube-state-metrics-6d8b9c7f5-x2kqv", "job": "kube-state-metrics", "reason": "CrashLoopBackOff"})
    assert (s.kind, s.name, s.container) == ("Pod", "kps-kube-state-metrics-6d8b9c7f5-x2kqv", "kube-state-metrics")


def test_a_pod_alert_keeps_its_pod_when_the_scrapers_container_label_leaked() -> None:
    s = alert_subject({"alertname": "KubePodNotReady", "namespace": "edge", "pod": "api-gateway-cd8s9hp5l6-ts9sn", **{
        k: v for k, v in KSM.items() if k != "pod"}})
    assert (s.kind, s.name, s.container) == ("Pod", "api-gateway-cd8s9hp5l6-ts9sn", "")
