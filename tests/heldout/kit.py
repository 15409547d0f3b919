"""A cluster-dump writer for the held-out incident sets, independent of the project's own corpus kit.

Why a second writer: the held-out sets must not share the corpus generator's simplifications, or they would
test the corpus, not the cluster. This one writes what a collector running `kubectl cluster-info dump
--all-namespaces --output-directory=DIR` plus `kubectl get <kind> -A -o json` for the extra kinds the reader
accepts would leave: typed lists without `kind` on items, kubelet/controller events in core/v1 form and
scheduler events in events.k8s.io form (eventTime + series, no first/lastTimestamp), combined `logs.txt` with
kubectl's section markers for every container of every pod (including the "waiting to start" errors),
system namespaces (CNI, kube-proxy, CoreDNS or kube-dns, CSI, metrics-server, kube-prometheus-stack) and
healthy neighbours. Endpoints, workload status and QoS are derived from the pods, so they cannot disagree.

Everything is deterministic (seeded RNG, uuid5), so a set can be frozen by digest.
"""

from __future__ import annotations

import copy
import hashlib
import json
import random
import uuid
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

NOW = datetime(2025, 6, 3, 9, 41, 27, tzinfo=timezone.utc)


def ts(minutes_ago: float) -> str:
    return (NOW - timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def ts_micro(minutes_ago: float) -> str:
    return (NOW - timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def logtime(minutes_ago: float, fmt: str = "iso") -> str:
    t = NOW - timedelta(minutes=minutes_ago)
    if fmt == "iso":
        return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"
    if fmt == "clf":
        return t.strftime("%d/%b/%Y:%H:%M:%S +0000")
    if fmt == "py":
        return t.strftime("%Y-%m-%d %H:%M:%S,") + f"{t.microsecond // 1000:03d}"
    if fmt == "go":
        return t.strftime("%Y/%m/%d %H:%M:%S")
    if fmt == "klog":
        return t.strftime("%m%d %H:%M:%S.") + f"{t.microsecond:06d}"
    raise ValueError(fmt)


def _uid(*parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "heldout/" + "/".join(parts)))


def _hex(seed: str, n: int) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()[:n]


_SAFE = "bcdfghjklmnpqrstvwxz2456789"  # k8s.io/apimachinery rand.SafeEncodeString's alphabet


def _safe(seed: str, n: int) -> str:
    digest = hashlib.sha256(seed.encode()).digest()
    return "".join(_SAFE[b % len(_SAFE)] for b in digest[:n])


# ------------------------------------------------------------------------------------------------ containers
@dataclass
class C:
    """A container: its spec and its status. state: running | waiting | terminated."""

    name: str
    image: str
    state: str = "running"
    reason: str = ""
    message: str = ""
    exit_code: int = 0
    ready: bool | None = None  # None: ready when running (and no readiness trouble)
    restarts: int = 0
    last: dict[str, Any] | None = None  # lastState.terminated fields + "ago" (minutes)
    started_ago: float = 60 * 24 * 3
    ports: list[tuple[str, int]] | None = None  # (name, containerPort)
    env: dict[str, str] | None = None
    env_from: list[dict] | None = None
    env_refs: list[dict] | None = None  # raw env entries (valueFrom)
    mounts: list[tuple[str, str]] | None = None  # (volume, mountPath)
    requests: dict[str, str] | None = None
    limits: dict[str, str] | None = None
    command: list[str] | None = None
    args: list[str] | None = None
    liveness: dict | None = None
    readiness: dict | None = None
    startup: dict | None = None
    security: dict | None = None
    stack: str = "generic"  # healthy-log flavour
    pull_policy: str = "IfNotPresent"

    def spec(self) -> dict[str, Any]:
        s: dict[str, Any] = {"name": self.name, "image": self.image, "imagePullPolicy": self.pull_policy,
                             "resources": {}, "terminationMessagePath": "/dev/termination-log",
                             "terminationMessagePolicy": "File"}
        if self.requests:
            s["resources"]["requests"] = dict(self.requests)
        if self.limits:
            s["resources"]["limits"] = dict(self.limits)
        if self.command:
            s["command"] = list(self.command)
        if self.args:
            s["args"] = list(self.args)
        if self.ports:
            s["ports"] = [{"name": n, "containerPort": p, "protocol": "TCP"} if n else {"containerPort": p, "protocol": "TCP"}
                          for n, p in self.ports]
        env: list[dict] = [{"name": k, "value": v} for k, v in (self.env or {}).items()]
        env += list(self.env_refs or [])
        if env:
            s["env"] = env
        if self.env_from:
            s["envFrom"] = list(self.env_from)
        mounts = [{"name": v, "mountPath": p} for v, p in (self.mounts or [])]
        s["volumeMounts"] = mounts + [{"name": "kube-api-access", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
                                       "readOnly": True}]
        for key, probe in (("livenessProbe", self.liveness), ("readinessProbe", self.readiness), ("startupProbe", self.startup)):
            if probe:
                s[key] = {"failureThreshold": 3, "periodSeconds": 10, "successThreshold": 1, "timeoutSeconds": 1, **probe}
        if self.security:
            s["securityContext"] = dict(self.security)
        return s

    def is_ready(self) -> bool:
        if self.ready is not None:
            return self.ready
        return self.state == "running"

    def status(self, runtime: str, pod_key: str) -> dict[str, Any]:
        if self.state == "running":
            state = {"running": {"startedAt": ts(self.started_ago)}}
        elif self.state == "waiting":
            state = {"waiting": {"reason": self.reason or "ContainerCreating", **({"message": self.message} if self.message else {})}}
        else:
            state = {"terminated": {"exitCode": self.exit_code, "reason": self.reason or ("Completed" if self.exit_code == 0 else "Error"),
                                    "startedAt": ts(self.started_ago), "finishedAt": ts(max(self.started_ago - 1, 0)),
                                    "containerID": f"{runtime}://{_hex(pod_key + self.name + 'cur', 64)}",
                                    **({"message": self.message} if self.message else {})}}
        image_ref = self.image if "/" in self.image.split(":")[0] or "." in self.image.split("/")[0] else f"docker.io/library/{self.image}"
        repo = image_ref.rsplit(":", 1)[0] if ":" in image_ref.split("/")[-1] else image_ref
        st: dict[str, Any] = {"name": self.name, "state": state, "lastState": {}, "ready": self.is_ready(),
                              "restartCount": self.restarts, "image": self.image,
                              "imageID": "" if self.state == "waiting" and self.reason in ("ErrImagePull", "ImagePullBackOff", "InvalidImageName",
                                                                                           "ContainerCreating", "ErrImageNeverPull") and not self.restarts
                              else f"{repo}@sha256:{_hex(self.image, 64)}",
                              "started": self.state == "running"}
        if not (self.state == "waiting" and not self.restarts and not self.last):
            st["containerID"] = f"{runtime}://{_hex(pod_key + self.name, 64)}"
        if self.last:
            last = dict(self.last)
            ago = last.pop("ago", 1.0)
            dur = last.pop("ran", 0.5)
            last.setdefault("reason", "Error" if last.get("exitCode", 1) else "Completed")
            st["lastState"] = {"terminated": {"exitCode": last.pop("exitCode", 1), **last,
                                              "startedAt": ts(ago + dur), "finishedAt": ts(ago),
                                              "containerID": f"{runtime}://{_hex(pod_key + self.name + 'prev', 64)}"}}
        return st


def crashloop(c: C, last_reason: str, exit_code: int, restarts: int, ago: float = 1.0, ran: float = 0.3, message: str = "") -> C:
    """The container in CrashLoopBackOff after `restarts` restarts, its last run ended `ago` minutes ago."""
    last = {"exitCode": exit_code, "reason": last_reason, "ago": ago, "ran": ran}
    if message:
        last["message"] = message
    return replace(c, state="waiting", reason="CrashLoopBackOff", ready=False, restarts=restarts,
                   message=f"back-off {'5m0s' if restarts > 5 else '2m40s'} restarting failed container={c.name} pod=@POD@",
                   last=last)


# ------------------------------------------------------------------------------------------------ healthy logs
def healthy_log(stack: str, name: str, port: int = 8080, minutes: float = 30, lines: int = 6) -> str:
    out = []
    step = minutes / max(lines, 1)
    for i in range(lines):
        m = minutes - i * step
        if stack == "java":
            out.append(f"{logtime(m)}  INFO 1 --- [nio-{port}-exec-{i % 9 + 1}] o.s.web.servlet.DispatcherServlet        : Completed initialization in 2 ms"
                       if i == 0 else f"{logtime(m)}  INFO 1 --- [nio-{port}-exec-{i % 9 + 1}] c.a.{name.replace('-', '')}.web.RequestLogger : GET /actuator/health/readiness 200 3ms")
        elif stack == "go":
            out.append(json.dumps({"level": "info", "ts": logtime(m), "caller": "server/http.go:88", "msg": "request",
                                   "method": "GET", "path": "/healthz", "status": 200, "duration_ms": round(0.3 + i * 0.07, 2)}))
        elif stack == "node":
            out.append(json.dumps({"level": 30, "time": int((NOW - timedelta(minutes=m)).timestamp() * 1000), "pid": 1,
                                   "hostname": name, "req": {"method": "GET", "url": "/health"}, "res": {"statusCode": 200},
                                   "responseTime": 2 + i % 3, "msg": "request completed"}))
        elif stack == "python":
            out.append(f'10.{(i * 7) % 250}.1.{i + 10} - - [{logtime(m, "clf")}] "GET /healthz HTTP/1.1" 200 2 "-" "kube-probe/1.29"')
        elif stack == "ruby":
            out.append(f'I, [{logtime(m)} #1]  INFO -- : [{_hex(name + str(i), 8)}] Started GET "/up" for 10.0.{i}.1 at {logtime(m)}')
        elif stack == "dotnet":
            out.append("info: Microsoft.AspNetCore.Hosting.Diagnostics[2]\n      Request finished HTTP/1.1 GET http://10.0.0.1:8080/healthz - 200 - text/plain 1.2ms")
        elif stack == "rust":
            out.append(f"{logtime(m)}  INFO tower_http::trace::on_response: finished processing request latency=1 ms status=200")
        elif stack == "nginx":
            out.append(f'10.0.{i}.12 - - [{logtime(m, "clf")}] "GET / HTTP/1.1" 200 615 "-" "kube-probe/1.29" "-"')
        elif stack == "envoy":
            out.append(f"{logtime(m)}\tinfo\txdsproxy\tconnected to delta upstream XDS server: istiod.istio-system.svc:15012\tid={i + 3}"
                       if i % 2 == 0 else
                       f"{logtime(m)}\twarning\tenvoy config external/envoy/source/extensions/config_subscription/grpc/grpc_stream.h:152\t"
                       f"StreamAggregatedResources gRPC config stream to xds-grpc closed since 1832s ago: 13, \tthread=15")
        elif stack == "fluentbit":
            out.append(f"[{logtime(m, 'go').replace('/', '/')}] [ info] [input:tail:tail.0] inotify_fs_add(): inode={4198012 + i} watch_fd={i + 1} name=/var/log/containers/app-{i}.log"
                       if i % 2 == 0 else f"[{logtime(m, 'go')}] [ warn] [engine] failed to flush chunk '1-1748{i}.flb', retry in 9 seconds: task_id=0, input=tail.0 > output=es.0 (out_id=0)")
        elif stack == "redis":
            out.append(f"1:M {(NOW - timedelta(minutes=m)).strftime('%d %b %Y %H:%M:%S.000')} * 100 changes in 300 seconds. Saving...")
        elif stack == "postgres":
            out.append(f"{(NOW - timedelta(minutes=m)).strftime('%Y-%m-%d %H:%M:%S.000 UTC')} [{40 + i}] LOG:  checkpoint complete: wrote {12 + i} buffers (0.1%)")
        elif stack == "coredns":
            if i == 0:
                out.extend([".:53", "[INFO] plugin/reload: Running configuration SHA512 = " + _hex(name, 64) + _hex(name + "2", 64),
                            "CoreDNS-1.11.1", "linux/amd64, go1.21.11, ae2bbc2"])
            else:
                out.append(f'[INFO] 10.244.{i}.{17 + i}:{40000 + i * 97} - {1000 + i * 13} "A IN catalog.shop.svc.cluster.local. udp 48 false 512" NOERROR qr,aa,rd 104 0.000{i + 1}21s')
        else:
            out.append(f"{logtime(m)} level=info msg=\"ok\" component={name}")
    return "\n".join(out) + "\n"


# ------------------------------------------------------------------------------------------------ flavours
FLAVOURS = {
    "eks": dict(region="us-east-1", zones=["us-east-1a", "us-east-1b", "us-east-1c"], os="Amazon Linux 2023.4.20240611",
                kernel="6.1.92-99.174.amzn2023.x86_64", kubelet_suffix="-eks-036c24b", instance="m5.xlarge"),
    "gke": dict(region="europe-west1", zones=["europe-west1-b", "europe-west1-c", "europe-west1-d"], os="Container-Optimized OS from Google",
                kernel="6.1.85+", kubelet_suffix="-gke.1014001", instance="e2-standard-4"),
    "aks": dict(region="westeurope", zones=["westeurope-1", "westeurope-2", "westeurope-3"], os="Ubuntu 22.04.4 LTS",
                kernel="5.15.0-1064-azure", kubelet_suffix="", instance="Standard_D4s_v3"),
    "onprem": dict(region="dc1", zones=["rack-a", "rack-b", "rack-c"], os="Ubuntu 22.04.4 LTS", kernel="5.15.0-107-generic",
                   kubelet_suffix="", instance="vm-8c32g"),
    "openshift": dict(region="dc2", zones=["zone-1", "zone-2", "zone-3"], os="Red Hat Enterprise Linux CoreOS 415.92.202405201956-0 (Plow)",
                      kernel="5.14.0-284.67.1.el9_2.x86_64", kubelet_suffix="+4ae1ed5", instance="vm-16c64g"),
}
RUNTIME_VERSION = {"containerd": "containerd://1.7.13", "cri-o": "cri-o://1.28.4-5.rhaos4.15.git1c6ee8e.el9"}


@dataclass
class Node:
    name: str
    ip: str
    zone: str
    pod_cidr: str
    obj: dict
    next_ip: int = 10


class Cluster:
    """One cluster's objects; `write(dir)` lays them out as a cluster-info dump."""

    def __init__(self, seed: str, flavor: str = "eks", k8s: str = "1.29.4", runtime: str | None = None, workers: int = 3,
                 name: str = "prod", dns: str | None = None, cp_nodes: int | None = None, worker_names: list[str] | None = None,
                 pools: list[dict] | None = None) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.flavor = flavor
        self.f = FLAVOURS[flavor]
        self.k8s = k8s
        self.minor = int(k8s.split(".")[1])
        self.runtime = runtime or ("cri-o" if flavor == "openshift" else "containerd")
        self.name = name
        self.ns: dict[str, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
        self.cluster: dict[str, list[dict]] = defaultdict(list)
        self.logs: dict[tuple[str, str], dict[str, list[str | None]]] = defaultdict(dict)
        self.nodes: dict[str, Node] = {}
        self.pods: dict[tuple[str, str], dict] = {}
        self._ip_pool = 0
        self.svc_ip_n = 10
        self.probe_ua = f"kube-probe/1.{self.minor}"
        self.workers: list[str] = []
        self.cp: list[str] = []
        cp_nodes = cp_nodes if cp_nodes is not None else (1 if flavor in ("onprem",) else (3 if flavor == "openshift" else 0))
        for i in range(cp_nodes):
            self.cp.append(self.add_node(role="control-plane", index=i))
        for i in range(workers):
            wn = worker_names[i] if worker_names and i < len(worker_names) else None
            self.workers.append(self.add_node(index=i, name=wn))
        for j, pool in enumerate(pools or []):
            self.workers.append(self.add_node(index=workers + j, **pool))
        self.dns_kind = dns or ("kube-dns" if flavor == "gke" else "coredns")
        self._system()

    # -------------------------------------------------------------------------------- naming
    def _node_name(self, role: str, index: int, pool: str = "") -> tuple[str, str]:
        r = self.rng
        if self.flavor == "eks":
            ip = f"10.0.{r.choice([3, 17, 34, 48, 66, 81, 99])}.{r.randint(5, 250)}"
            return f"ip-{ip.replace('.', '-')}.ec2.internal", ip
        if self.flavor == "gke":
            ip = f"10.132.0.{r.randint(5, 250)}"
            return f"gke-{self.name}-{pool or 'default-pool'}-{_hex(self.seed + pool, 8)}-{_hex(self.seed + str(index) + pool, 4)}", ip
        if self.flavor == "aks":
            ip = f"10.224.0.{r.randint(4, 250)}"
            return f"aks-{pool or 'nodepool1'}-{int(_hex(self.seed + pool, 7), 16) % 90000000 + 10000000}-vmss{index:06d}", ip
        if self.flavor == "openshift":
            ip = f"192.168.111.{r.randint(20, 250)}"
            return (f"master-{index}.ocp4.example.lab" if role == "control-plane" else f"worker-{index}.ocp4.example.lab"), ip
        ip = f"172.16.20.{r.randint(10, 250)}"
        return (f"k8s-cp-{index + 1:02d}" if role == "control-plane" else f"k8s-worker-{index + 1:02d}"), ip

    def add_node(self, role: str = "worker", index: int | None = None, pool: str = "", ready: bool = True,
                 allocatable: dict | None = None, labels: dict | None = None, taints: list | None = None,
                 instance: str | None = None, zone: str | None = None, name: str | None = None, ip: str | None = None) -> str:
        index = len(self.nodes) if index is None else index
        if name:
            gen_name, gen_ip = self._node_name(role, index + (10 if pool else 0), pool)
            if ip is None:
                ip = name[3:].split(".")[0].replace("-", ".") if name.startswith("ip-") else gen_ip
        else:
            name, ip = self._node_name(role, index + (10 if pool else 0), pool)
            while name in self.nodes:
                name, ip = self._node_name(role, index + 17, pool)
        zone = zone or self.f["zones"][index % len(self.f["zones"])]
        n_index = len(self.nodes)
        cidr = f"10.{244 if self.flavor != 'gke' else 8}.{n_index}.0/24"
        alloc = allocatable or {"cpu": "3920m", "memory": "14902Mi", "pods": "58" if self.flavor == "eks" else "110",
                                "ephemeral-storage": "76224326324", "hugepages-1Gi": "0", "hugepages-2Mi": "0"}
        cap = {**alloc, "cpu": str(-(-int(alloc["cpu"].rstrip("m")) // 1000)) if alloc["cpu"].endswith("m") else alloc["cpu"]}
        lab = {"beta.kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
               "kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
               "node.kubernetes.io/instance-type": instance or self.f["instance"],
               "topology.kubernetes.io/region": self.f["region"], "topology.kubernetes.io/zone": zone}
        if self.flavor == "eks":
            lab.update({"eks.amazonaws.com/nodegroup": pool or "general-2024", "eks.amazonaws.com/capacityType": "ON_DEMAND",
                        "eks.amazonaws.com/nodegroup-image": "ami-0b5eea76982371e91", "topology.ebs.csi.aws.com/zone": zone})
        elif self.flavor == "gke":
            lab.update({"cloud.google.com/gke-nodepool": pool or "default-pool", "cloud.google.com/gke-os-distribution": "cos",
                        "cloud.google.com/machine-family": "e2", "cloud.google.com/gke-boot-disk": "pd-balanced"})
        elif self.flavor == "aks":
            lab.update({"agentpool": pool or "nodepool1", "kubernetes.azure.com/agentpool": pool or "nodepool1",
                        "kubernetes.azure.com/cluster": f"MC_rg-{self.name}_aks-{self.name}_westeurope", "kubernetes.azure.com/mode": "system"})
        elif role == "control-plane":
            lab["node-role.kubernetes.io/control-plane"] = ""
            if self.flavor == "openshift":
                lab["node-role.kubernetes.io/master"] = ""
        elif self.flavor == "openshift":
            lab["node-role.kubernetes.io/worker"] = ""
        else:
            lab["node-role.kubernetes.io/worker"] = ""
        lab.update(labels or {})
        taints = list(taints or [])
        if role == "control-plane":
            taints.append({"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"})
            if self.flavor == "openshift":
                taints.append({"key": "node-role.kubernetes.io/master", "effect": "NoSchedule"})
        pid = {"eks": f"aws:///{zone}/i-0{_hex(name, 16)}", "gke": f"gce://acme-{self.name}/{zone}/{name}",
               "aks": f"azure:///subscriptions/{_uid('sub')}/resourceGroups/mc_rg-{self.name}/providers/Microsoft.Compute/virtualMachineScaleSets/aks-{pool or 'nodepool1'}-vmss/virtualMachines/{index}",
               }.get(self.flavor, "")
        conds = [
            {"type": "MemoryPressure", "status": "False", "reason": "KubeletHasSufficientMemory", "message": "kubelet has sufficient memory available"},
            {"type": "DiskPressure", "status": "False", "reason": "KubeletHasNoDiskPressure", "message": "kubelet has no disk pressure"},
            {"type": "PIDPressure", "status": "False", "reason": "KubeletHasSufficientPID", "message": "kubelet has sufficient PID available"},
            {"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status"},
        ]
        if self.flavor == "gke":
            conds = [{"type": t, "status": "False", "reason": r, "message": m} for t, r, m in (
                ("FrequentUnregisterNetDevice", "NoFrequentUnregisterNetDevice", "node is functioning properly"),
                ("FrequentKubeletRestart", "NoFrequentKubeletRestart", "kubelet is functioning properly"),
                ("FrequentDockerRestart", "NoFrequentDockerRestart", "docker is functioning properly"),
                ("FrequentContainerdRestart", "NoFrequentContainerdRestart", "containerd is functioning properly"),
                ("KernelDeadlock", "KernelHasNoDeadlock", "kernel has no deadlock"),
                ("ReadonlyFilesystem", "FilesystemIsNotReadOnly", "Filesystem is not read-only"),
                ("CorruptDockerOverlay2", "NoCorruptDockerOverlay2", "docker overlay2 is functioning properly"),
                ("NetworkUnavailable", "RouteCreated", "NodeController create implicit route"))] + conds
        for cnd in conds:
            cnd.setdefault("lastHeartbeatTime", ts(0.3))
            cnd.setdefault("lastTransitionTime", ts(60 * 24 * 9))
        kubelet = f"v{self.k8s}{self.f['kubelet_suffix']}"
        obj = {"metadata": {"name": name, "uid": _uid("node", name), "resourceVersion": str(self.rng.randint(10**6, 10**8)),
                            "creationTimestamp": ts(60 * 24 * 9), "labels": lab,
                            "annotations": {"node.alpha.kubernetes.io/ttl": "0", "volumes.kubernetes.io/controller-managed-attach-detach": "true"}},
               "spec": {"podCIDR": cidr, "podCIDRs": [cidr], **({"providerID": pid} if pid else {}), **({"taints": taints} if taints else {})},
               "status": {"capacity": cap, "allocatable": alloc, "conditions": conds,
                          "addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}],
                          "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
                          "nodeInfo": {"architecture": "amd64", "bootID": _uid("boot", name), "containerRuntimeVersion": RUNTIME_VERSION[self.runtime],
                                       "kernelVersion": self.f["kernel"], "kubeProxyVersion": kubelet, "kubeletVersion": kubelet,
                                       "machineID": _hex(name, 32), "operatingSystem": "linux", "osImage": self.f["os"],
                                       "systemUUID": _uid("sys", name)}}}
        self.cluster["nodes"].append(obj)
        self.nodes[name] = Node(name, ip, zone, cidr, obj)
        if not ready:
            self.node_not_ready(name)
        return name

    def join_node(self, joined_ago: float, skip: tuple[str, ...] = (), **kw) -> str:
        """A worker that joined `joined_ago` minutes ago: the node plus the pods of every DaemonSet that runs everywhere
        (except the `skip` ones, which the incident places itself)."""
        name = self.add_node(index=len(self.nodes), **kw)
        self.node(name)["metadata"]["creationTimestamp"] = ts(joined_ago + 1)
        for cnd in self.node(name)["status"]["conditions"]:
            cnd["lastTransitionTime"] = ts(joined_ago)
        self.workers.append(name)
        for (ns, dsname), d in getattr(self, "_ds", {}).items():
            if not d["everywhere"] or dsname in skip:
                continue
            suffix = _safe(self.seed + dsname + name, 5)
            cs = [replace(c, started_ago=joined_ago - 0.5) for c in d["containers"]]
            self.pod(ns, f"{dsname}-{suffix}", cs, node=name, labels={**d["sel"], "controller-revision-hash": d["h"], "pod-template-generation": str(d["gen"])},
                     owner=("DaemonSet", dsname), host_network=d["host_network"], priority_class=d["priority_class"], tolerations=d["tol"],
                     sa=d["sa"], volumes=d["volumes"], init=d["init"], started_ago=joined_ago - 0.5)
        return name

    def mark_pods_not_ready(self, node: str, since: float, evict_after: float | None = 5) -> None:
        """What the node lifecycle controller does to the pods of a node that stopped reporting: Ready=False (container
        statuses stay as the kubelet last reported them); pods without an unreachable toleration get a deletionTimestamp."""
        for (ns, pn), p in self.pods.items():
            if p["spec"].get("nodeName") != node:
                continue
            for cond in p["status"]["conditions"]:
                if cond["type"] in ("Ready",):
                    cond.update(status="False", lastTransitionTime=ts(since))
                    cond.pop("reason", None)
                    cond.pop("message", None)
            daemon = any(o["kind"] == "DaemonSet" for o in p["metadata"].get("ownerReferences", []))
            if evict_after is not None and not daemon and "deletionTimestamp" not in p["metadata"]:
                p["metadata"]["deletionTimestamp"] = ts(since - evict_after)
                p["metadata"]["deletionGracePeriodSeconds"] = 30

    def node(self, name: str) -> dict:
        return self.nodes[name].obj

    def set_condition(self, node: str, ctype: str, status: str, reason: str, message: str, since: float = 10) -> None:
        conds = self.node(node)["status"]["conditions"]
        for cnd in conds:
            if cnd["type"] == ctype:
                cnd.update(status=status, reason=reason, message=message, lastTransitionTime=ts(since))
                return
        conds.append({"type": ctype, "status": status, "reason": reason, "message": message, "lastHeartbeatTime": ts(0.3),
                      "lastTransitionTime": ts(since)})

    def node_not_ready(self, node: str, how: str = "unknown", message: str = "", since: float = 22) -> None:
        """how='unknown': the kubelet stopped posting (node-lifecycle-controller sets every condition Unknown);
        how='false': the kubelet posts NotReady with `message`."""
        obj = self.node(node)
        if how == "unknown":
            for cnd in obj["status"]["conditions"]:
                if cnd["type"] in ("MemoryPressure", "DiskPressure", "PIDPressure", "Ready"):
                    cnd.update(status="Unknown", reason="NodeStatusUnknown", message="Kubelet stopped posting node status.",
                               lastHeartbeatTime=ts(since + 0.7), lastTransitionTime=ts(since))
            taints = [{"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule", "timeAdded": ts(since)},
                      {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute", "timeAdded": ts(since - 0.1)}]
        else:
            self.set_condition(node, "Ready", "False", "KubeletNotReady", message, since)
            taints = [{"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule", "timeAdded": ts(since)},
                      {"key": "node.kubernetes.io/not-ready", "effect": "NoExecute", "timeAdded": ts(since - 0.1)}]
        obj["spec"].setdefault("taints", []).extend(taints)

    def pod_ip(self, node: str) -> str:
        n = self.nodes[node]
        n.next_ip += 1
        base = n.pod_cidr.split("/")[0].rsplit(".", 1)[0]
        return f"{base}.{n.next_ip}"

    def svc_ip(self) -> str:
        self.svc_ip_n += self.rng.randint(3, 40)
        return (f"172.20.{self.svc_ip_n // 250}.{self.svc_ip_n % 250 + 2}" if self.flavor == "eks" else
                f"10.{96 if self.flavor != 'gke' else 52}.{self.svc_ip_n // 250}.{self.svc_ip_n % 250 + 2}")

    @property
    def dns_ip(self) -> str:
        return {"eks": "172.20.0.10", "gke": "10.52.0.10", "aks": "10.0.0.10", "openshift": "172.30.0.10"}.get(self.flavor, "10.96.0.10")

    # -------------------------------------------------------------------------------- generic objects
    def add(self, plural: str, obj: dict, ns: str | None = None, created_ago: float = 60 * 24 * 30) -> dict:
        md = obj.setdefault("metadata", {})
        if ns is not None:
            md.setdefault("namespace", ns)
        md.setdefault("uid", _uid(plural, ns or "", md["name"]))
        md.setdefault("resourceVersion", str(self.rng.randint(10**5, 10**8)))
        md.setdefault("creationTimestamp", ts(created_ago))
        if ns is None:
            self.cluster[plural].append(obj)
        else:
            self.ns[ns][plural].append(obj)
        return obj

    def get(self, plural: str, name: str, ns: str | None = None) -> dict:
        items = self.cluster[plural] if ns is None else self.ns[ns][plural]
        for o in items:
            if o["metadata"]["name"] == name:
                return o
        raise KeyError(f"{plural}/{ns}/{name}")

    def remove(self, plural: str, name: str, ns: str | None = None) -> None:
        items = self.cluster[plural] if ns is None else self.ns[ns][plural]
        items[:] = [o for o in items if o["metadata"]["name"] != name]
        if plural == "pods":
            self.pods.pop((ns, name), None)
            self.logs.pop((ns, name), None)

    def namespace(self, ns: str, labels: dict | None = None) -> None:
        if ns in self.ns and self.ns[ns].get("_ns"):
            return
        self.ns[ns]["_ns"] = [{"labels": labels or {}}]
        self.add("configmaps", {"metadata": {"name": "kube-root-ca.crt"}, "data": {"ca.crt": "-----BEGIN CERTIFICATE-----\n(omitted)\n-----END CERTIFICATE-----\n"}}, ns)
        self.add("serviceaccounts", {"metadata": {"name": "default"}}, ns)

    def owner(self, kind: str, name: str, ns: str) -> dict:
        plural = {"ReplicaSet": "replicasets", "StatefulSet": "statefulsets", "DaemonSet": "daemonsets", "Job": "jobs",
                  "Deployment": "deployments", "CronJob": "cronjobs"}[kind]
        api = "batch/v1" if kind in ("Job", "CronJob") else "apps/v1"
        return {"apiVersion": api, "kind": kind, "name": name, "uid": _uid(plural, ns, name), "controller": True, "blockOwnerDeletion": True}

    # -------------------------------------------------------------------------------- pods
    def pod(self, ns: str, name: str, containers: list[C], *, node: str | None, labels: dict | None = None,
            owner: tuple[str, str] | None = None, init: list[C] | None = None, phase: str | None = None,
            volumes: list[dict] | None = None, sa: str = "default", node_selector: dict | None = None,
            affinity: dict | None = None, tolerations: list | None = None, reason: str = "", message: str = "",
            unschedulable: str = "", started_ago: float | None = None, deleting: float | None = None,
            annotations: dict | None = None, security: dict | None = None, ip: bool = True, priority_class: str = "",
            host_network: bool = False, created_ago: float | None = None) -> dict:
        self.namespace(ns)
        pod_key = f"{ns}/{name}"
        started_ago = started_ago if started_ago is not None else max([c.started_ago for c in containers] + [1])
        created = created_ago if created_ago is not None else started_ago + 0.2
        init = init or []
        init_done = all(c.state == "terminated" and c.exit_code == 0 for c in init)
        if phase is None:
            if unschedulable or not node:
                phase = "Pending"
            elif not init_done:
                phase = "Pending"
            elif all(c.state == "terminated" for c in containers):
                phase = "Succeeded" if all(c.exit_code == 0 for c in containers) else "Failed"
            elif any(c.state == "running" or c.restarts or c.last for c in containers):
                phase = "Running"
            else:
                phase = "Pending"
        ready = phase == "Running" and all(c.is_ready() for c in containers)
        unready = [c.name for c in containers if not c.is_ready()]
        conds: list[dict] = []
        if node and not unschedulable:
            if self.minor >= 29:
                conds.append({"type": "PodReadyToStartContainers", "status": "True" if phase in ("Running", "Succeeded") or init else "False",
                              "lastProbeTime": None, "lastTransitionTime": ts(started_ago)})
            conds.append({"type": "Initialized", "status": "True" if init_done else "False", "lastProbeTime": None,
                          "lastTransitionTime": ts(started_ago),
                          **({} if init_done else {"reason": "ContainersNotInitialized",
                                                   "message": f"containers with incomplete status: [{' '.join(c.name for c in init if not (c.state == 'terminated' and c.exit_code == 0))}]"})})
            for t in ("Ready", "ContainersReady"):
                conds.append({"type": t, "status": "True" if ready else "False", "lastProbeTime": None,
                              "lastTransitionTime": ts(min(started_ago, 8) if not ready else started_ago),
                              **({} if ready else {"reason": "PodCompleted" if phase in ("Succeeded",) else "ContainersNotReady",
                                                   "message": f"containers with unready status: [{' '.join(unready)}]"})})
            conds.append({"type": "PodScheduled", "status": "True", "lastProbeTime": None, "lastTransitionTime": ts(created)})
        else:
            conds.append({"type": "PodScheduled", "status": "False", "lastProbeTime": None, "lastTransitionTime": ts(created),
                          "reason": "Unschedulable", "message": unschedulable})
        vols = list(volumes or []) + [{"name": "kube-api-access", "projected": {"defaultMode": 420, "sources": [
            {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
            {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}]}}]
        spec: dict[str, Any] = {"containers": [c.spec() for c in containers], "volumes": vols, "restartPolicy": "Always",
                                "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst", "serviceAccountName": sa,
                                "serviceAccount": sa, "securityContext": security or {}, "schedulerName": "default-scheduler",
                                "enableServiceLinks": True, "preemptionPolicy": "PreemptLowerPriority", "priority": 0,
                                "tolerations": (tolerations or []) + [
                                    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
                                    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}]}
        if owner and owner[0] == "Job":
            spec["restartPolicy"] = "Never"
        if init:
            spec["initContainers"] = [c.spec() for c in init]
        if node and not unschedulable:
            spec["nodeName"] = node
        if node_selector:
            spec["nodeSelector"] = node_selector
        if affinity:
            spec["affinity"] = affinity
        if priority_class:
            spec["priorityClassName"] = priority_class
            spec["priority"] = 2000001000 if "critical" in priority_class else 1000
        if host_network:
            spec["hostNetwork"] = True
        status: dict[str, Any] = {"phase": phase, "conditions": conds}
        qos = self._qos(containers)
        if node and not unschedulable:
            n = self.nodes[node]
            pip = n.ip if host_network else (self.pod_ip(node) if ip and phase != "Pending" or (ip and any(c.restarts or c.state == "running" for c in containers)) else "")
            status.update({"hostIP": n.ip, "hostIPs": [{"ip": n.ip}], "startTime": ts(created - 0.05)})
            if pip:
                status.update({"podIP": pip, "podIPs": [{"ip": pip}]})
            status["containerStatuses"] = [self._cstatus(c, pod_key, name) for c in containers]
            if init:
                status["initContainerStatuses"] = [self._cstatus(c, pod_key, name) for c in init]
        if reason:
            status["reason"] = reason
            status["message"] = message
        status["qosClass"] = qos
        meta: dict[str, Any] = {"name": name, "namespace": ns, "labels": dict(labels or {}), "annotations": dict(annotations or {})}
        if owner:
            meta["ownerReferences"] = [self.owner(owner[0], owner[1], ns)]
            meta["generateName"] = name.rsplit("-", 1)[0] + "-" if owner[0] in ("ReplicaSet", "DaemonSet", "Job") else None
            if meta["generateName"] is None:
                del meta["generateName"]
        if deleting is not None:
            meta["deletionTimestamp"] = ts(deleting)
            meta["deletionGracePeriodSeconds"] = 30
        obj = self.add("pods", {"metadata": meta, "spec": spec, "status": status}, ns, created_ago=created)
        self.pods[(ns, name)] = obj
        for c in containers + init:
            self._default_log(ns, name, c, phase)
        return obj

    def _cstatus(self, c: C, pod_key: str, pod_name: str) -> dict:
        st = c.status(self.runtime, pod_key)
        w = st["state"].get("waiting")
        if w and "message" in w:
            w["message"] = w["message"].replace("@POD@", f"{pod_name}_{pod_key.split('/')[0]}({_uid('pods', pod_key)})")
        return st

    @staticmethod
    def _qos(containers: list[C]) -> str:
        if not any(c.requests or c.limits for c in containers):
            return "BestEffort"
        for c in containers:
            lim, req = c.limits or {}, c.requests or {}
            if not (lim.get("cpu") and lim.get("memory")) or any(req.get(k, lim[k]) != lim[k] for k in ("cpu", "memory")):
                return "Burstable"
        return "Guaranteed"

    def _default_log(self, ns: str, pod: str, c: C, phase: str) -> None:
        if c.state == "waiting" and not c.restarts and not c.last:
            why = c.reason or "ContainerCreating"
            text = (f'Request log error: container "{c.name}" in pod "{pod}" is waiting to start: '
                    + ("trying and failing to pull image" if why in ("ErrImagePull", "ImagePullBackOff") else
                       "image can't be pulled" if why == "InvalidImageName" else why) + "\n")
            self.logs[(ns, pod)][c.name] = [text, None]
        elif c.state == "terminated":
            self.logs[(ns, pod)][c.name] = [healthy_log(c.stack, c.name, lines=3), None]
        else:
            port = (c.ports or [("", 8080)])[0][1]
            self.logs[(ns, pod)][c.name] = [healthy_log(c.stack, c.name, port, minutes=min(c.started_ago, 45)), None]

    def log(self, ns: str, pod: str, container: str, text: str, previous: str | None = None, append: bool = False) -> None:
        """Set a container's current log (what `kubectl logs` returns: for a container in back-off, its last run)
        and optionally its previous instance's log."""
        cur = self.logs[(ns, pod)].get(container, ["", None])
        self.logs[(ns, pod)][container] = [(cur[0] + text) if append else text, previous if previous is not None else cur[1]]

    # -------------------------------------------------------------------------------- workloads
    def deployment(self, ns: str, name: str, containers: list[C], *, replicas: int = 2, labels: dict | None = None,
                   pods: list[dict] | None = None, nodes: list[str] | None = None, rs_hash: str | None = None,
                   revision: int = 1, created_ago: float = 60 * 24 * 40, rolled_ago: float | None = None,
                   service: list[tuple[str, int, int | str]] | None = None, svc_name: str | None = None,
                   sa: str = "default", volumes: list[dict] | None = None, init: list[C] | None = None,
                   node_selector: dict | None = None, affinity: dict | None = None, tolerations: list | None = None,
                   annotations: dict | None = None, pod_security: dict | None = None, conditions: list | None = None,
                   old_rs: dict | None = None, strategy: str = "RollingUpdate", pod_labels: dict | None = None,
                   progress_deadline: int = 600, priority_class: str = "", desired: int | None = None) -> dict:
        """A Deployment, its current ReplicaSet, `replicas` pods (healthy unless `pods[i]` overrides fields of
        `pod()` or per-container fields under key 'c': {container: {field: value}}), optionally a Service.
        old_rs={'hash':..., 'replicas': n, 'containers': [...], 'pods': [...]} adds the previous revision's RS."""
        self.namespace(ns)
        sel = dict(labels or {"app": name})
        plabels = {**sel, **(pod_labels or {})}
        rs_hash = rs_hash or _safe(self.seed + ns + name + str(revision), 10)
        dep = self.add("deployments", {
            "metadata": {"name": name, "labels": dict(sel), "annotations": {"deployment.kubernetes.io/revision": str(revision), **(annotations or {})},
                         "generation": revision + 1},
            "spec": {"replicas": replicas, "selector": {"matchLabels": sel}, "revisionHistoryLimit": 10,
                     "progressDeadlineSeconds": progress_deadline,
                     "strategy": {"type": strategy, **({"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}} if strategy == "RollingUpdate" else {})},
                     "template": {"metadata": {"labels": plabels}, "spec": {"containers": [c.spec() for c in containers],
                                                                           "serviceAccountName": sa,
                                                                           **({"nodeSelector": node_selector} if node_selector else {}),
                                                                           **({"affinity": affinity} if affinity else {})}}},
            "status": {"observedGeneration": revision + 1}}, ns, created_ago=created_ago)
        dep["_pending_conditions"] = conditions
        rsets = []
        if old_rs:
            rsets.append(self._rs(ns, name, old_rs["hash"], old_rs.get("containers", containers), sel, plabels, old_rs.get("replicas", 0),
                                  revision - 1, created_ago, old_rs.get("pods"), nodes, sa, volumes, init, node_selector, affinity,
                                  tolerations, pod_security, priority_class, old_rs.get("started_ago", 60 * 24 * 6)))
        started = rolled_ago if rolled_ago is not None else 60 * 24 * 6
        new_count = desired if desired is not None else (len(pods) if pods else (replicas - old_rs.get("replicas", 0) if old_rs else replicas))
        rsets.append(self._rs(ns, name, rs_hash, containers, sel, plabels, new_count,
                              revision, rolled_ago if rolled_ago is not None else created_ago, pods, nodes, sa, volumes, init,
                              node_selector, affinity, tolerations, pod_security, priority_class, started))
        dep["_rs"] = [r["metadata"]["name"] for r in rsets]
        if service is not None:
            self.service(ns, svc_name or name, sel, service)
        return dep

    def _rs(self, ns, dep, h, containers, sel, plabels, count, revision, created_ago, pods, nodes, sa, volumes, init,
            node_selector, affinity, tolerations, pod_security, priority_class, started) -> dict:
        rsname = f"{dep}-{h}"
        labels = {**plabels, "pod-template-hash": h}
        rs = self.add("replicasets", {"metadata": {"name": rsname, "labels": labels,
                                                   "annotations": {"deployment.kubernetes.io/desired-replicas": str(count),
                                                                   "deployment.kubernetes.io/max-replicas": str(count + 1),
                                                                   "deployment.kubernetes.io/revision": str(revision)},
                                                   "ownerReferences": [self.owner("Deployment", dep, ns)]},
                                      "spec": {"replicas": count, "selector": {"matchLabels": {**sel, "pod-template-hash": h}},
                                               "template": {"metadata": {"labels": labels}, "spec": {"containers": [c.spec() for c in containers]}}},
                                      "status": {}}, ns, created_ago=created_ago)
        pods = pods if pods is not None else [{} for _ in range(count)]
        nodes = nodes or self.workers
        for i, ov in enumerate(pods):
            ov = dict(ov)
            suffix = ov.pop("suffix", None) or _safe(self.seed + rsname + str(i), 5)
            cs = [replace(c, **ov.get("c", {}).get(c.name, {})) if c.name in ov.get("c", {}) else replace(c, started_ago=ov.get("started_ago", started))
                  for c in containers]
            ov.pop("c", None)
            ic = None
            if init:
                ic = [replace(c, **ov.get("ic", {}).get(c.name, {})) if c.name in ov.get("ic", {}) else c for c in init]
            ov.pop("ic", None)
            node = ov.pop("node", nodes[i % len(nodes)])
            self.pod(ns, f"{rsname}-{suffix}", cs, node=node, labels=labels, owner=("ReplicaSet", rsname), init=ic,
                     volumes=volumes, sa=sa, node_selector=node_selector, affinity=affinity, tolerations=tolerations,
                     security=pod_security, priority_class=priority_class, **{"started_ago": started, **ov})
        rs["_pods"] = True
        return rs

    def statefulset(self, ns: str, name: str, containers: list[C], *, replicas: int = 3, labels: dict | None = None,
                    pods: list[dict] | None = None, nodes: list[str] | None = None, claims: list[tuple[str, str, str]] | None = None,
                    service: list[tuple[str, int, int | str]] | None = None, headless: bool = True, sa: str = "default",
                    storage_class: str | None = "gp3", created_ago: float = 60 * 24 * 60, init: list[C] | None = None,
                    volumes: list[dict] | None = None, pod_labels: dict | None = None, affinity: dict | None = None,
                    pvc_phase: dict[int, str] | None = None, pod_security: dict | None = None, started: float = 60 * 24 * 8) -> dict:
        """claims: [(template name, mountPath, size)] → PVCs '<tmpl>-<name>-<i>' bound to PVs (unless pvc_phase says otherwise)."""
        self.namespace(ns)
        sel = dict(labels or {"app.kubernetes.io/name": name})
        plabels = {**sel, **(pod_labels or {})}
        rev = f"{name}-{_hex(self.seed + name, 10)}"
        sts = self.add("statefulsets", {"metadata": {"name": name, "labels": dict(sel), "generation": 3},
                                        "spec": {"replicas": replicas, "serviceName": f"{name}-headless" if headless else name,
                                                 "selector": {"matchLabels": sel}, "podManagementPolicy": "OrderedReady",
                                                 "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
                                                 "template": {"metadata": {"labels": plabels}, "spec": {"containers": [c.spec() for c in containers]}},
                                                 "volumeClaimTemplates": [{"metadata": {"name": t}, "spec": {"accessModes": ["ReadWriteOnce"],
                                                                                                             "storageClassName": storage_class,
                                                                                                             "resources": {"requests": {"storage": s}}}}
                                                                          for t, _, s in (claims or [])]},
                                        "status": {"observedGeneration": 3, "currentRevision": rev, "updateRevision": rev}}, ns, created_ago=created_ago)
        pods = pods if pods is not None else [{} for _ in range(replicas)]
        nodes = nodes or self.workers
        for i, ov in enumerate(pods):
            ov = dict(ov)
            pname = f"{name}-{i}"
            cs = [replace(c, **ov.get("c", {}).get(c.name, {})) if c.name in ov.get("c", {}) else replace(c, started_ago=ov.get("started_ago", started))
                  for c in containers]
            ov.pop("c", None)
            ic = [replace(c, **ov.get("ic", {}).get(c.name, {})) if c.name in ov.get("ic", {}) else c for c in (init or [])] or None
            ov.pop("ic", None)
            vols = list(volumes or [])
            for t, _, size in claims or []:
                claim = f"{t}-{name}-{i}"
                vols.insert(0, {"name": t, "persistentVolumeClaim": {"claimName": claim}})
                phase = (pvc_phase or {}).get(i, "Bound")
                if ov.get("no_pvc"):
                    continue
                self.pvc(ns, claim, size=size, storage_class=storage_class, phase=phase, labels=sel,
                         node=(ov.get("node") or nodes[i % len(nodes)]) if phase == "Bound" else None, created_ago=created_ago)
            ov.pop("no_pvc", None)
            cs = [replace(c, mounts=(c.mounts or []) + [(t, m) for t, m, _ in (claims or [])]) if j == 0 else c for j, c in enumerate(cs)]
            node = ov.pop("node", nodes[i % len(nodes)])
            self.pod(ns, pname, cs, node=node, labels={**plabels, "controller-revision-hash": rev,
                                                      "statefulset.kubernetes.io/pod-name": pname, "apps.kubernetes.io/pod-index": str(i)},
                     owner=("StatefulSet", name), init=ic, volumes=vols, sa=sa, affinity=affinity, security=pod_security,
                     **{"started_ago": started, **ov})
        if service is not None:
            self.service(ns, name, sel, service)
            if headless:
                self.service(ns, f"{name}-headless", sel, service, headless=True)
        return sts

    def daemonset(self, ns: str, name: str, containers: list[C], *, labels: dict | None = None, nodes: list[str] | None = None,
                  pods: dict[str, dict] | None = None, created_ago: float = 60 * 24 * 90, host_network: bool = False,
                  priority_class: str = "system-node-critical", tolerate_all: bool = True, started: float = 60 * 24 * 9,
                  sa: str = "default", volumes: list[dict] | None = None, init: list[C] | None = None) -> dict:
        self.namespace(ns)
        sel = dict(labels or {"app.kubernetes.io/name": name})
        nodes = nodes if nodes is not None else list(self.nodes)
        gen = 2
        h = str(int(_hex(self.seed + name, 6), 16) % 10**10)
        ds = self.add("daemonsets", {"metadata": {"name": name, "labels": dict(sel), "generation": gen},
                                     "spec": {"selector": {"matchLabels": sel}, "updateStrategy": {"type": "RollingUpdate"},
                                              "template": {"metadata": {"labels": sel}, "spec": {"containers": [c.spec() for c in containers]}}},
                                     "status": {"observedGeneration": gen}}, ns, created_ago=created_ago)
        tol = [{"operator": "Exists"}] if tolerate_all else []
        if not hasattr(self, "_ds"):
            self._ds = {}
        self._ds[(ns, name)] = dict(containers=containers, sel=sel, h=h, gen=gen, host_network=host_network, priority_class=priority_class,
                                    tol=tol, sa=sa, volumes=volumes, init=init, everywhere=tolerate_all and (nodes == list(self.nodes) or nodes == self.workers))
        for nname in nodes:
            ov = dict((pods or {}).get(nname, {}))
            suffix = ov.pop("suffix", None) or _safe(self.seed + name + nname, 5)
            cs = [replace(c, **ov.get("c", {}).get(c.name, {})) if c.name in ov.get("c", {}) else replace(c, started_ago=ov.get("started_ago", started))
                  for c in containers]
            ov.pop("c", None)
            ic = [replace(c, **ov.get("ic", {}).get(c.name, {})) if c.name in ov.get("ic", {}) else c for c in (init or [])] or None
            ov.pop("ic", None)
            self.pod(ns, f"{name}-{suffix}", cs, node=nname, labels={**sel, "controller-revision-hash": h, "pod-template-generation": str(gen)},
                     owner=("DaemonSet", name), host_network=host_network, priority_class=priority_class,
                     tolerations=tol, sa=sa, volumes=volumes, init=ic, **{"started_ago": started, **ov})
        return ds

    def job(self, ns: str, name: str, containers: list[C], *, pods: list[dict] | None = None, backoff: int = 6,
            failed: int | None = None, succeeded: int | None = None, created_ago: float = 30, cronjob: str | None = None,
            conditions: list | None = None, sa: str = "default", init: list[C] | None = None, node: str | None = None) -> dict:
        self.namespace(ns)
        uid = _uid("jobs", ns, name)
        labels = {"batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": name, "controller-uid": uid, "job-name": name}
        meta: dict[str, Any] = {"name": name, "labels": labels, "annotations": {"batch.kubernetes.io/job-tracking": ""}}
        if cronjob:
            meta["ownerReferences"] = [self.owner("CronJob", cronjob, ns)]
        job = self.add("jobs", {"metadata": meta, "spec": {"backoffLimit": backoff, "completions": 1, "parallelism": 1,
                                                           "completionMode": "NonIndexed", "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}},
                                                           "template": {"metadata": {"labels": labels}, "spec": {"containers": [c.spec() for c in containers],
                                                                                                                 "restartPolicy": "Never"}}},
                                "status": {"startTime": ts(created_ago), "uncountedTerminatedPods": {}}}, ns, created_ago=created_ago)
        pods = pods if pods is not None else [{}]
        nf = ns_ = 0
        for i, ov in enumerate(pods):
            ov = dict(ov)
            suffix = ov.pop("suffix", None) or _safe(self.seed + name + str(i), 5)
            cs = [replace(c, **ov.get("c", {}).get(c.name, {})) if c.name in ov.get("c", {}) else c for c in containers]
            ov.pop("c", None)
            p = self.pod(ns, f"{name}-{suffix}", cs, node=ov.pop("node", node or self.workers[i % len(self.workers)]), labels=labels,
                         owner=("Job", name), sa=sa, init=init, **ov)
            if p["status"]["phase"] == "Failed":
                nf += 1
            if p["status"]["phase"] == "Succeeded":
                ns_ += 1
        job["status"]["failed"] = nf if failed is None else failed
        if (succeeded if succeeded is not None else ns_):
            job["status"]["succeeded"] = succeeded if succeeded is not None else ns_
        active = sum(1 for (n, pn), p in self.pods.items() if n == ns and pn.startswith(name + "-") and p["status"]["phase"] in ("Running", "Pending"))
        if active:
            job["status"]["active"] = active
        job["status"]["ready"] = 0
        if conditions:
            job["status"]["conditions"] = conditions
        return job

    # -------------------------------------------------------------------------------- services & storage
    def service(self, ns: str, name: str, selector: dict | None, ports: list[tuple[str, int, int | str]], headless: bool = False,
                stype: str = "ClusterIP", ip: str | None = None, labels: dict | None = None) -> dict:
        self.namespace(ns)
        cip = "None" if headless else (ip or self.svc_ip())
        spec: dict[str, Any] = {"type": stype, "clusterIP": cip, "clusterIPs": [cip], "sessionAffinity": "None",
                                "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack", "internalTrafficPolicy": "Cluster",
                                "ports": [{"name": n, "port": p, "protocol": "TCP" if not str(n).endswith("udp") else "UDP", "targetPort": t}
                                          if n else {"port": p, "protocol": "TCP", "targetPort": t} for n, p, t in ports]}
        if selector is not None:
            spec["selector"] = dict(selector)
        if headless:
            spec["publishNotReadyAddresses"] = False
        return self.add("services", {"metadata": {"name": name, "labels": labels or {}}, "spec": spec, "status": {"loadBalancer": {}}}, ns)

    def storageclass(self, name: str, provisioner: str, default: bool = False, binding: str = "WaitForFirstConsumer",
                     params: dict | None = None) -> None:
        ann = {"storageclass.kubernetes.io/is-default-class": "true"} if default else {}
        self.add("storageclasses", {"metadata": {"name": name, "annotations": ann}, "provisioner": provisioner,
                                    "reclaimPolicy": "Delete", "volumeBindingMode": binding, "allowVolumeExpansion": True,
                                    "parameters": params or {}})

    def pvc(self, ns: str, name: str, size: str = "10Gi", storage_class: str | None = "gp3", phase: str = "Bound",
            labels: dict | None = None, node: str | None = None, access: str = "ReadWriteOnce", pv_zone: str | None = None,
            created_ago: float = 60 * 24 * 60) -> dict:
        self.namespace(ns)
        spec: dict[str, Any] = {"accessModes": [access], "resources": {"requests": {"storage": size}}, "volumeMode": "Filesystem"}
        if storage_class is not None:
            spec["storageClassName"] = storage_class
        ann: dict[str, str] = {}
        status: dict[str, Any] = {"phase": phase}
        if phase == "Bound":
            pv = f"pvc-{_uid('pv', ns, name)}"
            spec["volumeName"] = pv
            ann = {"pv.kubernetes.io/bind-completed": "yes", "pv.kubernetes.io/bound-by-controller": "yes",
                   "volume.beta.kubernetes.io/storage-provisioner": self._provisioner(storage_class),
                   "volume.kubernetes.io/storage-provisioner": self._provisioner(storage_class)}
            if node:
                ann["volume.kubernetes.io/selected-node"] = node
            status.update({"accessModes": [access], "capacity": {"storage": size}})
            zone = pv_zone or (self.nodes[node].zone if node else self.f["zones"][0])
            self.add("persistentvolumes", {"metadata": {"name": pv, "annotations": {"pv.kubernetes.io/provisioned-by": self._provisioner(storage_class)},
                                                        "finalizers": ["kubernetes.io/pv-protection"]},
                                           "spec": {"accessModes": [access], "capacity": {"storage": size},
                                                    "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "namespace": ns, "name": name,
                                                                 "uid": _uid("persistentvolumeclaims", ns, name)},
                                                    "persistentVolumeReclaimPolicy": "Delete", "storageClassName": storage_class, "volumeMode": "Filesystem",
                                                    "csi": {"driver": self._provisioner(storage_class), "fsType": "ext4",
                                                            "volumeHandle": {"eks": f"vol-0{_hex(pv, 16)}", "gke": f"projects/acme-{self.name}/zones/{zone}/disks/{pv}",
                                                                             "aks": f"/subscriptions/x/resourceGroups/mc/providers/Microsoft.Compute/disks/{pv}"}.get(self.flavor, pv)},
                                                    "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                                                        {"key": {"eks": "topology.ebs.csi.aws.com/zone"}.get(self.flavor, "topology.kubernetes.io/zone"),
                                                         "operator": "In", "values": [zone]}]}]}}},
                                           "status": {"phase": "Bound"}}, created_ago=created_ago)
        elif storage_class:
            ann = {"volume.beta.kubernetes.io/storage-provisioner": self._provisioner(storage_class),
                   "volume.kubernetes.io/storage-provisioner": self._provisioner(storage_class)}
        return self.add("persistentvolumeclaims", {"metadata": {"name": name, "labels": labels or {}, "annotations": ann,
                                                                "finalizers": ["kubernetes.io/pvc-protection"]},
                                                   "spec": spec, "status": status}, ns, created_ago=created_ago)

    def _provisioner(self, sc: str | None) -> str:
        for s in self.cluster["storageclasses"]:
            if s["metadata"]["name"] == sc:
                return s["provisioner"]
        return {"eks": "ebs.csi.aws.com", "gke": "pd.csi.storage.gke.io", "aks": "disk.csi.azure.com"}.get(self.flavor, "rook-ceph.rbd.csi.ceph.com")

    def hpa(self, ns: str, name: str, target: str, min_r: int, max_r: int, current: int, cpu_target: int = 70,
            cpu_now: int | None = 60, kind: str = "Deployment", conditions: list | None = None, desired: int | None = None) -> dict:
        desired = desired if desired is not None else current
        conds = conditions or [
            {"type": "AbleToScale", "status": "True", "reason": "ReadyForNewScale", "message": "recommended size matches current size"},
            {"type": "ScalingActive", "status": "True", "reason": "ValidMetricFound",
             "message": "the HPA was able to successfully calculate a replica count from cpu resource utilization (percentage of request)"},
            ({"type": "ScalingLimited", "status": "True", "reason": "TooManyReplicas", "message": "the desired replica count is more than the maximum replica count"}
             if current >= max_r and (cpu_now or 0) > cpu_target else
             {"type": "ScalingLimited", "status": "False", "reason": "DesiredWithinRange", "message": "the desired count is within the acceptable range"})]
        for cnd in conds:
            cnd.setdefault("lastTransitionTime", ts(40))
        st: dict[str, Any] = {"currentReplicas": current, "desiredReplicas": desired, "conditions": conds, "lastScaleTime": ts(35)}
        if cpu_now is not None:
            st["currentMetrics"] = [{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": cpu_now,
                                                                                                "averageValue": f"{cpu_now * 5}m"}}}]
        else:
            st["currentMetrics"] = None
        return self.add("horizontalpodautoscalers", {"metadata": {"name": name}, "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": kind, "name": target}, "minReplicas": min_r, "maxReplicas": max_r,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": cpu_target}}}],
            "behavior": {"scaleDown": {"stabilizationWindowSeconds": 300}}}, "status": st}, ns)

    def quota(self, ns: str, name: str, hard: dict[str, str], used: dict[str, str]) -> dict:
        return self.add("resourcequotas", {"metadata": {"name": name}, "spec": {"hard": dict(hard)},
                                           "status": {"hard": dict(hard), "used": dict(used)}}, ns)

    def limitrange(self, ns: str, name: str, limits: list[dict]) -> dict:
        return self.add("limitranges", {"metadata": {"name": name}, "spec": {"limits": limits}}, ns)

    def netpol(self, ns: str, name: str, pod_selector: dict, ingress: list | None = None, egress: list | None = None) -> dict:
        spec: dict[str, Any] = {"podSelector": {"matchLabels": pod_selector} if pod_selector else {}, "policyTypes": []}
        if ingress is not None:
            spec["policyTypes"].append("Ingress")
            spec["ingress"] = ingress
        if egress is not None:
            spec["policyTypes"].append("Egress")
            spec["egress"] = egress
        return self.add("networkpolicies", {"metadata": {"name": name}, "spec": spec}, ns)

    def configmap(self, ns: str, name: str, data: dict[str, str]) -> dict:
        return self.add("configmaps", {"metadata": {"name": name}, "data": dict(data)}, ns)

    def secret(self, ns: str, name: str, keys: list[str], stype: str = "Opaque") -> dict:
        """Secrets as a careful collector lists them: names, types and keys' presence, never values."""
        return self.add("secrets", {"metadata": {"name": name}, "type": stype, "data": {k: "" for k in keys}}, ns)

    def serviceaccount(self, ns: str, name: str) -> dict:
        return self.add("serviceaccounts", {"metadata": {"name": name}}, ns)

    def webhook(self, config: str, hooks: list[dict], mutating: bool = False) -> dict:
        """hooks: [{'name', 'service': (ns, name, path, port), 'failurePolicy', 'rules': [...], 'timeout'}]"""
        out = []
        for h in hooks:
            sns, sname, path, port = h["service"]
            out.append({"name": h["name"], "admissionReviewVersions": ["v1", "v1beta1"],
                        "clientConfig": {"caBundle": "LS0tLS1CRUdJTi" + _hex(config + h["name"], 40),
                                         "service": {"namespace": sns, "name": sname, "path": path, "port": port}},
                        "failurePolicy": h.get("failurePolicy", "Fail"), "matchPolicy": "Equivalent",
                        "namespaceSelector": h.get("namespaceSelector", {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "NotIn",
                                                                                               "values": ["kube-system", sns]}]}),
                        "objectSelector": {}, "rules": h.get("rules", [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"],
                                                                        "resources": ["pods"], "scope": "*"}]),
                        "sideEffects": "None", "timeoutSeconds": h.get("timeout", 10),
                        **({"reinvocationPolicy": "Never"} if mutating else {})})
        return self.add("mutatingwebhookconfigurations" if mutating else "validatingwebhookconfigurations",
                        {"metadata": {"name": config, "labels": {}}, "webhooks": out})

    def set_owner(self, ns: str, pod: str, api: str, kind: str, name: str) -> None:
        self.pods[(ns, pod)]["metadata"]["ownerReferences"] = [{"apiVersion": api, "kind": kind, "name": name, "uid": _uid(kind, ns, name),
                                                                 "controller": True, "blockOwnerDeletion": True}]

    # -------------------------------------------------------------------------------- events
    def event(self, ns: str, kind: str, name: str, reason: str, message: str, *, type: str = "Warning", count: int = 1,
              last: float = 0.5, first: float | None = None, source: str = "kubelet", host: str | None = None,
              series: bool | None = None, api: str = "v1", field: str = "") -> dict:
        """core/v1-style events from kubelet and controllers; events.k8s.io style (eventTime+series) for the
        scheduler and whatever `series=True` marks."""
        first = first if first is not None else (last + (count - 1) * 1.5 if count > 1 else last)
        uid_src = f"{ns}/{kind}/{name}"
        involved = {"kind": kind, "namespace": ns, "name": name, "uid": _uid(kind.lower() + "s", ns, name), "apiVersion": api}
        if field:
            involved["fieldPath"] = field
        if kind == "Node":
            involved.pop("namespace")
            involved["uid"] = name
        ename = f"{name}.{_hex(uid_src + reason + message + str(last), 16)}"
        if series is None:
            series = source == "default-scheduler"
        obj: dict[str, Any] = {"metadata": {"name": ename, "namespace": ns}, "involvedObject": involved, "reason": reason,
                               "message": message, "type": type}
        if series:
            obj.update({"firstTimestamp": None, "lastTimestamp": None, "eventTime": ts_micro(first),
                        "reportingComponent": source, "reportingInstance": f"{source}-{(self.cp or self.workers)[0]}",
                        "action": "Scheduling" if source == "default-scheduler" else "Binding", "source": {}})
            if count > 1:
                obj["series"] = {"count": count, "lastObservedTime": ts_micro(last)}
        else:
            obj.update({"count": count, "firstTimestamp": ts(first), "lastTimestamp": ts(last), "eventTime": None,
                        "source": {"component": source, **({"host": host} if host else {})},
                        "reportingComponent": source, "reportingInstance": host or ""})
        return self.add("events", obj, ns, created_ago=first)

    def pod_events_started(self, ns: str, pod: str, image: str, container: str, ago: float, node: str | None = None) -> None:
        """The normal sequence of a pod started `ago` minutes ago (events older than ~1h are gone from real clusters)."""
        node = node or self.pods[(ns, pod)]["spec"].get("nodeName")
        self.event(ns, "Pod", pod, "Scheduled", f"Successfully assigned {ns}/{pod} to {node}", type="Normal",
                   last=ago, source="default-scheduler")
        self.event(ns, "Pod", pod, "Pulled", f'Container image "{image}" already present on machine', type="Normal",
                   last=ago - 0.05, host=node, field=f"spec.containers{{{container}}}")
        self.event(ns, "Pod", pod, "Created", f"Created container {container}", type="Normal", last=ago - 0.06, host=node,
                   field=f"spec.containers{{{container}}}")
        self.event(ns, "Pod", pod, "Started", f"Started container {container}", type="Normal", last=ago - 0.07, host=node,
                   field=f"spec.containers{{{container}}}")

    # -------------------------------------------------------------------------------- the system around the incident
    def _system(self) -> None:
        ks = "kube-system"
        self.namespace(ks)
        self.namespace("default")
        self.service("default", "kubernetes", None, [("https", 443, 6443)], ip=self.dns_ip.rsplit(".", 1)[0] + ".1",
                     labels={"component": "apiserver", "provider": "kubernetes"})
        if self.flavor == "eks":
            self.storageclass("gp2", "kubernetes.io/aws-ebs")
            self.storageclass("gp3", "ebs.csi.aws.com", default=True, params={"type": "gp3", "encrypted": "true"})
        elif self.flavor == "gke":
            self.storageclass("standard-rwo", "pd.csi.storage.gke.io", default=True, params={"type": "pd-balanced"})
            self.storageclass("premium-rwo", "pd.csi.storage.gke.io", params={"type": "pd-ssd"})
            self.storageclass("standard", "kubernetes.io/gce-pd", binding="Immediate")
        elif self.flavor == "aks":
            self.storageclass("managed-csi", "disk.csi.azure.com", default=True, params={"skuname": "StandardSSD_LRS"})
            self.storageclass("managed-csi-premium", "disk.csi.azure.com", params={"skuname": "Premium_LRS"})
            self.storageclass("azurefile-csi", "file.csi.azure.com", binding="Immediate")
        elif self.flavor == "openshift":
            self.storageclass("ocs-storagecluster-ceph-rbd", "openshift-storage.rbd.csi.ceph.com", default=True, binding="Immediate")
        else:
            self.storageclass("ceph-block", "rook-ceph.rbd.csi.ceph.com", default=True, binding="Immediate")
            self.storageclass("nfs-client", "cluster.local/nfs-subdir-external-provisioner", binding="Immediate")
        # cluster DNS
        dns_labels = {"k8s-app": "kube-dns"}
        if self.flavor == "openshift":
            self.daemonset("openshift-dns", "dns-default", [C("dns", "quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:" + _hex("dns", 64), ports=[("dns", 5353)], stack="coredns",
                                                              requests={"cpu": "50m", "memory": "70Mi"}),
                                                            C("kube-rbac-proxy", "quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:" + _hex("krp", 64), requests={"cpu": "10m", "memory": "40Mi"})],
                           labels={"dns.operator.openshift.io/daemonset-dns": "default"}, nodes=list(self.nodes))
            self.service("openshift-dns", "dns-default", {"dns.operator.openshift.io/daemonset-dns": "default"},
                         [("dns", 53, "dns"), ("dns-tcp", 53, "dns-tcp"), ("metrics", 9154, "metrics")], ip=self.dns_ip)
        elif self.dns_kind == "kube-dns":
            self.deployment(ks, "kube-dns", [C("kubedns", "gke.gcr.io/k8s-dns-kube-dns:1.23.0-gke.9", ports=[("dns-local", 10053), ("metrics", 10055)],
                                               requests={"cpu": "100m", "memory": "70Mi"}, limits={"memory": "210Mi"}, stack="generic"),
                                             C("dnsmasq", "gke.gcr.io/k8s-dns-dnsmasq-nanny:1.23.0-gke.9", ports=[("dns", 53)],
                                               requests={"cpu": "150m", "memory": "20Mi"}),
                                             C("sidecar", "gke.gcr.io/k8s-dns-sidecar:1.23.0-gke.9", ports=[("metrics", 10054)],
                                               requests={"cpu": "10m", "memory": "20Mi"})],
                            replicas=2, labels=dns_labels, priority_class="system-cluster-critical")
            self.deployment(ks, "kube-dns-autoscaler", [C("autoscaler", "gke.gcr.io/cluster-proportional-autoscaler:1.8.11-gke.8",
                                                          requests={"cpu": "20m", "memory": "10Mi"})], replicas=1, labels={"k8s-app": "kube-dns-autoscaler"})
            self.service(ks, "kube-dns", dns_labels, [("dns", 53, 53), ("dns-tcp", 53, 53)], ip=self.dns_ip,
                         labels={"k8s-app": "kube-dns", "kubernetes.io/name": "KubeDNS"})
        else:
            img = {"eks": "602401143452.dkr.ecr.us-east-1.amazonaws.com/eks/coredns:v1.11.1-eksbuild.9", "aks": "mcr.microsoft.com/oss/kubernetes/coredns:v1.9.4-hotfix.20240704"}.get(
                self.flavor, "registry.k8s.io/coredns/coredns:v1.11.1")
            self.coredns_image = img
            self.deployment(ks, "coredns", [C("coredns", img, args=["-conf", "/etc/coredns/Corefile"],
                                              ports=[("dns", 53), ("dns-tcp", 53), ("metrics", 9153)], stack="coredns",
                                              requests={"cpu": "100m", "memory": "70Mi"}, limits={"memory": "170Mi"},
                                              liveness={"httpGet": {"path": "/health", "port": 8080, "scheme": "HTTP"}, "initialDelaySeconds": 60, "timeoutSeconds": 5, "failureThreshold": 5},
                                              readiness={"httpGet": {"path": "/ready", "port": 8181, "scheme": "HTTP"}},
                                              mounts=[("config-volume", "/etc/coredns")])],
                            replicas=2, labels=dns_labels, priority_class="system-cluster-critical",
                            volumes=[{"name": "config-volume", "configMap": {"name": "coredns", "items": [{"key": "Corefile", "path": "Corefile"}]}}])
            self.add("configmaps", {"metadata": {"name": "coredns"}, "data": {"Corefile": ".:53 {\n    errors\n    health {\n       lameduck 5s\n    }\n    ready\n    kubernetes cluster.local in-addr.arpa ip6.arpa {\n       pods insecure\n       fallthrough in-addr.arpa ip6.arpa\n       ttl 30\n    }\n    prometheus :9153\n    forward . /etc/resolv.conf {\n       max_concurrent 1000\n    }\n    cache 30\n    loop\n    reload\n    loadbalance\n}\n"}}, ks)
            self.service(ks, "kube-dns", dns_labels, [("dns", 53, 53), ("dns-tcp", 53, 53), ("metrics", 9153, 9153)], ip=self.dns_ip,
                         labels={"k8s-app": "kube-dns", "kubernetes.io/name": "CoreDNS"})
        # CNI / kube-proxy / CSI per flavour
        if self.flavor == "eks":
            self.daemonset(ks, "aws-node", [C("aws-node", "602401143452.dkr.ecr.us-east-1.amazonaws.com/amazon-k8s-cni:v1.18.1-eksbuild.3",
                                              ports=[("metrics", 61678)], requests={"cpu": "25m"}, stack="generic"),
                                            C("aws-eks-nodeagent", "602401143452.dkr.ecr.us-east-1.amazonaws.com/amazon/aws-network-policy-agent:v1.1.1-eksbuild.2",
                                              requests={"cpu": "25m"})],
                           labels={"k8s-app": "aws-node"}, host_network=True, nodes=self.workers,
                           init=[C("aws-vpc-cni-init", "602401143452.dkr.ecr.us-east-1.amazonaws.com/amazon-k8s-cni-init:v1.18.1-eksbuild.3",
                                   state="terminated", exit_code=0, reason="Completed")])
            self.daemonset(ks, "kube-proxy", [C("kube-proxy", f"602401143452.dkr.ecr.us-east-1.amazonaws.com/eks/kube-proxy:v{self.k8s}-minimal-eksbuild.2",
                                                requests={"cpu": "100m"})], labels={"k8s-app": "kube-proxy"}, host_network=True, nodes=self.workers)
            self.daemonset(ks, "ebs-csi-node", [C("ebs-plugin", "602401143452.dkr.ecr.us-east-1.amazonaws.com/eks/aws-ebs-csi-driver:v1.31.0", requests={"cpu": "10m", "memory": "40Mi"}),
                                                C("node-driver-registrar", "602401143452.dkr.ecr.us-east-1.amazonaws.com/eks/csi-node-driver-registrar:v2.10.1-eks-1-30-8"),
                                                C("liveness-probe", "602401143452.dkr.ecr.us-east-1.amazonaws.com/eks/livenessprobe:v2.12.0-eks-1-30-8")],
                           labels={"app": "ebs-csi-node"}, nodes=self.workers)
            self.deployment(ks, "ebs-csi-controller", [C("ebs-plugin", "602401143452.dkr.ecr.us-east-1.amazonaws.com/eks/aws-ebs-csi-driver:v1.31.0"),
                                                       C("csi-provisioner", "602401143452.dkr.ecr.us-east-1.amazonaws.com/eks/csi-provisioner:v4.0.1-eks-1-30-8"),
                                                       C("csi-attacher", "602401143452.dkr.ecr.us-east-1.amazonaws.com/eks/csi-attacher:v4.5.1-eks-1-30-8")],
                            replicas=2, labels={"app": "ebs-csi-controller"})
        elif self.flavor == "gke":
            self.daemonset(ks, "kube-proxy", [C("kube-proxy", f"gke.gcr.io/kube-proxy-amd64:v{self.k8s}-gke.1014001", requests={"cpu": "100m"})],
                           labels={"component": "kube-proxy"}, host_network=True, nodes=self.workers)
            self.daemonset(ks, "fluentbit-gke", [C("fluentbit", "gke.gcr.io/fluent-bit:v1.8.12-gke.36", requests={"cpu": "50m", "memory": "100Mi"}, stack="fluentbit"),
                                                 C("fluentbit-gke", "gke.gcr.io/fluent-bit-gke-exporter:v0.28.0-gke.1")],
                           labels={"k8s-app": "fluentbit-gke"}, nodes=self.workers)
            self.daemonset(ks, "pdcsi-node", [C("csi-driver-registrar", "gke.gcr.io/csi-node-driver-registrar:v2.9.4-gke.6"),
                                              C("gce-pd-driver", "gke.gcr.io/gcp-compute-persistent-disk-csi-driver:v1.13.4-gke.0")],
                           labels={"k8s-app": "gcp-compute-persistent-disk-csi-driver"}, nodes=self.workers)
            self.daemonset(ks, "netd", [C("netd", "gke.gcr.io/netd:v0.5.2-gke.4")], labels={"k8s-app": "netd"}, host_network=True, nodes=self.workers)
            self.deployment(ks, "konnectivity-agent", [C("konnectivity-agent", "gke.gcr.io/proxy-agent:v0.30.3-gke.1")], replicas=3,
                            labels={"k8s-app": "konnectivity-agent"})
        elif self.flavor == "aks":
            self.daemonset(ks, "azure-cns", [C("cns-container", "mcr.microsoft.com/containernetworking/azure-cns:v1.5.26", ports=[("api", 10090)])],
                           labels={"k8s-app": "azure-cns"}, host_network=True, nodes=self.workers)
            self.daemonset(ks, "kube-proxy", [C("kube-proxy", f"mcr.microsoft.com/oss/kubernetes/kube-proxy:v{self.k8s}-hotfix.20240411")],
                           labels={"component": "kube-proxy"}, host_network=True, nodes=self.workers)
            self.daemonset(ks, "csi-azuredisk-node", [C("azuredisk", "mcr.microsoft.com/oss/kubernetes-csi/azuredisk-csi:v1.29.5"),
                                                      C("node-driver-registrar", "mcr.microsoft.com/oss/kubernetes-csi/csi-node-driver-registrar:v2.10.1")],
                           labels={"app": "csi-azuredisk-node"}, nodes=self.workers)
            self.daemonset(ks, "cloud-node-manager", [C("cloud-node-manager", "mcr.microsoft.com/oss/kubernetes/azure-cloud-node-manager:v1.28.9")],
                           labels={"k8s-app": "cloud-node-manager"}, host_network=True, nodes=self.workers)
            self.deployment(ks, "konnectivity-agent", [C("konnectivity-agent", "mcr.microsoft.com/oss/kubernetes/apiserver-network-proxy/agent:v0.0.37-hotfix.20240319")],
                            replicas=2, labels={"app": "konnectivity-agent"})
        elif self.flavor == "openshift":
            self.daemonset("openshift-ovn-kubernetes", "ovnkube-node", [C("ovnkube-controller", "quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:" + _hex("ovn", 64)),
                                                                      C("northd", "quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:" + _hex("ovn", 64))],
                           labels={"app": "ovnkube-node"}, host_network=True)
            self.daemonset("openshift-monitoring", "node-exporter", [C("node-exporter", "quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:" + _hex("ne", 64))],
                           labels={"app.kubernetes.io/name": "node-exporter"}, host_network=True)
        else:
            for cpn in self.cp:
                for comp, img in (("etcd", "registry.k8s.io/etcd:3.5.12-0"), ("kube-apiserver", f"registry.k8s.io/kube-apiserver:v{self.k8s}"),
                                  ("kube-controller-manager", f"registry.k8s.io/kube-controller-manager:v{self.k8s}"),
                                  ("kube-scheduler", f"registry.k8s.io/kube-scheduler:v{self.k8s}")):
                    self.pod(ks, f"{comp}-{cpn}", [C(comp, img, requests={"cpu": "100m"})], node=cpn, labels={"component": comp, "tier": "control-plane"},
                             host_network=True, priority_class="system-node-critical",
                             annotations={"kubernetes.io/config.source": "file", "kubernetes.io/config.hash": _hex(comp + cpn, 32)})
            self.daemonset(ks, "calico-node", [C("calico-node", "docker.io/calico/node:v3.27.3", requests={"cpu": "250m"})], labels={"k8s-app": "calico-node"},
                           host_network=True, init=[C("upgrade-ipam", "docker.io/calico/cni:v3.27.3", state="terminated", exit_code=0, reason="Completed"),
                                                    C("install-cni", "docker.io/calico/cni:v3.27.3", state="terminated", exit_code=0, reason="Completed")])
            self.deployment(ks, "calico-kube-controllers", [C("calico-kube-controllers", "docker.io/calico/kube-controllers:v3.27.3")], replicas=1,
                            labels={"k8s-app": "calico-kube-controllers"}, nodes=self.cp or self.workers,
                            tolerations=[{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}])
            self.daemonset(ks, "kube-proxy", [C("kube-proxy", f"registry.k8s.io/kube-proxy:v{self.k8s}")], labels={"k8s-app": "kube-proxy"}, host_network=True)
        if self.flavor != "openshift":
            self.deployment(ks, "metrics-server", [C("metrics-server", "registry.k8s.io/metrics-server/metrics-server:v0.7.1", ports=[("https", 10250)],
                                                     requests={"cpu": "100m", "memory": "200Mi"}, stack="generic")],
                            replicas=1 if self.flavor != "aks" else 2, labels={"k8s-app": "metrics-server"}, priority_class="system-cluster-critical")
            self.service(ks, "metrics-server", {"k8s-app": "metrics-server"}, [("https", 443, "https")])
        # kube-prometheus-stack
        mon = "monitoring"
        rel = "kube-prometheus-stack"
        self.deployment(mon, f"{rel}-operator", [C(f"{rel}", "quay.io/prometheus-operator/prometheus-operator:v0.74.0", ports=[("https", 10250)])],
                        replicas=1, labels={"app": f"{rel}-operator", "release": rel})
        ksm = self.deployment(mon, f"{rel}-kube-state-metrics", [C("kube-state-metrics", "registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.12.0",
                                                                   ports=[("http", 8080)], requests={"cpu": "10m", "memory": "64Mi"})],
                              replicas=1, labels={"app.kubernetes.io/name": "kube-state-metrics", "app.kubernetes.io/instance": rel},
                              service=[("http", 8080, "http")])
        ksm_rs = ksm["_rs"][-1]
        self.ksm_pod = next(p["metadata"]["name"] for (n, pn), p in self.pods.items() if n == mon and pn.startswith(ksm_rs))
        self.ksm_ip = self.pods[(mon, self.ksm_pod)]["status"]["podIP"]
        self.deployment(mon, f"{rel}-grafana", [C("grafana", "docker.io/grafana/grafana:11.0.0", ports=[("grafana", 3000)], stack="go"),
                                                C("grafana-sc-dashboard", "quay.io/kiwigrid/k8s-sidecar:1.26.1")],
                        replicas=1, labels={"app.kubernetes.io/name": "grafana", "app.kubernetes.io/instance": rel},
                        service=[("http-web", 80, 3000)])
        self.statefulset(mon, f"prometheus-{rel}-prometheus", [C("prometheus", "quay.io/prometheus/prometheus:v2.52.0", ports=[("http-web", 9090)],
                                                                 requests={"memory": "2Gi"}),
                                                               C("config-reloader", "quay.io/prometheus-operator/prometheus-config-reloader:v0.74.0")],
                         replicas=1, labels={"app.kubernetes.io/name": "prometheus", "prometheus": f"{rel}-prometheus"},
                         claims=[("prometheus-" + f"{rel}-prometheus-db", "/prometheus", "50Gi")], headless=False,
                         storage_class=self.default_sc)
        self.service(mon, f"{rel}-prometheus", {"app.kubernetes.io/name": "prometheus", "prometheus": f"{rel}-prometheus"}, [("http-web", 9090, 9090)])
        self.statefulset(mon, f"alertmanager-{rel}-alertmanager", [C("alertmanager", "quay.io/prometheus/alertmanager:v0.27.0", ports=[("http-web", 9093)]),
                                                                   C("config-reloader", "quay.io/prometheus-operator/prometheus-config-reloader:v0.74.0")],
                         replicas=1, labels={"app.kubernetes.io/name": "alertmanager", "alertmanager": f"{rel}-alertmanager"}, headless=False)
        self.service(mon, f"{rel}-alertmanager", {"app.kubernetes.io/name": "alertmanager", "alertmanager": f"{rel}-alertmanager"}, [("http-web", 9093, 9093)])
        self.daemonset(mon, f"{rel}-prometheus-node-exporter", [C("node-exporter", "quay.io/prometheus/node-exporter:v1.8.0", ports=[("http-metrics", 9100)])],
                       labels={"app.kubernetes.io/name": "prometheus-node-exporter", "app.kubernetes.io/instance": rel}, host_network=True,
                       priority_class="")

    @property
    def default_sc(self) -> str:
        for s in self.cluster["storageclasses"]:
            if s["metadata"].get("annotations", {}).get("storageclass.kubernetes.io/is-default-class") == "true":
                return s["metadata"]["name"]
        return "standard"

    # -------------------------------------------------------------------------------- neighbours
    def neighbours(self, ns: str, stack: str = "go", n: int = 2, sidecar: str | None = None, registry: str = "") -> None:
        """Healthy workloads that share the namespace, with a Service each, some with a sidecar."""
        registry = registry or {"eks": "123456789012.dkr.ecr.us-east-1.amazonaws.com", "gke": "europe-docker.pkg.dev/acme-prod/apps",
                                "aks": "acmeprod.azurecr.io"}.get(self.flavor, "registry.acme.internal")
        names = ["catalog", "profile", "notifications", "search-indexer", "web", "pricing-cache", "audit-log", "feature-flags"]
        picked = [x for x in names if (ns, x) not in {(n_, d["metadata"]["name"]) for n_ in [ns] for d in self.ns[ns]["deployments"]}]
        for i, nm in enumerate(picked[:n]):
            cs = [C(nm, f"{registry}/{nm}:{1 + i}.{4 + i}.{i * 3}", ports=[("http", 8080)], stack=stack,
                    requests={"cpu": "100m", "memory": "256Mi"}, limits={"memory": "512Mi"},
                    readiness={"httpGet": {"path": "/healthz", "port": "http"}}, liveness={"httpGet": {"path": "/healthz", "port": "http"}})]
            if sidecar == "istio":
                cs.append(C("istio-proxy", "docker.io/istio/proxyv2:1.22.1", ports=[("http-envoy-prom", 15090)], stack="envoy",
                            requests={"cpu": "10m", "memory": "40Mi"}))
            self.deployment(ns, nm, cs, replicas=2, service=[("http", 80, "http")])

    # -------------------------------------------------------------------------------- finalisation & output
    def _finalise(self) -> None:
        for ns, kinds in self.ns.items():
            pods = kinds.get("pods", [])
            # replicasets / deployments status from pods
            for rs in kinds.get("replicasets", []):
                mine = [p for p in pods if any(o.get("name") == rs["metadata"]["name"] for o in p["metadata"].get("ownerReferences", []))
                        and "deletionTimestamp" not in p["metadata"] and p["status"]["phase"] not in ("Failed", "Succeeded")]
                ready = sum(1 for p in mine if _pod_ready(p))
                rs["status"] = {"replicas": len(mine), "fullyLabeledReplicas": len(mine), "readyReplicas": ready,
                                "availableReplicas": ready, "observedGeneration": 1, **rs.get("_status_extra", {})}
                for k in ("readyReplicas", "availableReplicas"):
                    if not rs["status"][k]:
                        del rs["status"][k]
                rs.pop("_pods", None)
                rs.pop("_status_extra", None)
            for d in kinds.get("deployments", []):
                rsnames = d.pop("_rs", [])
                rss = [r for r in kinds.get("replicasets", []) if r["metadata"]["name"] in rsnames]
                cur = rss[-1] if rss else None
                total = sum(r["status"].get("replicas", 0) for r in rss)
                ready = sum(r["status"].get("readyReplicas", 0) for r in rss)
                updated = cur["status"].get("replicas", 0) if cur else 0
                want = d["spec"]["replicas"]
                st = d["status"]
                st.update({"replicas": total, "updatedReplicas": updated, "readyReplicas": ready, "availableReplicas": ready})
                if want - ready > 0:
                    st["unavailableReplicas"] = max(want - ready, 0)
                for k in ("readyReplicas", "availableReplicas", "updatedReplicas", "replicas"):
                    if not st.get(k):
                        st.pop(k, None)
                conds = d.pop("_pending_conditions", None)
                if conds is None:
                    avail_ok = ready >= want - (want // 4 if want >= 4 else 0)
                    conds = [{"type": "Available", "status": "True" if avail_ok else "False",
                              "reason": "MinimumReplicasAvailable" if avail_ok else "MinimumReplicasUnavailable",
                              "message": "Deployment has minimum availability." if avail_ok else "Deployment does not have minimum availability.",
                              "lastUpdateTime": ts(60 * 24 * 5 if avail_ok else 25), "lastTransitionTime": ts(60 * 24 * 5 if avail_ok else 25)},
                             {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
                              "message": f'ReplicaSet "{cur["metadata"]["name"] if cur else d["metadata"]["name"]}" has successfully progressed.',
                              "lastUpdateTime": ts(60 * 24 * 5), "lastTransitionTime": ts(60 * 24 * 40)}]
                st["conditions"] = conds
            for s in kinds.get("statefulsets", []):
                mine = [p for p in pods if any(o.get("name") == s["metadata"]["name"] and o["kind"] == "StatefulSet"
                                               for o in p["metadata"].get("ownerReferences", []))]
                ready = sum(1 for p in mine if _pod_ready(p))
                s["status"].update({"replicas": len(mine), "readyReplicas": ready, "currentReplicas": len(mine), "updatedReplicas": len(mine),
                                    "availableReplicas": ready, "collisionCount": 0})
                if not ready:
                    s["status"].pop("readyReplicas")
                    s["status"].pop("availableReplicas")
            for ds in kinds.get("daemonsets", []):
                mine = [p for p in pods if any(o.get("name") == ds["metadata"]["name"] and o["kind"] == "DaemonSet"
                                               for o in p["metadata"].get("ownerReferences", []))]
                ready = sum(1 for p in mine if _pod_ready(p))
                desired = ds.pop("_desired", len(mine))
                ds["status"].update({"currentNumberScheduled": len(mine), "desiredNumberScheduled": desired, "numberAvailable": ready,
                                     "numberMisscheduled": 0, "numberReady": ready, "updatedNumberScheduled": len(mine)})
                if desired - ready > 0:
                    ds["status"]["numberUnavailable"] = desired - ready
            # endpoints from services
            eps = {e["metadata"]["name"] for e in kinds.get("endpoints", [])}
            for svc in kinds.get("services", []):
                name = svc["metadata"]["name"]
                sel = svc["spec"].get("selector")
                if name in eps or (sel is None and name != "kubernetes"):
                    continue
                ports = [{"name": p.get("name", ""), "port": p["targetPort"] if isinstance(p["targetPort"], int) else self._named_port(ns, sel, p["targetPort"]),
                          "protocol": p["protocol"]} for p in svc["spec"]["ports"]]
                for p in ports:
                    if not p["name"]:
                        del p["name"]
                if name == "kubernetes":
                    cps = self.cp or self.workers
                    self.add("endpoints", {"metadata": {"name": name, "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
                                           "subsets": [{"addresses": [{"ip": f"10.0.{i}.50"} for i, _ in enumerate(cps[:3] or [0])],
                                                        "ports": [{"name": "https", "port": 6443, "protocol": "TCP"}]}]}, ns)
                    continue
                ready, notready = [], []
                for p in pods:
                    labels = p["metadata"].get("labels", {})
                    if not all(labels.get(k) == v for k, v in sel.items()):
                        continue
                    ip = p["status"].get("podIP")
                    if not ip or p["status"]["phase"] in ("Succeeded", "Failed") or "deletionTimestamp" in p["metadata"] and not _pod_ready(p):
                        continue
                    addr = {"ip": ip, "nodeName": p["spec"].get("nodeName"),
                            "targetRef": {"kind": "Pod", "namespace": ns, "name": p["metadata"]["name"], "uid": p["metadata"]["uid"]}}
                    (ready if _pod_ready(p) else notready).append(addr)
                subset: dict[str, Any] = {}
                if ready:
                    subset["addresses"] = ready
                if notready:
                    subset["notReadyAddresses"] = notready
                obj: dict[str, Any] = {"metadata": {"name": name, "labels": dict(svc["metadata"].get("labels", {})),
                                                    "annotations": {"endpoints.kubernetes.io/last-change-trigger-time": ts(5)}}}
                if subset:
                    subset["ports"] = ports
                    obj["subsets"] = [subset]
                self.add("endpoints", obj, ns, created_ago=60 * 24 * 30)

    def _named_port(self, ns: str, sel: dict, pname: str) -> int:
        for p in self.ns[ns].get("pods", []):
            if all(p["metadata"].get("labels", {}).get(k) == v for k, v in sel.items()):
                for c in p["spec"]["containers"]:
                    for port in c.get("ports", []):
                        if port.get("name") == pname:
                            return port["containerPort"]
        return 8080

    def write(self, root: Path) -> Path:
        self._finalise()
        root.mkdir(parents=True, exist_ok=True)
        kinds_of = {"endpoints": "EndpointsList", "events": "EventList"}
        def dump(path: Path, plural: str, items: list[dict]) -> None:
            path.parent.mkdir(parents=True, exist_ok=True)
            kind = kinds_of.get(plural) or {"persistentvolumeclaims": "PersistentVolumeClaimList", "persistentvolumes": "PersistentVolumeList",
                                            "storageclasses": "StorageClassList", "horizontalpodautoscalers": "HorizontalPodAutoscalerList",
                                            "networkpolicies": "NetworkPolicyList", "resourcequotas": "ResourceQuotaList",
                                            "limitranges": "LimitRangeList", "validatingwebhookconfigurations": "ValidatingWebhookConfigurationList",
                                            "mutatingwebhookconfigurations": "MutatingWebhookConfigurationList", "serviceaccounts": "ServiceAccountList",
                                            "configmaps": "ConfigMapList", "secrets": "SecretList", "statefulsets": "StatefulSetList",
                                            "daemonsets": "DaemonSetList", "replicasets": "ReplicaSetList", "deployments": "DeploymentList",
                                            "cronjobs": "CronJobList", "jobs": "JobList", "poddisruptionbudgets": "PodDisruptionBudgetList",
                                            "ingresses": "IngressList", "replicationcontrollers": "ReplicationControllerList",
                                            "services": "ServiceList", "pods": "PodList", "nodes": "NodeList"}[plural]
            clean = [_strip_private(o) for o in items]
            path.write_text(json.dumps({"kind": kind, "apiVersion": "v1", "metadata": {"resourceVersion": str(self.rng.randint(10**7, 10**8))},
                                        "items": clean}, indent=4, sort_keys=False) + "\n")
        dump(root / "nodes.json", "nodes", self.cluster.get("nodes", []))
        for plural, items in sorted(self.cluster.items()):
            if plural != "nodes":
                dump(root / f"{plural}.json", plural, items)
        for ns, kinds in sorted(self.ns.items()):
            for plural in ("events", "replicationcontrollers", "services", "daemonsets", "deployments", "replicasets", "pods"):
                kinds.setdefault(plural, [])
            for plural, items in sorted(kinds.items()):
                if plural.startswith("_"):
                    continue
                fname = "replication-controllers" if plural == "replicationcontrollers" else plural
                items = sorted(items, key=lambda o: o["metadata"]["name"]) if plural != "events" else items
                dump(root / ns / f"{fname}.json", plural, items)
            for p in kinds.get("pods", []):
                pname = p["metadata"]["name"]
                entries = self.logs.get((ns, pname), {})
                cur, prev = [], []
                order = [c["name"] for c in p["spec"].get("initContainers", [])] + [c["name"] for c in p["spec"]["containers"]]
                for cname in order:
                    if cname not in entries:
                        continue
                    text, previous = entries[cname]
                    cur.append(f"==== START logs for container {cname} of pod {ns}/{pname} ====\n{text.rstrip()}\n"
                               f"==== END logs for container {cname} of pod {ns}/{pname} ====\n")
                    if previous:
                        prev.append(f"==== START logs for container {cname} of pod {ns}/{pname} ====\n{previous.rstrip()}\n"
                                    f"==== END logs for container {cname} of pod {ns}/{pname} ====\n")
                if cur:
                    (root / ns / pname).mkdir(parents=True, exist_ok=True)
                    (root / ns / pname / "logs.txt").write_text("".join(cur))
                if prev:
                    (root / ns / pname / "logs-previous.txt").write_text("".join(prev))
        return root


def _pod_ready(p: dict) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions", []))


def _strip_private(o: dict) -> dict:
    return {k: v for k, v in o.items() if not k.startswith("_")}


# ------------------------------------------------------------------------------------------------ alerts
REL = "kube-prometheus-stack"
RUNBOOK = "https://runbooks.prometheus-operator.dev/runbooks/kubernetes/"
ALERT_TEXT: dict[str, tuple[str, str, str]] = {
    "KubePodCrashLooping": ("kubernetes/kubepodcrashlooping", "Pod is crash looping.",
                            'Pod {namespace}/{pod} ({container}) is in waiting state (reason: "CrashLoopBackOff").'),
    "KubePodNotReady": ("kubernetes/kubepodnotready", "Pod has been in a non-ready state for more than 15 minutes.",
                        "Pod {namespace}/{pod} has been in a non-ready state for longer than 15 minutes on cluster ."),
    "KubeContainerWaiting": ("kubernetes/kubecontainerwaiting", "Pod container waiting longer than 1 hour",
                             "pod/{pod} in namespace {namespace} on container {container} has been in waiting state for longer than 1 hour. (reason: \"{reason}\") on cluster ."),
    "KubeDeploymentReplicasMismatch": ("kubernetes/kubedeploymentreplicasmismatch", "Deployment has not matched the expected number of replicas.",
                                       "Deployment {namespace}/{deployment} has not matched the expected number of replicas for longer than 15 minutes on cluster ."),
    "KubeDeploymentRolloutStuck": ("kubernetes/kubedeploymentrolloutstuck", "Deployment rollout is not progressing.",
                                   "Rollout of deployment {namespace}/{deployment} is not progressing for longer than 15 minutes on cluster ."),
    "KubeStatefulSetReplicasMismatch": ("kubernetes/kubestatefulsetreplicasmismatch", "StatefulSet has not matched the expected number of replicas.",
                                        "StatefulSet {namespace}/{statefulset} has not matched the expected number of replicas for longer than 15 minutes on cluster ."),
    "KubeDaemonSetRolloutStuck": ("kubernetes/kubedaemonsetrolloutstuck", "DaemonSet rollout is stuck.",
                                  "DaemonSet {namespace}/{daemonset} has not finished or progressed for at least 15m on cluster ."),
    "KubeJobFailed": ("kubernetes/kubejobfailed", "Job failed to complete.",
                      "Job {namespace}/{job_name} failed to complete. Removing failed job after investigation should clear this alert on cluster ."),
    "KubeJobNotCompleted": ("kubernetes/kubejobnotcompleted", "Job did not complete in time",
                            "Job {namespace}/{job_name} is taking more than 12h 0m 0s to complete on cluster ."),
    "KubeHpaMaxedOut": ("kubernetes/kubehpamaxedout", "HPA is running at max replicas",
                        "HPA {namespace}/{horizontalpodautoscaler} has been running at max replicas for longer than 15 minutes on cluster ."),
    "KubeNodeNotReady": ("kubernetes/kubenodenotready", "Node is not ready.", "{node} has been unready for more than 15 minutes on cluster ."),
    "KubeNodeUnreachable": ("kubernetes/kubenodeunreachable", "Node is unreachable.",
                            "{node} is unreachable and some workloads may be rescheduled on cluster ."),
    "KubeNodePressure": ("kubernetes/kubenodepressure", "Node has as active Condition.",
                         "{node} on cluster  has active Condition {condition}. This is caused by resource usage exceeding eviction thresholds."),
    "KubePersistentVolumeFillingUp": ("kubernetes/kubepersistentvolumefillingup", "PersistentVolume is filling up.",
                                      "The PersistentVolume claimed by {persistentvolumeclaim} in Namespace {namespace} on Cluster  is only 1.2% free."),
    "KubeQuotaFullyUsed": ("kubernetes/kubequotafullyused", "Namespace quota is fully used.",
                           "Namespace {namespace} is using 100% of its {resource} quota on cluster ."),
    "CPUThrottlingHigh": ("kubernetes/cputhrottlinghigh", "Processes experience elevated CPU throttling.",
                          "38.2% throttling of CPU in namespace {namespace} for container {container} in pod {pod} on cluster ."),
    "TargetDown": ("general/targetdown", "One or more targets are unreachable.",
                   "100% of the {job}/{service} targets in {namespace} namespace are down."),
}


def alert(c: Cluster, alertname: str, labels: dict[str, str], *, target: str | None = "ksm", severity: str = "warning",
          starts_ago: float = 4, annotations: dict[str, str] | None = None, expr: str = "") -> dict:
    """An Alertmanager v4 webhook payload as kube-prometheus-stack + Alertmanager send it: the rule's labels, the
    scrape target's labels (kube-state-metrics or the kubelet) where the expression keeps them, Prometheus'
    external label, the rule's annotations."""
    lab: dict[str, str] = {"alertname": alertname}
    if target == "ksm":
        lab.update({"container": "kube-state-metrics", "endpoint": "http", "instance": f"{c.ksm_ip}:8080", "job": "kube-state-metrics",
                    "namespace": "monitoring", "pod": c.ksm_pod, "service": f"{REL}-kube-state-metrics"})
    elif target == "kubelet":
        node = labels.get("node") or c.workers[0]
        lab.update({"endpoint": "https-metrics", "instance": f"{c.nodes[node].ip}:10250", "job": "kubelet", "metrics_path": "/metrics",
                    "namespace": "kube-system", "node": node, "service": f"{REL}-kubelet"})
    lab.update(labels)  # metric labels win (honorLabels: true)
    lab["prometheus"] = f"monitoring/{REL}-prometheus"
    lab["severity"] = severity
    ann = dict(annotations or {})
    if alertname in ALERT_TEXT:
        rb, summary, desc = ALERT_TEXT[alertname]
        class _D(dict):
            def __missing__(self, k: str) -> str:
                return ""
        ann.setdefault("description", desc.format_map(_D(lab)))
        ann.setdefault("runbook_url", RUNBOOK + rb.split("/", 1)[1] if rb.startswith("kubernetes/") else "https://runbooks.prometheus-operator.dev/runbooks/" + rb)
        ann.setdefault("summary", summary)
    fp = _hex(json.dumps(lab, sort_keys=True), 16)
    gexpr = expr or {"KubePodCrashLooping": 'max_over_time(kube_pod_container_status_waiting_reason{job="kube-state-metrics",namespace=~".*",reason="CrashLoopBackOff"}[5m]) >= 1'}.get(alertname, alertname)
    a = {"status": "firing", "labels": lab, "annotations": ann, "startsAt": ts_micro(starts_ago), "endsAt": "0001-01-01T00:00:00Z",
         "generatorURL": f"http://{REL}-prometheus.monitoring:9090/graph?g0.expr={_q(gexpr)}&g0.tab=1", "fingerprint": fp}
    group = {k: lab[k] for k in ("alertname", "namespace") if k in lab}
    return {"receiver": "aetherius", "status": "firing", "alerts": [a], "groupLabels": group, "commonLabels": dict(lab),
            "commonAnnotations": dict(ann), "externalURL": f"http://{REL}-alertmanager.monitoring:9093", "version": "4",
            "groupKey": "{}/{severity=~\"warning|critical\"}:{" + ", ".join(f'{k}="{v}"' for k, v in group.items()) + "}",
            "truncatedAlerts": 0}


def _q(s: str) -> str:
    from urllib.parse import quote
    return quote(s, safe="")


# ------------------------------------------------------------------------------------------------ incidents
@dataclass
class Incident:
    id: str
    title: str
    category: str
    deepest: str  # kind/namespace/name or kind/name; "" for unknown
    evidence: list[list[str]]  # each inner list: acceptable spellings of one fact a correct report must cite
    chain: str  # the causal chain an SRE would write
    multi_hop: bool
    red_herrings: list[str]
    stack: str
    platform: str
    source: str
    build: Callable[[], tuple[Cluster, dict]]
    alt_deepest: list[str] = field(default_factory=list)
    alt_categories: list[str] = field(default_factory=list)
    note: str = ""


class Registry:
    def __init__(self, set_name: str) -> None:
        self.set_name = set_name
        self.items: list[Incident] = []

    def __call__(self, id: str, *, title: str, category: str, deepest: str, evidence: list, chain: str, multi_hop: bool,
                 stack: str, platform: str, source: str, red_herrings: list[str] | None = None, alt_deepest: list[str] | None = None,
                 alt_categories: list[str] | None = None, note: str = "") -> Callable:
        def deco(fn: Callable[[], tuple[Cluster, dict]]) -> Callable:
            ev = [[e] if isinstance(e, str) else list(e) for e in evidence]
            self.items.append(Incident(f"{self.set_name}-{id}", title, category, deepest, ev, chain, multi_hop, red_herrings or [],
                                       stack, platform, source, fn, alt_deepest or [], alt_categories or [], note))
            return fn
        return deco


def build_set(reg: Registry, out: Path) -> list[dict]:
    """Write every incident of a set under out/<id>/{dump/, alert.json, expected.json}; return the expected records."""
    records = []
    for inc in reg.items:
        cluster, payload = inc.build()
        d = out / inc.id
        cluster.write(d / "dump")
        (d / "alert.json").write_text(json.dumps(payload, indent=2) + "\n")
        rec = {k: v for k, v in inc.__dict__.items() if k != "build"}
        (d / "expected.json").write_text(json.dumps(rec, indent=2) + "\n")
        records.append(rec)
    return records


def digest_dir(d: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(d.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(d)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()
