"""Held-out set b1: 44 incidents rebuilt from public investigation cases and failure reports, plus a few
composed from on-call experience. Frozen once committed: never edit an incident after its run was seen
(see README.md)."""

from __future__ import annotations

from dataclasses import replace

from tests.heldout.kit import C, Cluster, Registry, alert, crashloop, healthy_log, logtime, ts

R = Registry("b1")
HOLMES = "https://github.com/robusta-dev/holmesgpt/tree/master/tests/llm/fixtures/test_ask_holmes/"
ECR = "123456789012.dkr.ecr.us-east-1.amazonaws.com"


def probe_http(path: str, port: int | str, **kw) -> dict:
    return {"httpGet": {"path": path, "port": port, "scheme": "HTTP"}, **kw}


def spring_start(app: str, port: int, minutes_ago: float, version: str = "3.2.5") -> str:
    t = lambda d: logtime(minutes_ago - d)  # noqa: E731
    return (f"\n  .   ____          _            __ _ _\n /\\\\ / ___'_ __ _ _(_)_ __  __ _ \\ \\ \\ \\\n"
            f"( ( )\\___ | '_ | '_| | '_ \\/ _` | \\ \\ \\ \\\n \\\\/  ___)| |_)| | | | | || (_| |  ) ) ) )\n"
            f"  '  |____| .__|_| |_|_| |_\\__, | / / / /\n =========|_|==============|___/=/_/_/_/\n\n :: Spring Boot ::                ({version})\n\n"
            f"{t(0)}  INFO 1 --- [{app}] [           main] c.a.{app.replace('-', '')}.Application : Starting Application v4.12.0 using Java 21.0.3 with PID 1 (/app/app.jar started by app in /app)\n"
            f"{t(0.01)}  INFO 1 --- [{app}] [           main] c.a.{app.replace('-', '')}.Application : The following 1 profile is active: \"prod\"\n"
            f"{t(0.12)}  INFO 1 --- [{app}] [           main] o.s.b.w.embedded.tomcat.TomcatWebServer  : Tomcat initialized with port {port} (http)\n"
            f"{t(0.2)}  INFO 1 --- [{app}] [           main] com.zaxxer.hikari.HikariDataSource       : HikariPool-1 - Starting...\n"
            f"{t(0.21)}  INFO 1 --- [{app}] [           main] com.zaxxer.hikari.pool.HikariPool        : HikariPool-1 - Added connection org.postgresql.jdbc.PgConnection@5f0e9815\n"
            f"{t(0.3)}  INFO 1 --- [{app}] [           main] o.s.b.w.embedded.tomcat.TomcatWebServer  : Tomcat started on port {port} (http) with context path ''\n"
            f"{t(0.31)}  INFO 1 --- [{app}] [           main] c.a.{app.replace('-', '')}.Application : Started Application in 17.412 seconds (process running for 18.903)\n")


# ================================================================================================ oom_killed
@R("01", title="Spring Boot payment API OOMKilled: -Xmx1024m above a 768Mi limit", category="oom_killed",
   deepest="pod/payments/payment-api-7d4b9c6f8-q2x7m", alt_deepest=["pod/payments/payment-api-7d4b9c6f8-h5vnz"],
   evidence=[["OOMKilled"]], chain="payment-api pod restarts → last state OOMKilled (exit 137) → heap -Xmx1024m exceeds the 768Mi container limit",
   multi_hop=False, red_herrings=["HPA of another workload (catalog) at its maximum in the same namespace"],
   stack="Java/Spring Boot", platform="EKS 1.29 containerd", source=HOLMES + "17_oom_kill")
def b1_01():
    c = Cluster("b1-01", "eks", "1.29.4")
    c.neighbours("payments", "java", n=2)
    c.hpa("payments", "catalog", "catalog", 2, 2, 2, cpu_target=75, cpu_now=88)
    app = C("payment-api", f"{ECR}/payment-api:4.12.0", ports=[("http", 8080)], stack="java",
            env={"JAVA_OPTS": "-Xms512m -Xmx1024m -XX:+UseG1GC", "SPRING_PROFILES_ACTIVE": "prod"},
            requests={"cpu": "500m", "memory": "768Mi"}, limits={"memory": "768Mi"},
            readiness=probe_http("/actuator/health/readiness", "http"), liveness=probe_http("/actuator/health/liveness", "http", initialDelaySeconds=60))
    oom = {"exitCode": 137, "reason": "OOMKilled"}
    c.deployment("payments", "payment-api", [app], replicas=3, rs_hash="7d4b9c6f8", service=[("http", 80, "http")], pods=[
        {"suffix": "q2x7m", "c": {"payment-api": vars(crashloop(app, "OOMKilled", 137, 7, ago=1.2, ran=2.4)) | {}}},
        {"suffix": "h5vnz", "c": {"payment-api": {"restarts": 4, "last": {**oom, "ago": 6, "ran": 5}, "started_ago": 6}}},
        {"suffix": "w8kdl"}])
    pod = "payment-api-7d4b9c6f8-q2x7m"
    run = spring_start("payment-api", 8080, 3.6) + "".join(
        f"{logtime(3.2 - i * 0.25)}  INFO 1 --- [payment-api] [nio-8080-exec-{i + 1}] c.a.payments.settlement.BatchLoader : loaded settlement batch {4410 + i} ({18000 + i * 950} records)\n"
        for i in range(8))
    c.log("payments", pod, "payment-api", run, previous=run)
    c.event("payments", "Pod", pod, "BackOff", f"Back-off restarting failed container payment-api in pod {pod}_payments(x)", count=31, last=0.4, first=40,
            host=c.workers[0], field="spec.containers{payment-api}")
    c.event("payments", "Pod", pod, "Pulled", f'Container image "{ECR}/payment-api:4.12.0" already present on machine', type="Normal", count=8,
            last=3.7, first=40, host=c.workers[0], field="spec.containers{payment-api}")
    c.event("payments", "HorizontalPodAutoscaler", "catalog", "DesiredReplicasComputed", "computed 3 replicas, capped at maxReplicas 2", type="Normal",
            source="horizontal-pod-autoscaler", count=12, last=2, api="autoscaling/v2")
    return c, alert(c, "KubePodCrashLooping", {"namespace": "payments", "pod": pod, "container": "payment-api", "reason": "CrashLoopBackOff",
                                               "uid": c.pods[("payments", pod)]["metadata"]["uid"]}, starts_ago=12)


@R("02", title="Node.js report worker OOMKilled under a deployment replica-mismatch alert", category="oom_killed",
   deepest="pod/reporting/report-worker-5c8f7b6d4-m2qzt", alt_deepest=["pod/reporting/report-worker-5c8f7b6d4-t7xkc"],
   evidence=[["OOMKilled"]], chain="deployment report-worker 2/3 available → pod m2qzt in back-off, last state OOMKilled; max-old-space-size 2048 over a 1Gi limit",
   multi_hop=False, red_herrings=["stale FailedScheduling (Insufficient cpu) events from 5 h ago for a pod that no longer exists",
                                  "old readiness warnings from 3 h ago"],
   stack="Node.js", platform="EKS 1.28 containerd", source="composed from experience (Node heap flag above the cgroup limit)")
def b1_02():
    c = Cluster("b1-02", "eks", "1.28.9")
    c.neighbours("reporting", "node", n=2)
    app = C("report-worker", f"{ECR}/report-worker:2.7.3", stack="node", ports=[("metrics", 9464)],
            env={"NODE_OPTIONS": "--max-old-space-size=2048", "QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/report-jobs"},
            requests={"cpu": "250m", "memory": "1Gi"}, limits={"cpu": "1", "memory": "1Gi"})
    c.deployment("reporting", "report-worker", [app], replicas=3, rs_hash="5c8f7b6d4", pods=[
        {"suffix": "m2qzt", "c": {"report-worker": vars(crashloop(app, "OOMKilled", 137, 9, ago=0.8, ran=4))}},
        {"suffix": "t7xkc", "c": {"report-worker": {"restarts": 5, "last": {"exitCode": 137, "reason": "OOMKilled", "ago": 7, "ran": 11}, "started_ago": 7}}},
        {"suffix": "b9wvd"}])
    pod = "report-worker-5c8f7b6d4-m2qzt"
    lines = "".join('{"level":30,"time":%d,"pid":1,"hostname":"%s","job":"rpt-%d","rows":%d,"msg":"aggregating quarterly report"}\n'
                    % (1748943000000 + i * 21000, pod, 88120 + i, 250000 * (i + 1)) for i in range(9))
    c.log("reporting", pod, "report-worker", '{"level":30,"time":1748942900000,"pid":1,"hostname":"%s","msg":"worker started, polling report-jobs"}\n' % pod + lines)
    c.event("reporting", "Pod", pod, "BackOff", f"Back-off restarting failed container report-worker in pod {pod}_reporting(x)", count=44, last=0.3, first=55,
            host=c.workers[0], field="spec.containers{report-worker}")
    c.event("reporting", "Pod", "report-worker-5c8f7b6d4-zz8hn", "FailedScheduling",
            "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.",
            count=6, last=60 * 5, first=60 * 5 + 9, source="default-scheduler")
    c.event("reporting", "Pod", "report-worker-5c8f7b6d4-b9wvd", "Unhealthy", "Readiness probe failed: Get \"http://10.244.2.31:9464/metrics\": dial tcp 10.244.2.31:9464: connect: connection refused",
            count=3, last=60 * 3, first=60 * 3 + 1, host=c.workers[2], field="spec.containers{report-worker}")
    return c, alert(c, "KubeDeploymentReplicasMismatch", {"namespace": "reporting", "deployment": "report-worker"}, starts_ago=9)


# ================================================================================================ application_crash
@R("03", title="Python worker exits on a missing DEPLOY_ENV variable, noisy istio sidecar", category="application_crash",
   deepest="pod/app-09/payment-processing-worker-6958c5bdd8-69gtn", evidence=[["DEPLOY_ENV"]],
   chain="payment-processing-container exits 1 → KeyError: 'DEPLOY_ENV' (variable not set in the pod spec)",
   multi_hop=False, red_herrings=["healthy istio-proxy sidecar logging gRPC config stream warnings"],
   stack="Python", platform="EKS 1.30 containerd", source=HOLMES + "09_crashpod")
def b1_03():
    c = Cluster("b1-03", "eks", "1.30.2")
    c.neighbours("app-09", "python", n=2, sidecar="istio")
    app = C("payment-processing-container", f"{ECR}/payment-processing-worker:1.9.0", stack="python",
            command=["python", "/app/worker.py"], env={"QUEUE": "payments"}, requests={"cpu": "100m", "memory": "128Mi"})
    side = C("istio-proxy", "docker.io/istio/proxyv2:1.22.1", stack="envoy", ports=[("http-envoy-prom", 15090)],
             requests={"cpu": "10m", "memory": "40Mi"})
    c.deployment("app-09", "payment-processing-worker", [app, side], replicas=1, rs_hash="6958c5bdd8",
                 pods=[{"suffix": "69gtn", "c": {"payment-processing-container": vars(crashloop(app, "Error", 1, 12, ago=1.5))}}],
                 annotations={"sidecar.istio.io/status": '{"initContainers":["istio-init"],"containers":["istio-proxy"]}'})
    pod = "payment-processing-worker-6958c5bdd8-69gtn"
    c.log("app-09", pod, "payment-processing-container",
          "Traceback (most recent call last):\n  File \"/app/worker.py\", line 14, in <module>\n    DEPLOY_ENV = os.environ[\"DEPLOY_ENV\"]\n"
          "                 ~~~~~~~~~~^^^^^^^^^^^^^^\n  File \"<frozen os>\", line 714, in __getitem__\nKeyError: 'DEPLOY_ENV'\n")
    c.log("app-09", pod, "istio-proxy", healthy_log("envoy", "istio-proxy", lines=10) +
          f"{logtime(2)}\twarning\tenvoy config external/envoy/source/common/config/grpc_stream.h:191\tStreamSecrets gRPC config stream to sds-grpc closed: 2, \tthread=14\n")
    c.event("app-09", "Pod", pod, "BackOff", f"Back-off restarting failed container payment-processing-container in pod {pod}_app-09(x)",
            count=58, last=0.5, first=48, host=c.workers[0], field="spec.containers{payment-processing-container}")
    return c, alert(c, "KubePodCrashLooping", {"namespace": "app-09", "pod": pod, "container": "payment-processing-container",
                                               "reason": "CrashLoopBackOff", "uid": c.pods[("app-09", pod)]["metadata"]["uid"]}, starts_ago=30)


@R("04", title="Go service panics (nil pointer) in a new revision; its database is healthy", category="application_crash",
   deepest="pod/inventory/inventory-api-7c6d4b9f8-r4zkp", evidence=[["nil pointer dereference", "SIGSEGV", "panic"]],
   chain="rollout of inventory-api stuck → new ReplicaSet 7c6d4b9f8's pod exits 2 → panic: nil pointer dereference in cache warmer (the DB it logs is healthy)",
   multi_hop=False, red_herrings=["old-revision pod with 2 restarts from two days ago, now healthy",
                                  "log line names a healthy PostgreSQL Service"],
   stack="Go", platform="GKE 1.30 containerd", source="https://github.com/kubernetes/kubernetes/issues (ProgressDeadlineExceeded rollouts); composed from experience")
def b1_04():
    c = Cluster("b1-04", "gke", "1.30.5")
    c.neighbours("inventory", "go", n=1)
    c.statefulset("inventory", "inventory-db", [C("postgres", "postgres:16.3", ports=[("tcp-postgresql", 5432)], stack="postgres",
                                                  requests={"cpu": "250m", "memory": "1Gi"})], replicas=1, storage_class="standard-rwo",
                  claims=[("data", "/var/lib/postgresql/data", "20Gi")], service=[("tcp-postgresql", 5432, "tcp-postgresql")])
    base = dict(ports=[("http", 8080)], stack="go", requests={"cpu": "200m", "memory": "256Mi"}, limits={"memory": "512Mi"},
                env={"DB_HOST": "inventory-db.inventory.svc", "DB_PORT": "5432"}, readiness=probe_http("/readyz", "http"))
    new = C("inventory-api", "europe-docker.pkg.dev/acme-prod/apps/inventory-api:v2.31.0", **base)
    old = C("inventory-api", "europe-docker.pkg.dev/acme-prod/apps/inventory-api:v2.30.4", **base)
    cond = [{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable", "message": "Deployment has minimum availability.",
             "lastUpdateTime": ts(60 * 24 * 3), "lastTransitionTime": ts(60 * 24 * 3)},
            {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
             "message": 'ReplicaSet "inventory-api-7c6d4b9f8" has timed out progressing.', "lastUpdateTime": ts(14), "lastTransitionTime": ts(14)}]
    c.deployment("inventory", "inventory-api", [new], replicas=3, revision=8, rs_hash="7c6d4b9f8", rolled_ago=25, conditions=cond,
                 service=[("http", 80, "http")],
                 pods=[{"suffix": "r4zkp", "c": {"inventory-api": vars(crashloop(new, "Error", 2, 9, ago=0.7, ran=0.05))}}],
                 old_rs={"hash": "5f9b8c7d6", "replicas": 3, "containers": [old],
                         "pods": [{"suffix": "kq2lx", "c": {"inventory-api": {"restarts": 2, "last": {"exitCode": 2, "reason": "Error", "ago": 60 * 50},
                                                                              "started_ago": 60 * 50}}}, {"suffix": "p8nvd"}, {"suffix": "z5tgh"}]})
    pod = "inventory-api-7c6d4b9f8-r4zkp"
    c.log("inventory", pod, "inventory-api",
          '{"level":"info","ts":"%s","caller":"inventory-api/main.go:61","msg":"starting inventory-api","version":"v2.31.0","commit":"9f1c2ab"}\n'
          '{"level":"info","ts":"%s","caller":"db/pool.go:44","msg":"connected to postgres","host":"inventory-db.inventory.svc:5432","pool_max":20}\n'
          "panic: runtime error: invalid memory address or nil pointer dereference\n"
          "[signal SIGSEGV: segmentation violation code=0x1 addr=0x28 pc=0x9c4b12]\n\n"
          "goroutine 1 [running]:\ngithub.com/acme/inventory/internal/cache.(*Warmer).Start(0x0, {0xc4e2d0, 0xc000124000})\n"
          "\t/src/internal/cache/warmer.go:57 +0x32\nmain.main()\n\t/src/cmd/inventory-api/main.go:112 +0x6c5\n" % (logtime(0.8), logtime(0.79)))
    c.event("inventory", "Pod", pod, "BackOff", f"Back-off restarting failed container inventory-api in pod {pod}_inventory(x)", count=37, last=0.6, first=24,
            host=c.workers[1], field="spec.containers{inventory-api}")
    c.event("inventory", "Deployment", "inventory-api", "ScalingReplicaSet", "Scaled up replica set inventory-api-7c6d4b9f8 to 1", type="Normal",
            last=25, source="deployment-controller", api="apps/v1")
    return c, alert(c, "KubeDeploymentRolloutStuck", {"namespace": "inventory", "deployment": "inventory-api", "condition": "Progressing",
                                                      "status": "false"}, starts_ago=3)


# ================================================================================================ missing_config
@R("05", title="Database pod cannot start: referenced Secret database-secret does not exist", category="missing_config",
   deepest="pod/namespace-83/database-6b8c9d7f5-x4wqj", evidence=[['secret "database-secret" not found', "database-secret"]],
   chain="container postgres waiting CreateContainerConfigError → env POSTGRES_PASSWORD from secret database-secret, which does not exist",
   multi_hop=False, stack="PostgreSQL", platform="on-prem kubeadm 1.29 containerd", source=HOLMES + "83_secret_not_found")
def b1_05():
    c = Cluster("b1-05", "onprem", "1.29.6")
    c.neighbours("namespace-83", "python", n=1)
    c.secret("namespace-83", "db-credentials", ["username", "password"])
    pg = C("postgres", "postgres:16.3", ports=[("postgres", 5432)], stack="postgres",
           env_refs=[{"name": "POSTGRES_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "database-secret", "key": "password"}}}],
           requests={"cpu": "250m", "memory": "512Mi"})
    c.deployment("namespace-83", "database", [pg], replicas=1, rs_hash="6b8c9d7f5", rolled_ago=70, created_ago=70,
                 pods=[{"suffix": "x4wqj", "c": {"postgres": {"state": "waiting", "reason": "CreateContainerConfigError",
                                                              "message": 'secret "database-secret" not found'}}}],
                 service=[("postgres", 5432, "postgres")])
    pod = "database-6b8c9d7f5-x4wqj"
    c.event("namespace-83", "Pod", pod, "Failed", 'Error: secret "database-secret" not found', count=322, last=0.2, first=70,
            host=c.workers[0], field="spec.containers{postgres}")
    c.event("namespace-83", "Pod", pod, "Pulled", 'Container image "postgres:16.3" already present on machine', type="Normal", count=322, last=0.2,
            first=70, host=c.workers[0], field="spec.containers{postgres}")
    return c, alert(c, "KubeContainerWaiting", {"namespace": "namespace-83", "pod": pod, "container": "postgres"}, target=None, starts_ago=6)


@R("06", title="App server stuck in ContainerCreating: ConfigMap volume app-config does not exist", category="missing_config",
   deepest="pod/namespace-79/app-server-5d7f8c9b6-fn2kw", evidence=[['configmap "app-config" not found', "app-config"]],
   chain="pod Pending/ContainerCreating → FailedMount: volume config-volume refers to configmap app-config, which does not exist (app-server-config does)",
   multi_hop=False, stack="nginx", platform="AKS 1.28 containerd", source=HOLMES + "79_configmap_mount_issue")
def b1_06():
    c = Cluster("b1-06", "aks", "1.28.9")
    c.neighbours("namespace-79", "dotnet", n=1)
    c.configmap("namespace-79", "app-server-config", {"nginx.conf": "server { listen 8080; location / { proxy_pass http://127.0.0.1:9000; } }\n"})
    app = C("app-server", "nginx:1.25", ports=[("http", 8080)], stack="nginx", mounts=[("config-volume", "/etc/nginx/conf.d")])
    c.deployment("namespace-79", "app-server", [app], replicas=1, rs_hash="5d7f8c9b6", rolled_ago=26, created_ago=26,
                 volumes=[{"name": "config-volume", "configMap": {"name": "app-config", "defaultMode": 420}}],
                 pods=[{"suffix": "fn2kw", "c": {"app-server": {"state": "waiting", "reason": "ContainerCreating"}}}])
    pod = "app-server-5d7f8c9b6-fn2kw"
    c.event("namespace-79", "Pod", pod, "Scheduled", f"Successfully assigned namespace-79/{pod} to {c.workers[1]}", type="Normal", last=26,
            source="default-scheduler")
    c.event("namespace-79", "Pod", pod, "FailedMount", 'MountVolume.SetUp failed for volume "config-volume" : configmap "app-config" not found',
            count=21, last=1.1, first=26, host=c.workers[1])
    return c, alert(c, "KubePodNotReady", {"namespace": "namespace-79", "pod": pod}, target=None, starts_ago=10)


# ================================================================================================ image_pull_failure
@R("07", title="Checkout rollout stuck: image tag v2.14.1 was never pushed to ECR", category="image_pull_failure",
   deepest="pod/checkout/checkout-6f7b8d9c5-2lq8r", alt_deepest=["pod/checkout/checkout-6f7b8d9c5-v7rkn"],
   evidence=[["v2.14.1"], ["not found", "ImagePullBackOff", "ErrImagePull"]],
   chain="rollout stuck → new ReplicaSet's pods ImagePullBackOff → ECR answers not found for checkout:v2.14.1",
   multi_hop=False, stack="Java", platform="EKS 1.29 containerd",
   source="https://github.com/aws/eks-charts/issues/1044 (kubelet pull failure wording); composed from experience")
def b1_07():
    c = Cluster("b1-07", "eks", "1.29.4", workers=4)
    c.neighbours("checkout", "java", n=2)
    img = f"{ECR}/checkout:v2.14.1"
    new = C("checkout", img, ports=[("http", 8080)], stack="java", requests={"cpu": "500m", "memory": "1Gi"}, limits={"memory": "1Gi"})
    old = replace(new, image=f"{ECR}/checkout:v2.14.0")
    cond = [{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable", "message": "Deployment has minimum availability.",
             "lastUpdateTime": ts(60 * 30), "lastTransitionTime": ts(60 * 30)},
            {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
             "message": 'ReplicaSet "checkout-6f7b8d9c5" has timed out progressing.', "lastUpdateTime": ts(21), "lastTransitionTime": ts(21)}]
    pull = {"state": "waiting", "reason": "ImagePullBackOff", "message": f'Back-off pulling image "{img}"'}
    c.deployment("checkout", "checkout", [new], replicas=4, revision=31, rs_hash="6f7b8d9c5", rolled_ago=31, conditions=cond,
                 service=[("http", 80, "http")],
                 pods=[{"suffix": "2lq8r", "c": {"checkout": pull}}, {"suffix": "v7rkn", "c": {"checkout": pull}}],
                 old_rs={"hash": "77c9d5b48", "replicas": 3, "containers": [old]})
    for i, p in enumerate(("checkout-6f7b8d9c5-2lq8r", "checkout-6f7b8d9c5-v7rkn")):
        node = c.pods[("checkout", p)]["spec"]["nodeName"]
        c.event("checkout", "Pod", p, "Pulling", f'Pulling image "{img}"', type="Normal", count=9, last=2 + i, first=31, host=node, field="spec.containers{checkout}")
        c.event("checkout", "Pod", p, "Failed", f'Failed to pull image "{img}": rpc error: code = NotFound desc = failed to pull and unpack image "{img}": '
                f'failed to resolve reference "{img}": {img}: not found', count=9, last=2 + i, first=31, host=node, field="spec.containers{checkout}")
        c.event("checkout", "Pod", p, "Failed", "Error: ErrImagePull", count=9, last=2 + i, first=31, host=node, field="spec.containers{checkout}")
        c.event("checkout", "Pod", p, "BackOff", f'Back-off pulling image "{img}"', type="Normal", count=131, last=0.3, first=30, host=node,
                field="spec.containers{checkout}")
        c.event("checkout", "Pod", p, "Failed", "Error: ImagePullBackOff", count=131, last=0.3, first=30, host=node, field="spec.containers{checkout}")
    return c, alert(c, "KubeDeploymentRolloutStuck", {"namespace": "checkout", "deployment": "checkout", "condition": "Progressing", "status": "false"},
                    starts_ago=5)


@R("08", title="fluent-bit on a newly joined node hits Docker Hub's pull rate limit", category="image_pull_failure",
   deepest="pod/logging/fluent-bit-q8x2n", evidence=[["toomanyrequests", "429", "rate limit"]],
   chain="DaemonSet fluent-bit 4/5 ready → pod on k8s-worker-05 ErrImagePull → registry-1.docker.io answered 429 toomanyrequests",
   multi_hop=False, red_herrings=["healthy fluent-bit pods log output flush retries (warn)"], stack="fluent-bit (C)",
   platform="on-prem kubeadm 1.27 containerd", source="https://docs.docker.com/docker-hub/download-rate-limit/ ; composed from experience")
def b1_08():
    c = Cluster("b1-08", "onprem", "1.27.14", workers=4)
    new = c.join_node(31, name="k8s-worker-05")
    img = "fluent/fluent-bit:3.0.4"
    fb = C("fluent-bit", img, stack="fluentbit", ports=[("http", 2020)], requests={"cpu": "50m", "memory": "64Mi"}, limits={"memory": "128Mi"},
           mounts=[("varlog", "/var/log")])
    c.daemonset("logging", "fluent-bit", [fb], labels={"app.kubernetes.io/name": "fluent-bit"}, nodes=c.workers, priority_class="",
                volumes=[{"name": "varlog", "hostPath": {"path": "/var/log", "type": ""}}],
                pods={new: {"suffix": "q8x2n", "started_ago": 31, "c": {"fluent-bit": {"state": "waiting", "reason": "ImagePullBackOff",
                                                                                       "message": f'Back-off pulling image "{img}"'}}}})
    pod = "fluent-bit-q8x2n"
    msg = (f'Failed to pull image "{img}": failed to pull and unpack image "docker.io/{img}": failed to copy: httpReadSeeker: failed open: '
           f'unexpected status code https://registry-1.docker.io/v2/fluent/fluent-bit/manifests/sha256:{"9f3c" * 16}: 429 Too Many Requests - '
           "Server message: toomanyrequests: You have reached your pull rate limit. You may increase the limit by authenticating and upgrading: "
           "https://www.docker.com/increase-rate-limit")
    c.event("logging", "Pod", pod, "Failed", msg, count=8, last=1.8, first=30, host=new, field="spec.containers{fluent-bit}")
    c.event("logging", "Pod", pod, "Failed", "Error: ErrImagePull", count=8, last=1.8, first=30, host=new, field="spec.containers{fluent-bit}")
    c.event("logging", "Pod", pod, "BackOff", f'Back-off pulling image "{img}"', type="Normal", count=120, last=0.4, first=29, host=new,
            field="spec.containers{fluent-bit}")
    c.event("default", "Node", new, "RegisteredNode", f"Node {new} event: Registered Node {new} in Controller", type="Normal",
            source="node-controller", last=32)
    return c, alert(c, "KubeDaemonSetRolloutStuck", {"namespace": "logging", "daemonset": "fluent-bit"}, starts_ago=4)


# ================================================================================================ invalid_command
@R("09", title="Init container command typo 'wge' (for wget)", category="invalid_command",
   deepest="pod/app-11/logging-agent-7b9d6c8f5-jw4hd", evidence=[["wge"], ["executable file not found"]],
   chain="pod stuck Init:CrashLoopBackOff → init container downloader StartError exit 128 → exec: \"wge\": executable file not found in $PATH",
   multi_hop=False, stack="busybox/shell", platform="EKS 1.29 containerd", source=HOLMES + "11_init_containers")
def b1_09():
    c = Cluster("b1-09", "eks", "1.29.4")
    c.neighbours("app-11", "go", n=1)
    err = ('failed to create containerd task: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container '
           'process: exec: "wge": executable file not found in $PATH: unknown')
    init = C("downloader", "busybox:1.36", command=["wge", "-O", "/work-dir/index.html", "https://home.robusta.dev"],
             mounts=[("workdir", "/work-dir")], state="waiting", reason="CrashLoopBackOff", ready=False, restarts=11,
             message="back-off 5m0s restarting failed container=downloader pod=@POD@",
             last={"exitCode": 128, "reason": "StartError", "message": err, "ago": 2.5, "ran": 0})
    app = C("logging-agent", "nginx:1.25", ports=[("http", 80)], stack="nginx", mounts=[("workdir", "/usr/share/nginx/html")],
            state="waiting", reason="PodInitializing")
    c.deployment("app-11", "logging-agent", [app], replicas=1, rs_hash="7b9d6c8f5", init=[init], rolled_ago=41, created_ago=41,
                 volumes=[{"name": "workdir", "emptyDir": {}}], pods=[{"suffix": "jw4hd"}])
    pod = "logging-agent-7b9d6c8f5-jw4hd"
    c.log("app-11", pod, "downloader", "")
    c.event("app-11", "Pod", pod, "Failed", f"Error: {err}", count=12, last=2.5, first=40, host=c.workers[0], field="spec.initContainers{downloader}")
    c.event("app-11", "Pod", pod, "BackOff", f"Back-off restarting failed container downloader in pod {pod}_app-11(x)", count=180, last=0.2,
            first=39, host=c.workers[0], field="spec.initContainers{downloader}")
    return c, alert(c, "KubePodNotReady", {"namespace": "app-11", "pod": pod}, target=None, starts_ago=25)


@R("10", title="Rails image's entrypoint lacks the execute bit (CRI-O wording)", category="invalid_command",
   deepest="pod/storefront/storefront-web-84c7d9b6f5-t2mrx", evidence=[["permission denied"], ["docker-entrypoint"]],
   chain="container web waiting CreateContainerError → CRI-O/runc: exec \"/app/bin/docker-entrypoint\": permission denied",
   multi_hop=False, stack="Ruby/Rails", platform="on-prem kubeadm 1.28 CRI-O",
   source="https://github.com/pl4nty/cloudflare-kubernetes-gateway/issues/123 (runc start errors); composed from experience")
def b1_10():
    c = Cluster("b1-10", "onprem", "1.28.11", runtime="cri-o")
    c.neighbours("storefront", "ruby", n=2)
    err = ('container create failed: time="2025-06-03T09:40:51Z" level=error msg="runc create failed: unable to start container process: '
           'exec: \\"/app/bin/docker-entrypoint\\": permission denied"\n')
    web = C("web", "registry.acme.internal/storefront:2025.06.02-1", ports=[("http", 3000)], stack="ruby",
            command=["/app/bin/docker-entrypoint"], args=["./bin/rails", "server"], requests={"cpu": "250m", "memory": "512Mi"})
    c.deployment("storefront", "storefront-web", [web], replicas=2, rs_hash="84c7d9b6f5", rolled_ago=75, revision=44,
                 pods=[{"suffix": "t2mrx", "c": {"web": {"state": "waiting", "reason": "CreateContainerError", "message": err}}}],
                 old_rs={"hash": "5dc9f87b64", "replicas": 1, "containers": [replace(web, image="registry.acme.internal/storefront:2025.05.28-3")]},
                 service=[("http", 80, "http")])
    pod = "storefront-web-84c7d9b6f5-t2mrx"
    node = c.pods[("storefront", pod)]["spec"]["nodeName"]
    c.event("storefront", "Pod", pod, "Failed", f"Error: {err.strip()}", count=340, last=0.3, first=74, host=node, field="spec.containers{web}")
    c.event("storefront", "Pod", pod, "Pulled", 'Container image "registry.acme.internal/storefront:2025.06.02-1" already present on machine',
            type="Normal", count=340, last=0.3, first=74, host=node, field="spec.containers{web}")
    return c, alert(c, "KubeContainerWaiting", {"namespace": "storefront", "pod": pod, "container": "web"}, target=None, starts_ago=11)


# ================================================================================================ security_context_violation
@R("11", title="Rust ledger-sync image runs as root under runAsNonRoot", category="security_context_violation",
   deepest="pod/finance/ledger-sync-7f9c6d5b8-x2kqz", alt_deepest=["pod/finance/ledger-sync-7f9c6d5b8-c8nwd"],
   evidence=[["runAsNonRoot"]], chain="deployment ledger-sync 0/2 → containers CreateContainerConfigError: container has runAsNonRoot and image will run as root",
   multi_hop=False, stack="Rust", platform="GKE 1.29 containerd", source="https://github.com/kubernetes-sigs/external-dns/issues/4003")
def b1_11():
    c = Cluster("b1-11", "gke", "1.29.6")
    c.neighbours("finance", "rust", n=2)
    img = "europe-docker.pkg.dev/acme-prod/apps/ledger-sync:0.18.2"
    app = C("ledger-sync", img, ports=[("http", 8080)], stack="rust", requests={"cpu": "100m", "memory": "64Mi"},
            security={"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}})
    pods = []
    for s in ("x2kqz", "c8nwd"):
        pods.append({"suffix": s, "c": {"ledger-sync": {"state": "waiting", "reason": "CreateContainerConfigError",
                                                        "message": f'container has runAsNonRoot and image will run as root (pod: "ledger-sync-7f9c6d5b8-{s}_finance(x)", container: ledger-sync)'}}})
    c.deployment("finance", "ledger-sync", [app], replicas=2, rs_hash="7f9c6d5b8", rolled_ago=38, created_ago=38, pods=pods,
                 pod_security={"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}})
    for s in ("x2kqz", "c8nwd"):
        p = f"ledger-sync-7f9c6d5b8-{s}"
        node = c.pods[("finance", p)]["spec"]["nodeName"]
        c.event("finance", "Pod", p, "Failed", f'Error: container has runAsNonRoot and image will run as root (pod: "{p}_finance(x)", container: ledger-sync)',
                count=178, last=0.4, first=38, host=node, field="spec.containers{ledger-sync}")
    return c, alert(c, "KubeDeploymentReplicasMismatch", {"namespace": "finance", "deployment": "ledger-sync"}, starts_ago=20)


@R("12", title="Pod Security 'restricted' rejects the notebook deployment's pods", category="security_context_violation",
   deepest="replicaset/analytics/jupyter-hub-7c5f9d8b6", alt_deepest=["deployment/analytics/jupyter-hub"],
   evidence=[["violates PodSecurity"]], chain="deployment jupyter-hub 0/1 → ReplicaSet FailedCreate: violates PodSecurity \"restricted:latest\"",
   multi_hop=False, red_herrings=["unrelated crash-looping mailer in namespace staging"], stack="Python", platform="EKS 1.29 containerd",
   source="https://github.com/redhat-developer/odo/issues/6847")
def b1_12():
    c = Cluster("b1-12", "eks", "1.29.4")
    c.neighbours("analytics", "python", n=1)
    c.neighbours("staging", "node", n=1)
    mail = C("mailer", f"{ECR}/mailer:0.3.1", stack="node")
    c.deployment("staging", "mailer", [mail], replicas=1, rs_hash="6d5c4b9f7", pods=[{"suffix": "lq6vp", "c": {"mailer": vars(crashloop(mail, "Error", 1, 77, ago=3))}}])
    c.log("staging", "mailer-6d5c4b9f7-lq6vp", "mailer", "Error: SMTP_PASSWORD is not set\n    at Object.<anonymous> (/app/dist/config.js:12:11)\n")
    app = C("jupyter", "quay.io/jupyter/scipy-notebook:2024-05-27", ports=[("http", 8888)], stack="python")
    cond = [{"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable", "message": "Deployment does not have minimum availability.",
             "lastUpdateTime": ts(33), "lastTransitionTime": ts(33)},
            {"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate",
             "message": 'pods "jupyter-hub-7c5f9d8b6-4xk2p" is forbidden: violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false (container "jupyter" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container "jupyter" must set securityContext.capabilities.drop=["ALL"]), runAsNonRoot != true (pod or container "jupyter" must set securityContext.runAsNonRoot=true), seccompProfile (pod or container "jupyter" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")',
             "lastUpdateTime": ts(33), "lastTransitionTime": ts(33)},
            {"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated", "message": 'ReplicaSet "jupyter-hub-7c5f9d8b6" is progressing.',
             "lastUpdateTime": ts(33), "lastTransitionTime": ts(33)}]
    c.deployment("analytics", "jupyter-hub", [app], replicas=1, rs_hash="7c5f9d8b6", rolled_ago=33, created_ago=33, pods=[], conditions=cond)
    msg = ('Error creating: pods "jupyter-hub-7c5f9d8b6-%s" is forbidden: violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false '
           '(container "jupyter" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container "jupyter" must set '
           'securityContext.capabilities.drop=["ALL"]), runAsNonRoot != true (pod or container "jupyter" must set securityContext.runAsNonRoot=true), '
           'seccompProfile (pod or container "jupyter" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")')
    for i, s in enumerate(("4xk2p", "9mnbq", "t6rzd")):
        c.event("analytics", "ReplicaSet", "jupyter-hub-7c5f9d8b6", "FailedCreate", msg % s, count=1, last=33 - i * 0.1, source="replicaset-controller", api="apps/v1")
    c.event("analytics", "ReplicaSet", "jupyter-hub-7c5f9d8b6", "FailedCreate", "(combined from similar events): " + msg % "wq8lx", count=14, last=1.5, first=32,
            source="replicaset-controller", api="apps/v1")
    return c, alert(c, "KubeDeploymentReplicasMismatch", {"namespace": "analytics", "deployment": "jupyter-hub"}, starts_ago=17)


# ================================================================================================ insufficient_resources
@R("13", title="GPU model server pending: the GPU node's device plugin crash-loops (NVML not found), so no node offers nvidia.com/gpu",
   category="insufficient_resources", deepest="pod/kube-system/nvidia-device-plugin-daemonset-m7k2p", alt_deepest=["node/ip-10-0-81-23.ec2.internal"],
   evidence=[["Insufficient nvidia.com/gpu"], ["NVML", "nvidia-device-plugin", "device plugin"]],
   chain="model-server Pending → Insufficient nvidia.com/gpu on all 4 nodes → GPU node ip-10-0-81-23 advertises no nvidia.com/gpu → its nvidia-device-plugin pod crash-loops: nvml init failed ERROR_LIBRARY_NOT_FOUND",
   multi_hop=True, stack="Python/Triton", platform="EKS 1.29 containerd", source=HOLMES + "14_pending_resources ; https://github.com/NVIDIA/k8s-device-plugin (NVML init errors)")
def b1_13():
    c = Cluster("b1-13", "eks", "1.29.4")
    gpu = c.join_node(60 * 24 * 6, name="ip-10-0-81-23.ec2.internal", pool="gpu-g5", instance="g5.xlarge",
                      labels={"nvidia.com/gpu.present": "true", "workload": "gpu"},
                      taints=[{"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}],
                      allocatable={"cpu": "3920m", "memory": "15236Mi", "pods": "58", "ephemeral-storage": "95491281146", "hugepages-1Gi": "0", "hugepages-2Mi": "0"})
    c.workers.remove(gpu)
    dp = C("nvidia-device-plugin-ctr", "nvcr.io/nvidia/k8s-device-plugin:v0.15.0", env={"FAIL_ON_INIT_ERROR": "true"})
    c.daemonset("kube-system", "nvidia-device-plugin-daemonset", [dp], labels={"name": "nvidia-device-plugin-ds"}, nodes=[gpu],
                pods={gpu: {"suffix": "m7k2p", "c": {"nvidia-device-plugin-ctr": vars(crashloop(dp, "Error", 1, 23, ago=2.2, ran=0.01))}}})
    c.log("kube-system", "nvidia-device-plugin-daemonset-m7k2p", "nvidia-device-plugin-ctr",
          "I0603 09:39:11.102233       1 main.go:178] Starting FS watcher.\nI0603 09:39:11.102301       1 main.go:185] Starting OS watcher.\n"
          "I0603 09:39:11.102611       1 main.go:200] Starting Plugins.\nI0603 09:39:11.102642       1 main.go:257] Loading configuration.\n"
          "I0603 09:39:11.103108       1 main.go:265] Updating config with default resource matching patterns.\n"
          "I0603 09:39:11.103260       1 main.go:289] Retrieving plugins.\n"
          "E0603 09:39:11.103690       1 factory.go:68] Failed to initialize NVML: ERROR_LIBRARY_NOT_FOUND.\n"
          "E0603 09:39:11.103701       1 factory.go:69] If this is a GPU node, did you set the docker default runtime to `nvidia`?\n"
          "E0603 09:39:11.103722       1 main.go:132] error starting plugins: error creating plugin manager: unable to create plugin manager: nvml init failed: ERROR_LIBRARY_NOT_FOUND\n")
    c.neighbours("ml-serving", "python", n=1)
    srv = C("triton", "nvcr.io/nvidia/tritonserver:24.05-py3", ports=[("http", 8000), ("grpc", 8001)], stack="python",
            requests={"cpu": "2", "memory": "8Gi", "nvidia.com/gpu": "1"}, limits={"memory": "8Gi", "nvidia.com/gpu": "1"})
    c.deployment("ml-serving", "model-server", [srv], replicas=1, rs_hash="59f8c7d6b", rolled_ago=44, created_ago=44,
                 tolerations=[{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
                 pods=[{"suffix": "hz2kd", "node": None, "unschedulable": "0/4 nodes are available: 4 Insufficient nvidia.com/gpu. preemption: 0/4 nodes are available: 4 No preemption victims found for incoming pod.",
                        "c": {"triton": {"state": "waiting"}}}], service=[("http", 8000, "http")])
    pod = "model-server-59f8c7d6b-hz2kd"
    c.event("ml-serving", "Pod", pod, "FailedScheduling", "0/4 nodes are available: 4 Insufficient nvidia.com/gpu. preemption: 0/4 nodes are available: 4 No preemption victims found for incoming pod.",
            count=19, last=1.3, first=44, source="default-scheduler")
    c.event("kube-system", "Pod", "nvidia-device-plugin-daemonset-m7k2p", "BackOff",
            "Back-off restarting failed container nvidia-device-plugin-ctr in pod nvidia-device-plugin-daemonset-m7k2p_kube-system(x)",
            count=97, last=0.9, first=46, host=gpu, field="spec.containers{nvidia-device-plugin-ctr}")
    return c, alert(c, "KubePodNotReady", {"namespace": "ml-serving", "pod": pod}, target=None, starts_ago=28)


@R("14", title="Elasticsearch data node pending: Insufficient memory (1.27 wording with control-plane taint)", category="insufficient_resources",
   deepest="pod/logging/es-data-2", evidence=[["Insufficient memory"]],
   chain="StatefulSet es-data 2/3 → es-data-2 Pending → 3 workers Insufficient memory for an 8Gi request, control-plane tainted",
   multi_hop=False, stack="Elasticsearch (Java)", platform="on-prem kubeadm 1.27 containerd",
   source="https://github.com/aws/eks-charts/issues/1044 (FailedScheduling wording); composed from experience")
def b1_14():
    c = Cluster("b1-14", "onprem", "1.27.14")
    es = C("elasticsearch", "docker.elastic.co/elasticsearch/elasticsearch:8.13.4", ports=[("http", 9200), ("transport", 9300)], stack="java",
           requests={"cpu": "1", "memory": "8Gi"}, limits={"memory": "8Gi"}, env={"ES_JAVA_OPTS": "-Xms4g -Xmx4g"})
    msg = ("0/4 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 3 Insufficient memory. "
           "preemption: 0/4 nodes are available: 1 Preemption is not helpful for scheduling, 3 No preemption victims found for incoming pod..")
    c.statefulset("logging", "es-data", [es], replicas=3, storage_class="ceph-block", claims=[("elasticsearch-data", "/usr/share/elasticsearch/data", "200Gi")],
                  service=[("http", 9200, "http"), ("transport", 9300, "transport")],
                  pods=[{}, {}, {"node": None, "unschedulable": msg, "started_ago": 52, "c": {"elasticsearch": {"state": "waiting"}}}])
    c.deployment("logging", "kibana", [C("kibana", "docker.elastic.co/kibana/kibana:8.13.4", ports=[("http", 5601)], requests={"cpu": "500m", "memory": "2Gi"})],
                 replicas=1, service=[("http", 5601, "http")])
    for w in c.workers:
        c.deployment("logging", f"logstash-{w[-2:]}", [C("logstash", "docker.elastic.co/logstash/logstash:8.13.4", stack="java",
                                                          requests={"cpu": "1", "memory": "5Gi"})], replicas=1, nodes=[w])
    c.event("logging", "Pod", "es-data-2", "FailedScheduling", msg, count=22, last=1.2, first=52, source="default-scheduler")
    c.event("logging", "StatefulSet", "es-data", "SuccessfulCreate", "create Pod es-data-2 in StatefulSet es-data successful", type="Normal",
            last=52, source="statefulset-controller", api="apps/v1")
    return c, alert(c, "KubeStatefulSetReplicasMismatch", {"namespace": "logging", "statefulset": "es-data"}, starts_ago=33)


# ================================================================================================ scheduling_constraint
@R("15", title="Import job pods pinned to a node pool that was deleted", category="scheduling_constraint",
   deepest="pod/app-13a/user-profile-import-6c9b7d8f5-pk2xw", evidence=[["node affinity/selector", "highmem-pool", "nodeSelector"]],
   chain="deployment user-profile-import 0/1 → pod Pending → nodeSelector cloud.google.com/gke-nodepool=highmem-pool matches none of 3 nodes",
   multi_hop=False, stack="Go", platform="GKE 1.30 containerd", source=HOLMES + "13a_pending_node_selector_basic")
def b1_15():
    c = Cluster("b1-15", "gke", "1.30.5")
    c.neighbours("app-13a", "go", n=2)
    app = C("importer", "europe-docker.pkg.dev/acme-prod/apps/user-profile-import:1.4.0", stack="go", requests={"cpu": "1", "memory": "6Gi"})
    msg = ("0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector. preemption: 0/3 nodes are available: "
           "3 Preemption is not helpful for scheduling.")
    c.deployment("app-13a", "user-profile-import", [app], replicas=1, rs_hash="6c9b7d8f5", rolled_ago=57, node_selector={"cloud.google.com/gke-nodepool": "highmem-pool"},
                 pods=[{"suffix": "pk2xw", "node": None, "unschedulable": msg, "c": {"importer": {"state": "waiting"}}}])
    pod = "user-profile-import-6c9b7d8f5-pk2xw"
    c.event("app-13a", "Pod", pod, "FailedScheduling", msg, count=23, last=2.1, first=57, source="default-scheduler")
    c.event("app-13a", "Pod", pod, "NotTriggerScaleUp", "pod didn't trigger scale-up: 1 node(s) didn't match Pod's node affinity/selector",
            type="Normal", count=340, last=0.3, first=57, source="cluster-autoscaler")
    return c, alert(c, "KubeDeploymentReplicasMismatch", {"namespace": "app-13a", "deployment": "user-profile-import"}, starts_ago=40)


@R("16", title="Third replica cannot be placed: required pod anti-affinity with two schedulable workers (1.24 wording)", category="scheduling_constraint",
   deepest="pod/namespace-82/silver-puffin-5b8c7d9f4-wq6zn", evidence=[["anti-affinity"]],
   chain="deployment silver-puffin 2/3 → third pod Pending → 2 workers already host a replica (required anti-affinity on hostname), control plane tainted",
   multi_hop=False, stack="Node.js", platform="on-prem kubeadm 1.24 containerd", source=HOLMES + "82_pod_anti_affinity_conflict")
def b1_16():
    c = Cluster("b1-16", "onprem", "1.24.17", workers=2)
    c.neighbours("namespace-82", "node", n=1)
    app = C("silver-puffin", "registry.acme.internal/silver-puffin:3.2.0", ports=[("http", 3000)], stack="node", requests={"cpu": "100m", "memory": "128Mi"})
    aff = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": "silver-puffin"}}, "topologyKey": "kubernetes.io/hostname"}]}}
    msg = ("0/3 nodes are available: 1 node(s) had taint {node-role.kubernetes.io/master: }, that the pod didn't tolerate, 2 node(s) didn't match pod "
           "anti-affinity rules. preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod.")
    c.deployment("namespace-82", "silver-puffin", [app], replicas=3, rs_hash="5b8c7d9f4", affinity=aff, rolled_ago=60 * 24,
                 pods=[{"suffix": "d7kqt", "node": c.workers[0]}, {"suffix": "m3hxv", "node": c.workers[1]},
                       {"suffix": "wq6zn", "node": None, "unschedulable": msg, "started_ago": 35, "c": {"silver-puffin": {"state": "waiting"}}}],
                 service=[("http", 80, "http")])
    c.event("namespace-82", "Pod", "silver-puffin-5b8c7d9f4-wq6zn", "FailedScheduling", msg, count=15, last=3, first=35, source="default-scheduler")
    c.event("namespace-82", "Deployment", "silver-puffin", "ScalingReplicaSet", "Scaled up replica set silver-puffin-5b8c7d9f4 to 3 from 2",
            type="Normal", last=35, source="deployment-controller", api="apps/v1")
    return c, alert(c, "KubeDeploymentReplicasMismatch", {"namespace": "namespace-82", "deployment": "silver-puffin"}, starts_ago=18)


# ================================================================================================ quota_exceeded
@R("17", title="Namespace CPU quota fully used: third api-server replica cannot be created", category="quota_exceeded",
   deepest="resourcequota/namespace-78b/cpu-quota", alt_deepest=["replicaset/namespace-78b/api-server-6d8f9b7c5"],
   evidence=[["exceeded quota"], ["cpu-quota"]],
   chain="deployment api-server 2/3 → ReplicaSet FailedCreate: exceeded quota cpu-quota (requests.cpu used 20m of 20m)",
   multi_hop=True, stack="Go", platform="EKS 1.30 containerd", source=HOLMES + "78b_cpu_quota_exceeded")
def b1_17():
    c = Cluster("b1-17", "eks", "1.30.2")
    app = C("api-server", f"{ECR}/api-server:0.9.1", ports=[("http", 8080)], stack="go", requests={"cpu": "10m", "memory": "32Mi"},
            limits={"cpu": "10m", "memory": "64Mi"})
    c.quota("namespace-78b", "cpu-quota", {"requests.cpu": "20m"}, {"requests.cpu": "20m"})
    cond = [{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable", "message": "Deployment has minimum availability.",
             "lastUpdateTime": ts(29), "lastTransitionTime": ts(29)},
            {"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate",
             "message": 'pods "api-server-6d8f9b7c5-q7kwd" is forbidden: exceeded quota: cpu-quota, requested: requests.cpu=10m, used: requests.cpu=20m, limited: requests.cpu=20m',
             "lastUpdateTime": ts(29), "lastTransitionTime": ts(29)},
            {"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated", "message": 'ReplicaSet "api-server-6d8f9b7c5" is progressing.',
             "lastUpdateTime": ts(29), "lastTransitionTime": ts(29)}]
    c.deployment("namespace-78b", "api-server", [app], replicas=3, rs_hash="6d8f9b7c5", rolled_ago=29, created_ago=29, conditions=cond, desired=3,
                 pods=[{"suffix": "b2cdn"}, {"suffix": "h8x5r"}], service=[("http", 80, "http")])
    for i, s in enumerate(("q7kwd", "6lxzp", "fj9wt")):
        c.event("namespace-78b", "ReplicaSet", "api-server-6d8f9b7c5", "FailedCreate",
                f'Error creating: pods "api-server-6d8f9b7c5-{s}" is forbidden: exceeded quota: cpu-quota, requested: requests.cpu=10m, used: requests.cpu=20m, limited: requests.cpu=20m',
                last=29 - i * 0.05, source="replicaset-controller", api="apps/v1")
    c.event("namespace-78b", "ReplicaSet", "api-server-6d8f9b7c5", "FailedCreate",
            '(combined from similar events): Error creating: pods "api-server-6d8f9b7c5-n4kpx" is forbidden: exceeded quota: cpu-quota, requested: requests.cpu=10m, used: requests.cpu=20m, limited: requests.cpu=20m',
            count=17, last=0.8, first=28, source="replicaset-controller", api="apps/v1")
    return c, alert(c, "KubeDeploymentReplicasMismatch", {"namespace": "namespace-78b", "deployment": "api-server"}, starts_ago=13)


@R("18", title="LimitRange caps containers at 1Gi; the feature builder asks for a 2Gi limit", category="quota_exceeded",
   deepest="limitrange/data-science/default-limits", alt_deepest=["replicaset/data-science/feature-builder-5b8d7c6f9"],
   evidence=[["maximum memory usage per Container is 1Gi", "1Gi"], ["2Gi"]],
   chain="deployment feature-builder 0/2 → ReplicaSet FailedCreate → LimitRange default-limits: max memory per Container 1Gi, limit is 2Gi",
   multi_hop=True, stack="Python", platform="AKS 1.28 containerd",
   source="https://kubernetes.io/docs/concepts/policy/limit-range/ (rejection wording); composed from experience")
def b1_18():
    c = Cluster("b1-18", "aks", "1.28.9")
    c.neighbours("data-science", "python", n=2)
    c.limitrange("data-science", "default-limits", [{"type": "Container", "max": {"cpu": "2", "memory": "1Gi"},
                                                     "default": {"cpu": "500m", "memory": "512Mi"}, "defaultRequest": {"cpu": "100m", "memory": "256Mi"}}])
    app = C("builder", "acmeprod.azurecr.io/feature-builder:7.1.0", stack="python", requests={"cpu": "500m", "memory": "1Gi"}, limits={"cpu": "1", "memory": "2Gi"})
    cond = [{"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable", "message": "Deployment does not have minimum availability.",
             "lastUpdateTime": ts(47), "lastTransitionTime": ts(47)},
            {"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate",
             "message": 'pods "feature-builder-5b8d7c6f9-7tqlm" is forbidden: maximum memory usage per Container is 1Gi, but limit is 2Gi',
             "lastUpdateTime": ts(47), "lastTransitionTime": ts(47)},
            {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded", "message": 'ReplicaSet "feature-builder-5b8d7c6f9" has timed out progressing.',
             "lastUpdateTime": ts(37), "lastTransitionTime": ts(37)}]
    c.deployment("data-science", "feature-builder", [app], replicas=2, rs_hash="5b8d7c6f9", rolled_ago=47, created_ago=47, pods=[], conditions=cond)
    c.event("data-science", "ReplicaSet", "feature-builder-5b8d7c6f9", "FailedCreate",
            '(combined from similar events): Error creating: pods "feature-builder-5b8d7c6f9-kl2vn" is forbidden: maximum memory usage per Container is 1Gi, but limit is 2Gi',
            count=19, last=2.4, first=47, source="replicaset-controller", api="apps/v1")
    return c, alert(c, "KubeDeploymentReplicasMismatch", {"namespace": "data-science", "deployment": "feature-builder"}, starts_ago=31)


# ================================================================================================ volume_mount_failure
@R("19", title="Database PVC pending: StorageClass fast-ssd does not exist", category="volume_mount_failure",
   deepest="persistentvolumeclaim/namespace-80/data-database-0", evidence=[["fast-ssd"]],
   chain="StatefulSet database 0/1 → database-0 Pending (unbound immediate PersistentVolumeClaims) → PVC data-database-0 Pending → storageclass fast-ssd not found",
   multi_hop=True, stack="PostgreSQL", platform="EKS 1.29 containerd", source=HOLMES + "80_pvc_storage_class_mismatch")
def b1_19():
    c = Cluster("b1-19", "eks", "1.29.4")
    pg = C("postgres", "postgres:16.3", ports=[("postgres", 5432)], stack="postgres", requests={"cpu": "500m", "memory": "1Gi"})
    msg = "0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
    c.statefulset("namespace-80", "database", [pg], replicas=1, storage_class="fast-ssd", claims=[("data", "/var/lib/postgresql/data", "20Gi")],
                  pvc_phase={0: "Pending"}, service=[("postgres", 5432, "postgres")], created_ago=48,
                  pods=[{"node": None, "unschedulable": msg, "started_ago": 48, "c": {"postgres": {"state": "waiting"}}}])
    c.event("namespace-80", "PersistentVolumeClaim", "data-database-0", "ProvisioningFailed", 'storageclass.storage.k8s.io "fast-ssd" not found',
            count=190, last=0.5, first=48, source="persistentvolume-controller")
    c.event("namespace-80", "Pod", "database-0", "FailedScheduling", msg, count=11, last=3, first=48, source="default-scheduler")
    c.neighbours("namespace-80", "python", n=1)
    return c, alert(c, "KubeStatefulSetReplicasMismatch", {"namespace": "namespace-80", "statefulset": "database"}, starts_ago=30)


@R("20", title="Grafana's new pod cannot attach its RWO EBS volume still attached to the old pod's node (Multi-Attach)",
   category="volume_mount_failure", deepest="persistentvolumeclaim/observability/grafana",
   alt_deepest=["pod/observability/grafana-6d9c8b7f5-k2x8p"], evidence=[["Multi-Attach"]],
   chain="new grafana pod ContainerCreating → FailedAttachVolume Multi-Attach: PVC grafana (ReadWriteOnce) is used by old pod grafana-6d9c8b7f5-k2x8p on another node",
   multi_hop=True, stack="Grafana (Go)", platform="EKS 1.29 containerd", source="https://github.com/kubernetes/kubernetes/issues/96142")
def b1_20():
    c = Cluster("b1-20", "eks", "1.29.4")
    c.pvc("observability", "grafana", size="10Gi", node=c.workers[0], labels={"app.kubernetes.io/name": "grafana"})
    pv = c.get("persistentvolumeclaims", "grafana", "observability")["spec"]["volumeName"]
    g = C("grafana", "docker.io/grafana/grafana:11.0.0", ports=[("grafana", 3000)], stack="go", mounts=[("storage", "/var/lib/grafana")])
    vol = [{"name": "storage", "persistentVolumeClaim": {"claimName": "grafana"}}]
    cond = [{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable", "message": "Deployment has minimum availability.",
             "lastUpdateTime": ts(60 * 24 * 8), "lastTransitionTime": ts(60 * 24 * 8)},
            {"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated", "message": 'ReplicaSet "grafana-79b5d8c6f4" is progressing.',
             "lastUpdateTime": ts(19), "lastTransitionTime": ts(19)}]
    c.deployment("observability", "grafana", [replace(g, image="docker.io/grafana/grafana:11.0.1")], replicas=1, rs_hash="79b5d8c6f4", revision=6,
                 rolled_ago=19, volumes=vol, conditions=cond, service=[("http", 80, "grafana")],
                 pods=[{"suffix": "n5zvq", "node": c.workers[2], "c": {"grafana": {"state": "waiting", "reason": "ContainerCreating"}}}],
                 old_rs={"hash": "6d9c8b7f5", "replicas": 1, "containers": [g], "pods": [{"suffix": "k2x8p", "node": c.workers[0]}]})
    new = "grafana-79b5d8c6f4-n5zvq"
    c.event("observability", "Pod", new, "Scheduled", f"Successfully assigned observability/{new} to {c.workers[2]}", type="Normal", last=19, source="default-scheduler")
    c.event("observability", "Pod", new, "FailedAttachVolume",
            f'Multi-Attach error for volume "{pv}" Volume is already used by pod(s) grafana-6d9c8b7f5-k2x8p', count=1, last=19, source="attachdetach-controller")
    c.event("observability", "Pod", new, "FailedMount",
            "Unable to attach or mount volumes: unmounted volumes=[storage], unattached volumes=[storage kube-api-access], failed to process volumes=[]: timed out waiting for the condition",
            count=8, last=1.5, first=17, host=c.workers[2])
    c.neighbours("observability", "go", n=1)
    return c, alert(c, "KubePodNotReady", {"namespace": "observability", "pod": new}, target=None, starts_ago=3)


# ================================================================================================ node_not_ready
@R("21", title="EKS worker stopped posting status (kubelet gone); its pods are marked not ready", category="node_not_ready",
   deepest="node/ip-10-0-48-211.ec2.internal", evidence=[["Kubelet stopped posting node status", "NodeStatusUnknown", "Unknown"]],
   chain="KubeNodeNotReady → node ip-10-0-48-211 Ready=Unknown since 22 min: Kubelet stopped posting node status; unreachable taints added",
   multi_hop=False, stack="-", platform="EKS 1.29 containerd", source="https://github.com/bottlerocket-os/bottlerocket/issues/3076 ; composed from experience")
def b1_21():
    c = Cluster("b1-21", "eks", "1.29.4", workers=3)
    want = c.join_node(60 * 24 * 12, name="ip-10-0-48-211.ec2.internal")
    c.workers.remove(want)
    c.neighbours("shop", "java", n=2)
    web = C("storefront", f"{ECR}/storefront:5.3.1", ports=[("http", 8080)], stack="node")
    c.deployment("shop", "storefront", [web], replicas=3, rs_hash="76c8d9b5f4", service=[("http", 80, "http")])
    c.deployment("shop", "cart", [C("cart", f"{ECR}/cart:3.0.2", ports=[("http", 8080)], stack="go")], replicas=2, rs_hash="58d7c9f6b4",
                 pods=[{"suffix": "bz4km", "node": want}, {"suffix": "p2lwx", "node": c.workers[0]}, {"suffix": "f6tqj", "node": c.workers[1], "started_ago": 16}],
                 service=[("http", 80, "http")], desired=2)
    c.node_not_ready(want, "unknown", since=22)
    c.mark_pods_not_ready(want, since=21.5)
    c.event("default", "Node", want, "NodeNotReady", f"Node {want} status is now: NodeNotReady", type="Normal", last=22, source="node-controller")
    c.event("shop", "Pod", "cart-58d7c9f6b4-bz4km", "NodeNotReady", "Node is not ready", last=21, source="node-controller")
    c.event("shop", "Pod", "cart-58d7c9f6b4-bz4km", "TaintManagerEviction", "Marking for deletion Pod shop/cart-58d7c9f6b4-bz4km", type="Normal",
            last=16, source="taint-eviction-controller")
    return c, alert(c, "KubeNodeNotReady", {"node": want, "condition": "Ready", "status": "true"}, starts_ago=7)


@R("22", title="RabbitMQ StatefulSet short a replica: rabbitmq-1 is stuck on a node whose kubelet reports PLEG not healthy",
   category="node_not_ready", deepest="node/k8s-worker-03", alt_deepest=["pod/messaging/rabbitmq-1"],
   evidence=[["PLEG is not healthy", "NotReady", "KubeletNotReady"]],
   chain="StatefulSet rabbitmq 2/3 → rabbitmq-1 not ready and terminating → node k8s-worker-03 Ready=False: PLEG is not healthy",
   multi_hop=True, red_herrings=["week-old Evicted pods left in namespace batch"], stack="RabbitMQ (Erlang)", platform="on-prem kubeadm 1.26 containerd",
   source="https://github.com/kubernetes/kubernetes/issues/86451 ; composed from experience")
def b1_22():
    c = Cluster("b1-22", "onprem", "1.26.15", workers=2)
    bad = c.join_node(60 * 24 * 30, name="k8s-worker-03")
    c.workers.remove(bad)
    c.node_not_ready(bad, "false", "PLEG is not healthy: pleg was last seen active 4m12.883s ago; threshold is 3m0s", since=18)
    rmq = C("rabbitmq", "docker.io/bitnami/rabbitmq:3.13.3-debian-12-r0", ports=[("amqp", 5672), ("dist", 25672), ("stats", 15672)], stack="generic",
            readiness={"exec": {"command": ["/bin/bash", "-ec", "rabbitmq-diagnostics -q check_running && rabbitmq-diagnostics -q check_local_alarms"]}})
    c.statefulset("messaging", "rabbitmq", [rmq], replicas=3, storage_class="ceph-block", claims=[("data", "/bitnami/rabbitmq/mnesia", "8Gi")],
                  service=[("amqp", 5672, "amqp"), ("http-stats", 15672, "stats")],
                  pods=[{"node": c.workers[0]}, {"node": bad}, {"node": c.workers[1]}])
    c.mark_pods_not_ready(bad, since=17.5)
    c.neighbours("batch", "python", n=1)
    for i, s in enumerate(("8fkq2", "vm4tz")):
        c.pod("batch", f"nightly-export-5f7c8d9b6-{s}", [C("export", "registry.acme.internal/nightly-export:1.2.0", state="terminated", exit_code=137,
                                                           reason="Error", started_ago=60 * 24 * 6)], node=c.workers[0], phase="Failed", reason="Evicted",
              message="The node was low on resource: memory. Threshold quantity: 100Mi, available: 91244Ki. Container export was using 3215544Ki, request is 1Gi, has larger consumption of memory.",
              labels={"app": "nightly-export"}, owner=("ReplicaSet", "nightly-export-5f7c8d9b6"), started_ago=60 * 24 * 6, ip=False)
    c.event("default", "Node", bad, "NodeNotReady", f"Node {bad} status is now: NodeNotReady", type="Normal", last=18, source="node-controller")
    c.event("messaging", "Pod", "rabbitmq-1", "NodeNotReady", "Node is not ready", last=18, source="node-controller")
    c.event("messaging", "Pod", "rabbitmq-0", "Unhealthy", "Readiness probe failed: Error: unable to perform an operation on node 'rabbit@rabbitmq-1.rabbitmq-headless.messaging.svc.cluster.local'",
            count=3, last=17, first=18, host=c.workers[0], field="spec.containers{rabbitmq}")
    return c, alert(c, "KubeStatefulSetReplicasMismatch", {"namespace": "messaging", "statefulset": "rabbitmq"}, starts_ago=2)


# ================================================================================================ node_pressure_eviction
@R("23", title="api-gateway pod evicted: node low on ephemeral-storage (image GC cannot free space)", category="node_pressure_eviction",
   deepest="node/ip-10-0-17-142.ec2.internal", alt_deepest=["pod/edge/api-gateway-6c8d7f9b5-2wtlk"],
   evidence=[["ephemeral-storage"], ["DiskPressure", "disk pressure", "low on resource"]],
   chain="pod api-gateway-…-2wtlk Failed/Evicted → node ip-10-0-17-142 DiskPressure=True, EvictionThresholdMet, image GC freed 0 bytes",
   multi_hop=False, stack="Envoy/Go", platform="EKS 1.29 containerd", source="https://github.com/kubernetes/kubernetes/issues/91600")
def b1_23():
    c = Cluster("b1-23", "eks", "1.29.4", worker_names=["ip-10-0-3-57.ec2.internal", "ip-10-0-17-142.ec2.internal", "ip-10-0-34-201.ec2.internal"])
    want = c.workers[1]
    c.set_condition(want, "DiskPressure", "True", "KubeletHasDiskPressure", "kubelet has disk pressure", since=31)
    c.node(want)["spec"].setdefault("taints", []).append({"key": "node.kubernetes.io/disk-pressure", "effect": "NoSchedule", "timeAdded": ts(31)})
    gw = C("gateway", f"{ECR}/api-gateway:1.30.2", ports=[("http", 8080)], stack="go", requests={"cpu": "250m", "memory": "256Mi"})
    c.deployment("edge", "api-gateway", [gw], replicas=3, rs_hash="6c8d7f9b5", service=[("http", 80, "http")],
                 pods=[{"suffix": "2wtlk", "node": want, "phase": "Failed", "reason": "Evicted", "ip": False,
                        "message": "The node was low on resource: ephemeral-storage. Threshold quantity: 8139429296, available: 7812044Ki. Container gateway was using 9437184Ki, request is 0, has larger consumption of ephemeral-storage. ",
                        "c": {"gateway": {"state": "terminated", "exit_code": 137, "reason": "Error", "ready": False}}},
                       {"suffix": "8mqzv", "node": c.workers[0]}, {"suffix": "g4hxn", "node": c.workers[2], "started_ago": 29},
                       {"suffix": "r7bkd", "node": c.workers[0]}], desired=3)
    c.event("edge", "Pod", "api-gateway-6c8d7f9b5-2wtlk", "Evicted",
            "The node was low on resource: ephemeral-storage. Threshold quantity: 8139429296, available: 7812044Ki. Container gateway was using 9437184Ki, request is 0, has larger consumption of ephemeral-storage. ",
            last=30, host=want)
    c.event("edge", "Pod", "api-gateway-6c8d7f9b5-2wtlk", "Killing", "Stopping container gateway", type="Normal", last=30, host=want, field="spec.containers{gateway}")
    c.event("default", "Node", want, "EvictionThresholdMet", "Attempting to reclaim ephemeral-storage", count=6, last=2, first=31, host=want)
    c.event("default", "Node", want, "FreeDiskSpaceFailed",
            "Failed to garbage collect required amount of images. Attempted to free 4518012108 bytes, but only found 0 bytes eligible to free.",
            count=7, last=4, first=31, host=want)
    c.event("default", "Node", want, "NodeHasDiskPressure", f"Node {want} status is now: NodeHasDiskPressure", type="Normal", last=31, host=want)
    c.neighbours("edge", "go", n=1)
    return c, alert(c, "KubePodNotReady", {"namespace": "edge", "pod": "api-gateway-6c8d7f9b5-2wtlk"}, target=None, starts_ago=14)


@R("24", title="Log shipper DaemonSet pod evicted in a loop on a node with DiskPressure", category="node_pressure_eviction",
   deepest="node/k8s-worker-02", alt_deepest=["pod/logging/vector-kd7xp"], evidence=[["DiskPressure"]],
   chain="DaemonSet vector 2/3 → pod on k8s-worker-02 Failed (Evicted: node had condition DiskPressure), recreated and evicted again → node DiskPressure=True",
   multi_hop=True, stack="Vector (Rust)", platform="on-prem kubeadm 1.28 containerd",
   source="https://github.com/operate-first/apps/issues/1352 ; https://github.com/piraeusdatastore/piraeus-operator/issues/376")
def b1_24():
    c = Cluster("b1-24", "onprem", "1.28.11")
    bad = c.workers[1]
    c.set_condition(bad, "DiskPressure", "True", "KubeletHasDiskPressure", "kubelet has disk pressure", since=48)
    c.node(bad)["spec"].setdefault("taints", []).append({"key": "node.kubernetes.io/disk-pressure", "effect": "NoSchedule", "timeAdded": ts(48)})
    v = C("vector", "timberio/vector:0.38.0-distroless-libc", ports=[("prom-exporter", 9090)], stack="rust", mounts=[("var-log", "/var/log")])
    c.daemonset("logging", "vector", [v], labels={"app.kubernetes.io/name": "vector"}, nodes=c.workers, priority_class="",
                volumes=[{"name": "var-log", "hostPath": {"path": "/var/log"}}],
                pods={bad: {"suffix": "kd7xp", "phase": "Failed", "reason": "Evicted", "message": "Pod The node had condition: [DiskPressure]. ",
                            "started_ago": 0.6, "ip": False, "c": {"vector": {"state": "terminated", "exit_code": 0, "reason": "ContainerStatusUnknown",
                                                                              "ready": False}}}})
    c.event("logging", "Pod", "vector-kd7xp", "Evicted", "The node had condition: [DiskPressure]. ", last=0.6, host=bad)
    c.event("logging", "DaemonSet", "vector", "FailedDaemonPod", f"Found failed daemon pod logging/vector-kd7xp on node {bad}, will try to kill it",
            count=41, last=0.5, first=47, source="daemonset-controller", api="apps/v1")
    c.event("logging", "DaemonSet", "vector", "SuccessfulDelete", "Deleted pod: vector-2fq9c", type="Normal", count=40, last=1.2, first=47,
            source="daemonset-controller", api="apps/v1")
    c.event("default", "Node", bad, "EvictionThresholdMet", "Attempting to reclaim ephemeral-storage", count=9, last=3, first=48, host=bad)
    c.event("default", "Node", bad, "NodeHasDiskPressure", f"Node {bad} status is now: NodeHasDiskPressure", type="Normal", last=48, host=bad)
    c.neighbours("logging", "go", n=1)
    return c, alert(c, "KubeDaemonSetRolloutStuck", {"namespace": "logging", "daemonset": "vector"}, starts_ago=26)


# ================================================================================================ liveness_probe_failure
@R("25", title="nginx restarted by a liveness probe on port 8080 while it listens on 80", category="liveness_probe_failure",
   deepest="pod/namespace-77/web-app-6f8d9c7b5-zt4qw", evidence=[["Liveness probe failed"], ["8080"]],
   chain="web-app restarts every ~40 s → Liveness probe failed: dial tcp :8080 connection refused → killed (exit 0, nginx shuts down gracefully); nginx listens on 80",
   multi_hop=False, stack="nginx", platform="GKE 1.29 containerd", source=HOLMES + "77_liveness_probe_misconfiguration")
def b1_25():
    c = Cluster("b1-25", "gke", "1.29.6")
    c.neighbours("namespace-77", "node", n=1)
    w = C("web-app", "nginx:1.25", ports=[("http", 80)], stack="nginx", liveness=probe_http("/", 8080, initialDelaySeconds=5, periodSeconds=5))
    c.deployment("namespace-77", "web-app", [w], replicas=1, rs_hash="6f8d9c7b5", rolled_ago=36, created_ago=36,
                 pods=[{"suffix": "zt4qw", "c": {"web-app": vars(crashloop(w, "Completed", 0, 9, ago=0.6, ran=0.4))}}], service=[("http", 80, "http")])
    pod = "web-app-6f8d9c7b5-zt4qw"
    ip = c.pods[("namespace-77", pod)]["status"]["podIP"]
    node = c.pods[("namespace-77", pod)]["spec"]["nodeName"]
    c.log("namespace-77", pod, "web-app",
          "/docker-entrypoint.sh: /docker-entrypoint.d/ is not empty, will attempt to perform configuration\n"
          "/docker-entrypoint.sh: Launching /docker-entrypoint.d/10-listen-on-ipv6-by-default.sh\n"
          "/docker-entrypoint.sh: Configuration complete; ready for start up\n"
          f"{logtime(1.1, 'go')} [notice] 1#1: nginx/1.25.5\n{logtime(1.1, 'go')} [notice] 1#1: start worker processes\n"
          f"{logtime(0.6, 'go')} [notice] 1#1: signal 3 (SIGQUIT) received, shutting down\n{logtime(0.6, 'go')} [notice] 1#1: exit\n")
    c.event("namespace-77", "Pod", pod, "Unhealthy", f'Liveness probe failed: Get "http://{ip}:8080/": dial tcp {ip}:8080: connect: connection refused',
            count=30, last=0.7, first=35, host=node, field="spec.containers{web-app}")
    c.event("namespace-77", "Pod", pod, "Killing", "Container web-app failed liveness probe, will be restarted", type="Normal", count=10, last=0.7, first=35,
            host=node, field="spec.containers{web-app}")
    c.event("namespace-77", "Pod", pod, "BackOff", f"Back-off restarting failed container web-app in pod {pod}_namespace-77(x)", count=25, last=0.3, first=20,
            host=node, field="spec.containers{web-app}")
    return c, alert(c, "KubePodCrashLooping", {"namespace": "namespace-77", "pod": pod, "container": "web-app", "reason": "CrashLoopBackOff",
                                               "uid": c.pods[("namespace-77", pod)]["metadata"]["uid"]}, starts_ago=15)


@R("26", title="Spring Boot service killed by its liveness probe during long GC pauses", category="liveness_probe_failure",
   deepest="pod/orders/order-service-74d9c8b6f5-8kqzt", evidence=[["Liveness probe failed", "liveness"], ["context deadline exceeded", "Client.Timeout"]],
   chain="order-service restarting (exit 143) → Liveness probe failed: context deadline exceeded (1 s timeout) → killed while the JVM spends seconds in full GC",
   multi_hop=False, red_herrings=["a pod in namespace reporting OOMKilled three days ago, healthy since"], stack="Java/Spring Boot",
   platform="EKS 1.29 containerd", source="https://github.com/kubernetes/kubernetes/issues/115469 ; https://github.com/corda/corda-runtime-os/pull/2910")
def b1_26():
    c = Cluster("b1-26", "eks", "1.29.4")
    c.neighbours("orders", "java", n=1)
    old = C("reporter", f"{ECR}/reporter:1.1.0", stack="node")
    c.deployment("reporting", "reporter", [old], replicas=1, rs_hash="5b9f8d6c7",
                 pods=[{"suffix": "hq2vx", "c": {"reporter": {"restarts": 1, "last": {"exitCode": 137, "reason": "OOMKilled", "ago": 60 * 24 * 3},
                                                              "started_ago": 60 * 24 * 3}}}])
    app = C("order-service", f"{ECR}/order-service:6.3.0", ports=[("http", 8080), ("management", 8081)], stack="java",
            env={"JAVA_TOOL_OPTIONS": "-XX:MaxRAMPercentage=85 -Xlog:gc"}, requests={"cpu": "1", "memory": "2560Mi"}, limits={"memory": "2560Mi"},
            liveness=probe_http("/actuator/health/liveness", "management", timeoutSeconds=1, periodSeconds=10, failureThreshold=3),
            readiness=probe_http("/actuator/health/readiness", "management"))
    c.deployment("orders", "order-service", [app], replicas=2, rs_hash="74d9c8b6f5", service=[("http", 80, "http")],
                 pods=[{"suffix": "8kqzt", "c": {"order-service": vars(crashloop(app, "Error", 143, 6, ago=1.4, ran=9))}}, {"suffix": "c5lmw"}])
    pod = "order-service-74d9c8b6f5-8kqzt"
    ip = c.pods[("orders", pod)]["status"]["podIP"]
    node = c.pods[("orders", pod)]["spec"]["nodeName"]
    gc = "".join(f"[{1000 + i * 37}.{i}12s][info][gc] GC({400 + i}) Pause Full (G1 Compaction Pause) 2041M->{1990 - i}M(2048M) {3100 + i * 211}.482ms\n" for i in range(6))
    c.log("orders", pod, "order-service", spring_start("order-service", 8080, 10.5) + gc +
          f"{logtime(2)}  WARN 1 --- [order-service] [l-1 housekeeper] com.zaxxer.hikari.pool.HikariPool        : HikariPool-1 - Thread starvation or clock leap detected (housekeeper delta=58s).\n"
          f"{logtime(1.5)}  INFO 1 --- [order-service] [ionShutdownHook] o.s.b.w.e.tomcat.GracefulShutdown        : Commencing graceful shutdown. Waiting for active requests to complete\n")
    c.event("orders", "Pod", pod, "Unhealthy", f'Liveness probe failed: Get "http://{ip}:8081/actuator/health/liveness": context deadline exceeded (Client.Timeout exceeded while awaiting headers)',
            count=21, last=1.6, first=58, host=node, field="spec.containers{order-service}")
    c.event("orders", "Pod", pod, "Killing", "Container order-service failed liveness probe, will be restarted", type="Normal", count=6, last=1.6, first=58,
            host=node, field="spec.containers{order-service}")
    return c, alert(c, "KubePodCrashLooping", {"namespace": "orders", "pod": pod, "container": "order-service", "reason": "CrashLoopBackOff",
                                               "uid": c.pods[("orders", pod)]["metadata"]["uid"]}, starts_ago=4)


# ================================================================================================ readiness_probe_failure
@R("27", title="search-engine never becomes ready: exec readiness probe checks a file that is never created", category="readiness_probe_failure",
   deepest="pod/default/search-engine-5c9d8f7b6-mv2xp", evidence=[["Readiness probe failed"]],
   chain="pod Running, 0 restarts, not ready → Readiness probe failed: cat /tmp/healthy: No such file or directory",
   multi_hop=False, stack="Python", platform="AKS 1.29 containerd", source=HOLMES + "15_failed_readiness_probe")
def b1_27():
    c = Cluster("b1-27", "aks", "1.29.4")
    app = C("search-engine", "acmeprod.azurecr.io/search-engine:0.4.2", ports=[("http", 8080)], stack="python",
            readiness={"exec": {"command": ["cat", "/tmp/healthy"]}, "initialDelaySeconds": 5, "periodSeconds": 5}, ready=False)
    c.deployment("default", "search-engine", [app], replicas=1, rs_hash="5c9d8f7b6", rolled_ago=95, pods=[{"suffix": "mv2xp"}], service=[("http", 80, "http")])
    pod = "search-engine-5c9d8f7b6-mv2xp"
    node = c.pods[("default", pod)]["spec"]["nodeName"]
    c.event("default", "Pod", pod, "Unhealthy", "Readiness probe failed: cat: can't open '/tmp/healthy': No such file or directory", count=1130, last=0.1,
            first=94, host=node, field="spec.containers{search-engine}")
    c.neighbours("default", "python", n=1)
    return c, alert(c, "KubePodNotReady", {"namespace": "default", "pod": pod}, target=None, starts_ago=78)


@R("28", title=".NET catalog API stays unready: its readiness endpoint answers 503 while a cache warm-up crawls", category="readiness_probe_failure",
   deepest="pod/catalog/catalog-api-68c7d9f5b4-w2h9k", alt_deepest=["pod/catalog/catalog-api-68c7d9f5b4-jx4nq"],
   evidence=[["Readiness probe failed"], ["503"]],
   chain="deployment catalog-api 0/2 ready → Readiness probe failed: statuscode 503 → app logs show the price-list warm-up still running; no crash, no dependency error",
   multi_hop=False, red_herrings=["failed pods of an unrelated CronJob in namespace reports"], stack=".NET 8", platform="AKS 1.29 containerd",
   source="composed from experience")
def b1_28():
    c = Cluster("b1-28", "aks", "1.29.4")
    app = C("catalog-api", "acmeprod.azurecr.io/catalog-api:8.2.1", ports=[("http", 8080)], stack="dotnet", ready=False,
            readiness=probe_http("/health/ready", "http", periodSeconds=10), liveness=probe_http("/health/live", "http"),
            requests={"cpu": "250m", "memory": "1Gi"}, limits={"memory": "2Gi"})
    c.deployment("catalog", "catalog-api", [app], replicas=2, rs_hash="68c7d9f5b4", rolled_ago=44, revision=19,
                 pods=[{"suffix": "w2h9k", "started_ago": 44}, {"suffix": "jx4nq", "started_ago": 43}], service=[("http", 80, "http")])
    for s in ("w2h9k", "jx4nq"):
        pod = f"catalog-api-68c7d9f5b4-{s}"
        ip = c.pods[("catalog", pod)]["status"]["podIP"]
        node = c.pods[("catalog", pod)]["spec"]["nodeName"]
        c.log("catalog", pod, "catalog-api",
              "info: Microsoft.Hosting.Lifetime[14]\n      Now listening on: http://[::]:8080\ninfo: Microsoft.Hosting.Lifetime[0]\n      Application started. Press Ctrl+C to shut down.\n"
              + "".join(f"info: Catalog.Api.Warmup.PriceListWarmer[0]\n      Loading price lists into cache: {210000 * (i + 1):,}/2,950,000 ({7 * (i + 1)}%)\n" for i in range(6))
              + "".join(f"info: Microsoft.AspNetCore.Hosting.Diagnostics[2]\n      Request finished HTTP/1.1 GET http://{ip}:8080/health/ready - 503 - text/plain 0.8ms\n" for _ in range(3)))
        c.event("catalog", "Pod", pod, "Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 503", count=262, last=0.1, first=43,
                host=node, field="spec.containers{catalog-api}")
    c.neighbours("catalog", "dotnet", n=1)
    job = C("report", "acmeprod.azurecr.io/daily-report:2.0.0", stack="python", state="terminated", exit_code=1, reason="Error", started_ago=25)
    c.job("reports", "daily-report-29146080", [job], pods=[{}, {"started_ago": 20}], failed=2, created_ago=26, cronjob="daily-report",
          conditions=[{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit",
                       "lastProbeTime": ts(18), "lastTransitionTime": ts(18)}], backoff=1)
    return c, alert(c, "KubeDeploymentReplicasMismatch", {"namespace": "catalog", "deployment": "catalog-api"}, starts_ago=26)


# ================================================================================================ service_selector_mismatch
@R("29", title="Frontend cannot reach backend: Service selects version=v2, pods are labelled version=v1", category="service_selector_mismatch",
   deepest="service/namespace-76/backend", evidence=[["v2"], ["backend"]],
   chain="frontend 0/2 ready → backend:8080 connection refused → Service backend has no endpoints → selector app=backend,version=v2 matches no pod (pods: version=v1)",
   multi_hop=True, stack="Node.js", platform="EKS 1.29 containerd", source=HOLMES + "76_service_discovery_issue")
def b1_29():
    c = Cluster("b1-29", "eks", "1.29.4")
    be = C("backend", f"{ECR}/backend:1.8.0", ports=[("http", 8080)], stack="go", readiness=probe_http("/healthz", "http"))
    c.deployment("namespace-76", "backend", [be], replicas=2, rs_hash="7f6c9d8b5", labels={"app": "backend"}, pod_labels={"version": "v1"})
    svc = c.service("namespace-76", "backend", {"app": "backend", "version": "v2"}, [("http", 8080, "http")])
    fe = C("frontend", f"{ECR}/frontend:2.3.4", ports=[("http", 3000)], stack="node", env={"BACKEND_URL": "http://backend:8080"},
           readiness=probe_http("/ready", "http"), ready=False)
    c.deployment("namespace-76", "frontend", [fe], replicas=2, rs_hash="5d4c8b7f9", rolled_ago=40, service=[("http", 80, "http")],
                 pods=[{"suffix": "kz2pw", "started_ago": 40}, {"suffix": "n7qrv", "started_ago": 40}])
    ip = svc["spec"]["clusterIP"]
    for s in ("kz2pw", "n7qrv"):
        pod = f"frontend-5d4c8b7f9-{s}"
        lines = "".join('{"level":50,"time":%d,"pid":1,"hostname":"%s","err":{"type":"Error","message":"connect ECONNREFUSED %s:8080","code":"ECONNREFUSED","errno":-111,"syscall":"connect","address":"%s","port":8080},"msg":"backend check failed: GET http://backend:8080/api/items"}\n'
                        % (1748943400000 + i * 10000, pod, ip, ip) for i in range(5))
        c.log("namespace-76", pod, "frontend", '{"level":30,"time":1748941000000,"pid":1,"hostname":"%s","msg":"Server listening at http://0.0.0.0:3000"}\n' % pod + lines)
        node = c.pods[("namespace-76", pod)]["spec"]["nodeName"]
        c.event("namespace-76", "Pod", pod, "Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 503", count=236, last=0.2, first=39,
                host=node, field="spec.containers{frontend}")
    return c, alert(c, "KubeDeploymentReplicasMismatch", {"namespace": "namespace-76", "deployment": "frontend"}, starts_ago=22)


# ================================================================================================ dependency_failure
@R("30", title="Java job cannot reach prod-db:3333: the database deployment was scaled to zero", category="dependency_failure",
   deepest="deployment/app-12/prod-db", alt_deepest=["service/app-12/prod-db", "endpoints/app-12/prod-db"],
   evidence=[["prod-db"], ["Connection refused", "ConnectException"]],
   chain="Job java-api-checker failed (BackoffLimitExceeded) → pods exit 1: java.net.ConnectException: Connection refused to prod-db:3333 → Service prod-db has 0 endpoints → Deployment prod-db scaled to 0 replicas",
   multi_hop=True, stack="Java", platform="GKE 1.29 containerd", source=HOLMES + "12_job_crashing")
def b1_30():
    c = Cluster("b1-30", "gke", "1.29.6")
    db = C("mysql", "mysql:8.0.37", ports=[("mysql", 3306)], stack="generic")
    c.deployment("app-12", "prod-db", [db], replicas=0, rs_hash="5f7d8c9b6", pods=[], service=[("mysql", 3333, "mysql")])
    c.event("app-12", "Deployment", "prod-db", "ScalingReplicaSet", "Scaled down replica set prod-db-5f7d8c9b6 to 0 from 1", type="Normal",
            last=52, source="deployment-controller", api="apps/v1")
    log = ("Starting Java API Checker v2.3.1\nLoading configuration from application.properties\nInitializing connection pool...\n"
           + "".join(f"Java Network Exception:\nFailed to establish connection to database server\nConnection attempt {i + 1} failed: java.net.ConnectException: Connection refused\n"
                     "Target host: prod-db, port: 3333\nConnection pool exhausted: max_size=256, active=256, idle=0\n" for i in range(4))
           + "FATAL: Unable to connect to required database\nShutting down application\n")
    jc = C("java-beans", "europe-docker.pkg.dev/acme-prod/apps/java-api-checker:2.3.1", stack="java", state="terminated", exit_code=1, reason="Error",
           started_ago=21)
    c.job("app-12", "java-api-checker", [jc], backoff=1, created_ago=22, pods=[{"suffix": "4xk8d", "started_ago": 21}, {"suffix": "9plqz", "started_ago": 19}],
          conditions=[{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit",
                       "lastProbeTime": ts(18), "lastTransitionTime": ts(18)}])
    for s in ("4xk8d", "9plqz"):
        c.log("app-12", f"java-api-checker-{s}", "java-beans", log)
    c.event("app-12", "Job", "java-api-checker", "SuccessfulCreate", "Created pod: java-api-checker-4xk8d", type="Normal", last=22, source="job-controller", api="batch/v1")
    c.event("app-12", "Job", "java-api-checker", "SuccessfulCreate", "Created pod: java-api-checker-9plqz", type="Normal", last=19.5, source="job-controller", api="batch/v1")
    c.event("app-12", "Job", "java-api-checker", "BackoffLimitExceeded", "Job has reached the specified backoff limit", last=18, source="job-controller", api="batch/v1")
    c.neighbours("app-12", "java", n=1)
    return c, alert(c, "KubeJobFailed", {"namespace": "app-12", "job_name": "java-api-checker", "condition": "true"}, starts_ago=16)


@R("31", title="Go orders API crash-loops: its PostgreSQL crash-loops with pg_wal on a full volume", category="dependency_failure",
   deepest="pod/data/orders-db-0", alt_deepest=["persistentvolumeclaim/data/data-orders-db-0"],
   evidence=[["No space left on device"], ["orders-db"]],
   chain="orders-api crash-loops → dial tcp orders-db:5432 connection refused → Service data/orders-db has 0 ready endpoints → pod orders-db-0 crash-loops: PANIC could not write to file pg_wal/xlogtemp: No space left on device (PVC data-orders-db-0)",
   multi_hop=True, red_herrings=["HPA of another workload (search) at its maximum in namespace orders", "stale BackOff warnings from 4 h ago"],
   stack="Go → PostgreSQL", platform="EKS 1.29 containerd", source="https://github.com/openstate/open-raadsinformatie/issues/427 ; https://github.com/docker-library/postgres/issues/248")
def b1_31():
    c = Cluster("b1-31", "eks", "1.29.4")
    pg = C("postgres", "postgres:15.7", ports=[("tcp-postgresql", 5432)], stack="postgres", requests={"cpu": "500m", "memory": "2Gi"},
           readiness={"exec": {"command": ["pg_isready", "-U", "orders"]}})
    c.statefulset("data", "orders-db", [pg], replicas=1, claims=[("data", "/var/lib/postgresql/data", "20Gi")], service=[("tcp-postgresql", 5432, "tcp-postgresql")],
                  pods=[{"c": {"postgres": vars(crashloop(pg, "Error", 1, 14, ago=2.0, ran=0.03))}}])
    c.log("data", "orders-db-0", "postgres",
          "\nPostgreSQL Database directory appears to contain a database; Skipping initialization\n\n"
          "2025-06-03 09:39:24.402 UTC [1] LOG:  starting PostgreSQL 15.7 (Debian 15.7-1.pgdg120+1) on x86_64-pc-linux-gnu, compiled by gcc (Debian 12.2.0-14) 12.2.0, 64-bit\n"
          '2025-06-03 09:39:24.402 UTC [1] LOG:  listening on IPv4 address "0.0.0.0", port 5432\n'
          "2025-06-03 09:39:24.409 UTC [29] LOG:  database system was interrupted; last known up at 2025-06-03 09:12:03 UTC\n"
          "2025-06-03 09:39:24.498 UTC [29] LOG:  database system was not properly shut down; automatic recovery in progress\n"
          "2025-06-03 09:39:24.502 UTC [29] LOG:  redo starts at 3A/7F0012A8\n"
          '2025-06-03 09:39:25.911 UTC [29] PANIC:  could not write to file "pg_wal/xlogtemp.29": No space left on device\n'
          "2025-06-03 09:39:25.914 UTC [1] LOG:  startup process (PID 29) was terminated by signal 6: Aborted\n"
          "2025-06-03 09:39:25.914 UTC [1] LOG:  aborting startup due to startup process failure\n"
          "2025-06-03 09:39:25.921 UTC [1] LOG:  database system is shut down\n")
    api = C("orders-api", f"{ECR}/orders-api:1.42.0", ports=[("http", 8080)], stack="go",
            env={"DATABASE_HOST": "orders-db.data.svc.cluster.local", "DATABASE_PORT": "5432", "DATABASE_NAME": "orders"})
    c.deployment("orders", "orders-api", [api], replicas=2, rs_hash="6b7c8d9f5", service=[("http", 80, "http")],
                 pods=[{"suffix": "fx9kw", "c": {"orders-api": vars(crashloop(api, "Error", 1, 13, ago=0.9, ran=0.5))}},
                       {"suffix": "hl5tn", "c": {"orders-api": vars(crashloop(api, "Error", 1, 12, ago=2.3, ran=0.5))}}])
    ip = c.get("services", "orders-db", "data")["spec"]["clusterIP"]
    for s in ("fx9kw", "hl5tn"):
        pod = f"orders-api-6b7c8d9f5-{s}"
        c.log("orders", pod, "orders-api", "".join(
            '{"level":"error","ts":"%s","caller":"store/pg.go:71","msg":"database ping failed","attempt":%d,"error":"failed to connect to `host=orders-db.data.svc.cluster.local user=orders database=orders`: dial error (dial tcp %s:5432: connect: connection refused)"}\n'
            % (logtime(1.4 - i * 0.1), i + 1, ip) for i in range(5)) +
            '{"level":"fatal","ts":"%s","caller":"orders-api/main.go:88","msg":"cannot start without database","error":"failed to connect to `host=orders-db.data.svc.cluster.local user=orders database=orders`: dial error (dial tcp %s:5432: connect: connection refused)"}\n' % (logtime(0.9), ip))
        c.event("orders", "Pod", pod, "BackOff", f"Back-off restarting failed container orders-api in pod {pod}_orders(x)", count=57, last=0.4, first=44,
                host=c.pods[("orders", pod)]["spec"]["nodeName"], field="spec.containers{orders-api}")
        c.event("orders", "Pod", pod, "BackOff", f"Back-off restarting failed container orders-api in pod {pod}_orders(x)", count=4, last=60 * 4, first=60 * 4 + 6,
                host=c.pods[("orders", pod)]["spec"]["nodeName"], field="spec.containers{orders-api}")
    c.event("data", "Pod", "orders-db-0", "BackOff", "Back-off restarting failed container postgres in pod orders-db-0_data(x)", count=61, last=1.1, first=47,
            host=c.pods[("data", "orders-db-0")]["spec"]["nodeName"], field="spec.containers{postgres}")
    c.deployment("orders", "search", [C("search", f"{ECR}/search:3.3.0", stack="go", ports=[("http", 8080)], requests={"cpu": "200m"})], replicas=6)
    c.hpa("orders", "search", "search", 2, 6, 6, cpu_target=60, cpu_now=91)
    return c, alert(c, "KubePodCrashLooping", {"namespace": "orders", "pod": "orders-api-6b7c8d9f5-fx9kw", "container": "orders-api", "reason": "CrashLoopBackOff",
                                               "uid": c.pods[("orders", "orders-api-6b7c8d9f5-fx9kw")]["metadata"]["uid"]}, starts_ago=21)


@R("32", title="Celery workers die on Redis connection refused: redis-master crash-loops on a corrupt AOF", category="dependency_failure",
   deepest="pod/cache/redis-master-0", evidence=[["redis-master"], ["append only file", "AOF", "redis-check-aof"]],
   chain="celery-worker crash-loops → Error 111 connecting to redis-master.cache:6379 → Service cache/redis-master 0 ready endpoints → redis-master-0 crash-loops: Bad file format reading the append only file",
   multi_hop=True, red_herrings=["HPA of the api deployment at its maximum in the same namespace"], stack="Python/Celery → Redis",
   platform="GKE 1.30 containerd", source=HOLMES + "68_cascading_failures ; composed from experience (Redis AOF corruption after node crash)")
def b1_32():
    c = Cluster("b1-32", "gke", "1.30.5")
    rd = C("redis", "docker.io/bitnami/redis:7.2.5-debian-12-r0", ports=[("redis", 6379)], stack="redis",
           liveness={"exec": {"command": ["sh", "-c", "/health/ping_liveness_local.sh 5"]}})
    c.statefulset("cache", "redis-master", [rd], replicas=1, storage_class="standard-rwo", claims=[("redis-data", "/data", "8Gi")],
                  labels={"app.kubernetes.io/name": "redis", "app.kubernetes.io/component": "master"}, headless=True,
                  service=[("tcp-redis", 6379, "redis")], pods=[{"c": {"redis": vars(crashloop(rd, "Error", 1, 16, ago=1.7, ran=0.02))}}])
    c.log("cache", "redis-master-0", "redis",
          " 09:39:42.10 INFO  ==> ** Starting Redis **\n"
          "1:C 03 Jun 2025 09:39:42.118 * oO0OoO0OoO0Oo Redis is starting oO0OoO0OoO0Oo\n"
          "1:C 03 Jun 2025 09:39:42.118 * Redis version=7.2.5, bits=64, commit=00000000, modified=0, pid=1, just started\n"
          "1:M 03 Jun 2025 09:39:42.121 * Server initialized\n"
          "1:M 03 Jun 2025 09:39:42.122 * Reading RDB base file on AOF loading...\n"
          "1:M 03 Jun 2025 09:39:42.131 # Bad file format reading the append only file appendonly.aof.4.incr.aof: make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>\n")
    w = C("celery-worker", "europe-docker.pkg.dev/acme-prod/apps/tasks:4.0.9", stack="python", command=["celery", "-A", "tasks", "worker", "-l", "INFO"],
          env={"CELERY_BROKER_URL": "redis://redis-master.cache.svc.cluster.local:6379/0"})
    c.deployment("worker", "celery-worker", [w], replicas=3, rs_hash="7d5b9c6f8",
                 pods=[{"suffix": s, "c": {"celery-worker": vars(crashloop(w, "Error", 1, 8 + i, ago=1 + i))}} for i, s in enumerate(("k2vzp", "x9qmd", "4lrgh"))])
    txt = ("".join(f"[{logtime(5 - i * 0.5, 'py')}: ERROR/MainProcess] consumer: Cannot connect to redis://redis-master.cache.svc.cluster.local:6379/0: "
                   f"Error 111 connecting to redis-master.cache.svc.cluster.local:6379. Connection refused..\nTrying again in {2 * (i + 1)}.00 seconds... ({i + 1}/5)\n\n"
                   for i in range(5))
           + f"[{logtime(1, 'py')}: CRITICAL/MainProcess] Unrecoverable error: OperationalError('Error 111 connecting to redis-master.cache.svc.cluster.local:6379. Connection refused.')\n"
           "Traceback (most recent call last):\n  File \"/usr/local/lib/python3.11/site-packages/redis/connection.py\", line 277, in connect\n    sock = self.retry.call_with_retry(\n"
           "ConnectionRefusedError: [Errno 111] Connection refused\n")
    for s in ("k2vzp", "x9qmd", "4lrgh"):
        c.log("worker", f"celery-worker-7d5b9c6f8-{s}", "celery-worker", txt)
    c.deployment("worker", "api", [C("api", "europe-docker.pkg.dev/acme-prod/apps/tasks-api:4.0.9", stack="python", ports=[("http", 8000)],
                                     requests={"cpu": "250m"})], replicas=8, service=[("http", 80, "http")])
    c.hpa("worker", "api", "api", 2, 8, 8, cpu_target=70, cpu_now=93)
    c.event("cache", "Pod", "redis-master-0", "BackOff", "Back-off restarting failed container redis in pod redis-master-0_cache(x)", count=70, last=0.8, first=52,
            host=c.pods[("cache", "redis-master-0")]["spec"]["nodeName"], field="spec.containers{redis}")
    return c, alert(c, "KubePodCrashLooping", {"namespace": "worker", "pod": "celery-worker-7d5b9c6f8-k2vzp", "container": "celery-worker",
                                               "reason": "CrashLoopBackOff", "uid": c.pods[("worker", "celery-worker-7d5b9c6f8-k2vzp")]["metadata"]["uid"]},
                    starts_ago=19)


@R("33", title="Kafka consumers unready: every Strimzi broker crash-loops with No space left on device", category="dependency_failure",
   deepest="pod/kafka/billing-kafka-kafka-0",
   alt_deepest=["pod/kafka/billing-kafka-kafka-1", "pod/kafka/billing-kafka-kafka-2", "persistentvolumeclaim/kafka/data-0-billing-kafka-kafka-0"],
   evidence=[["No space left on device"], ["Broker may not be available", "billing-kafka"]],
   chain="invoice-consumer 0/3 ready (readiness 503) → Connection to node -1 (billing-kafka-kafka-bootstrap:9092) could not be established → bootstrap Service has 0 ready endpoints → brokers crash-loop: KafkaStorageException … No space left on device",
   multi_hop=True, red_herrings=["a consumer pod restarted once two days ago", "Strimzi cluster operator logs reconciliation warnings"],
   stack="Java/Spring Kafka → Kafka (Strimzi)", platform="EKS 1.29 containerd",
   source="https://github.com/strimzi/strimzi-kafka-operator/issues/7484 ; https://github.com/strimzi/strimzi-kafka-operator/issues/4844")
def b1_33():
    c = Cluster("b1-33", "eks", "1.29.4")
    labels = {"strimzi.io/cluster": "billing-kafka", "strimzi.io/kind": "Kafka", "strimzi.io/name": "billing-kafka-kafka", "strimzi.io/broker-role": "true"}
    kimg = "quay.io/strimzi/kafka:0.41.0-kafka-3.7.0"
    for i in range(3):
        name = f"billing-kafka-kafka-{i}"
        k = crashloop(C("kafka", kimg, ports=[("tcp-clients", 9092), ("tcp-replication", 9091)], stack="java",
                        readiness={"exec": {"command": ["/opt/kafka/kafka_readiness.sh"]}}), "Error", 1, 11 + i, ago=1 + i * 0.7, ran=0.4)
        c.pvc("kafka", f"data-0-{name}", size="100Gi", node=c.workers[i], labels=labels)
        c.pod("kafka", name, [k], node=c.workers[i], labels={**labels, "strimzi.io/pod-name": name, "statefulset.kubernetes.io/pod-name": name},
              volumes=[{"name": "data-0", "persistentVolumeClaim": {"claimName": f"data-0-{name}"}}], started_ago=60 * 24 * 20)
        c.set_owner("kafka", name, "core.strimzi.io/v1beta2", "StrimziPodSet", "billing-kafka-kafka")
        c.log("kafka", name, "kafka",
              f"STRIMZI_BROKER_ID={i}\nPreparing truststore for replication listener\n"
              f"2025-06-03 09:3{8 - i}:51,206 INFO [KafkaServer id={i}] starting (kafka.server.KafkaServer) [main]\n"
              f"2025-06-03 09:3{8 - i}:52,580 INFO [LogLoader partition=invoices-3, dir=/var/lib/kafka/data-0/kafka-log{i}] Loading producer state till offset 88211734 (kafka.log.UnifiedLog$) [log-recovery-/var/lib/kafka/data-0/kafka-log{i}]\n"
              f"2025-06-03 09:3{8 - i}:52,911 ERROR [KafkaServer id={i}] Fatal error during KafkaServer startup. Prepare to shutdown (kafka.server.KafkaServer) [main]\n"
              f"org.apache.kafka.common.errors.KafkaStorageException: Error while writing to checkpoint file /var/lib/kafka/data-0/kafka-log{i}/__consumer_offsets-20/leader-epoch-checkpoint\n"
              "Caused by: java.io.IOException: No space left on device\n\tat java.base/java.io.FileOutputStream.writeBytes(Native Method)\n"
              "\tat java.base/java.io.FileOutputStream.write(FileOutputStream.java:367)\n"
              f"2025-06-03 09:3{8 - i}:52,930 INFO [KafkaServer id={i}] shut down completed (kafka.server.KafkaServer) [main]\n")
    c.service("kafka", "billing-kafka-kafka-bootstrap", {"strimzi.io/cluster": "billing-kafka", "strimzi.io/kind": "Kafka", "strimzi.io/broker-role": "true"},
              [("tcp-replication", 9091, 9091), ("tcp-clients", 9092, 9092)], labels={"strimzi.io/cluster": "billing-kafka"})
    c.service("kafka", "billing-kafka-kafka-brokers", {"strimzi.io/cluster": "billing-kafka", "strimzi.io/kind": "Kafka", "strimzi.io/broker-role": "true"},
              [("tcp-replication", 9091, 9091), ("tcp-clients", 9092, 9092)], headless=True)
    c.deployment("kafka", "strimzi-cluster-operator", [C("strimzi-cluster-operator", "quay.io/strimzi/operator:0.41.0", stack="java")], replicas=1,
                 labels={"name": "strimzi-cluster-operator"})
    op = next(p for (n, p) in c.pods if n == "kafka" and p.startswith("strimzi-cluster-operator"))
    c.log("kafka", op, "strimzi-cluster-operator",
          "2025-06-03 09:36:12 WARN  KafkaRoller:1031 - Reconciliation #4188(timer) Kafka(kafka/billing-kafka): Pod billing-kafka-kafka-0 is not ready. We will check if KafkaRoller can do anything about it.\n"
          "2025-06-03 09:36:12 INFO  KafkaRoller:362 - Reconciliation #4188(timer) Kafka(kafka/billing-kafka): Could not verify pod billing-kafka-kafka-0/0 is up-to-date, giving up after 10 attempts. Total delay between attempts 127750ms\n")
    cons = C("invoice-consumer", f"{ECR}/invoice-consumer:3.9.2", ports=[("http", 8080)], stack="java", ready=False,
             env={"SPRING_KAFKA_BOOTSTRAP_SERVERS": "billing-kafka-kafka-bootstrap.kafka.svc:9092"}, readiness=probe_http("/actuator/health/readiness", "http"))
    c.deployment("billing", "invoice-consumer", [cons], replicas=3, rs_hash="6d9f8b7c5",
                 pods=[{"suffix": "j4tkw", "c": {"invoice-consumer": {"restarts": 1, "last": {"exitCode": 143, "reason": "Error", "ago": 60 * 49}}}},
                       {"suffix": "pv8xn"}, {"suffix": "zc2lm"}])
    bip = c.get("services", "billing-kafka-kafka-bootstrap", "kafka")["spec"]["clusterIP"]
    for s in ("j4tkw", "pv8xn", "zc2lm"):
        pod = f"invoice-consumer-6d9f8b7c5-{s}"
        c.log("billing", pod, "invoice-consumer", "".join(
            f"{logtime(3 - i * 0.4)}  WARN 1 --- [invoice-consumer] [ntainer#0-0-C-1] org.apache.kafka.clients.NetworkClient   : [Consumer clientId=consumer-invoice-1, groupId=invoice] "
            f"Connection to node -1 (billing-kafka-kafka-bootstrap.kafka.svc/{bip}:9092) could not be established. Broker may not be available.\n"
            f"{logtime(3 - i * 0.4)}  WARN 1 --- [invoice-consumer] [ntainer#0-0-C-1] org.apache.kafka.clients.NetworkClient   : [Consumer clientId=consumer-invoice-1, groupId=invoice] "
            f"Bootstrap broker billing-kafka-kafka-bootstrap.kafka.svc:9092 (id: -1 rack: null) disconnected\n" for i in range(6)))
        c.event("billing", "Pod", pod, "Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 503", count=150, last=0.2, first=27,
                host=c.pods[("billing", pod)]["spec"]["nodeName"], field="spec.containers{invoice-consumer}")
    return c, alert(c, "KubeDeploymentReplicasMismatch", {"namespace": "billing", "deployment": "invoice-consumer"}, starts_ago=8)


# ================================================================================================ dns_failure
@R("34", title="Notifier cannot resolve its queue (EAI_AGAIN): both CoreDNS pods crash on a forwarding loop", category="dns_failure",
   deepest="pod/kube-system/coredns-5d78c9869d-7xqkb", alt_deepest=["pod/kube-system/coredns-5d78c9869d-q4znm", "deployment/kube-system/coredns"],
   evidence=[["EAI_AGAIN"], ["loop"]],
   chain="notifier crash-loops → getaddrinfo EAI_AGAIN rabbitmq.messaging.svc.cluster.local → kube-dns Service has 0 ready endpoints → coredns pods crash-loop: plugin/loop: Loop detected for zone \".\" (node resolv.conf points at systemd-resolved)",
   multi_hop=True, stack="Node.js", platform="on-prem kubeadm 1.28 containerd (Ubuntu 22.04)",
   source="https://github.com/coredns/coredns/issues/2087 ; https://github.com/kubernetes/kubernetes/issues/68321")
def b1_34():
    c = Cluster("b1-34", "onprem", "1.28.11")
    dep = c.get("deployments", "coredns", "kube-system")
    # replace the healthy CoreDNS pods by crash-looping ones
    for (ns, p) in list(c.pods):
        if ns == "kube-system" and p.startswith("coredns-"):
            c.remove("pods", p, "kube-system")
    c.remove("replicasets", dep["_rs"][-1], "kube-system")
    c.remove("deployments", "coredns", "kube-system")
    core = C("coredns", "registry.k8s.io/coredns/coredns:v1.10.1", args=["-conf", "/etc/coredns/Corefile"], ports=[("dns", 53), ("dns-tcp", 53), ("metrics", 9153)],
             requests={"cpu": "100m", "memory": "70Mi"}, limits={"memory": "170Mi"}, mounts=[("config-volume", "/etc/coredns")],
             liveness=probe_http("/health", 8080, initialDelaySeconds=60, timeoutSeconds=5, failureThreshold=5), readiness=probe_http("/ready", 8181))
    c.deployment("kube-system", "coredns", [core], replicas=2, rs_hash="5d78c9869d", labels={"k8s-app": "kube-dns"}, priority_class="system-cluster-critical",
                 volumes=[{"name": "config-volume", "configMap": {"name": "coredns"}}],
                 pods=[{"suffix": "7xqkb", "c": {"coredns": vars(crashloop(core, "Error", 1, 15, ago=1.1, ran=0.1))}},
                       {"suffix": "q4znm", "c": {"coredns": vars(crashloop(core, "Error", 1, 15, ago=2.4, ran=0.1))}}])
    for s, q in (("7xqkb", "4547991504243258144.3688648895315093531"), ("q4znm", "7087784449798295848.7359092265978106814")):
        c.log("kube-system", f"coredns-5d78c9869d-{s}", "coredns",
              ".:53\n[INFO] plugin/reload: Running configuration SHA512 = 591cf328cccc12bc490481273e738df59329c62c0b729d94e8b61db9961c2fa5f046dd37f1cf888b953814040d180f52594972691cd6ff41be96639138a43908\n"
              "CoreDNS-1.10.1\nlinux/amd64, go1.20, 055b2c3\n"
              f'[FATAL] plugin/loop: Loop (127.0.0.1:4{9443 if s == "7xqkb" else 1877} -> :53) detected for zone ".", see https://coredns.io/plugins/loop#troubleshooting. Query: "HINFO {q}."\n')
        c.event("kube-system", "Pod", f"coredns-5d78c9869d-{s}", "BackOff", f"Back-off restarting failed container coredns in pod coredns-5d78c9869d-{s}_kube-system(x)",
                count=68, last=0.5, first=58, host=c.pods[("kube-system", f"coredns-5d78c9869d-{s}")]["spec"]["nodeName"], field="spec.containers{coredns}")
    c.statefulset("messaging", "rabbitmq", [C("rabbitmq", "docker.io/bitnami/rabbitmq:3.13.3-debian-12-r0", ports=[("amqp", 5672)])], replicas=1,
                  storage_class="ceph-block", claims=[("data", "/bitnami/rabbitmq/mnesia", "8Gi")], service=[("amqp", 5672, "amqp")])
    n = C("notifier", "registry.acme.internal/notifier:1.12.0", stack="node", env={"AMQP_URL": "amqp://notifier@rabbitmq.messaging.svc.cluster.local:5672/"})
    c.deployment("notify", "notifier", [n], replicas=2, rs_hash="58c9d7b6f4",
                 pods=[{"suffix": "8wjzn", "c": {"notifier": vars(crashloop(n, "Error", 1, 12, ago=0.7, ran=0.2))}},
                       {"suffix": "rk2fd", "c": {"notifier": vars(crashloop(n, "Error", 1, 12, ago=1.9, ran=0.2))}}])
    for s in ("8wjzn", "rk2fd"):
        pod = f"notifier-58c9d7b6f4-{s}"
        c.log("notify", pod, "notifier",
              '{"level":30,"time":1748943560000,"pid":1,"hostname":"%s","msg":"notifier 1.12.0 starting"}\n'
              '{"level":50,"time":1748943565000,"pid":1,"hostname":"%s","err":{"type":"Error","message":"getaddrinfo EAI_AGAIN rabbitmq.messaging.svc.cluster.local",'
              '"stack":"Error: getaddrinfo EAI_AGAIN rabbitmq.messaging.svc.cluster.local\\n    at GetAddrInfoReqWrap.onlookup [as oncomplete] (node:dns:107:26)",'
              '"errno":-3001,"code":"EAI_AGAIN","syscall":"getaddrinfo","hostname":"rabbitmq.messaging.svc.cluster.local"},"msg":"failed to connect to AMQP broker"}\n' % (pod, pod))
    return c, alert(c, "KubePodCrashLooping", {"namespace": "notify", "pod": "notifier-58c9d7b6f4-8wjzn", "container": "notifier", "reason": "CrashLoopBackOff",
                                               "uid": c.pods[("notify", "notifier-58c9d7b6f4-8wjzn")]["metadata"]["uid"]}, starts_ago=24)


@R("35", title="Client cannot resolve any name: a default-deny egress NetworkPolicy also blocks DNS", category="dns_failure",
   deepest="networkpolicy/test-ns-42b/default-deny-egress", evidence=[["default-deny-egress"], ["name resolution"]],
   chain="client crash-loops → Temporary failure in name resolution for server.test-ns-42b → CoreDNS healthy → NetworkPolicy default-deny-egress (egress: []) selects every pod in the namespace, so UDP/TCP 53 is blocked",
   multi_hop=True, stack="Python", platform="EKS 1.29 (VPC CNI network policy agent)", source=HOLMES + "42_dns_issues_result_new_tools")
def b1_35():
    c = Cluster("b1-35", "eks", "1.29.4")
    ns = "test-ns-42b"
    c.netpol(ns, "default-deny-egress", {}, egress=[])
    c.netpol(ns, "allow-server-ingress", {"app": "server"}, ingress=[{"from": [{"podSelector": {"matchLabels": {"app": "client"}}}],
                                                                       "ports": [{"protocol": "TCP", "port": 8080}]}])
    c.deployment(ns, "server", [C("server", "nginx:1.25", ports=[("http", 8080)], stack="nginx")], replicas=1, rs_hash="7b6f9d8c5", service=[("http", 80, "http")])
    cl = C("client", f"{ECR}/dns-client-demo:1.0", stack="python", env={"SERVER_URL": "http://server.test-ns-42b.svc.cluster.local/api"})
    c.deployment(ns, "client", [cl], replicas=1, rs_hash="5c8b7d6f9", pods=[{"suffix": "t9kxw", "c": {"client": vars(crashloop(cl, "Error", 1, 9, ago=1.2, ran=0.4))}}])
    pod = "client-5c8b7d6f9-t9kxw"
    c.log(ns, pod, "client",
          "Traceback (most recent call last):\n  File \"/usr/local/lib/python3.12/site-packages/urllib3/connection.py\", line 196, in _new_conn\n"
          "    sock = connection.create_connection(\n           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n"
          "  File \"/usr/local/lib/python3.12/site-packages/urllib3/util/connection.py\", line 60, in create_connection\n"
          "    for res in socket.getaddrinfo(host, port, family, socket.SOCK_STREAM):\n"
          "socket.gaierror: [Errno -3] Temporary failure in name resolution\n\nThe above exception was the direct cause of the following exception:\n\n"
          "requests.exceptions.ConnectionError: HTTPConnectionPool(host='server.test-ns-42b.svc.cluster.local', port=80): Max retries exceeded with url: /api "
          "(Caused by NameResolutionError(\"<urllib3.connection.HTTPConnection object at 0x7f3b2c1d0b90>: Failed to resolve 'server.test-ns-42b.svc.cluster.local' "
          "([Errno -3] Temporary failure in name resolution)\"))\n")
    c.event(ns, "Pod", pod, "BackOff", f"Back-off restarting failed container client in pod {pod}_{ns}(x)", count=40, last=0.5, first=33,
            host=c.pods[(ns, pod)]["spec"]["nodeName"], field="spec.containers{client}")
    return c, alert(c, "KubePodCrashLooping", {"namespace": ns, "pod": pod, "container": "client", "reason": "CrashLoopBackOff",
                                               "uid": c.pods[(ns, pod)]["metadata"]["uid"]}, starts_ago=17)


@R("44", title="Rails app cannot translate its database host: CoreDNS pods pending after the system node group was removed", category="dns_failure",
   deepest="pod/kube-system/coredns-6c7d9f8b5b-2kxwp", alt_deepest=["pod/kube-system/coredns-6c7d9f8b5b-lq8zn", "deployment/kube-system/coredns"],
   evidence=[["could not translate host name", "name resolution"], ["coredns", "kube-dns"]],
   chain="accounts-web crash-loops → could not translate host name accounts-db… Temporary failure in name resolution → kube-dns 0 ready endpoints → coredns pods Pending: node affinity eks.amazonaws.com/nodegroup=system matches no node",
   multi_hop=True, red_herrings=["healthy linkerd-proxy sidecars logging connection resets"], stack="Ruby/Rails", platform="EKS 1.30 containerd",
   source="https://github.com/kubernetes/kubernetes/issues/86762 (name-resolution failures); composed from experience")
def b1_44():
    c = Cluster("b1-44", "eks", "1.30.2")
    dep = c.get("deployments", "coredns", "kube-system")
    for (ns, p) in list(c.pods):
        if ns == "kube-system" and p.startswith("coredns-"):
            c.remove("pods", p, "kube-system")
    c.remove("replicasets", dep["_rs"][-1], "kube-system")
    c.remove("deployments", "coredns", "kube-system")
    core = C("coredns", c.coredns_image, args=["-conf", "/etc/coredns/Corefile"], ports=[("dns", 53), ("dns-tcp", 53), ("metrics", 9153)],
             requests={"cpu": "100m", "memory": "70Mi"}, limits={"memory": "170Mi"}, state="waiting")
    aff = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "eks.amazonaws.com/nodegroup", "operator": "In", "values": ["system"]}]}]}}}
    msg = ("0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector. preemption: 0/3 nodes are available: "
           "3 Preemption is not helpful for scheduling.")
    c.deployment("kube-system", "coredns", [core], replicas=2, rs_hash="6c7d9f8b5b", labels={"k8s-app": "kube-dns"}, affinity=aff,
                 priority_class="system-cluster-critical", rolled_ago=26,
                 pods=[{"suffix": "2kxwp", "node": None, "unschedulable": msg}, {"suffix": "lq8zn", "node": None, "unschedulable": msg}])
    for s in ("2kxwp", "lq8zn"):
        c.event("kube-system", "Pod", f"coredns-6c7d9f8b5b-{s}", "FailedScheduling", msg, count=9, last=1.5, first=26, source="default-scheduler")
    c.event("default", "Node", "ip-10-0-99-17.ec2.internal", "RemovingNode", "Node ip-10-0-99-17.ec2.internal event: Removing Node ip-10-0-99-17.ec2.internal from Controller",
            type="Normal", last=27, source="node-controller")
    web = C("web", f"{ECR}/accounts-web:2025.06.1", ports=[("http", 3000)], stack="ruby",
            env={"DATABASE_URL": "postgres://accounts@accounts-db.accounts.svc.cluster.local:5432/accounts_production", "RAILS_ENV": "production"})
    proxy = C("linkerd-proxy", "cr.l5d.io/linkerd/proxy:edge-24.5.5", ports=[("linkerd-admin", 4191)], stack="generic")
    c.deployment("accounts", "accounts-web", [web, proxy], replicas=2, rs_hash="7b8c6d9f5",
                 pods=[{"suffix": s, "c": {"web": vars(crashloop(web, "Error", 1, 7, ago=1 + i))}} for i, s in enumerate(("m4xqz", "w7kdp"))])
    for s in ("m4xqz", "w7kdp"):
        pod = f"accounts-web-7b8c6d9f5-{s}"
        c.log("accounts", pod, "web",
              "=> Booting Puma\n=> Rails 7.1.3.4 application starting in production\n=> Run `bin/rails server --help` for more startup options\n"
              "/usr/local/bundle/gems/activerecord-7.1.3.4/lib/active_record/connection_adapters/postgresql_adapter.rb:67:in `rescue in new_client': "
              'could not translate host name "accounts-db.accounts.svc.cluster.local" to address: Temporary failure in name resolution (ActiveRecord::ConnectionNotEstablished)\n'
              "\tfrom /usr/local/bundle/gems/activerecord-7.1.3.4/lib/active_record/connection_adapters/postgresql_adapter.rb:53:in `new_client'\n")
        c.log("accounts", pod, "linkerd-proxy",
              "[     0.002117s]  INFO ThreadId(01) linkerd2_proxy: release 2.235.0 (edge-24.5.5) by linkerd on 2025-05-29T18:04:30Z\n"
              "[  3124.518213s]  WARN ThreadId(01) inbound:server{port=3000}: linkerd_app_inbound::policy::http: Request denied server=default:all-unauthenticated\n"
              "[  3391.007712s]  INFO ThreadId(01) outbound: linkerd_app_core::serve: Connection closed error=connection reset by peer (os error 104) client.addr=10.244.1.17:52712\n")
    c.statefulset("accounts", "accounts-db", [C("postgres", "postgres:16.3", ports=[("postgres", 5432)], stack="postgres")], replicas=1,
                  claims=[("data", "/var/lib/postgresql/data", "50Gi")], service=[("postgres", 5432, "postgres")])
    return c, alert(c, "KubeDeploymentReplicasMismatch", {"namespace": "accounts", "deployment": "accounts-web"}, starts_ago=9)


# ================================================================================================ autoscaler_at_max
@R("36", title="Checkout HPA pinned at 10/10 with CPU at 165% of target", category="autoscaler_at_max",
   deepest="horizontalpodautoscaler/shop/checkout", evidence=[["165", "TooManyReplicas", "ScalingLimited", "maximum"]],
   chain="KubeHpaMaxedOut → HPA checkout currentReplicas 10 = maxReplicas 10, CPU 165% vs 70% target, ScalingLimited TooManyReplicas",
   multi_hop=False, stack="Java", platform="EKS 1.29 containerd",
   source="https://github.com/kubernetes/kubernetes/issues/56165 (HPA describe output); composed from experience")
def b1_36():
    c = Cluster("b1-36", "eks", "1.29.4", workers=4)
    app = C("checkout", f"{ECR}/checkout:v2.14.0", ports=[("http", 8080)], stack="java", requests={"cpu": "500m", "memory": "1Gi"}, limits={"memory": "1Gi"})
    c.deployment("shop", "checkout", [app], replicas=10, rs_hash="77c9d5b48", service=[("http", 80, "http")])
    c.hpa("shop", "checkout", "checkout", 3, 10, 10, cpu_target=70, cpu_now=165, desired=10)
    c.event("shop", "HorizontalPodAutoscaler", "checkout", "SuccessfulRescale", "New size: 10; reason: cpu resource utilization (percentage of request) above target",
            type="Normal", last=34, source="horizontal-pod-autoscaler", api="autoscaling/v2")
    c.neighbours("shop", "java", n=2)
    return c, alert(c, "KubeHpaMaxedOut", {"namespace": "shop", "horizontalpodautoscaler": "checkout"}, starts_ago=18)


@R("37", title="Search latency alert from the app's own ServiceMonitor: the HPA behind it is at 20/20", category="autoscaler_at_max",
   deepest="horizontalpodautoscaler/search/search-api", evidence=[["240", "TooManyReplicas", "ScalingLimited", "maximum", "20"]],
   chain="SearchAPIHighLatency (service search-api) → Deployment search-api 20/20 → HPA search-api at maxReplicas 20 with CPU 240% of a 60% target",
   multi_hop=True, red_herrings=["one search-api pod was OOMKilled two days ago and is healthy since"], stack="Go", platform="GKE 1.30 containerd",
   source="composed from experience")
def b1_37():
    c = Cluster("b1-37", "gke", "1.30.5", workers=5)
    app = C("search-api", "europe-docker.pkg.dev/acme-prod/apps/search-api:5.8.2", ports=[("http", 8080), ("http-metrics", 9090)], stack="go",
            requests={"cpu": "500m", "memory": "512Mi"}, limits={"memory": "1Gi"})
    pods = [{} for _ in range(20)]
    pods[3] = {"suffix": "d4kqm", "c": {"search-api": {"restarts": 1, "last": {"exitCode": 137, "reason": "OOMKilled", "ago": 60 * 47}}}}
    c.deployment("search", "search-api", [app], replicas=20, rs_hash="6f9d7c8b5", service=[("http", 80, "http"), ("http-metrics", 9090, "http-metrics")], pods=pods)
    c.hpa("search", "search-api", "search-api", 4, 20, 20, cpu_target=60, cpu_now=240)
    c.event("search", "HorizontalPodAutoscaler", "search-api", "SuccessfulRescale", "New size: 20; reason: cpu resource utilization (percentage of request) above target",
            type="Normal", last=41, source="horizontal-pod-autoscaler", api="autoscaling/v2")
    c.neighbours("search", "go", n=1)
    a = alert(c, "SearchAPIHighLatency", {"job": "search-api", "namespace": "search", "service": "search-api", "endpoint": "http-metrics"}, target=None,
              starts_ago=11, annotations={"summary": "search-api p99 latency above 2s", "description": "p99 request latency of search-api in search is 3.4s (threshold 2s) for 10 minutes."},
              expr='histogram_quantile(0.99, sum by (le, job, namespace, service, endpoint) (rate(http_request_duration_seconds_bucket{job="search-api"}[5m]))) > 2')
    return c, a


# ================================================================================================ admission_webhook_failure
@R("38", title="ledger-api cannot scale: Gatekeeper's fail-closed webhook has no endpoints (its pods are OOMKilled)", category="admission_webhook_failure",
   deepest="pod/gatekeeper-system/gatekeeper-controller-manager-6c9d8b7f4-5kq2z",
   alt_deepest=["pod/gatekeeper-system/gatekeeper-controller-manager-6c9d8b7f4-b8xwm", "pod/gatekeeper-system/gatekeeper-controller-manager-6c9d8b7f4-tz6jn",
                "service/gatekeeper-system/gatekeeper-webhook-service", "deployment/gatekeeper-system/gatekeeper-controller-manager"],
   evidence=[["gatekeeper"], ["no endpoints available"]],
   chain="ledger-api 2/4 → ReplicaSet FailedCreate: failed calling webhook validation.gatekeeper.sh (failurePolicy Fail) → gatekeeper-webhook-service has no endpoints → gatekeeper-controller-manager pods crash-loop OOMKilled",
   multi_hop=True, stack="Go", platform="EKS 1.29 containerd", source="https://github.com/open-policy-agent/gatekeeper/issues/2423")
def b1_38():
    c = Cluster("b1-38", "eks", "1.29.4")
    gk = C("manager", "openpolicyagent/gatekeeper:v3.16.3", ports=[("webhook-server", 8443), ("metrics", 8888)], stack="go",
           requests={"cpu": "100m", "memory": "256Mi"}, limits={"memory": "512Mi"}, readiness=probe_http("/readyz", 9090))
    c.deployment("gatekeeper-system", "gatekeeper-controller-manager", [gk], replicas=3, rs_hash="6c9d8b7f4",
                 labels={"control-plane": "controller-manager", "gatekeeper.sh/operation": "webhook"},
                 pods=[{"suffix": s, "c": {"manager": vars(crashloop(gk, "OOMKilled", 137, 18 + i, ago=1 + i, ran=1.5))}} for i, s in enumerate(("5kq2z", "b8xwm", "tz6jn"))])
    c.service("gatekeeper-system", "gatekeeper-webhook-service", {"control-plane": "controller-manager", "gatekeeper.sh/operation": "webhook"},
              [("https-webhook-server", 443, "webhook-server")])
    c.webhook("gatekeeper-validating-webhook-configuration", [
        {"name": "validation.gatekeeper.sh", "service": ("gatekeeper-system", "gatekeeper-webhook-service", "/v1/admit", 443), "failurePolicy": "Fail", "timeout": 3,
         "rules": [{"apiGroups": ["*"], "apiVersions": ["*"], "operations": ["CREATE", "UPDATE"], "resources": ["*"], "scope": "*"}]},
        {"name": "check-ignore-label.gatekeeper.sh", "service": ("gatekeeper-system", "gatekeeper-webhook-service", "/v1/admitlabel", 443), "failurePolicy": "Fail",
         "timeout": 3, "rules": [{"apiGroups": [""], "apiVersions": ["*"], "operations": ["CREATE", "UPDATE"], "resources": ["namespaces"], "scope": "*"}]}])
    for i, s in enumerate(("5kq2z", "b8xwm", "tz6jn")):
        p = f"gatekeeper-controller-manager-6c9d8b7f4-{s}"
        c.log("gatekeeper-system", p, "manager",
              '{"level":"info","ts":1748943401.22,"logger":"setup","msg":"setting up manager","audit":false}\n'
              '{"level":"info","ts":1748943403.91,"logger":"controllers.ConstraintTemplate","msg":"loading constraint templates","count":212}\n'
              '{"level":"info","ts":1748943409.57,"logger":"readiness-tracker","msg":"waiting for constraints to be ingested","pending":3820}\n')
    msg = ('Error creating: Internal error occurred: failed calling webhook "validation.gatekeeper.sh": failed to call webhook: Post '
           '"https://gatekeeper-webhook-service.gatekeeper-system.svc:443/v1/admit?timeout=3s": no endpoints available for service "gatekeeper-webhook-service"')
    app = C("ledger-api", f"{ECR}/ledger-api:3.1.0", ports=[("http", 8080)], stack="go", requests={"cpu": "250m", "memory": "256Mi"})
    c.deployment("accounts", "ledger-api", [app], replicas=4, rs_hash="5f8d6c9b7", service=[("http", 80, "http")], pods=[{}, {}], desired=4)
    c.hpa("accounts", "ledger-api", "ledger-api", 2, 8, 2, cpu_target=70, cpu_now=118, desired=4)
    c.event("accounts", "ReplicaSet", "ledger-api-5f8d6c9b7", "FailedCreate", msg, count=23, last=0.7, first=24, source="replicaset-controller", api="apps/v1")
    c.event("accounts", "Deployment", "ledger-api", "ScalingReplicaSet", "Scaled up replica set ledger-api-5f8d6c9b7 to 4 from 2", type="Normal", last=24,
            source="deployment-controller", api="apps/v1")
    return c, alert(c, "KubeDeploymentReplicasMismatch", {"namespace": "accounts", "deployment": "ledger-api"}, starts_ago=8)


@R("39", title="Kyverno policy denies refund-worker pods without resource limits", category="admission_webhook_failure",
   deepest="replicaset/payments/refund-worker-6b7d9c8f5", alt_deepest=["deployment/payments/refund-worker", "validatingwebhookconfiguration/kyverno-resource-validating-webhook-cfg"],
   evidence=[["require-requests-limits"], ["denied the request"]],
   chain="deployment refund-worker 0/2 → ReplicaSet FailedCreate: admission webhook validate.kyverno.svc-fail denied the request: policy require-requests-limits",
   multi_hop=False, stack="Python", platform="AKS 1.29 containerd", source="https://github.com/kyverno/kyverno/issues/1336 ; https://kyverno.io/policies/best-practices/require-pod-requests-limits/")
def b1_39():
    c = Cluster("b1-39", "aks", "1.29.4")
    kv = C("kyverno", "ghcr.io/kyverno/kyverno:v1.12.3", ports=[("https", 9443)], stack="go")
    c.deployment("kyverno", "kyverno-admission-controller", [kv], replicas=3, labels={"app.kubernetes.io/component": "admission-controller"},
                 service=[("https", 443, "https")], svc_name="kyverno-svc")
    c.webhook("kyverno-resource-validating-webhook-cfg", [
        {"name": "validate.kyverno.svc-fail", "service": ("kyverno", "kyverno-svc", "/validate/fail", 443), "failurePolicy": "Fail", "timeout": 10}])
    app = C("refund-worker", "acmeprod.azurecr.io/refund-worker:1.0.0", stack="python")
    cond = [{"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable", "message": "Deployment does not have minimum availability.",
             "lastUpdateTime": ts(22), "lastTransitionTime": ts(22)},
            {"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate",
             "message": 'admission webhook "validate.kyverno.svc-fail" denied the request: \n\nresource Pod/payments/refund-worker-6b7d9c8f5-2nwxq was blocked due to the following policies \n\nrequire-requests-limits:\n  validate-resources: \'validation error: CPU and memory resource requests and limits are required. rule validate-resources failed at path /spec/containers/0/resources/limits/\'\n',
             "lastUpdateTime": ts(22), "lastTransitionTime": ts(22)}]
    c.deployment("payments", "refund-worker", [app], replicas=2, rs_hash="6b7d9c8f5", rolled_ago=22, created_ago=22, pods=[], conditions=cond)
    c.event("payments", "ReplicaSet", "refund-worker-6b7d9c8f5", "FailedCreate",
            '(combined from similar events): Error creating: admission webhook "validate.kyverno.svc-fail" denied the request: \n\nresource Pod/payments/refund-worker-6b7d9c8f5-h4kzt was blocked due to the following policies \n\nrequire-requests-limits:\n  validate-resources: \'validation error: CPU and memory resource requests and limits are required. rule validate-resources failed at path /spec/containers/0/resources/limits/\'\n',
            count=16, last=1.2, first=22, source="replicaset-controller", api="apps/v1")
    c.event("payments", "Deployment", "refund-worker", "ScalingReplicaSet", "Scaled up replica set refund-worker-6b7d9c8f5 to 2", type="Normal", last=22,
            source="deployment-controller", api="apps/v1")
    c.neighbours("payments", "python", n=2)
    return c, alert(c, "KubeDeploymentReplicasMismatch", {"namespace": "payments", "deployment": "refund-worker"}, starts_ago=6)


# ================================================================================================ unknown
@R("40", title="Replica-mismatch alert for a deployment whose rollout has since completed", category="unknown", deepest="", evidence=[],
   chain="profile 3/3 ready after a normal rollout 18 min ago; nothing abnormal now",
   multi_hop=False, red_herrings=["readiness warnings during the rollout's start-up, 17 min ago"], stack="Go", platform="EKS 1.29 containerd",
   source="composed from experience (alert arriving after recovery)")
def b1_40():
    c = Cluster("b1-40", "eks", "1.29.4")
    app = C("profile", f"{ECR}/profile:7.4.0", ports=[("http", 8080)], stack="go", readiness=probe_http("/healthz", "http", initialDelaySeconds=5))
    c.deployment("accounts", "profile", [app], replicas=3, rs_hash="7d6c5b9f8", revision=12, rolled_ago=18, service=[("http", 80, "http")],
                 old_rs={"hash": "6f7b8c9d5", "replicas": 0, "containers": [replace(app, image=f"{ECR}/profile:7.3.9")], "pods": []})
    for s in list(c.pods):
        if s[0] == "accounts" and s[1].startswith("profile-7d6c5b9f8"):
            c.event("accounts", "Pod", s[1], "Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 503", count=2, last=17.5, first=17.8,
                    host=c.pods[s]["spec"]["nodeName"], field="spec.containers{profile}")
    c.event("accounts", "Deployment", "profile", "ScalingReplicaSet", "Scaled up replica set profile-7d6c5b9f8 to 3 from 2", type="Normal", last=17,
            source="deployment-controller", api="apps/v1")
    c.event("accounts", "Deployment", "profile", "ScalingReplicaSet", "Scaled down replica set profile-6f7b8c9d5 to 0 from 1", type="Normal", last=16.5,
            source="deployment-controller", api="apps/v1")
    c.neighbours("accounts", "go", n=2)
    return c, alert(c, "KubeDeploymentReplicasMismatch", {"namespace": "accounts", "deployment": "profile"}, starts_ago=14)


@R("41", title="CPUThrottlingHigh on a healthy dashboards API (informational; nothing is failing)", category="unknown", deepest="", evidence=[],
   chain="dashboards-api Running and ready, no restarts, no warnings; throttling alone explains no failure",
   multi_hop=False, red_herrings=["istio-proxy sidecar warnings"], stack="Python", platform="GKE 1.29 containerd", source="composed from experience")
def b1_41():
    c = Cluster("b1-41", "gke", "1.29.6")
    app = C("dashboards-api", "europe-docker.pkg.dev/acme-prod/apps/dashboards-api:2.2.0", ports=[("http", 8000)], stack="python",
            requests={"cpu": "200m", "memory": "256Mi"}, limits={"cpu": "500m", "memory": "512Mi"})
    side = C("istio-proxy", "docker.io/istio/proxyv2:1.22.1", stack="envoy", ports=[("http-envoy-prom", 15090)])
    c.deployment("analytics", "dashboards-api", [app, side], replicas=2, rs_hash="5b6c7d8f9", service=[("http", 80, "http")])
    c.neighbours("analytics", "python", n=2, sidecar="istio")
    return c, alert(c, "CPUThrottlingHigh", {"namespace": "analytics", "pod": "dashboards-api-5b6c7d8f9-" + next(
        p.rsplit("-", 1)[1] for (n, p) in c.pods if n == "analytics" and p.startswith("dashboards-api-")), "container": "dashboards-api"},
        target=None, severity="info", starts_ago=20)


@R("42", title="Pod-not-ready alert for a pod replaced by a rollout; an unrelated namespace has a crash loop", category="unknown", deepest="", evidence=[],
   chain="pod web-5f7c9d8b6-9xk2q no longer exists; Deployment web 3/3 on its new revision",
   multi_hop=False, red_herrings=["crash-looping pod in unrelated namespace sandbox"], stack="Node.js", platform="AKS 1.28 containerd",
   source="composed from experience")
def b1_42():
    c = Cluster("b1-42", "aks", "1.28.9")
    app = C("web", "acmeprod.azurecr.io/web:12.0.3", ports=[("http", 3000)], stack="node", readiness=probe_http("/health", "http"))
    c.deployment("portal", "web", [app], replicas=3, rs_hash="7b8d9c6f5", revision=40, rolled_ago=11, service=[("http", 80, "http")])
    c.event("portal", "Deployment", "web", "ScalingReplicaSet", "Scaled down replica set web-5f7c9d8b6 to 0 from 1", type="Normal", last=10,
            source="deployment-controller", api="apps/v1")
    c.event("portal", "Pod", "web-5f7c9d8b6-9xk2q", "Killing", "Stopping container web", type="Normal", last=10, host=c.workers[0], field="spec.containers{web}")
    sb = C("experiment", "acmeprod.azurecr.io/experiment:0.0.1-dev", stack="python")
    c.deployment("sandbox", "experiment", [sb], replicas=1, rs_hash="9c8d7f6b5",
                 pods=[{"suffix": "zz9qk", "c": {"experiment": vars(crashloop(sb, "Error", 1, 230, ago=2))}}])
    c.log("sandbox", "experiment-9c8d7f6b5-zz9qk", "experiment", "ModuleNotFoundError: No module named 'torch'\n")
    c.neighbours("portal", "node", n=2)
    return c, alert(c, "KubePodNotReady", {"namespace": "portal", "pod": "web-5f7c9d8b6-9xk2q"}, target=None, starts_ago=16)


@R("43", title=".NET order intake dies: its single RabbitMQ pod sits on a node that stopped reporting", category="dependency_failure",
   deepest="node/aks-nodepool1-26081548-vmss000002", alt_deepest=["pod/messaging/rabbitmq-0"], alt_categories=["node_not_ready"],
   evidence=[["rabbitmq"], ["Kubelet stopped posting node status", "NotReady", "Unknown", "vmss000002"]],
   chain="order-intake crash-loops (exit 134) → BrokerUnreachableException: rabbitmq.messaging:5672 connection refused → Service rabbitmq 0 ready endpoints → rabbitmq-0 not ready/terminating → node vmss000002 Ready=Unknown: Kubelet stopped posting node status",
   multi_hop=True, stack=".NET 8 → RabbitMQ", platform="AKS 1.29 containerd",
   source="https://github.com/kubernetes/kubernetes/issues/86451 ; composed from experience")
def b1_43():
    c = Cluster("b1-43", "aks", "1.29.4", workers=2, worker_names=["aks-nodepool1-26081548-vmss000000", "aks-nodepool1-26081548-vmss000001"])
    bad = c.join_node(60 * 24 * 20, name="aks-nodepool1-26081548-vmss000002")
    c.workers.remove(bad)
    rmq = C("rabbitmq", "docker.io/bitnami/rabbitmq:3.13.3-debian-12-r0", ports=[("amqp", 5672), ("stats", 15672)])
    c.statefulset("messaging", "rabbitmq", [rmq], replicas=1, storage_class="managed-csi", claims=[("data", "/bitnami/rabbitmq/mnesia", "8Gi")],
                  service=[("amqp", 5672, "amqp")], pods=[{"node": bad}])
    c.node_not_ready(bad, "unknown", since=26)
    c.mark_pods_not_ready(bad, since=25.5)
    c.event("messaging", "Pod", "rabbitmq-0", "NodeNotReady", "Node is not ready", last=25, source="node-controller")
    c.event("messaging", "Pod", "rabbitmq-0", "TaintManagerEviction", "Marking for deletion Pod messaging/rabbitmq-0", type="Normal", last=20,
            source="taint-eviction-controller")
    c.event("default", "Node", bad, "NodeNotReady", f"Node {bad} status is now: NodeNotReady", type="Normal", last=26, source="node-controller")
    app = C("order-intake", "acmeprod.azurecr.io/order-intake:5.0.2", ports=[("http", 8080)], stack="dotnet",
            env={"RabbitMq__Host": "rabbitmq.messaging.svc.cluster.local", "RabbitMq__Port": "5672"})
    c.deployment("orders", "order-intake", [app], replicas=2, rs_hash="6d8c9f7b5",
                 pods=[{"suffix": s, "c": {"order-intake": vars(crashloop(app, "Error", 134, 9, ago=1 + i, ran=0.3))}} for i, s in enumerate(("v2kxq", "8hdzn"))])
    for s in ("v2kxq", "8hdzn"):
        c.log("orders", f"order-intake-6d8c9f7b5-{s}", "order-intake",
              "info: Microsoft.Hosting.Lifetime[0]\n      Application is starting.\n"
              "fail: OrderIntake.Messaging.BusConnection[0]\n      Unable to connect to RabbitMQ at rabbitmq.messaging.svc.cluster.local:5672\n"
              "      RabbitMQ.Client.Exceptions.BrokerUnreachableException: None of the specified endpoints were reachable\n"
              "       ---> System.AggregateException: One or more errors occurred. (Connection failed)\n"
              "       ---> RabbitMQ.Client.Exceptions.ConnectFailureException: Connection failed\n"
              "       ---> System.Net.Sockets.SocketException (111): Connection refused\n"
              "Unhandled exception. RabbitMQ.Client.Exceptions.BrokerUnreachableException: None of the specified endpoints were reachable\n"
              "   at RabbitMQ.Client.ConnectionFactory.CreateConnection(IEndpointResolver endpointResolver, String clientProvidedName)\n"
              "   at OrderIntake.Program.Main(String[] args) in /src/OrderIntake/Program.cs:line 41\n")
    c.neighbours("orders", "dotnet", n=1)
    return c, alert(c, "KubePodCrashLooping", {"namespace": "orders", "pod": "order-intake-6d8c9f7b5-v2kxq", "container": "order-intake", "reason": "CrashLoopBackOff",
                                               "uid": c.pods[("orders", "order-intake-6d8c9f7b5-v2kxq")]["metadata"]["uid"]}, starts_ago=15)
