"""LiveReader, every ClusterReader method, against the fake API server (tests/fake_kube_api.py; no real API
server can run here): kinds and API groups, paging, selectors, not-found, logs, metrics, errors, and that
Secret/ConfigMap values never come back."""

from __future__ import annotations

import asyncio
import base64
import inspect
import json
import socket
import sys
from pathlib import Path
from typing import Any, Awaitable, Callable

import pytest
from kubernetes_asyncio import client

import agents.cluster.live as live
from agents.cluster.live import RESOURCES, LiveReader, reader_from_kubeconfig
from agents.cluster.reader import ClusterReader, ReaderError
from tests.fake_kube_api import FakeKubeAPI, make_event

SECRET_VALUE = "hunter2-do-not-leak"
CM_VALUE = "db-password=also-secret"


def _meta(name: str, namespace: str | None = "shop", **labels: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": labels} if labels else {"name": name}
    if namespace:
        meta["namespace"] = namespace
    return {"metadata": meta}


def seed(fake: FakeKubeAPI) -> None:
    pod = {**_meta("web-1", app="web"), "spec": {"containers": [{"name": "app"}], "nodeName": "node-1"},
           "status": {"phase": "Running"}}
    fake.add("pods", pod)
    fake.add("pods", {**_meta("web-2", app="web", tier="fe"), "spec": {"containers": [{"name": "app"}]}})
    fake.add("pods", {**_meta("db-0", "data", app="db"),
                      "spec": {"containers": [{"name": "db"}, {"name": "exporter"}]}})
    fake.add("events", make_event("web-1.1", "BackOff", namespace="shop", object_name="web-1"))
    fake.add("services", {**_meta("web"), "spec": {"selector": {"app": "web"}}})
    fake.add("endpoints", {**_meta("web"), "subsets": []})
    fake.add("configmaps", {**_meta("web-config"), "data": {"app.ini": CM_VALUE}})
    fake.add("secrets", {**_meta("web-creds"), "type": "Opaque",
                         "data": {"password": base64.b64encode(SECRET_VALUE.encode()).decode()},
                         "metadata": {"name": "web-creds", "namespace": "shop", "annotations": {
                             "kubectl.kubernetes.io/last-applied-configuration": json.dumps(
                                 {"stringData": {"password": SECRET_VALUE}}),
                             "team": "shop"}}})
    fake.add("persistentvolumeclaims", {**_meta("data-db-0", "data"), "spec": {"storageClassName": "fast"},
                                        "status": {"phase": "Pending"}})
    for plural in ("deployments", "replicasets", "statefulsets", "daemonsets"):
        fake.add(plural, {**_meta(f"web-{plural}"), "spec": {"replicas": 2}})
    fake.add("jobs", {**_meta("migrate"), "status": {"failed": 1}})
    fake.add("horizontalpodautoscalers", {**_meta("web"), "spec": {"maxReplicas": 5}})
    fake.add("resourcequotas", _meta("compute"))
    fake.add("nodes", {**_meta("node-1", None), "status": {"conditions": [{"type": "Ready", "status": "True"}]}})
    fake.add("storageclasses", {**_meta("fast", None), "provisioner": "csi.example"})
    fake.add("validatingwebhookconfigurations", _meta("policy", None))
    fake.add("mutatingwebhookconfigurations", _meta("inject", None))
    fake.add("pods", {**_meta("web-1"), "containers": [{"name": "app", "usage": {"cpu": "5m"}}]},
             api="metrics.k8s.io/v1beta1")
    fake.add("nodes", {**_meta("node-1", None), "usage": {"cpu": "250m"}}, api="metrics.k8s.io/v1beta1")
    fake.set_logs("shop", "web-1", "line 1\nline 2\nline 3\n")
    fake.set_logs("shop", "web-1", "panic: boom\n", previous=True)
    fake.set_logs("data", "db-0", '{"level":"error","msg":"disk full"}\n', container="db")


def run(fn: Callable[[FakeKubeAPI, LiveReader], Awaitable[None]], **reader_kw: Any) -> None:
    async def main() -> None:
        async with FakeKubeAPI() as fake:
            seed(fake)
            async with LiveReader(client.ApiClient(client.Configuration(host=fake.url)), "c1", **reader_kw) as r:
                await fn(fake, r)
            assert fake.writes == []
    asyncio.run(main())


def names(objs: list[dict[str, Any]]) -> list[str]:
    return sorted(o["metadata"]["name"] for o in objs)


def test_is_a_cluster_reader_with_no_write_method():
    async def check(fake: FakeKubeAPI, r: LiveReader) -> None:
        assert isinstance(r, ClusterReader)
    run(check)
    public = {m for m in dir(LiveReader) if not m.startswith("_")}
    assert public == {"list", "get", "logs", "metrics", "close"}
    source = inspect.getsource(live)
    for verb in ('"POST"', '"PUT"', '"PATCH"', '"DELETE"', "create_namespaced", "patch_", "delete_",
                 "replace_", "connect_", "stream("):
        assert verb not in source, verb


def test_the_resource_table_covers_every_kind_and_each_one_lists():
    async def check(fake: FakeKubeAPI, r: LiveReader) -> None:
        for kind, res in RESOURCES.items():
            items = await r.list(kind)
            assert all(o["kind"] == res.kind and o["apiVersion"] == res.api_version for o in items), kind
        assert [p for p in {q.path for q in fake.requests}
                if not (p.startswith("/api/v1/") or p.startswith("/apis/"))] == []
    run(check)


def test_list_by_namespace_all_namespaces_and_labels():
    async def check(fake: FakeKubeAPI, r: LiveReader) -> None:
        assert names(await r.list("pods", "shop")) == ["web-1", "web-2"]
        assert names(await r.list("pods")) == ["db-0", "web-1", "web-2"]
        assert names(await r.list("pods", "shop", {"app": "web", "tier": "fe"})) == ["web-2"]
        assert names(await r.list("pods", None, {"app": "db"})) == ["db-0"]
        assert await r.list("pods", "empty-ns") == []
        deploys = await r.list("deployments", "shop")
        assert deploys[0]["kind"] == "Deployment" and deploys[0]["apiVersion"] == "apps/v1"
        assert deploys[0]["spec"]["replicas"] == 2
        hpas = await r.list("horizontalpodautoscalers", "shop")
        assert hpas[0]["apiVersion"] == "autoscaling/v2"
        assert names(await r.list("nodes")) == ["node-1"]
        assert names(await r.list("validatingwebhookconfigurations")) == ["policy"]
        assert names(await r.list("mutatingwebhookconfigurations")) == ["inject"]
        events = await r.list("events", "shop")
        assert events[0]["reason"] == "BackOff" and events[0]["involvedObject"]["name"] == "web-1"
    run(check)


def test_list_follows_continue_pages():
    async def check(fake: FakeKubeAPI, r: LiveReader) -> None:
        assert names(await r.list("pods")) == ["db-0", "web-1", "web-2"]
        pages = [q.query for q in fake.requests if q.path == "/api/v1/pods"]
        assert [("continue" in p) for p in pages] == [False, True, True] and pages[0]["limit"] == "1"
    run(check, page_size=1)


def test_get_found_not_found_and_cluster_scoped():
    async def check(fake: FakeKubeAPI, r: LiveReader) -> None:
        pod = await r.get("pods", "web-1", "shop")
        assert pod["kind"] == "Pod" and pod["spec"]["nodeName"] == "node-1" and pod["status"]["phase"] == "Running"
        assert await r.get("pods", "nope", "shop") is None
        assert await r.get("pods", "web-1", "other") is None
        assert (await r.get("nodes", "node-1"))["status"]["conditions"][0]["type"] == "Ready"
        assert (await r.get("storageclasses", "fast"))["provisioner"] == "csi.example"
        assert (await r.get("persistentvolumeclaims", "data-db-0", "data"))["status"]["phase"] == "Pending"
        assert (await r.get("jobs", "migrate", "shop"))["apiVersion"] == "batch/v1"
        assert (await r.get("statefulsets", "web-statefulsets", "shop"))["kind"] == "StatefulSet"
        assert await r.get("daemonsets", "web-daemonsets") is None  # no namespace means "default"
        assert fake.requests[-1].path == "/apis/apps/v1/namespaces/default/daemonsets/web-daemonsets"
    run(check)


def test_secret_and_configmap_values_never_come_back():
    async def check(fake: FakeKubeAPI, r: LiveReader) -> None:
        got = [await r.get("secrets", "web-creds", "shop"), await r.get("configmaps", "web-config", "shop"),
               *await r.list("secrets"), *await r.list("configmaps", "shop")]
        text = json.dumps(got)
        assert SECRET_VALUE not in text and "also-secret" not in text
        assert base64.b64encode(SECRET_VALUE.encode()).decode() not in text
        secret = got[0]
        assert "data" not in secret and secret["keys"] == ["password"]
        assert secret["metadata"]["annotations"] == {"team": "shop"}  # last-applied (it holds values) is gone
        assert got[1]["keys"] == ["app.ini"] and "data" not in got[1]
    run(check)


def test_logs_tail_container_previous_and_json_text():
    async def check(fake: FakeKubeAPI, r: LiveReader) -> None:
        assert await r.logs("shop", "web-1") == "line 1\nline 2\nline 3\n"
        assert await r.logs("shop", "web-1", tail_lines=2) == "line 2\nline 3\n"
        assert await r.logs("shop", "web-1", tail_lines=0) == ""
        assert await r.logs("shop", "web-1", previous=True) == "panic: boom\n"
        assert await r.logs("shop", "web-2", previous=True) == ""  # no previous container: no log
        assert await r.logs("shop", "gone-pod") == ""
        # A JSON log line comes back as the exact text, not re-encoded.
        assert await r.logs("data", "db-0", container="db") == '{"level":"error","msg":"disk full"}\n'
        with pytest.raises(ReaderError, match="choose one of: \\[db exporter\\]"):
            await r.logs("data", "db-0")
        q = [x.query for x in fake.requests if x.path.endswith("/log")]
        assert q[1]["tailLines"] == "2" and q[3]["previous"] == "True" and "limitBytes" in q[0]
    run(check)


def test_metrics_available_and_unavailable():
    async def check(fake: FakeKubeAPI, r: LiveReader) -> None:
        pods = await r.metrics("pods", "shop")
        assert pods[0]["kind"] == "PodMetrics" and pods[0]["containers"][0]["usage"]["cpu"] == "5m"
        assert names(await r.metrics("pods")) == ["web-1"]
        nodes = await r.metrics("nodes")
        assert nodes[0]["kind"] == "NodeMetrics" and nodes[0]["usage"]["cpu"] == "250m"
        fake.metrics_status = 404  # metrics-server not installed
        assert await r.metrics("pods", "shop") is None
        fake.metrics_status = 503  # installed, not answering
        assert await r.metrics("nodes") is None
        with pytest.raises(ReaderError, match="only for 'pods' or 'nodes'"):
            await r.metrics("deployments")
    run(check)


def test_bad_input_is_refused_before_any_request():
    async def check(fake: FakeKubeAPI, r: LiveReader) -> None:
        before = len(fake.requests)
        with pytest.raises(ReaderError, match="unknown kind 'widgets'"):
            await r.list("widgets")
        with pytest.raises(ReaderError, match="invalid name"):
            await r.get("pods", "../secrets/web-creds", "shop")
        with pytest.raises(ReaderError, match="invalid namespace"):
            await r.list("pods", "shop/../..")
        with pytest.raises(ReaderError, match="invalid container name"):
            await r.logs("shop", "web-1", container="a/b")
        with pytest.raises(ReaderError, match="label selector"):
            await r.list("pods", "shop", {"app": "web,tier!=x"})
        with pytest.raises(ReaderError, match="tail_lines"):
            await r.logs("shop", "web-1", tail_lines=-1)
        assert len(fake.requests) == before
    run(check)


def test_api_errors_become_reader_errors_naming_cluster_and_request():
    async def check(fake: FakeKubeAPI, r: LiveReader) -> None:
        fake.fail_next(1, 403, path_contains="/pods")
        with pytest.raises(ReaderError, match=r"cluster c1: list pods failed: HTTP 403.*scripted failure"):
            await r.list("pods", "shop")
        fake.fail_next(1, 500)
        with pytest.raises(ReaderError, match="cluster c1: get nodes/node-1 failed: HTTP 500"):
            await r.get("nodes", "node-1")
        fake.fail_next(1, 500)
        with pytest.raises(ReaderError, match="logs of shop/web-1 failed: HTTP 500"):
            await r.logs("shop", "web-1")
        await fake.stop()
        for call in (r.list("pods"), r.get("pods", "web-1", "shop"), r.logs("shop", "web-1"), r.metrics("nodes")):
            with pytest.raises(ReaderError, match="cluster c1: .*unreachable"):
                await call
    run(check)


# --- configuration -------------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def kubeconfig(path: Path, contexts: dict[str, tuple[str, dict[str, Any]]], current: str) -> Path:
    """A kubeconfig with one cluster+user per context: {context: (server url, user entry)}."""
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": current,
        "clusters": [{"name": c, "cluster": {"server": url}} for c, (url, _) in contexts.items()],
        "users": [{"name": c, "user": user} for c, (_, user) in contexts.items()],
        "contexts": [{"name": c, "context": {"cluster": c, "user": c}} for c in contexts],
    }))
    return path


def test_reader_from_kubeconfig_uses_the_chosen_context_and_its_token(tmp_path: Path):
    async def main() -> None:
        async with FakeKubeAPI(token="tok-b") as fake:
            fake.add("nodes", _meta("node-b", None))
            dead = f"http://127.0.0.1:{_free_port()}"
            cfg = kubeconfig(tmp_path / "kc", {"a": (dead, {"token": "tok-a"}),
                                                "b": (fake.url, {"token": "tok-b"})}, current="a")
            before = cfg.read_text()
            async with await reader_from_kubeconfig(cfg, "b", "cluster-b") as r:
                assert r.cluster_id == "cluster-b" and names(await r.list("nodes")) == ["node-b"]
            async with await reader_from_kubeconfig(cfg, None, "cluster-a") as r:  # current context: dead
                with pytest.raises(ReaderError, match="cluster-a: list nodes: unreachable"):
                    await r.list("nodes")
            assert cfg.read_text() == before  # never written back
    asyncio.run(main())


def test_reader_from_kubeconfig_runs_an_exec_plugin(tmp_path: Path):
    plugin = tmp_path / "plugin.py"
    plugin.write_text(
        "import json, pathlib\n"
        f"c = pathlib.Path({str(tmp_path / 'runs')!r}); n = int(c.read_text()) + 1 if c.exists() else 1\n"
        "c.write_text(str(n))\n"
        "print(json.dumps({'apiVersion': 'client.authentication.k8s.io/v1', 'kind': 'ExecCredential',\n"
        "  'status': {'token': 'exec-token', 'expirationTimestamp': '2000-01-01T00:00:00Z'}}))\n")

    async def main() -> None:
        async with FakeKubeAPI(token="exec-token") as fake:
            fake.add("nodes", _meta("node-x", None))
            user = {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": sys.executable,
                             "args": [str(plugin)], "interactiveMode": "Never"}}
            cfg = kubeconfig(tmp_path / "kc", {"x": (fake.url, user)}, current="x")
            async with await reader_from_kubeconfig(cfg, None, "x") as r:
                assert names(await r.list("nodes")) == ["node-x"]
                assert names(await r.list("nodes")) == ["node-x"]
            # The token had expired on arrival, so each request asked the plugin again.
            assert int((tmp_path / "runs").read_text()) >= 3
    asyncio.run(main())


def test_reader_from_kubeconfig_reports_bad_files(tmp_path: Path):
    async def main() -> None:
        with pytest.raises(ReaderError, match="does not exist"):
            await reader_from_kubeconfig(tmp_path / "missing", None, "c")
        cfg = kubeconfig(tmp_path / "kc", {"a": ("http://127.0.0.1:1", {"token": "t"})}, current="a")
        with pytest.raises(ReaderError, match="context nope"):
            await reader_from_kubeconfig(cfg, "nope", "c")
        (tmp_path / "broken").write_text("clusters: [")
        with pytest.raises(ReaderError, match="cannot load cluster credentials"):
            await reader_from_kubeconfig(tmp_path / "broken", None, "c")
    asyncio.run(main())
