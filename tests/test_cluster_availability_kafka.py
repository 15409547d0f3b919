"""Two clusters, one dead (SRS §3.5.2): the dead cluster's tasks fail with a clear reason after 3 tries and
the cluster is marked unavailable (an audit event: the notification), while the live cluster's tasks are
diagnosed as usual. The dead one is a kubeconfig pointing at a closed port on 127.0.0.1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aetherius.localkafka import free_port
from schemas.alertmanager import Alert, RawAlert
from streams.fingerprint import labels_fingerprint
from tests.kafkautil import produce, read_all, run
from tests.workerproc import WorkerProcess, wait_for

pytestmark = pytest.mark.kafka
DUMP = Path(__file__).resolve().parent.parent / "deploy" / "demo" / "clusters" / "prod-eu"


def alert(name: str, cluster: str) -> tuple[bytes, bytes]:
    labels = {"alertname": name, "cluster_id": cluster, "namespace": "ecommerce",
              "pod": "payment-service-7d8f9b456-xyz12", "severity": "warning"}
    fp = labels_fingerprint(labels)
    return fp.encode(), RawAlert(fingerprint=fp, alert=Alert(labels=labels)).to_bytes()


def test_a_dead_cluster_fails_only_its_own_tasks(kafka_bootstrap, topic_prefix, tmp_path):
    kubeconfig = tmp_path / "dead.kubeconfig"
    kubeconfig.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "dead",
        "clusters": [{"name": "dead", "cluster": {"server": f"http://127.0.0.1:{free_port()}"}}],
        "users": [{"name": "u", "user": {"token": "not-a-real-token"}}],
        "contexts": [{"name": "dead", "context": {"cluster": "dead", "user": "u"}}]}))
    env = {"AETHERIUS_CLUSTERS": json.dumps({"live": {"dump": str(DUMP)}, "dead": {"kubeconfig": str(kubeconfig)}})}
    worker = WorkerProcess(kafka_bootstrap, topic_prefix, tmp_path, env_extra=env).start()
    try:
        run(produce(kafka_bootstrap, f"{topic_prefix}.alerts.raw",
                    [alert("OnDead1", "dead"), alert("OnLive1", "live"), alert("OnDead2", "dead"),
                     alert("OnLive2", "live")]))
        reports = wait_for(lambda: (lambda r: r if len(r) >= 4 else None)(
            run(read_all(kafka_bootstrap, f"{topic_prefix}.reports"))), what="four reports", timeout=120)
        tasks = {t["id"]: t for t in worker.get("/api/v1/tasks?limit=100")[1]["tasks"]}
        audit = [json.loads(v) for _, v in run(read_all(kafka_bootstrap, f"{topic_prefix}.audit"))]
    finally:
        worker.stop(kill=True)
    by_cluster: dict[str, list[dict]] = {"live": [], "dead": []}
    for key, value in reports:
        by_cluster[tasks[key.decode()]["cluster_id"]].append(json.loads(value))
    assert [r["root_cause"]["category"] for r in by_cluster["live"]] == ["oom_killed", "oom_killed"]
    assert all(r["status"] == "completed" for r in by_cluster["live"])
    for r in by_cluster["dead"]:
        assert r["status"] == "failed" and r["termination_reason"] == "cluster_unreadable"
        assert "could not read cluster dead" in r["summary"]["problem"]
    down = [a for a in audit if a["action"] == "cluster.unavailable"]
    assert len(down) == 1 and down[0]["cluster_id"] == "dead"
    assert not any(a["cluster_id"] == "live" for a in audit if a["action"].startswith("cluster."))
