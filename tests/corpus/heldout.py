"""The held-out set: written after the rules were done, never tuned on.

Other clusters (DigitalOcean, k3s, EKS 1.25, OpenShift 4.12, GKE 1.29), other domains and names (games,
IoT, payments, logistics), other languages and client libraries (Rust tokio-postgres/reqwest, Elixir
Postgrex, PHP Laravel, Python asyncpg, .NET Npgsql, Scala Akka, Go zap JSON logs, curl 8), other wording
(scheduler, registry, CSI, webhook TLS). Its score is reported next to the corpus's, as measured.
"""

from __future__ import annotations

from tests.corpus import C, Expect, crashloop, heldout_family
from tests.corpus.families_deps import backend, break_dns, client, ksm_alert
from tests.corpus.kit import Cluster, Ctr, Stack

STACKS: tuple[Stack, ...] = (
    Stack("doks-128", "1.28.2-do.0", "containerd", "1.6.24", "doks", "kube-prom", True, cni="cilium"),
    Stack("k3s-127", "1.27.9+k3s1", "containerd", "1.7.11-k3s2", "k3s", "mon", True, cni="flannel"),
    Stack("eks-125", "1.25.16-eks-5e0fdde", "containerd", "1.6.19", "eks", "prometheus-stack", True, cni="aws-node",
          cluster_label="staging-us-east-1"),
    Stack("ocp-412", "1.25.14+a52e8df", "cri-o", "1.25.4-4.rhaos4.12", "onprem", "k8s", True, cni="ovnkube-node"),
    Stack("gke-129", "1.29.1-gke.1589017", "containerd", "1.7.10", "gke", "kps", True, cni="anetd"),
)

T = "2024-01-15T14:28:44.512Z"


def _logs(c: Cluster, app, text: str, previous: bool = True) -> None:
    for p in app.pods:
        c.b.logs(app.ns, p, text, container=app.name, previous=previous)


# --- dependencies in other languages' words ----------------------------------------------------------------------

@heldout_family(
    dict(app="matchmaker", ns="games", dep="lobby-db", failure="oom",
         text="thread 'main' panicked at src/db.rs:41:10:\ncould not connect to database: Error { kind: Connect, cause: "
              "Some(Os { code: 111, kind: ConnectionRefused, message: \"Connection refused\" }) }\n",
         env={"DATABASE_URL": "postgres://matchmaker@lobby-db:5432/lobby"}),
    dict(app="telemetry-ingest", ns="iot", dep="timeseries", failure="pvc_class",
         text="** (DBConnection.ConnectionError) tcp connect (timeseries:5432): connection refused - :econnrefused\n"
              "    (db_connection 2.6.0) lib/db_connection/connection.ex:100: DBConnection.Connection.connect/2\n"),
    dict(app="payout-worker", ns="payments", dep="payouts-pg", failure="config_crash",
         text="Traceback (most recent call last):\n  File \"/srv/worker.py\", line 22, in main\n"
              "    pool = await asyncpg.create_pool(dsn)\nConnectionRefusedError: [Errno 111] Connect call failed "
              "('10.43.18.9', 5432)\n", env={"PGHOST": "payouts-pg", "PGPORT": "5432"}),
    dict(app="ledger-api", ns="accounting", dep="ledger-db", failure="disk_full",
         text="Unhandled exception. Npgsql.NpgsqlException (0x80004005): Failed to connect to 10.100.4.21:5432\n"
              " ---> System.Net.Sockets.SocketException (111): Connection refused\n",
         env={"ConnectionStrings__Ledger": "Host=ledger-db;Port=5432;Database=ledger;Username=api"}),
)
def dependency_other_languages(c: Cluster, v: dict) -> Expect:
    ns = v["ns"]
    c.neighbours(ns, 2)
    _, deepest, cites = backend(c, ns, v["dep"], v["failure"], port=5432)
    app = client(c, ns, v["app"], "go", v["text"], env=v.get("env"))
    return Expect(ksm_alert(c, "deployment", app), C.DEPENDENCY_FAILURE, deepest, [f"endpoints/{ns}/{v['dep']}"] + cites,
                  multi_hop=True)


@heldout_family(dict(app="route-planner", ns="logistics", backend="payments-gw", sel={"app": "payments-gateway"},
                     pods={"app": "payments-gw"}))
def akka_selector(c: Cluster, v: dict) -> Expect:
    ns = v["ns"]
    c.app(ns, v["backend"], replicas=2, labels=v["pods"], service=False)
    c.b.service(ns, v["backend"], v["sel"], port=9443)
    c.endpoints_for(ns, v["backend"], [])
    text = (f"[ERROR] [01/15/2024 14:28:44.512] [planner-akka.actor.default-dispatcher-7] akka.stream.StreamTcpException: "
            f"Tcp command [Connect({v['backend']}:9443,None,List(),Some(10 seconds),true)] failed because of "
            "java.net.ConnectException: Connection refused\n")
    app = client(c, ns, v["app"], "java", text)
    return Expect(ksm_alert(c, "deployment", app), C.SERVICE_SELECTOR_MISMATCH, f"service/{ns}/{v['backend']}",
                  [f"service/{ns}/{v['backend']}/spec.selector"], multi_hop=True)


@heldout_family(dict(app="shop-web", ns="storefront", cache="sessions-redis"))
def unready_cache_down(c: Cluster, v: dict) -> Expect:
    ns = v["ns"]
    _, deepest, cites = backend(c, ns, v["cache"], "image_pull", port=6379, db="redis")
    text = '{"level":50,"time":1705328924512,"msg":"redis unavailable","err":{"type":"Error","message":"connect ECONNREFUSED ' \
           '10.43.7.7:6379","code":"ECONNREFUSED"}}\n'
    app = client(c, ns, v["app"], "node", text * 4, mode="unready", env={"REDIS_URL": f"redis://{v['cache']}:6379/0"})
    return Expect(ksm_alert(c, "deployment", app), C.DEPENDENCY_FAILURE, deepest, cites, multi_hop=True)


@heldout_family(dict(job="report-export-28457400", ns="reporting", dep="reports-api"))
def cronjob_curl8(c: Cluster, v: dict) -> Expect:
    ns = v["ns"]
    _, deepest, cites = backend(c, ns, v["dep"], "pending_memory", port=8080, kind="deployment")
    c.b.job(ns, v["job"], failed=3)
    pod = f"{v['job']}-v8x2k"
    c.pod(ns, pod, [Ctr("export", image="docker.io/curlimages/curl:8.5.0", state="terminated", reason="Error", exit_code=7,
                        ready=False)], owner=("Job", v["job"]), node=c.node_for(0), phase="Failed")
    c.b.logs(ns, pod, f"curl: (7) Failed to connect to {v['dep']} port 8080 after 3 ms: Couldn't connect to server\n",
             container="export")
    return Expect(c.alert("KubeJobFailed", {"namespace": ns, "job_name": v["job"], "condition": "true"}),
                  C.DEPENDENCY_FAILURE, deepest, cites, multi_hop=True)


# --- DNS ------------------------------------------------------------------------------------------------------------

@heldout_family(
    dict(app="storefront-php", ns="commerce", failure="oom",
         text="SQLSTATE[HY000] [2002] php_network_getaddresses: getaddrinfo for mysql failed: Temporary failure in name "
              "resolution (Connection: mysql, SQL: select * from `sessions`)\n"),
    dict(app="edge-router", ns="iot", failure="corefile",
         text="Error: failed to lookup address information: Temporary failure in name resolution\n"
              "thread 'tokio-runtime-worker' panicked at src/main.rs:77:42\n"),
)
def dns_other_wording(c: Cluster, v: dict) -> Expect:
    ns = v["ns"]
    cite = break_dns(c, v["failure"])
    app = client(c, ns, v["app"], "php", v["text"])
    return Expect(ksm_alert(c, "pod", app), C.DNS_FAILURE, f"pod/kube-system/{c.dns.name}", [cite], multi_hop=True)


@heldout_family(dict(app="event-router", ns="events", host="kafka-brokers.event"))
def zap_no_such_host(c: Cluster, v: dict) -> Expect:
    ns = v["ns"]
    c.app(ns, "kafka-brokers", kind="statefulset", replicas=1, port=9092)
    text = ('{"level":"fatal","ts":1705328924.51,"caller":"cmd/main.go:61","msg":"cannot create producer","error":'
            f'"dial tcp: lookup {v["host"]} on 10.43.0.10:53: no such host"}}\n')
    app = client(c, ns, v["app"], "go", text, replicas=1)
    return Expect(ksm_alert(c, "pod", app), C.DNS_FAILURE, "service/event/kafka-brokers", ["no such host"], multi_hop=True)


@heldout_family(dict(app="firmware-sync", ns="iot"))
def dns_timeout_healthy_dns(c: Cluster, v: dict) -> Expect:
    ns = v["ns"]
    c.b.networkpolicy(ns, "allow-web", pod_selector={"app": "web"}, ingress=[{}])
    app = client(c, ns, v["app"], "go", f"{T} error sync failed: Get \"https://updates.vendor.example/manifest\": dial tcp: "
                 "lookup updates.vendor.example on 10.43.0.10:53: read udp 10.42.1.9:40112->10.43.0.10:53: i/o timeout\n")
    return Expect(ksm_alert(c, "deployment", app), C.DNS_FAILURE, "endpoints/kube-system/kube-dns", ["i/o timeout"])


# --- the pod itself -----------------------------------------------------------------------------------------------

@heldout_family(dict(app="leaderboard", ns="games", kind="statefulset", limit="768Mi"))
def oom_json_logs(c: Cluster, v: dict) -> Expect:
    ns = v["ns"]
    app = c.app(ns, v["app"], kind="statefulset", replicas=2,
                pods=[[crashloop(v["app"], code=137, reason="OOMKilled", limits={"memory": v["limit"]})], [Ctr(v["app"])]])
    c.b.logs(ns, app.pods[0], '{"@timestamp":"2024-01-15T14:28:40.001Z","level":"WARN","logger":"c.g.Cache","message":"cache '
             'size 712MB, evicting"}\n', container=v["app"], previous=True)
    return Expect(ksm_alert(c, "statefulset", app), C.OOM_KILLED, f"pod/{ns}/{app.pods[0]}", ["OOMKilled", v["limit"]])


@heldout_family(dict(app="billing-svc", ns="payments"))
def elixir_missing_env(c: Cluster, v: dict) -> Expect:
    ns = v["ns"]
    app = c.app(ns, v["app"], replicas=2, pods=[[crashloop(v["app"], code=1)]] * 2)
    _logs(c, app, "ERROR! Config provider Config.Reader failed with:\n** (RuntimeError) environment variable DATABASE_URL is "
                  "missing.\nFor example: ecto://USER:PASS@HOST/DATABASE\n")
    return Expect(ksm_alert(c, "deployment", app), C.APPLICATION_CRASH, app.any_pod, ["RuntimeError"])


@heldout_family(
    dict(app="avatar-svc", ns="games", reason="ErrImagePull",
         event='Failed to pull image "docker.io/acmegames/avatar:1.8.2": rpc error: code = Unknown desc = failed to pull and unpack '
               'image "docker.io/acmegames/avatar:1.8.2": failed to copy: httpReadSeeker: failed open: unexpected status code '
               'https://registry-1.docker.io/v2/acmegames/avatar/manifests/sha256:9f1c: 429 Too Many Requests - Server message: '
               'toomanyrequests: You have reached your pull rate limit.'),
    dict(app="geo-svc", ns="logistics", reason="ImagePullBackOff",
         event='Failed to pull image "europe-docker.pkg.dev/acme-prod/geo/geo-svc:2.0.1": failed to pull and unpack image: failed '
               'to resolve reference: failed to authorize: failed to fetch oauth token: unexpected status from GET request to '
               'https://europe-docker.pkg.dev/v2/token: 403 Forbidden'),
)
def image_other_registries(c: Cluster, v: dict) -> Expect:
    ns = v["ns"]
    image = v["event"].split('"')[1]
    app = c.app(ns, v["app"], replicas=1, pods=[[Ctr(v["app"], image=image, state="waiting", reason=v["reason"],
                                                     message=f'Back-off pulling image "{image}"', ready=False)]])
    c.b.event(ns, "Pod", app.pods[0], "Failed", v["event"], count=6)
    return Expect(ksm_alert(c, "pod", app), C.IMAGE_PULL_FAILURE, f"pod/{ns}/{app.pods[0]}", [v["reason"]])


@heldout_family(dict(app="rails-api", ns="commerce"))
def entrypoint_not_executable(c: Cluster, v: dict) -> Expect:
    ns = v["ns"]
    app = c.app(ns, v["app"], replicas=1, pods=[[crashloop(v["app"], code=126)]])
    _logs(c, app, "exec /docker-entrypoint.sh: permission denied\n")
    return Expect(ksm_alert(c, "pod", app), C.INVALID_COMMAND, f"pod/{ns}/{app.pods[0]}", ["permission denied"])


@heldout_family(dict(app="log-collector", ns="observability"))
def psa_baseline_hostpath(c: Cluster, v: dict) -> Expect:
    ns = v["ns"]
    c.b.daemonset(ns, v["app"], desired=3, ready=0)
    c.b.event(ns, "DaemonSet", v["app"], "FailedCreate", f'Error creating: pods "{v["app"]}-7xk2p" is forbidden: violates '
              'PodSecurity "baseline:v1.28": hostPath volumes (volume "varlog"), privileged (container "collector" must not '
              'set securityContext.privileged=true)', count=33, component="daemonset-controller")
    return Expect(c.alert("KubeDaemonSetRolloutStuck", {"namespace": ns, "daemonset": v["app"]}),
                  C.SECURITY_CONTEXT_VIOLATION, f"event/{ns}/DaemonSet/{v['app']}", ["violates PodSecurity"])


@heldout_family(dict(app="nginx-edge", ns="ingress", cm="nginx-edge-conf"))
def daemonset_configmap_volume(c: Cluster, v: dict) -> Expect:
    ns = v["ns"]
    pods = c.daemon(ns, v["app"], {"app": v["app"]}, "docker.io/library/nginx:1.25.3")
    for p in c.b.ns_objects[ns]["pods"]:
        if p["metadata"]["name"] == pods[0]:
            p["status"]["phase"] = "Pending"
            p["status"]["conditions"][1]["status"] = "False"
            p["status"]["containerStatuses"][0].update({"ready": False, "state": {"waiting": {"reason": "ContainerCreating"}}})
    c.b.event(ns, "Pod", pods[0], "FailedMount", f'MountVolume.SetUp failed for volume "conf" : configmap "{v["cm"]}" not found',
              count=14)
    c.b.ns_objects[ns]["daemonsets"][-1]["status"].update({"numberReady": len(pods) - 1})
    return Expect(c.alert("KubeDaemonSetRolloutStuck", {"namespace": ns, "daemonset": v["app"]}), C.MISSING_CONFIG,
                  f"pod/{ns}/{pods[0]}", [v["cm"]])


@heldout_family(dict(app="mqtt-bridge", ns="iot"))
def liveness_exec_timeout(c: Cluster, v: dict) -> Expect:
    ns = v["ns"]
    probe = {"exec": {"command": ["/bin/healthcheck", "--mqtt"]}, "timeoutSeconds": 1, "periodSeconds": 15}
    app = c.app(ns, v["app"], replicas=1, pods=[[crashloop(v["app"], code=137, liveness=probe)]])
    c.b.event(ns, "Pod", app.pods[0], "Unhealthy", "Liveness probe errored: rpc error: code = DeadlineExceeded desc = failed to "
              "exec in container: timeout 1s exceeded: context deadline exceeded", count=11, minutes_ago=1.6)
    c.b.event(ns, "Pod", app.pods[0], "Killing", f"Container {v['app']} failed liveness probe, will be restarted", type="Normal",
              count=4, minutes_ago=1.3)
    return Expect(ksm_alert(c, "pod", app), C.LIVENESS_PROBE_FAILURE, f"pod/{ns}/{app.pods[0]}", ["Liveness probe errored"])


@heldout_family(dict(app="scores-api", ns="games"))
def readiness_wrong_port(c: Cluster, v: dict) -> Expect:
    ns = v["ns"]
    probe = {"tcpSocket": {"port": 8000}, "periodSeconds": 5}
    app = c.app(ns, v["app"], replicas=2, pods=[[Ctr(v["app"], ready=False, readiness=probe, ports=[8080], since=25)]] * 2)
    for p in app.pods:
        c.b.event(ns, "Pod", p, "Unhealthy", "Readiness probe failed: dial tcp 10.42.0.17:8000: connect: connection refused",
                  count=290, minutes_ago=0.1)
    _logs(c, app, "INFO:     Uvicorn running on http://0.0.0.0:8080 (Press CTRL+C to quit)\n", previous=False)
    return Expect(ksm_alert(c, "deployment", app), C.READINESS_PROBE_FAILURE, app.any_pod, ["Readiness probe failed"])


# --- around the pods --------------------------------------------------------------------------------------------------

@heldout_family(
    dict(app="video-transcoder", ns="media", msg="{n} Insufficient ephemeral-storage", cite="ephemeral-storage"),
    dict(app="dpdk-gateway", ns="telco", msg="{n} Insufficient hugepages-2Mi", cite="hugepages-2Mi"),
)
def insufficient_other(c: Cluster, v: dict) -> Expect:
    ns = v["ns"]
    app = c.app(ns, v["app"], replicas=1, nodes=[None], pod_phase=["Pending"],
                pods=[[Ctr(v["app"], state="waiting", reason="", ready=False, requests={"cpu": "2", v["cite"]: "20Gi"})]])
    n = len(c.node_names)
    c.scheduling_failed(ns, app.pods[0], f"0/{n} nodes are available: {v['msg'].format(n=n)}. preemption: 0/{n} nodes are "
                        f"available: {n} No preemption victims found for incoming pod.")
    return Expect(ksm_alert(c, "notready", app), C.INSUFFICIENT_RESOURCES, f"pod/{ns}/{app.pods[0]}", [v["cite"]])


@heldout_family(dict(app="arm-builder", ns="ci"))
def zone_affinity(c: Cluster, v: dict) -> Expect:
    ns = v["ns"]
    app = c.app(ns, v["app"], replicas=1, nodes=[None], pod_phase=["Pending"],
                pods=[[Ctr(v["app"], state="waiting", reason="", ready=False)]])
    pod = c.b.ns_objects[ns]["pods"][-1]
    pod["spec"]["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "kubernetes.io/arch", "operator": "In", "values": ["arm64"]}]}]}}}
    n = len(c.node_names)
    c.scheduling_failed(ns, app.pods[0], f"0/{n} nodes are available: {n} node(s) didn't match Pod's node affinity/selector. "
                        f"preemption: 0/{n} nodes are available: {n} Preemption is not helpful for scheduling.")
    return Expect(ksm_alert(c, "notready", app), C.SCHEDULING_CONSTRAINT, f"pod/{ns}/{app.pods[0]}", ["node affinity"])


@heldout_family(dict(app="trainer", ns="ml-team"))
def gpu_quota(c: Cluster, v: dict) -> Expect:
    ns = v["ns"]
    c.b.job(ns, v["app"], active=0)
    c.b.quota(ns, "gpu-quota", {"requests.nvidia.com/gpu": "2"}, {"requests.nvidia.com/gpu": "2"})
    c.b.event(ns, "Job", v["app"], "FailedCreate", f'Error creating: pods "{v["app"]}-" is forbidden: exceeded quota: gpu-quota, '
              "requested: requests.nvidia.com/gpu=1, used: requests.nvidia.com/gpu=2, limited: requests.nvidia.com/gpu=2",
              count=8, component="job-controller")
    return Expect(c.alert("KubeJobNotCompleted", {"namespace": ns, "job_name": v["app"]}), C.QUOTA_EXCEEDED,
                  f"resourcequota/{ns}/gpu-quota", ["gpu-quota"])


@heldout_family(dict(app="media-store", ns="media"))
def csi_mount_failed(c: Cluster, v: dict) -> Expect:
    ns = v["ns"]
    app = c.app(ns, v["app"], kind="statefulset", replicas=1, pvc_size="50Gi", pod_phase=["Pending"],
                pods=[[Ctr(v["app"], state="waiting", reason="ContainerCreating", ready=False)]])
    c.b.event(ns, "Pod", app.pods[0], "FailedMount", 'MountVolume.MountDevice failed for volume "pvc-3c1e" : rpc error: code = '
              'Internal desc = mount failed: exit status 32 Mounting command: mount Mounting arguments: -t ext4 -o defaults '
              '/dev/disk/by-id/scsi-0DO_Volume_pvc-3c1e /var/lib/kubelet/plugins/kubernetes.io/csi/dobs.csi.digitalocean.com/'
              'mount Output: mount: wrong fs type, bad option, bad superblock', count=9)
    return Expect(ksm_alert(c, "statefulset", app), C.VOLUME_MOUNT_FAILURE, f"pod/{ns}/{app.pods[0]}", ["MountDevice failed"])


@heldout_family(dict(app="geo-api", ns="logistics"))
def node_runtime_down(c: Cluster, v: dict) -> Expect:
    ns = v["ns"]
    bad = c.add_node(c._node_name(5), ready="False", reason="KubeletNotReady",
                     message="[container runtime is down, PLEG is not healthy: pleg was last seen active 4m12s ago; threshold is 3m0s]")
    app = c.app(ns, v["app"], replicas=1, nodes=[bad["metadata"]["name"]])
    pod = c.b.ns_objects[ns]["pods"][-1]
    pod["status"]["conditions"][1]["status"] = "False"
    c.b.event(ns, "Pod", app.pods[0], "NodeNotReady", "Node is not ready", minutes_ago=3)
    return Expect(ksm_alert(c, "notready", app), C.NODE_NOT_READY, f"node/{bad['metadata']['name']}", ["PLEG"], multi_hop=True)


@heldout_family(dict(kind="pid"), dict(kind="evicted-disk", app="thumbs", ns="media"))
def pressure_other(c: Cluster, v: dict) -> Expect:
    node = c.node_names[0]
    obj = next(n for n in c.b.cluster_objects["nodes"] if n["metadata"]["name"] == node)
    if v["kind"] == "pid":
        for cond in obj["status"]["conditions"]:
            if cond["type"] == "PIDPressure":
                cond.update({"status": "True", "reason": "KubeletHasInsufficientPID", "message": "kubelet has insufficient PID available"})
        return Expect(c.alert("KubeNodePressure", {"node": node, "condition": "PIDPressure", "status": "true"}),
                      C.NODE_PRESSURE_EVICTION, f"node/{node}", ["PIDPressure=True"])
    ns = v["ns"]
    app = c.app(ns, v["app"], replicas=1, nodes=[node])
    pod = c.b.ns_objects[ns]["pods"][-1]
    msg = "The node was low on resource: ephemeral-storage. Threshold quantity: 10Gi, available: 8112644Ki."
    pod["status"].update({"phase": "Failed", "reason": "Evicted", "message": msg})
    pod["status"]["conditions"][1]["status"] = "False"
    return Expect(ksm_alert(c, "notready", app), C.NODE_PRESSURE_EVICTION, f"pod/{ns}/{app.pods[0]}", ["ephemeral-storage"])


@heldout_family(dict(app="ws-gateway", ns="games"))
def hpa_pods_metric(c: Cluster, v: dict) -> Expect:
    ns = v["ns"]
    c.app(ns, v["app"], replicas=12)
    c.b.hpa(ns, v["app"], v["app"], max_replicas=12, current=12, cpu_current=None)
    hpa = c.b.ns_objects[ns]["horizontalpodautoscalers"][-1]
    hpa["spec"]["metrics"] = [{"type": "Pods", "pods": {"metric": {"name": "websocket_connections"},
                                                        "target": {"type": "AverageValue", "averageValue": "800"}}}]
    hpa["status"]["currentMetrics"] = [{"type": "Pods", "pods": {"metric": {"name": "websocket_connections"},
                                                                 "current": {"averageValue": "1412"}}}]
    return Expect(c.alert("KubeHpaMaxedOut", {"namespace": ns, "horizontalpodautoscaler": v["app"]}), C.AUTOSCALER_AT_MAX,
                  f"hpa/{ns}/{v['app']}", ["maxReplicas=12"])


@heldout_family(dict(app="billing-api", ns="payments"))
def webhook_tls(c: Cluster, v: dict) -> Expect:
    ns = v["ns"]
    c.app("cert-manager", "cert-manager-webhook", replicas=1, port=10250)
    c.b.webhook("cert-manager-webhook", "webhook.cert-manager.io", service=("cert-manager", "cert-manager-webhook"),
                mutating=True)
    app = c.app(ns, v["app"], replicas=0)
    next(d for d in c.b.ns_objects[ns]["deployments"] if d["metadata"]["name"] == v["app"])["spec"]["replicas"] = 2
    c.b.event(ns, "ReplicaSet", app.rs, "FailedCreate", 'Error creating: Internal error occurred: failed calling webhook '
              '"webhook.cert-manager.io": failed to call webhook: Post "https://cert-manager-webhook.cert-manager.svc:443/mutate?'
              'timeout=10s": tls: failed to verify certificate: x509: certificate signed by unknown authority', count=12)
    return Expect(ksm_alert(c, "deployment", app), C.ADMISSION_WEBHOOK_FAILURE, "mutatingwebhookconfiguration/cert-manager-webhook",
                  ["x509"])


# --- nothing wrong now ------------------------------------------------------------------------------------------------

@heldout_family(dict(app="lobby", ns="games", kind="rolled-out"), dict(app="inventory", ns="logistics", kind="restarted-yesterday"))
def nothing_now(c: Cluster, v: dict) -> Expect:
    ns = v["ns"]
    if v["kind"] == "rolled-out":
        app = c.app(ns, v["app"], replicas=4)
        c.b.event(ns, "Deployment", v["app"], "ScalingReplicaSet", f"Scaled up replica set {app.rs} to 4", type="Normal",
                  minutes_ago=14)
        return Expect(ksm_alert(c, "deployment", app), C.UNKNOWN, "", [])
    app = c.app(ns, v["app"], replicas=1, pods=[[Ctr(v["app"], restarts=3, last={"reason": "Error", "exitCode": 1},
                                                     since=60 * 20, finished=60 * 20)]])
    return Expect(c.alert("KubePodCrashLooping", {"namespace": ns, "pod": app.pods[0], "container": v["app"]}), C.UNKNOWN, "",
                  [], red_herring=True)
