"""Which Kubernetes resource an alert is about, from the alert's meaning rather than its scrape labels.

Pure (a function over a label dict, no I/O) so both `streams/` (the task's resource) and `agents/` (the
diagnosis target) decide the same way.

Why this is not "take the `pod` label": alerts built on kube-state-metrics (kube-prometheus-stack's
kubernetes-mixin rules) carry the labels of the *scrape target* as well as the rule's own labels. A
`KubeDeploymentReplicasMismatch` arrives as `deployment=cart, namespace=shop` plus `pod=<release>-kube-state-
metrics-…, container=kube-state-metrics, job=kube-state-metrics, service=…, endpoint=http, instance=ip:8080`:
the `pod` there is the exporter, not the subject. kube-prometheus-stack scrapes kube-state-metrics with
`honorLabels: true`, so when the metric itself has a `pod`/`container`/`namespace` label (KubePodCrashLooping)
those are the real ones; without honorLabels Prometheus renames them to `exported_pod` etc., which win here.
Node-exporter alerts name the node in `instance` (a node name, or `ip:9100`); kubelet/cAdvisor series carry
the scraped node in `node` next to the real `pod`/`persistentvolumeclaim`.

Order of decision: (1) alertnames of the kubernetes-mixin and node-mixin whose subject label is known;
(2) otherwise the most specific rule label, skipping labels that name a scrape target (an exporter's pod,
container or service); (3) nothing: the alert is about its namespace (quota, API or cluster-wide alerts).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping

# label → Kubernetes kind, most specific first (the generic order for alerts we do not know by name).
SUBJECT_LABELS: tuple[tuple[str, str], ...] = (
    ("pod", "Pod"), ("deployment", "Deployment"), ("statefulset", "StatefulSet"), ("daemonset", "DaemonSet"),
    ("job_name", "Job"), ("horizontalpodautoscaler", "HorizontalPodAutoscaler"),
    ("persistentvolumeclaim", "PersistentVolumeClaim"), ("service", "Service"), ("node", "Node"),
    ("replicaset", "ReplicaSet"),
)
_KIND_OF_LABEL = {**dict(SUBJECT_LABELS), "job": "Job"}

# Alerts whose subject label is known (kubernetes-mixin apps/storage/kubelet groups, node-mixin, TargetDown).
_POD = ("pod",)
_NODE = ("node", "instance")
KNOWN_ALERTS: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(("KubePodCrashLooping", "KubePodNotReady", "KubeContainerWaiting", "CPUThrottlingHigh",
                     "KubePodOOMKilled", "KubeContainerOOMKilled", "PodCrashLoopBackOff", "KubePodImagePullBackOff"),
                    _POD),
    **dict.fromkeys(("KubeDeploymentReplicasMismatch", "KubeDeploymentGenerationMismatch",
                     "KubeDeploymentRolloutStuck"), ("deployment",)),
    **dict.fromkeys(("KubeStatefulSetReplicasMismatch", "KubeStatefulSetGenerationMismatch",
                     "KubeStatefulSetUpdateNotRolledOut"), ("statefulset",)),
    **dict.fromkeys(("KubeDaemonSetRolloutStuck", "KubeDaemonSetNotScheduled", "KubeDaemonSetMisScheduled"),
                    ("daemonset",)),
    **dict.fromkeys(("KubeJobNotCompleted", "KubeJobFailed", "KubeJobCompletion"), ("job_name",)),
    **dict.fromkeys(("KubeHpaReplicasMismatch", "KubeHpaMaxedOut"), ("horizontalpodautoscaler",)),
    **dict.fromkeys(("KubePersistentVolumeFillingUp", "KubePersistentVolumeInodesFillingUp",
                     "KubePersistentVolumeClaimPending"), ("persistentvolumeclaim",)),
    **dict.fromkeys(("KubeNodeNotReady", "KubeNodeUnreachable", "KubeNodePressure", "KubeletTooManyPods",
                     "KubeNodeReadinessFlapping", "KubeNodeEviction", "KubeletPlegDurationHigh",
                     "KubeletPodStartUpLatencyHigh", "KubeletClientCertificateExpiration",
                     "KubeletServerCertificateExpiration", "KubeletClientCertificateRenewalErrors",
                     "KubeletServerCertificateRenewalErrors", "KubeletEvictingPods"), _NODE),
    **dict.fromkeys(("NodeFilesystemSpaceFillingUp", "NodeFilesystemAlmostOutOfSpace",
                     "NodeFilesystemFilesFillingUp", "NodeFilesystemAlmostOutOfFiles", "NodeNetworkReceiveErrs",
                     "NodeNetworkTransmitErrs", "NodeHighNumberConntrackEntries", "NodeClockSkewDetected",
                     "NodeClockNotSynchronising", "NodeRAIDDegraded", "NodeRAIDDiskFailure",
                     "NodeFileDescriptorLimit", "NodeCPUHighUsage", "NodeSystemSaturation",
                     "NodeMemoryMajorPagesFaults", "NodeMemoryHighUtilization", "NodeDiskIOSaturation",
                     "NodeSystemdServiceFailed", "NodeBondingDegraded", "NodeNetworkInterfaceFlapping"), _NODE),
    "TargetDown": ("service",),
}
# Alerts about a namespace or the whole cluster: no single resource, whatever scrape labels they carry.
NAMESPACE_ALERTS = frozenset({
    "KubeQuotaAlmostFull", "KubeQuotaFullyUsed", "KubeQuotaExceeded", "KubeCPUOvercommit", "KubeMemoryOvercommit",
    "KubeCPUQuotaOvercommit", "KubeMemoryQuotaOvercommit", "KubeVersionMismatch", "KubeClientErrors",
    "KubeAPIErrorBudgetBurn", "KubeAPIDown", "KubeletDown", "KubeSchedulerDown", "KubeControllerManagerDown",
    "Watchdog", "InfoInhibitor", "KubePdbNotEnoughHealthyPods",
})

# What exporters and monitoring agents are called: a pod/container/service label naming one of these
# describes the scraper, not the resource the alert is about.
_EXPORTER = re.compile(r"kube-state-metrics|node-exporter|blackbox-exporter|kube-rbac-proxy|prometheus-operator|"
                       r"windows-exporter|dcgm-exporter|pushgateway|process-exporter|kube-prometheus", re.I)
_SCRAPE_JOBS = frozenset({"kube-state-metrics", "node-exporter", "kubelet", "cadvisor", "apiserver",
                          "prometheus-node-exporter", "node", "kubernetes-nodes", "kubernetes-cadvisor"})
_HOST_PORT = re.compile(r"^\[?([^\]]+?)\]?(?::\d+)?$")
_IP = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$|^[0-9a-f:]+:[0-9a-f:]*$", re.I)


@dataclass(frozen=True)
class Subject:
    """The resource an alert is about. kind is a Kubernetes kind ("Pod", "Deployment", …) or "" (a namespace)."""

    kind: str
    name: str
    namespace: str
    container: str = ""
    label: str = ""  # the label it came from, for explanations
    scrape_labels: tuple[str, ...] = ()  # labels recognised as the scrape target's, ignored

    @property
    def is_namespace(self) -> bool:
        return not self.kind


def _value(labels: Mapping[str, str], key: str) -> str:
    return (labels.get(key) or "").strip()


def scrape_target_labels(labels: Mapping[str, str]) -> tuple[str, ...]:
    """The labels that describe the scrape target (an exporter) rather than the alert's subject."""
    out: list[str] = []
    container = _value(labels, "container")
    pod = _value(labels, "pod")
    if pod and _EXPORTER.search(pod):
        out.append("pod")
    if container and _EXPORTER.search(container):
        out.append("container")
    service = _value(labels, "service")
    if service and (_EXPORTER.search(service) or service.endswith("kubelet") or service == "kubernetes"):
        out.append("service")
    for key in ("job", "instance", "endpoint", "metrics_path", "prometheus"):
        if _value(labels, key):
            out.append(key)
    return tuple(out)


def _node_from_instance(labels: Mapping[str, str]) -> str:
    """node-exporter's `instance`: the node name (kube-prometheus-stack relabels it so) or ip:port."""
    instance = _value(labels, "instance")
    m = _HOST_PORT.match(instance)
    return m.group(1) if m else ""


def alert_subject(labels: Mapping[str, str]) -> Subject:
    """The subject of an alert, from its labels (see the module docstring for the rules)."""
    alertname = _value(labels, "alertname")
    scrape = scrape_target_labels(labels)
    namespace = _value(labels, "exported_namespace") or _value(labels, "namespace")
    real_pod = _value(labels, "exported_pod") or ("" if "pod" in scrape else _value(labels, "pod"))
    real_container = _value(labels, "exported_container") or ("" if "container" in scrape else _value(labels, "container"))

    def value_of(label: str, known: bool = False) -> str:
        if label == "pod":  # an alert about pods names its pod even when that pod is an exporter
            return (_value(labels, "exported_pod") or _value(labels, "pod")) if known else real_pod
        if label == "service":
            return _value(labels, "exported_service") or ("" if "service" in scrape else _value(labels, "service"))
        if label == "instance":
            return _node_from_instance(labels)
        return _value(labels, label)

    def subject(label: str, name: str, known: bool = False) -> Subject:
        kind = "Node" if label == "instance" else _KIND_OF_LABEL[label]
        container = real_container
        if known and kind == "Pod":
            container = _value(labels, "exported_container") or _value(labels, "container")
            if _EXPORTER.search(container) and not _EXPORTER.search(name):
                container = ""  # the scraper's container next to another pod
        return Subject(kind=kind, name=name, namespace=namespace,  # a node's is the alert's (ignored for nodes)
                       container=container if kind == "Pod" else "", label=label, scrape_labels=scrape)

    if alertname in NAMESPACE_ALERTS:
        return Subject(kind="", name="", namespace=namespace, scrape_labels=scrape)
    known = KNOWN_ALERTS.get(alertname)
    if known:
        for label in known:
            name = value_of(label, known=True)
            if label == "instance" and _IP.match(name or "") and _value(labels, "node"):
                continue
            if name:
                return subject(label, name, known=True)
    for label, _kind in SUBJECT_LABELS:
        name = value_of(label)
        if name:
            return subject(label, name)
    job = _value(labels, "job")
    if job in ("node-exporter", "prometheus-node-exporter", "node") and _node_from_instance(labels):
        return subject("instance", _node_from_instance(labels))
    if job and not (set(scrape) - {"job"}) and job not in _SCRAPE_JOBS and not _value(labels, "severity"):
        # a Kubernetes event about a Job (the watcher labels it `job: <name>` and sets no severity label), not a
        # Prometheus scrape job: rules carry a severity and series carry `instance` next to `job`
        return subject("job", job)
    return Subject(kind="", name="", namespace=namespace, scrape_labels=scrape)
