"""Regenerate the demo's bundled incident: three clusters' `kubectl cluster-info dump` directories and the
Alertmanager payloads that fire in them. Development-time only (it uses the tests' dump builder); its
output under deploy/demo/clusters and deploy/demo/alerts is committed and is what `aetherius demo` replays.

    python deploy/demo/generate.py
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

from tests.dumpkit import Ctr, DumpBuilder, ago  # noqa: E402

PAYMENT_POD = "payment-service-7d8f9b456-xyz12"


def payment_service(b: DumpBuilder) -> None:
    """SRS §3.4: payment-service's memory limit (256Mi) is too low -> OOMKilled, exit 137, CrashLoopBackOff."""
    rs = b.deployment("ecommerce", "payment-service", replicas=3, ready=2)
    b.pod("ecommerce", PAYMENT_POD, [Ctr("payment-service", state="waiting", reason="CrashLoopBackOff",
                                         message="back-off 5m0s", ready=False, restarts=6,
                                         last={"reason": "OOMKilled", "exitCode": 137},
                                         limits={"memory": "256Mi", "cpu": "500m"}, requests={"memory": "256Mi"})],
          owner=("ReplicaSet", rs), labels={"app": "payment-service"})
    b.pod("ecommerce", "payment-service-7d8f9b456-abc34", [Ctr("payment-service", limits={"memory": "256Mi"})],
          owner=("ReplicaSet", rs), labels={"app": "payment-service"})
    b.event("ecommerce", "Pod", PAYMENT_POD, "BackOff", "Back-off restarting failed container payment-service", count=12)
    b.logs("ecommerce", PAYMENT_POD, "payment batch 1200 started\njava.lang.OutOfMemoryError: Java heap space\n",
           container="payment-service", previous=True)
    b.service("ecommerce", "payment-service", {"app": "payment-service"}, port=8080)
    b.endpoints("ecommerce", "payment-service", ready=1, not_ready=1)


def accounts_needs_postgres(b: DumpBuilder) -> None:
    b.service("shop", "postgres", {"app": "postgres"}, port=5432)
    b.endpoints("shop", "postgres", ready=0)
    b.statefulset("shop", "postgres", replicas=1, ready=0)
    rs = b.deployment("shop", "accounts", replicas=1, ready=0)
    b.pod("shop", "accounts-7d8f9b456-uuuuu", [Ctr("accounts", state="waiting", reason="CrashLoopBackOff",
                                                    message="back-off 2m40s restarting failed container", ready=False,
                                                    restarts=5, last={"reason": "Error", "exitCode": 1})],
          owner=("ReplicaSet", rs), labels={"app": "accounts"})
    b.logs("shop", "accounts-7d8f9b456-uuuuu", "connecting to database\nFATAL: failed to connect to postgres:5432: "
           "dial tcp 10.96.4.4:5432: connect: connection refused\n", container="accounts", previous=True)


def db_claim_pending(b: DumpBuilder) -> None:
    b.storageclass("standard", default=True)
    b.pvc("shop", "data-db-0", phase="Pending", storage_class="fast-ssd")
    b.event("shop", "PersistentVolumeClaim", "data-db-0", "ProvisioningFailed",
            'storageclass.storage.k8s.io "fast-ssd" not found', count=30)
    b.pod("shop", "db-0", [Ctr("postgres", state="waiting", ready=False)], node=None,
          volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": "data-db-0"}}])
    b.event("shop", "Pod", "db-0", "FailedScheduling", "0/3 nodes are available: pod has unbound immediate "
            "PersistentVolumeClaims. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.")


def api_image_missing(b: DumpBuilder) -> None:
    b.pod("shop", "api-0", [Ctr("api", image="registry.example.com/api:v9.9.9", state="waiting", reason="ImagePullBackOff",
                                message='Back-off pulling image "registry.example.com/api:v9.9.9"', ready=False)])
    b.event("shop", "Pod", "api-0", "Failed", 'Failed to pull image "registry.example.com/api:v9.9.9": not found', count=4)


CLUSTERS = {"prod-eu": accounts_needs_postgres, "prod-us": db_claim_pending, "staging": api_image_missing}


def payload(cluster: str, alertname: str, severity: str, namespace: str, pod: str, summary: str) -> dict:
    labels = {"alertname": alertname, "cluster_id": cluster, "namespace": namespace, "pod": pod, "severity": severity}
    return {"version": "4", "status": "firing", "receiver": "aetherius", "groupKey": f'{{}}:{{alertname="{alertname}"}}',
            "truncatedAlerts": 0, "groupLabels": {"alertname": alertname}, "commonLabels": labels,
            "commonAnnotations": {"summary": summary}, "externalURL": f"http://alertmanager.{cluster}:9093",
            "alerts": [{"status": "firing", "labels": labels, "annotations": {"summary": summary},
                        "startsAt": ago(3), "endsAt": "0001-01-01T00:00:00Z",
                        "generatorURL": f"http://prometheus.{cluster}:9090/graph"}]}


def main() -> None:
    clusters_dir, alerts_dir = HERE / "clusters", HERE / "alerts"
    shutil.rmtree(clusters_dir, ignore_errors=True)
    shutil.rmtree(alerts_dir, ignore_errors=True)
    alerts_dir.mkdir(parents=True)
    for cluster, extra in CLUSTERS.items():
        b = DumpBuilder(clusters_dir / cluster)
        b.node("node-1")
        b.node("node-2")
        payment_service(b)
        extra(b)
        b.noise("ecommerce")
        b.noise("shop")
        b.write()
    alerts = [
        # The same alert in three clusters: two tasks, then one cross-cluster incident and its task.
        *(payload(c, "KubePodCrashLooping", "critical", "ecommerce", PAYMENT_POD,
                  "payment-service is crash looping") for c in ("prod-eu", "prod-us", "staging")),
        payload("prod-eu", "KubePodCrashLooping", "warning", "shop", "accounts-7d8f9b456-uuuuu", "accounts is crash looping"),
        payload("prod-us", "KubePodNotReady", "warning", "shop", "db-0", "db-0 has not been ready for 15 minutes"),
        payload("staging", "KubePodNotReady", "warning", "shop", "api-0", "api-0 has not been ready for 15 minutes"),
        # Alertmanager's repeat notification of an alert already being diagnosed: deduplicated.
        payload("prod-eu", "KubePodCrashLooping", "warning", "shop", "accounts-7d8f9b456-uuuuu", "accounts is crash looping"),
    ]
    for i, body in enumerate(alerts, 1):
        (alerts_dir / f"{i:02d}-{body['commonLabels']['cluster_id']}-{body['commonLabels']['alertname']}.json").write_text(
            json.dumps(body, indent=2) + "\n")
    print(f"wrote {len(CLUSTERS)} cluster dumps and {len(alerts)} alert payloads under {HERE}")


if __name__ == "__main__":
    main()
