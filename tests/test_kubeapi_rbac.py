"""The read-only promise, proven by a real API server: the Helm chart's own RBAC (rendered by `helm template`)
installed into kube-apiserver, the diagnosis and the watcher run as that service account (token from the
TokenRequest API), and the server - not our code - refuses everything else.

- every tool of the registry runs through the gateway against the real server with that identity;
- a SubjectAccessReview for every verb x resource the chart could grant (and the dangerous subresources,
  secrets, configmaps, impersonation, escalate/bind): only get/list/watch on the chart's resources are allowed;
- the same identity actually tries every write, pods/exec|attach|portforward, secrets, configmaps, impersonation,
  escalation and binding: each is 403 from the server;
- nothing in etcd changed across a full diagnosis run (etcd's revision, and its history since).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from aetherius.readers import Readers
from agents.cluster.dump import DumpReader
from agents.cluster.live import LiveReader
from agents.diagnose import diagnose_run
from agents.gateway.inprocess import in_process_executor
from agents.tools.registry import load_registry
from agents.tools.types import ToolCall
from schemas.alertmanager import AlertmanagerPayload
from schemas.settings import ClusterSource
from tests.dumpkit import Ctr, DumpBuilder, alert_payload
from tests.kubeapi import Kube, KubeAPIServer
from tests.kubechart import ChartIdentity, install_chart_rbac
from tests.kubeseed import FakeKubelet, seed_objects, unseed

NS = "rbac-shop"
READ = ("get", "list", "watch")
WRITE = ("create", "update", "patch", "delete", "deletecollection")
# (group, resource) pairs to ask about: what the chart grants, what it must never grant, and their neighbours.
SENSITIVE = [("", "secrets"), ("", "configmaps"), ("", "pods/exec"), ("", "pods/attach"), ("", "pods/portforward"),
             ("", "pods/proxy"), ("", "nodes/proxy"), ("", "services/proxy"), ("", "serviceaccounts"),
             ("", "serviceaccounts/token"), ("", "pods/eviction"), ("", "pods/ephemeralcontainers"),
             ("", "pods/status"), ("", "nodes/status"), ("rbac.authorization.k8s.io", "clusterroles"),
             ("rbac.authorization.k8s.io", "clusterrolebindings"), ("rbac.authorization.k8s.io", "roles"),
             ("rbac.authorization.k8s.io", "rolebindings"), ("certificates.k8s.io", "certificatesigningrequests"),
             ("apps", "deployments/scale"), ("", "persistentvolumeclaims/status")]
SPECIAL = [("impersonate", "", "users"), ("impersonate", "", "groups"), ("impersonate", "", "serviceaccounts"),
           ("impersonate", "authentication.k8s.io", "userextras"), ("impersonate", "authentication.k8s.io", "uids"),
           ("escalate", "rbac.authorization.k8s.io", "clusterroles"), ("escalate", "rbac.authorization.k8s.io", "roles"),
           ("bind", "rbac.authorization.k8s.io", "clusterroles"), ("bind", "rbac.authorization.k8s.io", "roles"),
           ("approve", "certificates.k8s.io", "signers"), ("sign", "certificates.k8s.io", "signers"),
           ("*", "", "pods"), ("*", "*", "*")]


def granted(role: dict[str, Any]) -> set[tuple[str, str, str]]:
    """(verb, group, resource) the rendered ClusterRole names."""
    return {(v, g, r) for rule in role["rules"] for v in rule["verbs"] for g in rule.get("apiGroups", [])
            for r in rule.get("resources", [])}


def scenario(b: DumpBuilder) -> dict[str, str]:
    """A namespace with something for every tool to read."""
    b.node("node-1")
    b.node("node-2", ready="False", reason="KubeletNotReady", message="PLEG is not healthy")
    b.storageclass("standard", default=True)
    b.pv("pvc-1", claim=(NS, "data"))
    b.pvc(NS, "data", volume="pvc-1")
    rs = b.deployment(NS, "web", replicas=2, ready=1)
    b.pod(NS, "web-7d8f9b456-aaaaa", [Ctr("web"), Ctr("envoy")], owner=("ReplicaSet", rs), labels={"app": "web"})
    b.pod(NS, "web-7d8f9b456-bbbbb", [Ctr("web", state="waiting", reason="CrashLoopBackOff", ready=False, restarts=4,
                                         last={"reason": "Error", "exitCode": 1}), Ctr("envoy")],
          owner=("ReplicaSet", rs), labels={"app": "web"},
          volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}])
    b.logs(NS, "web-7d8f9b456-bbbbb", "boom\n", container="web", previous=True)
    b.service(NS, "web", {"app": "web"})
    b.endpoints(NS, "web", ready=1, not_ready=1)
    b.event(NS, "Pod", "web-7d8f9b456-bbbbb", "BackOff", "Back-off restarting failed container web", count=4)
    b.quota(NS, "compute", {"pods": "20"}, {"pods": "2"})
    b.hpa(NS, "web", "web", max_replicas=2, current=2)
    b.webhook("policy", "validate.policy.example.com")
    b.configmap(NS, "web-config", {"app.ini": "password=hunter2"})
    b.secret(NS, "web-creds", {"token": "aHVudGVyMg=="})
    return {"pod": "web-7d8f9b456-bbbbb", "namespace": NS}


TOOL_PARAMS: dict[str, dict[str, Any]] = {
    "get_pod": {"namespace": NS, "name": "web-7d8f9b456-bbbbb"},
    "list_pods": {"namespace": NS, "label_selector": "app=web"},
    "describe_pod": {"namespace": NS, "name": "web-7d8f9b456-bbbbb"},
    "pod_logs": {"namespace": NS, "name": "web-7d8f9b456-bbbbb", "container": "web", "previous": True},
    "list_events": {"namespace": NS},
    "get_workload": {"namespace": NS, "kind": "deployment", "name": "web"},
    "get_service": {"namespace": NS, "name": "web"},
    "list_services": {"namespace": NS},
    "get_pvc": {"namespace": NS, "name": "data"},
    "list_nodes": {},
    "get_node": {"name": "node-2"},
    "list_resource_quotas": {"namespace": NS},
    "list_hpas": {"namespace": NS},
    "get_hpa": {"namespace": NS, "name": "web"},
    "list_admission_webhooks": {},
    "list_configmaps": {"namespace": NS},
    "top_pods": {"namespace": NS},
    "top_nodes": {},
    "list_limit_ranges": {"namespace": NS},
    "list_network_policies": {"namespace": NS},
}
# Tools the chart's role deliberately cannot serve (it grants no configmaps: listing them returns their values).
REFUSED_BY_THE_CHART = {"list_configmaps"}


@pytest.fixture(scope="module")
def identity(kube_api: KubeAPIServer) -> ChartIdentity:
    async def install() -> ChartIdentity:
        async with kube_api.admin() as kube:
            return await install_chart_rbac(kube)
    return asyncio.run(install())


@pytest.fixture(scope="module")
def seeded(kube_api: KubeAPIServer, tmp_path_factory: pytest.TempPathFactory):
    b = DumpBuilder(tmp_path_factory.mktemp("rbac") / "dump")
    labels = scenario(b)
    b.write()
    with FakeKubelet(kube_api.pki["cert"], kube_api.pki["key"]) as kubelet:
        kubelet.source = DumpReader(b.root)

        async def seed():
            async with kube_api.admin() as kube:
                return await seed_objects(kube, b, kubelet.port)
        done = asyncio.run(seed())
        yield b, labels
        async def clean():
            async with kube_api.admin() as kube:
                await unseed(kube, done)
        asyncio.run(clean())


def test_every_registry_tool_runs_as_the_charts_service_account(kube_api, identity, seeded):
    registry = load_registry()
    assert set(TOOL_PARAMS) == {t.id for t in registry.tools}, "a new tool needs its parameters here"

    async def main() -> dict[str, Any]:
        async with LiveReader(kube_api.api_client(identity.token), "real") as reader:
            executor = in_process_executor({"real": reader}, registry=registry)
            try:
                return {tool: await executor.call(ToolCall(tool_id=tool, parameters=params), task_id="rbac",
                                                  cluster_id="real") for tool, params in TOOL_PARAMS.items()}
            finally:
                await executor.aclose()

    results = asyncio.run(main())
    failed = {t: r.error for t, r in results.items() if not r.ok}
    assert failed.keys() == REFUSED_BY_THE_CHART, failed
    assert "HTTP 403" in failed["list_configmaps"] and identity.user in failed["list_configmaps"]
    out = {t: json.loads(r.output) for t, r in results.items() if r.ok}
    assert out["pod_logs"]["logs"].strip() == "boom"  # pods/log through the API server, as the chart's identity
    assert {n["metadata"]["name"] for n in out["list_nodes"]["nodes"]} >= {"node-1", "node-2"}
    assert out["top_pods"]["available"] is False  # no metrics-server: the real 404, read as "not available"
    assert "hunter2" not in json.dumps(out)


async def access_review(kube: Kube, user: str, groups: list[str], verb: str, group: str, resource: str) -> bool:
    resource, _, sub = resource.partition("/")
    body = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
            "spec": {"user": user, "groups": groups,
                     "resourceAttributes": {"verb": verb, "group": group, "resource": resource,
                                            "subresource": sub, "namespace": NS}}}
    got = await kube.create("/apis/authorization.k8s.io/v1/subjectaccessreviews", body)
    return bool(got["status"].get("allowed"))


def test_subject_access_review_allows_only_reads_of_the_charts_resources(kube_api, identity, capsys):
    grants = granted(identity.cluster_role)
    assert all(v in READ for v, _, _ in grants), "the chart grants a verb other than get/list/watch"
    resources = sorted({(g, r) for _, g, r in grants} | set(SENSITIVE))
    asks = [(v, g, r) for g, r in resources for v in (*READ, *WRITE)] + SPECIAL
    groups = ["system:serviceaccounts", f"system:serviceaccounts:{identity.namespace}", "system:authenticated"]

    async def main() -> dict[tuple[str, str, str], bool]:
        async with kube_api.admin() as kube:
            answers = await asyncio.gather(*(access_review(kube, identity.user, groups, *a) for a in asks))
        return dict(zip(asks, answers, strict=True))

    allowed = asyncio.run(main())
    expected = {a: (a in grants) for a in asks}
    assert allowed == expected, {a: v for a, v in allowed.items() if v != expected[a]}
    denied = sorted(a for a, v in allowed.items() if not v)
    with capsys.disabled():
        print(f"\nSubjectAccessReview as {identity.user}: {len(asks)} asked, {len(asks) - len(denied)} allowed "
              f"(all get/list/watch), {len(denied)} denied")
        for g, r in resources:
            row = "".join("A" if allowed[(v, g, r)] else "." for v in (*READ, *WRITE))
            print(f"  {row}  {g or 'core'}/{r}")
        print("  (columns: " + " ".join((*READ, *WRITE)) + "; A = allowed, . = denied)")
        for verb, g, r in SPECIAL:
            print(f"  {'A' if allowed[(verb, g, r)] else '.'}  {verb} {g or 'core'}/{r}")


def test_the_server_refuses_every_write_exec_secret_impersonation_and_escalation(kube_api, identity, seeded):
    pod = f"/api/v1/namespaces/{NS}/pods/web-7d8f9b456-aaaaa"
    attempts: list[tuple[str, str, str, Any, dict[str, str]]] = [
        ("create pods", "POST", f"/api/v1/namespaces/{NS}/pods",
         {"metadata": {"name": "x"}, "spec": {"containers": [{"name": "c", "image": "x"}]}}, {}),
        ("update pods", "PUT", pod, {"metadata": {"name": "web-7d8f9b456-aaaaa"}}, {}),
        ("patch pods", "PATCH", pod, {"metadata": {"labels": {"x": "y"}}}, {}),
        ("delete pods", "DELETE", pod, None, {}),
        ("deletecollection pods", "DELETE", f"/api/v1/namespaces/{NS}/pods", None, {}),
        ("patch deployments", "PATCH", f"/apis/apps/v1/namespaces/{NS}/deployments/web", {"spec": {"replicas": 0}}, {}),
        ("update deployments/scale", "PUT", f"/apis/apps/v1/namespaces/{NS}/deployments/web/scale",
         {"spec": {"replicas": 0}}, {}),
        ("delete nodes", "DELETE", "/api/v1/nodes/node-1", None, {}),
        ("patch nodes (cordon)", "PATCH", "/api/v1/nodes/node-1", {"spec": {"unschedulable": True}}, {}),
        ("create pods/eviction", "POST", f"{pod}/eviction",
         {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "web-7d8f9b456-aaaaa"}}, {}),
        ("create pods/exec", "POST", f"{pod}/exec?command=sh&container=web&stdin=true", None, {}),
        ("get pods/exec", "GET", f"{pod}/exec?command=sh&container=web", None, {}),
        ("create pods/attach", "POST", f"{pod}/attach?container=web", None, {}),
        ("create pods/portforward", "POST", f"{pod}/portforward?ports=80", None, {}),
        ("get pods/proxy", "GET", f"{pod}/proxy/", None, {}),
        ("get nodes/proxy", "GET", "/api/v1/nodes/node-1/proxy/pods", None, {}),
        ("get secrets", "GET", f"/api/v1/namespaces/{NS}/secrets/web-creds", None, {}),
        ("list secrets", "GET", "/api/v1/secrets", None, {}),
        ("watch secrets", "GET", f"/api/v1/namespaces/{NS}/secrets?watch=true&timeoutSeconds=1", None, {}),
        ("get configmaps", "GET", f"/api/v1/namespaces/{NS}/configmaps/web-config", None, {}),
        ("list configmaps", "GET", "/api/v1/configmaps", None, {}),
        ("create serviceaccounts/token", "POST",
         f"/api/v1/namespaces/{identity.namespace}/serviceaccounts/{identity.service_account}/token",
         {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}}, {}),
        ("impersonate users", "GET", "/api/v1/nodes", None, {"Impersonate-User": "kube-admin"}),
        ("impersonate groups", "GET", "/api/v1/nodes", None,
         {"Impersonate-User": identity.user, "Impersonate-Group": "system:masters"}),
        ("impersonate serviceaccounts", "GET", "/api/v1/nodes", None,
         {"Impersonate-User": "system:serviceaccount:kube-system:default"}),
        ("escalate: create a ClusterRole", "POST", "/apis/rbac.authorization.k8s.io/v1/clusterroles",
         {"metadata": {"name": "grab"}, "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]}, {}),
        ("escalate: widen its own ClusterRole", "PATCH",
         f"/apis/rbac.authorization.k8s.io/v1/clusterroles/{identity.cluster_role['metadata']['name']}",
         [{"op": "add", "path": "/rules/-", "value": {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}}],
         {"Content-Type": "application/json-patch+json"}),
        ("bind: cluster-admin to itself", "POST", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
         {"metadata": {"name": "grab"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                                    "name": "cluster-admin"},
          "subjects": [{"kind": "ServiceAccount", "name": identity.service_account, "namespace": identity.namespace}]},
         {}),
        ("create certificatesigningrequests", "POST", "/apis/certificates.k8s.io/v1/certificatesigningrequests",
         {"metadata": {"name": "x"}, "spec": {"request": "", "signerName": "kubernetes.io/kube-apiserver-client",
                                              "usages": ["client auth"]}}, {}),
    ]

    async def main() -> list[tuple[str, int]]:
        before = kube_api.etcd_revision()
        async with Kube(kube_api.url, identity.token, kube_api.ssl_context()) as kube:
            got = [(what, await kube.status(method, path, body, headers)) for what, method, path, body, headers
                   in attempts]
        assert kube_api.etcd_revision() == before, kube_api.etcd_changes_since(before)
        return got

    got = asyncio.run(main())
    assert [w for w, status in got if status != 403] == [], got


def test_a_full_diagnosis_as_the_chart_changes_nothing_in_etcd(kube_api, identity, seeded, capsys):
    """The worker's reader (built from settings.clusters with a kubeconfig holding the chart's token) and the one
    step loop: a complete diagnosis, and etcd's revision is where it was."""
    _, labels = seeded
    payload = AlertmanagerPayload.model_validate(alert_payload(dict(labels), alertname="KubePodCrashLooping"))

    kubeconfig = kube_api.kubeconfig(identity.token, name="chart-reader")

    async def main():
        before = kube_api.etcd_revision()
        readers = Readers({"real": ClusterSource(kubeconfig=kubeconfig)})  # what a worker builds from settings
        await readers.connect_live()
        reader = readers["real"]
        try:
            run = await diagnose_run(reader, payload, engine="rules")
        finally:
            await reader.close()
        return before, kube_api.etcd_revision(), run

    before, after, run = asyncio.run(main())
    assert run.report.root_cause is not None and len(run.steps) >= 4
    assert after == before, kube_api.etcd_changes_since(before)
    with capsys.disabled():
        print(f"\netcd revision before/after a {len(run.report.steps)}-step diagnosis as {identity.user}: "
              f"{before}/{after}")


@pytest.mark.kafka
def test_the_worker_process_as_the_charts_service_account_diagnoses_and_writes_nothing(
        kube_api, identity, seeded, kafka_bootstrap, topic_prefix, tmp_path, capsys):
    """The real `aetherius worker` (Faust, real Kafka), its cluster a kubeconfig with the chart's token: an alert in,
    a completed report out, and etcd's revision where it was before the worker started."""
    from schemas.alertmanager import Alert, RawAlert
    from streams.fingerprint import labels_fingerprint
    from tests.kafkautil import produce, read_all, run
    from tests.workerproc import WorkerProcess, wait_for

    kubeconfig = kube_api.kubeconfig(identity.token, name="worker")
    labels = {"alertname": "KubePodCrashLooping", "cluster_id": "real", "namespace": NS, "pod": "web-7d8f9b456-bbbbb",
              "severity": "warning"}
    fp = labels_fingerprint(labels)
    before = kube_api.etcd_revision()
    worker = WorkerProcess(kafka_bootstrap, topic_prefix, tmp_path, env_extra={
        "AETHERIUS_CLUSTERS": json.dumps({"real": {"kubeconfig": str(kubeconfig)}})}).start()
    try:
        run(produce(kafka_bootstrap, f"{topic_prefix}.alerts.raw",
                    [(fp.encode(), RawAlert(fingerprint=fp, alert=Alert(labels=labels)).to_bytes())]))
        reports = wait_for(lambda: run(read_all(kafka_bootstrap, f"{topic_prefix}.reports")), what="the report",
                           timeout=120)
    finally:
        worker.stop()
    after = kube_api.etcd_revision()
    report = json.loads(reports[0][1])
    assert report["status"] == "completed" and report["cluster_id"] == "real", report
    assert report["root_cause"]["category"] == "application_crash" and len(report["steps"]) >= 3
    assert all(s["status"] == "completed" for s in report["steps"]), [s["tool_id"] for s in report["steps"]]
    assert after == before, kube_api.etcd_changes_since(before)
    with capsys.disabled():
        print(f"\netcd revision before/after the worker process's {len(report['steps'])}-step diagnosis: "
              f"{before}/{after}")
