"""The Task API on two real worker processes of one app id on the real broker.

The tasks table is split between the two workers, so a request for one task through the worker that does not
own it is really forwarded, and a listing through either worker really fans out and merges. Security is the
real middleware: API keys, RBAC (developers read but cannot cancel, auditors cannot read tasks), and an audit
event on the audit topic for every call, including the forwarded hop.
"""

from __future__ import annotations

import json
import re
import urllib.request
import uuid
from collections import Counter

import pytest
from openapi_spec_validator import validate

from schemas.alertmanager import Alert, RawAlert
from schemas.audit import AuditEvent
from schemas.task import TaskCommand
from schemas.topics import topic_name
from streams.fingerprint import labels_fingerprint
from streams.task_api import FORWARDED_HEADER, TaskListResponse
from tests.kafkautil import produce, read_all, run
from tests.workerproc import TEST_KEYS, WorkerProcess, wait_for

pytestmark = pytest.mark.kafka
TASKS = 24
ENV = {  # tasks stay pending (nothing may run), so cancel always finds a live task
    "AETHERIUS_PIPELINE__TOTAL_LIMIT": "0",
    "AETHERIUS_PIPELINE__QUEUE_LIMIT": "100000",
    "AETHERIUS_WORKER__STEP_LOOP": "false",
}


def alert(i: int) -> tuple[bytes, bytes]:
    labels = {"alertname": f"ApiProbe{i}", "severity": "warning" if i % 2 else "critical",
              "namespace": "shop", "pod": f"p-{i}", "cluster_id": f"c{i % 3}"}
    fp = labels_fingerprint(labels)
    return fp.encode(), RawAlert(fingerprint=fp, alert=Alert(labels=labels)).to_bytes()


def local_ids(w: WorkerProcess) -> set[str]:
    """What this worker holds itself: a request marked as forwarded is never passed on."""
    status, body = w.get("/api/v1/tasks?limit=1000", headers={FORWARDED_HEADER: "test"})
    assert status == 200, body
    return {t["id"] for t in body["tasks"]}


def forwards(w: WorkerProcess) -> float:
    with urllib.request.urlopen(w.url + "/metrics", timeout=10) as resp:
        text = resp.read().decode()
    return sum(float(m) for m in re.findall(r'^aetherius_task_api_forwards_total\{[^}]*outcome="ok"[^}]*\} (\S+)$',
                                            text, re.M))


@pytest.fixture(scope="module")
def cluster(kafka_bootstrap, tmp_path_factory):
    """Two workers of one app id, TASKS pending tasks spread over both, and who owns which."""
    prefix = "tapi" + uuid.uuid4().hex[:8]
    work = tmp_path_factory.mktemp("task-api")
    a = WorkerProcess(kafka_bootstrap, prefix, work, env_extra=ENV).start()
    b = None
    try:
        run(produce(kafka_bootstrap, topic_name(prefix, "alerts.raw"), [alert(i) for i in range(TASKS)]))
        b = WorkerProcess(kafka_bootstrap, prefix, work, env_extra=ENV).start()

        def split():
            on_a, on_b = local_ids(a), local_ids(b)
            both = a.get("/api/v1/tasks?limit=1000")[1]
            ok = (on_a and on_b and not on_a & on_b and len(on_a | on_b) == TASKS
                  and both.get("count") == TASKS and both.get("incomplete") == [])
            return (on_a, on_b) if ok else None

        on_a, on_b = wait_for(split, what="tasks split over both workers and fan-out complete", timeout=120)
        yield {"a": a, "b": b, "prefix": prefix, "on_a": on_a, "on_b": on_b, "bootstrap": kafka_bootstrap}
    finally:
        for w in (a, b):
            if w is not None:
                w.stop(kill=True)


def test_list_through_either_worker_merges_both(cluster):
    a, b = cluster["a"], cluster["b"]
    everything = cluster["on_a"] | cluster["on_b"]
    for w in (a, b):
        status, body = w.get("/api/v1/tasks?limit=1000")
        assert status == 200
        parsed = TaskListResponse.model_validate(body)  # the documented shape is the real one
        assert {t.id for t in parsed.tasks} == everything and parsed.count == TASKS and parsed.incomplete == []
        created = [t["created_at"] for t in body["tasks"]]
        assert created == sorted(created, reverse=True)
    # Filters and limit apply across both workers: count is every match, tasks the newest `limit`.
    status, body = b.get("/api/v1/tasks?cluster=c1&limit=3")
    expected = {t for t in everything if a.get(f"/api/v1/tasks/{t}")[1]["cluster_id"] == "c1"}
    assert status == 200 and body["count"] == len(expected) == TASKS // 3 and len(body["tasks"]) == 3
    assert {t["id"] for t in body["tasks"]} <= expected
    by_priority = Counter(t["priority"] for t in a.get("/api/v1/tasks?limit=1000")[1]["tasks"])
    for priority, n in by_priority.items():
        assert a.get(f"/api/v1/tasks?priority={priority.lower()}&status=pending")[1]["count"] == n


def test_get_one_task_through_either_worker(cluster):
    a, b = cluster["a"], cluster["b"]
    before = forwards(a) + forwards(b)
    for task_id in sorted(cluster["on_a"])[:3] + sorted(cluster["on_b"])[:3]:
        via_a, via_b = a.get(f"/api/v1/tasks/{task_id}"), b.get(f"/api/v1/tasks/{task_id}")
        assert via_a[0] == via_b[0] == 200 and via_a[1] == via_b[1] and via_a[1]["id"] == task_id
    assert forwards(a) + forwards(b) - before >= 6, "half of those reads must have been forwarded to the owner"
    assert a.get("/api/v1/tasks/does-not-exist")[0] == 404 and b.get("/api/v1/tasks/does-not-exist")[0] == 404
    # A request marked as forwarded is never forwarded again: the owner answers it, a non-owner refuses it
    # (503: routing changed under it) instead of passing it on or serving a possibly stale copy.
    foreign = sorted(cluster["on_b"])[0]
    status, body = a.get(f"/api/v1/tasks/{foreign}", headers={FORWARDED_HEADER: "http://elsewhere:1"})
    assert status == 503 and foreign in body["reason"], body
    assert b.get(f"/api/v1/tasks/{foreign}", headers={FORWARDED_HEADER: "http://elsewhere:1"})[0] == 200


def test_cancel_through_the_worker_that_does_not_own_the_task(cluster):
    a, b = cluster["a"], cluster["b"]
    target = sorted(cluster["on_b"])[-1]
    status, body = a.post(f"/api/v1/tasks/{target}/cancel")
    assert (status, body) == (202, {"task_id": target, "status": "cancelling"})
    wait_for(lambda: b.get(f"/api/v1/tasks/{target}")[1].get("status") == "cancelled", what="cancel applied")
    assert a.get(f"/api/v1/tasks/{target}")[1]["status"] == "cancelled"
    assert a.post(f"/api/v1/tasks/{target}/cancel")[0] == 409
    assert b.post(f"/api/v1/tasks/{target}/cancel")[0] == 409
    assert a.post("/api/v1/tasks/nope/cancel")[0] == 404
    # The principal's name is who requested it, on both command records.
    commands = [TaskCommand.from_bytes(v) for _, v in
                run(read_all(cluster["bootstrap"], topic_name(cluster["prefix"], "task.commands")))]
    assert [(c.task_id, c.requested_by) for c in commands if c.task_id == target] == [(target, "test-sre")]
    queue = [json.loads(v) for _, v in run(read_all(cluster["bootstrap"], topic_name(cluster["prefix"], "task.queue")))]
    assert [(q["requested_by"], q["reason"]) for q in queue if q["action"] == "cancel" and q["task_id"] == target] \
        == [("test-sre", "cancelled by user")]


def test_authentication_rbac_and_bad_filters(cluster):
    a, b = cluster["a"], cluster["b"]
    some = sorted(cluster["on_a"])[0]
    for w in (a, b):
        for method, path in [("GET", "/api/v1/tasks"), ("GET", f"/api/v1/tasks/{some}"),
                             ("POST", f"/api/v1/tasks/{some}/cancel"), ("GET", "/api/v1/openapi.json"),
                             ("GET", "/api/v1/no-such-route")]:
            status, body = w.request(method, path, key=None)
            assert status == 401 and body["error"] == "unauthorized", (method, path, body)
        assert w.get("/api/v1/tasks", key="aek_not_a_key")[0] == 401
        assert w.get("/health/live", key=None)[0] == 200
        wait_for(lambda: w.get("/health/ready", key=None)[0] == 200, what="ready without a key (public)")
        # developer: reads, cannot cancel; auditor: no tasks:read at all.
        dev = TEST_KEYS["developer"]
        assert w.get(f"/api/v1/tasks/{some}", key=dev)[0] == 200
        status, body = w.post(f"/api/v1/tasks/{some}/cancel", key=dev)
        assert status == 403 and body["permission"] == "tasks:cancel", body
        assert w.get("/api/v1/tasks", key=TEST_KEYS["auditor"])[0] == 403
        for query, param in [("status=bogus", "status"), ("priority=P9", "priority"), ("limit=0", "limit"),
                             ("limit=abc", "limit"), ("limit=1001", "limit")]:
            status, body = w.get(f"/api/v1/tasks?{query}")
            assert status == 400 and body["reason"].startswith(param + ":"), (query, body)
    assert a.get(f"/api/v1/tasks/{some}")[1]["status"] == "pending", "a refused cancel changed nothing"


def test_openapi_document_of_the_worker(cluster):
    status, doc = cluster["a"].get("/api/v1/openapi.json", key=TEST_KEYS["auditor"])
    assert status == 200
    validate(doc)
    assert set(doc["paths"]) == {"/api/v1/tasks", "/api/v1/tasks/{task_id}", "/api/v1/tasks/{task_id}/cancel",
                                 "/health/live", "/health/ready", "/metrics", "/api/v1/openapi.json",
                                 "/api/v1/security/suspensions", "/api/v1/security/suspensions/{subject}"}
    assert doc["paths"]["/api/v1/tasks/{task_id}/cancel"]["post"]["x-aetherius-permission"] == "tasks:cancel"


def test_every_call_is_audited_on_the_audit_topic(cluster):
    """The admin key is used only here and the target task by no other test, so the events are countable."""
    b = cluster["b"]
    target = sorted(cluster["on_a"])[-1]
    assert target != sorted(cluster["on_a"])[0]
    marker = f"/api/v1/tasks/{target}"
    assert b.get(marker, key=TEST_KEYS["admin"])[0] == 200  # b forwards to a: two audited hops
    assert b.get(marker, key=None)[0] == 401
    assert b.post(marker + "/cancel", key=TEST_KEYS["developer"])[0] == 403

    def events():
        found = [AuditEvent.from_bytes(v) for _, v in
                 run(read_all(cluster["bootstrap"], topic_name(cluster["prefix"], "audit")))]
        mine = [e for e in found if e.action == "api.request" and e.resource in (f"GET {marker}", f"POST {marker}/cancel")
                and e.actor in ("test-admin", "anonymous", "test-developer")]
        return mine if len(mine) >= 4 else None

    mine = wait_for(events, what="audit events of the calls", timeout=30)
    seen = Counter((e.actor, e.role, e.resource, e.result, e.details["status"]) for e in mine)
    assert seen == Counter({("test-admin", "admin", f"GET {marker}", "ok", 200): 2,  # the caller's worker and the owner
                            ("anonymous", "", f"GET {marker}", "rejected", 401): 1,
                            ("test-developer", "developer", f"POST {marker}/cancel", "rejected", 403): 1})
    assert all(e.source_ip for e in mine)
    assert not any(k in json.dumps(e.model_dump(mode="json")) for e in mine for k in TEST_KEYS.values())
