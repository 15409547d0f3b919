"""Incidents whose cause is the alerted pod itself: memory, crashes, config, images, commands, security
context, probes. Several carry decoys (old terminations, noisy healthy sidecars, unrelated crashers)."""

from __future__ import annotations

from tests.corpus import C, Expect, crashloop, family
from tests.corpus import logs as L
from tests.corpus.families_deps import decoy, ksm_alert, unrelated_crasher
from tests.corpus.kit import Cluster, Ctr


def _alert_for(c: Cluster, app, alert: str, container: str | None = None) -> dict:
    return ksm_alert(c, alert, app, container)


# --- oom_killed ----------------------------------------------------------------------------------------------------

@family(
    dict(app="payment-service", ns="ecommerce", lang="java", limit="512Mi", alert="pod",
         log="java.lang.OutOfMemoryError: Java heap space\n", herring="stale"),
    dict(app="feature-store", ns="ml", lang="python", limit="2Gi", alert="statefulset", kind="statefulset",
         log="loading embeddings shard 7/12\n"),
    dict(app="image-resizer", ns="media", lang="node", limit="1Gi", alert="deployment",
         log="<--- Last few GCs --->\n[1:0x5f1e] 91234 ms: Mark-Compact 1012.3 (1041.2) -> 1009.8 (1042.1) MB\n",
         herring="noise"),
)
def oom(c: Cluster, v: dict) -> Expect:
    ns, name = v["ns"], v["app"]
    c.neighbours(ns, 2)
    pods = [[crashloop(name, code=137, reason="OOMKilled", limits={"memory": v["limit"]}, requests={"memory": v["limit"]})],
            [Ctr(name, limits={"memory": v["limit"]}, since=60 * 5)]]
    app = c.app(ns, name, kind=v.get("kind", "deployment"), replicas=2, pods=pods)
    text = L.startup(v["lang"], name) + v["log"]
    if v.get("herring") == "noise":  # the log also shows a refused connection to a healthy service
        c.app(ns, "metrics-gateway", replicas=1)
        text = L.startup(v["lang"], name) + "Error: connect ECONNREFUSED metrics-gateway:8080 (retrying)\n" + v["log"]
    c.b.logs(ns, app.pods[0], text, container=name, previous=True)
    if v.get("herring") == "stale":
        unrelated_crasher(c, ns)
    return Expect(_alert_for(c, app, v["alert"]), C.OOM_KILLED, f"pod/{ns}/{app.pods[0]}", ["OOMKilled", v["limit"]],
                  red_herring=bool(v.get("herring")))


@family(dict(app="checkout", ns="shop", sidecar="fluent-bit", limit="64Mi"))
def oom_sidecar(c: Cluster, v: dict) -> Expect:
    ns = v["ns"]
    pods = [[Ctr(v["app"], since=600, ports=[8080]),
             Ctr(v["sidecar"], image="cr.fluentbit.io/fluent/fluent-bit:2.2.2", ready=False, restarts=12,
                 state="waiting", reason="CrashLoopBackOff", last={"reason": "OOMKilled", "exitCode": 137},
                 limits={"memory": v["limit"]})]]
    app = c.app(ns, v["app"], replicas=1, pods=pods)
    return Expect(c.alert("KubePodCrashLooping", {"namespace": ns, "pod": app.pods[0], "container": v["sidecar"],
                                                  "reason": "CrashLoopBackOff"}),
                  C.OOM_KILLED, f"pod/{ns}/{app.pods[0]}", [f"containerStatuses[{v['sidecar']}]", "OOMKilled"])


@family(dict(app="thumbnailer", ns="media", stack="onprem-121"))
def oom_exit_137_no_reason(c: Cluster, v: dict) -> Expect:
    ns = v["ns"]
    app = c.app(ns, v["app"], replicas=1, pods=[[crashloop(v["app"], code=137, reason="Error", limits={"memory": "300Mi"})]])
    c.b.logs(ns, app.pods[0], "processing batch 812\n", container=v["app"], previous=True)
    return Expect(ksm_alert(c, "pod", app), C.OOM_KILLED, f"pod/{ns}/{app.pods[0]}", ["exitCode=137"])


# --- application_crash -------------------------------------------------------------------------------------------

@family(
    dict(app="pricing", ns="shop", lang="go", alert="deployment", cite="nil pointer"),
    dict(app="settlement-worker", ns="finance", lang="python", alert="pod", cite="KeyError", herring="healthy-dep"),
    dict(app="router", ns="edge", lang="node", alert="pod", cite="TypeError", herring="old-oom"),
    dict(app="quote-api", ns="insurance", lang="dotnet", alert="deployment", cite="Unhandled exception", herring="sidecar"),
    dict(app="checkout-service", ns="checkout", lang="java", alert="deployment", cite="NumberFormatException"),
)
def app_crash(c: Cluster, v: dict) -> Expect:
    ns, name = v["ns"], v["app"]
    c.neighbours(ns, 2)
    sidecar = []
    if v.get("herring") == "sidecar":
        sidecar = [Ctr("istio-proxy", image="docker.io/istio/proxyv2:1.20.3", since=60 * 30)]
    pods = [[crashloop(name, code=1 if v["lang"] != "go" else 2)] + sidecar for _ in range(2)]
    if v.get("herring") == "old-oom":
        pods = [[crashloop(name, code=1), Ctr("cache-warmer", restarts=1, last={"reason": "OOMKilled", "exitCode": 137},
                                               since=60 * 30, finished=60 * 30)]] * 1 + pods[1:]
    app = c.app(ns, name, replicas=2, pods=pods)
    text = L.startup(v["lang"], name)
    if v.get("herring") == "healthy-dep":
        c.app(ns, "redis", replicas=1, port=6379)
        text += L.warning_noise("redis", 6379)
    for p in app.pods:
        c.b.logs(ns, p, text + L.crash(v["lang"]), container=name, previous=True)
        if sidecar:
            c.b.logs(ns, p, "[2024-01-15T14:29:12.101Z] \"GET /quote HTTP/1.1\" 503 UF upstream_reset_before_response_started"
                            "{connection_failure,delayed_connect_error:_Connection_refused} - \"-\" 0 91 0\n"
                            "warning envoy upstream connect error or disconnect/reset before headers. reset reason: connection failure\n",
                     container="istio-proxy")
    if v.get("herring") == "old-oom":
        c.b.event(ns, "Pod", app.pods[0], "OOMKilling", "Memory cgroup out of memory: Killed process 4411 (node)", count=1,
                  minutes_ago=60 * 30)
    return Expect(_alert_for(c, app, v["alert"]), C.APPLICATION_CRASH, app.any_pod, [v["cite"]],
                  red_herring=bool(v.get("herring")))


@family(
    dict(app="orders", ns="shop", init="migrate", log="Flyway Community Edition 10.4.1\nERROR: Migration V42__orders_v2.sql failed\n"
         "SQL State  : 42P07\nMessage    : ERROR: relation \"orders_v2\" already exists\n", cite="already exists"),
    dict(app="keycloak", ns="iam", init="theme-copy", log="cp: cannot stat '/themes/corp/*': No such file or directory\n",
         cite="cannot stat"),
)
def init_container_crash(c: Cluster, v: dict) -> Expect:
    ns = v["ns"]
    app = c.app(ns, v["app"], replicas=1, init=[crashloop(v["init"], code=1, restarts=4)], pod_phase=["Pending"],
                pods=[[Ctr(v["app"], state="waiting", reason="PodInitializing", ready=False)]])
    c.b.logs(ns, app.pods[0], v["log"], container=v["init"], previous=True)
    return Expect(ksm_alert(c, "notready", app), C.APPLICATION_CRASH, f"pod/{ns}/{app.pods[0]}",
                  [f"initContainerStatuses[{v['init']}]", v["cite"]])


@family(dict(job="cleanup-28457100", ns="ops"))
def job_crash(c: Cluster, v: dict) -> Expect:
    ns = v["ns"]
    c.b.job(ns, v["job"], failed=6)
    c.b.ns_objects[ns]["jobs"][-1]["status"]["conditions"] = [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}]
    pod = f"{v['job']}-q9x4m"
    c.pod(ns, pod, [Ctr("cleanup", state="terminated", reason="Error", exit_code=1, ready=False)], owner=("Job", v["job"]),
          node=c.node_for(1), phase="Failed")
    c.b.logs(ns, pod, L.crash("ruby"), container="cleanup")
    return Expect(c.alert("KubeJobFailed", {"namespace": ns, "job_name": v["job"], "condition": "true"}), C.APPLICATION_CRASH,
                  f"pod/{ns}/{pod}", ["NoMethodError"])


# --- missing_config ------------------------------------------------------------------------------------------------

@family(
    dict(app="billing", ns="finance", what="configmap", msg='configmap "billing-config" not found', cite="billing-config"),
    dict(app="ledger", ns="finance", what="secret-key", msg="couldn't find key DATABASE_URL in Secret finance/ledger-db",
         cite="DATABASE_URL"),
)
def config_missing(c: Cluster, v: dict) -> Expect:
    ns = v["ns"]
    c.b.configmap(ns, "feature-flags", {"FLAGS": "a,b"})
    c.b.secret(ns, "ledger-db", {"DATABASE_USER": "bGVkZ2Vy", "DATABASE_PASSWORD": "czNjcjN0"})
    pods = [[Ctr(v["app"], state="waiting", reason="CreateContainerConfigError", message=v["msg"], ready=False)]] * 2
    app = c.app(ns, v["app"], replicas=2, pods=pods)
    for p in app.pods:
        c.b.event(ns, "Pod", p, "Failed", f"Error: {v['msg']}", count=25, minutes_ago=0.5)
    return Expect(ksm_alert(c, "deployment", app), C.MISSING_CONFIG, app.any_pod, [v["cite"]])


@family(dict(app="api-gateway", ns="edge", secret="api-gateway-tls"))
def config_volume_missing(c: Cluster, v: dict) -> Expect:
    ns = v["ns"]
    app = c.app(ns, v["app"], replicas=1, pods=[[Ctr(v["app"], state="waiting", reason="ContainerCreating", ready=False)]],
                pod_phase=["Pending"], volumes=[{"name": "tls", "secret": {"secretName": v["secret"]}}])
    c.b.event(ns, "Pod", app.pods[0], "FailedMount", f'MountVolume.SetUp failed for volume "tls" : secret "{v["secret"]}" not found',
              count=19, minutes_ago=1)
    return Expect(ksm_alert(c, "notready", app), C.MISSING_CONFIG, f"pod/{ns}/{app.pods[0]}", [v["secret"]])


@family(dict(job="sync-users-28457190", ns="iam", sa="user-sync"))
def serviceaccount_missing(c: Cluster, v: dict) -> Expect:
    ns = v["ns"]
    c.b.job(ns, v["job"], active=0)
    c.b.event(ns, "Job", v["job"], "FailedCreate", f'Error creating: pods "{v["job"]}-" is forbidden: error looking up service '
              f'account {ns}/{v["sa"]}: serviceaccount "{v["sa"]}" not found', count=11, minutes_ago=2)
    return Expect(c.alert("KubeJobNotCompleted", {"namespace": ns, "job_name": v["job"]}), C.MISSING_CONFIG,
                  f"event/{ns}/Job/{v['job']}", [f'serviceaccount "{v["sa"]}" not found'])


@family(dict(app="catalog", ns="shop"))
def rollout_stuck_config(c: Cluster, v: dict) -> Expect:
    """A new ReplicaSet's pods cannot start (missing config key) while the old ReplicaSet's pods still serve."""
    ns, name = v["ns"], v["app"]
    app = c.app(ns, name, replicas=2)
    old_rs = app.rs
    new_hash = c.hashed(name + "new", 10)
    new_rs = f"{name}-{new_hash}"
    old_obj = next(r for r in c.b.ns_objects[ns]["replicasets"] if r["metadata"]["name"] == old_rs)
    revision = int(old_obj["metadata"]["annotations"]["deployment.kubernetes.io/revision"]) + 1
    c.b.add("replicasets", {"metadata": {"name": new_rs, "labels": {**app.labels, "pod-template-hash": new_hash},
                                         "annotations": {"deployment.kubernetes.io/revision": str(revision)},
                                         "ownerReferences": [c.b._owner("Deployment", name, ns, "deployments")]},
                            "spec": {"replicas": 1}, "status": {"replicas": 1, "readyReplicas": 0}}, ns)
    bad = f"{new_rs}-{c.hashed(new_rs, 5)}"
    c.pod(ns, bad, [Ctr(name, state="waiting", reason="CreateContainerConfigError",
                        message=f"couldn't find key SEARCH_ENDPOINT in ConfigMap {ns}/catalog-config", ready=False)],
          owner=("ReplicaSet", new_rs), labels=app.labels, node=c.node_for(0))
    dep = next(d for d in c.b.ns_objects[ns]["deployments"] if d["metadata"]["name"] == name)
    dep["status"]["conditions"] = [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                                    "message": f'ReplicaSet "{new_rs}" has timed out progressing.'}]
    del old_rs
    return Expect(c.alert("KubeDeploymentRolloutStuck", {"namespace": ns, "deployment": name, "condition": "Progressing",
                                                         "status": "false"}), C.MISSING_CONFIG, f"pod/{ns}/{bad}",
                  ["SEARCH_ENDPOINT", f"replicaset/{ns}/{new_rs}/status"], mentions=["new revision of the rollout"],
                  multi_hop=True)


# --- image_pull_failure -------------------------------------------------------------------------------------------

@family(
    dict(app="api", ns="shop", image="registry.example.com/shop/api:v9.9.9", reason="ImagePullBackOff", decoy="crasher",
         event='Failed to pull image "registry.example.com/shop/api:v9.9.9": rpc error: code = NotFound desc = failed to pull and '
               'unpack image "registry.example.com/shop/api:v9.9.9": failed to resolve reference "registry.example.com/shop/api:v9.9.9": '
               'registry.example.com/shop/api:v9.9.9: not found'),
    dict(app="reporting", ns="bi", image="123456789012.dkr.ecr.eu-west-1.amazonaws.com/bi/reporting:2024.01.3",
         reason="ErrImagePull", event='Failed to pull image "123456789012.dkr.ecr.eu-west-1.amazonaws.com/bi/reporting:2024.01.3": '
         'rpc error: code = Unknown desc = failed to pull and unpack image: failed to resolve reference: pulling from host '
         '123456789012.dkr.ecr.eu-west-1.amazonaws.com failed with status code [manifests 2024.01.3]: 401 Unauthorized'),
    dict(app="console", ns="ops", image="quay.io/acme/console:4.14-hotfix", reason="ImagePullBackOff", stack="ocp-414",
         event='Failed to pull image "quay.io/acme/console:4.14-hotfix": rpc error: code = Unknown desc = reading manifest '
               '4.14-hotfix in quay.io/acme/console: manifest unknown: manifest unknown'),
    dict(app="worker", ns="jobs", image="registry.example.com/jobs/Worker:1.2", reason="InvalidImageName",
         event='Failed to apply default image tag "registry.example.com/jobs/Worker:1.2": couldn\'t parse image reference '
               '"registry.example.com/jobs/Worker:1.2": invalid reference format: repository name must be lowercase'),
)
def image_pull(c: Cluster, v: dict) -> Expect:
    ns = v["ns"]
    c.neighbours(ns, 1)
    ctr = Ctr(v["app"], image=v["image"], state="waiting", reason=v["reason"], message=f'Back-off pulling image "{v["image"]}"',
              ready=False)
    app = c.app(ns, v["app"], replicas=1, pods=[[ctr]])
    c.b.event(ns, "Pod", app.pods[0], "Failed", v["event"], count=9, minutes_ago=0.6)
    if v.get("decoy"):
        decoy(c, ns, v["decoy"])
    return Expect(ksm_alert(c, "deployment", app), C.IMAGE_PULL_FAILURE, f"pod/{ns}/{app.pods[0]}", [v["reason"]],
                  red_herring=bool(v.get("decoy")))


# --- invalid_command ---------------------------------------------------------------------------------------------------

@family(
    dict(app="tool", ns="ops", where="last", reason="StartError", code=128,
         msg='failed to create containerd task: failed to create shim task: OCI runtime create failed: runc create failed: '
             'unable to start container process: exec: "/app/serve": stat /app/serve: no such file or directory: unknown',
         cite="no such file or directory"),
    dict(app="tasks", ns="jobs", where="waiting", reason="CreateContainerError", stack="ocp-414",
         msg="container create failed: executable file `celery` not found in $PATH: No such file or directory",
         cite="not found in $PATH"),
    dict(app="resizer", ns="media", where="log", code=1, log="exec /usr/local/bin/resizer: exec format error\n",
         cite="exec format error"),
    dict(app="web", ns="py", where="log", code=127, log="/bin/sh: 1: gunicorn: not found\n", cite="gunicorn: not found"),
)
def invalid_command(c: Cluster, v: dict) -> Expect:
    ns = v["ns"]
    if v["where"] == "waiting":
        ctr = Ctr(v["app"], state="waiting", reason=v["reason"], message=v["msg"], ready=False, command=["celery", "worker"])
    elif v["where"] == "last":
        ctr = crashloop(v["app"], code=v["code"], reason=v["reason"], command=["/app/serve"])
        ctr.last["message"] = v["msg"]
    else:
        ctr = crashloop(v["app"], code=v["code"])
    app = c.app(ns, v["app"], replicas=1, pods=[[ctr]])
    if v["where"] == "log":
        c.b.logs(ns, app.pods[0], v["log"], container=v["app"], previous=True)
    return Expect(ksm_alert(c, "pod", app), C.INVALID_COMMAND, f"pod/{ns}/{app.pods[0]}", [v["cite"]])


# --- security_context_violation ------------------------------------------------------------------------------------------

@family(
    dict(app="legacy-web", ns="apps", mode="nonroot",
         msg="container has runAsNonRoot and image has non-numeric user (nginx), cannot verify user is non-root"),
    dict(app="debugger", ns="tools", mode="psa",
         msg='Error creating: pods "{rs}-x1" is forbidden: violates PodSecurity "restricted:latest": allowPrivilegeEscalation '
             '!= false (container "debugger" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities '
             '(container "debugger" must set securityContext.capabilities.drop=["ALL"])'),
    dict(app="legacy-agent", ns="monitoring-agents", mode="scc", stack="ocp-414",
         msg='Error creating: pods "{rs}-" is forbidden: unable to validate against any security context constraint: '
             '[provider "anyuid": Forbidden: not usable by user or serviceaccount, spec.containers[0].securityContext.'
             'privileged: Invalid value: true: Privileged containers are not allowed]'),
    dict(app="exporter", ns="apps", mode="rofs"),
)
def security(c: Cluster, v: dict) -> Expect:
    ns, name = v["ns"], v["app"]
    if v["mode"] == "nonroot":
        app = c.app(ns, name, replicas=1, pods=[[Ctr(name, state="waiting", reason="CreateContainerConfigError", message=v["msg"],
                                                     ready=False, security={"runAsNonRoot": True})]])
        return Expect(ksm_alert(c, "pod", app), C.SECURITY_CONTEXT_VIOLATION, f"pod/{ns}/{app.pods[0]}", ["runAsNonRoot"])
    if v["mode"] in ("psa", "scc"):
        app = c.app(ns, name, replicas=0)
        dep = next(d for d in c.b.ns_objects[ns]["deployments"] if d["metadata"]["name"] == name)
        dep["spec"]["replicas"] = 1
        dep["status"].update({"replicas": 0, "readyReplicas": 0, "unavailableReplicas": 1})
        c.b.event(ns, "ReplicaSet", app.rs, "FailedCreate", v["msg"].format(rs=app.rs), count=17, minutes_ago=0.7,
                  component="replicaset-controller")
        return Expect(ksm_alert(c, "deployment", app), C.SECURITY_CONTEXT_VIOLATION, f"event/{ns}/ReplicaSet/{app.rs}",
                      ["PodSecurity" if v["mode"] == "psa" else "security context constraint"])
    app = c.app(ns, name, replicas=1, pods=[[crashloop(name, code=1, security={"readOnlyRootFilesystem": True})]])
    c.b.logs(ns, app.pods[0], "Traceback (most recent call last):\n  File \"/app/exporter.py\", line 9, in <module>\n"
             "OSError: [Errno 30] Read-only file system: '/app/.cache'\n", container=name, previous=True)
    return Expect(ksm_alert(c, "pod", app), C.SECURITY_CONTEXT_VIOLATION, f"pod/{ns}/{app.pods[0]}", ["Read-only file system"])


# --- liveness_probe_failure -------------------------------------------------------------------------------------------

@family(
    dict(app="profile", ns="accounts", mode="gc", decoy="other-pvc"),
    dict(app="search-indexer", ns="discovery", mode="startup"),
    dict(app="gateway", ns="edge", mode="running"),
    dict(app="ledger-api", ns="finance", mode="wrong-port"),
)
def liveness(c: Cluster, v: dict) -> Expect:
    ns, name = v["ns"], v["app"]
    c.neighbours(ns, 1)
    probe = {"httpGet": {"path": "/healthz", "port": 8080}, "timeoutSeconds": 1, "failureThreshold": 3, "periodSeconds": 10}
    if v["mode"] == "running":
        app = c.app(ns, name, replicas=1, pods=[[Ctr(name, restarts=4, last={"reason": "Error", "exitCode": 143}, liveness=probe,
                                                     since=3, finished=3.2), Ctr("istio-proxy", image="docker.io/istio/proxyv2:1.20.3")]])
        c.b.event(ns, "Pod", app.pods[0], "Unhealthy", "Liveness probe failed: Get \"http://10.244.1.7:8080/healthz\": "
                  "context deadline exceeded (Client.Timeout exceeded while awaiting headers)", count=14, minutes_ago=3.5)
        alert = c.alert("KubePodCrashLooping", {"namespace": ns, "pod": app.pods[0], "container": name})
        return Expect(alert, C.LIVENESS_PROBE_FAILURE, f"pod/{ns}/{app.pods[0]}", ["Liveness probe failed"])
    if v["mode"] == "startup":
        sp = {"httpGet": {"path": "/started", "port": 9200}, "failureThreshold": 6, "periodSeconds": 5}
        ctr = crashloop(name, code=137, startup=sp)
        app = c.app(ns, name, kind="statefulset", replicas=1, pods=[[ctr]])
        c.b.event(ns, "Pod", app.pods[0], "Unhealthy", "Startup probe failed: Get \"http://10.244.2.8:9200/started\": dial tcp "
                  "10.244.2.8:9200: connect: connection refused", count=42, minutes_ago=1.5)
        c.b.event(ns, "Pod", app.pods[0], "Killing", f"Container {name} failed startup probe, will be restarted", type="Normal",
                  count=7, minutes_ago=1.1)
        c.b.logs(ns, app.pods[0], "[2024-01-15T14:28:30,118][INFO ][o.e.n.Node] initializing ...\n"
                 "[2024-01-15T14:29:05,377][INFO ][o.e.g.GatewayService] recovering 412 shards\n", container=name, previous=True)
        return Expect(ksm_alert(c, "statefulset", app), C.LIVENESS_PROBE_FAILURE, f"pod/{ns}/{app.pods[0]}", ["Startup probe failed"])
    port = 8081 if v["mode"] == "wrong-port" else 8080
    probe["httpGet"]["port"] = port
    app = c.app(ns, name, replicas=1, pods=[[crashloop(name, code=137, liveness=probe, ports=[8080])]])
    msg = (f"Liveness probe failed: Get \"http://10.244.1.9:{port}/healthz\": dial tcp 10.244.1.9:{port}: connect: connection refused"
           if v["mode"] == "wrong-port" else "Liveness probe failed: Get \"http://10.244.1.9:8080/healthz\": context deadline exceeded")
    c.b.event(ns, "Pod", app.pods[0], "Unhealthy", msg, count=21, minutes_ago=1.4)
    c.b.event(ns, "Pod", app.pods[0], "Killing", f"Container {name} failed liveness probe, will be restarted", type="Normal",
              count=7, minutes_ago=1.2)
    c.b.logs(ns, app.pods[0], L.startup("java", name) + "[GC (Allocation Failure) 1023M->1019M(1024M), 4.2117 secs]\n",
             container=name, previous=True)
    if v.get("decoy"):
        decoy(c, ns, v["decoy"])
    return Expect(ksm_alert(c, "deployment", app), C.LIVENESS_PROBE_FAILURE, f"pod/{ns}/{app.pods[0]}", ["Liveness probe failed"],
                  red_herring=bool(v.get("decoy")))


# --- readiness_probe_failure ----------------------------------------------------------------------------------------------

@family(
    dict(app="search-api", ns="discovery", mode="warming", alert="notready"),
    dict(app="reco", ns="ml", mode="service"),
    dict(app="es-data", ns="logging", mode="statefulset", alert="statefulset"),
    dict(app="quotes-grpc", ns="insurance", mode="grpc", alert="deployment", herring=True),
)
def readiness(c: Cluster, v: dict) -> Expect:
    ns, name = v["ns"], v["app"]
    c.neighbours(ns, 1)
    probe = {"httpGet": {"path": "/ready", "port": 8080}, "periodSeconds": 10}
    if v["mode"] == "grpc":
        probe = {"grpc": {"port": 50051}, "periodSeconds": 10}
    kind = "statefulset" if v["mode"] == "statefulset" else "deployment"
    app = c.app(ns, name, kind=kind, replicas=2, pods=[[Ctr(name, ready=False, readiness=probe, since=50)]] * 2)
    messages = {"warming": "Readiness probe failed: HTTP probe failed with statuscode: 503",
                "service": "Readiness probe failed: Get \"http://10.244.2.3:8080/ready\": context deadline exceeded",
                "statefulset": 'Readiness probe failed: {"timestamp": "2024-01-15T14:29:01", "message": "readiness probe failed", '
                               '"curl_rc": "7"}',
                "grpc": "Readiness probe failed: service unhealthy (responded with \"NOT_SERVING\")"}
    for p in app.pods:
        c.b.event(ns, "Pod", p, "Unhealthy", messages[v["mode"]], count=300, minutes_ago=0.2)
        c.b.logs(ns, p, L.startup("java" if v["mode"] != "grpc" else "go", name) + "INFO warming cache: 41% of 2.3M keys\n",
                 container=name)
    if v.get("herring"):  # an HPA at max for ANOTHER workload in the namespace
        other = c.app(ns, "quotes-web", replicas=4)
        c.b.hpa(ns, "quotes-web", "quotes-web", max_replicas=4, current=4, cpu_current=93)
        del other
    if v["mode"] == "service":
        alert = c.alert("ManualDiagnosis", {"cluster_id": "prod", "namespace": ns, "service": name}, scrape=None)
    else:
        alert = ksm_alert(c, v["alert"], app)
    return Expect(alert, C.READINESS_PROBE_FAILURE, app.any_pod, ["Readiness probe failed"],
                  red_herring=bool(v.get("herring")))
