"""Write `kubectl cluster-info dump` directories from code, for rule-engine and reader tests.

The files are laid out and shaped as kubectl writes them (`<ns>/pods.json` as a `PodList` whose items lack
`kind`, combined `logs.txt` with "==== START logs for container …" sections), plus the optional extras the
DumpReader understands. `noise(ns)` adds what real namespaces have: healthy neighbours with several
containers, and old, resolved warning events.
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

NOW = datetime(2024, 1, 15, 14, 30, 15, tzinfo=timezone.utc)


def ago(minutes: float = 0) -> str:
    return (NOW - timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Ctr:
    """One container: its spec and status. state: 'running' | 'waiting' | 'terminated'."""

    name: str
    image: str = "registry.example.com/app:1.0"
    state: str = "running"
    reason: str = ""  # waiting/terminated reason
    message: str = ""
    exit_code: int = 0
    ready: bool = True
    restarts: int = 0
    last: dict[str, Any] | None = None  # lastState.terminated, e.g. {"reason": "OOMKilled", "exitCode": 137}
    limits: dict[str, str] = field(default_factory=dict)
    requests: dict[str, str] = field(default_factory=dict)
    command: list[str] | None = None
    liveness: dict[str, Any] | None = None
    readiness: dict[str, Any] | None = None
    env_from_configmap: str | None = None
    security: dict[str, Any] | None = None
    env: dict[str, str] | None = None  # plain env values (what a pod spec shows)
    ports: list[int] | None = None
    mounts: dict[str, str] | None = None  # volume name → mountPath
    args: list[str] | None = None
    startup: dict[str, Any] | None = None
    since: float = 2  # minutes the running state has lasted
    finished: float = 1  # minutes ago the last termination ended
    runtime: str = "containerd"  # containerID scheme

    def spec(self) -> dict[str, Any]:
        s: dict[str, Any] = {"name": self.name, "image": self.image,
                             "resources": {k: v for k, v in (("limits", self.limits), ("requests", self.requests)) if v}}
        if self.command:
            s["command"] = self.command
        if self.liveness:
            s["livenessProbe"] = self.liveness
        if self.readiness:
            s["readinessProbe"] = self.readiness
        if self.env_from_configmap:
            s["envFrom"] = [{"configMapRef": {"name": self.env_from_configmap}}]
        if self.security:
            s["securityContext"] = self.security
        if self.env:
            s["env"] = [{"name": k, "value": v} for k, v in self.env.items()]
        if self.ports:
            s["ports"] = [{"containerPort": p, "protocol": "TCP"} for p in self.ports]
        if self.mounts:
            s["volumeMounts"] = [{"name": k, "mountPath": v} for k, v in self.mounts.items()]
        if self.args:
            s["args"] = self.args
        if self.startup:
            s["startupProbe"] = self.startup
        return s

    def status(self) -> dict[str, Any]:
        if self.state == "running":
            state = {"running": {"startedAt": ago(self.since)}}
        elif self.state == "waiting":
            state = {"waiting": {"reason": self.reason, **({"message": self.message} if self.message else {})}}
        else:
            state = {"terminated": {"reason": self.reason or "Error", "exitCode": self.exit_code,
                                    "message": self.message, "startedAt": ago(3), "finishedAt": ago(1)}}
        st: dict[str, Any] = {"name": self.name, "image": self.image, "ready": self.ready,
                              "restartCount": self.restarts, "state": state, "lastState": {}}
        if self.state != "waiting" or self.restarts:
            st["containerID"] = f"{self.runtime}://{uuid.uuid5(uuid.NAMESPACE_URL, self.name + self.image).hex}"
        if self.last is not None:
            st["lastState"] = {"terminated": {"startedAt": ago(self.finished + 3), "finishedAt": ago(self.finished),
                                              **self.last}}
        return st


class DumpBuilder:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.ns_objects: dict[str, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
        self.cluster_objects: dict[str, list[dict]] = defaultdict(list)
        self.log_files: dict[Path, str] = {}
        self.raw_files: dict[Path, str] = {}

    # --- generic -------------------------------------------------------------------------------------
    def add(self, plural: str, obj: dict, namespace: str | None = None) -> dict:
        if namespace is None:
            self.cluster_objects[plural].append(obj)
        else:
            obj.setdefault("metadata", {}).setdefault("namespace", namespace)
            self.ns_objects[namespace][plural].append(obj)
        obj["metadata"].setdefault("uid", str(uuid.uuid5(uuid.NAMESPACE_URL, f"{plural}/{namespace}/{obj['metadata']['name']}")))
        obj["metadata"].setdefault("creationTimestamp", ago(60 * 24))
        return obj

    @staticmethod
    def _owner(kind: str, name: str, namespace: str | None, plural: str) -> dict:
        return {"apiVersion": "apps/v1", "kind": kind, "name": name, "controller": True,
                "uid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{plural}/{namespace}/{name}"))}

    # --- cluster-scoped ------------------------------------------------------------------------------
    def node(self, name: str, ready: str = "True", reason: str = "KubeletReady", message: str = "kubelet is posting ready status",
             pressure: dict[str, str] | None = None, taints: list[dict] | None = None, labels: dict | None = None,
             allocatable: dict | None = None) -> dict:
        conditions = [{"type": t, "status": "False", "reason": f"KubeletHasSufficient{t[:-8]}"}
                      for t in ("MemoryPressure", "DiskPressure", "PIDPressure")]
        for ctype, msg in (pressure or {}).items():
            conditions = [c for c in conditions if c["type"] != ctype]
            conditions.append({"type": ctype, "status": "True", "reason": f"KubeletHas{ctype}", "message": msg})
        conditions.append({"type": "Ready", "status": ready, "reason": reason, "message": message,
                           "lastTransitionTime": ago(10)})
        return self.add("nodes", {"metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
                                  "spec": {"taints": taints} if taints else {},
                                  "status": {"conditions": conditions,
                                             "allocatable": allocatable or {"cpu": "4", "memory": "16Gi", "pods": "110"}}})

    def storageclass(self, name: str, default: bool = False, provisioner: str = "ebs.csi.aws.com") -> dict:
        ann = {"storageclass.kubernetes.io/is-default-class": "true"} if default else {}
        return self.add("storageclasses", {"metadata": {"name": name, "annotations": ann}, "provisioner": provisioner})

    def pv(self, name: str, claim: tuple[str, str] | None = None, phase: str = "Bound") -> dict:
        spec = {"claimRef": {"namespace": claim[0], "name": claim[1]}} if claim else {}
        return self.add("persistentvolumes", {"metadata": {"name": name}, "spec": spec, "status": {"phase": phase}})

    def webhook(self, config: str, hook: str, service: tuple[str, str] = ("policy", "policy-webhook"),
                failure_policy: str = "Fail", mutating: bool = False) -> dict:
        plural = "mutatingwebhookconfigurations" if mutating else "validatingwebhookconfigurations"
        return self.add(plural, {"metadata": {"name": config}, "webhooks": [
            {"name": hook, "failurePolicy": failure_policy,
             "clientConfig": {"service": {"namespace": service[0], "name": service[1], "path": "/validate"}}}]})

    # --- workloads -----------------------------------------------------------------------------------
    def deployment(self, ns: str, name: str, replicas: int = 1, ready: int | None = None,
                   labels: dict | None = None, rs_hash: str = "7d8f9b456", conditions: list | None = None) -> str:
        labels = labels or {"app": name}
        ready = replicas if ready is None else ready
        self.add("deployments", {"metadata": {"name": name, "labels": labels},
                                 "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                                          "template": {"metadata": {"labels": labels}}},
                                 "status": {"replicas": replicas, "readyReplicas": ready, "availableReplicas": ready,
                                            "conditions": conditions or []}}, ns)
        rs = f"{name}-{rs_hash}"
        self.add("replicasets", {"metadata": {"name": rs, "labels": {**labels, "pod-template-hash": rs_hash},
                                              "ownerReferences": [self._owner("Deployment", name, ns, "deployments")]},
                                 "spec": {"replicas": replicas}, "status": {"replicas": replicas, "readyReplicas": ready}}, ns)
        return rs

    def statefulset(self, ns: str, name: str, replicas: int = 1, ready: int | None = None) -> str:
        self.add("statefulsets", {"metadata": {"name": name}, "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}}},
                                  "status": {"replicas": replicas, "readyReplicas": replicas if ready is None else ready}}, ns)
        return name

    def daemonset(self, ns: str, name: str, desired: int = 1, ready: int | None = None) -> str:
        self.add("daemonsets", {"metadata": {"name": name}, "spec": {"selector": {"matchLabels": {"app": name}}},
                                "status": {"desiredNumberScheduled": desired, "numberReady": desired if ready is None else ready}}, ns)
        return name

    def job(self, ns: str, name: str, failed: int = 0, succeeded: int = 0, active: int = 0) -> str:
        self.add("jobs", {"metadata": {"name": name}, "spec": {"backoffLimit": 6},
                          "status": {"failed": failed, "succeeded": succeeded, "active": active}}, ns)
        return name

    def pod(self, ns: str, name: str, containers: list[Ctr], *, owner: tuple[str, str] | None = None,
            init: list[Ctr] | None = None, labels: dict | None = None, node: str | None = "node-1",
            phase: str | None = None, reason: str = "", message: str = "", volumes: list[dict] | None = None,
            scheduled: bool | None = None, node_selector: dict | None = None) -> dict:
        all_ready = all(c.ready for c in containers)
        phase = phase or ("Running" if node and all(c.state == "running" or c.restarts for c in containers) else "Pending")
        scheduled = bool(node) if scheduled is None else scheduled
        conditions = [{"type": "PodScheduled", "status": "True" if scheduled else "False",
                       **({} if scheduled else {"reason": "Unschedulable"}), "lastTransitionTime": ago(5)},
                      {"type": "Ready", "status": "True" if all_ready and phase == "Running" else "False",
                       "lastTransitionTime": ago(5)}]
        meta: dict[str, Any] = {"name": name, "labels": labels or {}}
        if owner:
            plural = {"ReplicaSet": "replicasets", "StatefulSet": "statefulsets", "DaemonSet": "daemonsets",
                      "Job": "jobs"}[owner[0]]
            meta["ownerReferences"] = [self._owner(owner[0], owner[1], ns, plural)]
        spec: dict[str, Any] = {"containers": [c.spec() for c in containers]}
        if init:
            spec["initContainers"] = [c.spec() for c in init]
        if node:
            spec["nodeName"] = node
        if volumes:
            spec["volumes"] = volumes
        if node_selector:
            spec["nodeSelector"] = node_selector
        status: dict[str, Any] = {"phase": phase, "conditions": conditions,
                                  "containerStatuses": [c.status() for c in containers]}
        if init:
            status["initContainerStatuses"] = [c.status() for c in init]
        if reason:
            status["reason"], status["message"] = reason, message
        return self.add("pods", {"metadata": meta, "spec": spec, "status": status}, ns)

    # --- the rest ------------------------------------------------------------------------------------
    def event(self, ns: str, kind: str, name: str, reason: str, message: str, *, type: str = "Warning",
              count: int = 1, minutes_ago: float = 1, series: bool = False, first_minutes_ago: float | None = None,
              component: str = "") -> dict:
        """series=True writes it as events.k8s.io writers (the scheduler, since 1.19) show in core/v1: no
        first/lastTimestamp, an eventTime (the first occurrence) and series.lastObservedTime (the latest)."""
        first = first_minutes_ago if first_minutes_ago is not None else minutes_ago + 5
        obj: dict[str, Any] = {"metadata": {"name": f"{name}.{uuid.uuid4().hex[:12]}"},
                               "involvedObject": {"kind": kind, "name": name, "namespace": ns},
                               "reason": reason, "message": message, "type": type}
        if series:
            obj.update({"firstTimestamp": None, "lastTimestamp": None, "count": None,
                        "eventTime": (NOW - timedelta(minutes=first)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                        "series": {"count": count, "lastObservedTime": (NOW - timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")} if count > 1 else None,
                        "reportingComponent": component or "default-scheduler", "source": {}, "action": "Scheduling"})
        else:
            obj.update({"count": count, "firstTimestamp": ago(first), "lastTimestamp": ago(minutes_ago),
                        "source": {"component": component or "kubelet"}})
        return self.add("events", obj, ns)

    def service(self, ns: str, name: str, selector: dict | None, port: int = 80) -> dict:
        return self.add("services", {"metadata": {"name": name},
                                     "spec": {"selector": selector, "ports": [{"port": port, "targetPort": port}]}}, ns)

    def endpoints(self, ns: str, name: str, ready: int = 0, not_ready: int = 0) -> dict:
        subset: dict[str, Any] = {}
        if ready:
            subset["addresses"] = [{"ip": f"10.0.0.{i + 1}"} for i in range(ready)]
        if not_ready:
            subset["notReadyAddresses"] = [{"ip": f"10.0.1.{i + 1}"} for i in range(not_ready)]
        return self.add("endpoints", {"metadata": {"name": name}, "subsets": [subset] if subset else []}, ns)

    def pvc(self, ns: str, name: str, phase: str = "Bound", storage_class: str | None = "standard",
            volume: str = "") -> dict:
        spec: dict[str, Any] = {"resources": {"requests": {"storage": "10Gi"}}, "accessModes": ["ReadWriteOnce"]}
        if storage_class is not None:
            spec["storageClassName"] = storage_class
        if volume:
            spec["volumeName"] = volume
        return self.add("persistentvolumeclaims", {"metadata": {"name": name}, "spec": spec, "status": {"phase": phase}}, ns)

    def quota(self, ns: str, name: str, hard: dict, used: dict) -> dict:
        return self.add("resourcequotas", {"metadata": {"name": name}, "spec": {"hard": hard},
                                           "status": {"hard": hard, "used": used}}, ns)

    def hpa(self, ns: str, name: str, target: str, max_replicas: int, current: int, cpu_target: int = 70,
            cpu_current: int | None = 95, limited: bool = True) -> dict:
        status: dict[str, Any] = {"currentReplicas": current, "desiredReplicas": current}
        if cpu_current is not None:
            status["currentMetrics"] = [{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": cpu_current}}}]
        if limited and current >= max_replicas:
            status["conditions"] = [{"type": "ScalingLimited", "status": "True", "reason": "TooManyReplicas",
                                     "message": "the desired replica count is more than the maximum replica count"}]
        return self.add("horizontalpodautoscalers", {"metadata": {"name": name}, "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
            "minReplicas": 1, "maxReplicas": max_replicas,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": cpu_target}}}]},
            "status": status}, ns)

    def limitrange(self, ns: str, name: str, *limits: dict) -> dict:
        return self.add("limitranges", {"metadata": {"name": name}, "spec": {"limits": list(limits)}}, ns)

    def networkpolicy(self, ns: str, name: str, pod_selector: dict, ingress: list | None = None,
                      egress: list | None = None) -> dict:
        """podSelector is matchLabels; ingress/egress None = that direction is not governed, [] = deny all."""
        spec: dict[str, Any] = {"podSelector": {"matchLabels": pod_selector} if pod_selector else {}, "policyTypes": []}
        if ingress is not None:
            spec["policyTypes"].append("Ingress")
            spec["ingress"] = ingress
        if egress is not None:
            spec["policyTypes"].append("Egress")
            spec["egress"] = egress
        return self.add("networkpolicies", {"metadata": {"name": name}, "spec": spec}, ns)

    def configmap(self, ns: str, name: str, data: dict[str, str]) -> dict:
        return self.add("configmaps", {"metadata": {"name": name}, "data": data}, ns)

    def secret(self, ns: str, name: str, data: dict[str, str]) -> dict:
        return self.add("secrets", {"metadata": {"name": name}, "data": data, "type": "Opaque"}, ns)

    def logs(self, ns: str, pod: str, text: str, container: str | None = None, previous: bool = False,
             combined: bool = True) -> None:
        """Combined (kubectl's logs.txt with sections) by default; combined=False writes <pod>/<container>/logs.txt."""
        fname = "logs-previous.txt" if previous else "logs.txt"
        if combined or container is None:
            path = self.root / ns / pod / fname
            section = text if container is None else (f"==== START logs for container {container} of pod {ns}/{pod} ====\n"
                                                      f"{text.rstrip()}\n==== END logs for container {container} of pod {ns}/{pod} ====\n")
            self.log_files[path] = self.log_files.get(path, "") + section
        else:
            self.log_files[self.root / ns / pod / container / fname] = text

    def raw(self, relpath: str, text: str) -> None:
        self.raw_files[self.root / relpath] = text

    def noise(self, ns: str) -> None:
        """Healthy multi-container neighbours and old, resolved warnings: what every real namespace has."""
        rs = self.deployment(ns, "frontend", replicas=2, rs_hash="5c6d7e8f9")
        for i in range(2):
            pod = f"frontend-5c6d7e8f9-{'abcde'[i]}x{i}q{i}"
            self.pod(ns, pod, [Ctr("web", requests={"cpu": "100m", "memory": "128Mi"}),
                               Ctr("envoy", image="envoyproxy/envoy:v1.29")], owner=("ReplicaSet", rs),
                     labels={"app": "frontend"}, node="node-2")
            self.logs(ns, pod, "GET / 200\nGET /health 200\n", container="web")
        self.service(ns, "frontend", {"app": "frontend"})
        self.endpoints(ns, "frontend", ready=2)
        self.event(ns, "Pod", "frontend-5c6d7e8f9-ax0q0", "Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 503",
                   minutes_ago=60 * 26, count=3)
        self.event(ns, "Pod", "frontend-5c6d7e8f9-bx1q1", "BackOff", "Back-off restarting failed container",
                   minutes_ago=60 * 30)
        self.event(ns, "Pod", "frontend-5c6d7e8f9-bx1q1", "Pulled", "Container image already present on machine",
                   type="Normal", minutes_ago=2)

    # --- output --------------------------------------------------------------------------------------
    def write(self) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        files = {"nodes": self.cluster_objects.get("nodes", [])}
        files.update({k: v for k, v in self.cluster_objects.items() if k != "nodes"})
        for plural, items in files.items():
            self._write_list(self.root / f"{plural}.json", plural, items)
        for ns, kinds in self.ns_objects.items():
            for plural in ("events", "pods", "services", "deployments", "replicasets", "daemonsets"):
                kinds.setdefault(plural, [])
            for plural, items in kinds.items():
                fname = "replication-controllers" if plural == "replicationcontrollers" else plural
                self._write_list(self.root / ns / f"{fname}.json", plural, items)
        for path, text in {**self.log_files, **self.raw_files}.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        return self.root

    @staticmethod
    def _write_list(path: Path, plural: str, items: list[dict]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        kind = {"endpoints": "Endpoints", "events": "Event"}.get(plural, plural[:-1].capitalize())
        path.write_text(json.dumps({"kind": f"{kind}List", "apiVersion": "v1", "metadata": {"resourceVersion": "1"},
                                    "items": items}, indent=1))


def alert_payload(labels: dict[str, str], alertname: str = "KubePodCrashLooping") -> dict[str, Any]:
    """An Alertmanager v4 webhook payload with one firing alert."""
    return {"version": "4", "status": "firing", "receiver": "aetherius", "groupKey": "{}:{}",
            "groupLabels": {"alertname": alertname}, "commonLabels": {}, "commonAnnotations": {},
            "externalURL": "http://alertmanager:9093",
            "alerts": [{"status": "firing", "labels": {"alertname": alertname, **labels},
                        "annotations": {"summary": "test"}, "startsAt": ago(3), "fingerprint": "abc123"}]}
