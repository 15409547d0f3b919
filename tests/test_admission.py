"""Issue 14 and issue 13 (the entry half of "every record has a size budget"): what the bridge and the trigger API
let in. Names follow the Kubernetes rules per kind, every field has a budget, text is redacted once where it
enters, and hostile requests get a clear 4xx naming the field - never a 5xx, never a record.

The hostile-request counts are printed (`-s`) for the issue's report: tried / clear 4xx / 5xx per entry point.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from aetherius.http.auth import generate_api_key, hash_api_key
from schemas.alertmanager import Alert
from schemas.audit import AuditEvent
from schemas.base import utcnow
from schemas.requester import Requester
from schemas.settings import Settings
from streams.admission import LIMITS, AdmissionError, check_alert, check_manual, cost, redacted_alert
from streams.webhook import ManualRequest, Rejection, create_app, manual_raw_alert, parse_alertmanager

WEBHOOK_TOKEN = "am-admission-token"
KEYS = {role: generate_api_key() for role in ("sre", "developer")}


class StubProducer:
    """Never connected: anything that reaches it would be a 503 - which a refused request must never be."""
    started = False
    ready = False
    max_request_size = 1024 * 1024

    def __init__(self) -> None:
        self.sent: list[Any] = []

    async def send_all_and_wait(self, records, timeout=None):  # noqa: ANN001, ANN201
        self.sent.extend(records)

    async def send(self, *a, **k):  # noqa: ANN002, ANN003, ANN201
        return None

    async def stop(self) -> None:
        return None


def settings() -> Settings:
    return Settings(webhook={"bearer_token": WEBHOOK_TOKEN},
                    security={"api_keys": [{"name": f"k-{r}", "role": r, "hash": hash_api_key(k), "rate_per_second": 1000, "burst": 1000}
                                           for r, k in KEYS.items()]})


# ---------------------------------------------------------------- pure: names, budgets, redaction

@pytest.mark.parametrize("kind,name,ok", [
    ("pod", "payment-service-7d9f8b6c5d-x2k4j", True), ("pod", "sudo", True), ("pod", "su", True),
    ("node", "ip-10-0-3-17.eu-west-1.compute.internal", True), ("service", "api", True),
    ("service", "1api", False), ("service", "api.v1", False), ("pod", "Api", False), ("pod", "a_b", False),
    ("pod", "-a", False), ("pod", "a" * 254, False), ("deployment", "a" * 253, True), ("pod", "a b", False),
    ("pod", "x && sudo cat /etc/shadow", False), ("pod", "пример", False),
])
def test_names_follow_the_kubernetes_rule_of_their_kind(kind: str, name: str, ok: bool) -> None:
    if ok:
        check_manual("prod-eu", "shop", kind, name, "")
    else:
        with pytest.raises(AdmissionError) as err:
            check_manual("prod-eu", "shop", kind, name, "")
        assert err.value.field == "name" and "name" in err.value.message


@pytest.mark.parametrize("field,args", [
    ("cluster_id", ("Prod_EU", "shop", "pod", "a", "")), ("cluster_id", ("a" * 64, "shop", "pod", "a", "")),
    ("namespace", ("prod", "Shop", "pod", "a", "")), ("namespace", ("prod", "a" * 64, "pod", "a", "")),
    ("reason", ("prod", "shop", "pod", "a", "\U0001F525" * 400)),
])
def test_each_manual_field_is_named(field: str, args: tuple) -> None:
    with pytest.raises(AdmissionError) as err:
        check_manual(*args)
    assert err.value.field == field


def test_only_an_attempt_is_an_attempt() -> None:
    with pytest.raises(AdmissionError) as typo:
        check_manual("prod", "shop", "pod", "Api Server", "")
    assert typo.value.attempt is None
    with pytest.raises(AdmissionError) as attempt:
        check_manual("prod", "shop", "pod", "x && sudo cat /etc/shadow", "")
    assert attempt.value.attempt == ("privilege_escalation", "carries a privilege escalation attempt (sudo)")


def test_budgets_count_what_a_value_costs_in_a_record() -> None:
    """13,000 emoji are 13,000 characters but 156,000 bytes once JSON-escaped (issue 13): over any budget."""
    assert cost("\U0001F525") == len('"\\ud83d\\udd25"')
    alert = Alert(labels={"alertname": "X", "pod": "a", "team": "\U0001F525" * 13000})
    with pytest.raises(AdmissionError) as err:
        check_alert(alert, "alerts[0]")
    assert err.value.field == "alerts[0].labels.team" and "bytes" in err.value.message
    with pytest.raises(AdmissionError) as err:
        check_alert(Alert(labels={"alertname": "X", "pod": "p" * 200_000}), "alerts[3]")
    assert err.value.field == "alerts[3].labels.pod" and "253" in err.value.message
    many = Alert(labels={"alertname": "X", **{f"l{i}": "v" for i in range(LIMITS["labels"])}})
    with pytest.raises(AdmissionError) as err:
        check_alert(many, "alerts[0]")
    assert err.value.field == "alerts[0].labels"
    big = Alert(labels={"alertname": "X"}, annotations={f"a{i}": "x" * 8000 for i in range(9)})
    with pytest.raises(AdmissionError) as err:
        check_alert(big, "alerts[1]")
    assert (err.value.field, err.value.status) == ("alerts[1]", 413)


def test_alert_text_is_redacted_once_where_it_enters() -> None:
    alert = Alert(labels={"alertname": "X", "pod": "api-0", "db_password": "Pl4nted-label-pw"},
                  annotations={"description": "DB_PASS=Pl4nted-annot-pw; see runbook",
                               "runbook_url": "https://ops:Pl4nted-url-pw@wiki.example.com/rb"},
                  generatorURL="https://u:Pl4nted-gen-pw@prom.example.com/graph")
    clean = redacted_alert(alert)
    text = clean.model_dump_json()
    assert "Pl4nted" not in text
    assert clean.labels["pod"] == "api-0" and "wiki.example.com/rb" in clean.annotations["runbook_url"]
    req = ManualRequest(cluster_id="prod", namespace="shop", kind="pod", name="api-0",
                        reason="login fails, the redis password is Pl4ntedReason9")
    raw = manual_raw_alert(req, utcnow(), Requester(subject="alice", role="sre"))
    assert "Pl4ntedReason9" not in raw.model_dump_json() and "login fails" in raw.alert.annotations["summary"]


# ---------------------------------------------------------------- the bridge as users call it

HOSTILE_WEBHOOK: list[tuple[str, Any]] = []


def _alert(**labels: str) -> dict[str, Any]:
    return {"labels": {"alertname": "KubePodCrashLooping", **labels}, "annotations": {"summary": "s"},
            "startsAt": "2026-11-25T13:06:09Z"}


def _payload(*alerts: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"version": "4", "status": "firing", "receiver": "hook", "alerts": list(alerts), **extra}


def _hostile_webhook() -> list[tuple[str, bytes]]:
    bodies: list[tuple[str, Any]] = [
        ("empty", b""), ("not json", b"{nope"), ("array", b"[]"), ("null", b"null"), ("string", b'"x"'),
        ("no alerts", _payload()), ("alerts not a list", {"alerts": {"a": 1}}), ("label not a string", _payload(
            {"labels": {"alertname": "X", "pod": 5}})), ("no alertname", _payload({"labels": {"pod": "a"}})),
        ("bad status", _payload(_alert(), status="exploded")), ("bad time", _payload({**_alert(), "startsAt": "x"})),
        ("deep nesting", b"[" * 5000 + b"]" * 5000),
        ("1001 alerts", _payload(*[_alert(pod=f"p{i}") for i in range(1001)])),
        ("200 KB pod label", _payload(_alert(pod="p" * 200_000))),
        ("13,000 emoji label", _payload(_alert(team="\U0001F525" * 13000))),
        ("13,000 emoji pod", _payload(_alert(pod="\U0001F525" * 13000))),
        ("huge annotation", _payload({**_alert(), "annotations": {"description": "d" * 9000}})),
        ("100 labels", _payload(_alert(**{f"l{i}": "v" for i in range(100)}))),
        ("long label name", _payload(_alert(**{"l" * 200: "v"}))),
        ("huge generatorURL", _payload({**_alert(), "generatorURL": "http://x/" + "a" * 3000})),
        ("huge externalURL", _payload(_alert(), externalURL="http://x/" + "a" * 3000)),
        ("huge receiver", _payload(_alert(), receiver="r" * 1000)),
    ]
    for label in ("pod", "namespace", "deployment", "statefulset", "daemonset", "job_name", "node", "service",
                  "persistentvolumeclaim", "horizontalpodautoscaler"):
        for value in ("x && sudo cat /etc/shadow", "$(id)", "../../etc/passwd", "UPPER", "a b", "a" * 254,
                      "a\u202eb", "a\nb", "Kubernetes namespace (DNS-1123 label).", "-leading"):
            bodies.append((f"{label}={value[:20]!r}", _payload(_alert(**{label: value}))))
    return [(name, body if isinstance(body, bytes) else json.dumps(body).encode()) for name, body in bodies]


def _hostile_tasks() -> list[tuple[str, bytes]]:
    base = {"cluster_id": "prod-eu", "namespace": "shop", "kind": "pod", "name": "api-0"}
    bodies: list[tuple[str, Any]] = [
        ("empty", b""), ("not json", b"{nope"), ("array", b"[]"), ("unknown field", {**base, "extra": 1}),
        ("unknown kind", {**base, "kind": "secret"}), ("missing name", {k: v for k, v in base.items() if k != "name"}),
        ("name not a string", {**base, "name": 5}), ("severity", {**base, "severity": "apocalyptic"}),
        ("reason 13,000 emoji", {**base, "reason": "\U0001F525" * 13000}), ("reason 1 MB", {**base, "reason": "r" * 10**6}),
    ]
    for field in ("cluster_id", "namespace", "name"):
        for value in ("x && sudo cat /etc/shadow", "$(id)", "../../etc/passwd", "`id`", "a; rm -rf /", "UPPER",
                      "a b", "a" * 254, "a\u202eb", "a\x00b", "kubectl delete pod api-0", "-f", "пример",
                      "Kubernetes namespace (DNS-1123 label).", "<pod-name>"):
            bodies.append((f"{field}={value[:20]!r}", {**base, field: value}))
    for kind in ("service",):
        bodies.append(("service starting with a digit", {**base, "kind": kind, "name": "1api"}))
    return [(name, body if isinstance(body, bytes) else json.dumps(body).encode()) for name, body in bodies]


def test_hostile_requests_get_a_clear_4xx_naming_the_field_and_produce_nothing(capsys) -> None:
    producer = StubProducer()
    audit: list[AuditEvent] = []

    async def sink(event: AuditEvent) -> None:
        audit.append(event)

    async def scenario() -> dict[str, dict[str, int]]:
        app = create_app(settings(), producer, manage_producer=False, freeze_gc=False, audit_sink=sink)
        counts: dict[str, dict[str, int]] = {}
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            for route, bodies, headers in (
                    ("POST /api/v1/webhook/alertmanager", _hostile_webhook(), {"Authorization": f"Bearer {WEBHOOK_TOKEN}"}),
                    ("POST /api/v1/tasks", _hostile_tasks(), {"X-API-Key": KEYS["sre"]})):
                tally = counts.setdefault(route, {"tried": 0, "clear_4xx": 0, "5xx": 0})
                for name, body in bodies:
                    resp = await client.post(route.split()[1], data=body,
                                             headers={**headers, "Content-Type": "application/json"})
                    tally["tried"] += 1
                    answer = await resp.json()
                    assert resp.status < 500, (route, name, resp.status, answer)
                    assert 400 <= resp.status < 500 and answer.get("error") and answer.get("field"), (route, name, answer)
                    tally["clear_4xx"] += 1
        return counts

    counts = asyncio.run(scenario())
    assert producer.sent == [] or all(r.topic.endswith("security.suspensions") for r in producer.sent)
    with capsys.disabled():
        for route, tally in counts.items():
            print(f"\n{route}: tried {tally['tried']}, clear 4xx {tally['clear_4xx']}, 5xx {tally['5xx']}")
    assert all(t["tried"] >= 40 and t["clear_4xx"] == t["tried"] for t in counts.values())
    # A person's attempts (not their typos) are audited as security events, under their name.
    attempts = [e for e in audit if e.action.startswith("security.")]
    assert attempts and {e.actor for e in attempts} == {"k-sre"}
    assert {e.details["parameter"] for e in attempts} <= {"cluster_id", "namespace", "name"}
    typo_fields = {e.details["parameter"] for e in attempts if "UPPER" in json.dumps(e.details)}
    assert typo_fields == set()


def test_an_alerts_cluster_label_is_not_held_to_registry_rules() -> None:
    """GKE-style context names have underscores; an unknown cluster falls back to the default in normalize."""
    check_alert(Alert(labels={"alertname": "X", "cluster": "gke_shop-prod_europe-west1_main", "pod": "a"}), "alerts[0]")


def test_field_named_for_a_bad_resource_label() -> None:
    from streams.webhook import alertmanager_records

    parsed = parse_alertmanager(json.dumps(_payload(_alert(pod="ok-0"), _alert(pod="Not A Pod"))).encode())
    with pytest.raises(Rejection) as err:
        alertmanager_records(parsed, "p.alerts.raw", 10**6, utcnow())
    assert (err.value.status, err.value.field) == (400, "alerts[1].labels.pod")


def test_404_is_audited_as_what_it_is_and_the_bridge_serves_its_openapi() -> None:
    audit: list[AuditEvent] = []

    async def sink(event: AuditEvent) -> None:
        audit.append(event)

    async def scenario() -> tuple[int, dict, int]:
        app = create_app(settings(), StubProducer(), manage_producer=False, freeze_gc=False, audit_sink=sink)
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            doc = await client.get("/api/v1/openapi.json", headers={"X-API-Key": KEYS["developer"]})
            missing = await client.get("/api/v1/nothing-here", headers={"X-API-Key": KEYS["sre"]})
            return doc.status, await doc.json(), missing.status

    status, doc, missing = asyncio.run(scenario())
    assert status == 200 and {"/api/v1/webhook/alertmanager", "/api/v1/tasks", "/api/v1/openapi.json"} <= set(doc["paths"])
    assert missing == 404
    [event] = [e for e in audit if e.resource == "GET /api/v1/nothing-here"]
    assert (event.result, event.reason, event.details["status"]) == ("rejected", "404 not found", 404)


def test_watched_event_messages_are_redacted_and_bounded_where_they_enter() -> None:
    from streams.watcher import EVENT_MESSAGE_MAX, to_kube_event

    obj = {"metadata": {"uid": "u1", "namespace": "shop", "name": "e1"}, "reason": "Failed",
           "involvedObject": {"kind": "Pod", "name": "api-0", "namespace": "shop"},
           "message": "pull from https://ci:Pl4ntedEventPw@registry.example.com/x failed; DB_PASS=Pl4ntedEnv"}
    event = to_kube_event(obj, "c0")
    assert "Pl4nted" not in event.model_dump_json() and "registry.example.com/x failed" in event.message
    long = to_kube_event({**obj, "message": "x" * 100_000}, "c0")
    assert len(long.message) < EVENT_MESSAGE_MAX + 64 and long.message.endswith("characters]")
