"""The worker takes its clusters from the registry file and follows edits without a restart (NFR-25):
an alert naming an unregistered cluster lands on the default cluster with a config-warning audit event;
after the file gains that cluster, the next alert keeps its own cluster; a broken edit changes nothing."""

from __future__ import annotations

import json

import pytest
import yaml

from schemas.alertmanager import Alert, RawAlert
from streams.fingerprint import labels_fingerprint
from tests.kafkautil import produce, read_all, run
from tests.workerproc import WorkerProcess, wait_for

pytestmark = pytest.mark.kafka


def registry(*ids: str, rate: str = "100/hour") -> str:
    return yaml.safe_dump({"clusters": [{"id": i, "name": i, "vault_path": f"kubernetes/{i}",
                                         "access_control": {"max_concurrent_tasks": 5, "rate_limit": rate}}
                                        for i in ids]})


def alert(name: str, cluster: str, pod: str = "p") -> tuple[bytes, bytes]:
    labels = {"alertname": name, "cluster_id": cluster, "namespace": "shop", "pod": pod, "severity": "warning"}
    fp = labels_fingerprint(labels)
    return fp.encode(), RawAlert(fingerprint=fp, alert=Alert(labels=labels)).to_bytes()


def test_registry_edits_apply_without_a_restart(kafka_bootstrap, topic_prefix, tmp_path):
    path = tmp_path / "clusters.yaml"
    path.write_text(registry("home"))
    env = {"AETHERIUS_CLUSTERS_FILE": str(path), "AETHERIUS_PIPELINE__DEFAULT_CLUSTER": "home",
           "AETHERIUS_WORKER__STEP_LOOP": "false"}
    worker = WorkerProcess(kafka_bootstrap, topic_prefix, tmp_path, env_extra=env).start()
    raw = f"{topic_prefix}.alerts.raw"

    def task_cluster(name: str):
        tasks = worker.get("/api/v1/tasks?limit=100")[1].get("tasks", [])
        return next((t["cluster_id"] for t in tasks if t["context"]["alertname"] == name), None)

    try:
        run(produce(kafka_bootstrap, raw, [alert("Before", "edge-1")]))
        assert wait_for(lambda: task_cluster("Before"), what="first task") == "home"

        path.write_text(registry("home", "edge-1"))
        audits = lambda: [json.loads(v) for _, v in run(read_all(kafka_bootstrap, f"{topic_prefix}.audit"))]  # noqa: E731
        wait_for(lambda: any(a["action"] == "config.clusters.reload" and a["result"] == "ok" for a in audits()),
                 what="the reload audit event", timeout=30)
        run(produce(kafka_bootstrap, raw, [alert("After", "edge-1")]))
        assert wait_for(lambda: task_cluster("After"), what="second task") == "edge-1"

        path.write_text("clusters: [{id: BAD ID}]")  # invalid: reported, the last good registry stays
        wait_for(lambda: any(a["action"] == "config.clusters.reload" and a["result"] != "ok" for a in audits()),
                 what="the rejected reload", timeout=30)
        run(produce(kafka_bootstrap, raw, [alert("StillKnown", "edge-1")]))
        assert wait_for(lambda: task_cluster("StillKnown"), what="third task") == "edge-1"
        warnings = [a for a in audits() if a["action"] == "config.warning"]
        assert any("cluster" in a["reason"] and a["cluster_id"] == "home" for a in warnings)
    finally:
        worker.stop(kill=True)


def test_a_clusters_rate_limit_holds_tasks_until_the_registry_allows_more(kafka_bootstrap, topic_prefix, tmp_path):
    """rate_limit "2/minute": the third task against the cluster waits in the queue (pending, not failed);
    raising the limit in the file lets it start without any new alert (the scheduler's wake-up tick)."""
    path = tmp_path / "clusters.yaml"
    path.write_text(registry("slow", rate="2/minute"))
    env = {"AETHERIUS_CLUSTERS_FILE": str(path), "AETHERIUS_WORKER__STEP_LOOP": "false"}
    worker = WorkerProcess(kafka_bootstrap, topic_prefix, tmp_path, env_extra=env).start()

    def started() -> set[str]:
        return {k.decode() for k, _ in run(read_all(kafka_bootstrap, f"{topic_prefix}.tasks.p2"))}

    def pending() -> list[dict]:
        return [t for t in worker.get("/api/v1/tasks?limit=100")[1].get("tasks", []) if t["status"] == "pending"]

    try:
        run(produce(kafka_bootstrap, f"{topic_prefix}.alerts.raw", [alert("Rated", "slow", pod=f"p{i}") for i in range(3)]))
        wait_for(lambda: len(started()) == 2 and len(pending()) == 3, what="two starts, three pending tasks")
        assert len(started()) == 2  # the third is held by the rate, not failed or shed
        path.write_text(registry("slow", rate="5/minute"))
        wait_for(lambda: len(started()) == 3, what="the held task starting after the limit was raised", timeout=40)
        assert {t["id"] for t in pending()} == started()
    finally:
        worker.stop(kill=True)
