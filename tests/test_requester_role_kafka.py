"""Who asked, end to end over the real broker: the webhook bridge (in process, real HTTP, real API keys) and a
real `aetherius worker` subprocess whose gateway uses a registry that keeps `pod_logs` for sre/admin.

- an SRE's POST /api/v1/tasks -> its tool calls run as that SRE: pod_logs allowed, audited with the SRE's name;
- a developer's request -> pod_logs rejected at safety layer 4 and audited (with the security event) under the
  developer's name. Today's permission matrix refuses developers tasks:create (checked: 403), so the record is
  the one the bridge would produce for an authorised developer, written to the raw-alerts topic like
  `aetherius trigger` does;
- an Alertmanager alert -> the configured service role (set to developer here, to show it is the setting that
  decides, not a built-in "sre"), audited as service:alertmanager.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from aiohttp.test_utils import TestClient, TestServer

from schemas.base import utcnow
from schemas.requester import Requester
from schemas.settings import Settings
from streams.producer import Producer
from streams.webhook import ManualRequest, create_app, manual_raw_alert, record_for
from tests.dumpkit import DumpBuilder
from tests.kafkautil import produce, read_all, run
from tests.test_requester_role import RESTRICTED_TOOL, restricted_registry
from tests.test_rules_categories import crash_panic
from tests.workerproc import TEST_KEYS, WorkerProcess, api_keys_env, wait_for

pytestmark = pytest.mark.kafka
WEBHOOK_TOKEN = "requester-role-webhook-token"


def test_tool_calls_run_and_are_audited_as_whoever_asked(kafka_bootstrap, topic_prefix, tmp_path):
    targets = {}
    for cluster in ("c-sre", "c-dev", "c-alert"):
        builder = DumpBuilder(tmp_path / cluster)
        targets[cluster] = crash_panic(builder)
        builder.write()
    env = {"AETHERIUS_CLUSTERS": json.dumps({c: {"dump": str(tmp_path / c)} for c in targets}),
           "AETHERIUS_GATEWAY__REGISTRY_FILE": str(restricted_registry(tmp_path / "registry.yaml")),
           "AETHERIUS_TASKS__SERVICE_ROLE": "developer"}
    worker = WorkerProcess(kafka_bootstrap, topic_prefix, tmp_path, env_extra=env).start()
    try:
        run(_ask(kafka_bootstrap, topic_prefix, targets))

        def audited():
            calls = [json.loads(v) for _, v in run(read_all(kafka_bootstrap, f"{topic_prefix}.audit"))]
            calls = [e for e in calls if e["action"] == "tool.call"]
            logs = {e["cluster_id"] for e in calls if e["resource"] == f"tool/{RESTRICTED_TOOL}"}
            return calls if logs >= set(targets) else None

        calls = wait_for(audited, what="a pod_logs call audited for every task", timeout=120, interval=0.5)
        reports = wait_for(lambda: (lambda r: r if len(r) >= 3 else None)(run(read_all(kafka_bootstrap, f"{topic_prefix}.reports"))),
                           what="three reports", timeout=120, interval=0.5)
        events = [json.loads(v) for _, v in run(read_all(kafka_bootstrap, f"{topic_prefix}.audit"))]
    finally:
        worker.stop(kill=True)

    def who(cluster, tool=None):
        return {(e["actor"], e["role"], e["result"]) for e in calls
                if e["cluster_id"] == cluster and (tool is None or e["resource"] == f"tool/{tool}")}

    assert who("c-sre") == {("test-sre", "sre", "allowed")}
    assert who("c-dev", RESTRICTED_TOOL) == {("test-developer", "developer", "rejected")}
    assert {e["details"]["layer"] for e in calls if e["cluster_id"] == "c-dev" and e["result"] == "rejected"} == {"role"}
    assert ("test-developer", "developer", "allowed") in who("c-dev")  # the rest it may read, and did
    assert {("security.unauthorized_access", "test-developer")} <= {(e["action"], e["actor"]) for e in events}
    assert who("c-alert", RESTRICTED_TOOL) == {("service:alertmanager", "developer", "rejected")}

    by_cluster = {json.loads(v)["cluster_id"]: json.loads(v) for _, v in reports}
    assert "nil pointer" in json.dumps(by_cluster["c-sre"])  # the SRE's diagnosis read the crashed log
    assert "nil pointer" not in json.dumps(by_cluster["c-dev"])
    # A role refusal is the planner's choice, not anyone's attempt: the diagnosis goes on with what the role may
    # read (no security stop, so no suspension of the developer).
    assert by_cluster["c-dev"]["termination_reason"] != "security_violation"
    assert not any(e["action"] == "suspension.start" for e in events)


async def _ask(bootstrap: str, prefix: str, targets: dict[str, dict[str, str]]) -> None:
    settings = Settings(kafka={"bootstrap": bootstrap, "topic_prefix": prefix}, webhook={"bearer_token": WEBHOOK_TOKEN},
                        security={"api_keys": json.loads(api_keys_env())})
    producer = Producer(bootstrap)
    await producer.start()
    app = create_app(settings, producer, manage_producer=False, freeze_gc=False)
    try:
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            def request(cluster: str) -> dict[str, str]:
                return {"cluster_id": cluster, "namespace": targets[cluster]["namespace"], "kind": "pod",
                        "name": targets[cluster]["pod"]}

            resp = await client.post("/api/v1/tasks", json=request("c-sre"), headers={"X-API-Key": TEST_KEYS["sre"]})
            assert resp.status == 202, await resp.text()
            resp = await client.post("/api/v1/tasks", json=request("c-dev"), headers={"X-API-Key": TEST_KEYS["developer"]})
            assert resp.status == 403  # the matrix: developers do not create tasks through the API today
            alert = {"alerts": [{"labels": {"alertname": "KubePodCrashLooping", "cluster_id": "c-alert",
                                            "namespace": targets["c-alert"]["namespace"], "pod": targets["c-alert"]["pod"]}}]}
            resp = await client.post("/api/v1/webhook/alertmanager", json=alert,
                                     headers={"Authorization": f"Bearer {WEBHOOK_TOKEN}"})
            assert resp.status == 200, await resp.text()
    finally:
        await producer.stop()
    raw = manual_raw_alert(ManualRequest(**request("c-dev")), utcnow(),
                           Requester(subject="test-developer", role="developer", via="cli"))
    out = record_for(raw, f"{prefix}.alerts.raw", 10**6, "request")
    await produce(bootstrap, out.topic, [(out.key, out.value)])
