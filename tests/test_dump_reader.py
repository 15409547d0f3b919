"""DumpReader over directories laid out as `kubectl cluster-info dump --output-directory` writes them."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from agents.cluster.dump import DumpReader
from agents.cluster.reader import ClusterReader, ReaderError
from tests.dumpkit import Ctr, DumpBuilder


def run(coro):
    return asyncio.run(coro)


@pytest.fixture()
def dump(tmp_path: Path) -> Path:
    b = DumpBuilder(tmp_path / "dump")
    b.node("node-1")
    b.noise("shop")
    b.pod("shop", "two-0", [Ctr("app"), Ctr("sidecar")], labels={"app": "two", "tier": "web"})
    b.logs("shop", "two-0", "app line 1\napp line 2\napp line 3\n", container="app")
    b.logs("shop", "two-0", "sidecar line\n", container="sidecar")
    b.logs("shop", "two-0", "app crashed here\n", container="app", previous=True)
    b.logs("shop", "solo-0", "per-container file\n", container="main", combined=False)
    b.configmap("shop", "cfg", {"API_URL": "http://x", "TOKEN": "not-for-you"})
    b.secret("shop", "creds", {"password": "aHVudGVyMg=="})
    b.storageclass("standard", default=True)
    b.webhook("policy", "validate.example.com")
    b.add("replicationcontrollers", {"metadata": {"name": "old-rc"}}, "shop")
    b.pvc("other", "data")
    return b.write()


def test_is_a_cluster_reader(dump: Path) -> None:
    assert isinstance(DumpReader(dump), ClusterReader)
    assert not any(hasattr(DumpReader, verb) for verb in ("create", "delete", "patch", "update", "exec", "apply"))


def test_lists_namespaced_and_cluster_objects(dump: Path) -> None:
    r = DumpReader(dump, cluster_id="c1")
    assert r.cluster_id == "c1"
    pods = run(r.list("pods", "shop"))
    assert {p["metadata"]["name"] for p in pods} >= {"two-0", "frontend-5c6d7e8f9-ax0q0"}
    assert all(p["kind"] == "Pod" for p in pods)  # kubectl's typed lists omit it; the reader fills it
    assert [n["metadata"]["name"] for n in run(r.list("nodes"))] == ["node-1"]
    assert run(r.list("storageclasses"))[0]["metadata"]["name"] == "standard"
    assert run(r.list("validatingwebhookconfigurations"))[0]["webhooks"][0]["name"] == "validate.example.com"
    assert run(r.list("replicationcontrollers", "shop"))[0]["metadata"]["name"] == "old-rc"
    assert {p["metadata"]["name"] for p in run(r.list("persistentvolumeclaims"))} == {"data"}  # all namespaces
    assert [n["metadata"]["name"] for n in run(r.list("namespaces"))] == ["other", "shop"]


def test_label_selector_and_get(dump: Path) -> None:
    r = DumpReader(dump)
    assert [p["metadata"]["name"] for p in run(r.list("pods", "shop", {"app": "two", "tier": "web"}))] == ["two-0"]
    assert run(r.list("pods", "shop", {"app": "two", "tier": "db"})) == []
    assert run(r.get("pods", "two-0", "shop"))["spec"]["containers"][1]["name"] == "sidecar"
    assert run(r.get("pods", "nope", "shop")) is None
    assert run(r.get("nodes", "node-1"))["metadata"]["name"] == "node-1"
    assert run(r.get("namespaces", "shop")) is not None and run(r.get("namespaces", "zzz")) is None


def test_missing_files_mean_no_objects(dump: Path) -> None:
    r = DumpReader(dump)
    assert run(r.list("ingresses", "shop")) == []
    assert run(r.list("persistentvolumes")) == []
    assert run(r.list("pods", "no-such-namespace")) == []
    assert run(r.get("horizontalpodautoscalers", "x", "shop")) is None
    assert run(r.logs("shop", "no-pod")) == ""


def test_secret_and_configmap_values_never_returned(dump: Path) -> None:
    r = DumpReader(dump)
    cm = run(r.get("configmaps", "cfg", "shop"))
    assert "data" not in cm and cm["keys"] == ["API_URL", "TOKEN"]
    secret = run(r.list("secrets", "shop"))[0]
    assert "data" not in secret and secret["keys"] == ["password"]
    assert "aHVudGVyMg==" not in json.dumps(run(r.list("secrets")))


def test_logs_sections_previous_tail_and_per_container(dump: Path) -> None:
    r = DumpReader(dump)
    assert run(r.logs("shop", "two-0", "app")) == "app line 1\napp line 2\napp line 3"
    assert run(r.logs("shop", "two-0", "sidecar")) == "sidecar line"
    assert run(r.logs("shop", "two-0")) == "app line 1\napp line 2\napp line 3"  # first section by default
    assert run(r.logs("shop", "two-0", "app", tail_lines=1)) == "app line 3"
    assert run(r.logs("shop", "two-0", "app", previous=True)) == "app crashed here"
    assert run(r.logs("shop", "two-0", "sidecar", previous=True)) == ""
    assert run(r.logs("shop", "solo-0", "main")) == "per-container file\n"


def test_malformed_json_names_the_file(dump: Path) -> None:
    (dump / "shop" / "pods.json").write_text("{not json")
    with pytest.raises(ReaderError, match=r"shop/pods\.json"):
        run(DumpReader(dump).list("pods", "shop"))
    (dump / "shop" / "services.json").write_text('{"items": {"a": 1}}')
    with pytest.raises(ReaderError, match=r"services\.json.*items"):
        run(DumpReader(dump).get("services", "x", "shop"))


def test_path_tricks_are_refused(dump: Path) -> None:
    r = DumpReader(dump)
    for bad in ("../etc", "a/b", "", "..", "shop\n"):
        with pytest.raises(ReaderError):
            run(r.list("pods", bad))
    with pytest.raises(ReaderError):
        run(r.logs("shop", "two-0", "../../x"))
    with pytest.raises(ReaderError):
        run(r.list("../pods"))


def test_missing_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ReaderError, match="does not exist"):
        DumpReader(tmp_path / "absent")


def test_caches_per_file_and_returns_copies(dump: Path) -> None:
    r = DumpReader(dump)
    pod = run(r.get("pods", "two-0", "shop"))
    pod["metadata"]["name"] = "mutated"
    (dump / "shop" / "pods.json").write_text("{broken")  # already cached: not read again
    assert run(r.get("pods", "two-0", "shop"))["metadata"]["name"] == "two-0"


def test_metrics_absent_unless_dumped(dump: Path) -> None:
    r = DumpReader(dump)
    assert run(r.metrics("pods", "shop")) is None and run(r.metrics("nodes")) is None
    (dump / "shop" / "podmetrics.json").write_text(json.dumps({"items": [
        {"metadata": {"name": "two-0"}, "containers": [{"name": "app", "usage": {"memory": "300Mi", "cpu": "10m"}}]}]}))
    assert run(DumpReader(dump).metrics("pods", "shop"))[0]["containers"][0]["usage"]["memory"] == "300Mi"
