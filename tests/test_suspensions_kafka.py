"""SRS §5.8.5 response 1 across processes, on the real broker: a person's diagnosis raises a security event, and
that person is refused by the other processes' APIs until an admin lifts it.

    SRE --POST /api/v1/tasks (pod "name" carrying `sudo`)--> webhook bridge (in process, real HTTP, real API keys):
         the name is not a name, and it is an attempt (privilege_escalation): 400 naming the field, audited as
         `security.privilege_escalation`, and the bridge publishes a suspension of the SRE on `security.suspensions`
         (no task is made: names are checked where they enter, so none reaches the gateway)
      -> the bridge's follower reads it: the SRE's key gets 403 `suspended` there (another key still works),
         and on the worker's API; `aetherius trigger` refuses it too
    admin --DELETE /api/v1/security/suspensions/test-sre--> worker -> topic -> the bridge lets the SRE in again
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from aetherius.localkafka import free_port
from schemas.settings import Settings
from streams.producer import Producer
from streams.webhook import create_app
from tests.test_security_alerts_steploop import EVIL
from tests.test_steploop_llm import cluster, records  # noqa: F401 - `cluster` is a fixture
from tests.workerproc import TEST_KEYS, WorkerProcess, api_keys_env

pytestmark = pytest.mark.kafka
REPO = Path(__file__).resolve().parents[1]


def start_sink(bootstrap: str, prefix: str, work: Path) -> tuple[subprocess.Popen, str]:
    """`aetherius sink` as users run it (env-only config), with the test API keys; its analytics API's URL."""
    port = free_port()
    env = {**os.environ, "AETHERIUS_KAFKA__BOOTSTRAP": bootstrap, "AETHERIUS_KAFKA__TOPIC_PREFIX": prefix,
           "AETHERIUS_KAFKA__PARTITIONS": "2", "AETHERIUS_WORKER__APP_ID": prefix,
           "AETHERIUS_WORKER__DATA_DIR": str(work / "sink"), "AETHERIUS_LOG_LEVEL": "WARNING",
           "AETHERIUS_ANALYTICS__CHDB_PATH": str(work / "chdb"), "AETHERIUS_ANALYTICS__API_PORT": str(port),
           "AETHERIUS_SECURITY__API_KEYS": api_keys_env()}
    with open(work / "sink.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "aetherius.cli", "sink"], cwd=REPO, env=env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    return proc, f"http://127.0.0.1:{port}"


def http_get(url: str, key: str) -> tuple[int, dict]:
    """(status, JSON body); (0, {}) while nothing listens yet."""
    req = urllib.request.Request(url, headers={"X-API-Key": key})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")
    except OSError:
        return 0, {}


async def _poll(check, what: str, timeout: float = 60.0, interval: float = 0.3):  # noqa: ANN001, ANN202
    deadline = asyncio.get_running_loop().time() + timeout
    last = None
    while asyncio.get_running_loop().time() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


def test_a_person_whose_task_raised_a_security_event_is_refused_everywhere_until_lifted(
        kafka_bootstrap, topic_prefix, tmp_path, cluster, monkeypatch, capsys):  # noqa: F811
    dump, labels = cluster
    sink, sink_url = start_sink(kafka_bootstrap, topic_prefix, tmp_path)  # starts while the worker does
    worker = WorkerProcess(kafka_bootstrap, topic_prefix, tmp_path,
                           env_extra={"AETHERIUS_CLUSTERS": json.dumps({"c0": {"dump": str(dump)}})}).start()
    settings = Settings(kafka={"bootstrap": kafka_bootstrap, "topic_prefix": topic_prefix},
                        security={"api_keys": json.loads(api_keys_env())})
    evil = {"cluster_id": "c0", "namespace": labels["namespace"], "kind": "pod", "name": EVIL}
    benign = {**evil, "name": labels["pod"]}
    key = {role: {"X-API-Key": k} for role, k in TEST_KEYS.items()}

    async def scenario() -> dict:
        producer = Producer(kafka_bootstrap)
        await producer.start()
        try:
            async with TestClient(TestServer(create_app(settings, producer, manage_producer=False, freeze_gc=False),
                                             host="127.0.0.1")) as bridge:
                async def bridge_status(role: str) -> tuple[int, dict]:
                    """An empty request: 400 once through authentication (nothing is produced), 403 if refused."""
                    resp = await bridge.post("/api/v1/tasks", json={}, headers=key[role])
                    return resp.status, await resp.json()

                assert (await bridge_status("sre"))[0] == 400
                resp = await bridge.post("/api/v1/tasks", json=evil, headers=key["sre"])
                assert resp.status == 400, await resp.text()
                assert (await resp.json())["field"] == "name"

                async def sre_refused():  # noqa: ANN202
                    status, body = await bridge_status("sre")
                    return body if status == 403 else None

                refused = await _poll(sre_refused, "the SRE refused by the bridge")
                assert refused["error"] == "suspended" and refused["until"], refused
                resp = await bridge.post("/api/v1/tasks", json=benign, headers=key["sre"])
                assert resp.status == 403 and (await resp.json())["error"] == "suspended"
                resp = await bridge.post("/api/v1/tasks", json=benign, headers=key["admin"])
                assert resp.status == 202, await resp.text()  # another person is not affected

                # The worker (another process) refuses the SRE too; auditors and admins see why.
                async def worker_refuses():  # noqa: ANN202
                    status, body = await asyncio.to_thread(worker.get, "/api/v1/tasks", TEST_KEYS["sre"])
                    return body if status == 403 else None

                assert (await _poll(worker_refuses, "the SRE refused by the worker"))["error"] == "suspended"
                status, listing = await asyncio.to_thread(worker.get, "/api/v1/security/suspensions",
                                                          TEST_KEYS["auditor"])
                assert status == 200, listing
                status, _ = await asyncio.to_thread(worker.get, "/api/v1/security/suspensions", TEST_KEYS["developer"])
                assert status == 403

                # And so does the sink's analytics API (a third process), while the auditor reads it.
                async def sink_answers(role: str, status: int):  # noqa: ANN202
                    async def check():  # noqa: ANN202
                        got, body = await asyncio.to_thread(http_get, f"{sink_url}/api/v1/history", TEST_KEYS[role])
                        return (got, body) if got == status else None
                    return check

                _, body = await _poll(await sink_answers("sre", 403), "the SRE refused by the sink", timeout=90)
                assert body["error"] == "suspended"
                await _poll(await sink_answers("auditor", 200), "the sink answering the auditor")

                # The CLI twin of POST /api/v1/tasks refuses the same credential.
                from aetherius.cli import main

                monkeypatch.delenv("AETHERIUS_CONFIG", raising=False)
                for name, value in {"AETHERIUS_API_KEY": TEST_KEYS["sre"], "AETHERIUS_KAFKA__BOOTSTRAP": kafka_bootstrap,
                                    "AETHERIUS_KAFKA__TOPIC_PREFIX": topic_prefix,
                                    "AETHERIUS_SECURITY__API_KEYS": api_keys_env()}.items():
                    monkeypatch.setenv(name, value)
                args = ["trigger", "--cluster", "c0", "--namespace", labels["namespace"], "--kind", "pod",
                        "--name", labels["pod"]]
                assert await asyncio.to_thread(main, args) == 2
                assert "test-sre is suspended until" in capsys.readouterr().err

                # An admin lifts it on the worker; the bridge lets the SRE in again once its follower reads that.
                status, _ = await asyncio.to_thread(worker.request, "DELETE", "/api/v1/security/suspensions/test-sre",
                                                    None, TEST_KEYS["sre"])
                assert status == 403  # the suspended person cannot lift it (nor could a non-admin)
                status, lifted = await asyncio.to_thread(worker.request, "DELETE",
                                                         "/api/v1/security/suspensions/test-sre", None,
                                                         TEST_KEYS["admin"])
                assert status == 200 and lifted["lifted_by"] == "test-admin", lifted

                async def sre_back():  # noqa: ANN202
                    return (await bridge_status("sre"))[0] == 400

                await _poll(sre_back, "the SRE let in again by the bridge")
                resp = await bridge.post("/api/v1/tasks", json={**benign, "reason": "again"}, headers=key["sre"])
                assert resp.status == 202, await resp.text()
                await _poll(await sink_answers("sre", 200), "the SRE let in again by the sink")
                return listing
        finally:
            await producer.stop()

    try:
        listing = asyncio.run(scenario())
    finally:
        worker.stop(kill=True)
        if sink.poll() is None:
            os.killpg(sink.pid, signal.SIGKILL)
        sink.wait(30)

    [entry] = [e for e in listing["suspensions"] if e["subject"] == "test-sre"]
    assert entry["active"] and entry["security_event"] == "privilege_escalation" and listing["synced"], entry
    assert not [t for t in records(kafka_bootstrap, f"{topic_prefix}.task.state") if EVIL in json.dumps(t)]

    audit = records(kafka_bootstrap, f"{topic_prefix}.audit")
    [attempt] = [e for e in audit if e["action"] == "security.privilege_escalation"]
    assert (attempt["actor"], attempt["resource"], attempt["details"]["parameter"]) == \
        ("test-sre", "POST /api/v1/tasks", "name")
    [start] = [e for e in audit if e["action"] == "suspension.start"]
    assert (start["resource"], start["id"], start["details"]["security_audit_event_id"]) == \
        ("user/test-sre", entry["audit_event_id"], attempt["id"])
    [lift] = [e for e in audit if e["action"] == "suspension.lift"]
    assert (lift["actor"], lift["resource"]) == ("test-admin", "user/test-sre")
    refusals = [e for e in audit if e["action"] == "api.request" and e["reason"].startswith("suspended until")]
    assert {e["actor"] for e in refusals} == {"test-sre"}
    assert {e["resource"] for e in refusals} >= {"POST /api/v1/tasks", "GET /api/v1/tasks", "GET /api/v1/history"}
    assert any(e["action"] == "cli.trigger" and e["result"] == "rejected" for e in audit)
