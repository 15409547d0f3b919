"""Incidents whose cause is outside the alerted workload: dead dependencies (and their own causes), Services
that select nothing, NetworkPolicies, cluster DNS, missing names. Most are multi-hop."""

from __future__ import annotations

from tests.corpus import C, Expect, crashloop, family
from tests.corpus import logs as L
from tests.corpus.kit import App, Cluster, Ctr

# --- building blocks -----------------------------------------------------------------------------------------

DB_IMAGES = {"postgres": "docker.io/library/postgres:16.1", "mysql": "docker.io/library/mysql:8.0.36",
             "redis": "docker.io/bitnami/redis:7.2.4", "kafka": "docker.io/bitnami/kafka:3.6.1",
             "mongo": "docker.io/library/mongo:7.0.5", "mariadb": "docker.io/library/mariadb:11.2",
             "rabbitmq": "docker.io/library/rabbitmq:3.12-management"}


def backend(c: Cluster, ns: str, name: str, failure: str, *, port: int, db: str = "postgres",
            kind: str = "statefulset") -> tuple[App, str, list[str]]:
    """A dependency that is down, and why: returns the app, the deepest resource and what must be cited."""
    image = DB_IMAGES.get(db, f"registry.example.com/{ns}/{name}:2.3.1")
    cname = name if kind == "deployment" else db
    if failure == "disk_full":
        app = c.app(ns, name, kind="statefulset", replicas=1, port=port, image=image, container=cname, pvc_size="2Gi",
                    pods=[[crashloop(cname, code=1, image=image, restarts=9, ports=[port])]])
        c.b.logs(ns, app.pods[0], L.disk_full(db), container=cname, previous=True)
        cite = {"mysql": "error number 28", "redis": "disk"}.get(db, "No space left on device")
        return app, f"pvc/{ns}/data-{name}-0", [cite]
    if failure == "oom":
        app = c.app(ns, name, kind=kind, replicas=1, port=port, image=image, container=cname,
                    pods=[[crashloop(cname, code=137, reason="OOMKilled", image=image, limits={"memory": "256Mi"},
                                     ports=[port])]])
        return app, f"pod/{ns}/{app.pods[0]}", ["OOMKilled"]
    if failure == "config_crash":
        app = c.app(ns, name, kind=kind, replicas=1, port=port, image=image, container=cname,
                    pods=[[crashloop(cname, code=1, image=image, ports=[port])]])
        c.b.logs(ns, app.pods[0], 'LOG:  invalid value for parameter "shared_buffers": "4GBB"\n'
                 'FATAL:  configuration file "/var/lib/postgresql/data/postgresql.conf" contains errors\n',
                 container=cname, previous=True)
        return app, f"pod/{ns}/{app.pods[0]}", ["contains errors"]
    if failure == "panic":
        app = c.app(ns, name, kind="deployment", replicas=2, port=port, image=image,
                    pods=[[crashloop(name, code=2, image=image, ports=[port])], [crashloop(name, code=2, image=image, ports=[port])]])
        for p in app.pods:
            c.b.logs(ns, p, L.startup("go", name) + L.crash("go"), container=name, previous=True)
        return app, app.any_pod, ["nil pointer"]
    if failure == "pending_memory":
        app = c.app(ns, name, kind=kind, replicas=1, port=port, image=image, container=cname, nodes=[None],
                    pods=[[Ctr(cname, image=image, state="waiting", reason="", ready=False, requests={"memory": "48Gi"})]],
                    pod_phase=["Pending"])
        app_pod = c.b.ns_objects[ns]["pods"][-1]
        app_pod["status"]["conditions"][0].update({"status": "False", "reason": "Unschedulable"})
        c.scheduling_failed(ns, app.pods[0], f"0/{len(c.node_names)} nodes are available: {len(c.node_names)} Insufficient memory. "
                            f"preemption: 0/{len(c.node_names)} nodes are available: {len(c.node_names)} No preemption victims found for incoming pod.")
        return app, f"pod/{ns}/{app.pods[0]}", ["Insufficient memory"]
    if failure == "pending_cpu":
        app = c.app(ns, name, kind=kind, replicas=1, port=port, image=image, container=cname, nodes=[None],
                    pods=[[Ctr(cname, image=image, state="waiting", reason="", ready=False, requests={"cpu": "16"})]],
                    pod_phase=["Pending"])
        c.b.ns_objects[ns]["pods"][-1]["status"]["conditions"][0].update({"status": "False", "reason": "Unschedulable"})
        c.scheduling_failed(ns, app.pods[0], f"0/{len(c.node_names)} nodes are available: {len(c.node_names)} Insufficient cpu.")
        return app, f"pod/{ns}/{app.pods[0]}", ["Insufficient cpu"]
    if failure == "liveness":
        probe = {"tcpSocket": {"port": port}, "initialDelaySeconds": 5, "timeoutSeconds": 1, "failureThreshold": 3}
        app = c.app(ns, name, kind=kind, replicas=1, port=port, image=image, container=cname,
                    pods=[[crashloop(cname, code=137, image=image, liveness=probe, ports=[port])]])
        c.b.event(ns, "Pod", app.pods[0], "Unhealthy", f"Liveness probe failed: dial tcp 10.244.3.9:{port}: connect: connection refused",
                  count=18, minutes_ago=1.4)
        c.b.event(ns, "Pod", app.pods[0], "Killing", f"Container {cname} failed liveness probe, will be restarted",
                  type="Normal", count=6, minutes_ago=1.2)
        c.b.logs(ns, app.pods[0], "2024-01-15 14:28:40 0 [Note] Starting MariaDB 11.2.2 as process 1\n"
                 "2024-01-15 14:28:41 0 [Note] InnoDB: Starting crash recovery from checkpoint LSN=1828842\n",
                 container=cname, previous=True)
        return app, f"pod/{ns}/{app.pods[0]}", ["Liveness probe failed"]
    if failure == "image_pull":
        bad = image.rsplit(":", 1)[0] + ":16.2-bookworm-fixed"
        app = c.app(ns, name, kind=kind, replicas=1, port=port, image=bad, container=cname,
                    pods=[[Ctr(cname, image=bad, state="waiting", reason="ImagePullBackOff",
                               message=f'Back-off pulling image "{bad}"', ready=False)]])
        c.b.event(ns, "Pod", app.pods[0], "Failed", f'Failed to pull image "{bad}": rpc error: code = NotFound desc = '
                  f'failed to pull and unpack image "{bad}": failed to resolve reference "{bad}": not found', count=7)
        return app, f"pod/{ns}/{app.pods[0]}", ["ImagePullBackOff"]
    if failure == "pvc_class":
        app = c.app(ns, name, kind="statefulset", replicas=1, port=port, image=image, container=cname, nodes=[None],
                    pods=[[Ctr(cname, image=image, state="waiting", reason="", ready=False)]], pod_phase=["Pending"],
                    volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": f"data-{name}-0"}}])
        c.b.ns_objects[ns]["pods"][-1]["status"]["conditions"][0].update({"status": "False", "reason": "Unschedulable"})
        c.b.storageclass("standard", default=True)
        c.b.pvc(ns, f"data-{name}-0", phase="Pending", storage_class="premium-rwo")
        c.b.event(ns, "PersistentVolumeClaim", f"data-{name}-0", "ProvisioningFailed",
                  'storageclass.storage.k8s.io "premium-rwo" not found', count=40)
        c.scheduling_failed(ns, app.pods[0], f"0/{len(c.node_names)} nodes are available: pod has unbound immediate "
                            f"PersistentVolumeClaims. preemption: 0/{len(c.node_names)} nodes are available: "
                            f"{len(c.node_names)} Preemption is not helpful for scheduling.")
        return app, "storageclass/premium-rwo", ["premium-rwo"]
    raise ValueError(failure)


def client(c: Cluster, ns: str, name: str, lang: str, text: str, *, mode: str = "crash", env: dict | None = None,
           replicas: int = 2, kind: str = "deployment", port: int = 8080) -> App:
    """The alerted workload: crash-looping (the log of the last run), running unready, or a failed Job pod."""
    image = f"registry.example.com/{ns}/{name}:{c.rng.randint(1, 4)}.{c.rng.randint(0, 20)}.{c.rng.randint(0, 9)}"
    body = L.startup(lang, name) + text
    if mode == "crash":
        pods = [[crashloop(name, code=1, image=image, env=env, ports=[port], restarts=5 + i)] for i in range(replicas)]
        app = c.app(ns, name, kind=kind, replicas=replicas, image=image, pods=pods, port=port, env=env)
        for p in app.pods:
            c.b.logs(ns, p, body, container=name, previous=True)
            c.b.event(ns, "Pod", p, "BackOff", f"Back-off restarting failed container {name} in pod {p}_{ns}", count=40,
                      minutes_ago=0.8)
        return app
    if mode == "unready":
        probe = {"httpGet": {"path": "/ready", "port": port}, "periodSeconds": 10, "failureThreshold": 3}
        pods = [[Ctr(name, image=image, env=env, ready=False, readiness=probe, ports=[port], since=40)] for _ in range(replicas)]
        app = c.app(ns, name, kind=kind, replicas=replicas, image=image, pods=pods, port=port, env=env)
        for p in app.pods:
            c.b.logs(ns, p, body, container=name)
            c.b.event(ns, "Pod", p, "Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 503", count=120,
                      minutes_ago=0.3)
        return app
    raise ValueError(mode)


def ksm_alert(c: Cluster, alert: str, app: App, container: str | None = None, summary: str = "") -> dict:
    if alert == "pod":
        return c.alert("KubePodCrashLooping", {"namespace": app.ns, "pod": app.pods[0], "container": container or app.name,
                                               "reason": "CrashLoopBackOff", "uid": "6f1b7c2e-5b8e-4f7a-9d61-0b2c2f0a9e11"},
                       summary="Pod is crash looping.")
    if alert == "notready":  # sum by (namespace, pod, job, cluster): the other target labels are aggregated away
        return c.alert("KubePodNotReady", {"namespace": app.ns, "pod": app.pods[0]}, keep=("job",),
                       summary="Pod has been in a non-ready state for more than 15 minutes.")
    if alert == "deployment":
        return c.alert("KubeDeploymentReplicasMismatch", {"namespace": app.ns, "deployment": app.name},
                       summary="Deployment has not matched the expected number of replicas.")
    if alert == "statefulset":
        return c.alert("KubeStatefulSetReplicasMismatch", {"namespace": app.ns, "statefulset": app.name},
                       summary="StatefulSet has not matched the expected number of replicas.")
    raise ValueError(alert)


def unrelated_crasher(c: Cluster, ns: str) -> None:
    """A red herring: another workload in the namespace crash-looping for its own reason."""
    app = c.app(ns, "report-builder", replicas=1, pods=[[crashloop("report-builder", code=1, restarts=31)]])
    c.b.logs(ns, app.pods[0], L.crash("python"), container="report-builder", previous=True)


def decoy(c: Cluster, ns: str, kind: str) -> None:
    """Red herrings that must not win: something else that looks wrong, or looked wrong yesterday."""
    if kind == "crasher":
        unrelated_crasher(c, ns)
    elif kind == "other-hpa":
        c.app(ns, "frontend-edge", replicas=6)
        c.b.hpa(ns, "frontend-edge", "frontend-edge", max_replicas=6, current=6, cpu_current=98)
    elif kind == "pressure-elsewhere":
        node = c.add_node(c._node_name(11) if c.stack.provider != "kind" else "kind-worker12",
                          pressure={"DiskPressure": "kubelet has disk pressure"})
        c.b.event("default", "Node", node["metadata"]["name"], "EvictionThresholdMet", "Attempting to reclaim ephemeral-storage",
                  count=4, minutes_ago=6)
    elif kind == "stale-create":
        c.b.event(ns, "ReplicaSet", f"legacy-{c.hashed(ns, 10)}", "FailedCreate", 'Error creating: Internal error occurred: '
                  'failed calling webhook "validate.policy.example.com": context deadline exceeded', count=30,
                  minutes_ago=60 * 22)
    elif kind == "other-pvc":
        c.b.pvc(ns, "scratch-reports", phase="Pending", storage_class="does-not-exist")
        c.b.event(ns, "PersistentVolumeClaim", "scratch-reports", "ProvisioningFailed",
                  'storageclass.storage.k8s.io "does-not-exist" not found', count=90, minutes_ago=1)
    else:
        raise ValueError(kind)


# --- a dead dependency -----------------------------------------------------------------------------------------------

@family(
    dict(app="cart", ns="shop", lang="go", client="pgx", dep="sessions-db", dep_ns="data", db="postgres", port=5432,
         failure="disk_full", alert="pod", host="sessions-db.data"),
    dict(app="orders", ns="checkout", lang="java", client="pgjdbc", dep="orders-db", dep_ns="checkout", db="postgres",
         port=5432, failure="oom", alert="deployment", host="orders-db"),
    dict(app="billing-worker", ns="finance", lang="python", client="psycopg2", dep="ledger-pg", dep_ns="finance",
         db="postgres", port=5432, failure="config_crash", alert="deployment", host="ledger-pg", herring=True),
    dict(app="session-api", ns="web", lang="node", client="ioredis", dep="session-cache", dep_ns="web", db="redis",
         port=6379, failure="oom", alert="pod", host="session-cache", env={"REDIS_HOST": "session-cache", "REDIS_PORT": "6379"}),
    dict(app="storefront", ns="shop", lang="ruby", client="ruby-redis", dep="redis-master", dep_ns="shop", db="redis",
         port=6379, failure="disk_full", alert="deployment", host="redis-master"),
    dict(app="order-events", ns="streaming", lang="java", client="kafka-java", dep="kafka", dep_ns="streaming", db="kafka",
         port=9092, failure="disk_full", alert="pod", host="kafka", herring=True),
    dict(app="inventory", ns="warehouse", lang="go", client="go-mysql", dep="mysql", dep_ns="warehouse", db="mysql", port=3306,
         failure="pending_memory", alert="deployment", host="mysql"),
    dict(app="cms", ns="content", lang="php", client="pdo", dep="mariadb", dep_ns="content", db="mariadb", port=3306,
         failure="liveness", alert="pod", host="mariadb", env={"DB_HOST": "mariadb", "DB_PORT": "3306"}),
    dict(app="profile-svc", ns="accounts", lang="node", client="mongo-node", dep="mongo", dep_ns="data", db="mongo",
         port=27017, failure="disk_full", alert="deployment", host="mongo",
         env={"MONGO_URL": "mongodb://profile@mongo-0.mongo.data.svc.cluster.local:27017/profiles"},
         mention="mongo-0.mongo.data.svc.cluster.local"),
    dict(app="web-frontend", ns="shop", lang="go", client="grpc-go", dep="pricing", dep_ns="shop", db="grpc", port=50051,
         failure="panic", alert="deployment", host="pricing", dep_kind="deployment"),
    dict(app="mailer", ns="notify", lang="python", client="amqp-py", dep="rabbitmq", dep_ns="notify", db="rabbitmq",
         port=5672, failure="pvc_class", alert="pod", host="rabbitmq", env={"AMQP_URL": "amqp://mailer@rabbitmq:5672/%2f"}),
    dict(app="ledger-sync", ns="finance", lang="python", client="psycopg2", dep="warehouse-db", dep_ns="analytics",
         db="postgres", port=5432, failure="image_pull", alert="deployment", host="warehouse-db.analytics"),
)
def dependency_down(c: Cluster, v: dict) -> Expect:
    ns, dep_ns = v["ns"], v["dep_ns"]
    c.neighbours(ns, 2)
    _, deepest, cites = backend(c, dep_ns, v["dep"], v["failure"], port=v["port"], db=v["db"],
                                  kind=v.get("dep_kind", "statefulset"))
    ip = f"10.96.{c.rng.randint(1, 250)}.{c.rng.randint(2, 250)}"
    text = L.refused(v["client"], v["host"], v["port"], ip)
    app = client(c, ns, v["app"], v["lang"], text, env=v.get("env"))
    if v.get("herring"):
        unrelated_crasher(c, ns)
    return Expect(ksm_alert(c, v["alert"], app), C.DEPENDENCY_FAILURE, deepest,
                  [f"endpoints/{dep_ns}/{v['dep']}"] + cites, mentions=[f"{v.get('mention', v['host'])}:{v['port']}"],
                  multi_hop=True, red_herring=bool(v.get("herring")))


@family(
    dict(app="checkout-ui", ns="shop", lang="python", dep="cart-cache", db="redis", port=6379, failure="oom"),
    dict(app="quotes", ns="insurance", lang="java", dep="rates-db", db="postgres", port=5432, failure="disk_full"),
)
def dependency_down_unready(c: Cluster, v: dict) -> Expect:
    """The app does not crash: it stays unready because what it needs refuses connections."""
    ns = v["ns"]
    c.neighbours(ns, 1)
    _, deepest, cites = backend(c, ns, v["dep"], v["failure"], port=v["port"], db=v["db"])
    client_name = "redis-py" if v["db"] == "redis" else "pgjdbc"
    text = "".join(L.refused(client_name, v["dep"], v["port"], "10.96.44.12") for _ in range(3))
    app = client(c, ns, v["app"], v["lang"], text, mode="unready")
    return Expect(ksm_alert(c, "deployment", app), C.DEPENDENCY_FAILURE, deepest,
                  [f"endpoints/{ns}/{v['dep']}"] + cites, multi_hop=True)


@family(
    dict(app="payment-processor", ns="payments", mid="auth-service", dep="auth-redis", failure="disk_full"),
    dict(app="api-gateway", ns="edge", mid="token-service", dep="token-store", failure="oom"),
)
def dependency_cascade(c: Cluster, v: dict) -> Expect:
    """payment → auth (crash-looping: its redis refuses) → redis down: the deepest cause is two services away."""
    ns = v["ns"]
    c.neighbours(ns, 1)
    _, deepest, cites = backend(c, ns, v["dep"], v["failure"], port=6379, db="redis")
    client(c, ns, v["mid"], "go", L.refused("redis-py", v["dep"], 6379, "10.96.7.7").replace("redis.exceptions.", ""),
           port=9000)
    app = client(c, ns, v["app"], "java", L.timed_out("java-http", v["mid"], 9000, "10.96.8.8").replace("Connect timed out", "Connection refused"))
    return Expect(ksm_alert(c, "deployment", app), C.DEPENDENCY_FAILURE, deepest, [f"endpoints/{ns}/{v['dep']}"] + cites,
                  multi_hop=True)


@family(
    dict(app="orders-api", ns="shop", dep="postgres", failure="pending_cpu", cmd="until nc -z postgres 5432; do echo waiting for postgres; sleep 2; done"),
    dict(app="wiki", ns="docs", dep="wiki-db", failure="oom", cmd="until pg_isready -h wiki-db -p 5432; do sleep 3; done"),
)
def init_waits_for_dependency(c: Cluster, v: dict) -> Expect:
    ns = v["ns"]
    _, deepest, cites = backend(c, ns, v["dep"], v["failure"], port=5432)
    wait = Ctr("wait-for-db", image="docker.io/library/busybox:1.36", state="running", ready=False, since=35,
               command=["sh", "-c", v["cmd"]])
    app = c.app(ns, v["app"], replicas=1, init=[wait], pod_phase=["Pending"],
                pods=[[Ctr(v["app"], state="waiting", reason="PodInitializing", ready=False)]])
    c.b.logs(ns, app.pods[0], "waiting for db\n" * 12, container="wait-for-db")
    return Expect(ksm_alert(c, "notready", app), C.DEPENDENCY_FAILURE, deepest, [f"endpoints/{ns}/{v['dep']}"] + cites,
                  multi_hop=True)


@family(
    dict(job="nightly-export-28457160", ns="batch", dep="warehouse-db", dep_ns="analytics", failure="oom"),
    dict(job="invoice-run-28457220", ns="finance", dep="ledger", dep_ns="finance", failure="pending_memory"),
)
def job_dependency(c: Cluster, v: dict) -> Expect:
    ns = v["ns"]
    _, deepest, cites = backend(c, v["dep_ns"], v["dep"], v["failure"], port=5432)
    c.b.job(ns, v["job"], failed=7)
    obj = c.b.ns_objects[ns]["jobs"][-1]
    obj["spec"].update({"backoffLimit": 6, "completions": 1, "template": {"spec": {"restartPolicy": "Never"}}})
    obj["status"]["conditions"] = [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
                                    "message": "Job has reached the specified backoff limit"}]
    host = v["dep"] if v["dep_ns"] == ns else f"{v['dep']}.{v['dep_ns']}"
    for i in range(2):
        pod = f"{v['job']}-{c.hashed(v['job'] + str(i), 5)}"
        c.pod(ns, pod, [Ctr("export", state="terminated", reason="Error", exit_code=1, ready=False)], owner=("Job", v["job"]),
              node=c.node_for(i), phase="Failed")
        c.b.ns_objects[ns]["pods"][-1]["spec"]["restartPolicy"] = "Never"
        c.b.logs(ns, pod, L.startup("python", "export") + L.refused("psycopg2", host, 5432, "10.96.3.3"), container="export")
    c.b.event(ns, "Job", v["job"], "BackoffLimitExceeded", "Job has reached the specified backoff limit", minutes_ago=2)
    payload = c.alert("KubeJobFailed", {"namespace": ns, "job_name": v["job"], "condition": "true"},
                      summary="Job failed to complete.")
    return Expect(payload, C.DEPENDENCY_FAILURE, deepest, [f"endpoints/{v['dep_ns']}/{v['dep']}"] + cites, multi_hop=True)


# --- a Service that selects nothing ------------------------------------------------------------------------------

@family(
    dict(app="frontend", ns="ns-76", backend="backend", sel={"app": "backend", "version": "v2"}, pods={"app": "backend", "version": "v1"},
         via="dependency"),
    dict(app="storefront", ns="retail", backend="inventory-api", sel={"app.kubernetes.io/name": "inventory"},
         pods={"app.kubernetes.io/name": "inventory-api"}, via="dependency", env={"INVENTORY_URL": "http://inventory-api:8080"}),
    dict(app="payments", ns="pay", backend="payments", sel={"app": "payments", "tier": "api"}, pods={"app": "payments", "tier": "backend"},
         via="manual"),
    dict(app="search", ns="discovery", backend="search", sel={"app": "search-svc"}, pods={"app": "search"}, via="targetdown"),
)
def selector_mismatch(c: Cluster, v: dict) -> Expect:
    ns, be = v["ns"], v["backend"]
    c.neighbours(ns, 1)
    be_app = c.app(ns, be if v["via"] != "manual" else be + "-api", replicas=2, labels=v["pods"], service=False)
    svc = c.b.service(ns, be, v["sel"], port=8080)
    svc["spec"]["clusterIP"] = "10.96.120.7"
    c.endpoints_for(ns, be, [])
    deepest = f"service/{ns}/{be}"
    if v["via"] == "dependency":
        app = client(c, ns, v["app"], "node", L.refused("ioredis", be, 8080, "10.96.120.7") if v.get("env")
                     else f"Error: connect ECONNREFUSED {be}:8080\n", env=v.get("env"))
        return Expect(ksm_alert(c, "deployment", app), C.SERVICE_SELECTOR_MISMATCH, deepest,
                      [f"{deepest}/spec.selector"], multi_hop=True)
    if v["via"] == "manual":
        payload = c.alert("ManualDiagnosis", {"cluster_id": "prod", "namespace": ns, "service": be}, scrape=None)
    else:
        payload = c.alert("TargetDown", {"job": be, "namespace": ns, "service": be}, scrape=None,
                          summary="One or more targets are unreachable.")
    del be_app
    return Expect(payload, C.SERVICE_SELECTOR_MISMATCH, deepest, [f"{deepest}/spec.selector", "metadata.labels"])


# --- a NetworkPolicy in the way ---------------------------------------------------------------------------------------

@family(
    dict(app="frontend", ns="namespace-84", backend="backend", lang="go", client="go-http", mode="unready"),
    dict(app="order-router", ns="orders", backend="stock", backend_ns="warehouse", lang="java", client="java-http", mode="crash"),
)
def netpol_blocks_dependency(c: Cluster, v: dict) -> Expect:
    ns, be_ns = v["ns"], v.get("backend_ns", v["ns"])
    be = c.app(be_ns, v["backend"], replicas=2, labels={"app": v["backend"], "tier": "backend"})
    ingress = [{"from": [{"podSelector": {"matchLabels": {"tier": "backend"}}}], "ports": [{"port": 8080, "protocol": "TCP"}]}]
    if be_ns != ns:
        ingress = [{"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "logistics"}}}]}]
    c.b.networkpolicy(be_ns, f"{v['backend']}-ingress", pod_selector={"app": v["backend"]}, ingress=ingress)
    host = v["backend"] if be_ns == ns else f"{v['backend']}.{be_ns}.svc.cluster.local"
    text = L.timed_out(v["client"], host, 8080, "10.96.55.5")
    app = client(c, ns, v["app"], v["lang"], text, mode=v["mode"])
    del be
    return Expect(ksm_alert(c, "deployment", app), C.DEPENDENCY_FAILURE, f"networkpolicy/{be_ns}/{v['backend']}-ingress",
                  ["timed out" if v["client"] == "java-http" else "i/o timeout"], multi_hop=True)


@family(
    dict(app="checkout", ns="shop", host="api.payments-provider.example.com", port=443),
)
def external_dependency(c: Cluster, v: dict) -> Expect:
    c.neighbours(v["ns"], 1)
    text = (f"{L.T} ERROR payment provider unreachable: Post \"https://{v['host']}/v2/charges\": dial tcp 203.0.113.10:443: "
            f"i/o timeout (host {v['host']}:{v['port']})\n")
    app = client(c, v["ns"], v["app"], "go", text)
    return Expect(ksm_alert(c, "pod", app), C.DEPENDENCY_FAILURE, app.any_pod, [v["host"]])


# --- cluster DNS ------------------------------------------------------------------------------------------------------

COREDNS_FAILURES = {
    "loop": ("crash", '[FATAL] plugin/loop: Loop (127.0.0.1:51243 -> :53) detected for zone ".", see '
             'https://coredns.io/plugins/loop#troubleshooting. Query: "HINFO 4547991504243258144.3688648895315093531."\n',
             "Loop"),
    "oom": ("oom", "", "OOMKilled"),
    "corefile": ("crash", "/etc/coredns/Corefile:12 - Error during parsing: Unknown directive 'forwardd'\n", "Unknown directive"),
    "api": ("unready", '[INFO] plugin/ready: Still waiting on: "kubernetes"\n[ERROR] plugin/kubernetes: '
            'pkg/mod/k8s.io/client-go@v0.27.4/tools/cache/reflector.go:231: Failed to watch *v1.EndpointSlice: failed to list '
            '*v1.EndpointSlice: Get "https://10.96.0.1:443/apis/discovery.k8s.io/v1/endpointslices?limit=500": dial tcp '
            '10.96.0.1:443: i/o timeout\n', "Readiness probe failed"),
}


def break_dns(c: Cluster, failure: str) -> str:
    """Make every cluster DNS pod fail the same way; returns what must be cited."""
    mode, text, cite = COREDNS_FAILURES[failure]
    ks = c.b.ns_objects["kube-system"]["pods"]
    for pod in [p for p in ks if (p["metadata"].get("labels") or {}).get("k8s-app") == "kube-dns"]:
        name = pod["metadata"]["name"]
        cname = pod["spec"]["containers"][0]["name"]
        st = pod["status"]["containerStatuses"][0]
        pod["status"]["conditions"][1]["status"] = "False"
        if mode == "crash" or mode == "oom":
            st.update({"ready": False, "restartCount": 14,
                       "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s restarting failed container"}},
                       "lastState": {"terminated": {"reason": "OOMKilled" if mode == "oom" else "Error",
                                                    "exitCode": 137 if mode == "oom" else 1,
                                                    "startedAt": "2024-01-15T14:28:01Z", "finishedAt": "2024-01-15T14:29:20Z"}}})
            pod["spec"]["containers"][0]["resources"] = {"limits": {"memory": "170Mi"}, "requests": {"cpu": "100m", "memory": "70Mi"}}
            if text:
                c.b.logs("kube-system", name, ".:53\n[INFO] plugin/reload: Running configuration SHA512 = 591cf3\nCoreDNS-1.11.1\n"
                         + text, container=cname, previous=True)
        else:
            st.update({"ready": False, "restartCount": 0, "state": {"running": {"startedAt": "2024-01-15T13:58:00Z"}}})
            pod["spec"]["containers"][0]["readinessProbe"] = {"httpGet": {"path": "/ready", "port": 8181}}
            c.b.logs("kube-system", name, text * 3, container=cname)
            c.b.event("kube-system", "Pod", name, "Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 503",
                      count=180, minutes_ago=0.4)
    c.endpoints_for("kube-system", "kube-dns", [])
    return cite


@family(
    dict(app="shipping", ns="logistics", lang="go", failure="loop", alert="pod", host="rates.logistics"),
    dict(app="notifier", ns="comms", lang="node", failure="oom", alert="deployment", host="smtp-relay"),
    dict(app="quote-engine", ns="insurance", lang="java", failure="corefile", alert="pod", host="rates-db", herring=True),
    dict(app="fx-rates", ns="treasury", lang="python", failure="api", alert="deployment", host="ecb-proxy"),
    dict(app="reporting", ns="bi", lang="dotnet", failure="loop", alert="deployment", host="warehouse"),
)
def coredns_down(c: Cluster, v: dict) -> Expect:
    ns = v["ns"]
    c.neighbours(ns, 2)
    cite = break_dns(c, v["failure"])
    app = client(c, ns, v["app"], v["lang"], L.dns_timeout(v["lang"], v["host"],
                                                           "10.96.0.10:53" if c.stack.provider != "gke" else "10.52.0.10:53"))
    if v.get("herring"):
        unrelated_crasher(c, ns)
    dns_pod = next(p for p in c.dns.pods)
    return Expect(ksm_alert(c, v["alert"], app), C.DNS_FAILURE, f"pod/kube-system/{dns_pod[:len(c.dns.name)]}",
                  ["endpoints/kube-system/kube-dns", cite], multi_hop=True, red_herring=bool(v.get("herring")))


@family(
    dict(app="ledger", ns="namespace-15", lang="ruby", policy="default-deny-egress", egress=[]),
    dict(app="claims", ns="insurance", lang="dotnet", policy="egress-same-namespace",
         egress=[{"to": [{"podSelector": {}}]}]),
)
def dns_blocked_by_netpol(c: Cluster, v: dict) -> Expect:
    ns = v["ns"]
    c.b.networkpolicy(ns, v["policy"], pod_selector={}, egress=v["egress"])
    app = client(c, ns, v["app"], v["lang"], L.dns_timeout(v["lang"], "payments.internal.example.com"))
    return Expect(ksm_alert(c, "deployment", app), C.DNS_FAILURE, f"networkpolicy/{ns}/{v['policy']}",
                  ["name resolution" if v["lang"] == "ruby" else "Resource temporarily unavailable"], multi_hop=True)


@family(
    dict(app="notifier", ns="shop", lang="go", host="orders-db", decoy="crasher"),
    dict(app="billing", ns="finance", lang="python", host="billing-postgres"),
)
def dns_name_missing(c: Cluster, v: dict) -> Expect:
    c.neighbours(v["ns"], 1)
    if v.get("decoy"):
        decoy(c, v["ns"], v["decoy"])
    app = client(c, v["ns"], v["app"], v["lang"], L.dns_not_found(v["lang"], v["host"]), replicas=1)
    return Expect(ksm_alert(c, "pod", app), C.DNS_FAILURE, f"service/{v['ns']}/{v['host']}",
                  [f"service/{v['ns']}/{v['host']}"], multi_hop=True, red_herring=bool(v.get("decoy")))


@family(
    dict(job="get-data", ns="default", host="kldsvklnsdiogjerkngernjk23432i90erfefjio.com", sa="get-data-sa"),
)
def job_external_name(c: Cluster, v: dict) -> Expect:
    """A Job that first could not create pods (missing service account, since fixed) and then fails resolving an
    external name: the old FailedCreate is a red herring."""
    ns = v["ns"]
    c.b.job(ns, v["job"], failed=1)
    obj = c.b.ns_objects[ns]["jobs"][-1]
    obj["spec"]["completions"] = 1
    obj["status"]["conditions"] = [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}]
    c.b.event(ns, "Job", v["job"], "FailedCreate", f'Error creating: pods "{v["job"]}-" is forbidden: error looking up service '
              f'account {ns}/{v["sa"]}: serviceaccount "{v["sa"]}" not found', count=3, minutes_ago=9)
    c.b.event(ns, "Job", v["job"], "SuccessfulCreate", f"Created pod: {v['job']}-x7k2p", type="Normal", minutes_ago=7)
    pod = f"{v['job']}-x7k2p"
    c.pod(ns, pod, [Ctr("curl", image="docker.io/curlimages/curl:8.5.0", state="terminated", reason="Error", exit_code=6,
                        ready=False)], owner=("Job", v["job"]), node=c.node_for(0), phase="Failed")
    c.b.logs(ns, pod, L.dns_not_found("curl", v["host"]), container="curl")
    payload = c.alert("KubeJobFailed", {"namespace": ns, "job_name": v["job"], "condition": "true"})
    return Expect(payload, C.DNS_FAILURE, f"pod/{ns}/{pod}", ["Could not resolve host", "kube-dns"], red_herring=True)


@family(dict(app="api", ns="platform", lang="go"))
def nodelocal_dns_down(c: Cluster, v: dict) -> Expect:
    ns = v["ns"]
    node = c.node_names[0]
    pods = c.daemon("kube-system", "node-local-dns", {"k8s-app": "node-local-dns"}, "registry.k8s.io/dns/k8s-dns-node-cache:1.22.28")
    broken = pods[0]
    for p in c.b.ns_objects["kube-system"]["pods"]:
        if p["metadata"]["name"] == broken:
            p["status"]["conditions"][1]["status"] = "False"
            p["status"]["containerStatuses"][0].update({
                "ready": False, "restartCount": 22,
                "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                "lastState": {"terminated": {"reason": "Error", "exitCode": 1, "finishedAt": "2024-01-15T14:29:10Z"}}})
    c.b.logs("kube-system", broken, "2024/01/15 14:29:09 [FATAL] Error setting up networking: failed to add IPTables rule: "
             "iptables: Resource temporarily unavailable.\n", container="node-local-dns", previous=True)
    app = client(c, ns, v["app"], "go", L.dns_timeout("go", "vault.platform", "169.254.20.10:53"), replicas=1)
    c.b.ns_objects[ns]["pods"][-1]["spec"]["nodeName"] = node
    return Expect(ksm_alert(c, "pod", app), C.DNS_FAILURE, f"pod/kube-system/{broken}", ["169.254.20.10:53"], multi_hop=True)


@family(dict(app="web", ns="shop", backend="catalog-api", port=80, target=8080, listen=9090))
def service_port_mismatch(c: Cluster, v: dict) -> Expect:
    """The backend runs and is ready, but its Service forwards to a port nobody listens on."""
    ns = v["ns"]
    be = c.app(ns, v["backend"], replicas=2, port=v["listen"], service=False)
    svc = c.b.service(ns, v["backend"], be.labels, port=v["port"])
    svc["spec"]["ports"] = [{"name": "http", "port": v["port"], "targetPort": v["target"], "protocol": "TCP"}]
    c.endpoints_for(ns, v["backend"], be.pods)
    app = client(c, ns, v["app"], "node", f"Error: connect ECONNREFUSED {v['backend']}:{v['port']}\n")
    return Expect(ksm_alert(c, "deployment", app), C.DEPENDENCY_FAILURE, f"service/{ns}/{v['backend']}",
                  [f"targetPort {v['target']}"], multi_hop=True)
