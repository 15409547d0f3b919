"""Every ProblemCategory, at least twice, through the real path: dump on disk → DumpReader → the MCP gateway → the one step loop (in memory) →
rule engine. Each scenario has noise (healthy multi-container neighbours, old resolved events) and asserts
the category AND the evidence the result cites."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Callable

import pytest

from agents.diagnose import diagnose_offline
from schemas.alertmanager import AlertmanagerPayload
from schemas.result import DiagnosticResult, ProblemCategory
from tests.dumpkit import Ctr, DumpBuilder, alert_payload

NS = "shop"
Scenario = Callable[[DumpBuilder], dict[str, str]]  # builds the dump, returns the alert's labels


def base(b: DumpBuilder, ns: str = NS) -> None:
    b.node("node-1")
    b.node("node-2")
    b.node("cp-1", taints=[{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}])
    b.noise(ns)


def crashing(name: str, last: dict, **kw) -> Ctr:
    return Ctr(name, state="waiting", reason="CrashLoopBackOff", message="back-off 2m40s restarting failed container",
               ready=False, restarts=kw.pop("restarts", 5), last=last, **kw)


def diagnose(tmp_path: Path, scenario: Scenario) -> DiagnosticResult:
    b = DumpBuilder(tmp_path / "dump")
    labels = scenario(b)
    b.write()
    payload = AlertmanagerPayload.model_validate(alert_payload(labels, alertname=labels.pop("alertname", "TestAlert")))
    return asyncio.run(diagnose_offline(b.root, payload))


def cites(result: DiagnosticResult, source: str, detail: str = "") -> bool:
    return any(source in e.source and detail.lower() in e.detail.lower() for e in result.root_cause.evidence)


# --- oom_killed ---------------------------------------------------------------------------------------------

def oom_deployment(b):
    base(b)
    rs = b.deployment(NS, "cart", replicas=3, ready=2)
    b.pod(NS, "cart-7d8f9b456-aaaaa", [Ctr("cart", limits={"memory": "512Mi"})], owner=("ReplicaSet", rs), labels={"app": "cart"})
    b.pod(NS, "cart-7d8f9b456-bbbbb", [crashing("cart", {"reason": "OOMKilled", "exitCode": 137}, limits={"memory": "512Mi"})],
          owner=("ReplicaSet", rs), labels={"app": "cart"})
    b.logs(NS, "cart-7d8f9b456-bbbbb", "loading catalogue\n", container="cart", previous=True)
    return {"deployment": "cart", "namespace": NS}


def oom_sidecar_statefulset(b):
    base(b)
    b.statefulset(NS, "search", replicas=1, ready=0)
    b.pod(NS, "search-0", [Ctr("search", ready=False, restarts=2, last={"reason": "OOMKilled", "exitCode": 137},
                               limits={"memory": "1Gi"}),
                           Ctr("metrics-exporter", limits={"memory": "64Mi"})], owner=("StatefulSet", "search"))
    return {"pod": "search-0", "namespace": NS, "container": "search"}


# --- application_crash ----------------------------------------------------------------------------------------

def crash_panic(b):
    base(b)
    rs = b.deployment(NS, "checkout", replicas=1, ready=0)
    b.pod(NS, "checkout-7d8f9b456-ccccc", [crashing("checkout", {"reason": "Error", "exitCode": 2})], owner=("ReplicaSet", rs))
    b.logs(NS, "checkout-7d8f9b456-ccccc", "starting checkout v2.3\npanic: runtime error: invalid memory address or nil pointer dereference\n",
           container="checkout", previous=True)
    b.event(NS, "Pod", "checkout-7d8f9b456-ccccc", "BackOff", "Back-off restarting failed container checkout", count=9)
    return {"pod": "checkout-7d8f9b456-ccccc", "namespace": NS}


def crash_init_container(b):
    base(b)
    rs = b.deployment(NS, "orders", replicas=1, ready=0)
    b.pod(NS, "orders-7d8f9b456-ddddd", [Ctr("orders", state="waiting", reason="PodInitializing", ready=False)],
          init=[crashing("migrate", {"reason": "Error", "exitCode": 1}, restarts=4)], owner=("ReplicaSet", rs), phase="Pending")
    b.logs(NS, "orders-7d8f9b456-ddddd", "Applying migration 0042\nERROR: relation \"orders_v2\" already exists\n",
           container="migrate", previous=True, combined=False)
    return {"deployment": "orders", "namespace": NS}


# --- missing_config --------------------------------------------------------------------------------------------

def config_missing_configmap(b):
    base(b)
    b.configmap(NS, "other-config", {"A": "1"})
    b.pod(NS, "billing-0", [Ctr("billing", state="waiting", reason="CreateContainerConfigError",
                                message='configmap "billing-config" not found', ready=False, env_from_configmap="billing-config")])
    return {"pod": "billing-0", "namespace": NS}


def config_missing_secret_key(b):
    base(b)
    b.secret(NS, "db-creds", {"DB_USER": "c2VjcmV0LXVzZXI=", "DB_PASSWORD": "aHVudGVyMg=="})
    rs = b.deployment(NS, "ledger", replicas=2, ready=0)
    b.pod(NS, "ledger-7d8f9b456-eeeee", [Ctr("ledger", state="waiting", reason="CreateContainerConfigError",
                                             message=f"couldn't find key DB_URL in Secret {NS}/db-creds", ready=False)],
          owner=("ReplicaSet", rs))
    return {"deployment": "ledger", "namespace": NS}


def config_missing_volume_source(b):
    base(b)
    b.pod(NS, "reports-0", [Ctr("reports", state="waiting", reason="ContainerCreating", ready=False)])
    b.event(NS, "Pod", "reports-0", "FailedMount",
            'MountVolume.SetUp failed for volume "templates" : configmap "report-templates" not found', count=7)
    return {"pod": "reports-0", "namespace": NS}


# --- image_pull_failure ----------------------------------------------------------------------------------------

def pull_not_found(b):
    base(b)
    b.pod(NS, "api-0", [Ctr("api", image="registry.example.com/api:v9.9.9", state="waiting", reason="ImagePullBackOff",
                            message='Back-off pulling image "registry.example.com/api:v9.9.9"', ready=False)])
    b.event(NS, "Pod", "api-0", "Failed", 'Failed to pull image "registry.example.com/api:v9.9.9": not found', count=4)
    return {"pod": "api-0", "namespace": NS}


def pull_unauthorized_deployment(b):
    base(b)
    rs = b.deployment(NS, "worker", replicas=2, ready=1)
    b.pod(NS, "worker-7d8f9b456-fffff", [Ctr("worker")], owner=("ReplicaSet", rs))
    b.pod(NS, "worker-7d8f9b456-ggggg", [Ctr("worker", image="private.example.com/worker:2", state="waiting",
                                             reason="ErrImagePull", message="unauthorized: authentication required", ready=False)],
          owner=("ReplicaSet", rs))
    return {"deployment": "worker", "namespace": NS}


# --- invalid_command --------------------------------------------------------------------------------------------

def command_not_found(b):
    base(b)
    b.pod(NS, "tool-0", [crashing("tool", {"reason": "StartError", "exitCode": 128,
                                           "message": 'failed to create containerd task: exec: "/app/serve": stat /app/serve: no such file or directory'},
                                  command=["/app/serve"])])
    return {"pod": "tool-0", "namespace": NS}


def exec_format_error(b):
    base(b)
    rs = b.deployment(NS, "resizer", replicas=1, ready=0)
    b.pod(NS, "resizer-7d8f9b456-hhhhh", [crashing("resizer", {"reason": "Error", "exitCode": 1})], owner=("ReplicaSet", rs))
    b.logs(NS, "resizer-7d8f9b456-hhhhh", "exec /usr/local/bin/resizer: exec format error\n", container="resizer", previous=True)
    return {"deployment": "resizer", "namespace": NS}


# --- security_context_violation ----------------------------------------------------------------------------------

def run_as_non_root(b):
    base(b)
    b.pod(NS, "legacy-0", [Ctr("legacy", state="waiting", reason="CreateContainerConfigError", ready=False,
                               message="container has runAsNonRoot and image will run as root (pod: \"legacy-0_shop\", container: legacy)")])
    return {"pod": "legacy-0", "namespace": NS}


def pod_security_admission(b):
    base(b)
    rs = b.deployment(NS, "debugger", replicas=1, ready=0)
    b.event(NS, "ReplicaSet", rs, "FailedCreate",
            f'Error creating: pods "{rs}-x1" is forbidden: violates PodSecurity "restricted:latest": '
            'allowPrivilegeEscalation != false (container "debugger" must set securityContext.allowPrivilegeEscalation=false)', count=14)
    return {"deployment": "debugger", "namespace": NS}


# --- insufficient_resources ----------------------------------------------------------------------------------------

def insufficient_memory(b):
    base(b)
    b.pod(NS, "analytics-0", [Ctr("analytics", state="waiting", reason="", ready=False, requests={"memory": "24Gi"})],
          node=None)
    b.event(NS, "Pod", "analytics-0", "FailedScheduling",
            "0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, "
            "2 Insufficient memory. preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, "
            "2 No preemption victims found for incoming pod.", count=5)
    return {"pod": "analytics-0", "namespace": NS}


def insufficient_cpu_deployment(b):
    base(b)
    rs = b.deployment(NS, "renderer", replicas=2, ready=0)
    for suffix in ("iiiii", "jjjjj"):
        b.pod(NS, f"renderer-7d8f9b456-{suffix}", [Ctr("renderer", state="waiting", ready=False, requests={"cpu": "8"})],
              owner=("ReplicaSet", rs), node=None)
        b.event(NS, "Pod", f"renderer-7d8f9b456-{suffix}", "FailedScheduling",
                "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 No preemption victims found.")
    return {"deployment": "renderer", "namespace": NS}


# --- scheduling_constraint --------------------------------------------------------------------------------------------

def node_selector_mismatch(b):
    base(b)
    b.pod(NS, "gpu-job-0", [Ctr("train", state="waiting", ready=False)], node=None, node_selector={"accelerator": "a100"})
    b.event(NS, "Pod", "gpu-job-0", "FailedScheduling",
            "0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, "
            "2 node(s) didn't match Pod's node affinity/selector. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.")
    return {"pod": "gpu-job-0", "namespace": NS}


def untolerated_taint(b):
    base(b)
    b.statefulset(NS, "cache", replicas=1, ready=0)
    b.pod(NS, "cache-0", [Ctr("redis", state="waiting", ready=False)], node=None, owner=("StatefulSet", "cache"))
    b.event(NS, "Pod", "cache-0", "FailedScheduling",
            "0/3 nodes are available: 3 node(s) had untolerated taint {dedicated: infra}. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.")
    return {"statefulset": "cache", "namespace": NS}


# --- quota_exceeded ------------------------------------------------------------------------------------------------

def quota_cpu(b):
    base(b)
    rs = b.deployment(NS, "payments-api", replicas=3, ready=2)
    for s in ("kkkkk", "lllll"):
        b.pod(NS, f"payments-api-7d8f9b456-{s}", [Ctr("api")], owner=("ReplicaSet", rs))
    b.quota(NS, "compute-quota", {"requests.cpu": "4", "requests.memory": "8Gi"}, {"requests.cpu": "4", "requests.memory": "5Gi"})
    b.event(NS, "ReplicaSet", rs, "FailedCreate",
            f'Error creating: pods "{rs}-zz9" is forbidden: exceeded quota: compute-quota, requested: requests.cpu=500m, '
            "used: requests.cpu=4, limited: requests.cpu=4", count=20)
    return {"deployment": "payments-api", "namespace": NS}


def quota_pods_job(b):
    base(b)
    b.job(NS, "nightly-export", active=0)
    b.quota(NS, "object-counts", {"pods": "10"}, {"pods": "10"})
    b.event(NS, "Job", "nightly-export", "FailedCreate",
            'Error creating: pods "nightly-export-q7" is forbidden: exceeded quota: object-counts, requested: pods=1, '
            "used: pods=10, limited: pods=10")
    return {"job_name": "nightly-export", "namespace": NS}


# --- volume_mount_failure --------------------------------------------------------------------------------------------

def pvc_unbound_pod(b):
    base(b)
    b.storageclass("standard", default=True)
    b.pvc(NS, "data-db-0", phase="Pending", storage_class="fast-ssd")
    b.event(NS, "PersistentVolumeClaim", "data-db-0", "ProvisioningFailed", 'storageclass.storage.k8s.io "fast-ssd" not found', count=30)
    b.pod(NS, "db-0", [Ctr("postgres", state="waiting", ready=False)], node=None,
          volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": "data-db-0"}}])
    b.event(NS, "Pod", "db-0", "FailedScheduling",
            "0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/3 nodes are available: "
            "3 Preemption is not helpful for scheduling.")
    return {"pod": "db-0", "namespace": NS}


def pvc_target_provisioning_failed(b):
    base(b)
    b.storageclass("standard", default=True)
    b.pvc(NS, "uploads", phase="Pending", storage_class="standard")
    b.event(NS, "PersistentVolumeClaim", "uploads", "ProvisioningFailed",
            "failed to provision volume with StorageClass \"standard\": rpc error: code = ResourceExhausted desc = volume limit exceeded",
            count=12)
    return {"persistentvolumeclaim": "uploads", "namespace": NS, "alertname": "KubePersistentVolumeClaimPending"}


def multi_attach(b):
    base(b)
    b.storageclass("standard", default=True)
    b.pv("pvc-123", claim=(NS, "data-queue-0"))
    b.pvc(NS, "data-queue-0", phase="Bound", volume="pvc-123")
    b.statefulset(NS, "queue", replicas=1, ready=0)
    b.pod(NS, "queue-0", [Ctr("queue", state="waiting", reason="ContainerCreating", ready=False)], owner=("StatefulSet", "queue"),
          volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": "data-queue-0"}}], phase="Pending")
    b.event(NS, "Pod", "queue-0", "FailedAttachVolume",
            'Multi-Attach error for volume "pvc-123" Volume is already exclusively attached to one node and can\'t be attached to another')
    return {"pod": "queue-0", "namespace": NS}


# --- node_not_ready --------------------------------------------------------------------------------------------

def node_target_not_ready(b):
    base(b)
    b.node("node-3", ready="Unknown", reason="NodeStatusUnknown", message="Kubelet stopped posting node status.")
    return {"node": "node-3", "alertname": "KubeNodeNotReady"}


def pod_on_not_ready_node(b):
    base(b)
    b.node("node-3", ready="False", reason="KubeletNotReady", message="container runtime network not ready: NetworkReady=false")
    rs = b.deployment(NS, "inventory", replicas=1, ready=0)
    pod = b.pod(NS, "inventory-7d8f9b456-mmmmm", [Ctr("inventory", ready=True)], owner=("ReplicaSet", rs), node="node-3")
    pod["status"]["conditions"][1]["status"] = "False"  # the node controller marks pods on a NotReady node unready
    b.event(NS, "Pod", "inventory-7d8f9b456-mmmmm", "NodeNotReady", "Node is not ready", type="Warning")
    return {"pod": "inventory-7d8f9b456-mmmmm", "namespace": NS}


# --- node_pressure_eviction --------------------------------------------------------------------------------------

def evicted_pod(b):
    base(b)
    b.node("node-4", pressure={"MemoryPressure": "kubelet has insufficient memory available"})
    b.pod(NS, "batch-7d8f9b456-nnnnn", [Ctr("batch", state="terminated", reason="ContainerStatusUnknown", exit_code=137, ready=False)],
          node="node-4", phase="Failed", reason="Evicted",
          message="The node was low on resource: memory. Threshold quantity: 100Mi, available: 48Mi. "
                  "Container batch was using 3Gi, request is 512Mi, has larger consumption of memory.")
    return {"pod": "batch-7d8f9b456-nnnnn", "namespace": NS}


def node_disk_pressure(b):
    base(b)
    b.node("node-5", pressure={"DiskPressure": "kubelet has disk pressure"})
    b.event("default", "Node", "node-5", "EvictionThresholdMet", "Attempting to reclaim ephemeral-storage")
    return {"node": "node-5", "alertname": "KubeletEvictingPods"}


# --- liveness_probe_failure --------------------------------------------------------------------------------------

def liveness_137(b):
    base(b)
    rs = b.deployment(NS, "profile", replicas=1, ready=0)
    probe = {"httpGet": {"path": "/healthz", "port": 8080}, "timeoutSeconds": 1, "failureThreshold": 3}
    b.pod(NS, "profile-7d8f9b456-ooooo", [crashing("profile", {"reason": "Error", "exitCode": 137}, liveness=probe,
                                                  limits={"memory": "1Gi"})], owner=("ReplicaSet", rs))
    b.event(NS, "Pod", "profile-7d8f9b456-ooooo", "Unhealthy",
            'Liveness probe failed: Get "http://10.0.0.7:8080/healthz": context deadline exceeded', count=15, minutes_ago=1.5)
    b.event(NS, "Pod", "profile-7d8f9b456-ooooo", "Killing", "Container profile failed liveness probe, will be restarted",
            type="Normal", count=5, minutes_ago=1.2)
    b.logs(NS, "profile-7d8f9b456-ooooo", "GC pause 4.2s\nslow request /api/profile 9s\n", container="profile", previous=True)
    return {"pod": "profile-7d8f9b456-ooooo", "namespace": NS}


def liveness_running_again(b):
    base(b)
    probe = {"exec": {"command": ["/bin/check"]}, "timeoutSeconds": 1}
    b.pod(NS, "gateway-0", [Ctr("gateway", restarts=3, last={"reason": "Error", "exitCode": 143}, liveness=probe),
                            Ctr("istio-proxy", image="istio/proxyv2:1.20")])
    b.event(NS, "Pod", "gateway-0", "Unhealthy", "Liveness probe failed: command timed out", count=9, minutes_ago=1.5)
    return {"pod": "gateway-0", "namespace": NS, "container": "gateway"}


# --- readiness_probe_failure --------------------------------------------------------------------------------------

def readiness_pod(b):
    base(b)
    probe = {"httpGet": {"path": "/ready", "port": 8080}, "periodSeconds": 10}
    b.pod(NS, "search-api-0", [Ctr("search-api", ready=False, readiness=probe)])
    b.event(NS, "Pod", "search-api-0", "Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 503", count=40)
    return {"pod": "search-api-0", "namespace": NS}


def readiness_service(b):
    base(b)
    rs = b.deployment(NS, "reco", replicas=2, ready=0)
    b.service(NS, "reco", {"app": "reco"})
    b.endpoints(NS, "reco", ready=0, not_ready=2)
    for s in ("ppppp", "qqqqq"):
        b.pod(NS, f"reco-7d8f9b456-{s}", [Ctr("reco", ready=False, readiness={"tcpSocket": {"port": 9000}})],
              owner=("ReplicaSet", rs), labels={"app": "reco"})
        b.event(NS, "Pod", f"reco-7d8f9b456-{s}", "Unhealthy", "Readiness probe failed: dial tcp 10.0.0.9:9000: connect: connection refused",
                count=30)
    return {"service": "reco", "namespace": NS, "alertname": "ServiceNoEndpoints"}


# --- service_selector_mismatch ------------------------------------------------------------------------------------

def selector_typo(b):
    base(b)
    rs = b.deployment(NS, "payment-service", replicas=2, labels={"app": "payment-service"})
    for s in ("rrrrr", "sssss"):
        b.pod(NS, f"payment-service-7d8f9b456-{s}", [Ctr("app")], owner=("ReplicaSet", rs), labels={"app": "payment-service"})
    b.service(NS, "payment", {"app": "payment-svc"})
    b.endpoints(NS, "payment")
    return {"service": "payment", "namespace": NS, "alertname": "ServiceNoEndpoints"}


def selector_extra_label(b):
    base(b)
    rs = b.deployment(NS, "api", replicas=1, labels={"app": "api", "tier": "web"})
    b.pod(NS, "api-7d8f9b456-ttttt", [Ctr("api")], owner=("ReplicaSet", rs), labels={"app": "api", "tier": "web"})
    b.service(NS, "api-internal", {"app": "api", "tier": "backend"})
    return {"service": "api-internal", "namespace": NS}


# --- dependency_failure ------------------------------------------------------------------------------------------

def dependency_postgres(b):
    base(b)
    b.service(NS, "postgres", {"app": "postgres"}, port=5432)
    b.endpoints(NS, "postgres", ready=0)
    b.statefulset(NS, "postgres", replicas=1, ready=0)
    rs = b.deployment(NS, "accounts", replicas=1, ready=0)
    b.pod(NS, "accounts-7d8f9b456-uuuuu", [crashing("accounts", {"reason": "Error", "exitCode": 1})], owner=("ReplicaSet", rs))
    b.logs(NS, "accounts-7d8f9b456-uuuuu", "connecting to database\n"
           "FATAL: failed to connect to postgres:5432: dial tcp 10.96.4.4:5432: connect: connection refused\n",
           container="accounts", previous=True)
    return {"pod": "accounts-7d8f9b456-uuuuu", "namespace": NS}


def dependency_redis_other_ns(b):
    base(b)
    b.service("cache", "redis", {"app": "redis"}, port=6379)
    b.endpoints("cache", "redis", ready=0, not_ready=1)
    rs = b.deployment(NS, "sessions", replicas=2, ready=0)
    for s in ("vvvvv", "wwwww"):
        b.pod(NS, f"sessions-7d8f9b456-{s}", [crashing("sessions", {"reason": "Error", "exitCode": 1})], owner=("ReplicaSet", rs))
        b.logs(NS, f"sessions-7d8f9b456-{s}", "Error: connect ECONNREFUSED redis.cache.svc.cluster.local:6379\n"
               "    at TCPConnectWrap.afterConnect\n", container="sessions", previous=True)
    return {"deployment": "sessions", "namespace": NS}


# --- dns_failure ----------------------------------------------------------------------------------------------------

def coredns(b, healthy: bool) -> None:
    for i in range(2):
        c = Ctr("coredns") if healthy else crashing("coredns", {"reason": "Error", "exitCode": 1})
        b.pod("kube-system", f"coredns-5d78c9869d-{i}x{i}x{i}", [c], labels={"k8s-app": "kube-dns"})


def dns_no_such_host(b):
    base(b)
    coredns(b, healthy=True)
    b.pod(NS, "notifier-0", [crashing("notifier", {"reason": "Error", "exitCode": 1})])
    b.logs(NS, "notifier-0", "boot\nerror: dial tcp: lookup orders-db on 10.96.0.10:53: no such host\n", container="notifier", previous=True)
    return {"pod": "notifier-0", "namespace": NS}


def dns_coredns_down(b):
    base(b)
    coredns(b, healthy=False)
    rs = b.deployment(NS, "shipping", replicas=1, ready=0)
    b.pod(NS, "shipping-7d8f9b456-xxxxx", [crashing("shipping", {"reason": "Error", "exitCode": 1})], owner=("ReplicaSet", rs))
    b.logs(NS, "shipping-7d8f9b456-xxxxx", "Error: getaddrinfo EAI_AGAIN inventory.shop\n", container="shipping", previous=True)
    return {"deployment": "shipping", "namespace": NS}


# --- autoscaler_at_max ----------------------------------------------------------------------------------------------

def hpa_target(b):
    base(b)
    b.deployment(NS, "web", replicas=10)
    b.hpa(NS, "web", "web", max_replicas=10, current=10, cpu_current=97)
    return {"horizontalpodautoscaler": "web", "namespace": NS, "alertname": "KubeHpaMaxedOut"}


def hpa_via_deployment(b):
    base(b)
    rs = b.deployment(NS, "feed", replicas=4)
    for s in ("yyyyy", "zzzzz"):
        b.pod(NS, f"feed-7d8f9b456-{s}", [Ctr("feed")], owner=("ReplicaSet", rs))
    b.hpa(NS, "feed-hpa", "feed", max_replicas=4, current=4, cpu_target=60, cpu_current=88)
    return {"deployment": "feed", "namespace": NS, "alertname": "HighLatency"}


# --- admission_webhook_failure ----------------------------------------------------------------------------------------

def webhook_unreachable(b):
    base(b)
    b.webhook("policy-validator", "validate.policy.example.com")
    rs = b.deployment(NS, "mailer", replicas=1, ready=0)
    b.event(NS, "ReplicaSet", rs, "FailedCreate",
            'Error creating: Internal error occurred: failed calling webhook "validate.policy.example.com": failed to call webhook: '
            'Post "https://policy-webhook.policy.svc:443/validate?timeout=10s": dial tcp 10.96.3.3:443: connect: connection refused',
            count=11)
    return {"deployment": "mailer", "namespace": NS}


def webhook_denied(b):
    base(b)
    b.webhook("kyverno-resource-validating-webhook-cfg", "validate.kyverno.svc-fail", service=("kyverno", "kyverno-svc"))
    b.statefulset(NS, "kafka", replicas=3, ready=0)
    b.event(NS, "StatefulSet", "kafka", "FailedCreate",
            'create Pod kafka-0 in StatefulSet kafka failed error: admission webhook "validate.kyverno.svc-fail" denied the request: '
            "policy disallow-latest-tag: image tag latest is not allowed")
    return {"statefulset": "kafka", "namespace": NS}


# --- unknown ------------------------------------------------------------------------------------------------------

def healthy_pod(b):
    base(b)
    return {"pod": "frontend-5c6d7e8f9-ax0q0", "namespace": NS}


def missing_pod(b):
    base(b)
    return {"pod": "ghost-7d8f9b456-00000", "namespace": NS}


C = ProblemCategory
SCENARIOS: list[tuple[str, Scenario, C, str, str]] = [
    # id, scenario, category, evidence source contains, evidence detail contains
    ("oom-deployment", oom_deployment, C.OOM_KILLED, "cart-7d8f9b456-bbbbb/status.containerStatuses[cart].lastState", "OOMKilled"),
    ("oom-sidecar", oom_sidecar_statefulset, C.OOM_KILLED, "containerStatuses[search].lastState", "exitCode=137"),
    ("crash-panic", crash_panic, C.APPLICATION_CRASH, "logs/shop/checkout-7d8f9b456-ccccc/checkout (previous)", "nil pointer"),
    ("crash-init", crash_init_container, C.APPLICATION_CRASH, "initContainerStatuses[migrate]", "exitCode=1"),
    ("config-cm", config_missing_configmap, C.MISSING_CONFIG, "configmaps/shop", "billing-config does not exist"),
    ("config-secret-key", config_missing_secret_key, C.MISSING_CONFIG, "containerStatuses[ledger].state.waiting", "couldn't find key DB_URL"),
    ("config-volume", config_missing_volume_source, C.MISSING_CONFIG, "event/shop/Pod/reports-0", "report-templates"),
    ("pull-not-found", pull_not_found, C.IMAGE_PULL_FAILURE, "event/shop/Pod/api-0", "Failed to pull image"),
    ("pull-unauthorized", pull_unauthorized_deployment, C.IMAGE_PULL_FAILURE, "worker-7d8f9b456-ggggg/status.containerStatuses[worker].state.waiting", "unauthorized"),
    ("cmd-not-found", command_not_found, C.INVALID_COMMAND, "lastState.terminated", "no such file or directory"),
    ("cmd-exec-format", exec_format_error, C.INVALID_COMMAND, "logs/shop/resizer-7d8f9b456-hhhhh/resizer (previous)", "exec format error"),
    ("sec-nonroot", run_as_non_root, C.SECURITY_CONTEXT_VIOLATION, "containerStatuses[legacy].state.waiting", "runAsNonRoot"),
    ("sec-psa", pod_security_admission, C.SECURITY_CONTEXT_VIOLATION, "event/shop/ReplicaSet/debugger-7d8f9b456", "violates PodSecurity"),
    ("res-memory", insufficient_memory, C.INSUFFICIENT_RESOURCES, "event/shop/Pod/analytics-0", "2 Insufficient memory"),
    ("res-cpu", insufficient_cpu_deployment, C.INSUFFICIENT_RESOURCES, "spec.containers[*].resources.requests", "cpu=8"),
    ("sched-selector", node_selector_mismatch, C.SCHEDULING_CONSTRAINT, "gpu-job-0/spec.nodeSelector", "a100"),
    ("sched-taint", untolerated_taint, C.SCHEDULING_CONSTRAINT, "event/shop/Pod/cache-0", "untolerated taint {dedicated: infra}"),
    ("quota-cpu", quota_cpu, C.QUOTA_EXCEEDED, "resourcequota/shop/compute-quota/status", "requests.cpu: used 4 of 4"),
    ("quota-pods", quota_pods_job, C.QUOTA_EXCEEDED, "event/shop/Job/nightly-export", "exceeded quota: object-counts"),
    ("vol-pvc-class", pvc_unbound_pod, C.VOLUME_MOUNT_FAILURE, "storageclass/fast-ssd", "not found"),
    ("vol-pvc-target", pvc_target_provisioning_failed, C.VOLUME_MOUNT_FAILURE, "event/shop/PersistentVolumeClaim/uploads", "ResourceExhausted"),
    ("vol-multi-attach", multi_attach, C.VOLUME_MOUNT_FAILURE, "event/shop/Pod/queue-0", "Multi-Attach"),
    ("node-target", node_target_not_ready, C.NODE_NOT_READY, "node/node-3/status.conditions[Ready]", "Kubelet stopped posting"),
    ("node-pod", pod_on_not_ready_node, C.NODE_NOT_READY, "node/node-3/status.conditions[Ready]", "Ready=False"),
    ("evict-pod", evicted_pod, C.NODE_PRESSURE_EVICTION, "pod/shop/batch-7d8f9b456-nnnnn/status.reason", "low on resource: memory"),
    ("evict-node", node_disk_pressure, C.NODE_PRESSURE_EVICTION, "node/node-5/status.conditions[DiskPressure]", "DiskPressure=True"),
    ("live-137", liveness_137, C.LIVENESS_PROBE_FAILURE, "event/shop/Pod/profile-7d8f9b456-ooooo", "Liveness probe failed"),
    ("live-running", liveness_running_again, C.LIVENESS_PROBE_FAILURE, "event/shop/Pod/gateway-0", "Liveness probe failed"),
    ("ready-pod", readiness_pod, C.READINESS_PROBE_FAILURE, "event/shop/Pod/search-api-0", "Readiness probe failed"),
    ("ready-service", readiness_service, C.READINESS_PROBE_FAILURE, "containerStatuses[reco].ready", "ready=false"),
    ("sel-typo", selector_typo, C.SERVICE_SELECTOR_MISMATCH, "service/shop/payment/spec.selector", "app=payment-svc"),
    ("sel-extra", selector_extra_label, C.SERVICE_SELECTOR_MISMATCH, "pod/shop/api-7d8f9b456-ttttt/metadata.labels", "tier=web"),
    ("dep-postgres", dependency_postgres, C.DEPENDENCY_FAILURE, "endpoints/shop/postgres", "0 ready addresses"),
    ("dep-redis", dependency_redis_other_ns, C.DEPENDENCY_FAILURE, "logs/shop/sessions-7d8f9b456-", "ECONNREFUSED"),
    ("dns-host", dns_no_such_host, C.DNS_FAILURE, "logs/shop/notifier-0/notifier (previous)", "no such host"),
    ("dns-coredns", dns_coredns_down, C.DNS_FAILURE, "pods/kube-system?k8s-app=kube-dns", "0/2 cluster DNS pods ready"),
    ("hpa-target", hpa_target, C.AUTOSCALER_AT_MAX, "hpa/shop/web/status.currentReplicas", "currentReplicas=10 maxReplicas=10"),
    ("hpa-deployment", hpa_via_deployment, C.AUTOSCALER_AT_MAX, "hpa/shop/feed-hpa/status.currentMetrics[cpu]", "88%"),
    ("hook-unreachable", webhook_unreachable, C.ADMISSION_WEBHOOK_FAILURE, "validatingwebhookconfiguration/policy-validator", "failurePolicy=Fail"),
    ("hook-denied", webhook_denied, C.ADMISSION_WEBHOOK_FAILURE, "event/shop/StatefulSet/kafka", "denied the request"),
    ("unknown-healthy", healthy_pod, C.UNKNOWN, "pod/shop/frontend-5c6d7e8f9-ax0q0/status", "ready=2/2"),
    ("unknown-missing", missing_pod, C.UNKNOWN, "pod/shop/ghost-7d8f9b456-00000", "not found"),
]


@pytest.mark.parametrize("scenario,category,source,detail", [s[1:] for s in SCENARIOS], ids=[s[0] for s in SCENARIOS])
def test_category_and_evidence(tmp_path: Path, scenario: Scenario, category: C, source: str, detail: str) -> None:
    result = diagnose(tmp_path, scenario)
    rc = result.root_cause
    assert rc is not None and rc.category is category, f"got {rc.category if rc else None}: {rc.description if rc else ''}"
    assert cites(result, source, detail), [f"{e.source} | {e.detail}" for e in rc.evidence]
    assert result.recommendations, "every result recommends something"
    assert result.summary.impact
    assert len(result.steps) <= 10 and all(s.tool_id for s in result.steps)
    if category is not C.UNKNOWN:
        assert result.confidence >= 0.6
        assert all(r.command for r in result.recommendations[:1])


def test_every_category_has_two_scenarios() -> None:
    counts = {c: sum(1 for s in SCENARIOS if s[2] is c) for c in C}
    assert all(n >= 2 for n in counts.values()), {c.value: n for c, n in counts.items() if n < 2}


def test_no_secret_value_reaches_the_result(tmp_path: Path) -> None:
    result = diagnose(tmp_path, config_missing_secret_key)
    text = result.model_dump_json()
    assert "c2VjcmV0LXVzZXI=" not in text and "aHVudGVyMg==" not in text


def test_high_confidence_only_with_direct_evidence(tmp_path: Path) -> None:
    def exit_137_without_reason(b):
        base(b)
        b.pod(NS, "mystery-0", [crashing("m", {"reason": "Error", "exitCode": 137}, limits={"memory": "256Mi"})])
        return {"pod": "mystery-0", "namespace": NS}

    result = diagnose(tmp_path, exit_137_without_reason)
    assert result.root_cause.category is C.OOM_KILLED and result.confidence < 0.85


def test_old_resolved_oom_is_not_the_cause_of_a_readiness_problem(tmp_path: Path) -> None:
    def scenario(b):
        base(b)
        pod = b.pod(NS, "old-0", [Ctr("app", ready=False, restarts=1, last={"reason": "OOMKilled", "exitCode": 137},
                                      readiness={"httpGet": {"path": "/ready", "port": 80}})])
        pod["status"]["containerStatuses"][0]["lastState"]["terminated"]["finishedAt"] = "2024-01-12T10:00:00Z"
        b.event(NS, "Pod", "old-0", "Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 500", count=20)
        return {"pod": "old-0", "namespace": NS}

    result = diagnose(tmp_path, scenario)
    assert result.root_cause.category is C.READINESS_PROBE_FAILURE
