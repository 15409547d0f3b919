"""LiveReader against a real kube-apiserver (tests/kubeapi.py): every kind of the resource table at the group and
version the real server serves it, namespaces, label selectors, paging, not-found, Secret/ConfigMap values never
coming back, pod logs through the API server (from the test kubelet, tests/kubeseed.py), the metrics API absent,
the server's own 401/403, kubeconfigs with the per-run CA (token and exec plugin). What a real server cannot do on
demand (scripted 5xx, metrics available/503, request inspection) stays on the fake in tests/test_live_reader.py.
"""

from __future__ import annotations

import asyncio
import base64
import json
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from agents.cluster.dump import DumpReader
from agents.cluster.live import RESOURCES, LiveReader, reader_from_kubeconfig
from agents.cluster.reader import ReaderError
from tests.dumpkit import Ctr, DumpBuilder
from tests.kubeapi import KubeAPIServer, free_port, write_kubeconfig
from tests.kubeseed import FakeKubelet, seed_objects, unseed

SECRET_VALUE = "hunter2-do-not-leak"
CM_VALUE = "db-password=also-secret"
SHOP, DATA = "lr-shop", "lr-data"


def scenario(b: DumpBuilder) -> None:
    b.node("lr-node-1")
    b.storageclass("lr-fast", provisioner="csi.example")
    b.webhook("lr-policy", "validate.policy.example.com")
    b.webhook("lr-inject", "inject.policy.example.com", mutating=True)
    b.pod(SHOP, "web-1", [Ctr("app")], labels={"app": "web"}, node="lr-node-1")
    b.pod(SHOP, "web-2", [Ctr("app")], labels={"app": "web", "tier": "fe"}, node="lr-node-1")
    b.pod(DATA, "db-0", [Ctr("db", restarts=1, last={"reason": "Error", "exitCode": 1}), Ctr("exporter")],
          labels={"app": "db"}, node="lr-node-1")
    b.pod(DATA, "pending-0", [Ctr("app", state="waiting", ready=False)], node=None)
    b.logs(SHOP, "web-1", "line 1\nline 2\nline 3\n", container="app")
    b.logs(SHOP, "web-1", "panic: boom\n", container="app", previous=True)
    b.logs(DATA, "db-0", '{"level":"error","msg":"disk full"}\n', container="db")
    b.event(SHOP, "Pod", "web-1", "BackOff", "Back-off restarting failed container")
    b.service(SHOP, "web", {"app": "web"})
    b.endpoints(SHOP, "web", ready=1)
    b.configmap(SHOP, "web-config", {"app.ini": CM_VALUE})
    sec = b.secret(SHOP, "web-creds", {"password": base64.b64encode(SECRET_VALUE.encode()).decode()})
    sec["metadata"]["annotations"] = {"kubectl.kubernetes.io/last-applied-configuration": json.dumps(
        {"stringData": {"password": SECRET_VALUE}}), "team": "shop"}
    b.pvc(DATA, "data-db-0", phase="Pending", storage_class="lr-fast")
    b.deployment(SHOP, "web", replicas=2)
    b.statefulset(SHOP, "web-sts", replicas=1)
    b.daemonset(SHOP, "web-ds")
    b.job(SHOP, "migrate", failed=1)
    b.hpa(SHOP, "web", "web", max_replicas=5, current=2)
    b.quota(SHOP, "compute", {"pods": "10"}, {"pods": "3"})


@pytest.fixture(scope="module")
def cluster(kube_api: KubeAPIServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeKubelet]:
    b = DumpBuilder(tmp_path_factory.mktemp("live-reader") / "dump")
    scenario(b)
    b.write()
    with FakeKubelet(kube_api.pki["cert"], kube_api.pki["key"]) as kubelet:
        kubelet.source = DumpReader(b.root)

        async def seed():
            async with kube_api.admin() as kube:
                return await seed_objects(kube, b, kubelet.port)
        seeded = asyncio.run(seed())
        yield kubelet

        async def clean() -> None:
            async with kube_api.admin() as kube:
                await unseed(kube, seeded)
        asyncio.run(clean())


def run(server: KubeAPIServer, fn: Callable[[LiveReader], Awaitable[None]], token: str | None = None,
        **kw: Any) -> None:
    async def main() -> None:
        async with LiveReader(server.api_client(token), "c1", **kw) as r:
            await fn(r)
    asyncio.run(main())


def names(objs: list[dict[str, Any]]) -> list[str]:
    return sorted(o["metadata"]["name"] for o in objs)


def test_every_kind_of_the_table_lists_at_the_path_the_real_server_serves(kube_api, cluster):
    async def check(r: LiveReader) -> None:
        for kind, res in RESOURCES.items():
            items = await r.list(kind)
            assert all(o["kind"] == res.kind and o["apiVersion"] == res.api_version for o in items), kind
            assert not any("managedFields" in o["metadata"] for o in items), kind  # the server sends them
            for o in items:
                ns = o["metadata"].get("namespace")
                assert bool(ns) == res.namespaced, (kind, ns)
    run(kube_api, check)


def test_namespaces_labels_and_pages(kube_api, cluster):
    async def check(r: LiveReader) -> None:
        assert names(await r.list("pods", SHOP)) == ["web-1", "web-2"]
        assert names(await r.list("pods", None, {"app": "db"})) == ["db-0"]
        assert names(await r.list("pods", SHOP, {"app": "web", "tier": "fe"})) == ["web-2"]
        assert await r.list("pods", "no-such-namespace") == []
        assert {"lr-node-1"} <= set(names(await r.list("nodes")))
        assert names(await r.list("validatingwebhookconfigurations")) == ["lr-policy"]
        assert names(await r.list("mutatingwebhookconfigurations")) == ["lr-inject"]
        hpa = (await r.list("horizontalpodautoscalers", SHOP))[0]
        assert hpa["apiVersion"] == "autoscaling/v2" and hpa["status"]["currentReplicas"] == 2
        assert {SHOP, DATA, "default", "kube-system"} <= set(names(await r.list("namespaces")))
        events = await r.list("events", SHOP)
        assert events[0]["reason"] == "BackOff" and events[0]["involvedObject"]["name"] == "web-1"
    run(kube_api, check)

    async def paged(r: LiveReader) -> None:  # one object per page: `continue` tokens from the real server
        assert [n for n in names(await r.list("pods")) if n in ("web-1", "web-2", "db-0")] == ["db-0", "web-1", "web-2"]
        assert names(await r.list("pods", SHOP)) == ["web-1", "web-2"]
    run(kube_api, paged, page_size=1)


def test_get_found_not_found_cluster_scoped_and_status(kube_api, cluster):
    async def check(r: LiveReader) -> None:
        pod = await r.get("pods", "web-1", SHOP)
        assert "managedFields" not in pod["metadata"] and pod["metadata"]["uid"]
        assert pod["kind"] == "Pod" and pod["spec"]["nodeName"] == "lr-node-1" and pod["status"]["phase"] == "Running"
        db = await r.get("pods", "db-0", DATA)
        assert db["status"]["containerStatuses"][0]["lastState"]["terminated"]["exitCode"] == 1
        assert await r.get("pods", "nope", SHOP) is None
        assert await r.get("pods", "web-1", DATA) is None
        node = await r.get("nodes", "lr-node-1")
        assert {c["type"]: c["status"] for c in node["status"]["conditions"]}["Ready"] == "True"
        assert (await r.get("storageclasses", "lr-fast"))["provisioner"] == "csi.example"
        assert (await r.get("persistentvolumeclaims", "data-db-0", DATA))["status"]["phase"] == "Pending"
        assert (await r.get("jobs", "migrate", SHOP))["status"]["failed"] == 1
        assert (await r.get("statefulsets", "web-sts", SHOP))["kind"] == "StatefulSet"
        assert (await r.get("resourcequotas", "compute", SHOP))["status"]["used"] == {"pods": "3"}
        assert await r.get("daemonsets", "web-ds") is None  # no namespace means "default"
        assert (await r.get("services", "kubernetes"))["spec"]["clusterIP"]  # the server's own, in "default"
    run(kube_api, check)


def test_secret_and_configmap_values_never_come_back(kube_api, cluster):
    async def check(r: LiveReader) -> None:
        got = [await r.get("secrets", "web-creds", SHOP), await r.get("configmaps", "web-config", SHOP),
               *await r.list("secrets"), *await r.list("configmaps", SHOP)]
        text = json.dumps(got)
        assert SECRET_VALUE not in text and "also-secret" not in text
        assert base64.b64encode(SECRET_VALUE.encode()).decode() not in text
        secret = got[0]
        assert "data" not in secret and secret["keys"] == ["password"] and "managedFields" not in secret["metadata"]
        assert secret["metadata"]["annotations"] == {"team": "shop"}
        assert got[1]["keys"] == ["app.ini"] and "data" not in got[1]
    run(kube_api, check)


def test_logs_through_the_api_server(kube_api, cluster):
    async def check(r: LiveReader) -> None:
        # (the test kubelet serves the dump's sections, which kubectl's combined logs.txt writes without the last \n)
        assert await r.logs(SHOP, "web-1") == "line 1\nline 2\nline 3"  # the only container: the server picks it
        assert await r.logs(SHOP, "web-1", tail_lines=2) == "line 2\nline 3"
        assert await r.logs(SHOP, "web-1", previous=True) == "panic: boom"
        assert await r.logs(SHOP, "web-2", previous=True) == ""  # the kubelet's 400: no previous container
        assert await r.logs(SHOP, "gone-pod") == ""  # the server's 404
        assert await r.logs(DATA, "pending-0") == ""  # not on a node yet: the server's 204
        assert await r.logs(DATA, "db-0", container="db") == '{"level":"error","msg":"disk full"}'
        with pytest.raises(ReaderError, match=r"HTTP 400: a container name must be specified for pod db-0, "
                                              r"choose one of: \[db exporter\]"):
            await r.logs(DATA, "db-0")  # the real API server's own check, before any kubelet is asked
        with pytest.raises(ReaderError, match="HTTP 400: container nope is not valid for pod db-0"):
            await r.logs(DATA, "db-0", container="nope")
    run(kube_api, check)
    assert any("tailLines=2" in q for q in cluster.requests) and any("previous=true" in q for q in cluster.requests)


def test_no_metrics_api_on_the_server_is_none(kube_api, cluster):
    async def check(r: LiveReader) -> None:
        assert await r.metrics("pods", SHOP) is None  # metrics.k8s.io is not registered: the real 404
        assert await r.metrics("nodes") is None
    run(kube_api, check)


def test_the_servers_own_refusals_name_the_cluster_and_request(kube_api, cluster):
    async def forbidden(r: LiveReader) -> None:
        with pytest.raises(ReaderError, match=r'cluster c1: list pods failed: HTTP 403 Forbidden: pods is forbidden: '
                                              r'User "nobody" cannot list resource "pods"'):
            await r.list("pods", SHOP)
        with pytest.raises(ReaderError, match=r"get nodes/lr-node-1 failed: HTTP 403"):
            await r.get("nodes", "lr-node-1")
        with pytest.raises(ReaderError, match=r"logs of lr-shop/web-1 failed: HTTP 403"):
            await r.logs(SHOP, "web-1")
    run(kube_api, forbidden, token=kube_api.nobody_token)

    async def unauthenticated(r: LiveReader) -> None:
        with pytest.raises(ReaderError, match="HTTP 401 Unauthorized"):
            await r.list("pods")
    run(kube_api, unauthenticated, token="wrong-token")


def test_reader_from_kubeconfig_with_the_ca_and_a_context(kube_api, cluster, tmp_path: Path):
    good = write_kubeconfig(tmp_path / "kc", kube_api.url, kube_api.ca_file, kube_api.admin_token, "b")
    cfg = json.loads(good.read_text())
    cfg["clusters"].append({"name": "a", "cluster": {"server": f"https://127.0.0.1:{free_port()}",
                                                     "certificate-authority": str(kube_api.ca_file)}})
    cfg["users"].append({"name": "a", "user": {"token": "t"}})
    cfg["contexts"].append({"name": "a", "context": {"cluster": "a", "user": "a"}})
    cfg["current-context"] = "a"
    good.write_text(json.dumps(cfg))
    before = good.read_text()
    untrusted = write_kubeconfig(tmp_path / "kc-no-ca", kube_api.url, tmp_path / "other-ca.crt",
                                 kube_api.admin_token)
    (tmp_path / "other-ca.crt").write_text(Path(kube_api.pki["cert"]).read_text())  # not the CA: verify fails

    async def main() -> None:
        async with await reader_from_kubeconfig(good, "b", "cluster-b") as r:
            assert "lr-node-1" in names(await r.list("nodes"))
        async with await reader_from_kubeconfig(good, None, "cluster-a") as r:
            with pytest.raises(ReaderError, match="cluster-a: list nodes: unreachable"):
                await r.list("nodes")
        async with await reader_from_kubeconfig(untrusted, None, "x") as r:
            with pytest.raises(ReaderError, match="unreachable.*certificate"):
                await r.list("nodes")
    asyncio.run(main())
    assert good.read_text() == before


def test_reader_from_kubeconfig_runs_an_exec_plugin(kube_api, cluster, tmp_path: Path):
    plugin = tmp_path / "plugin.py"
    plugin.write_text(
        "import json, pathlib\n"
        f"c = pathlib.Path({str(tmp_path / 'runs')!r}); n = int(c.read_text()) + 1 if c.exists() else 1\n"
        "c.write_text(str(n))\n"
        "print(json.dumps({'apiVersion': 'client.authentication.k8s.io/v1', 'kind': 'ExecCredential',\n"
        f"  'status': {{'token': {kube_api.admin_token!r}, 'expirationTimestamp': '2000-01-01T00:00:00Z'}}}}))\n")
    cfg = write_kubeconfig(tmp_path / "kc", kube_api.url, kube_api.ca_file, "unused")
    doc = json.loads(cfg.read_text())
    doc["users"][0]["user"] = {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": sys.executable,
                                        "args": [str(plugin)], "interactiveMode": "Never"}}
    cfg.write_text(json.dumps(doc))

    async def main() -> None:
        async with await reader_from_kubeconfig(cfg, None, "x") as r:
            assert "lr-node-1" in names(await r.list("nodes"))
            assert "lr-node-1" in names(await r.list("nodes"))
    asyncio.run(main())
    assert int((tmp_path / "runs").read_text()) >= 3  # expired on arrival: asked again for each request
