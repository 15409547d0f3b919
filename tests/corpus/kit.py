"""A realistic cluster for incident scenarios: what `kubectl cluster-info dump` of a real cluster holds around
an incident, written from code so every scenario is consistent.

`Cluster` lays down, for a `Stack` (provider naming, Kubernetes version, container runtime, monitoring
release, how the scheduler's events look): nodes with nodeInfo/addresses/zones/allocatable; kube-system
with CoreDNS (Deployment → ReplicaSet → pods, Service kube-dns with Endpoints), kube-proxy and the CNI on
every node, metrics-server; monitoring with kube-prometheus-stack (kube-state-metrics, node-exporter,
Prometheus, Alertmanager); and `app()` for workloads with ReplicaSets/StatefulSets, Services, Endpoints
with targetRefs, normal lifecycle events. `alert()` writes the Alertmanager payload kube-prometheus-stack
really sends, scrape-target labels included.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.dumpkit import NOW, Ctr, DumpBuilder, ago


@dataclass(frozen=True)
class Stack:
    name: str
    k8s: str
    runtime: str  # containerd | cri-o | docker
    runtime_version: str
    provider: str  # eks | gke | aks | kind | onprem
    release: str  # kube-prometheus-stack release name
    series_events: bool  # scheduler events written through events.k8s.io (eventTime + series)
    ksm_honor_labels: bool = True
    cni: str = "calico"
    cluster_label: str = ""  # external label "cluster" on every alert

    @property
    def minor(self) -> int:
        return int(self.k8s.split(".")[1])


STACKS: tuple[Stack, ...] = (
    Stack("eks-129", "1.29.3-eks-adc7111", "containerd", "1.7.11", "eks", "kube-prometheus-stack", True, cni="aws-node",
          cluster_label="prod-eu-west-1"),
    Stack("gke-127", "1.27.8-gke.1067004", "containerd", "1.7.10", "gke", "prometheus", True, cni="cilium"),
    Stack("aks-126", "1.26.10", "containerd", "1.6.26", "aks", "kps", True, cni="azure-cns", cluster_label="aks-weu-prod"),
    Stack("ocp-414", "1.27.10+28ed2d7", "cri-o", "1.27.3-6.rhaos4.14", "onprem", "k8s", True, ksm_honor_labels=True,
          cni="ovnkube-node"),
    Stack("kind-130", "1.30.0", "containerd", "1.7.15", "kind", "monitoring", True, cni="kindnet"),
    Stack("onprem-121", "1.21.14", "docker", "20.10.21", "onprem", "prom-stack", False, ksm_honor_labels=False,
          cni="calico"),
    Stack("rke2-128", "1.28.9+rke2r1", "containerd", "1.7.11-k3s2", "onprem", "rancher-monitoring", True, cni="canal"),
)


def _h(text: str, n: int = 10, alphabet: str = "bcdfghjklmnpqrstvwxz2456789") -> str:
    digest = hashlib.sha256(text.encode()).digest()
    return "".join(alphabet[b % len(alphabet)] for b in digest[:n])


@dataclass
class App:
    ns: str
    name: str
    kind: str
    pods: list[str]
    labels: dict[str, str]
    rs: str = ""
    service: str = ""
    port: int = 8080
    pvcs: list[str] = field(default_factory=list)

    @property
    def any_pod(self) -> str:
        """A reference prefix every pod of this workload matches (replicas that fail alike are interchangeable)."""
        return f"pod/{self.ns}/{self.rs}-" if self.rs else f"pod/{self.ns}/{self.name}-"


class Cluster:
    def __init__(self, root: Path, stack: Stack, seed: int, nodes: int = 3) -> None:
        self.b = DumpBuilder(root)
        self.stack = stack
        self.rng = random.Random(seed)
        self.ip_seq = 10
        self.node_names: list[str] = []
        self.node_ips: dict[str, str] = {}
        for i in range(nodes):
            self.add_node(self._node_name(i))
        self._control_plane()
        self._kube_system()
        self._monitoring()

    # --- naming ----------------------------------------------------------------------------------------------
    def _node_name(self, i: int) -> str:
        p, r = self.stack.provider, self.rng
        if p == "eks":
            return f"ip-10-0-{r.randint(1, 250)}-{r.randint(2, 250)}.eu-west-1.compute.internal"
        if p == "gke":
            return f"gke-prod-default-pool-{_h(str(r.random()), 8, 'abcdef0123456789')}-{_h(str(r.random()), 4, 'abcdefghijklmnopqrstuvwxyz')}"
        if p == "aks":
            return f"aks-nodepool1-{r.randint(10000000, 99999999)}-vmss{i:06d}"
        if p == "kind":
            return "kind-worker" + (str(i + 1) if i else "")
        if p == "doks":
            return f"pool-{_h(str(r.random()), 9, 'abcdefghijklmnopqrstuvwxyz0123456789')}-{_h(str(r.random()), 5, 'abcdefghijklmnopqrstuvwxyz')}"
        if p == "k3s":
            return f"k3s-agent-{i + 1}"
        return f"worker-{i + 1:02d}.dc1.example.net"

    def pod_ip(self) -> str:
        self.ip_seq += 1
        return f"10.244.{self.ip_seq // 250}.{self.ip_seq % 250 + 2}"

    def hashed(self, name: str, n: int = 10) -> str:
        return _h(f"{name}/{self.rng.random()}", n)

    def pod_name(self, rs: str) -> str:
        return f"{rs}-{self.hashed(rs, 5)}"

    # --- nodes -----------------------------------------------------------------------------------------------
    def add_node(self, name: str, *, ready: str = "True", reason: str = "KubeletReady",
                 message: str = "kubelet is posting ready status", pressure: dict | None = None, taints: list | None = None,
                 labels: dict | None = None, allocatable: dict | None = None, zone: str | None = None,
                 unschedulable: bool = False, heartbeat_minutes: float = 0.5) -> dict:
        zone = zone or ["a", "b", "c"][len(self.node_names) % 3]
        region = {"eks": "eu-west-1", "gke": "europe-west4", "aks": "westeurope"}.get(self.stack.provider, "dc1")
        node = self.b.node(name, ready=ready, reason=reason, message=message, pressure=pressure, taints=taints,
                           labels={"kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
                                   "topology.kubernetes.io/region": region, "topology.kubernetes.io/zone": f"{region}-{zone}"
                                   if self.stack.provider != "aks" else f"{region}-{'abc'.index(zone) + 1}",
                                   "node.kubernetes.io/instance-type": {"eks": "m6i.xlarge", "gke": "e2-standard-4",
                                                                        "aks": "Standard_D4s_v5"}.get(self.stack.provider, "standard"),
                                   **(labels or {})},
                           allocatable=allocatable or {"cpu": "3920m", "memory": "14246Mi", "pods": "58" if self.stack.provider == "eks" else "110",
                                                       "ephemeral-storage": "95551679124"})
        ip = f"10.0.{len(self.node_names) + 1}.{self.rng.randint(10, 240)}"
        node["status"].update({
            "addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}],
            "capacity": {**node["status"]["allocatable"]},
            "nodeInfo": {"kubeletVersion": f"v{self.stack.k8s}", "kubeProxyVersion": f"v{self.stack.k8s}",
                         "containerRuntimeVersion": f"{self.stack.runtime}://{self.stack.runtime_version}",
                         "osImage": {"eks": "Amazon Linux 2", "gke": "Container-Optimized OS from Google",
                                     "aks": "Ubuntu 22.04.4 LTS"}.get(self.stack.provider, "Ubuntu 22.04.3 LTS"),
                         "kernelVersion": "5.15.0-1057-azure" if self.stack.provider == "aks" else "6.1.79",
                         "operatingSystem": "linux", "architecture": "amd64"}})
        for c in node["status"]["conditions"]:
            c["lastHeartbeatTime"] = ago(heartbeat_minutes if ready == "True" else 12)
            c.setdefault("lastTransitionTime", ago(60 * 24 * 20))
        if unschedulable:
            node["spec"]["unschedulable"] = True
        self.node_names.append(name)
        self.node_ips[name] = ip
        return node

    def node_for(self, i: int) -> str:
        return self.node_names[i % len(self.node_names)]

    # --- system namespaces -------------------------------------------------------------------------------------
    def _control_plane(self) -> None:
        if self.stack.provider in ("kind", "onprem"):
            cp = "kind-control-plane" if self.stack.provider == "kind" else "master-01.dc1.example.net"
            self.add_node(cp, taints=[{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}],
                          labels={"node-role.kubernetes.io/control-plane": ""})
            if self.stack.minor < 24:
                self.b.cluster_objects["nodes"][-1]["spec"]["taints"] = [
                    {"key": "node-role.kubernetes.io/master", "effect": "NoSchedule"}]

    def _kube_system(self) -> None:
        ks = "kube-system"
        dns_name = "coredns" if self.stack.provider != "gke" else "kube-dns"
        self.dns = self.app(ks, dns_name, replicas=2, labels={"k8s-app": "kube-dns"}, port=53, service="kube-dns",
                            image="registry.k8s.io/coredns/coredns:v1.11.1" if dns_name == "coredns"
                            else "gke.gcr.io/k8s-dns-kube-dns:1.23.0-gke.9", container=dns_name if dns_name == "coredns" else "kubedns",
                            cluster_ip="10.96.0.10" if self.stack.provider != "gke" else "10.52.0.10", extra_ports=[9153])
        self.daemon(ks, "kube-proxy", {"k8s-app": "kube-proxy"}, f"registry.k8s.io/kube-proxy:v{self.stack.k8s.split('-')[0].split('+')[0]}")
        self.daemon(ks, self.stack.cni, {"k8s-app": self.stack.cni}, f"docker.io/library/{self.stack.cni}:stable")
        self.metrics = self.app(ks, "metrics-server", replicas=1, labels={"k8s-app": "metrics-server"}, port=10250,
                                image="registry.k8s.io/metrics-server/metrics-server:v0.7.0")
        self.b.event(ks, "Pod", self.dns.pods[0], "Pulled", "Container image already present on machine", type="Normal",
                     minutes_ago=60 * 24 * 9)

    def _monitoring(self) -> None:
        mon, rel = "monitoring", self.stack.release
        self.ksm = self.app(mon, f"{rel}-kube-state-metrics", replicas=1, port=8080,
                            labels={"app.kubernetes.io/name": "kube-state-metrics", "app.kubernetes.io/instance": rel},
                            image="registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.10.1",
                            container="kube-state-metrics")
        self.daemon(mon, f"{rel}-prometheus-node-exporter", {"app.kubernetes.io/name": "prometheus-node-exporter"},
                    "quay.io/prometheus/node-exporter:v1.7.0", container="node-exporter")
        self.app(mon, f"prometheus-{rel}-prometheus", kind="statefulset", replicas=1, port=9090,
                 labels={"app.kubernetes.io/name": "prometheus"}, image="quay.io/prometheus/prometheus:v2.49.1",
                 container="prometheus", sidecars=[Ctr("config-reloader", image="quay.io/prometheus-operator/prometheus-config-reloader:v0.71.2")])

    def daemon(self, ns: str, name: str, labels: dict, image: str, container: str | None = None) -> list[str]:
        self.b.daemonset(ns, name, desired=len(self.node_names))
        self.b.ns_objects[ns]["daemonsets"][-1]["spec"]["selector"] = {"matchLabels": labels}
        pods = []
        for i, node in enumerate(self.node_names):
            pod = f"{name}-{self.hashed(name + node, 5)}"
            self.pod(ns, pod, [Ctr(container or name, image=image, since=60 * 24 * 6)], owner=("DaemonSet", name),
                     labels=labels, node=node)
            pods.append(pod)
        return pods

    # --- workloads ---------------------------------------------------------------------------------------------
    def pod(self, ns: str, name: str, containers: list[Ctr], *, owner: tuple[str, str] | None = None,
            labels: dict | None = None, node: str | None = None, **kw: Any) -> dict:
        for c in containers:
            c.runtime = {"cri-o": "cri-o", "docker": "docker"}.get(self.stack.runtime, "containerd")
        kw.setdefault("phase", None)
        pod = self.b.pod(ns, name, containers, owner=owner, labels=labels, node=node, **kw)
        pod["metadata"]["creationTimestamp"] = ago(60 * 24 * 2)
        pod["spec"].setdefault("serviceAccountName", "default")
        pod["spec"].setdefault("restartPolicy", "Always")
        status = pod["status"]
        if node:
            status.update({"hostIP": self.node_ips.get(node, "10.0.9.9"), "podIP": self.pod_ip()})
        status["startTime"] = ago(60 * 24 * 2)
        status["qosClass"] = "Burstable"
        return pod

    def app(self, ns: str, name: str, *, kind: str = "deployment", replicas: int = 2, labels: dict | None = None,
            port: int = 8080, image: str | None = None, container: str | None = None,
            pods: list[list[Ctr]] | None = None, sidecars: list[Ctr] | None = None, service: str | bool = True,
            env: dict | None = None, nodes: list[str | None] | None = None, cluster_ip: str | None = None,
            extra_ports: list[int] | None = None, pvc_size: str = "", storage_class: str = "gp3",
            init: list[Ctr] | None = None, ready: int | None = None, pod_phase: list[str | None] | None = None,
            volumes: list[dict] | None = None) -> App:
        """A workload with its pods (healthy unless `pods` says otherwise), Service and Endpoints."""
        labels = labels or {"app.kubernetes.io/name": name, "app.kubernetes.io/instance": name}
        image = image or f"registry.example.com/{ns}/{name}:{self.rng.randint(1, 9)}.{self.rng.randint(0, 30)}.{self.rng.randint(0, 9)}"
        cname = container or name
        rs = ""
        if kind == "deployment":
            rs = self.b.deployment(ns, name, replicas=replicas, ready=0, labels=labels, rs_hash=self.hashed(name, 10))
        elif kind == "statefulset":
            self.b.statefulset(ns, name, replicas=replicas, ready=0)
            self.b.ns_objects[ns]["statefulsets"][-1]["spec"]["selector"] = {"matchLabels": labels}
            self.b.ns_objects[ns]["statefulsets"][-1]["spec"]["serviceName"] = f"{name}-headless" if service is True else str(service)
        names: list[str] = []
        ready_count = 0
        pvcs: list[str] = []
        for i in range(replicas):
            pname = f"{name}-{i}" if kind == "statefulset" else self.pod_name(rs)
            ctrs = pods[i] if pods and i < len(pods) else [Ctr(cname, image=image, ports=[port], env=env,
                                                                 since=60 * 24 * 2, requests={"cpu": "100m", "memory": "256Mi"},
                                                                 limits={"memory": "512Mi"})]
            ctrs = [c if c.image != "registry.example.com/app:1.0" else _with_image(c, image) for c in ctrs]
            ctrs = ctrs + [Ctr(s.name, image=s.image, since=60 * 24 * 2) if s.state == "running" and s.ready and not s.restarts
                           else s for s in (sidecars or []) if s.name not in {c.name for c in ctrs}]
            vols = list(volumes or [])
            if kind == "statefulset" and pvc_size:
                claim = f"data-{pname}"
                pv = f"pvc-{self.hashed(claim, 8)}-{self.hashed(claim + 'x', 4)}"
                self.b.pv(pv, claim=(ns, claim))
                pvc = self.b.pvc(ns, claim, phase="Bound", storage_class=storage_class, volume=pv)
                pvc["spec"]["resources"]["requests"]["storage"] = pvc_size
                pvc["status"]["capacity"] = {"storage": pvc_size}
                vols.append({"name": "data", "persistentVolumeClaim": {"claimName": claim}})
                for c in ctrs:
                    if c.name == cname and not c.mounts:
                        c.mounts = {"data": "/var/lib/data"}
                pvcs.append(claim)
            node = nodes[i] if nodes and i < len(nodes) else self.node_for(i + len(names) + len(name))
            owner = ("StatefulSet", name) if kind == "statefulset" else ("ReplicaSet", rs) if kind == "deployment" else None
            phase = pod_phase[i] if pod_phase and i < len(pod_phase) else None
            pod = self.pod(ns, pname, ctrs, owner=owner, labels={**labels, **({"pod-template-hash": rs.rsplit('-', 1)[-1]} if rs else {})},
                           node=node, init=init, volumes=vols or None, phase=phase)
            if pod["status"]["conditions"][1]["status"] == "True":
                ready_count += 1
            names.append(pname)
            self._lifecycle_events(ns, pname, ctrs)
        ready_count = ready if ready is not None else ready_count
        for plural in ("deployments", "statefulsets"):
            for obj in self.b.ns_objects[ns].get(plural, []):
                if obj["metadata"]["name"] == name:
                    obj["status"].update({"readyReplicas": ready_count, "availableReplicas": ready_count,
                                          "replicas": replicas, "updatedReplicas": replicas})
        for obj in self.b.ns_objects[ns].get("replicasets", []):
            if obj["metadata"]["name"] == rs:
                obj["status"]["readyReplicas"] = ready_count
                obj["metadata"]["annotations"] = {"deployment.kubernetes.io/revision": str(self.rng.randint(1, 40)),
                                                  "deployment.kubernetes.io/desired-replicas": str(replicas)}
                obj["spec"]["selector"] = {"matchLabels": {**labels, "pod-template-hash": rs.rsplit('-', 1)[-1]}}
        svc_name = ""
        if service:
            svc_name = name if service is True else str(service)
            svc = self.b.service(ns, svc_name, labels, port=port)
            svc["spec"]["clusterIP"] = cluster_ip or f"10.96.{self.rng.randint(1, 250)}.{self.rng.randint(2, 250)}"
            svc["spec"]["ports"] = [{"name": "tcp" if port == 53 else "http", "port": port, "targetPort": port,
                                     "protocol": "UDP" if port == 53 else "TCP"}] + \
                [{"name": f"p{p}", "port": p, "targetPort": p, "protocol": "TCP"} for p in extra_ports or []]
            if port == 53:
                svc["spec"]["ports"].append({"name": "dns-tcp", "port": 53, "targetPort": 53, "protocol": "TCP"})
            self.endpoints_for(ns, svc_name, names)
        if kind == "statefulset" and service is True:
            self.b.service(ns, f"{name}-headless", labels, port=port)["spec"]["clusterIP"] = "None"
        return App(ns, name, kind, names, labels, rs, svc_name, port, pvcs)

    def endpoints_for(self, ns: str, svc: str, pods: list[str]) -> dict:
        ready, not_ready = [], []
        for p in self.b.ns_objects[ns]["pods"]:
            if p["metadata"]["name"] in pods and p["status"].get("podIP"):
                addr = {"ip": p["status"]["podIP"], "nodeName": p["spec"].get("nodeName"),
                        "targetRef": {"kind": "Pod", "name": p["metadata"]["name"], "namespace": ns}}
                (ready if p["status"]["conditions"][1]["status"] == "True" else not_ready).append(addr)
        for e in list(self.b.ns_objects[ns].get("endpoints", [])):
            if e["metadata"]["name"] == svc:
                self.b.ns_objects[ns]["endpoints"].remove(e)
        subset: dict[str, Any] = {}
        if ready:
            subset["addresses"] = ready
        if not_ready:
            subset["notReadyAddresses"] = not_ready
        if subset:
            subset["ports"] = [{"name": "http", "port": 8080, "protocol": "TCP"}]
        return self.b.add("endpoints", {"metadata": {"name": svc}, "subsets": [subset] if subset else []}, ns)

    def _lifecycle_events(self, ns: str, pod: str, ctrs: list[Ctr]) -> None:
        """What every pod leaves behind: Scheduled, Pulled, Created, Started (old, Normal)."""
        age = 60 * 24 * 2
        self.b.event(ns, "Pod", pod, "Scheduled", f"Successfully assigned {ns}/{pod} to {self.node_names[0]}",
                     type="Normal", minutes_ago=age, series=self.stack.series_events, component="default-scheduler")
        for c in ctrs[:1]:
            self.b.event(ns, "Pod", pod, "Pulled", f'Container image "{c.image}" already present on machine',
                         type="Normal", minutes_ago=age - 1)
            self.b.event(ns, "Pod", pod, "Started", f"Started container {c.name}", type="Normal", minutes_ago=age - 1)

    def scheduling_failed(self, ns: str, pod: str, message: str, *, count: int = 14, first_hours: float = 3) -> None:
        """A FailedScheduling event as this cluster's scheduler writes it (series-style since 1.19 on most), and
        the pod's PodScheduled condition the scheduler sets with the same message."""
        for p in self.b.ns_objects[ns]["pods"]:
            if p["metadata"]["name"] == pod:
                p["status"]["conditions"][0].update({"status": "False", "reason": "Unschedulable", "message": message,
                                                     "lastProbeTime": None})
        self.b.event(ns, "Pod", pod, "FailedScheduling", message, count=count, minutes_ago=1.5,
                     first_minutes_ago=first_hours * 60, series=self.stack.series_events, component="default-scheduler")

    def neighbours(self, ns: str, count: int = 2) -> list[App]:
        """Healthy apps with sidecars, and the old, resolved warnings every namespace has."""
        out = []
        for i, base in enumerate(["recommendations", "static-assets", "notifications", "search-ui", "edge-cache"][:count]):
            name = f"{base}-{self.hashed(ns + base, 3)}" if self.rng.random() < 0.3 else base
            app = self.app(ns, name, replicas=2, sidecars=[Ctr(self.rng.choice(["istio-proxy", "linkerd-proxy", "envoy"]),
                                                               image="docker.io/istio/proxyv2:1.20.3")])
            out.append(app)
            self.b.event(ns, "Pod", app.pods[0], "Unhealthy",
                         "Readiness probe failed: HTTP probe failed with statuscode: 503", count=4,
                         minutes_ago=60 * (20 + 7 * i))
            self.b.event(ns, "Pod", app.pods[-1], "BackOff", "Back-off restarting failed container", count=2,
                         minutes_ago=60 * (30 + 5 * i))
        return out

    # --- alerts ------------------------------------------------------------------------------------------------
    def scrape_labels(self, kind: str, node: str | None = None) -> dict[str, str]:
        rel = self.stack.release
        prom = {"prometheus": f"monitoring/{rel}-prometheus"}
        if self.stack.cluster_label:
            prom["cluster"] = self.stack.cluster_label
        if kind == "ksm":
            return {"container": "kube-state-metrics", "endpoint": "http", "instance": f"{self.pod_ip()}:8080",
                    "job": "kube-state-metrics", "pod": self.ksm.pods[0], "service": f"{rel}-kube-state-metrics",
                    "namespace": "monitoring", **prom}
        if kind == "kubelet":
            node = node or self.node_names[0]
            return {"endpoint": "https-metrics", "instance": f"{self.node_ips.get(node, '10.0.0.1')}:10250", "job": "kubelet",
                    "metrics_path": "/metrics", "node": node, "service": f"{rel}-kubelet", **prom}
        if kind == "node-exporter":
            node = node or self.node_names[0]
            return {"container": "node-exporter", "endpoint": "http-metrics", "instance": node, "job": "node-exporter",
                    "namespace": "monitoring", "pod": f"{rel}-prometheus-node-exporter-{self.hashed(node, 5)}",
                    "service": f"{rel}-prometheus-node-exporter", **prom}
        return prom

    def alert(self, alertname: str, labels: dict[str, str], scrape: str | None = "ksm", severity: str = "warning",
              summary: str = "", description: str = "", minutes_ago: float = 16,
              keep: tuple[str, ...] | None = None) -> dict[str, Any]:
        """The webhook payload Alertmanager posts for a kube-prometheus-stack alert (one alert, firing).
        `keep`: the scrape labels an aggregating rule keeps (`sum by (namespace, pod, job)` keeps job only)."""
        scraped = self.scrape_labels(scrape, labels.get("node")) if scrape else self.scrape_labels("")
        if keep is not None:
            scraped = {k: v for k, v in scraped.items() if k in keep or k in ("prometheus", "cluster")}
        own = dict(labels)
        if scrape == "ksm" and not self.stack.ksm_honor_labels:
            for key in ("namespace", "pod", "container"):  # without honorLabels the target's labels win
                if key in own:
                    own[f"exported_{key}"] = own.pop(key)
        merged = {**scraped, **own} if self.stack.ksm_honor_labels or scrape != "ksm" else {**own, **scraped}
        merged.update({"alertname": alertname, "severity": severity})
        slug = alertname.lower()
        alert = {"status": "firing", "labels": merged,
                 "annotations": {"description": description or f"{alertname} firing for {labels}",
                                 "runbook_url": f"https://runbooks.prometheus-operator.dev/runbooks/kubernetes/{slug}",
                                 "summary": summary or alertname},
                 "startsAt": ago(minutes_ago), "endsAt": "0001-01-01T00:00:00Z",
                 "generatorURL": f"http://{self.stack.release}-prometheus.monitoring:9090/graph?g0.expr=...",
                 "fingerprint": hashlib.sha1(repr(sorted(merged.items())).encode()).hexdigest()[:16]}
        return {"version": "4", "groupKey": f'{{}}/{{severity="{severity}"}}:{{alertname="{alertname}"}}',
                "truncatedAlerts": 0, "status": "firing", "receiver": "aetherius",
                "groupLabels": {"alertname": alertname}, "commonLabels": merged, "commonAnnotations": alert["annotations"],
                "externalURL": f"http://{self.stack.release}-alertmanager.monitoring:9093", "alerts": [alert]}

    def write(self) -> Path:
        return self.b.write()


def _with_image(c: Ctr, image: str) -> Ctr:
    c.image = image
    return c


__all__ = ["App", "Cluster", "Ctr", "NOW", "STACKS", "Stack", "ago"]
