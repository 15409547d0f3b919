"""Held-out set b2: 55 incidents, a second, independent draw — other platforms (GKE, AKS, OpenShift/CRI-O, on-prem),
Kubernetes 1.25–1.33 wording, other stacks, deeper chains. Frozen once committed (see README.md)."""

from __future__ import annotations

from dataclasses import replace

from tests.heldout.b1 import probe_http, spring_start
from tests.heldout.kit import C, Cluster, Registry, _safe, _uid, alert, crashloop, logtime, ts

R = Registry("b2")
HOLMES = "https://github.com/robusta-dev/holmesgpt/tree/master/tests/llm/fixtures/test_ask_holmes/"
ECR = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
GAR = "europe-docker.pkg.dev/acme-prod/apps"
ACR = "acmeprod.azurecr.io"


def replace_system_pods(c: Cluster, ns: str, prefix: str) -> None:
    """Drop the healthy pods (and ReplicaSet/Deployment) of a system workload so the incident can rebuild it failing."""
    for (n, p) in list(c.pods):
        if n == ns and p.startswith(prefix + "-"):
            c.remove("pods", p, ns)
    try:
        dep = c.get("deployments", prefix, ns)
        for rs in dep.get("_rs", []):
            c.remove("replicasets", rs, ns)
        c.remove("deployments", prefix, ns)
    except KeyError:
        pass


def crash_pod_alert(c: Cluster, ns: str, pod: str, container: str, starts_ago: float = 12) -> dict:
    return alert(c, "KubePodCrashLooping", {"namespace": ns, "pod": pod, "container": container, "reason": "CrashLoopBackOff",
                                            "uid": c.pods[(ns, pod)]["metadata"]["uid"]}, starts_ago=starts_ago)


def app_alert(c: Cluster, name: str, ns: str, job: str, pod: str, container: str, port: int, summary: str, desc: str, expr: str,
              starts_ago: float = 8) -> dict:
    """An alert from the application's own PrometheusRule, whose series come from its ServiceMonitor: the scrape
    target's labels are the application's pod."""
    ip = c.pods[(ns, pod)]["status"].get("podIP", "10.0.0.1")
    return alert(c, name, {"namespace": ns, "job": job, "service": job, "endpoint": "http-metrics", "pod": pod, "container": container,
                           "instance": f"{ip}:{port}"}, target=None, starts_ago=starts_ago,
                 annotations={"summary": summary, "description": desc}, expr=expr)


# ================================================================================================ oom_killed
@R("01", title="MySQL StatefulSet OOMKilled: innodb_buffer_pool_size 2G inside a 1.5Gi limit", category="oom_killed",
   deepest="pod/shop-db/mysql-0", evidence=[["OOMKilled"]],
   chain="StatefulSet mysql 0/1 → mysql-0 restarts, last state OOMKilled (137) → my.cnf buffer pool 2G vs 1536Mi limit",
   multi_hop=False, red_herrings=["cache pod OOMKilled two days ago, healthy since"], stack="MySQL 8", platform="GKE 1.30 containerd",
   source="https://github.com/bitnami/charts (mysql primary OOM reports); composed from experience")
def b2_01():
    c = Cluster("b2-01", "gke", "1.30.5")
    c.configmap("shop-db", "mysql", {"my.cnf": "[mysqld]\ninnodb_buffer_pool_size=2G\nmax_connections=500\n"})
    m = C("mysql", "docker.io/bitnami/mysql:8.0.37-debian-12-r2", ports=[("mysql", 3306)], requests={"cpu": "500m", "memory": "1536Mi"},
          limits={"memory": "1536Mi"}, mounts=[("config", "/opt/bitnami/mysql/conf/my.cnf")])
    c.statefulset("shop-db", "mysql", [m], replicas=1, storage_class="premium-rwo", claims=[("data", "/bitnami/mysql", "50Gi")],
                  volumes=[{"name": "config", "configMap": {"name": "mysql"}}], service=[("mysql", 3306, "mysql")],
                  pods=[{"c": {"mysql": vars(crashloop(m, "OOMKilled", 137, 8, ago=2, ran=1.4))}}])
    c.log("shop-db", "mysql-0", "mysql",
          "mysql 09:38:01.12 INFO  ==> ** Starting MySQL setup **\nmysql 09:38:01.20 INFO  ==> Validating settings in MYSQL_*/MARIADB_* env vars\n"
          "mysql 09:38:01.41 INFO  ==> ** MySQL setup finished! **\nmysql 09:38:01.46 INFO  ==> ** Starting MySQL **\n"
          "2025-06-03T09:38:01.872918Z 0 [System] [MY-010116] [Server] /opt/bitnami/mysql/bin/mysqld (mysqld 8.0.37) starting as process 1\n"
          "2025-06-03T09:38:01.880345Z 1 [System] [MY-013576] [InnoDB] InnoDB initialization has started.\n"
          "2025-06-03T09:38:01.880512Z 1 [Note] [MY-012944] [InnoDB] Initializing buffer pool, total size = 2.000000G, instances = 8, chunk size = 128.000000M\n"
          "2025-06-03T09:38:02.411091Z 1 [Note] [MY-012957] [InnoDB] Completed initialization of buffer pool\n"
          "2025-06-03T09:38:04.020331Z 1 [System] [MY-013577] [InnoDB] InnoDB initialization has ended.\n"
          "2025-06-03T09:38:05.771208Z 0 [System] [MY-010931] [Server] /opt/bitnami/mysql/bin/mysqld: ready for connections. Version: '8.0.37'  socket: '/opt/bitnami/mysql/tmp/mysql.sock'  port: 3306  Source distribution.\n"
          "2025-06-03T09:38:41.003117Z 0 [Note] [MY-011953] [InnoDB] Page cleaner took 4211ms to flush 2000 pages\n")
    c.deployment("shop-db", "cache", [C("memcached", "memcached:1.6.27", ports=[("memcache", 11211)])], replicas=1,
                 pods=[{"c": {"memcached": {"restarts": 1, "last": {"exitCode": 137, "reason": "OOMKilled", "ago": 60 * 47}}}}])
    c.event("shop-db", "Pod", "mysql-0", "BackOff", "Back-off restarting failed container mysql in pod mysql-0_shop-db(x)", count=39, last=0.6, first=33,
            host=c.pods[("shop-db", "mysql-0")]["spec"]["nodeName"], field="spec.containers{mysql}")
    return c, alert(c, "KubeStatefulSetReplicasMismatch", {"namespace": "shop-db", "statefulset": "mysql"}, starts_ago=14)


@R("02", title="Nightly export CronJob run fails: every attempt OOMKilled while loading a dataframe", category="oom_killed",
   deepest="pod/data/nightly-export-29146020-8qkxz", alt_deepest=["pod/data/nightly-export-29146020-l4vtn", "pod/data/nightly-export-29146020-w2bcd"],
   evidence=[["OOMKilled"]], chain="Job nightly-export-29146020 failed (BackoffLimitExceeded) → its 3 pods terminated OOMKilled (137) reading a 9 GB parquet into a 2Gi container",
   multi_hop=False, red_herrings=["readiness warnings of an unrelated pod from 5 h ago"], stack="Python/pandas", platform="AKS 1.29 containerd",
   source="composed from experience")
def b2_02():
    c = Cluster("b2-02", "aks", "1.29.4")
    j = C("export", f"{ACR}/nightly-export:3.4.1", stack="python", requests={"cpu": "1", "memory": "2Gi"}, limits={"memory": "2Gi"},
          state="terminated", exit_code=137, reason="OOMKilled", ready=False)
    c.job("data", "nightly-export-29146020", [j], backoff=2, cronjob="nightly-export", created_ago=58,
          pods=[{"suffix": "8qkxz", "started_ago": 57}, {"suffix": "l4vtn", "started_ago": 44}, {"suffix": "w2bcd", "started_ago": 21}],
          conditions=[{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit",
                       "lastProbeTime": ts(9), "lastTransitionTime": ts(9)}])
    for s in ("8qkxz", "l4vtn", "w2bcd"):
        c.log("data", f"nightly-export-29146020-{s}", "export",
              "2025-06-03 09:01:02,114 INFO export: reading abfss://lake@acmedata.dfs.core.windows.net/orders/2025/06/02/ (37 files, 9.1 GB)\n"
              + "".join(f"2025-06-03 09:0{i + 1}:1{i},552 INFO export: loaded part-{i:05d}.parquet rows=4,81{i},220\n" for i in range(6)))
    c.event("data", "Job", "nightly-export-29146020", "BackoffLimitExceeded", "Job has reached the specified backoff limit", last=9, source="job-controller", api="batch/v1")
    c.neighbours("data", "python", n=1)
    c.event("data", "Pod", "catalog-" + "x", "Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 500", count=4, last=60 * 5, first=60 * 5 + 2,
            host=c.workers[0])
    return c, alert(c, "KubeJobFailed", {"namespace": "data", "job_name": "nightly-export-29146020", "condition": "true"}, starts_ago=7)


# ================================================================================================ application_crash
@R("03", title="Rust quote engine panics on a config value (\"30s\" where an integer is expected)", category="application_crash",
   deepest="pod/pricing/quote-engine-7b6d8c9f5-hk4tq", evidence=[["panicked", "panic"]],
   chain="quote-engine exits 101 → thread 'main' panicked at src/config.rs: invalid type: string \"30s\", expected u64",
   multi_hop=False, red_herrings=["HPA of web/frontend at its maximum"], stack="Rust", platform="EKS 1.31 containerd",
   source="composed from experience")
def b2_03():
    c = Cluster("b2-03", "eks", "1.31.0")
    q = C("quote-engine", f"{ECR}/quote-engine:0.31.0", ports=[("http", 8080)], stack="rust", requests={"cpu": "200m", "memory": "128Mi"})
    c.deployment("pricing", "quote-engine", [q], replicas=2, rs_hash="7b6d8c9f5", rolled_ago=28, revision=14,
                 pods=[{"suffix": "hk4tq", "c": {"quote-engine": vars(crashloop(q, "Error", 101, 10, ago=0.8, ran=0.01))}},
                       {"suffix": "z8nwx", "c": {"quote-engine": vars(crashloop(q, "Error", 101, 10, ago=2.1, ran=0.01))}}])
    for s in ("hk4tq", "z8nwx"):
        c.log("pricing", f"quote-engine-7b6d8c9f5-{s}", "quote-engine",
              f"{logtime(0.9)}  INFO quote_engine: starting quote-engine v0.31.0 (git 4e1d2a9)\n"
              "thread 'main' panicked at src/config.rs:42:10:\ncalled `Result::unwrap()` on an `Err` value: Error { inner: TomlError { message: "
              "\"invalid type: string \\\"30s\\\", expected u64\", raw: None, keys: [\"upstream\", \"timeout\"], span: Some(211..216) } }\n"
              "note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n")
    c.deployment("web", "frontend", [C("frontend", f"{ECR}/frontend:9.1.0", stack="node", ports=[("http", 3000)])], replicas=6)
    c.hpa("web", "frontend", "frontend", 2, 6, 6, cpu_target=70, cpu_now=97)
    return c, crash_pod_alert(c, "pricing", "quote-engine-7b6d8c9f5-hk4tq", "quote-engine", 14)


@R("04", title=".NET billing API aborts on a dependency-injection error (exit 134), fluent-bit sidecar noisy", category="application_crash",
   deepest="pod/billing/billing-api-5d9c7b8f6-q7rzk", alt_deepest=["pod/billing/billing-api-5d9c7b8f6-t4wmx"],
   evidence=[["Unable to resolve service", "InvalidOperationException"]],
   chain="billing-api 0/2 → container exits 134 (SIGABRT) → Unhandled exception: InvalidOperationException: Unable to resolve service for type IPaymentGateway",
   multi_hop=False, red_herrings=["fluent-bit sidecar logging output retries"], stack=".NET 8", platform="AKS 1.28 containerd",
   source="composed from experience")
def b2_04():
    c = Cluster("b2-04", "aks", "1.28.9")
    api = C("billing-api", f"{ACR}/billing-api:2025.6.2", ports=[("http", 8080)], stack="dotnet")
    fb = C("fluent-bit", "cr.fluentbit.io/fluent/fluent-bit:3.0.4", stack="fluentbit")
    c.deployment("billing", "billing-api", [api, fb], replicas=2, rs_hash="5d9c7b8f6", rolled_ago=35, revision=61,
                 pods=[{"suffix": s, "c": {"billing-api": vars(crashloop(api, "Error", 134, 11, ago=1 + i, ran=0.05))}} for i, s in enumerate(("q7rzk", "t4wmx"))])
    for s in ("q7rzk", "t4wmx"):
        c.log("billing", f"billing-api-5d9c7b8f6-{s}", "billing-api",
              "Unhandled exception. System.InvalidOperationException: Unable to resolve service for type 'Billing.Payments.IPaymentGateway' while attempting to activate 'Billing.Api.Controllers.ChargesController'.\n"
              "   at Microsoft.Extensions.DependencyInjection.ActivatorUtilities.ThrowHelperUnableToResolveService(Type type, Type requiredBy)\n"
              "   at Microsoft.AspNetCore.Mvc.Controllers.ControllerFactoryProvider.CreateControllerFactory(ControllerActionDescriptor descriptor)\n"
              "   at Program.<Main>$(String[] args) in /src/Billing.Api/Program.cs:line 57\n")
    return c, alert(c, "KubeDeploymentReplicasMismatch", {"namespace": "billing", "deployment": "billing-api"}, starts_ago=19)


# ================================================================================================ missing_config
@R("05", title="Rails pod cannot start: env references key DB_HOST that the ConfigMap does not have", category="missing_config",
   deepest="pod/storefront/storefront-6f8b7c9d5-x2kwm", evidence=[["DB_HOST"], ["app-settings"]],
   chain="container web CreateContainerConfigError → couldn't find key DB_HOST in ConfigMap storefront/app-settings (it has DATABASE_HOST)",
   multi_hop=False, stack="Ruby/Rails", platform="on-prem kubeadm 1.29 containerd", source="composed from experience")
def b2_05():
    c = Cluster("b2-05", "onprem", "1.29.6")
    c.configmap("storefront", "app-settings", {"DATABASE_HOST": "storefront-db.storefront.svc", "REDIS_URL": "redis://redis.storefront.svc:6379/0"})
    web = C("web", "registry.acme.internal/storefront:2025.06.03-1", ports=[("http", 3000)], stack="ruby",
            env_refs=[{"name": "DB_HOST", "valueFrom": {"configMapKeyRef": {"name": "app-settings", "key": "DB_HOST"}}}])
    c.deployment("storefront", "storefront", [web], replicas=1, rs_hash="6f8b7c9d5", rolled_ago=80, created_ago=60 * 24 * 90, revision=9,
                 pods=[{"suffix": "x2kwm", "c": {"web": {"state": "waiting", "reason": "CreateContainerConfigError",
                                                         "message": "couldn't find key DB_HOST in ConfigMap storefront/app-settings"}}}])
    pod = "storefront-6f8b7c9d5-x2kwm"
    c.event("storefront", "Pod", pod, "Failed", "Error: couldn't find key DB_HOST in ConfigMap storefront/app-settings", count=371, last=0.3, first=79,
            host=c.pods[("storefront", pod)]["spec"]["nodeName"], field="spec.containers{web}")
    c.neighbours("storefront", "ruby", n=1)
    return c, alert(c, "KubeContainerWaiting", {"namespace": "storefront", "pod": pod, "container": "web"}, target=None, starts_ago=17)


@R("06", title="Rollout stuck: the new pod template names a ServiceAccount that does not exist", category="missing_config",
   deepest="replicaset/payments/payments-api-7c8d9b6f5", alt_deepest=["deployment/payments/payments-api"],
   evidence=[["payments-sa"]], chain="rollout of payments-api stuck → ReplicaSet 7c8d9b6f5 FailedCreate: serviceaccount \"payments-sa\" not found",
   multi_hop=False, stack="Java", platform="EKS 1.29 containerd", source=HOLMES + "21_job_fail_curl_no_svc_account (first phase)")
def b2_06():
    c = Cluster("b2-06", "eks", "1.29.4")
    api = C("payments-api", f"{ECR}/payments-api:5.2.0", ports=[("http", 8080)], stack="java")
    cond = [{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable", "message": "Deployment has minimum availability.",
             "lastUpdateTime": ts(60 * 24 * 4), "lastTransitionTime": ts(60 * 24 * 4)},
            {"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate",
             "message": 'pods "payments-api-7c8d9b6f5-4zkq8" is forbidden: error looking up service account payments/payments-sa: serviceaccount "payments-sa" not found',
             "lastUpdateTime": ts(27), "lastTransitionTime": ts(27)},
            {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded", "message": 'ReplicaSet "payments-api-7c8d9b6f5" has timed out progressing.',
             "lastUpdateTime": ts(17), "lastTransitionTime": ts(17)}]
    c.serviceaccount("payments", "payments-api")
    c.deployment("payments", "payments-api", [replace(api, image=f"{ECR}/payments-api:5.3.0")], replicas=2, rs_hash="7c8d9b6f5", rolled_ago=27, revision=22,
                 sa="payments-sa", conditions=cond, pods=[], desired=1, service=[("http", 80, "http")],
                 old_rs={"hash": "6b5f9c8d7", "replicas": 2, "containers": [api]})
    c.event("payments", "ReplicaSet", "payments-api-7c8d9b6f5", "FailedCreate",
            '(combined from similar events): Error creating: pods "payments-api-7c8d9b6f5-kz2xt" is forbidden: error looking up service account payments/payments-sa: serviceaccount "payments-sa" not found',
            count=18, last=1.7, first=27, source="replicaset-controller", api="apps/v1")
    return c, alert(c, "KubeDeploymentRolloutStuck", {"namespace": "payments", "deployment": "payments-api", "condition": "Progressing", "status": "false"},
                    starts_ago=2)


@R("07", title="get-data Job failed: the host it curls does not resolve (old service-account errors are a decoy)", category="dns_failure",
   deepest="pod/default/get-data-7xqkn", alt_deepest=["job/default/get-data"],
   evidence=[["Could not resolve host"], ["kldsvklnsdiogjerkngernjk23432i90erfefjio.com"]],
   chain="Job get-data failed → its pod exited 6: curl: (6) Could not resolve host kldsvklnsdiogjerkngernjk23432i90erfefjio.com (an outside name that does not exist); the earlier FailedCreate for a missing ServiceAccount was resolved 39 min ago",
   multi_hop=False, red_herrings=["stale FailedCreate events: serviceaccount get-data-service-account not found (since created)"],
   stack="curl/shell", platform="GKE 1.29 containerd", source=HOLMES + "21_job_fail_curl_no_svc_account")
def b2_07():
    c = Cluster("b2-07", "gke", "1.29.6")
    c.serviceaccount("default", "get-data-service-account")
    j = C("curl", "curlimages/curl:8.8.0", command=["curl", "-sS", "http://kldsvklnsdiogjerkngernjk23432i90erfefjio.com/fsdkhjsadfjhsadfjsadu343"],
          state="terminated", exit_code=6, reason="Error", ready=False)
    c.job("default", "get-data", [j], backoff=0, created_ago=41, sa="get-data-service-account", pods=[{"suffix": "7xqkn", "started_ago": 38.5}],
          conditions=[{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit",
                       "lastProbeTime": ts(38), "lastTransitionTime": ts(38)}])
    c.log("default", "get-data-7xqkn", "curl", "curl: (6) Could not resolve host: kldsvklnsdiogjerkngernjk23432i90erfefjio.com\n")
    c.event("default", "Job", "get-data", "FailedCreate",
            'Error creating: pods "get-data-" is forbidden: error looking up service account default/get-data-service-account: serviceaccount "get-data-service-account" not found',
            count=3, last=39.5, first=41, source="job-controller", api="batch/v1")
    c.event("default", "Job", "get-data", "SuccessfulCreate", "Created pod: get-data-7xqkn", type="Normal", last=39, source="job-controller", api="batch/v1")
    c.event("default", "Job", "get-data", "BackoffLimitExceeded", "Job has reached the specified backoff limit", last=38, source="job-controller", api="batch/v1")
    c.neighbours("default", "go", n=1)
    return c, alert(c, "KubeJobFailed", {"namespace": "default", "job_name": "get-data", "condition": "true"}, starts_ago=22)


# ================================================================================================ image_pull_failure
@R("08", title="New billing UI cannot pull from GitLab: 401, its imagePullSecret does not exist", category="image_pull_failure",
   deepest="pod/billing/billing-ui-6c7d8f9b5-m4zqk", alt_deepest=["pod/billing/billing-ui-6c7d8f9b5-r9xhd"],
   evidence=[["401 Unauthorized", "Unauthorized"], ["gitlab-registry"]],
   chain="billing-ui 0/2 → ImagePullBackOff → registry.gitlab.com answered 401 Unauthorized; the imagePullSecret gitlab-registry is missing in namespace billing",
   multi_hop=False, stack="Node.js", platform="GKE 1.29 containerd", source="https://github.com/kubernetes/kops/issues/16762 (authorization failures); composed from experience")
def b2_08():
    c = Cluster("b2-08", "gke", "1.29.6")
    img = "registry.gitlab.com/acme/billing-ui:1.8.2"
    ui = C("billing-ui", img, ports=[("http", 3000)], stack="node")
    pull = {"state": "waiting", "reason": "ImagePullBackOff", "message": f'Back-off pulling image "{img}"'}
    c.deployment("billing", "billing-ui", [ui], replicas=2, rs_hash="6c7d8f9b5", rolled_ago=24, created_ago=24,
                 pods=[{"suffix": "m4zqk", "c": {"billing-ui": pull}}, {"suffix": "r9xhd", "c": {"billing-ui": pull}}], service=[("http", 80, "http")])
    c.get("deployments", "billing-ui", "billing")["spec"]["template"]["spec"]["imagePullSecrets"] = [{"name": "gitlab-registry"}]
    for s in ("m4zqk", "r9xhd"):
        p = f"billing-ui-6c7d8f9b5-{s}"
        c.pods[("billing", p)]["spec"]["imagePullSecrets"] = [{"name": "gitlab-registry"}]
        node = c.pods[("billing", p)]["spec"]["nodeName"]
        c.event("billing", "Pod", p, "FailedToRetrieveImagePullSecret",
                'Unable to retrieve some image pull secrets (gitlab-registry); attempting to pull the image may not succeed.', count=104, last=0.4, first=24, host=node)
        c.event("billing", "Pod", p, "Failed",
                f'Failed to pull image "{img}": failed to pull and unpack image "{img}": failed to resolve reference "{img}": failed to authorize: failed to fetch '
                'oauth token: unexpected status from GET request to https://gitlab.com/jwt/auth?scope=repository%3Aacme%2Fbilling-ui%3Apull&service=container_registry: 401 Unauthorized',
                count=9, last=2.2, first=24, host=node, field="spec.containers{billing-ui}")
        c.event("billing", "Pod", p, "BackOff", f'Back-off pulling image "{img}"', type="Normal", count=98, last=0.4, first=23, host=node, field="spec.containers{billing-ui}")
    c.neighbours("billing", "node", n=1)
    return c, alert(c, "KubeDeploymentReplicasMismatch", {"namespace": "billing", "deployment": "billing-ui"}, starts_ago=8)


@R("09", title="Ledger API image tag missing on quay.io (CRI-O 'manifest unknown' wording, OpenShift)", category="image_pull_failure",
   deepest="pod/ledger/ledger-api-84d9f7c6b5-vq2tn", evidence=[["manifest unknown"]],
   chain="ledger-api pod ImagePullBackOff → CRI-O: reading manifest v3.2.0 in quay.io/acme/ledger: manifest unknown",
   multi_hop=False, stack="Java/Quarkus", platform="OpenShift 4.15 (k8s 1.28) CRI-O", source="composed from experience (CRI-O pull error wording)")
def b2_09():
    c = Cluster("b2-09", "openshift", "1.28.10")
    img = "quay.io/acme/ledger:v3.2.0"
    api = C("ledger-api", img, ports=[("http", 8080)], stack="java", state="waiting", reason="ImagePullBackOff", message=f'Back-off pulling image "{img}"')
    c.deployment("ledger", "ledger-api", [api], replicas=1, rs_hash="84d9f7c6b5", rolled_ago=33, pods=[{"suffix": "vq2tn"}])
    p = "ledger-api-84d9f7c6b5-vq2tn"
    node = c.pods[("ledger", p)]["spec"]["nodeName"]
    c.event("ledger", "Pod", p, "Failed", f'Failed to pull image "{img}": rpc error: code = Unknown desc = reading manifest v3.2.0 in quay.io/acme/ledger: manifest unknown: manifest unknown',
            count=8, last=3.1, first=33, host=node, field="spec.containers{ledger-api}")
    c.event("ledger", "Pod", p, "Failed", "Error: ErrImagePull", count=8, last=3.1, first=33, host=node, field="spec.containers{ledger-api}")
    c.event("ledger", "Pod", p, "BackOff", f'Back-off pulling image "{img}"', type="Normal", count=140, last=0.2, first=32, host=node, field="spec.containers{ledger-api}")
    c.event("ledger", "Pod", p, "Failed", "Error: ImagePullBackOff", count=140, last=0.2, first=32, host=node, field="spec.containers{ledger-api}")
    return c, alert(c, "KubePodNotReady", {"namespace": "ledger", "pod": p}, target=None, starts_ago=17)


# ================================================================================================ invalid_command
@R("10", title="arm64 image on amd64 nodes: exec format error", category="invalid_command",
   deepest="pod/edge/geo-router-5b7c9d8f6-l2qpx", evidence=[["exec format error"]],
   chain="geo-router crash-loops (exit 1) → log: exec /usr/local/bin/geo-router: exec format error (image built for arm64; nodes amd64)",
   multi_hop=False, stack="Go", platform="AKS 1.29 containerd", source="composed from experience (images built on Apple silicon)")
def b2_10():
    c = Cluster("b2-10", "aks", "1.29.4")
    g = C("geo-router", f"{ACR}/geo-router:1.0.0", ports=[("http", 8080)], stack="go")
    c.deployment("edge", "geo-router", [g], replicas=1, rs_hash="5b7c9d8f6", rolled_ago=22,
                 pods=[{"suffix": "l2qpx", "c": {"geo-router": vars(crashloop(g, "Error", 1, 9, ago=1.1, ran=0.0))}}])
    c.log("edge", "geo-router-5b7c9d8f6-l2qpx", "geo-router", "exec /usr/local/bin/geo-router: exec format error\n")
    c.neighbours("edge", "go", n=1)
    return c, crash_pod_alert(c, "edge", "geo-router-5b7c9d8f6-l2qpx", "geo-router", 9)


@R("11", title="Django API command 'gunicorn' not installed in the image (sh exit 127)", category="invalid_command",
   deepest="pod/api/django-api-6d5c8b9f7-k8wqz", alt_deepest=["pod/api/django-api-6d5c8b9f7-p2xhn"], evidence=[["gunicorn: not found", "not found"]],
   chain="django-api 0/2 → container exits 127 → /bin/sh: 1: gunicorn: not found",
   multi_hop=False, stack="Python/Django", platform="EKS 1.30 containerd", source="composed from experience")
def b2_11():
    c = Cluster("b2-11", "eks", "1.30.2")
    d = C("django-api", f"{ECR}/django-api:2.0.0-slim", ports=[("http", 8000)], stack="python",
          command=["sh", "-c", "gunicorn -w 4 -b 0.0.0.0:8000 app.wsgi:application"])
    c.deployment("api", "django-api", [d], replicas=2, rs_hash="6d5c8b9f7", rolled_ago=30, created_ago=30,
                 pods=[{"suffix": s, "c": {"django-api": vars(crashloop(d, "Error", 127, 10, ago=1 + i, ran=0.0))}} for i, s in enumerate(("k8wqz", "p2xhn"))])
    for s in ("k8wqz", "p2xhn"):
        c.log("api", f"django-api-6d5c8b9f7-{s}", "django-api", "/bin/sh: 1: gunicorn: not found\n")
    return c, alert(c, "KubeDeploymentReplicasMismatch", {"namespace": "api", "deployment": "django-api"}, starts_ago=13)


# ================================================================================================ security_context_violation
@R("12", title="nginx crash-loops under readOnlyRootFilesystem: cannot create /var/cache/nginx", category="security_context_violation",
   deepest="pod/web/static-site-7f6c8d9b5-n4kzx", evidence=[["Read-only file system"]],
   chain="static-site crash-loops → nginx: [emerg] mkdir() /var/cache/nginx/client_temp failed (30: Read-only file system) → securityContext.readOnlyRootFilesystem=true without an emptyDir there",
   multi_hop=False, stack="nginx", platform="GKE 1.30 containerd", source="composed from experience (hardening rollout)")
def b2_12():
    c = Cluster("b2-12", "gke", "1.30.5")
    n = C("nginx", "nginx:1.27", ports=[("http", 80)], stack="nginx", security={"readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False})
    c.deployment("web", "static-site", [n], replicas=1, rs_hash="7f6c8d9b5", rolled_ago=19, revision=4,
                 pods=[{"suffix": "n4kzx", "c": {"nginx": vars(crashloop(n, "Error", 1, 8, ago=0.9, ran=0.0))}}])
    c.log("web", "static-site-7f6c8d9b5-n4kzx", "nginx",
          "/docker-entrypoint.sh: /docker-entrypoint.d/ is not empty, will attempt to perform configuration\n"
          "/docker-entrypoint.sh: Launching /docker-entrypoint.d/10-listen-on-ipv6-by-default.sh\n"
          "10-listen-on-ipv6-by-default.sh: info: can not modify /etc/nginx/conf.d/default.conf (read-only file system?)\n"
          "/docker-entrypoint.sh: Configuration complete; ready for start up\n"
          f'{logtime(0.9, "go")} [emerg] 1#1: mkdir() "/var/cache/nginx/client_temp" failed (30: Read-only file system)\n'
          'nginx: [emerg] mkdir() "/var/cache/nginx/client_temp" failed (30: Read-only file system)\n')
    c.neighbours("web", "node", n=1)
    return c, crash_pod_alert(c, "web", "static-site-7f6c8d9b5-n4kzx", "nginx", 8)


@R("13", title="OpenShift SCC rejects grafana pods asking for runAsUser 472", category="security_context_violation",
   deepest="replicaset/observability/grafana-5f8c7d9b6", alt_deepest=["deployment/observability/grafana"], evidence=[["security context constraint"]],
   chain="deployment grafana 0/1 → ReplicaSet FailedCreate: unable to validate against any security context constraint (runAsUser 472 outside the namespace range)",
   multi_hop=False, stack="Grafana (Go)", platform="OpenShift 4.15 (k8s 1.28) CRI-O", source="composed from experience (SCC restricted-v2)")
def b2_13():
    c = Cluster("b2-13", "openshift", "1.28.10")
    g = C("grafana", "docker.io/grafana/grafana:11.0.0", ports=[("grafana", 3000)], stack="go", security={"runAsUser": 472, "runAsGroup": 472})
    msg = ('pods "grafana-5f8c7d9b6-%s" is forbidden: unable to validate against any security context constraint: [provider "anyuid": Forbidden: not usable by user or serviceaccount, '
           'spec.containers[0].securityContext.runAsUser: Invalid value: 472: must be in the ranges: [1000680000, 1000689999], provider "restricted": Forbidden: not usable by user or serviceaccount, '
           'provider "nonroot-v2": Forbidden: not usable by user or serviceaccount, provider "nonroot": Forbidden: not usable by user or serviceaccount, provider "hostmount-anyuid": Forbidden: not usable by user or serviceaccount, '
           'provider "machine-api-termination-handler": Forbidden: not usable by user or serviceaccount, provider "hostnetwork-v2": Forbidden: not usable by user or serviceaccount, provider "privileged": Forbidden: not usable by user or serviceaccount]')
    cond = [{"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable", "message": "Deployment does not have minimum availability.",
             "lastUpdateTime": ts(41), "lastTransitionTime": ts(41)},
            {"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate", "message": msg % "2xqnz", "lastUpdateTime": ts(41), "lastTransitionTime": ts(41)}]
    c.deployment("observability", "grafana", [g], replicas=1, rs_hash="5f8c7d9b6", rolled_ago=41, created_ago=41, pods=[], conditions=cond)
    c.event("observability", "ReplicaSet", "grafana-5f8c7d9b6", "FailedCreate", "(combined from similar events): Error creating: " + msg % "z9kdp",
            count=20, last=1.9, first=41, source="replicaset-controller", api="apps/v1")
    return c, alert(c, "KubeDeploymentReplicasMismatch", {"namespace": "observability", "deployment": "grafana"}, starts_ago=25)


# ================================================================================================ insufficient_resources
@R("14", title="Pods pending with 'Too many pods' on small EKS nodes (max 17 pods per t3.medium)", category="insufficient_resources",
   deepest="pod/jobs/queue-worker-5c6d7b8f9-x7kqn", evidence=[["Too many pods"]],
   chain="queue-worker pod Pending → 0/2 nodes: Too many pods (each t3.medium node holds its 17-pod limit)",
   multi_hop=False, stack="Go", platform="EKS 1.25 containerd",
   source="https://github.com/aws/eks-charts/issues/1044 (Too many pods wording); https://github.com/awslabs/amazon-eks-ami eni-max-pods")
def b2_14():
    alloc = {"cpu": "1930m", "memory": "3388Mi", "pods": "17", "ephemeral-storage": "18242267924", "hugepages-1Gi": "0", "hugepages-2Mi": "0"}
    c = Cluster("b2-14", "eks", "1.25.16", workers=0, pools=[dict(instance="t3.medium", allocatable=alloc), dict(instance="t3.medium", allocatable=alloc)])
    msg = "0/2 nodes are available: 2 Too many pods. preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod."
    w = C("worker", f"{ECR}/queue-worker:0.9.0", stack="go", requests={"cpu": "50m", "memory": "64Mi"})
    for i, n in enumerate(c.workers):
        have = sum(1 for p in c.pods.values() if p["spec"].get("nodeName") == n)
        if have < 17:
            c.deployment("jobs", f"consumer-{'ab'[i]}", [C("consumer", f"{ECR}/queue-consumer:3.2.1", stack="go", requests={"cpu": "20m", "memory": "32Mi"})],
                         replicas=17 - have, nodes=[n])
    c.deployment("jobs", "queue-worker", [w], replicas=1, rs_hash="5c6d7b8f9", rolled_ago=26,
                 pods=[{"suffix": "x7kqn", "node": None, "unschedulable": msg, "c": {"worker": {"state": "waiting"}}}])
    c.event("jobs", "Pod", "queue-worker-5c6d7b8f9-x7kqn", "FailedScheduling", msg, count=12, last=1.5, first=26, source="default-scheduler")
    return c, alert(c, "KubePodNotReady", {"namespace": "jobs", "pod": "queue-worker-5c6d7b8f9-x7kqn"}, target=None, starts_ago=10)


@R("15", title="Render farm scale-out blocked: Insufficient cpu and the node pool is at its maximum size (1.33)", category="insufficient_resources",
   deepest="pod/render/render-farm-7d8c9f6b5-4kq2x",
   alt_deepest=["pod/render/render-farm-7d8c9f6b5-9vzt7", "pod/render/render-farm-7d8c9f6b5-bx2lw", "pod/render/render-farm-7d8c9f6b5-p6hzn"],
   evidence=[["Insufficient cpu"]],
   chain="render-farm 8/12 → 4 pods Pending: 0/6 nodes Insufficient cpu → cluster-autoscaler: max node group size reached",
   multi_hop=False, red_herrings=["HPA of the same workload mid-range (12 of 20)"], stack="Python/Blender", platform="GKE 1.33 containerd",
   source=HOLMES + "14_pending_resources ; composed from experience")
def b2_15():
    c = Cluster("b2-15", "gke", "1.33.1", workers=6)
    r = C("renderer", f"{GAR}/render-farm:4.1.2", stack="python", requests={"cpu": "1800m", "memory": "3Gi"})
    msg = "0/6 nodes are available: 6 Insufficient cpu. preemption: 0/6 nodes are available: 6 No preemption victims found for incoming pod."
    pods = [{} for _ in range(8)] + [{"suffix": s, "node": None, "unschedulable": msg, "started_ago": 31, "c": {"renderer": {"state": "waiting"}}}
                                     for s in ("4kq2x", "9vzt7", "bx2lw", "p6hzn")]
    c.deployment("render", "render-farm", [r], replicas=12, rs_hash="7d8c9f6b5", pods=pods)
    c.hpa("render", "render-farm", "render-farm", 4, 20, 12, cpu_target=75, cpu_now=88, desired=12)
    for s in ("4kq2x", "9vzt7", "bx2lw", "p6hzn"):
        p = f"render-farm-7d8c9f6b5-{s}"
        c.event("render", "Pod", p, "FailedScheduling", msg, count=14, last=1.2, first=31, source="default-scheduler")
        c.event("render", "Pod", p, "NotTriggerScaleUp", "pod didn't trigger scale-up: 1 max node group size reached", type="Normal", count=180, last=0.3,
                first=31, source="cluster-autoscaler")
    return c, alert(c, "KubeDeploymentReplicasMismatch", {"namespace": "render", "deployment": "render-farm"}, starts_ago=15)


# ================================================================================================ scheduling_constraint
@R("16", title="ZooKeeper replica cannot be placed: workers cordoned for an upgrade, GPU nodes tainted (1.26)", category="scheduling_constraint",
   deepest="pod/kafka/zookeeper-2", evidence=[["unschedulable"], ["dedicated", "taint"]],
   chain="StatefulSet zookeeper 2/3 → zookeeper-2 Pending → 3 workers cordoned (unschedulable), 2 GPU nodes tainted dedicated=gpu, control plane tainted",
   multi_hop=False, stack="ZooKeeper (Java)", platform="on-prem kubeadm 1.26 containerd", source="composed from experience (node upgrade drains)")
def b2_16():
    c = Cluster("b2-16", "onprem", "1.26.15", workers=3,
                pools=[dict(name="k8s-gpu-01", labels={"accelerator": "a100"}, taints=[{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]),
                       dict(name="k8s-gpu-02", labels={"accelerator": "a100"}, taints=[{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}])])
    general = c.workers[:3]
    z = C("zookeeper", "docker.io/bitnami/zookeeper:3.9.2", ports=[("client", 2181), ("follower", 2888), ("election", 3888)], stack="java")
    msg = ("0/6 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 2 node(s) had untolerated taint {dedicated: gpu}, "
           "3 node(s) were unschedulable. preemption: 0/6 nodes are available: 6 Preemption is not helpful for scheduling..")
    c.statefulset("kafka", "zookeeper", [z], replicas=3, storage_class="ceph-block", claims=[("data", "/bitnami/zookeeper", "8Gi")],
                  service=[("tcp-client", 2181, "client")], nodes=general,
                  pods=[{}, {}, {"node": None, "unschedulable": msg, "started_ago": 19, "c": {"zookeeper": {"state": "waiting"}}}])
    for n in general:
        c.node(n)["spec"]["unschedulable"] = True
        c.node(n)["spec"].setdefault("taints", []).append({"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule", "timeAdded": ts(24)})
        c.event("default", "Node", n, "NodeNotSchedulable", f"Node {n} status is now: NodeNotSchedulable", type="Normal", last=24, host=n)
    c.event("kafka", "Pod", "zookeeper-2", "FailedScheduling", msg, count=8, last=2.6, first=19, source="default-scheduler")
    c.event("kafka", "Pod", "zookeeper-2", "Killing", "Stopping container zookeeper", type="Normal", last=20, host=general[2])
    return c, alert(c, "KubeStatefulSetReplicasMismatch", {"namespace": "kafka", "statefulset": "zookeeper"}, starts_ago=3)


@R("17", title="Topology spread (DoNotSchedule) leaves an API replica pending (1.31)", category="scheduling_constraint",
   deepest="pod/api/orders-api-6b9c8d7f5-w5tzq", evidence=[["topology spread"]],
   chain="orders-api pod Pending → 4 nodes fail the zone topology spread constraint (maxSkew 1), the other 2 lack cpu",
   multi_hop=False, stack="Go", platform="EKS 1.31 containerd", source="composed from experience")
def b2_17():
    c = Cluster("b2-17", "eks", "1.31.0", workers=6)
    a = C("orders-api", f"{ECR}/orders-api:3.0.1", ports=[("http", 8080)], stack="go", requests={"cpu": "1500m", "memory": "1Gi"})
    aff = None
    msg = ("0/6 nodes are available: 2 Insufficient cpu, 4 node(s) didn't match pod topology spread constraints. preemption: 0/6 nodes are available: "
           "2 No preemption victims found for incoming pod, 4 Preemption is not helpful for scheduling.")
    pods = [{"node": c.workers[i]} for i in (0, 1, 3, 4, 2)] + [{"suffix": "w5tzq", "node": None, "unschedulable": msg, "started_ago": 22, "c": {"orders-api": {"state": "waiting"}}}]
    c.deployment("api", "orders-api", [a], replicas=6, rs_hash="6b9c8d7f5", pods=pods, affinity=aff, service=[("http", 80, "http")])
    c.get("deployments", "orders-api", "api")["spec"]["template"]["spec"]["topologySpreadConstraints"] = [
        {"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "DoNotSchedule", "labelSelector": {"matchLabels": {"app": "orders-api"}}}]
    c.pods[("api", "orders-api-6b9c8d7f5-w5tzq")]["spec"]["topologySpreadConstraints"] = c.get("deployments", "orders-api", "api")["spec"]["template"]["spec"]["topologySpreadConstraints"]
    c.event("api", "Pod", "orders-api-6b9c8d7f5-w5tzq", "FailedScheduling", msg, count=10, last=1.9, first=22, source="default-scheduler")
    return c, alert(c, "KubePodNotReady", {"namespace": "api", "pod": "orders-api-6b9c8d7f5-w5tzq"}, target=None, starts_ago=6)


# ================================================================================================ quota_exceeded
@R("18", title="Quota requires limits: worker pods without limits.cpu/limits.memory are refused", category="quota_exceeded",
   deepest="resourcequota/team-a/team-quota", alt_deepest=["replicaset/team-a/worker-6c5d8f9b7"], evidence=[["must specify limits"], ["team-quota"]],
   chain="deployment worker 0/3 → ReplicaSet FailedCreate: failed quota team-quota: must specify limits.cpu, limits.memory",
   multi_hop=True, stack="Python", platform="AKS 1.29 containerd", source="https://kubernetes.io/docs/concepts/policy/resource-quotas/ ; composed from experience")
def b2_18():
    c = Cluster("b2-18", "aks", "1.29.4")
    c.quota("team-a", "team-quota", {"limits.cpu": "16", "limits.memory": "32Gi", "requests.cpu": "8", "requests.memory": "16Gi"},
            {"limits.cpu": "4", "limits.memory": "8Gi", "requests.cpu": "2", "requests.memory": "4Gi"})
    w = C("worker", f"{ACR}/team-a-worker:1.3.0", stack="python", requests={"cpu": "250m", "memory": "512Mi"})
    cond = [{"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable", "message": "Deployment does not have minimum availability.",
             "lastUpdateTime": ts(29), "lastTransitionTime": ts(29)},
            {"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate",
             "message": 'pods "worker-6c5d8f9b7-b7xzq" is forbidden: failed quota: team-quota: must specify limits.cpu for: worker; limits.memory for: worker',
             "lastUpdateTime": ts(29), "lastTransitionTime": ts(29)}]
    c.deployment("team-a", "worker", [w], replicas=3, rs_hash="6c5d8f9b7", rolled_ago=29, created_ago=29, pods=[], conditions=cond)
    c.event("team-a", "ReplicaSet", "worker-6c5d8f9b7", "FailedCreate",
            '(combined from similar events): Error creating: pods "worker-6c5d8f9b7-q2mpl" is forbidden: failed quota: team-quota: must specify limits.cpu for: worker; limits.memory for: worker',
            count=18, last=2.2, first=29, source="replicaset-controller", api="apps/v1")
    c.neighbours("team-a", "python", n=2)
    return c, alert(c, "KubeDeploymentReplicasMismatch", {"namespace": "team-a", "deployment": "worker"}, starts_ago=13)


@R("19", title="HPA scales up but the namespace pod-count quota (20) is reached", category="quota_exceeded",
   deepest="resourcequota/ingest/pods-quota", alt_deepest=["replicaset/ingest/collector-5f6d7c8b9"], evidence=[["exceeded quota"], ["pods-quota"]],
   chain="collector 16/20 → ReplicaSet FailedCreate: exceeded quota pods-quota (pods used 20 of 20) while the HPA asks for 20",
   multi_hop=True, red_herrings=["HPA not at its maximum (20 of 40): scaling is not the limit"], stack="Go", platform="EKS 1.29 containerd",
   source=HOLMES + "78b_cpu_quota_exceeded ; composed from experience")
def b2_19():
    c = Cluster("b2-19", "eks", "1.29.4", workers=4)
    col = C("collector", f"{ECR}/otel-collector-contrib:0.102.1", ports=[("otlp", 4317)], stack="go", requests={"cpu": "100m", "memory": "256Mi"})
    c.deployment("ingest", "collector", [col], replicas=20, rs_hash="5f6d7c8b9", pods=[{} for _ in range(16)], desired=20, service=[("otlp-grpc", 4317, "otlp")])
    c.deployment("ingest", "router", [C("router", f"{ECR}/ingest-router:2.2.0", stack="go")], replicas=4)
    c.quota("ingest", "pods-quota", {"pods": "20"}, {"pods": "20"})
    c.hpa("ingest", "collector", "collector", 4, 40, 16, cpu_target=60, cpu_now=84, desired=20)
    c.event("ingest", "ReplicaSet", "collector-5f6d7c8b9", "FailedCreate",
            '(combined from similar events): Error creating: pods "collector-5f6d7c8b9-8zkqt" is forbidden: exceeded quota: pods-quota, requested: pods=1, used: pods=20, limited: pods=20',
            count=26, last=0.9, first=21, source="replicaset-controller", api="apps/v1")
    c.event("ingest", "HorizontalPodAutoscaler", "collector", "SuccessfulRescale", "New size: 20; reason: cpu resource utilization (percentage of request) above target",
            type="Normal", last=21, source="horizontal-pod-autoscaler", api="autoscaling/v2")
    return c, alert(c, "KubeDeploymentReplicasMismatch", {"namespace": "ingest", "deployment": "collector"}, starts_ago=5)


# ================================================================================================ volume_mount_failure
PV_TSDB = "pvc-" + _uid("pv", "tsdb", "storage-timescaledb-1")


@R("20", title="TimescaleDB replica pending: its EBS volume lives in us-east-1a, no node is left in that zone", category="volume_mount_failure",
   deepest=f"persistentvolume/{PV_TSDB}", alt_deepest=["persistentvolumeclaim/tsdb/storage-timescaledb-1", "pod/tsdb/timescaledb-1"],
   evidence=[["volume node affinity conflict"], ["us-east-1a"]],
   chain="StatefulSet timescaledb 1/2 → timescaledb-1 Pending: 3 node(s) had volume node affinity conflict → PV (claim storage-timescaledb-1) pinned to us-east-1a → nodes only in us-east-1b/1c after the node group change",
   multi_hop=True, stack="PostgreSQL/TimescaleDB", platform="EKS 1.29 containerd",
   source="https://github.com/kubernetes/kubernetes/issues/108096 ; https://github.com/yugabyte/yugabyte-db/pull/20349")
def b2_20():
    c = Cluster("b2-20", "eks", "1.29.4")
    zones = ["us-east-1b", "us-east-1c", "us-east-1b"]
    for n, z in zip(c.workers, zones):
        c.node(n)["metadata"]["labels"].update({"topology.kubernetes.io/zone": z, "topology.ebs.csi.aws.com/zone": z})
        c.nodes[n].zone = z
    t = C("timescaledb", "timescale/timescaledb-ha:pg16.3-ts2.15.2", ports=[("postgresql", 5432)], stack="postgres")
    msg = "0/3 nodes are available: 3 node(s) had volume node affinity conflict. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
    c.statefulset("tsdb", "timescaledb", [t], replicas=2, claims=[("storage", "/home/postgres/pgdata", "100Gi")], service=[("postgresql", 5432, "postgresql")],
                  pods=[{"node": c.workers[0]}, {"node": None, "unschedulable": msg, "started_ago": 43, "no_pvc": True, "c": {"timescaledb": {"state": "waiting"}}}])
    c.pvc("tsdb", "storage-timescaledb-1", size="100Gi", pv_zone="us-east-1a", labels={"app.kubernetes.io/name": "timescaledb"})
    c.event("tsdb", "Pod", "timescaledb-1", "FailedScheduling", msg, count=17, last=1.4, first=43, source="default-scheduler")
    c.event("tsdb", "Pod", "timescaledb-1", "NotTriggerScaleUp", "pod didn't trigger scale-up: 1 node(s) had volume node affinity conflict", type="Normal",
            count=210, last=0.2, first=43, source="cluster-autoscaler")
    return c, alert(c, "KubeStatefulSetReplicasMismatch", {"namespace": "tsdb", "statefulset": "timescaledb"}, starts_ago=27)


@R("21", title="Data processor crash-loops: its 100Mi PVC is full (ENOSPC)", category="volume_mount_failure",
   deepest="persistentvolumeclaim/app-157/data-data-processor-0", alt_deepest=["pod/app-157/data-processor-0"],
   evidence=[["No space left on device", "Errno 28"]],
   chain="data-processor-0 crash-loops → OSError [Errno 28] No space left on device writing /data → PVC data-data-processor-0 (100Mi) is full",
   multi_hop=False, stack="Python", platform="EKS 1.30 containerd", source=HOLMES + "157_disk_full_statefulset")
def b2_21():
    c = Cluster("b2-21", "eks", "1.30.2")
    d = C("data-processor", "python:3.11-slim", command=["python", "/app/app.py"], stack="python", requests={"cpu": "100m", "memory": "128Mi"})
    c.statefulset("app-157", "data-processor", [d], replicas=1, claims=[("data", "/data", "100Mi")], labels={"app": "data-processor"},
                  pods=[{"c": {"data-processor": vars(crashloop(d, "Error", 1, 7, ago=1.3, ran=0.2))}}])
    c.log("app-157", "data-processor-0", "data-processor",
          "[2025-06-03 09:39:41.118230] Starting Data Analytics Processor v2.4.1\n[2025-06-03 09:39:41.118301] Configuration: Data repository at /data\n"
          "[2025-06-03 09:39:41.118322] Configuration: Batch size set to 1000 records for optimal throughput\n"
          "Traceback (most recent call last):\n  File \"/app/app.py\", line 71, in <module>\n    processor.run()\n  File \"/app/app.py\", line 58, in run\n"
          "    with open(path, \"w\") as f:\nOSError: [Errno 28] No space left on device: '/data/analytics_batch_000182.json'\n")
    return c, crash_pod_alert(c, "app-157", "data-processor-0", "data-processor", 6)


@R("22", title="Media encoders stuck mounting an NFS share: the in-cluster NFS server crash-loops", category="volume_mount_failure",
   deepest="pod/storage/nfs-server-0", alt_deepest=["persistentvolume/shared-media"], alt_categories=["dependency_failure"],
   evidence=[["mount.nfs", "Connection timed out"], ["nfs-server"]],
   chain="media-encoder pod ContainerCreating → FailedMount: mount.nfs Connection timed out to 10.96.118.20 → that is Service storage/nfs-server with 0 ready endpoints → nfs-server-0 crash-loops: /exports does not support NFS export",
   multi_hop=True, stack="NFS (nfs-ganesha)", platform="on-prem kubeadm 1.27 containerd", source="composed from experience")
def b2_22():
    c = Cluster("b2-22", "onprem", "1.27.14")
    nfs = C("nfs-server", "registry.k8s.io/volume-nfs:0.8", ports=[("nfs", 2049), ("mountd", 20048), ("rpcbind", 111)], security={"privileged": True})
    c.statefulset("storage", "nfs-server", [nfs], replicas=1, storage_class="ceph-block", claims=[("export", "/exports", "500Gi")], headless=False,
                  labels={"role": "nfs-server"}, pods=[{"c": {"nfs-server": vars(crashloop(nfs, "Error", 1, 13, ago=1.6, ran=0.05))}}])
    c.service("storage", "nfs-server", {"role": "nfs-server"}, [("nfs", 2049, 2049), ("mountd", 20048, 20048), ("rpcbind", 111, 111)], ip="10.96.118.20")
    c.log("storage", "nfs-server-0", "nfs-server", "Serving /exports\nrpcinfo: can't contact rpcbind: : RPC: Unable to receive; errno = Connection refused\n"
          "Starting rpcbind\nexportfs: /exports does not support NFS export\n")
    c.add("persistentvolumes", {"metadata": {"name": "shared-media"}, "spec": {"capacity": {"storage": "500Gi"}, "accessModes": ["ReadWriteMany"],
                                                                              "nfs": {"server": "10.96.118.20", "path": "/exports"},
                                                                              "persistentVolumeReclaimPolicy": "Retain", "storageClassName": "",
                                                                              "claimRef": {"namespace": "media", "name": "shared-media", "kind": "PersistentVolumeClaim"}},
                                  "status": {"phase": "Bound"}})
    c.add("persistentvolumeclaims", {"metadata": {"name": "shared-media"}, "spec": {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": "500Gi"}},
                                                                                     "storageClassName": "", "volumeName": "shared-media", "volumeMode": "Filesystem"},
                                     "status": {"phase": "Bound", "accessModes": ["ReadWriteMany"], "capacity": {"storage": "500Gi"}}}, "media")
    e = C("encoder", "registry.acme.internal/media-encoder:5.5.0", stack="go", mounts=[("shared-media", "/media")], state="waiting", reason="ContainerCreating")
    c.deployment("media", "media-encoder", [e], replicas=2, rs_hash="7c9d8b6f5", rolled_ago=18,
                 volumes=[{"name": "shared-media", "persistentVolumeClaim": {"claimName": "shared-media"}}], pods=[{"suffix": "k4qzt"}, {"suffix": "s8xnw"}])
    for s in ("k4qzt", "s8xnw"):
        p = f"media-encoder-7c9d8b6f5-{s}"
        uid = c.pods[("media", p)]["metadata"]["uid"]
        node = c.pods[("media", p)]["spec"]["nodeName"]
        c.event("media", "Pod", p, "FailedMount",
                f'MountVolume.SetUp failed for volume "shared-media" : mount failed: exit status 32\nMounting command: mount\nMounting arguments: -t nfs 10.96.118.20:/exports '
                f'/var/lib/kubelet/pods/{uid}/volumes/kubernetes.io~nfs/shared-media\nOutput: mount.nfs: Connection timed out\n', count=7, last=1.8, first=17, host=node)
    return c, alert(c, "KubePodNotReady", {"namespace": "media", "pod": "media-encoder-7c9d8b6f5-k4qzt"}, target=None, starts_ago=2)


# ================================================================================================ node_not_ready
@R("23", title="AKS node NotReady: CNI not initialized because azure-cns crash-loops on it", category="node_not_ready",
   deepest="pod/kube-system/azure-cns-kq8zt", alt_deepest=["node/aks-nodepool1-35118927-vmss000003"],
   evidence=[["cni plugin not initialized", "NetworkPluginNotReady"], ["azure-cns"]],
   chain="node vmss000003 Ready=False: container runtime network not ready (cni plugin not initialized) → azure-cns pod on that node crash-loops (IMDS unreachable)",
   multi_hop=False, stack="-", platform="AKS 1.29 containerd", source="https://github.com/aws/karpenter-provider-aws/issues/1391 (wording); composed from experience")
def b2_23():
    names = ["aks-nodepool1-35118927-vmss000000", "aks-nodepool1-35118927-vmss000001", "aks-nodepool1-35118927-vmss000002"]
    c = Cluster("b2-23", "aks", "1.29.4", worker_names=names)
    bad = c.join_node(14, name="aks-nodepool1-35118927-vmss000003", skip=("azure-cns", "csi-azuredisk-node"))
    dd = c._ds[("kube-system", "csi-azuredisk-node")]
    c.pod("kube-system", "csi-azuredisk-node-f7lqd", [replace(x, state="waiting", reason="ContainerCreating") for x in dd["containers"]], node=bad,
          labels={**dd["sel"], "controller-revision-hash": dd["h"], "pod-template-generation": "2"}, owner=("DaemonSet", "csi-azuredisk-node"),
          priority_class="system-node-critical", tolerations=dd["tol"], started_ago=13)
    c.event("kube-system", "Pod", "csi-azuredisk-node-f7lqd", "NetworkNotReady",
            "network is not ready: container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized",
            count=410, last=0.1, first=13, host=bad)
    c.workers.remove(bad)
    c.node_not_ready(bad, "false", "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized", since=13)
    d = c._ds[("kube-system", "azure-cns")]
    cns = crashloop(replace(d["containers"][0], started_ago=13), "Error", 1, 7, ago=1.5, ran=0.1)
    c.pod("kube-system", "azure-cns-kq8zt", [cns], node=bad, labels={**d["sel"], "controller-revision-hash": d["h"], "pod-template-generation": "2"},
          owner=("DaemonSet", "azure-cns"), host_network=True, priority_class="system-node-critical", tolerations=d["tol"], started_ago=13)
    c.log("kube-system", "azure-cns-kq8zt", "cns-container",
          '{"level":"info","ts":"2025-06-03T09:39:50.112Z","msg":"Initializing CNS","version":"v1.5.26"}\n'
          '{"level":"error","ts":"2025-06-03T09:39:55.231Z","msg":"Failed to initialize CNS","error":"failed to get primary interface from IMDS: Get \\"http://169.254.169.254/metadata/instance/network?api-version=2017-08-01\\": dial tcp 169.254.169.254:80: connect: connection refused"}\n')
    c.event("kube-system", "Pod", "azure-cns-kq8zt", "BackOff", "Back-off restarting failed container cns-container in pod azure-cns-kq8zt_kube-system(x)", count=31,
            last=0.7, first=13, host=bad, field="spec.containers{cns-container}")
    c.event("default", "Node", bad, "NodeNotReady", f"Node {bad} status is now: NodeNotReady", type="Normal", last=13, host=bad)
    return c, alert(c, "KubeNodeNotReady", {"node": bad, "condition": "Ready", "status": "true"}, starts_ago=1)


@R("24", title="etcd StatefulSet short a member: etcd-2 is on a GKE node that stopped reporting", category="node_not_ready",
   deepest="node/gke-prod-default-pool-4f2a9c1e-w8kd", alt_deepest=["pod/platform/etcd-2"],
   evidence=[["Kubelet stopped posting node status", "Unknown", "NotReady"]],
   chain="StatefulSet etcd 2/3 → etcd-2 not ready, terminating → node gke-prod-default-pool-4f2a9c1e-w8kd Ready=Unknown: Kubelet stopped posting node status",
   multi_hop=True, red_herrings=["healthy etcd members log that the peer is unreachable"], stack="etcd (Go)", platform="GKE 1.30 containerd",
   source="composed from experience")
def b2_24():
    c = Cluster("b2-24", "gke", "1.30.5")
    bad = c.join_node(60 * 24 * 4, name="gke-prod-default-pool-4f2a9c1e-w8kd")
    c.workers.remove(bad)
    e = C("etcd", "docker.io/bitnami/etcd:3.5.14-debian-12-r0", ports=[("client", 2379), ("peer", 2380)], stack="go")
    c.statefulset("platform", "etcd", [e], replicas=3, storage_class="premium-rwo", claims=[("data", "/bitnami/etcd", "8Gi")], service=[("client", 2379, "client")],
                  pods=[{"node": c.workers[0]}, {"node": c.workers[1]}, {"node": bad}])
    c.node_not_ready(bad, "unknown", since=24)
    c.mark_pods_not_ready(bad, since=23.5)
    for i in (0, 1):
        c.log("platform", f"etcd-{i}", "etcd",
              '{"level":"warn","ts":"2025-06-03T09:40:11.211Z","caller":"rafthttp/probing_status.go:68","msg":"prober detected unhealthy status","round-tripper-name":"ROUND_TRIPPER_RAFT_MESSAGE","remote-peer-id":"c3b2e1a4d5f60718","rtt":"0s","error":"dial tcp 10.8.3.14:2380: i/o timeout"}\n')
    c.event("platform", "Pod", "etcd-2", "NodeNotReady", "Node is not ready", last=23.5, source="node-controller")
    c.event("default", "Node", bad, "NodeNotReady", f"Node {bad} status is now: NodeNotReady", type="Normal", last=24, source="node-controller")
    return c, alert(c, "KubeStatefulSetReplicasMismatch", {"namespace": "platform", "statefulset": "etcd"}, starts_ago=6)


# ================================================================================================ node_pressure_eviction
@R("25", title="PDF renderer evicted: its containers exceeded their total ephemeral-storage limit", category="node_pressure_eviction",
   deepest="pod/docs/pdf-renderer-6f9c8d7b5-z2wlk", evidence=[["ephemeral local storage", "ephemeral-storage"]],
   chain="pdf-renderer pod Failed/Evicted → Pod ephemeral local storage usage exceeds the total limit of containers 2Gi (scratch files in /tmp)",
   multi_hop=False, stack="Node.js/Chromium", platform="EKS 1.29 containerd", source="https://github.com/kubernetes/kubernetes/issues/94073 ; composed from experience")
def b2_25():
    c = Cluster("b2-25", "eks", "1.29.4")
    r = C("renderer", f"{ECR}/pdf-renderer:4.0.3", ports=[("http", 3000)], stack="node", limits={"ephemeral-storage": "2Gi", "memory": "2Gi"},
          requests={"ephemeral-storage": "1Gi", "cpu": "500m", "memory": "1Gi"})
    c.deployment("docs", "pdf-renderer", [r], replicas=2, rs_hash="6f9c8d7b5", desired=2, service=[("http", 80, "http")],
                 pods=[{"suffix": "z2wlk", "phase": "Failed", "reason": "Evicted", "ip": False,
                        "message": "Pod ephemeral local storage usage exceeds the total limit of containers 2Gi. ",
                        "c": {"renderer": {"state": "terminated", "exit_code": 137, "reason": "ContainerStatusUnknown", "ready": False,
                                           "message": "The container could not be located when the pod was terminated"}}},
                       {"suffix": "h8kqm"}, {"suffix": "p4vtx", "started_ago": 18}])
    node = c.pods[("docs", "pdf-renderer-6f9c8d7b5-z2wlk")]["spec"]["nodeName"]
    c.event("docs", "Pod", "pdf-renderer-6f9c8d7b5-z2wlk", "Evicted", "Pod ephemeral local storage usage exceeds the total limit of containers 2Gi. ", last=18, host=node)
    return c, alert(c, "KubePodNotReady", {"namespace": "docs", "pod": "pdf-renderer-6f9c8d7b5-z2wlk"}, target=None, starts_ago=3)


@R("26", title="Node under MemoryPressure evicting pods", category="node_pressure_eviction",
   deepest="node/aks-nodepool1-18224611-vmss000001", evidence=[["MemoryPressure"]],
   chain="KubeNodePressure → node vmss000001 MemoryPressure=True, EvictionThresholdMet, two pods evicted for memory",
   multi_hop=False, stack="-", platform="AKS 1.28 containerd", source="https://github.com/kubernetes/kubernetes/issues/91600 ; composed from experience")
def b2_26():
    names = ["aks-nodepool1-18224611-vmss000000", "aks-nodepool1-18224611-vmss000001", "aks-nodepool1-18224611-vmss000002"]
    c = Cluster("b2-26", "aks", "1.28.9", worker_names=names)
    bad = names[1]
    c.set_condition(bad, "MemoryPressure", "True", "KubeletHasInsufficientMemory", "kubelet has insufficient memory available", since=16)
    c.node(bad)["spec"].setdefault("taints", []).append({"key": "node.kubernetes.io/memory-pressure", "effect": "NoSchedule", "timeAdded": ts(16)})
    a = C("analytics", f"{ACR}/analytics-worker:6.1.0", stack="python", requests={"cpu": "250m", "memory": "512Mi"})
    msg = ("The node was low on resource: memory. Threshold quantity: 750Mi, available: 702148Ki. Container analytics was using 5912044Ki, request is 512Mi, "
           "has larger consumption of memory. ")
    c.deployment("analytics", "analytics-worker", [a], replicas=2, rs_hash="7d6c9b8f5", desired=2,
                 pods=[{"suffix": "r8kqx", "node": bad, "phase": "Failed", "reason": "Evicted", "message": msg, "ip": False,
                        "c": {"analytics": {"state": "terminated", "exit_code": 137, "reason": "Error", "ready": False}}},
                       {"suffix": "m2vzt", "node": names[0]}, {"suffix": "c6lwn", "node": names[2], "started_ago": 15}])
    c.event("analytics", "Pod", "analytics-worker-7d6c9b8f5-r8kqx", "Evicted", msg, last=15.5, host=bad)
    c.event("default", "Node", bad, "EvictionThresholdMet", "Attempting to reclaim memory", count=4, last=1, first=16, host=bad)
    c.event("default", "Node", bad, "NodeHasInsufficientMemory", f"Node {bad} status is now: NodeHasInsufficientMemory", type="Normal", last=16, host=bad)
    return c, alert(c, "KubeNodePressure", {"node": bad, "condition": "MemoryPressure", "status": "true"}, starts_ago=5, severity="info")


# ================================================================================================ liveness_probe_failure
@R("27", title="Spring Boot API killed by its startup probe before it finishes booting on 500m CPU", category="liveness_probe_failure",
   deepest="pod/api/quotes-api-7c6d9f8b5-k9wpz", evidence=[["Startup probe failed", "startup probe"]],
   chain="quotes-api restarts (exit 143) → Startup probe failed (connection refused on :8080) and 'failed startup probe, will be restarted' → boot takes ~70 s, probe allows 30 s",
   multi_hop=False, stack="Java/Spring Boot", platform="GKE 1.29 containerd", source="https://github.com/egovernments/DIGIT-DevOps/pull/4893 ; https://github.com/kubernetes/kubernetes/issues/62594")
def b2_27():
    c = Cluster("b2-27", "gke", "1.29.6")
    a = C("quotes-api", f"{GAR}/quotes-api:2.8.0", ports=[("http", 8080)], stack="java", requests={"cpu": "250m", "memory": "768Mi"},
          limits={"cpu": "500m", "memory": "1Gi"}, startup=probe_http("/actuator/health", "http", periodSeconds=5, failureThreshold=6),
          liveness=probe_http("/actuator/health/liveness", "http"))
    c.deployment("api", "quotes-api", [a], replicas=1, rs_hash="7c6d9f8b5", rolled_ago=26, revision=3,
                 pods=[{"suffix": "k9wpz", "c": {"quotes-api": vars(crashloop(a, "Error", 143, 7, ago=0.9, ran=0.55))}}])
    p = "quotes-api-7c6d9f8b5-k9wpz"
    ip = c.pods[("api", p)]["status"]["podIP"]
    node = c.pods[("api", p)]["spec"]["nodeName"]
    c.log("api", p, "quotes-api", spring_start("quotes-api", 8080, 1.5).split("o.s.b.w.embedded.tomcat.TomcatWebServer  : Tomcat started")[0].rsplit("\n", 2)[0] + "\n"
          f"{logtime(0.95)}  INFO 1 --- [quotes-api] [ionShutdownHook] o.s.b.w.e.tomcat.GracefulShutdown        : Commencing graceful shutdown. Waiting for active requests to complete\n")
    c.event("api", "Pod", p, "Unhealthy", f'Startup probe failed: Get "http://{ip}:8080/actuator/health": dial tcp {ip}:8080: connect: connection refused',
            count=48, last=1.0, first=25, host=node, field="spec.containers{quotes-api}")
    c.event("api", "Pod", p, "Killing", "Container quotes-api failed startup probe, will be restarted", type="Normal", count=8, last=1.0, first=25, host=node,
            field="spec.containers{quotes-api}")
    return c, crash_pod_alert(c, "api", p, "quotes-api", 9)


@R("28", title="Redis node restarted by its liveness probe while loading a 12 GB RDB (LOADING)", category="liveness_probe_failure",
   deepest="pod/cache/redis-node-0", evidence=[["Liveness probe failed"], ["LOADING"]],
   chain="StatefulSet redis-node 2/3 → redis-node-0 restarts → Liveness probe failed: LOADING Redis is loading the dataset in memory → killed before the load completes, loop",
   multi_hop=False, stack="Redis", platform="EKS 1.29 containerd", source="composed from experience (bitnami redis liveness scripts)")
def b2_28():
    c = Cluster("b2-28", "eks", "1.29.4")
    r = C("redis", "docker.io/bitnami/redis:7.2.4-debian-12-r9", ports=[("redis", 6379)], stack="redis", requests={"cpu": "1", "memory": "16Gi"},
          liveness={"exec": {"command": ["sh", "-c", "/health/ping_liveness_local.sh 5"]}, "initialDelaySeconds": 20, "periodSeconds": 5, "timeoutSeconds": 6, "failureThreshold": 5})
    c.statefulset("cache", "redis-node", [r], replicas=3, claims=[("redis-data", "/data", "40Gi")], headless=True, service=[("tcp-redis", 6379, "redis")],
                  pods=[{"c": {"redis": vars(crashloop(r, "Completed", 0, 12, ago=0.7, ran=0.8))}}, {}, {}])
    node = c.pods[("cache", "redis-node-0")]["spec"]["nodeName"]
    c.log("cache", "redis-node-0", "redis",
          "1:C 03 Jun 2025 09:39:51.402 * oO0OoO0OoO0Oo Redis is starting oO0OoO0OoO0Oo\n1:M 03 Jun 2025 09:39:51.405 * Server initialized\n"
          "1:M 03 Jun 2025 09:39:51.406 * Loading RDB produced by version 7.2.4\n1:M 03 Jun 2025 09:39:51.406 * RDB age 412 seconds\n"
          "1:M 03 Jun 2025 09:39:51.406 * RDB memory usage when created 11843.21 Mb\n"
          "1:signal-handler (1748943639) Received SIGTERM scheduling shutdown...\n1:M 03 Jun 2025 09:40:39.711 # User requested shutdown...\n"
          "1:M 03 Jun 2025 09:40:39.712 # Redis is now ready to exit, bye bye...\n")
    c.event("cache", "Pod", "redis-node-0", "Unhealthy", "Liveness probe failed: LOADING Redis is loading the dataset in memory", count=61, last=0.8, first=44,
            host=node, field="spec.containers{redis}")
    c.event("cache", "Pod", "redis-node-0", "Killing", "Container redis failed liveness probe, will be restarted", type="Normal", count=12, last=0.8, first=44,
            host=node, field="spec.containers{redis}")
    return c, alert(c, "KubeStatefulSetReplicasMismatch", {"namespace": "cache", "statefulset": "redis-node"}, starts_ago=26)


# ================================================================================================ readiness_probe_failure
@R("29", title="New revision never ready: the app reports schema migrations pending (no crash, no dependency error)", category="readiness_probe_failure",
   deepest="pod/shipping/shipping-api-5f7b9d8c6-d4kwn", alt_deepest=["pod/shipping/shipping-api-5f7b9d8c6-x8mzq"],
   evidence=[["Readiness probe failed"], ["migrations pending", "schema version"]],
   chain="shipping-api 2/3 available → new ReplicaSet's pods Running, not ready → Readiness probe failed (500) → app: schema version 41 < required 43 (migrations pending)",
   multi_hop=False, red_herrings=["linkerd-proxy sidecar warnings"], stack="Go", platform="AKS 1.29 containerd", source="composed from experience")
def b2_29():
    c = Cluster("b2-29", "aks", "1.29.4")
    api = C("shipping-api", f"{ACR}/shipping-api:4.3.0", ports=[("http", 8080)], stack="go", readiness=probe_http("/readyz", "http"))
    proxy = C("linkerd-proxy", "cr.l5d.io/linkerd/proxy:stable-2.14.10", ports=[("linkerd-admin", 4191)])
    c.deployment("shipping", "shipping-api", [api, proxy], replicas=3, rs_hash="5f7b9d8c6", rolled_ago=34, revision=27,
                 pods=[{"suffix": s, "started_ago": 34, "c": {"shipping-api": {"ready": False, "started_ago": 34}}} for s in ("d4kwn", "x8mzq")],
                 old_rs={"hash": "7b6c8d9f4", "replicas": 2, "containers": [replace(api, image=f"{ACR}/shipping-api:4.2.7"), proxy]},
                 service=[("http", 80, "http")])
    for s in ("d4kwn", "x8mzq"):
        p = f"shipping-api-5f7b9d8c6-{s}"
        c.log("shipping", p, "shipping-api",
              '{"level":"info","ts":"%s","msg":"starting shipping-api","version":"4.3.0"}\n' % logtime(34) +
              "".join('{"level":"warn","ts":"%s","caller":"health/ready.go:41","msg":"not ready","reason":"schema version 41 < required 43 (migrations pending)"}\n' % logtime(30 - i * 5) for i in range(6)))
        c.log("shipping", p, "linkerd-proxy", "[     0.001812s]  INFO ThreadId(01) linkerd2_proxy: release stable-2.14.10\n"
              "[  1187.551022s]  WARN ThreadId(01) outbound:proxy{addr=10.0.142.8:5432}: linkerd_reconnect: Failed to connect error=connect timed out after 1s\n")
        c.event("shipping", "Pod", p, "Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 500", count=201, last=0.2, first=33,
                host=c.pods[("shipping", p)]["spec"]["nodeName"], field="spec.containers{shipping-api}")
    return c, alert(c, "KubeDeploymentReplicasMismatch", {"namespace": "shipping", "deployment": "shipping-api"}, starts_ago=12)


@R("30", title="Node.js API unready: readiness probe times out while the event loop is starved under a 100m CPU limit", category="readiness_probe_failure",
   deepest="pod/web/bff-6c8d9b7f5-t7kxq", evidence=[["Readiness probe failed"], ["context deadline exceeded", "Client.Timeout"]],
   chain="bff pod Running, not ready → Readiness probe failed: context deadline exceeded → app logs event-loop lag of seconds; CPU limit 100m",
   multi_hop=False, stack="Node.js", platform="EKS 1.30 containerd", source="https://github.com/OpenCTI-Platform/opencti/issues/9713 ; composed from experience")
def b2_30():
    c = Cluster("b2-30", "eks", "1.30.2")
    b = C("bff", f"{ECR}/bff:12.4.0", ports=[("http", 3000)], stack="node", requests={"cpu": "100m", "memory": "256Mi"}, limits={"cpu": "100m", "memory": "512Mi"},
          readiness=probe_http("/health", "http", timeoutSeconds=1), ready=False)
    c.deployment("web", "bff", [b], replicas=1, rs_hash="6c8d9b7f5", rolled_ago=51, pods=[{"suffix": "t7kxq", "started_ago": 51}], service=[("http", 80, "http")])
    p = "bff-6c8d9b7f5-t7kxq"
    ip = c.pods[("web", p)]["status"]["podIP"]
    c.log("web", p, "bff", "".join('{"level":40,"time":%d,"pid":1,"hostname":"%s","lagMs":%d,"msg":"event loop lag"}\n' % (1748943300000 + i * 15000, p, 2100 + i * 170)
                                   for i in range(8)))
    c.event("web", "Pod", p, "Unhealthy", f'Readiness probe failed: Get "http://{ip}:3000/health": context deadline exceeded (Client.Timeout exceeded while awaiting headers)',
            count=288, last=0.1, first=50, host=c.pods[("web", p)]["spec"]["nodeName"], field="spec.containers{bff}")
    return c, alert(c, "KubePodNotReady", {"namespace": "web", "pod": p}, target=None, starts_ago=35)


# ================================================================================================ service_selector_mismatch
@R("31", title="Blackbox probe fails: after a chart rename the Service selects app.kubernetes.io/name=inventory, pods say inventory-api",
   category="service_selector_mismatch", deepest="service/shop/inventory", evidence=[["inventory"], ["inventory-api", "selector"]],
   chain="BlackboxProbeFailed http://inventory.shop.svc.cluster.local:8080/healthz → Service shop/inventory has no endpoints → selector app.kubernetes.io/name=inventory; the running pods carry inventory-api",
   multi_hop=False, stack="Java", platform="GKE 1.30 containerd", source="composed from experience (Helm chart rename)")
def b2_31():
    c = Cluster("b2-31", "gke", "1.30.5")
    inv = C("inventory-api", f"{GAR}/inventory-api:3.0.0", ports=[("http", 8080)], stack="java", readiness=probe_http("/healthz", "http"))
    c.deployment("shop", "inventory-api", [inv], replicas=2, rs_hash="6d7c8b9f5", labels={"app.kubernetes.io/name": "inventory-api", "app.kubernetes.io/instance": "inventory"})
    c.service("shop", "inventory", {"app.kubernetes.io/name": "inventory", "app.kubernetes.io/instance": "inventory"}, [("http", 8080, "http")])
    c.neighbours("shop", "java", n=2)
    a = alert(c, "BlackboxProbeFailed", {"instance": "http://inventory.shop.svc.cluster.local:8080/healthz", "job": "probe/monitoring/shop-inventory",
                                        "namespace": "monitoring", "module": "http_2xx"}, target=None, severity="critical", starts_ago=21,
              annotations={"summary": "Blackbox probe failed (instance http://inventory.shop.svc.cluster.local:8080/healthz)",
                           "description": "Probe failed\n  VALUE = 0\n  LABELS = map[instance:http://inventory.shop.svc.cluster.local:8080/healthz job:probe/monitoring/shop-inventory module:http_2xx]"},
              expr="probe_success == 0")
    return c, a


@R("32", title="Checkout crash-loops: a hand-written Service still selects role=master, the Bitnami PostgreSQL pods are component=primary",
   category="service_selector_mismatch", deepest="service/orders/orders-pg", evidence=[["orders-pg"], ["primary", "role", "selector"]],
   chain="checkout crash-loops → dial tcp orders-pg:5432 connection refused → Service orders-pg has no endpoints → selector app.kubernetes.io/name=postgresql,role=master matches no pod (pods: app.kubernetes.io/component=primary)",
   multi_hop=True, red_herrings=["the PostgreSQL pod restarted once three days ago"], stack="Go → PostgreSQL", platform="EKS 1.29 containerd",
   source="composed from experience (Bitnami chart label changes)")
def b2_32():
    c = Cluster("b2-32", "eks", "1.29.4")
    pg = C("postgresql", "docker.io/bitnami/postgresql:16.3.0-debian-12-r14", ports=[("tcp-postgresql", 5432)], stack="postgres")
    c.statefulset("orders", "orders-postgresql", [pg], replicas=1, claims=[("data", "/bitnami/postgresql", "20Gi")],
                  labels={"app.kubernetes.io/name": "postgresql", "app.kubernetes.io/instance": "orders", "app.kubernetes.io/component": "primary"},
                  service=[("tcp-postgresql", 5432, "tcp-postgresql")], headless=True,
                  pods=[{"c": {"postgresql": {"restarts": 1, "last": {"exitCode": 1, "reason": "Error", "ago": 60 * 24 * 3}}}}])
    svc = c.service("orders", "orders-pg", {"app.kubernetes.io/name": "postgresql", "role": "master"}, [("postgres", 5432, 5432)])
    co = C("checkout", f"{ECR}/checkout:7.1.0", ports=[("http", 8080)], stack="go", env={"PGHOST": "orders-pg.orders.svc.cluster.local", "PGPORT": "5432"})
    c.deployment("orders", "checkout", [co], replicas=2, rs_hash="7f8d9c6b5",
                 pods=[{"suffix": s, "c": {"checkout": vars(crashloop(co, "Error", 1, 9, ago=1 + i, ran=0.3))}} for i, s in enumerate(("b6kwq", "n3xzt"))])
    for s in ("b6kwq", "n3xzt"):
        c.log("orders", f"checkout-7f8d9c6b5-{s}", "checkout",
              '{"level":"fatal","ts":"%s","caller":"cmd/checkout/main.go:74","msg":"connecting to database","error":"failed to connect to `host=orders-pg.orders.svc.cluster.local user=checkout database=orders`: dial error (dial tcp %s:5432: connect: connection refused)"}\n'
              % (logtime(1), svc["spec"]["clusterIP"]))
    return c, crash_pod_alert(c, "orders", "checkout-7f8d9c6b5-b6kwq", "checkout", 16)


# ================================================================================================ dependency_failure
@R("33", title="Node API crash-loops on Mongo: mongo-0 is Pending because its PVC names no StorageClass and there is no default",
   category="dependency_failure", deepest="persistentvolumeclaim/data/datadir-mongo-0", alt_deepest=["pod/data/mongo-0"], alt_categories=["volume_mount_failure"],
   evidence=[["ECONNREFUSED", "MongoServerSelectionError"], ["storage class"]],
   chain="catalog-api crash-loops → MongoServerSelectionError connect ECONNREFUSED mongo:27017 → Service data/mongo 0 endpoints → mongo-0 Pending (unbound immediate PVC) → PVC datadir-mongo-0: no persistent volumes available and no storage class is set",
   multi_hop=True, stack="Node.js → MongoDB", platform="on-prem kubeadm 1.29 containerd", source="composed from experience")
def b2_33():
    c = Cluster("b2-33", "onprem", "1.29.6")
    for s in c.cluster["storageclasses"]:
        s["metadata"]["annotations"] = {}
    mg = C("mongod", "mongo:7.0.11", ports=[("mongodb", 27017)], state="waiting")
    msg = "0/4 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/4 nodes are available: 4 Preemption is not helpful for scheduling."
    c.statefulset("data", "mongo", [mg], replicas=1, storage_class=None, claims=[("datadir", "/data/db", "50Gi")], pvc_phase={0: "Pending"},
                  service=[("mongodb", 27017, "mongodb")], headless=False, created_ago=56, pods=[{"node": None, "unschedulable": msg, "started_ago": 55}])
    c.event("data", "PersistentVolumeClaim", "datadir-mongo-0", "FailedBinding", "no persistent volumes available for this claim and no storage class is set",
            count=220, last=0.3, first=55, source="persistentvolume-controller")
    c.event("data", "Pod", "mongo-0", "FailedScheduling", msg, count=12, last=4, first=55, source="default-scheduler")
    ip = c.get("services", "mongo", "data")["spec"]["clusterIP"]
    api = C("catalog-api", "registry.acme.internal/catalog-api:8.0.2", ports=[("http", 3000)], stack="node", env={"MONGO_URL": "mongodb://mongo.data.svc.cluster.local:27017/catalog"})
    c.deployment("catalog", "catalog-api", [api], replicas=2, rs_hash="5b8c6d9f7",
                 pods=[{"suffix": s, "c": {"catalog-api": vars(crashloop(api, "Error", 1, 11, ago=1 + i, ran=0.55))}} for i, s in enumerate(("j7wqx", "v2kmd"))])
    for s in ("j7wqx", "v2kmd"):
        c.log("catalog", f"catalog-api-5b8c6d9f7-{s}", "catalog-api",
              f"MongoServerSelectionError: connect ECONNREFUSED {ip}:27017\n    at Timeout._onTimeout (/app/node_modules/mongodb/lib/sdam/topology.js:278:38)\n"
              "    at listOnTimeout (node:internal/timers:573:17)\n    at process.processTimers (node:internal/timers:514:7) {\n"
              "  reason: TopologyDescription {\n    type: 'Unknown',\n    servers: Map(1) { 'mongo.data.svc.cluster.local:27017' => [ServerDescription] },\n"
              "  },\n  code: undefined,\n  [Symbol(errorLabels)]: Set(0) {}\n}\n\nNode.js v20.14.0\n")
    return c, crash_pod_alert(c, "catalog", "catalog-api-5b8c6d9f7-j7wqx", "catalog-api", 18)


@R("34", title="user-lookup slow and failing: its PostgreSQL crash-loops refusing to run as root", category="dependency_failure",
   deepest="pod/namespace-104a/postgres-7d8c6b9f5-q4xzn", evidence=[["root"], ["postgres"]],
   chain="UserLookupHighLatency → user-lookup logs psycopg2 OperationalError: connection refused to postgres:5432 → Service postgres 0 ready endpoints → postgres pod crash-loops: \"root\" execution of the PostgreSQL server is not permitted",
   multi_hop=True, red_herrings=["user-lookup pods themselves are Running and ready"], stack="Python/FastAPI → PostgreSQL", platform="EKS 1.30 containerd",
   source=HOLMES + "104a_postgres_root_issue")
def b2_34():
    c = Cluster("b2-34", "eks", "1.30.2")
    ns = "namespace-104a"
    pg = C("postgres", "postgres:15-alpine", ports=[("postgres", 5432)], command=["postgres"], security={"runAsUser": 0})
    c.deployment(ns, "postgres", [pg], replicas=1, rs_hash="7d8c6b9f5", rolled_ago=46,
                 pods=[{"suffix": "q4xzn", "c": {"postgres": vars(crashloop(pg, "Error", 1, 13, ago=1.8, ran=0.0))}}], service=[("postgres", 5432, "postgres")])
    c.log(ns, "postgres-7d8c6b9f5-q4xzn", "postgres",
          '"root" execution of the PostgreSQL server is not permitted.\nThe server must be started under an unprivileged user ID to prevent\n'
          "possible system security compromise.  See the documentation for\nmore information on how to properly start the server.\n")
    ip = c.get("services", "postgres", ns)["spec"]["clusterIP"]
    ul = C("user-lookup", f"{ECR}/user-lookup:1.6.0", ports=[("http", 8000)], stack="python", env={"DB_HOST": f"postgres.{ns}.svc.cluster.local"})
    c.deployment(ns, "user-lookup", [ul], replicas=2, rs_hash="6f9b8c7d5", service=[("http", 80, "http")], pods=[{"suffix": "m8kzq"}, {"suffix": "w3xnt"}])
    for s in ("m8kzq", "w3xnt"):
        c.log(ns, f"user-lookup-6f9b8c7d5-{s}", "user-lookup", "".join(
            f'INFO:     10.0.{i}.21:5{i}112 - "GET /users/18{i}2 HTTP/1.1" 500 Internal Server Error\n'
            f'ERROR:    db pool: (psycopg2.OperationalError) connection to server at "postgres.{ns}.svc.cluster.local" ({ip}), port 5432 failed: Connection refused\n'
            "\tIs the server running on that host and accepting TCP/IP connections?\n" for i in range(4)))
    return c, app_alert(c, "UserLookupHighLatency", ns, "user-lookup", "user-lookup-6f9b8c7d5-m8kzq", "user-lookup", 8000,
                        "user-lookup responses are slow", "p95 latency of user-lookup is 5.01s for the last 10 minutes.",
                        'histogram_quantile(0.95, sum by (le, namespace, job, service, pod, container, endpoint, instance) (rate(http_request_duration_seconds_bucket{job="user-lookup"}[5m]))) > 1')


@R("35", title="Payment errors cascade: payment-processor → auth-service → Redis, which is OOMKilled", category="dependency_failure",
   deepest="pod/namespace-68/redis-master-6b9c7d8f5-kw2xq", alt_categories=["oom_killed"], evidence=[["auth-service"], ["redis"], ["OOMKilled"]],
   chain="PaymentProcessorErrorRateHigh → payment-processor: auth-service returned 503 → auth-service: lost connection to Redis redis-master:6379 (connection refused) → Service redis-master 0 ready endpoints → redis-master pod crash-loops OOMKilled",
   multi_hop=True, stack="Python → Go → Redis", platform="GKE 1.30 containerd", source=HOLMES + "68_cascading_failures")
def b2_35():
    c = Cluster("b2-35", "gke", "1.30.5")
    ns = "namespace-68"
    r = C("redis", "redis:7.2", ports=[("redis", 6379)], stack="redis", requests={"cpu": "100m", "memory": "256Mi"}, limits={"memory": "256Mi"})
    c.deployment(ns, "redis-master", [r], replicas=1, rs_hash="6b9c7d8f5", service=[("redis", 6379, "redis")],
                 pods=[{"suffix": "kw2xq", "c": {"redis": vars(crashloop(r, "OOMKilled", 137, 10, ago=1.4, ran=3))}}])
    c.log(ns, "redis-master-6b9c7d8f5-kw2xq", "redis", "1:M 03 Jun 2025 09:36:12.001 * Ready to accept connections tcp\n"
          "1:M 03 Jun 2025 09:38:40.118 * 10000 changes in 60 seconds. Saving...\n1:M 03 Jun 2025 09:38:40.121 * Background saving started by pid 21\n")
    au = C("auth-service", f"{GAR}/auth-service:2.2.0", ports=[("http", 8080)], stack="go", env={"REDIS_ADDR": "redis-master:6379"})
    c.deployment(ns, "auth-service", [au], replicas=2, rs_hash="5c7d9b8f6", service=[("http", 80, "http")])
    for p in [p for (n, p) in c.pods if n == ns and p.startswith("auth-service-")]:
        c.log(ns, p, "auth-service", "".join(
            '{"level":"error","ts":"%s","msg":"Lost connection to Redis: Connection refused (ECONNREFUSED) redis-master:6379"}\n'
            '{"level":"warn","ts":"%s","msg":"token validation unavailable","status":503,"path":"/v1/validate"}\n' % (logtime(5 - i), logtime(5 - i)) for i in range(5)))
    pp = C("payment-processor", f"{GAR}/payment-processor:3.0.4", ports=[("http", 8000)], stack="python")
    c.deployment(ns, "payment-processor", [pp], replicas=2, rs_hash="7b8c9d6f5", service=[("http", 80, "http")], pods=[{"suffix": "t4kxn"}, {"suffix": "h9wzq"}])
    for s in ("t4kxn", "h9wzq"):
        c.log(ns, f"payment-processor-7b8c9d6f5-{s}", "payment-processor", "".join(
            f"{logtime(4 - i * 0.5, 'py')} ERROR payment: Order validation failed: Unable to process payment - auth-service returned 503\n" for i in range(6)))
    return c, app_alert(c, "PaymentProcessorErrorRateHigh", ns, "payment-processor", "payment-processor-7b8c9d6f5-t4kxn", "payment-processor", 8000,
                        "payment-processor error rate above 5%", "27% of payment requests failed in the last 5 minutes.",
                        'sum by (namespace, job, service, pod, container, endpoint, instance) (rate(payments_failed_total[5m])) / sum by (namespace, job, service, pod, container, endpoint, instance) (rate(payments_total[5m])) > 0.05')


@R("36", title="Frontend times out calling backend: a NetworkPolicy only admits tier=backend", category="dependency_failure",
   deepest="networkpolicy/namespace-84/backend-policy", evidence=[["backend-policy", "NetworkPolicy"], ["ETIMEDOUT", "timed out", "timeout"]],
   chain="frontend 0/2 ready → connect ETIMEDOUT backend:8080 → Service backend has ready endpoints → NetworkPolicy backend-policy allows ingress to app=backend only from tier=backend (frontend is tier=frontend)",
   multi_hop=True, stack="Node.js", platform="on-prem kubeadm 1.29 containerd (Calico)", source=HOLMES + "84_network_policy_blocking_traffic")
def b2_36():
    c = Cluster("b2-36", "onprem", "1.29.6")
    ns = "namespace-84"
    be = C("backend", "registry.acme.internal/backend:2.0.1", ports=[("http", 8080)], stack="go")
    c.deployment(ns, "backend", [be], replicas=2, rs_hash="6d8c7b9f5", labels={"app": "backend"}, pod_labels={"tier": "backend"}, service=[("http", 8080, "http")])
    c.netpol(ns, "backend-policy", {"app": "backend"}, ingress=[{"from": [{"podSelector": {"matchLabels": {"tier": "backend"}}}], "ports": [{"protocol": "TCP", "port": 8080}]}])
    ip = c.get("services", "backend", ns)["spec"]["clusterIP"]
    fe = C("frontend", "registry.acme.internal/frontend:2.0.1", ports=[("http", 3000)], stack="node", env={"BACKEND_URL": "http://backend:8080"},
           readiness=probe_http("/ready", "http", timeoutSeconds=5), ready=False)
    c.deployment(ns, "frontend", [fe], replicas=2, rs_hash="7c9b8d6f5", labels={"app": "frontend"}, pod_labels={"tier": "frontend"}, rolled_ago=31,
                 pods=[{"suffix": "g2kxq", "started_ago": 31}, {"suffix": "r7wnz", "started_ago": 31}], service=[("http", 80, "http")])
    for s in ("g2kxq", "r7wnz"):
        p = f"frontend-7c9b8d6f5-{s}"
        c.log(ns, p, "frontend", "".join(
            '{"level":50,"time":%d,"pid":1,"hostname":"%s","err":{"type":"Error","message":"connect ETIMEDOUT %s:8080","code":"ETIMEDOUT","syscall":"connect","address":"%s","port":8080},"msg":"upstream request to backend failed"}\n'
            % (1748943300000 + i * 20000, p, ip, ip) for i in range(6)))
        c.event(ns, "Pod", p, "Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 503", count=180, last=0.3, first=30,
                host=c.pods[(ns, p)]["spec"]["nodeName"], field="spec.containers{frontend}")
    return c, alert(c, "KubeDeploymentReplicasMismatch", {"namespace": ns, "deployment": "frontend"}, starts_ago=14)


@R("37", title="Orders service cannot reach its RDS MySQL (instance stopped): Communications link failure / connect timed out",
   category="dependency_failure", deepest="pod/app-22/customer-orders-5d6c7b8f9-k2xwz", alt_deepest=["deployment/app-22/customer-orders"],
   evidence=[["promotions-db-for-medium", "rds.amazonaws.com"], ["Communications link failure", "Connect timed out"]],
   chain="customer-orders crash-loops → CommunicationsException: Communications link failure, connect timed out to promotions-db-for-medium…rds.amazonaws.com:3306 → outside the cluster (the RDS instance is stopped)",
   multi_hop=False, stack="Java → AWS RDS MySQL", platform="EKS 1.30 containerd", source=HOLMES + "22_high_latency_dbi_down")
def b2_37():
    c = Cluster("b2-37", "eks", "1.30.2")
    ns = "app-22"
    host = "promotions-db-for-medium.cp8rwothwarq.us-east-2.rds.amazonaws.com"
    c.secret(ns, "db-secrets-for-medium", ["username", "password", "host", "database"])
    co = C("customer-orders", f"{ECR}/customer-orders:1.3.0", ports=[("http", 8080)], stack="java", env={"DB_HOST": host, "DB_PORT": "3306"},
           env_refs=[{"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db-secrets-for-medium", "key": "password"}}}])
    c.deployment(ns, "customer-orders", [co], replicas=1, rs_hash="5d6c7b8f9",
                 pods=[{"suffix": "k2xwz", "c": {"customer-orders": vars(crashloop(co, "Error", 1, 6, ago=2, ran=0.9))}}], service=[("http", 80, "http")])
    c.log(ns, "customer-orders-5d6c7b8f9-k2xwz", "customer-orders", spring_start("customer-orders", 8080, 3).split("HikariPool-1 - Added")[0].rsplit("\n", 1)[0] + "\n"
          f"{logtime(2.1)} ERROR 1 --- [customer-orders] [           main] com.zaxxer.hikari.pool.HikariPool        : HikariPool-1 - Exception during pool initialization.\n\n"
          "com.mysql.cj.jdbc.exceptions.CommunicationsException: Communications link failure\n\n"
          "The last packet sent successfully to the server was 0 milliseconds ago. The driver has not received any packets from the server.\n"
          "\tat com.mysql.cj.jdbc.exceptions.SQLError.createCommunicationsException(SQLError.java:175)\n"
          f"Caused by: java.net.SocketTimeoutException: Connect timed out\n\tat java.base/sun.nio.ch.NioSocketImpl.timedFinishConnect(NioSocketImpl.java:546)\n"
          f"\t... connecting to {host}:3306\n")
    return c, crash_pod_alert(c, ns, "customer-orders-5d6c7b8f9-k2xwz", "customer-orders", 11)


@R("46", title="gRPC checkout cannot reach pricing: every pricing pod is in ImagePullBackOff after a Recreate deploy", category="dependency_failure",
   deepest="pod/pricing/pricing-7b9c6d8f5-x4kzq", alt_deepest=["pod/pricing/pricing-7b9c6d8f5-d8wnm"], alt_categories=["image_pull_failure"],
   evidence=[["pricing"], ["ImagePullBackOff", "not found", "ErrImagePull"]],
   chain="checkout-grpc 0/3 ready → rpc error Unavailable: dial tcp pricing:50051 connection refused → Service pricing 0 endpoints → pricing pods ImagePullBackOff: tag v1.9.O not found",
   multi_hop=True, stack="Go/gRPC", platform="GKE 1.30 containerd", source="composed from experience")
def b2_46():
    c = Cluster("b2-46", "gke", "1.30.5")
    img = f"{GAR}/pricing:v1.9.O"
    pr = C("pricing", img, ports=[("grpc", 50051)], stack="go", state="waiting", reason="ImagePullBackOff", message=f'Back-off pulling image "{img}"')
    c.deployment("pricing", "pricing", [pr], replicas=2, rs_hash="7b9c6d8f5", rolled_ago=23, strategy="Recreate", pods=[{"suffix": "x4kzq"}, {"suffix": "d8wnm"}],
                 service=[("grpc", 50051, "grpc")])
    for s in ("x4kzq", "d8wnm"):
        p = f"pricing-7b9c6d8f5-{s}"
        node = c.pods[("pricing", p)]["spec"]["nodeName"]
        c.event("pricing", "Pod", p, "Failed", f'Failed to pull image "{img}": rpc error: code = NotFound desc = failed to pull and unpack image "{img}": failed to resolve reference "{img}": {img}: not found',
                count=8, last=2, first=23, host=node, field="spec.containers{pricing}")
        c.event("pricing", "Pod", p, "BackOff", f'Back-off pulling image "{img}"', type="Normal", count=97, last=0.3, first=22, host=node, field="spec.containers{pricing}")
    ip = c.get("services", "pricing", "pricing")["spec"]["clusterIP"]
    co = C("checkout-grpc", f"{GAR}/checkout-grpc:5.0.0", ports=[("grpc", 50051), ("http", 8080)], stack="go", env={"PRICING_ADDR": "pricing.pricing.svc.cluster.local:50051"},
           readiness=probe_http("/readyz", "http"), ready=False)
    c.deployment("checkout", "checkout-grpc", [co], replicas=3, rs_hash="6c8d7b9f5", service=[("grpc", 50051, "grpc")])
    for p in [p for (n, p) in c.pods if n == "checkout" and p.startswith("checkout-grpc-")]:
        c.log("checkout", p, "checkout-grpc", "".join(
            '{"level":"error","ts":"%s","msg":"pricing quote failed","error":"rpc error: code = Unavailable desc = connection error: desc = \\"transport: Error while dialing: dial tcp %s:50051: connect: connection refused\\""}\n'
            % (logtime(6 - i), ip) for i in range(5)))
        c.event("checkout", "Pod", p, "Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 503", count=130, last=0.2, first=22,
                host=c.pods[("checkout", p)]["spec"]["nodeName"], field="spec.containers{checkout-grpc}")
    return c, alert(c, "KubeDeploymentReplicasMismatch", {"namespace": "checkout", "deployment": "checkout-grpc"}, starts_ago=7)


@R("48", title="Laravel shop unready: MySQL refuses connections because mysql-0 is OOMKilled in a loop", category="dependency_failure",
   deepest="pod/shop/mysql-0", alt_categories=["oom_killed"], evidence=[["mysql"], ["OOMKilled"]],
   chain="shop-web 0/3 ready → SQLSTATE[HY000] [2002] Connection refused (mysql:3306) → Service mysql 0 ready endpoints → mysql-0 crash-loops OOMKilled",
   multi_hop=True, stack="PHP/Laravel → MySQL", platform="on-prem kubeadm 1.29 containerd", source="composed from experience")
def b2_48():
    c = Cluster("b2-48", "onprem", "1.29.6")
    m = C("mysql", "mysql:8.0.37", ports=[("mysql", 3306)], requests={"memory": "1Gi"}, limits={"memory": "1Gi"})
    c.statefulset("shop", "mysql", [m], replicas=1, storage_class="ceph-block", claims=[("data", "/var/lib/mysql", "30Gi")], headless=False,
                  labels={"app": "mysql"}, service=[("mysql", 3306, "mysql")], pods=[{"c": {"mysql": vars(crashloop(m, "OOMKilled", 137, 12, ago=1.2, ran=2.5))}}])
    web = C("php-fpm", "registry.acme.internal/shop-web:11.2.0", ports=[("fastcgi", 9000)], stack="generic", readiness={"httpGet": {"path": "/health", "port": 8080}}, ready=False)
    ngx = C("nginx", "nginx:1.27", ports=[("http", 8080)], stack="nginx")
    c.deployment("shop", "shop-web", [web, ngx], replicas=3, rs_hash="5f8c9d7b6", service=[("http", 80, "http")])
    for p in [p for (n, p) in c.pods if n == "shop" and p.startswith("shop-web-")]:
        c.log("shop", p, "php-fpm", "".join(
            f"[{logtime(5 - i, 'go')}] production.ERROR: SQLSTATE[HY000] [2002] Connection refused (Connection: mysql, SQL: select * from `sessions` where `id` = ? limit 1) "
            '{"exception":"[object] (Illuminate\\\\Database\\\\QueryException(code: 2002): SQLSTATE[HY000] [2002] Connection refused at /var/www/vendor/laravel/framework/src/Illuminate/Database/Connection.php:813)"}\n'
            for i in range(4)))
        c.event("shop", "Pod", p, "Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 500", count=96, last=0.4, first=29,
                host=c.pods[("shop", p)]["spec"]["nodeName"], field="spec.containers{php-fpm}")
    return c, alert(c, "KubeDeploymentReplicasMismatch", {"namespace": "shop", "deployment": "shop-web"}, starts_ago=11)


@R("49", title="Log ingest unready: Elasticsearch blocks writes, es-data-0 crossed the flood-stage disk watermark", category="dependency_failure",
   deepest="pod/logging/es-data-0", alt_deepest=["persistentvolumeclaim/logging/elasticsearch-data-es-data-0"],
   evidence=[["flood-stage", "flood stage"], ["es-data-0"]],
   chain="log-ingest 0/2 ready → bulk index 429: index blocked, disk usage exceeded flood-stage watermark (read-only-allow-delete) → es-data-0 logs flood stage watermark [95%] exceeded on its data path",
   multi_hop=True, red_herrings=["fluent-bit retry warnings in another namespace"], stack="Go → Elasticsearch", platform="EKS 1.29 containerd",
   source="composed from experience (Elasticsearch DiskThresholdMonitor)")
def b2_49():
    c = Cluster("b2-49", "eks", "1.29.4")
    es = C("elasticsearch", "docker.elastic.co/elasticsearch/elasticsearch:8.13.4", ports=[("http", 9200), ("transport", 9300)], stack="java")
    c.statefulset("logging", "es-data", [es], replicas=3, claims=[("elasticsearch-data", "/usr/share/elasticsearch/data", "100Gi")],
                  service=[("http", 9200, "http")], labels={"app.kubernetes.io/name": "elasticsearch"})
    c.log("logging", "es-data-0", "elasticsearch", "".join(
        '{"@timestamp":"%s", "log.level": "WARN", "message":"flood stage disk watermark [95%%] exceeded on [es-data-0][IQ3lG2dTQ0W7Fz9x1k8yRg][/usr/share/elasticsearch/data] free: 4.1gb[4.1%%], all indices on this node will be marked read-only", "ecs.version": "1.2.0","service.name":"ES_ECS","event.dataset":"elasticsearch.server","process.thread.name":"elasticsearch[es-data-0][management][T#2]","log.logger":"org.elasticsearch.cluster.routing.allocation.DiskThresholdMonitor","elasticsearch.node.name":"es-data-0","elasticsearch.cluster.name":"logging"}\n'
        % logtime(9 - i * 2) for i in range(4)))
    li = C("log-ingest", f"{ECR}/log-ingest:2.5.1", ports=[("http", 8080)], stack="go", readiness=probe_http("/ready", "http"), ready=False,
           env={"ES_URL": "http://es-data.logging.svc:9200"})
    c.deployment("ingest", "log-ingest", [li], replicas=2, rs_hash="6c7d8b9f5")
    for p in [p for (n, p) in c.pods if n == "ingest" and p.startswith("log-ingest-")]:
        c.log("ingest", p, "log-ingest", "".join(
            '{"level":"error","ts":"%s","msg":"bulk index failed","error":"elastic: Error 429 (Too Many Requests): index [logs-2025.06.03] blocked by: [TOO_MANY_REQUESTS/12/disk usage exceeded flood-stage watermark, index has read-only-allow-delete block]; [type=cluster_block_exception]"}\n'
            % logtime(7 - i) for i in range(5)))
        c.event("ingest", "Pod", p, "Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 503", count=77, last=0.3, first=13,
                host=c.pods[("ingest", p)]["spec"]["nodeName"], field="spec.containers{log-ingest}")
    fb = C("fluent-bit", "cr.fluentbit.io/fluent/fluent-bit:3.0.4", stack="fluentbit")
    c.daemonset("observability", "fluent-bit", [fb], labels={"app.kubernetes.io/name": "fluent-bit"}, nodes=c.workers, priority_class="")
    return c, alert(c, "KubeDeploymentReplicasMismatch", {"namespace": "ingest", "deployment": "log-ingest"}, starts_ago=4)


@R("51", title="Storefront API unready: the inventory service it checks cannot start (its Secret is missing)", category="dependency_failure",
   deepest="pod/shop/inventory-5d9c8b7f6-p4kxz", alt_categories=["missing_config"], evidence=[["inventory"], ['secret "inventory-db" not found', "inventory-db"]],
   chain="storefront-api 0/2 ready → readiness: inventory check failed, connection refused to inventory:80 → Service inventory 0 endpoints → inventory pod CreateContainerConfigError: secret inventory-db not found",
   multi_hop=True, red_herrings=["HPA of the web deployment at its maximum"], stack="Python → Java", platform="AKS 1.29 containerd", source="composed from experience")
def b2_51():
    c = Cluster("b2-51", "aks", "1.29.4")
    inv = C("inventory", f"{ACR}/inventory:6.0.0", ports=[("http", 8080)], stack="java",
            env_refs=[{"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "inventory-db", "key": "password"}}}])
    c.deployment("shop", "inventory", [inv], replicas=1, rs_hash="5d9c8b7f6", rolled_ago=39, service=[("http", 80, "http")],
                 pods=[{"suffix": "p4kxz", "c": {"inventory": {"state": "waiting", "reason": "CreateContainerConfigError", "message": 'secret "inventory-db" not found'}}}])
    c.event("shop", "Pod", "inventory-5d9c8b7f6-p4kxz", "Failed", 'Error: secret "inventory-db" not found', count=182, last=0.4, first=39,
            host=c.pods[("shop", "inventory-5d9c8b7f6-p4kxz")]["spec"]["nodeName"], field="spec.containers{inventory}")
    ip = c.get("services", "inventory", "shop")["spec"]["clusterIP"]
    sf = C("storefront-api", f"{ACR}/storefront-api:3.3.3", ports=[("http", 8000)], stack="python", readiness=probe_http("/ready", "http"), ready=False,
           env={"INVENTORY_URL": "http://inventory.shop.svc.cluster.local"})
    c.deployment("shop", "storefront-api", [sf], replicas=2, rs_hash="7b6d9c8f5", service=[("http", 80, "http")])
    for p in [p for (n, p) in c.pods if n == "shop" and p.startswith("storefront-api-")]:
        c.log("shop", p, "storefront-api", "".join(
            f"{logtime(5 - i, 'py')} WARNING ready: inventory check failed: HTTPConnectionPool(host='inventory.shop.svc.cluster.local', port=80): Max retries exceeded with url: /healthz "
            f"(Caused by NewConnectionError('<urllib3.connection.HTTPConnection object at 0x7f2a>: Failed to establish a new connection: [Errno 111] Connection refused'))\n" for i in range(5)))
        c.event("shop", "Pod", p, "Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 503", count=99, last=0.3, first=37,
                host=c.pods[("shop", p)]["spec"]["nodeName"], field="spec.containers{storefront-api}")
    c.deployment("shop", "web", [C("web", f"{ACR}/web:2.0.0", stack="node", ports=[("http", 3000)])], replicas=4)
    c.hpa("shop", "web", "web", 2, 4, 4, cpu_target=60, cpu_now=82)
    return c, alert(c, "KubeDeploymentReplicasMismatch", {"namespace": "shop", "deployment": "storefront-api"}, starts_ago=21)


@R("52", title="Checkout latency: its HPA cannot read metrics because metrics-server is not ready (kubelet certificate has no IP SANs)",
   category="dependency_failure", deepest=f"pod/kube-system/metrics-server-5d8c7b9f6-xq4kz",
   evidence=[["metrics", "FailedGetResourceMetric"], ["IP SANs", "x509"]],
   chain="CheckoutHighLatency → deployment checkout at 3 replicas with CPU saturated → HPA checkout ScalingActive=False: unable to fetch metrics from the resource metrics API → metrics-server pod not ready: x509: cannot validate certificate … doesn't contain any IP SANs",
   multi_hop=True, stack="Java + metrics-server", platform="EKS 1.29 containerd",
   source="https://github.com/kubernetes-sigs/metrics-server/issues/329 ; https://github.com/kubernetes/kubernetes/issues/56165")
def b2_52():
    c = Cluster("b2-52", "eks", "1.29.4", worker_names=["ip-10-0-3-57.ec2.internal", "ip-10-0-34-118.ec2.internal", "ip-10-0-66-240.ec2.internal"])
    replace_system_pods(c, "kube-system", "metrics-server")
    ms = C("metrics-server", "registry.k8s.io/metrics-server/metrics-server:v0.7.1", ports=[("https", 10250)], requests={"cpu": "100m", "memory": "200Mi"},
           readiness=probe_http("/readyz", "https"), ready=False, started_ago=58)
    c.deployment("kube-system", "metrics-server", [ms], replicas=1, rs_hash="5d8c7b9f6", labels={"k8s-app": "metrics-server"}, rolled_ago=58,
                 priority_class="system-cluster-critical", pods=[{"suffix": "xq4kz", "started_ago": 58}])
    c.log("kube-system", "metrics-server-5d8c7b9f6-xq4kz", "metrics-server", "".join(
        f'E0603 09:{40 - i}:1{i}.118273       1 scraper.go:149] "Failed to scrape node" err="Get \\"https://{ip}:10250/metrics/resource\\": x509: cannot validate certificate for {ip} because it doesn\'t contain any IP SANs" node="{n}"\n'
        for i, (n, ip) in enumerate([(w, c.nodes[w].ip) for w in c.workers])) +
        'I0603 09:40:41.337109       1 server.go:191] "Failed probe" probe="metric-storage-ready" err="no metrics to serve"\n')
    c.event("kube-system", "Pod", "metrics-server-5d8c7b9f6-xq4kz", "Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 500", count=345, last=0.1,
            first=57, host=c.pods[("kube-system", "metrics-server-5d8c7b9f6-xq4kz")]["spec"]["nodeName"], field="spec.containers{metrics-server}")
    co = C("checkout", f"{ECR}/checkout:v2.15.0", ports=[("http", 8080)], stack="java", requests={"cpu": "500m", "memory": "1Gi"})
    c.deployment("shop", "checkout", [co], replicas=3, rs_hash="77c9d5b48", service=[("http", 80, "http")])
    c.hpa("shop", "checkout", "checkout", 3, 12, 3, cpu_now=None, conditions=[
        {"type": "AbleToScale", "status": "True", "reason": "SucceededGetScale", "message": "the HPA controller was able to get the target's current scale"},
        {"type": "ScalingActive", "status": "False", "reason": "FailedGetResourceMetric",
         "message": "the HPA was unable to compute the replica count: failed to get cpu utilization: unable to get metrics for resource cpu: unable to fetch metrics from resource metrics API: the server is currently unable to handle the request (get pods.metrics.k8s.io)"}])
    c.event("shop", "HorizontalPodAutoscaler", "checkout", "FailedGetResourceMetric",
            "failed to get cpu utilization: unable to get metrics for resource cpu: unable to fetch metrics from resource metrics API: the server is currently unable to handle the request (get pods.metrics.k8s.io)",
            count=230, last=0.2, first=57, source="horizontal-pod-autoscaler", api="autoscaling/v2")
    c.event("shop", "HorizontalPodAutoscaler", "checkout", "FailedComputeMetricsReplicas",
            "invalid metrics (1 invalid out of 1), first error is: failed to get cpu resource metric value: failed to get cpu utilization: unable to get metrics for resource cpu: unable to fetch metrics from resource metrics API: the server is currently unable to handle the request (get pods.metrics.k8s.io)",
            count=230, last=0.2, first=57, source="horizontal-pod-autoscaler", api="autoscaling/v2")
    return c, alert(c, "CheckoutHighLatency", {"namespace": "shop", "job": "checkout", "service": "checkout", "endpoint": "http"}, target=None, starts_ago=12,
                    annotations={"summary": "checkout p99 latency above 1.5s", "description": "checkout p99 is 4.2s; CPU of its pods is saturated."},
                    expr='histogram_quantile(0.99, sum by (le, namespace, job, service, endpoint) (rate(http_server_requests_seconds_bucket{job="checkout"}[5m]))) > 1.5')


# ================================================================================================ dns_failure
@R("38", title="Lookups fail only on one node: its NodeLocal DNSCache pod crash-loops", category="dns_failure",
   deepest="pod/kube-system/node-local-dns-7wq2k", evidence=[["169.254.20.10"], ["node-local-dns", "node-cache", "nodelocal"]],
   chain="ledger-sync crash-loops (its pod on node …-z9x4) → lookup … on 169.254.20.10:53: connection refused → node-local-dns pod on that node crash-loops (Corefile.base missing)",
   multi_hop=True, stack="Go", platform="GKE 1.30 containerd (NodeLocal DNSCache)", source="https://github.com/kubernetes/dns (node-cache); composed from experience")
def b2_38():
    c = Cluster("b2-38", "gke", "1.30.5")
    bad = c.workers[1]
    nl = C("node-cache", "gke.gcr.io/k8s-dns-node-cache:1.23.0-gke.9", ports=[("dns", 53), ("metrics", 9253)], requests={"cpu": "25m", "memory": "5Mi"})
    c.daemonset("kube-system", "node-local-dns", [nl], labels={"k8s-app": "node-local-dns"}, nodes=c.workers, host_network=True,
                pods={bad: {"suffix": "7wq2k", "c": {"node-cache": vars(crashloop(nl, "Error", 1, 17, ago=1.3, ran=0.0))}}})
    c.log("kube-system", "node-local-dns-7wq2k", "node-cache",
          "2025/06/03 09:40:07 [INFO] Using Corefile /etc/Corefile\n2025/06/03 09:40:07 [ERROR] Failed to read node-cache coreFile /etc/Corefile.base - open /etc/Corefile.base: no such file or directory\n"
          "2025/06/03 09:40:07 [FATAL] Error parsing flags - open /etc/Corefile.base: no such file or directory, Exiting\n")
    app = C("ledger-sync", f"{GAR}/ledger-sync:2.1.0", stack="go", env={"LEDGER_URL": "http://ledger-api.finance.svc.cluster.local"})
    c.deployment("finance", "ledger-sync", [app], replicas=3, rs_hash="5c9d7b8f6",
                 pods=[{"suffix": "w5kzq", "node": bad, "c": {"ledger-sync": vars(crashloop(app, "Error", 1, 10, ago=0.8, ran=0.1))}},
                       {"suffix": "b2xnm", "node": c.workers[0]}, {"suffix": "f8qtv", "node": c.workers[2]}])
    pip = c.pods[("finance", "ledger-sync-5c9d7b8f6-w5kzq")]["status"]["podIP"]
    c.log("finance", "ledger-sync-5c9d7b8f6-w5kzq", "ledger-sync",
          '{"level":"fatal","ts":"%s","msg":"initial sync failed","error":"Get \\"http://ledger-api.finance.svc.cluster.local/v1/entries\\": dial tcp: lookup ledger-api.finance.svc.cluster.local on 169.254.20.10:53: read udp %s:43811->169.254.20.10:53: read: connection refused"}\n'
          % (logtime(0.85), pip))
    c.deployment("finance", "ledger-api", [C("ledger-api", f"{GAR}/ledger-api:2.1.0", ports=[("http", 8080)], stack="go")], replicas=2, service=[("http", 80, "http")])
    return c, crash_pod_alert(c, "finance", "ledger-sync-5c9d7b8f6-w5kzq", "ledger-sync", 13)


@R("39", title="Java app UnknownHostException: CoreDNS deployment scaled to 0", category="dns_failure",
   deepest="deployment/kube-system/coredns", alt_deepest=["service/kube-system/kube-dns", "endpoints/kube-system/kube-dns"],
   evidence=[["UnknownHostException", "name resolution"], ["coredns", "kube-dns"]],
   chain="ledger-reporter crash-loops → java.net.UnknownHostException ledger-db.finance.svc.cluster.local: Temporary failure in name resolution → kube-dns 0 endpoints → Deployment coredns scaled to 0 replicas 35 min ago",
   multi_hop=True, red_herrings=["week-old Evicted pods in namespace batch"], stack="Java", platform="EKS 1.28 containerd", source="composed from experience")
def b2_39():
    c = Cluster("b2-39", "eks", "1.28.9")
    replace_system_pods(c, "kube-system", "coredns")
    core = C("coredns", c.coredns_image, ports=[("dns", 53), ("dns-tcp", 53), ("metrics", 9153)])
    c.deployment("kube-system", "coredns", [core], replicas=0, rs_hash="7975d8f6b4", labels={"k8s-app": "kube-dns"}, pods=[])
    c.event("kube-system", "Deployment", "coredns", "ScalingReplicaSet", "Scaled down replica set coredns-7975d8f6b4 to 0 from 2", type="Normal", last=35,
            source="deployment-controller", api="apps/v1")
    r = C("ledger-reporter", f"{ECR}/ledger-reporter:4.4.0", stack="java", env={"DB_URL": "jdbc:postgresql://ledger-db.finance.svc.cluster.local:5432/ledger"})
    c.deployment("finance", "ledger-reporter", [r], replicas=1, rs_hash="6d7b9c8f5", pods=[{"suffix": "t2kqw", "c": {"ledger-reporter": vars(crashloop(r, "Error", 1, 8, ago=1.5))}}])
    c.log("finance", "ledger-reporter-6d7b9c8f5-t2kqw", "ledger-reporter",
          "Exception in thread \"main\" org.postgresql.util.PSQLException: The connection attempt failed.\n\tat org.postgresql.core.v3.ConnectionFactoryImpl.openConnectionImpl(ConnectionFactoryImpl.java:354)\n"
          "Caused by: java.net.UnknownHostException: ledger-db.finance.svc.cluster.local: Temporary failure in name resolution\n"
          "\tat java.base/java.net.Inet6AddressImpl.lookupAllHostAddr(Native Method)\n")
    c.statefulset("finance", "ledger-db", [C("postgres", "postgres:16.3", ports=[("postgres", 5432)], stack="postgres")], replicas=1,
                  claims=[("data", "/var/lib/postgresql/data", "50Gi")], service=[("postgres", 5432, "postgres")])
    for s in ("t8kqz", "m2pxd"):
        c.pod("batch", f"etl-6c8d7f9b5-{s}", [C("etl", f"{ECR}/etl:1.0.0", state="terminated", exit_code=137, reason="Error", started_ago=60 * 24 * 7)],
              node=c.workers[0], phase="Failed", reason="Evicted", ip=False, started_ago=60 * 24 * 7, labels={"app": "etl"}, owner=("ReplicaSet", "etl-6c8d7f9b5"),
              message="The node was low on resource: memory. Threshold quantity: 100Mi, available: 88212Ki. Container etl was using 2841123Ki, request is 512Mi, has larger consumption of memory.")
    return c, crash_pod_alert(c, "finance", "ledger-reporter-6d7b9c8f5-t2kqw", "ledger-reporter", 20)


@R("47", title="Service name typo: the app calls inventory-svc, the Service is called inventory", category="dns_failure",
   deepest="pod/shop/order-sync-6c8d9f7b5-v4kxq", alt_deepest=["deployment/shop/order-sync"], evidence=[["inventory-svc"], ["Name or service not known", "resolve"]],
   chain="order-sync crash-loops → NameResolutionError: Failed to resolve inventory-svc ([Errno -2] Name or service not known) → no Service inventory-svc in namespace shop (a Service inventory exists)",
   multi_hop=False, stack="Python", platform="AKS 1.29 containerd", source="composed from experience")
def b2_47():
    c = Cluster("b2-47", "aks", "1.29.4")
    c.deployment("shop", "inventory", [C("inventory", f"{ACR}/inventory:6.0.0", ports=[("http", 8080)], stack="java")], replicas=2, service=[("http", 80, "http")])
    o = C("order-sync", f"{ACR}/order-sync:1.1.0", stack="python", env={"INVENTORY_URL": "http://inventory-svc/api/v1"})
    c.deployment("shop", "order-sync", [o], replicas=1, rs_hash="6c8d9f7b5", rolled_ago=27, pods=[{"suffix": "v4kxq", "c": {"order-sync": vars(crashloop(o, "Error", 1, 9, ago=1.1))}}])
    c.log("shop", "order-sync-6c8d9f7b5-v4kxq", "order-sync",
          "Traceback (most recent call last):\n  File \"/app/sync.py\", line 33, in <module>\n    r = session.get(f\"{INVENTORY_URL}/stock\", timeout=5)\n"
          "requests.exceptions.ConnectionError: HTTPConnectionPool(host='inventory-svc', port=80): Max retries exceeded with url: /api/v1/stock "
          "(Caused by NameResolutionError(\"<urllib3.connection.HTTPConnection object at 0x7f81a2c3b9d0>: Failed to resolve 'inventory-svc' ([Errno -2] Name or service not known)\"))\n")
    return c, crash_pod_alert(c, "shop", "order-sync-6c8d9f7b5-v4kxq", "order-sync", 12)


@R("53", title="Cluster DNS refuses: CoreDNS pods OOMKilled in a loop", category="dns_failure",
   deepest="pod/kube-system/coredns-84d7c9b6f5-2xkqm", alt_deepest=["pod/kube-system/coredns-84d7c9b6f5-tq7wz", "deployment/kube-system/coredns"],
   evidence=[["10.0.0.10:53"], ["OOMKilled"]],
   chain="orders-api crash-loops → lookup on 10.0.0.10:53: read udp … connection refused → kube-dns 0 ready endpoints → both coredns pods crash-loop OOMKilled (170Mi limit)",
   multi_hop=True, red_herrings=["stale BackOff warnings of a batch job from 6 h ago"], stack="Go", platform="AKS 1.29 containerd", source="composed from experience")
def b2_53():
    c = Cluster("b2-53", "aks", "1.29.4")
    replace_system_pods(c, "kube-system", "coredns")
    core = C("coredns", c.coredns_image, args=["-conf", "/etc/coredns/Corefile"], ports=[("dns", 53), ("dns-tcp", 53), ("metrics", 9153)],
             requests={"cpu": "100m", "memory": "70Mi"}, limits={"memory": "170Mi"})
    c.deployment("kube-system", "coredns", [core], replicas=2, rs_hash="84d7c9b6f5", labels={"k8s-app": "kube-dns"}, priority_class="system-cluster-critical",
                 pods=[{"suffix": s, "c": {"coredns": vars(crashloop(core, "OOMKilled", 137, 19, ago=0.8 + i, ran=2))}} for i, s in enumerate(("2xkqm", "tq7wz"))])
    for s in ("2xkqm", "tq7wz"):
        c.log("kube-system", f"coredns-84d7c9b6f5-{s}", "coredns", ".:53\n[INFO] plugin/reload: Running configuration SHA512 = 7c1c2b9d\nCoreDNS-1.9.4\nlinux/amd64, go1.21.9, 1f0a41a\n")
    a = C("orders-api", f"{ACR}/orders-api:9.0.1", stack="go", env={"DB_HOST": "orders-db.orders.svc.cluster.local"})
    c.deployment("orders", "orders-api", [a], replicas=2, rs_hash="5f6c8d7b9",
                 pods=[{"suffix": s, "c": {"orders-api": vars(crashloop(a, "Error", 1, 8, ago=1 + i))}} for i, s in enumerate(("h4kzw", "r9xqm"))])
    for s in ("h4kzw", "r9xqm"):
        pip = c.pods[("orders", f"orders-api-5f6c8d7b9-{s}")]["status"]["podIP"]
        c.log("orders", f"orders-api-5f6c8d7b9-{s}", "orders-api",
              '{"level":"fatal","ts":"%s","msg":"db connect","error":"failed to connect to `host=orders-db.orders.svc.cluster.local user=orders database=orders`: hostname resolving error (lookup orders-db.orders.svc.cluster.local on 10.0.0.10:53: read udp %s:50312->10.0.0.10:53: read: connection refused)"}\n'
              % (logtime(1), pip))
    c.event("batch", "Pod", "reindex-28990-7kq2x", "BackOff", "Back-off restarting failed container reindex in pod reindex-28990-7kq2x_batch(x)", count=5,
            last=60 * 6, first=60 * 6 + 8, host=c.workers[0])
    return c, crash_pod_alert(c, "orders", "orders-api-5f6c8d7b9-h4kzw", "orders-api", 10)


# ================================================================================================ autoscaler_at_max
@R("40", title="API HPA at 15/15 with CPU at 142%", category="autoscaler_at_max", deepest="horizontalpodautoscaler/public/api",
   evidence=[["142", "TooManyReplicas", "ScalingLimited", "maximum"]],
   chain="KubeHpaMaxedOut → HPA api currentReplicas 15 = maxReplicas, CPU 142% of a 60% target",
   multi_hop=False, red_herrings=["unrelated crash-looping job runner in namespace jobs"], stack=".NET 8", platform="AKS 1.30 containerd",
   source="composed from experience")
def b2_40():
    c = Cluster("b2-40", "aks", "1.30.1", workers=5)
    c.deployment("public", "api", [C("api", f"{ACR}/public-api:10.2.0", ports=[("http", 8080)], stack="dotnet", requests={"cpu": "500m"})], replicas=15,
                 service=[("http", 80, "http")])
    c.hpa("public", "api", "api", 3, 15, 15, cpu_target=60, cpu_now=142)
    j = C("runner", f"{ACR}/job-runner:0.4.0", stack="python")
    c.deployment("jobs", "runner", [j], replicas=1, rs_hash="8c7d6f9b5", pods=[{"suffix": "q2xkz", "c": {"runner": vars(crashloop(j, "Error", 2, 58, ago=3))}}])
    c.log("jobs", "runner-8c7d6f9b5-q2xkz", "runner", "usage: runner [-h] --queue QUEUE\nrunner: error: the following arguments are required: --queue\n")
    return c, alert(c, "KubeHpaMaxedOut", {"namespace": "public", "horizontalpodautoscaler": "api"}, starts_ago=23)


@R("41", title="CPUThrottlingHigh on a thumbnailer pod: its HPA is pinned at the maximum", category="autoscaler_at_max",
   deepest="horizontalpodautoscaler/media/thumbnailer", evidence=[["TooManyReplicas", "ScalingLimited", "maximum", "maxReplicas", "8/8"]],
   chain="CPUThrottlingHigh (pod thumbnailer-…) → Deployment thumbnailer 8/8 → HPA thumbnailer at maxReplicas 8 with CPU 190% of target",
   multi_hop=True, stack="Python/Pillow", platform="GKE 1.30 containerd", source="composed from experience")
def b2_41():
    c = Cluster("b2-41", "gke", "1.30.5", workers=4)
    t = C("thumbnailer", f"{GAR}/thumbnailer:1.7.2", stack="python", requests={"cpu": "500m", "memory": "512Mi"}, limits={"cpu": "1", "memory": "1Gi"})
    c.deployment("media", "thumbnailer", [t], replicas=8, rs_hash="6b8c7d9f5", pods=[{"suffix": "z5kqw"}] + [{} for _ in range(7)])
    c.hpa("media", "thumbnailer", "thumbnailer", 2, 8, 8, cpu_target=70, cpu_now=190)
    return c, alert(c, "CPUThrottlingHigh", {"namespace": "media", "pod": "thumbnailer-6b8c7d9f5-z5kqw", "container": "thumbnailer"}, target=None,
                    severity="info", starts_ago=17)


# ================================================================================================ admission_webhook_failure
@R("42", title="Rollout blocked: Istio's sidecar-injection webhook has no endpoints — istiod is Pending on memory", category="admission_webhook_failure",
   deepest="pod/istio-system/istiod-5c8d7f9b6-lw2xq", alt_deepest=["deployment/istio-system/istiod", "service/istio-system/istiod"],
   evidence=[["sidecar-injector", "istiod"], ["no endpoints available", "Insufficient memory"]],
   chain="rollout of reviews stuck → ReplicaSet FailedCreate: failed calling webhook namespace.sidecar-injector.istio.io (failurePolicy Fail) → Service istiod has no endpoints → istiod pod Pending: Insufficient memory",
   multi_hop=True, stack="Istio", platform="EKS 1.29 containerd", source="https://github.com/open-policy-agent/gatekeeper/issues/3538 (fail-closed webhooks); composed from experience")
def b2_42():
    c = Cluster("b2-42", "eks", "1.29.4")
    msg = "0/3 nodes are available: 3 Insufficient memory. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod."
    ist = C("discovery", "docker.io/istio/pilot:1.22.1", ports=[("http-debug", 8080), ("grpc-xds", 15010), ("https-webhooks", 15017)], requests={"cpu": "500m", "memory": "2Gi"},
            state="waiting")
    c.deployment("istio-system", "istiod", [ist], replicas=1, rs_hash="5c8d7f9b6", labels={"app": "istiod", "istio": "pilot"}, rolled_ago=32,
                 pods=[{"suffix": "lw2xq", "node": None, "unschedulable": msg}], service=[("grpc-xds", 15010, 15010), ("https-webhook", 443, 15017)])
    c.event("istio-system", "Pod", "istiod-5c8d7f9b6-lw2xq", "FailedScheduling", msg, count=13, last=2, first=32, source="default-scheduler")
    c.webhook("istio-sidecar-injector", [{"name": "namespace.sidecar-injector.istio.io", "service": ("istio-system", "istiod", "/inject", 443), "failurePolicy": "Fail",
                                          "namespaceSelector": {"matchLabels": {"istio-injection": "enabled"}}}], mutating=True)
    rv = C("reviews", "docker.io/istio/examples-bookinfo-reviews-v3:1.20.1", ports=[("http", 9080)], stack="java")
    cond = [{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable", "message": "Deployment has minimum availability.",
             "lastUpdateTime": ts(60 * 30), "lastTransitionTime": ts(60 * 30)},
            {"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate", "message": "Internal error occurred: failed calling webhook \"namespace.sidecar-injector.istio.io\": failed to call webhook: Post \"https://istiod.istio-system.svc:443/inject?timeout=10s\": no endpoints available for service \"istiod\"",
             "lastUpdateTime": ts(21), "lastTransitionTime": ts(21)},
            {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded", "message": 'ReplicaSet "reviews-7d9c8b6f5" has timed out progressing.',
             "lastUpdateTime": ts(11), "lastTransitionTime": ts(11)}]
    c.deployment("bookinfo", "reviews", [rv, C("istio-proxy", "docker.io/istio/proxyv2:1.22.1", stack="envoy")], replicas=2, rs_hash="7d9c8b6f5", rolled_ago=21,
                 revision=9, conditions=cond, pods=[], desired=1, old_rs={"hash": "5b6c9d8f7", "replicas": 2, "containers": [rv]})
    c.event("bookinfo", "ReplicaSet", "reviews-7d9c8b6f5", "FailedCreate",
            'Error creating: Internal error occurred: failed calling webhook "namespace.sidecar-injector.istio.io": failed to call webhook: Post "https://istiod.istio-system.svc:443/inject?timeout=10s": no endpoints available for service "istiod"',
            count=14, last=1.3, first=21, source="replicaset-controller", api="apps/v1")
    return c, alert(c, "KubeDeploymentRolloutStuck", {"namespace": "bookinfo", "deployment": "reviews", "condition": "Progressing", "status": "false"}, starts_ago=1)


@R("43", title="StatefulSet cannot recreate a pod: Vault agent injector (fail-closed) was scaled to zero", category="admission_webhook_failure",
   deepest="deployment/vault/vault-agent-injector", alt_deepest=["service/vault/vault-agent-injector-svc"],
   evidence=[["vault.hashicorp.com", "vault-agent-injector"], ["no endpoints available"]],
   chain="StatefulSet ledger 2/3 → create Pod ledger-1 failed: failed calling webhook vault.hashicorp.com → vault-agent-injector-svc has no endpoints → Deployment vault-agent-injector scaled to 0",
   multi_hop=True, stack="Java + Vault", platform="on-prem kubeadm 1.28 containerd", source="composed from experience")
def b2_43():
    c = Cluster("b2-43", "onprem", "1.28.11")
    inj = C("sidecar-injector", "hashicorp/vault-k8s:1.4.1", ports=[("https-injector", 8080)])
    c.deployment("vault", "vault-agent-injector", [inj], replicas=0, rs_hash="6b9f8c7d5", labels={"app.kubernetes.io/name": "vault-agent-injector", "component": "webhook"},
                 pods=[], service=[("https", 443, 8080)], svc_name="vault-agent-injector-svc")
    c.event("vault", "Deployment", "vault-agent-injector", "ScalingReplicaSet", "Scaled down replica set vault-agent-injector-6b9f8c7d5 to 0 from 1", type="Normal",
            last=49, source="deployment-controller", api="apps/v1")
    c.webhook("vault-agent-injector-cfg", [{"name": "vault.hashicorp.com", "service": ("vault", "vault-agent-injector-svc", "/mutate", 443), "failurePolicy": "Fail",
                                            "timeout": 30, "namespaceSelector": {}}], mutating=True)
    led = C("ledger", "registry.acme.internal/ledger:8.1.0", ports=[("http", 8080)], stack="java")
    c.statefulset("finance", "ledger", [led], replicas=3, storage_class="ceph-block", claims=[("data", "/var/lib/ledger", "20Gi")], pods=[{}, {"no_pvc": False}, {}][:3])
    c.remove("pods", "ledger-1", "finance")
    c.event("finance", "StatefulSet", "ledger", "FailedCreate",
            'create Pod ledger-1 in StatefulSet ledger failed error: Internal error occurred: failed calling webhook "vault.hashicorp.com": failed to call webhook: Post "https://vault-agent-injector-svc.vault.svc:443/mutate?timeout=30s": no endpoints available for service "vault-agent-injector-svc"',
            count=19, last=1.1, first=27, source="statefulset-controller", api="apps/v1")
    c.event("finance", "Pod", "ledger-1", "Killing", "Stopping container ledger", type="Normal", last=28, host=c.workers[1])
    return c, alert(c, "KubeStatefulSetReplicasMismatch", {"namespace": "finance", "statefulset": "ledger"}, starts_ago=11)


# ================================================================================================ volume chain (CSI)
@R("54", title="Pod stuck attaching its EBS volume: the EBS CSI controller crash-loops (no region)", category="volume_mount_failure",
   deepest="pod/kube-system/ebs-csi-controller-6d9f8c7b5-k2qzx", alt_deepest=["pod/kube-system/ebs-csi-controller-6d9f8c7b5-w7xnm"],
   evidence=[["external-attacher", "ebs.csi.aws.com"], ["region"]],
   chain="reports-db-0 ContainerCreating → FailedAttachVolume: timed out waiting for external-attacher of ebs.csi.aws.com → ebs-csi-controller pods crash-loop: could not determine region from any metadata service",
   multi_hop=True, stack="EBS CSI", platform="EKS 1.30 containerd", source="https://github.com/kubernetes-sigs/aws-ebs-csi-driver (IMDS region errors); composed from experience")
def b2_54():
    c = Cluster("b2-54", "eks", "1.30.2")
    replace_system_pods(c, "kube-system", "ebs-csi-controller")
    plug = C("ebs-plugin", "602401143452.dkr.ecr.us-east-1.amazonaws.com/eks/aws-ebs-csi-driver:v1.31.0", ports=[("healthz", 9808)])
    att = C("csi-attacher", "602401143452.dkr.ecr.us-east-1.amazonaws.com/eks/csi-attacher:v4.5.1-eks-1-30-8")
    prov = C("csi-provisioner", "602401143452.dkr.ecr.us-east-1.amazonaws.com/eks/csi-provisioner:v4.0.1-eks-1-30-8")
    c.deployment("kube-system", "ebs-csi-controller", [plug, att, prov], replicas=2, rs_hash="6d9f8c7b5", labels={"app": "ebs-csi-controller"}, rolled_ago=44,
                 pods=[{"suffix": s, "c": {"ebs-plugin": vars(crashloop(plug, "Error", 1, 14, ago=1 + i, ran=0.1))}} for i, s in enumerate(("k2qzx", "w7xnm"))])
    for s in ("k2qzx", "w7xnm"):
        c.log("kube-system", f"ebs-csi-controller-6d9f8c7b5-{s}", "ebs-plugin",
              'I0603 09:40:02.410255       1 driver.go:69] "Driver Information" Driver="ebs.csi.aws.com" Version="v1.31.0"\n'
              'I0603 09:40:02.410398       1 metadata.go:85] "retrieving instance data from ec2 metadata"\n'
              'W0603 09:40:23.531876       1 metadata.go:88] "ec2 metadata is not available"\n'
              'I0603 09:40:23.531903       1 metadata.go:96] "retrieving instance data from kubernetes api"\n'
              'E0603 09:40:23.539170       1 main.go:146] "Failed to create driver" err="could not determine region from any metadata service. The region can be manually supplied via the AWS_REGION environment variable."\n')
        c.log("kube-system", f"ebs-csi-controller-6d9f8c7b5-{s}", "csi-attacher",
              'I0603 09:38:11.101233       1 connection.go:234] "Still connecting" address="unix:///var/lib/csi/sockets/pluginproxy/csi.sock"\n')
    db = C("postgres", "postgres:16.3", ports=[("postgres", 5432)], stack="postgres", state="waiting", reason="ContainerCreating")
    c.statefulset("reports", "reports-db", [db], replicas=1, claims=[("data", "/var/lib/postgresql/data", "50Gi")], service=[("postgres", 5432, "postgres")],
                  pods=[{"started_ago": 21}])
    pv = c.get("persistentvolumeclaims", "data-reports-db-0", "reports")["spec"]["volumeName"]
    c.event("reports", "Pod", "reports-db-0", "FailedAttachVolume",
            f'AttachVolume.Attach failed for volume "{pv}" : timed out waiting for external-attacher of ebs.csi.aws.com CSI driver to attach volume vol-0{pv[4:20].replace("-", "")}',
            count=9, last=1.6, first=20, source="attachdetach-controller")
    c.event("reports", "Pod", "reports-db-0", "FailedMount",
            "Unable to attach or mount volumes: unmounted volumes=[data], unattached volumes=[data kube-api-access], failed to process volumes=[]: timed out waiting for the condition",
            count=9, last=1.6, first=19, host=c.pods[("reports", "reports-db-0")]["spec"]["nodeName"])
    return c, alert(c, "KubePodNotReady", {"namespace": "reports", "pod": "reports-db-0"}, target=None, starts_ago=4)


@R("55", title="Batch pods pending on cpu and nothing scales up: cluster-autoscaler crash-loops on an IAM denial", category="insufficient_resources",
   deepest="pod/kube-system/cluster-autoscaler-7c9d8f6b5-m4xqz", alt_deepest=["pod/batch/batch-runner-6f7c8d9b5-2kqzw"],
   evidence=[["Insufficient cpu"], ["cluster-autoscaler"]],
   chain="batch-runner 6/10 → 4 pods Pending: Insufficient cpu → no scale-up events → cluster-autoscaler crash-loops: UnauthorizedOperation ec2:DescribeInstanceTypes",
   multi_hop=True, stack="Python + cluster-autoscaler", platform="EKS 1.29 containerd", source="composed from experience (IRSA policy drift)")
def b2_55():
    c = Cluster("b2-55", "eks", "1.29.4")
    ca = C("cluster-autoscaler", "registry.k8s.io/autoscaling/cluster-autoscaler:v1.29.3", ports=[("http", 8085)],
           command=["./cluster-autoscaler", "--cloud-provider=aws", "--node-group-auto-discovery=asg:tag=k8s.io/cluster-autoscaler/enabled,k8s.io/cluster-autoscaler/prod"])
    c.deployment("kube-system", "cluster-autoscaler", [ca], replicas=1, rs_hash="7c9d8f6b5", labels={"app": "cluster-autoscaler"},
                 pods=[{"suffix": "m4xqz", "c": {"cluster-autoscaler": vars(crashloop(ca, "Error", 255, 21, ago=2.2, ran=0.2))}}])
    c.log("kube-system", "cluster-autoscaler-7c9d8f6b5-m4xqz", "cluster-autoscaler",
          "I0603 09:38:31.882113       1 main.go:563] Cluster Autoscaler 1.29.3\nI0603 09:38:32.010227       1 aws_manager.go:79] AWS SDK Version: 1.48.7\n"
          "F0603 09:38:44.221931       1 aws_cloud_provider.go:386] Failed to generate AWS EC2 Instance Types: UnauthorizedOperation: You are not authorized to perform this operation. "
          "User: arn:aws:sts::123456789012:assumed-role/eks-prod-cluster-autoscaler/1748943512 is not authorized to perform: ec2:DescribeInstanceTypes because no identity-based policy allows the ec2:DescribeInstanceTypes action\n"
          "\tstatus code: 403, request id: 0f8e5b1c-5a7e-4b2a-9d58-a3e1c4b7f2d9\n")
    msg = "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod."
    b = C("runner", f"{ECR}/batch-runner:3.2.1", stack="python", requests={"cpu": "1500m", "memory": "2Gi"})
    pods = [{} for _ in range(6)] + [{"suffix": s, "node": None, "unschedulable": msg, "started_ago": 36, "c": {"runner": {"state": "waiting"}}}
                                     for s in ("2kqzw", "8vmxd", "c4tnl", "x7bqp")]
    c.deployment("batch", "batch-runner", [b], replicas=10, rs_hash="6f7c8d9b5", pods=pods)
    for s in ("2kqzw", "8vmxd", "c4tnl", "x7bqp"):
        c.event("batch", "Pod", f"batch-runner-6f7c8d9b5-{s}", "FailedScheduling", msg, count=13, last=1.5, first=36, source="default-scheduler")
    c.event("kube-system", "Pod", "cluster-autoscaler-7c9d8f6b5-m4xqz", "BackOff",
            "Back-off restarting failed container cluster-autoscaler in pod cluster-autoscaler-7c9d8f6b5-m4xqz_kube-system(x)", count=88, last=1, first=60,
            host=c.pods[("kube-system", "cluster-autoscaler-7c9d8f6b5-m4xqz")]["spec"]["nodeName"], field="spec.containers{cluster-autoscaler}")
    return c, alert(c, "KubeDeploymentReplicasMismatch", {"namespace": "batch", "deployment": "batch-runner"}, starts_ago=18)


# ================================================================================================ unknown
@R("44", title="StatefulSet mismatch alert after a node drain: all three ZooKeeper pods are back and ready", category="unknown", deepest="", evidence=[],
   chain="zookeeper 3/3 ready; zookeeper-1 recreated 12 min ago after a drain; nothing abnormal now",
   multi_hop=False, red_herrings=["readiness warnings during zookeeper-1's start-up, 11 min ago"], stack="ZooKeeper (Java)", platform="GKE 1.29 containerd",
   source="composed from experience")
def b2_44():
    c = Cluster("b2-44", "gke", "1.29.6")
    z = C("zookeeper", "docker.io/bitnami/zookeeper:3.9.2", ports=[("client", 2181)], stack="java", readiness={"exec": {"command": ["/bin/bash", "-c", "curl -s -m 2 http://localhost:8080/commands/ruok | grep ruok"]}})
    c.statefulset("kafka", "zookeeper", [z], replicas=3, storage_class="premium-rwo", claims=[("data", "/bitnami/zookeeper", "8Gi")], service=[("tcp-client", 2181, "client")],
                  pods=[{}, {"started_ago": 12}, {}])
    node = c.pods[("kafka", "zookeeper-1")]["spec"]["nodeName"]
    c.event("kafka", "StatefulSet", "zookeeper", "SuccessfulCreate", "create Pod zookeeper-1 in StatefulSet zookeeper successful", type="Normal", last=12.3,
            source="statefulset-controller", api="apps/v1")
    c.event("kafka", "Pod", "zookeeper-1", "Unhealthy", "Readiness probe failed: ", count=2, last=11.2, first=11.6, host=node, field="spec.containers{zookeeper}")
    c.pod_events_started("kafka", "zookeeper-1", z.image, "zookeeper", 12.2, node)
    return c, alert(c, "KubeStatefulSetReplicasMismatch", {"namespace": "kafka", "statefulset": "zookeeper"}, starts_ago=9)


@R("45", title="TargetDown for payments-api while every pod is Running and ready (scrape-side problem, nothing in the cluster state)",
   category="unknown", deepest="", evidence=[], chain="payments-api 3/3 ready, no restarts or warnings; an unrelated dev namespace has an image pull failure",
   multi_hop=False, red_herrings=["ImagePullBackOff in unrelated namespace dev-sandbox"], stack="Java", platform="EKS 1.29 containerd",
   source="composed from experience")
def b2_45():
    c = Cluster("b2-45", "eks", "1.29.4")
    c.deployment("payments", "payments-api", [C("payments-api", f"{ECR}/payments-api:5.2.0", ports=[("http", 8080), ("http-metrics", 9404)], stack="java")],
                 replicas=3, service=[("http", 80, "http"), ("http-metrics", 9404, "http-metrics")])
    img = f"{ECR}/playground:latest-dev"
    c.deployment("dev-sandbox", "playground", [C("playground", img, state="waiting", reason="ImagePullBackOff", message=f'Back-off pulling image "{img}"')],
                 replicas=1, rs_hash="5d9b8c7f6", pods=[{"suffix": "k8wzq"}])
    c.event("dev-sandbox", "Pod", "playground-5d9b8c7f6-k8wzq", "Failed", f'Failed to pull image "{img}": rpc error: code = NotFound desc = failed to pull and unpack image "{img}": failed to resolve reference "{img}": {img}: not found',
            count=40, last=3, first=300, host=c.workers[0])
    return c, alert(c, "TargetDown", {"job": "payments-api", "namespace": "payments", "service": "payments-api"}, target=None, starts_ago=13,
                    expr='100 * (count by (cluster, job, namespace, service) (up == 0) / count by (cluster, job, namespace, service) (up)) > 10')


@R("50", title="Container-waiting alert for a pod whose 9 GB image finished pulling 4 minutes ago; it is Running and ready now", category="unknown",
   deepest="", evidence=[], chain="ml-batch pod Running and ready since 4 min; the long wait was an image pull that succeeded",
   multi_hop=False, stack="Python/PyTorch", platform="GKE 1.30 containerd", source="composed from experience")
def b2_50():
    c = Cluster("b2-50", "gke", "1.30.5")
    img = f"{GAR}/ml-batch:2025.06.01-cuda12"
    c.deployment("ml", "ml-batch", [C("trainer", img, stack="python", started_ago=4)], replicas=1, rs_hash="7c8b6d9f5", rolled_ago=78, pods=[{"suffix": "qz4xk", "started_ago": 4}])
    p = "ml-batch-7c8b6d9f5-qz4xk"
    node = c.pods[("ml", p)]["spec"]["nodeName"]
    c.event("ml", "Pod", p, "Scheduled", f"Successfully assigned ml/{p} to {node}", type="Normal", last=78, source="default-scheduler")
    c.event("ml", "Pod", p, "Pulling", f'Pulling image "{img}"', type="Normal", last=77.8, host=node)
    c.event("ml", "Pod", p, "Pulled", f'Successfully pulled image "{img}" in 1h13m44.218s (1h13m44.218s including waiting). Image size: 9873521644 bytes.',
            type="Normal", last=4.1, host=node)
    c.event("ml", "Pod", p, "Created", "Created container trainer", type="Normal", last=4.05, host=node)
    c.event("ml", "Pod", p, "Started", "Started container trainer", type="Normal", last=4.0, host=node)
    return c, alert(c, "KubeContainerWaiting", {"namespace": "ml", "pod": p, "container": "trainer"}, target=None, starts_ago=18)
