"""LiveReader where the real API server cannot be made to do it on demand (tests/test_kubeapi_live_reader.py has
the rest, against kube-apiserver): the request parameters it sends (paging), a metrics API that answers or is
unavailable (no metrics-server can run here), scripted 5xx answers, and bad input refused before any request,
against the fake API server (tests/fake_kube_api.py). Also what needs no server: no write method, broken files."""

from __future__ import annotations

import asyncio
import base64
import inspect
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from kubernetes_asyncio import client

from agents.cluster import live
from agents.cluster.live import LiveReader, reader_from_kubeconfig
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


def test_list_follows_continue_pages():
    async def check(fake: FakeKubeAPI, r: LiveReader) -> None:
        assert names(await r.list("pods")) == ["db-0", "web-1", "web-2"]
        pages = [q.query for q in fake.requests if q.path == "/api/v1/pods"]
        assert [("continue" in p) for p in pages] == [False, True, True] and pages[0]["limit"] == "1"
    run(check, page_size=1)


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
def kubeconfig(path: Path, contexts: dict[str, tuple[str, dict[str, Any]]], current: str) -> Path:
    """A kubeconfig with one cluster+user per context: {context: (server url, user entry)}."""
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": current,
        "clusters": [{"name": c, "cluster": {"server": url}} for c, (url, _) in contexts.items()],
        "users": [{"name": c, "user": user} for c, (_, user) in contexts.items()],
        "contexts": [{"name": c, "context": {"cluster": c, "user": c}} for c in contexts],
    }))
    return path


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
