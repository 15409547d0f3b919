"""Incidents whose cause is around the pods: capacity (incl. extended resources), placement, quotas and
LimitRanges, volumes, nodes, autoscalers, admission webhooks; and true unknowns, where nothing is wrong."""

from __future__ import annotations

from tests.corpus import C, Expect, crashloop, family
from tests.corpus import logs as L
from tests.corpus.families_deps import decoy, ksm_alert, unrelated_crasher
from tests.corpus.kit import Cluster, Ctr


def pending_app(c: Cluster, ns: str, name: str, *, replicas: int = 1, kind: str = "deployment", requests: dict | None = None,
                node_selector: dict | None = None, volumes: list | None = None, extra_spec: dict | None = None) -> object:
    ctrs = [[Ctr(name, state="waiting", reason="", ready=False, requests=requests or {"cpu": "500m", "memory": "1Gi"},
                 limits={k: v for k, v in (requests or {}).items() if "/" in k})] for _ in range(replicas)]
    app = c.app(ns, name, kind=kind, replicas=replicas, pods=ctrs, nodes=[None] * replicas, pod_phase=["Pending"] * replicas,
                volumes=volumes)
    for p in c.b.ns_objects[ns]["pods"]:
        if p["metadata"]["name"] in app.pods:
            p["status"]["conditions"][0].update({"status": "False", "reason": "Unschedulable"})
            p["status"]["containerStatuses"][0]["state"] = {"waiting": {"reason": "ContainerCreating"}} if False else \
                {"waiting": {}}
            if node_selector:
                p["spec"]["nodeSelector"] = node_selector
            p["spec"].update(extra_spec or {})
    return app


def sched_msg(c: Cluster, parts: list[str], total: int | None = None) -> str:
    total = total or len(c.node_names)
    body = ", ".join(parts)
    if c.stack.minor >= 24:
        return (f"0/{total} nodes are available: {body}. preemption: 0/{total} nodes are available: "
                f"{total} Preemption is not helpful for scheduling.")
    return f"0/{total} nodes are available: {body}."


# --- insufficient_resources --------------------------------------------------------------------------------------------

@family(
    dict(app="trainer", ns="ml", resource="nvidia.com/gpu", alert="notready", first_hours=5),
    dict(app="inference", ns="ml", resource="nvidia.com/gpu", alert="deployment", plugin=True, first_hours=2),
    dict(app="analytics", ns="bi", resource="memory", alert="notready", stack="onprem-121", decoy="pressure-elsewhere"),
    dict(app="renderer", ns="media", resource="cpu", alert="deployment", replicas=2),
    dict(app="batch-runner", ns="jobs", resource="pods", alert="notready"),
)
def insufficient(c: Cluster, v: dict) -> Expect:
    ns, name, res = v["ns"], v["app"], v["resource"]
    c.neighbours(ns, 1)
    if v.get("plugin"):  # GPU nodes exist but the device plugin crash-loops, so they advertise no GPU
        for n in c.b.cluster_objects["nodes"][:2]:
            n["metadata"]["labels"].update({"nvidia.com/gpu.present": "true", "node.kubernetes.io/instance-type": "g5.xlarge"})
        pods = c.daemon("kube-system", "nvidia-device-plugin-daemonset", {"name": "nvidia-device-plugin-ds"},
                        "nvcr.io/nvidia/k8s-device-plugin:v0.14.3")
        for p in c.b.ns_objects["kube-system"]["pods"]:
            if p["metadata"]["name"] in pods[:2]:
                p["status"]["conditions"][1]["status"] = "False"
                p["status"]["containerStatuses"][0].update({
                    "ready": False, "restartCount": 40, "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                    "lastState": {"terminated": {"reason": "Error", "exitCode": 1, "finishedAt": "2024-01-15T14:28:40Z"}}})
                c.b.logs("kube-system", p["metadata"]["name"], "I0115 14:28:39.901 main.go:256] Retrieving plugins.\n"
                         "E0115 14:28:39.915 factory.go:115] Incompatible strategy detected auto\nE0115 14:28:39.915 main.go:123] "
                         "error starting plugins: error creating plugin manager: unable to create plugin manager: invalid device "
                         "discovery strategy\n", container="nvidia-device-plugin-daemonset", previous=True)
    requests = {"cpu": "1", "memory": "4Gi"}
    if "/" in res:
        requests[res] = "1"
    elif res == "memory":
        requests["memory"] = "48Gi"
    elif res == "cpu":
        requests["cpu"] = "12"
    app = pending_app(c, ns, name, replicas=v.get("replicas", 1), requests=requests)
    n = len(c.node_names)
    parts = [f"{n} Insufficient {res}" if res != "pods" else f"{n} Too many pods"]
    if c.stack.provider in ("kind", "onprem"):
        parts = [f"1 node(s) had {'untolerated taint {node-role.kubernetes.io/control-plane: }' if c.stack.minor >= 25 else 'taint {node-role.kubernetes.io/master: }, that the pod didn' + chr(39) + 't tolerate'}",
                 f"{n - 1} Insufficient {res}" if res != "pods" else f"{n - 1} Too many pods"]
    for p in app.pods:
        c.scheduling_failed(ns, p, sched_msg(c, parts), count=60, first_hours=v.get("first_hours", 1))
    deepest = "pod/kube-system/nvidia-device-plugin" if v.get("plugin") else app.any_pod
    cites = [f"Insufficient {res}" if res != "pods" else "Too many pods"]
    if v.get("decoy"):
        decoy(c, ns, v["decoy"])
    return Expect(ksm_alert(c, v["alert"], app), C.INSUFFICIENT_RESOURCES, deepest, cites,
                  multi_hop=bool(v.get("plugin")), red_herring=bool(v.get("decoy")))


@family(dict(app="checkout", ns="shop", hpa="checkout"))
def hpa_cannot_place(c: Cluster, v: dict) -> Expect:
    """KubeHpaReplicasMismatch: the HPA wants more replicas but the new pods cannot be scheduled."""
    ns = v["ns"]
    app = c.app(ns, v["app"], replicas=5, pods=[[Ctr(v["app"], since=900)]] * 3 + [
        [Ctr(v["app"], state="waiting", reason="", ready=False, requests={"cpu": "2", "memory": "2Gi"})]] * 2,
        nodes=[c.node_for(0), c.node_for(1), c.node_for(2), None, None], pod_phase=[None, None, None, "Pending", "Pending"])
    for p in app.pods[3:]:
        pod = next(x for x in c.b.ns_objects[ns]["pods"] if x["metadata"]["name"] == p)
        pod["status"]["conditions"][0].update({"status": "False", "reason": "Unschedulable"})
        c.scheduling_failed(ns, p, sched_msg(c, [f"{len(c.node_names)} Insufficient cpu"]), count=30)
    c.b.hpa(ns, v["hpa"], v["app"], max_replicas=10, current=3, cpu_current=140, limited=False)
    c.b.ns_objects[ns]["horizontalpodautoscalers"][-1]["status"]["desiredReplicas"] = 5
    payload = c.alert("KubeHpaReplicasMismatch", {"namespace": ns, "horizontalpodautoscaler": v["hpa"]})
    return Expect(payload, C.INSUFFICIENT_RESOURCES, f"pod/{ns}/{app.pods[3]}", ["Insufficient cpu"], multi_hop=True)


# --- scheduling_constraint -----------------------------------------------------------------------------------------------

@family(
    dict(app="db-backup", ns="ops", kind="selector", decoy="other-hpa"),
    dict(app="cache", ns="shop", kind="taint"),
    dict(app="zookeeper", ns="streaming", kind="anti-affinity"),
    dict(app="edge-proxy", ns="edge", kind="spread"),
    dict(app="reporting", ns="bi", kind="cordoned"),
)
def constraint(c: Cluster, v: dict) -> Expect:
    ns, name, n = v["ns"], v["app"], len(c.node_names)
    c.neighbours(ns, 1)
    if v["kind"] == "selector":
        app = pending_app(c, ns, name, node_selector={"disktype": "nvme"})
        msg = sched_msg(c, [f"{n} node(s) didn't match Pod's node affinity/selector" if c.stack.minor >= 22
                            else f"{n} node(s) didn't match node selector"])
        cite = "disktype"
    elif v["kind"] == "taint":
        for node in c.b.cluster_objects["nodes"]:
            node["spec"]["taints"] = [{"key": "dedicated", "value": "infra", "effect": "NoSchedule"}]
        app = pending_app(c, ns, name, kind="statefulset")
        msg = sched_msg(c, [f"{n} node(s) had untolerated taint {{dedicated: infra}}" if c.stack.minor >= 25
                            else f"{n} node(s) had taint {{dedicated: infra}}, that the pod didn't tolerate"])
        cite = "dedicated"
    elif v["kind"] == "anti-affinity":
        app = c.app(ns, name, kind="statefulset", replicas=n)
        extra = f"{name}-{n}"
        c.pod(ns, extra, [Ctr(name, state="waiting", reason="", ready=False)], owner=("StatefulSet", name),
              labels=app.labels, node=None, phase="Pending")
        c.b.ns_objects[ns]["pods"][-1]["spec"]["affinity"] = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
            {"labelSelector": {"matchLabels": app.labels}, "topologyKey": "kubernetes.io/hostname"}]}}
        c.b.ns_objects[ns]["pods"][-1]["status"]["conditions"][0].update({"status": "False", "reason": "Unschedulable"})
        app.pods.insert(0, extra)
        msg = sched_msg(c, [f"{n} node(s) didn't match pod anti-affinity rules"])
        cite = "anti-affinity"
    elif v["kind"] == "spread":
        app = pending_app(c, ns, name, extra_spec={"topologySpreadConstraints": [
            {"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "DoNotSchedule",
             "labelSelector": {"matchLabels": {"app.kubernetes.io/name": name}}}]})
        msg = sched_msg(c, [f"{n} node(s) didn't match pod topology spread constraints"])
        cite = "topology spread"
    else:
        for node in c.b.cluster_objects["nodes"]:
            node["spec"]["unschedulable"] = True
            node["spec"]["taints"] = [{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}]
        app = pending_app(c, ns, name)
        msg = sched_msg(c, [f"{n} node(s) had untolerated taint {{node.kubernetes.io/unschedulable: }}" if c.stack.minor >= 25
                            else f"{n} node(s) were unschedulable"])
        cite = "unschedulable"
    c.scheduling_failed(ns, app.pods[0], msg, count=25)
    alert = ksm_alert(c, "notready", app) if v["kind"] != "anti-affinity" else ksm_alert(c, "statefulset", app)
    if v.get("decoy"):
        decoy(c, ns, v["decoy"])
    return Expect(alert, C.SCHEDULING_CONSTRAINT, f"pod/{ns}/{app.pods[0]}", [cite], red_herring=bool(v.get("decoy")))


# --- quota_exceeded -------------------------------------------------------------------------------------------------------

@family(
    dict(app="payments-api", ns="pay", kind="cpu", decoy="stale-create"),
    dict(job="etl-28457280", ns="data", kind="pods"),
    dict(app="renderer", ns="media", kind="limitrange"),
    dict(app="reports", ns="team-a", kind="must-specify"),
)
def quota(c: Cluster, v: dict) -> Expect:
    ns = v["ns"]
    c.neighbours(ns, 1)
    if v["kind"] == "pods":
        c.b.job(ns, v["job"], active=0)
        c.b.quota(ns, "object-counts", {"pods": "20"}, {"pods": "20"})
        c.b.event(ns, "Job", v["job"], "FailedCreate", f'Error creating: pods "{v["job"]}-4tq2x" is forbidden: exceeded quota: '
                  "object-counts, requested: pods=1, used: pods=20, limited: pods=20", count=9, component="job-controller")
        return Expect(c.alert("KubeJobNotCompleted", {"namespace": ns, "job_name": v["job"]}), C.QUOTA_EXCEEDED,
                      f"resourcequota/{ns}/object-counts", ["exceeded quota"], multi_hop=False)
    app = c.app(ns, v["app"], replicas=3, pods=[[Ctr(v["app"], since=600)]] * 2)
    dep = next(d for d in c.b.ns_objects[ns]["deployments"] if d["metadata"]["name"] == v["app"])
    dep["spec"]["replicas"] = 3
    dep["status"].update({"readyReplicas": 2, "availableReplicas": 2, "replicas": 2})
    app.pods = app.pods[:2]
    if v["kind"] == "cpu":
        c.b.quota(ns, "compute-quota", {"requests.cpu": "4", "requests.memory": "8Gi"}, {"requests.cpu": "3800m", "requests.memory": "5Gi"})
        msg = (f'Error creating: pods "{app.rs}-zz9" is forbidden: exceeded quota: compute-quota, requested: requests.cpu=500m, '
               "used: requests.cpu=3800m, limited: requests.cpu=4")
        deepest, cite = f"resourcequota/{ns}/compute-quota", "exceeded quota"
    elif v["kind"] == "limitrange":
        c.b.limitrange(ns, "container-bounds", {"type": "Container", "max": {"memory": "1Gi", "cpu": "2"},
                                                "default": {"memory": "512Mi"}})
        msg = f'Error creating: pods "{app.rs}-7pq" is forbidden: maximum memory usage per Container is 1Gi, but limit is 4Gi'
        deepest, cite = f"limitrange/{ns}/container-bounds", "maximum memory usage"
    else:
        c.b.quota(ns, "team-quota", {"limits.cpu": "8", "limits.memory": "16Gi"}, {"limits.cpu": "2", "limits.memory": "4Gi"})
        msg = f'Error creating: pods "{app.rs}-m2x" is forbidden: failed quota: team-quota: must specify limits.cpu,limits.memory'
        deepest, cite = f"resourcequota/{ns}/team-quota", "must specify"
    c.b.event(ns, "ReplicaSet", app.rs, "FailedCreate", msg, count=22, component="replicaset-controller")
    if v.get("decoy"):
        decoy(c, ns, v["decoy"])
    return Expect(ksm_alert(c, "deployment", app), C.QUOTA_EXCEEDED, deepest, [cite], red_herring=bool(v.get("decoy")))


# --- volume_mount_failure ---------------------------------------------------------------------------------------------------

@family(
    dict(app="pg", ns="db", kind="class"),
    dict(app="uploads", ns="media", kind="provisioning"),
    dict(app="queue", ns="streaming", kind="multi-attach"),
    dict(app="ledger-db", ns="finance", kind="zone"),
    dict(app="data-processor", ns="app-157", kind="full-pvc-alert"),
    dict(app="metrics-db", ns="observability", kind="full-crash", db="postgres"),
)
def volume(c: Cluster, v: dict) -> Expect:
    ns, name = v["ns"], v["app"]
    c.neighbours(ns, 1)
    claim = f"data-{name}-0"
    if v["kind"] in ("class", "provisioning"):
        c.b.storageclass("gp3", default=True)
        cls = "fast-ssd" if v["kind"] == "class" else "gp3"
        app = pending_app(c, ns, name, kind="statefulset", volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": claim}}])
        c.b.pvc(ns, claim, phase="Pending", storage_class=cls)
        msg = (f'storageclass.storage.k8s.io "{cls}" not found' if v["kind"] == "class" else
               f'failed to provision volume with StorageClass "{cls}": rpc error: code = Internal desc = Could not create volume '
               f'"pvc-8f1e": could not create volume in EC2: VolumeLimitExceeded: You have exceeded your maximum gp3 storage limit')
        c.b.event(ns, "PersistentVolumeClaim", claim, "ProvisioningFailed", msg, count=31, component="ebs.csi.aws.com")
        c.scheduling_failed(ns, app.pods[0], sched_msg(c, ["pod has unbound immediate PersistentVolumeClaims"], None).replace(
            "0/3 nodes are available: pod", f"0/{len(c.node_names)} nodes are available: pod"))
        deepest = "storageclass/fast-ssd" if v["kind"] == "class" else f"pvc/{ns}/{claim}"
        return Expect(ksm_alert(c, "statefulset", app), C.VOLUME_MOUNT_FAILURE, deepest,
                      ["not found" if v["kind"] == "class" else "VolumeLimitExceeded"], multi_hop=True)
    if v["kind"] == "multi-attach":
        app = c.app(ns, name, kind="statefulset", replicas=1, pvc_size="20Gi",
                    pods=[[Ctr(name, state="waiting", reason="ContainerCreating", ready=False)]], pod_phase=["Pending"])
        c.b.event(ns, "Pod", app.pods[0], "FailedAttachVolume", f'Multi-Attach error for volume "{c.b.cluster_objects["persistentvolumes"][-1]["metadata"]["name"]}" '
                  "Volume is already exclusively attached to one node and can't be attached to another", count=12,
                  component="attachdetach-controller")
        c.b.event(ns, "Pod", app.pods[0], "FailedMount", "Unable to attach or mount volumes: unmounted volumes=[data], unattached "
                  "volumes=[data kube-api-access-x2]: timed out waiting for the condition", count=5)
        return Expect(ksm_alert(c, "statefulset", app), C.VOLUME_MOUNT_FAILURE, f"pod/{ns}/{app.pods[0]}", ["Multi-Attach"])
    if v["kind"] == "zone":
        zone_node = c.b.cluster_objects["nodes"][2]
        zone_node["spec"]["unschedulable"] = True
        zone = zone_node["metadata"]["labels"]["topology.kubernetes.io/zone"]
        app = pending_app(c, ns, name, kind="statefulset", volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": claim}}])
        pv = f"pvc-{c.hashed(claim, 8)}"
        c.b.pv(pv, claim=(ns, claim))
        c.b.cluster_objects["persistentvolumes"][-1]["spec"]["nodeAffinity"] = {"required": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "topology.kubernetes.io/zone", "operator": "In", "values": [zone]}]}]}}
        c.b.pvc(ns, claim, phase="Bound", storage_class="gp3", volume=pv)
        n = len(c.node_names)
        c.scheduling_failed(ns, app.pods[0], sched_msg(c, ["1 node(s) were unschedulable", f"{n - 1} node(s) had volume node affinity conflict"]))
        return Expect(ksm_alert(c, "statefulset", app), C.VOLUME_MOUNT_FAILURE, f"pv/{pv}", ["volume node affinity conflict", zone],
                      multi_hop=True)
    db = v.get("db", "postgres")
    app = c.app(ns, name, kind="statefulset", replicas=1, pvc_size="100Mi" if v["kind"] == "full-pvc-alert" else "5Gi",
                pods=[[crashloop(name, code=1)]], port=5432)
    c.b.logs(ns, app.pods[0], L.disk_full(db) if v["kind"] != "full-pvc-alert" else
             "2024-01-15 14:29:50,112 INFO processing batch 91\nOSError: [Errno 28] No space left on device: '/var/lib/data/out/91.parquet'\n",
             container=name, previous=True)
    if v["kind"] == "full-pvc-alert":
        payload = c.alert("KubePersistentVolumeFillingUp", {"namespace": ns, "persistentvolumeclaim": claim}, scrape="kubelet",
                          severity="critical", summary="PersistentVolume is filling up.")
    else:
        payload = ksm_alert(c, "pod", app)
    return Expect(payload, C.VOLUME_MOUNT_FAILURE, f"pvc/{ns}/{claim}", ["No space left on device"], multi_hop=True)


# --- node_not_ready -----------------------------------------------------------------------------------------------------

@family(
    dict(kind="pod", app="inventory", ns="warehouse"),
    dict(kind="node-alert"),
    dict(kind="unreachable", app="api", ns="shop"),
    dict(kind="node-unreachable-alert"),
)
def node_down(c: Cluster, v: dict) -> Expect:
    bad = c.add_node(c._node_name(7) if c.stack.provider != "kind" else "kind-worker9", ready="Unknown", reason="NodeStatusUnknown",
                     message="Kubelet stopped posting node status.",
                     taints=[{"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule"},
                             {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}])
    node = bad["metadata"]["name"]
    if v["kind"] in ("node-alert", "node-unreachable-alert"):
        c.neighbours("default", 1)
        if v["kind"] == "node-alert":
            payload = c.alert("KubeNodeNotReady", {"node": node, "condition": "Ready", "status": "true"})
        else:
            payload = c.alert("KubeNodeUnreachable", {"node": node, "key": "node.kubernetes.io/unreachable", "effect": "NoSchedule"})
        return Expect(payload, C.NODE_NOT_READY, f"node/{node}", ["Kubelet stopped posting node status"])
    ns = v["ns"]
    c.neighbours(ns, 1)
    if v["kind"] == "pod":
        app = c.app(ns, v["app"], replicas=1, nodes=[node])
        pod = c.b.ns_objects[ns]["pods"][-1]
        pod["status"]["conditions"][1]["status"] = "False"
        pod["metadata"]["deletionTimestamp"] = "2024-01-15T14:26:40Z"
        c.b.event(ns, "Pod", app.pods[0], "NodeNotReady", "Node is not ready", minutes_ago=4, component="node-controller")
        return Expect(ksm_alert(c, "notready", app), C.NODE_NOT_READY, f"node/{node}", ["Ready=Unknown"], multi_hop=True)
    for n in c.b.cluster_objects["nodes"]:  # every other worker is NotReady too: nowhere to go
        if "control-plane" not in str(n["metadata"]["labels"]) and n["metadata"]["name"] != node:
            n["status"]["conditions"][-1].update({"status": "False", "reason": "KubeletNotReady",
                                                  "message": "container runtime network not ready: NetworkReady=false "
                                                             "reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized"})
            n["spec"]["taints"] = [{"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}]
    app = pending_app(c, ns, v["app"], replicas=2)
    workers = [n for n in c.b.cluster_objects["nodes"] if "control-plane" not in str(n["metadata"]["labels"])]
    for p in app.pods:
        c.scheduling_failed(ns, p, sched_msg(c, ["1 node(s) had untolerated taint {node.kubernetes.io/unreachable: }",
                                                 f"{len(workers) - 1} node(s) had untolerated taint {{node.kubernetes.io/not-ready: }}"],
                                             total=len(workers)))
    return Expect(ksm_alert(c, "deployment", app), C.NODE_NOT_READY, "node/", ["NotReady"], multi_hop=True)


# --- node_pressure_eviction -----------------------------------------------------------------------------------------------

@family(
    dict(kind="evicted", app="batch-exporter", ns="data"),
    dict(kind="disk-alert"),
    dict(kind="ephemeral", app="log-shipper", ns="logging"),
    dict(kind="eviction-alert"),
)
def pressure(c: Cluster, v: dict) -> Expect:
    node = c.node_names[1]
    node_obj = next(n for n in c.b.cluster_objects["nodes"] if n["metadata"]["name"] == node)
    if v["kind"] in ("disk-alert", "eviction-alert"):
        kind = "DiskPressure" if v["kind"] == "disk-alert" else "MemoryPressure"
        for cond in node_obj["status"]["conditions"]:
            if cond["type"] == kind:
                cond.update({"status": "True", "reason": f"KubeletHas{kind}", "message": f"kubelet has {kind.lower()}"})
        c.b.event("default", "Node", node, "EvictionThresholdMet", "Attempting to reclaim " +
                  ("ephemeral-storage" if kind == "DiskPressure" else "memory"), count=6, minutes_ago=2)
        if kind == "DiskPressure":
            payload = c.alert("KubeNodePressure", {"node": node, "condition": "DiskPressure", "status": "true"})
        else:
            payload = c.alert("KubeNodeEviction", {"node": node, "eviction_signal": "memory.available",
                                                   "instance": f"{c.node_ips[node]}:10250"}, scrape="kubelet")
        return Expect(payload, C.NODE_PRESSURE_EVICTION, f"node/{node}", [f"{kind}=True"])
    ns = v["ns"]
    c.neighbours(ns, 1)
    if v["kind"] == "evicted":
        for cond in node_obj["status"]["conditions"]:
            if cond["type"] == "MemoryPressure":
                cond.update({"status": "True", "reason": "KubeletHasInsufficientMemory", "message": "kubelet has insufficient memory available"})
        msg = ("The node was low on resource: memory. Threshold quantity: 100Mi, available: 61348Ki. Container batch-exporter "
               "was using 3145728Ki, request is 512Mi, has larger consumption of memory.")
    else:
        msg = "Pod ephemeral local storage usage exceeds the total limit of containers 2Gi."
    app = c.app(ns, v["app"], replicas=2, nodes=[node, c.node_names[0]])
    pod = next(p for p in c.b.ns_objects[ns]["pods"] if p["metadata"]["name"] == app.pods[0])
    pod["status"].update({"phase": "Failed", "reason": "Evicted", "message": msg})
    pod["status"]["conditions"][1]["status"] = "False"
    pod["status"]["containerStatuses"][0].update({"ready": False, "state": {"terminated": {
        "reason": "ContainerStatusUnknown", "exitCode": 137, "finishedAt": "2024-01-15T14:27:00Z"}}})
    c.b.event(ns, "Pod", app.pods[0], "Evicted", msg, minutes_ago=3, component="kubelet")
    return Expect(ksm_alert(c, "notready", app), C.NODE_PRESSURE_EVICTION, f"pod/{ns}/{app.pods[0]}",
                  ["low on resource: memory" if v["kind"] == "evicted" else "ephemeral local storage"])


# --- autoscaler_at_max ---------------------------------------------------------------------------------------------------

@family(
    dict(kind="hpa-alert", app="web", ns="front"),
    dict(kind="latency", app="feed", ns="social"),
    dict(kind="v1", app="search", ns="discovery"),
    dict(kind="memory", app="sessions", ns="web"),
)
def autoscaler(c: Cluster, v: dict) -> Expect:
    ns, name = v["ns"], v["app"]
    c.neighbours(ns, 1)
    c.app(ns, name, replicas=6)
    c.b.hpa(ns, f"{name}-hpa" if v["kind"] != "hpa-alert" else name, name, max_replicas=6, current=6, cpu_target=70, cpu_current=96)
    hpa = c.b.ns_objects[ns]["horizontalpodautoscalers"][-1]
    if v["kind"] == "v1":
        hpa["spec"] = {"scaleTargetRef": hpa["spec"]["scaleTargetRef"], "minReplicas": 2, "maxReplicas": 6,
                       "targetCPUUtilizationPercentage": 60}
        hpa["status"] = {"currentReplicas": 6, "desiredReplicas": 6, "currentCPUUtilizationPercentage": 88}
    if v["kind"] == "memory":
        hpa["spec"]["metrics"] = [{"type": "Resource", "resource": {"name": "memory", "target": {"type": "Utilization", "averageUtilization": 75}}}]
        hpa["status"]["currentMetrics"] = [{"type": "Resource", "resource": {"name": "memory", "current": {"averageUtilization": 91}}}]
    hname = hpa["metadata"]["name"]
    if v["kind"] == "hpa-alert":
        payload = c.alert("KubeHpaMaxedOut", {"namespace": ns, "horizontalpodautoscaler": hname})
    else:
        payload = c.alert("HighRequestLatency", {"namespace": ns, "deployment": name, "job": name, "service": name,
                                                 "endpoint": "http", "instance": "10.244.3.4:8080"}, scrape=None)
    return Expect(payload, C.AUTOSCALER_AT_MAX, f"hpa/{ns}/{hname}", ["maxReplicas=6" if v["kind"] != "v1" else "currentReplicas=6"])


# --- admission_webhook_failure ----------------------------------------------------------------------------------------------

@family(
    dict(kind="kyverno", app="kafka", ns="streaming"),
    dict(kind="gatekeeper", app="admin-ui", ns="internal"),
    dict(kind="down", app="mailer", ns="notify", decoy="crasher"),
    dict(kind="oom", app="ingest", ns="data"),
)
def webhook(c: Cluster, v: dict) -> Expect:
    ns, name = v["ns"], v["app"]
    c.neighbours(ns, 1)
    if v["kind"] in ("kyverno", "gatekeeper"):
        hook, cfg, svc = (("validate.kyverno.svc-fail", "kyverno-resource-validating-webhook-cfg", ("kyverno", "kyverno-svc"))
                          if v["kind"] == "kyverno" else
                          ("validation.gatekeeper.sh", "gatekeeper-validating-webhook-configuration", ("gatekeeper-system", "gatekeeper-webhook-service")))
        c.b.webhook(cfg, hook, service=svc)
        if v["kind"] == "kyverno":
            c.b.statefulset(ns, name, replicas=3, ready=0)
            c.b.event(ns, "StatefulSet", name, "FailedCreate", f'create Pod {name}-0 in StatefulSet {name} failed error: admission '
                      f'webhook "{hook}" denied the request: \n\npolicy StatefulSet/{ns}/{name} for resource violation: \n\n'
                      "disallow-latest-tag:\n  validate-image-tag: validation error: Using a mutable image tag e.g. 'latest' is not allowed.",
                      count=19, component="statefulset-controller")
            return Expect(c.alert("KubeStatefulSetReplicasMismatch", {"namespace": ns, "statefulset": name}),
                          C.ADMISSION_WEBHOOK_FAILURE, f"validatingwebhookconfiguration/{cfg}", ["denied the request"], multi_hop=True)
        app = c.app(ns, name, replicas=0)
        next(d for d in c.b.ns_objects[ns]["deployments"] if d["metadata"]["name"] == name)["spec"]["replicas"] = 2
        c.b.event(ns, "ReplicaSet", app.rs, "FailedCreate", f'Error creating: admission webhook "{hook}" denied the request: '
                  "[psp-privileged-container] Privileged container is not allowed: admin-ui, securityContext: {\"privileged\": true}",
                  count=14, component="replicaset-controller")
        return Expect(ksm_alert(c, "deployment", app), C.ADMISSION_WEBHOOK_FAILURE, f"validatingwebhookconfiguration/{cfg}",
                      ["denied the request"], multi_hop=True)
    policy = c.app("policy", "policy-webhook", replicas=1, port=8443,
                   pods=[[crashloop("policy-webhook", code=1 if v["kind"] == "down" else 137,
                                    reason="Error" if v["kind"] == "down" else "OOMKilled", limits={"memory": "128Mi"})]])
    if v["kind"] == "down":
        c.b.logs("policy", policy.pods[0], "2024/01/15 14:29:02 loading TLS certificate /certs/tls.crt\n"
                 "2024/01/15 14:29:02 FATAL: tls: failed to find any PEM data in certificate input\n", container="policy-webhook",
                 previous=True)
    c.b.webhook("policy-validator", "validate.policy.example.com", service=("policy", "policy-webhook"))
    app = c.app(ns, name, replicas=0)
    next(d for d in c.b.ns_objects[ns]["deployments"] if d["metadata"]["name"] == name)["spec"]["replicas"] = 1
    err = "connect: connection refused" if v["kind"] == "down" else "context deadline exceeded"
    c.b.event(ns, "ReplicaSet", app.rs, "FailedCreate", 'Error creating: Internal error occurred: failed calling webhook '
              '"validate.policy.example.com": failed to call webhook: Post "https://policy-webhook.policy.svc:443/validate?timeout=10s": '
              f"dial tcp 10.96.3.3:443: {err}", count=11, component="replicaset-controller")
    if v.get("decoy"):
        decoy(c, ns, v["decoy"])
    return Expect(ksm_alert(c, "deployment", app), C.ADMISSION_WEBHOOK_FAILURE, f"pod/policy/{policy.pods[0]}",
                  ["failed calling webhook", "endpoints/policy/policy-webhook"], multi_hop=True,
                  red_herring=bool(v.get("decoy")))


@family(dict(hpa="checkout", ns="shop"))
def hpa_no_metrics(c: Cluster, v: dict) -> Expect:
    """KubeHpaReplicasMismatch because the HPA cannot read metrics: metrics-server is down."""
    ns = v["ns"]
    c.app(ns, "checkout", replicas=2)
    c.b.hpa(ns, v["hpa"], "checkout", max_replicas=10, current=2, cpu_current=None, limited=False)
    hpa = c.b.ns_objects[ns]["horizontalpodautoscalers"][-1]
    hpa["status"]["desiredReplicas"] = 2
    hpa["status"]["conditions"] = [{"type": "AbleToScale", "status": "True", "reason": "SucceededGetScale"},
                                   {"type": "ScalingActive", "status": "False", "reason": "FailedGetResourceMetric",
                                    "message": "the HPA was unable to compute the replica count: failed to get cpu utilization: unable "
                                               "to get metrics for resource cpu: unable to fetch metrics from resource metrics API: "
                                               "the server is currently unable to handle the request (get pods.metrics.k8s.io)"}]
    for p in c.b.ns_objects["kube-system"]["pods"]:
        if p["metadata"]["name"].startswith("metrics-server"):
            p["status"]["conditions"][1]["status"] = "False"
            p["status"]["containerStatuses"][0].update({"ready": False, "restartCount": 17,
                                                        "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                                                        "lastState": {"terminated": {"reason": "Error", "exitCode": 1,
                                                                                     "finishedAt": "2024-01-15T14:29:00Z"}}})
            c.b.logs("kube-system", p["metadata"]["name"], 'E0115 14:28:59.1 1 run.go:74] "command failed" err="unable to load '
                     'configmap based request-header-client-ca-file: Get \\"https://10.96.0.1:443/api/v1/namespaces/kube-system/'
                     'configmaps/extension-apiserver-authentication\\": dial tcp 10.96.0.1:443: i/o timeout"\n',
                     container="metrics-server", previous=True)
    c.endpoints_for("kube-system", "metrics-server", [])
    payload = c.alert("KubeHpaReplicasMismatch", {"namespace": ns, "horizontalpodautoscaler": v["hpa"]})
    return Expect(payload, C.DEPENDENCY_FAILURE, "pod/kube-system/metrics-server", ["FailedGetResourceMetric"], multi_hop=True)


# --- unknown: nothing is wrong (now) ------------------------------------------------------------------------------------------

@family(
    dict(kind="recovered", app="catalog", ns="shop"),
    dict(kind="deleted", ns="shop"),
    dict(kind="quota-not-full", ns="team-b"),
    dict(kind="other-hpa", app="orders", ns="shop"),
    dict(kind="neighbour-failing", app="search", ns="discovery"),
    dict(kind="throttling", app="api", ns="edge"),
)
def nothing_wrong(c: Cluster, v: dict) -> Expect:
    ns = v["ns"]
    c.neighbours(ns, 2)
    herring = v["kind"] in ("other-hpa", "neighbour-failing", "recovered")
    if v["kind"] == "recovered":
        app = c.app(ns, v["app"], replicas=3)
        for p in app.pods:  # what happened yesterday, since resolved
            c.b.event(ns, "Pod", p, "BackOff", "Back-off restarting failed container", count=12, minutes_ago=60 * 19)
        c.b.event(ns, "ReplicaSet", app.rs, "FailedCreate", f'Error creating: pods "{app.rs}-a" is forbidden: exceeded quota: q',
                  count=3, minutes_ago=60 * 19)
        return Expect(ksm_alert(c, "deployment", app), C.UNKNOWN, "", [f"pod/{ns}/{app.pods[0]}/status"], red_herring=True)
    if v["kind"] == "deleted":
        payload = c.alert("KubePodCrashLooping", {"namespace": ns, "pod": "cart-7b9f6d5c4-q8x2w", "container": "cart"})
        return Expect(payload, C.UNKNOWN, "", ["not found"])
    if v["kind"] == "quota-not-full":
        c.b.quota(ns, "compute", {"requests.cpu": "10", "requests.memory": "20Gi"}, {"requests.cpu": "9200m", "requests.memory": "12Gi"})
        payload = c.alert("KubeQuotaAlmostFull", {"namespace": ns, "resource": "requests.cpu", "resourcequota": "compute"}, severity="info")
        return Expect(payload, C.UNKNOWN, "", [])
    if v["kind"] == "other-hpa":
        app = c.app(ns, v["app"], replicas=3)
        c.app(ns, "frontend-edge", replicas=8)
        c.b.hpa(ns, "frontend-edge", "frontend-edge", max_replicas=8, current=8, cpu_current=99)
        c.b.hpa(ns, v["app"], v["app"], max_replicas=10, current=3, cpu_current=41, limited=False)
        return Expect(ksm_alert(c, "deployment", app), C.UNKNOWN, "", [], red_herring=True)
    if v["kind"] == "neighbour-failing":
        app = c.app(ns, v["app"], kind="statefulset", replicas=2)
        unrelated_crasher(c, ns)
        return Expect(ksm_alert(c, "statefulset", app), C.UNKNOWN, "", [f"pod/{ns}/{app.pods[0]}/status"], red_herring=True)
    app = c.app(ns, v["app"], replicas=2)
    payload = c.alert("CPUThrottlingHigh", {"namespace": ns, "pod": app.pods[0], "container": v["app"]}, scrape="kubelet",
                      severity="info")
    return Expect(payload, C.UNKNOWN, "", [f"pod/{ns}/{app.pods[0]}/status"], red_herring=herring)


@family(dict(hpa="web", app="web", ns="front", resource="cpu"), dict(hpa="api-hpa", app="api", ns="core", resource="memory"))
def hpa_missing_requests(c: Cluster, v: dict) -> Expect:
    """KubeHpaReplicasMismatch: the HPA cannot compute utilization because the pods request nothing."""
    ns = v["ns"]
    app = c.app(ns, v["app"], replicas=2, pods=[[Ctr(v["app"], since=600)]] * 2)
    c.b.hpa(ns, v["hpa"], v["app"], max_replicas=8, current=2, cpu_current=None, limited=False)
    hpa = c.b.ns_objects[ns]["horizontalpodautoscalers"][-1]
    hpa["status"]["desiredReplicas"] = 2
    hpa["status"]["conditions"] = [
        {"type": "AbleToScale", "status": "True", "reason": "SucceededGetScale"},
        {"type": "ScalingActive", "status": "False", "reason": "FailedGetResourceMetric",
         "message": f"the HPA was unable to compute the replica count: failed to get {v['resource']} utilization: missing "
                    f"request for {v['resource']} in container {v['app']} of Pod {app.pods[0]}"}]
    c.b.event(ns, "HorizontalPodAutoscaler", v["hpa"], "FailedGetResourceMetric",
              f"failed to get {v['resource']} utilization: missing request for {v['resource']} in container {v['app']} of Pod "
              f"{app.pods[0]}", count=240, minutes_ago=0.5, component="horizontal-pod-autoscaler")
    payload = c.alert("KubeHpaReplicasMismatch", {"namespace": ns, "horizontalpodautoscaler": v["hpa"]})
    return Expect(payload, C.MISSING_CONFIG, f"hpa/{ns}/{v['hpa']}", ["missing request"])


@family(
    dict(ds="fluent-bit", ns="logging", mode="pull", image="cr.fluentbit.io/fluent/fluent-bit:2.2.9-debug"),
    dict(ds="node-agent", ns="security", mode="crash"),
)
def daemonset_rollout(c: Cluster, v: dict) -> Expect:
    ns, name = v["ns"], v["ds"]
    pods = c.daemon(ns, name, {"app.kubernetes.io/name": name}, v.get("image", f"registry.example.com/{ns}/{name}:3.1.0"))
    broken = pods[-1]
    for p in c.b.ns_objects[ns]["pods"]:
        if p["metadata"]["name"] == broken:
            st = p["status"]["containerStatuses"][0]
            p["status"]["conditions"][1]["status"] = "False"
            if v["mode"] == "pull":
                st.update({"ready": False, "state": {"waiting": {"reason": "ImagePullBackOff",
                                                                 "message": f'Back-off pulling image "{v["image"]}"'}}})
                c.b.event(ns, "Pod", broken, "Failed", f'Failed to pull image "{v["image"]}": rpc error: code = NotFound desc = '
                          f'failed to pull and unpack image "{v["image"]}": not found', count=12)
            else:
                st.update({"ready": False, "restartCount": 19, "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                           "lastState": {"terminated": {"reason": "Error", "exitCode": 1, "finishedAt": "2024-01-15T14:29:00Z"}}})
                c.b.logs(ns, broken, "level=fatal msg=\"failed to load eBPF program: operation not permitted\" "
                         "error=\"map create: operation not permitted (MEMLOCK may be too low)\"\n", container=name, previous=True)
    ds = c.b.ns_objects[ns]["daemonsets"][-1]
    ds["status"].update({"numberReady": len(pods) - 1, "numberUnavailable": 1, "updatedNumberScheduled": len(pods)})
    payload = c.alert("KubeDaemonSetRolloutStuck", {"namespace": ns, "daemonset": name})
    category = C.IMAGE_PULL_FAILURE if v["mode"] == "pull" else C.APPLICATION_CRASH
    return Expect(payload, category, f"pod/{ns}/{broken}", ["ImagePullBackOff" if v["mode"] == "pull" else "operation not permitted"])
