"""The webhook bridge against the real Kafka broker: what is accepted lands on the topic with the right keys,
and every refused request leaves the topic empty (checked by its end offsets, not by waiting)."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from aetherius.localkafka import free_port
from aetherius.metrics import REGISTRY
from schemas.alertmanager import RawAlert
from schemas.requester import Requester
from aetherius.http.auth import generate_api_key, hash_api_key
from schemas.settings import Settings, WebhookSettings
from schemas.topics import topic_name
from streams.fingerprint import labels_fingerprint
from streams.producer import Producer
from streams.record_replay import consume
from streams.webhook import (ManualRequest, create_app, field_path, manual_raw_alert,
                             parse_alertmanager, Rejection)
from tests.test_fingerprint import REAL_FIRING

PATH = "/api/v1/webhook/alertmanager"


# ---------------------------------------------------------------- helpers (real broker)

async def create_topic(bootstrap: str, name: str, partitions: int = 2) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])
    finally:
        await admin.close()


async def read_topic(bootstrap: str, topic: str) -> list[Any]:
    """Every record currently on the topic: reads each partition up to its end offset (no timing guesswork)."""
    return [r async for r in consume(bootstrap, topic, from_beginning=True, snapshot=True)]


def REGISTRY_TEXT() -> str:  # noqa: N802
    from prometheus_client import generate_latest

    return generate_latest(REGISTRY).decode()


def rejected(reason: str) -> float:
    return REGISTRY.get_sample_value("aetherius_alerts_rejected_total", {"reason": reason}) or 0.0


Scenario = Callable[[TestClient, str], Awaitable[None]]


WEBHOOK_TOKEN = "am-test-token"
SRE_KEY = generate_api_key()
SRE = {"X-API-Key": SRE_KEY}


def run_bridge(bootstrap: str, prefix: str, scenario: Scenario, *, create: bool = True,
               webhook: dict[str, Any] | None = None, ack_timeout: float = 5.0) -> None:
    """Start the bridge on a free 127.0.0.1 port with a connected producer and run `scenario(client, topic)`.

    Without `webhook`, the bridge takes Alertmanager's bearer token WEBHOOK_TOKEN and the client sends it by
    default; an SRE API key (header SRE) is configured for the manual-trigger route."""
    default_headers = {} if webhook else {"Authorization": f"Bearer {WEBHOOK_TOKEN}"}
    settings = Settings(kafka={"bootstrap": bootstrap, "topic_prefix": prefix},
                        webhook=webhook or {"bearer_token": WEBHOOK_TOKEN},
                        security={"api_keys": [{"name": "sre", "role": "sre", "hash": hash_api_key(SRE_KEY)}]})
    topic = topic_name(prefix, "alerts.raw")

    async def main() -> None:
        if create:
            await create_topic(bootstrap, topic)
        producer = Producer(bootstrap)
        await producer.start()
        app = create_app(settings, producer, ack_timeout=ack_timeout, manage_producer=False)
        try:
            async with TestClient(TestServer(app, host="127.0.0.1"), headers=default_headers) as client:
                await scenario(client, topic)
        finally:
            await producer.stop()

    asyncio.run(main())


def alert(name: str | None = "KubePodCrashLooping", **labels: str) -> dict[str, Any]:
    if name is not None:
        labels["alertname"] = name
    return {"status": "firing", "labels": labels, "annotations": {"summary": "s"},
            "startsAt": "2026-11-25T13:06:09.343030741Z"}


def payload(*alerts: dict[str, Any]) -> dict[str, Any]:
    return {"version": "4", "status": "firing", "receiver": "hook", "alerts": list(alerts),
            "groupLabels": {}, "commonLabels": {}, "externalURL": "http://am:9093"}


# ---------------------------------------------------------------- pure parts

def test_field_path() -> None:
    assert field_path(("alerts", 2, "labels")) == "alerts[2].labels"
    assert field_path(()) == "body"


def test_parse_names_the_missing_alertname_by_index() -> None:
    body = json.dumps(payload(alert(pod="a"), alert(pod="b"), alert(None, pod="c"))).encode()
    with pytest.raises(Rejection) as err:
        parse_alertmanager(body)
    assert (err.value.status, err.value.field) == (400, "alerts[2].labels.alertname")


def test_one_alert_too_big_for_the_broker_refuses_the_whole_payload() -> None:
    from schemas.base import utcnow
    from streams.webhook import alertmanager_records

    parsed = parse_alertmanager(json.dumps(payload(alert(pod="a"), alert(pod="b", blob="x" * 900))).encode())
    records = alertmanager_records(parsed, "p.alerts.raw", 4000, utcnow())
    assert [r.key.decode() for r in records] == [labels_fingerprint(a.labels) for a in parsed.alerts]
    with pytest.raises(Rejection) as err:
        alertmanager_records(parsed, "p.alerts.raw", 1000, utcnow())
    assert (err.value.status, err.value.field) == (413, "alerts[1]")


def test_manual_request_becomes_a_labelled_raw_alert() -> None:
    from schemas.base import utcnow

    req = ManualRequest(cluster_id="eu-1", namespace="prod", kind="Deployment", name="api", reason="slow")
    raw = manual_raw_alert(req, utcnow(), Requester(subject="alice", role="sre"))
    labels = raw.alert.labels
    assert labels == {"alertname": "ManualDiagnosis", "cluster_id": "eu-1", "namespace": "prod",
                      "deployment": "api", "severity": "warning"}
    assert raw.fingerprint == labels_fingerprint(labels) == raw.alert.fingerprint
    assert raw.alert.annotations["summary"] == "slow"
    # The contract with the normalizer: it finds the target resource in these labels.
    normalize = pytest.importorskip("streams.normalize")
    assert normalize.resource_of(labels) == ("Deployment", "api")
    job = manual_raw_alert(ManualRequest(cluster_id="c", namespace="n", kind="job", name="j"), utcnow(),
                           Requester(subject="alice", role="sre"))
    assert normalize.resource_of(job.alert.labels) == ("Job", "j")


# ---------------------------------------------------------------- real Kafka

def test_valid_payload_lands_one_record_per_alert_keyed_by_fingerprint(kafka_bootstrap: str, topic_prefix: str) -> None:
    no_fp = payload(alert(pod="x", namespace="prod"), alert(pod="y", namespace="prod"))

    async def scenario(client: TestClient, topic: str) -> None:
        resp = await client.post(PATH, json=REAL_FIRING, headers={"User-Agent": "Alertmanager/0.25.0"})
        assert resp.status == 200, await resp.text()
        assert await resp.json() == {"accepted": 2, "fingerprints": ["477ba8ef86d54987", "21a30b23f6e445b9"]}
        resp = await client.post(PATH, json=no_fp)
        assert resp.status == 200
        computed = [labels_fingerprint(a["labels"]) for a in no_fp["alerts"]]
        assert (await resp.json())["fingerprints"] == computed

        records = await read_topic(kafka_bootstrap, topic)
        assert sorted(r.key.decode() for r in records) == sorted(["477ba8ef86d54987", "21a30b23f6e445b9", *computed])
        for r in records:
            raw = RawAlert.from_bytes(r.value)
            assert raw.fingerprint == r.key.decode() == (raw.alert.fingerprint or raw.fingerprint)
            headers = dict(r.headers)
            assert headers["source"] == b"alertmanager"
            assert headers["record-id"].decode().startswith(raw.fingerprint + ":")
        by_key = {r.key.decode(): RawAlert.from_bytes(r.value) for r in records}
        assert by_key["21a30b23f6e445b9"].alert.labels["pod"] == "api-7d9f"
        assert by_key["21a30b23f6e445b9"].receiver == "hook"

        metrics = await (await client.get("/metrics")).text()
        assert 'aetherius_alerts_received_total{source="alertmanager"}' in metrics
        assert "aetherius_webhook_request_seconds_bucket" in metrics
        assert (await client.get("/health/live")).status == 200
        assert (await client.get("/health/ready")).status == 200

    run_bridge(kafka_bootstrap, topic_prefix, scenario)


def test_every_bad_request_is_refused_and_produces_nothing(kafka_bootstrap: str, topic_prefix: str) -> None:
    token = "t0k3n"
    auth = {"Authorization": f"Bearer {token}"}
    good = payload(alert(pod="a"), alert(pod="b"), alert(pod="c"))
    missing_at_2 = payload(alert(pod="a"), alert(pod="b"), alert(None, pod="c"))
    empty_name_at_1 = payload(alert(pod="a"), alert("  ", pod="b"))
    no_labels = payload(alert(pod="a"), {"status": "firing"})
    bad_label_type = payload({"labels": {"alertname": "X", "replicas": 3}})
    huge = payload(*(alert(pod=f"p{i}", blob="x" * 500) for i in range(10)))

    cases: list[tuple[str, dict[str, Any], int, str | None]] = [
        ("empty body", {"data": b"", "headers": {**auth, "Content-Type": "application/json"}}, 400, "body"),
        ("whitespace body", {"data": b"  \n", "headers": {**auth, "Content-Type": "application/json"}}, 400, "body"),
        ("invalid JSON", {"data": b'{"alerts": [', "headers": {**auth, "Content-Type": "application/json"}}, 400, "body"),
        ("JSON array", {"json": [good], "headers": auth}, 400, "body"),
        ("no alerts", {"json": payload(), "headers": auth}, 400, "alerts"),
        ("missing alertname at 2", {"json": missing_at_2, "headers": auth}, 400, "alerts[2].labels.alertname"),
        ("blank alertname at 1", {"json": empty_name_at_1, "headers": auth}, 400, "alerts[1].labels.alertname"),
        ("no labels at 1", {"json": no_labels, "headers": auth}, 400, "alerts[1].labels"),
        ("non-string label", {"json": bad_label_type, "headers": auth}, 400, "alerts[0].labels.replicas"),
        ("over the limit", {"json": huge, "headers": auth}, 413, "body"),
        ("over the limit, chunked", {"data": _chunks(json.dumps(huge).encode()),
                                     "headers": {**auth, "Content-Type": "application/json"}}, 413, "body"),
        ("text/plain", {"data": json.dumps(good), "headers": {**auth, "Content-Type": "text/plain"}}, 415,
         "Content-Type"),
        ("form", {"data": {"a": "b"}, "headers": auth}, 415, "Content-Type"),
        ("no token", {"json": good}, 401, "Authorization"),
        ("wrong token", {"json": good, "headers": {"Authorization": "Bearer nope"}}, 401, "Authorization"),
        ("basic when bearer is configured", {"json": good, "headers": {
            "Authorization": "Basic " + base64.b64encode(b"u:t0k3n").decode()}}, 401, "Authorization"),
    ]

    async def scenario(client: TestClient, topic: str) -> None:
        for name, kwargs, status, field in cases:
            resp = await client.post(PATH, **kwargs)
            assert resp.status == status, (name, await resp.text())
            body = await resp.json()
            if status == 401:  # the shared security layer answers these (aetherius/http/auth.py)
                assert body["error"] == "unauthorized" and resp.headers["WWW-Authenticate"], (name, body)
            else:
                assert body["field"] == field and body["error"], (name, body)
        # The manual endpoint shares the checks.
        resp = await client.post("/api/v1/tasks", json={"cluster_id": "c", "kind": "pod", "name": "x"})
        assert resp.status == 401
        # Alertmanager's credential counts only on the webhook: a manual diagnosis needs a person's key.
        resp = await client.post("/api/v1/tasks", json={"cluster_id": "c", "kind": "pod", "name": "x"}, headers=auth)
        assert resp.status == 401
        resp = await client.post("/api/v1/tasks", json={"cluster_id": "c", "kind": "secret", "name": "x"},
                                 headers=SRE)
        assert (resp.status, (await resp.json())["field"]) == (400, "kind")
        resp = await client.post("/api/v1/tasks", json={"cluster_id": "c", "kind": "pod"}, headers=SRE)
        assert (resp.status, (await resp.json())["field"]) == (400, "name")
        resp = await client.post("/api/v1/tasks", json={"cluster_id": "c", "kind": "pod", "name": "x", "x": 1},
                                 headers=SRE)
        assert (resp.status, (await resp.json())["field"]) == (400, "x")

        assert await read_topic(kafka_bootstrap, topic) == []
        metrics = await (await client.get("/metrics")).text()  # health and metrics stay open without a token
        for reason in ("empty_body", "invalid_json", "invalid_payload", "too_large", "unsupported_media_type"):
            assert f'aetherius_alerts_rejected_total{{reason="{reason}"}}' in metrics, reason

        # Control: the same bridge does accept a good payload with the right token.
        resp = await client.post(PATH, json=good, headers=auth)
        assert resp.status == 200
        assert len(await read_topic(kafka_bootstrap, topic)) == 3

    run_bridge(kafka_bootstrap, topic_prefix, scenario, webhook={"bearer_token": token, "max_body_bytes": 4000})
    assert 'aetherius_http_auth_failures_total' in REGISTRY_TEXT()


async def _chunks(data: bytes):  # noqa: ANN202 - an async generator makes aiohttp send chunked, no Content-Length
    for i in range(0, len(data), 1000):
        yield data[i:i + 1000]


def test_basic_auth_accepted_when_configured(kafka_bootstrap: str, topic_prefix: str) -> None:
    basic = "Basic " + base64.b64encode(b"alertmanager:pa:ss").decode()

    async def scenario(client: TestClient, topic: str) -> None:
        assert (await client.post(PATH, json=payload(alert(pod="a")))).status == 401
        resp = await client.post(PATH, json=payload(alert(pod="a")), headers={"Authorization": basic})
        assert resp.status == 200
        assert len(await read_topic(kafka_bootstrap, topic)) == 1

    run_bridge(kafka_bootstrap, topic_prefix, scenario,
               webhook={"basic_user": "alertmanager", "basic_password": "pa:ss"})


def test_manual_trigger_produces_a_manual_diagnosis_alert(kafka_bootstrap: str, topic_prefix: str) -> None:
    async def scenario(client: TestClient, topic: str) -> None:
        resp = await client.post("/api/v1/tasks", json={"cluster_id": "eu-1", "namespace": "prod", "kind": "pod",
                                                        "name": "api-7d9f", "reason": "user report",
                                                        "severity": "critical"}, headers=SRE)
        assert resp.status == 202, await resp.text()
        fingerprint = (await resp.json())["fingerprint"]
        [record] = await read_topic(kafka_bootstrap, topic)
        raw = RawAlert.from_bytes(record.value)
        assert record.key.decode() == fingerprint == raw.fingerprint
        assert dict(record.headers)["source"] == b"manual"
        assert raw.alert.labels == {"alertname": "ManualDiagnosis", "cluster_id": "eu-1", "namespace": "prod",
                                    "pod": "api-7d9f", "severity": "critical"}
        assert raw.alert.annotations["summary"] == "user report"
        assert raw.requested_by == Requester(subject="sre", role="sre", via="api")  # who asked, from the API key

    run_bridge(kafka_bootstrap, topic_prefix, scenario)


def test_cli_trigger_produces_the_same_record(kafka_bootstrap: str, topic_prefix: str,
                                              monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    from aetherius.cli import main

    topic = topic_name(topic_prefix, "alerts.raw")
    asyncio.run(create_topic(kafka_bootstrap, topic))
    asyncio.run(create_topic(kafka_bootstrap, topic_name(topic_prefix, "audit")))
    monkeypatch.setenv("AETHERIUS_KAFKA__BOOTSTRAP", kafka_bootstrap)
    monkeypatch.setenv("AETHERIUS_KAFKA__TOPIC_PREFIX", topic_prefix)
    monkeypatch.setenv("AETHERIUS_SECURITY__API_KEYS", json.dumps([{"name": "sre", "role": "sre",
                                                                   "hash": hash_api_key(SRE_KEY)}]))
    monkeypatch.setenv("AETHERIUS_API_KEY", SRE_KEY)
    monkeypatch.delenv("AETHERIUS_CONFIG", raising=False)
    assert main(["trigger", "--cluster", "eu-1", "--namespace", "prod", "--kind", "pod", "--name", "api-7d9f"]) == 0
    out = json.loads(capsys.readouterr().out)
    [record] = asyncio.run(read_topic(kafka_bootstrap, topic))
    assert record.key.decode() == out["fingerprint"]
    assert RawAlert.from_bytes(record.value).alert.labels["pod"] == "api-7d9f"
    assert RawAlert.from_bytes(record.value).requested_by == Requester(subject="sre", role="sre", via="cli")
    assert main(["trigger", "--cluster", "eu-1", "--kind", "configmap", "--name", "x"]) == 2
    assert "kind must be one of" in capsys.readouterr().err


def test_kafka_unreachable_gives_503_and_not_ready(topic_prefix: str) -> None:
    settings = Settings(kafka={"bootstrap": f"127.0.0.1:{free_port()}", "topic_prefix": topic_prefix},
                        webhook={"bearer_token": WEBHOOK_TOKEN},
                        security={"api_keys": [{"name": "sre", "role": "sre", "hash": hash_api_key(SRE_KEY)}]})

    async def main() -> None:
        producer = Producer(settings.kafka.bootstrap, request_timeout_ms=1000)
        async with TestClient(TestServer(create_app(settings, producer), host="127.0.0.1"),
                              headers={"Authorization": f"Bearer {WEBHOOK_TOKEN}"}) as client:
            ready = await client.get("/health/ready")
            assert ready.status == 503 and (await ready.json())["kafka"] is False
            assert (await client.get("/health/live")).status == 200
            before = rejected("kafka_unavailable")
            resp = await client.post(PATH, json=payload(alert(pod="a"), alert(pod="b"), alert(pod="c")))
            assert resp.status == 503
            assert (await resp.json())["field"] == "kafka"
            assert rejected("kafka_unavailable") == before + 3  # counted per alert that was not taken
            assert resp.headers["Retry-After"]
            resp = await client.post("/api/v1/tasks", json={"cluster_id": "c", "kind": "pod", "name": "x"}, headers=SRE)
            assert resp.status == 503

    asyncio.run(main())


def test_broker_that_cannot_take_the_records_gives_503(kafka_bootstrap: str, topic_prefix: str) -> None:
    """Connected, but the broker never acknowledges (the topic is missing): 503 after the ack timeout."""

    async def scenario(client: TestClient, topic: str) -> None:
        resp = await client.post(PATH, json=payload(alert(pod="a"), alert(pod="b")))
        assert resp.status == 503, await resp.text()
        assert "did not acknowledge" in (await resp.json())["error"]
        assert (await client.get("/health/ready")).status == 503

    run_bridge(kafka_bootstrap, topic_prefix, scenario, create=False, ack_timeout=1.0)
