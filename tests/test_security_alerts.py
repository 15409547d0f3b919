"""SOC alerts for security events (SRS §5.8.5), sinks/security_alerts.py.

Real parts: the gateway itself raises the security events (over a DumpReader and the in-process MCP client),
the receivers are local aiohttp servers started by the test (tests/fake_slack.py: the signed-webhook receiver
and the Slack incoming-webhook stand-in), and the Kafka tests use the real broker from conftest.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer
from pydantic import ValidationError

from aetherius.localkafka import free_port
from agents.cluster.dump import DumpReader
from agents.gateway import Gateway, GatewayExecutor, GatewayServer
from agents.tools.registry import load_registry
from agents.tools.types import ToolCall
from schemas.audit import AuditEvent
from schemas.deadletter import DeadLetter
from schemas.settings import Settings
from schemas.sinks_settings import SinksSettings
from sinks.security_alerts import (
    ALERT_ID_HEADER, EVENT_HEADER, SecurityAlerter, alert_verdict, register, security_alert, slack_alert_request,
)
from sinks.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_webhook_signature
from streams.admin import ensure_topics
from streams.app import create_app
from tests.dumpkit import Ctr, DumpBuilder
from tests.fake_slack import FakeHooks, slack_problem
from tests.kafkautil import produce, read_all
from tests.threaded import InThread

REPO = Path(__file__).resolve().parents[1]
NS, POD = "shop", "frontend-5c7d9-abcde"
TOKEN = "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"  # a GitHub token shape the redaction module knows
SECRET = "soc-shared-key"


@pytest.fixture(scope="module")
def dump(tmp_path_factory: pytest.TempPathFactory) -> Path:
    b = DumpBuilder(tmp_path_factory.mktemp("sec") / "dump")
    b.node("node-1")
    b.pod(NS, POD, [Ctr("web")])
    return b.write()


class Audit:
    def __init__(self) -> None:
        self.events: list[AuditEvent] = []

    async def __call__(self, event: AuditEvent) -> None:
        self.events.append(AuditEvent.from_bytes(event.to_bytes()))


def gateway_events(dump: Path, parameters: dict, tool: str = "get_pod", role: str = "sre") -> tuple[list[AuditEvent], object]:
    """What the real gateway audits for one call made through the in-process MCP client."""
    audit = Audit()
    gateway = Gateway(load_registry(), {"c0": DumpReader(dump)}, audit_sink=audit)

    async def go():
        async with GatewayExecutor(GatewayServer(gateway)) as executor:
            return await executor.call(ToolCall(tool_id=tool, parameters=parameters), task_id="task-7",
                                       cluster_id="c0", role=role)

    result = asyncio.run(go())
    return audit.events, result


def escalation(dump: Path) -> tuple[AuditEvent, object]:
    events, result = gateway_events(dump, {"namespace": NS, "name": f"x && sudo cat /etc/shadow --token {TOKEN}"})
    [event] = [e for e in events if e.action.startswith("security.")]
    return event, result


def settings(hooks: FakeHooks, *names: str, **extra) -> SinksSettings:  # noqa: ANN003
    return SinksSettings.model_validate({
        "destinations": {"soc": {"type": "webhook", "url": hooks.webhook.url, "secret": SECRET},
                         "soc-slack": {"type": "slack", "url": hooks.slack.url},
                         "oncall": {"type": "slack", "url": hooks.slack.url}},
        "default": ["oncall"], "security_alerts": {"destinations": list(names or ["soc"])},
        "retry": {"max_attempts": 3, "base_delay_seconds": 0, "jitter": 0}, **extra})


class DeadLetters:
    def __init__(self) -> None:
        self.records: list[DeadLetter] = []

    async def __call__(self, record: DeadLetter) -> None:
        self.records.append(record)


async def no_sleep(_: float) -> None:
    return None


# ---- from the gateway's rejection to the alert ------------------------------------------------------------

def test_the_gateway_flags_the_result_and_the_alert_says_what_who_where(dump):
    event, result = escalation(dump)
    # The step loop learns of it through the MCP answer (agents/gateway/server.py -> client.py).
    assert result.rejected and result.security_event == "privilege_escalation"
    alert = security_alert(event)
    assert (alert.kind, alert.severity, alert.tool, alert.parameter) == ("privilege_escalation", "critical", "get_pod", "name")
    assert alert.task_id == "task-7" and alert.cluster_id == "c0" and alert.layer == "parameters"
    assert (alert.who.actor, alert.who.role, alert.who.transport) == ("task:task-7", "sre", "inprocess")
    assert "privilege escalation attempt (sudo, --token)" in alert.reason
    assert alert.alert_id == event.id and alert.blocked
    assert alert.summary == "privilege escalation blocked: tool get_pod parameter 'name' on cluster c0"
    text = alert.model_dump_json()
    assert TOKEN not in text and "sudo cat /etc/shadow" in text  # the attempt is shown, the credential is not


def test_other_security_kinds_and_plain_rejections(dump):
    events, result = gateway_events(dump, {"namespace": NS, "name": "delete pod x"})
    assert result.security_event == "destructive_operation"
    assert security_alert(next(e for e in events if e.action.startswith("security."))).severity == "critical"
    events, result = gateway_events(dump, {"namespace": NS, "name": POD}, role="auditor")
    assert result.security_event == "unauthorized_access"
    assert security_alert(next(e for e in events if e.action.startswith("security."))).severity == "medium"
    # A plain bad parameter is rejected and audited, but is not a security event: no alert, no task stop.
    events, result = gateway_events(dump, {"namespace": NS, "name": POD, "colour": "red"})
    assert result.rejected and result.security_event == ""
    assert [e.action for e in events] == ["tool.call"]


def test_verdict_alerts_only_young_security_events():
    now = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)
    ev = AuditEvent(action="security.privilege_escalation", at=now - timedelta(seconds=10))
    assert alert_verdict(ev, now, 3600) == "alert"
    assert alert_verdict(ev.model_copy(update={"at": now - timedelta(hours=2)}), now, 3600) == "stale"
    assert alert_verdict(ev.model_copy(update={"at": (now - timedelta(hours=2)).replace(tzinfo=None)}), now, 3600) == "stale"
    for action in ("tool.call", "api.request", "knowledge.update", "securityx.y", "cluster.unavailable"):
        assert alert_verdict(AuditEvent(action=action, at=now), now, 3600) == "ignore"


def test_settings_name_known_webhook_or_slack_destinations():
    base = {"destinations": {"t": {"type": "teams", "url": "https://x.webhook.office.com/a"},
                             "h": {"type": "webhook", "url": "https://soc.example/hook", "secret": "k"}}}
    ok = SinksSettings.model_validate({**base, "security_alerts": {"destinations": ["h"]}})
    assert ok.security_alerts.destinations == ["h"] and ok.security_alerts.max_age_seconds == 86400
    with pytest.raises(ValidationError, match=r"security_alerts.destinations names unknown destination\(s\) \['soc'\]"):
        SinksSettings.model_validate({**base, "security_alerts": {"destinations": ["soc"]}})
    with pytest.raises(ValidationError, match=r"\['t'\] are Teams destinations"):
        SinksSettings.model_validate({**base, "security_alerts": {"destinations": ["t"]}})
    with pytest.raises(ValidationError, match="extra"):
        SinksSettings.model_validate({**base, "security_alerts": {"destination": ["h"]}})
    assert SinksSettings().security_alerts.destinations == []  # off unless configured


# ---- delivery ----------------------------------------------------------------------------------------------

def test_signed_webhook_once_per_event_and_slack_message(dump):
    event, _ = escalation(dump)
    raw = event.to_bytes()

    async def go():
        async with FakeHooks() as hooks:
            alerter = SecurityAlerter(settings(hooks, "soc", "soc-slack"), dead_letter=DeadLetters(), sleep=no_sleep)
            first = await alerter.handle(event.id.encode(), raw)
            again = await alerter.handle(event.id.encode(), raw)  # a redelivery
            plain = await alerter.handle(b"k", AuditEvent(action="tool.call").to_bytes())
            return first, again, plain, hooks.webhook.received, hooks.slack.messages()

    first, again, plain, webhook, slack = asyncio.run(go())
    assert first == {"soc": "delivered", "soc-slack": "delivered"}
    assert again == {"soc": "duplicate", "soc-slack": "duplicate"} and plain == {}
    [got] = webhook
    h = got["headers"]
    assert verify_webhook_signature(SECRET, h[TIMESTAMP_HEADER], h[SIGNATURE_HEADER], got["body"]) is None
    assert h[ALERT_ID_HEADER] == event.id and h[EVENT_HEADER] == "security_alert"
    body = json.loads(got["body"])
    assert body["type"] == "aetherius.security_alert" and body["kind"] == "privilege_escalation"
    assert body["task_id"] == "task-7" and body["who"]["actor"] == "task:task-7"
    assert body["parameters"]["namespace"] == NS and TOKEN not in got["body"].decode()
    [msg] = slack  # the Slack stand-in accepted the Block Kit message (it refuses what Slack refuses)
    assert "privilege escalation" in msg["text"] and TOKEN not in json.dumps(msg)


def test_slack_alert_makes_attacker_text_inert():
    ev = AuditEvent(action="security.injection_attempt", resource="tool/get_pod", cluster_id="c0", reason="contains `;`",
                    details={"task_id": "t1", "parameter": "name",
                             "parameters": {"name": "<!channel> `x` <https://evil.example|click> &"}})
    msg = json.loads(slack_alert_request("http://unused", security_alert(ev)).body)
    assert slack_problem(msg) is None
    text = json.dumps(msg)
    assert "<!channel>" not in text and "<https://" not in text and "`x`" not in text
    assert "&lt;!channel&gt;" in text and "&amp;" in text


def test_retries_then_dead_letter_with_the_audit_record(dump):
    event, _ = escalation(dump)
    raw = event.to_bytes()

    async def go():
        async with FakeHooks() as hooks:
            dead = DeadLetters()
            alerter = SecurityAlerter(settings(hooks), dead_letter=dead, sleep=no_sleep, source_topic="p.audit")
            hooks.webhook.fail_next(2, 503)  # two failures, then delivered on the third attempt
            retried = await alerter.handle(event.id.encode(), raw)
            other = AuditEvent(action="security.privilege_escalation", details={"task_id": "t2"})
            hooks.webhook.fail_next(1, 404)  # permanent: no retry
            gone = await alerter.handle(other.id.encode(), other.to_bytes())
            return retried, gone, hooks.webhook.attempts, len(hooks.webhook.received), dead.records, other

    retried, gone, attempts, received, dead, other = asyncio.run(go())
    assert retried == {"soc": "delivered"} and gone == {"soc": "dead-lettered"}
    assert attempts == 4 and received == 1
    [letter] = dead
    assert letter.source_topic == "p.audit" and letter.stage == "security-alert:soc" and "HTTP 404" in letter.error
    assert AuditEvent.model_validate_json(base64.b64decode(letter.value_b64)) == other  # replayable as it was


def test_stale_invalid_and_disabled():
    now = datetime.now(timezone.utc)

    async def go():
        async with FakeHooks() as hooks:
            s = settings(hooks, "soc", "soc-slack")
            s.destinations["soc-slack"].enabled = False
            alerter = SecurityAlerter(s, dead_letter=DeadLetters(), sleep=no_sleep)
            old = AuditEvent(action="security.privilege_escalation", at=now - timedelta(days=2))
            return (await alerter.handle(b"o", old.to_bytes()), await alerter.handle(b"j", b"{not json"),
                    await alerter.handle(b"n", None),
                    await alerter.handle(b"y", AuditEvent(action="security.injection_attempt").to_bytes()),
                    len(hooks.webhook.received))

    stale, junk, empty, young, received = asyncio.run(go())
    assert stale == {} and junk == {} and empty == {}
    assert young == {"soc": "delivered", "soc-slack": "disabled"} and received == 1


# ---- on the real broker ------------------------------------------------------------------------------------

async def _committed(bootstrap: str, topic: str, group: str) -> dict[int, int | None]:
    from streams.record_replay import topic_partitions

    parts = await topic_partitions(bootstrap, topic)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        return {tp.partition: await consumer.committed(tp) for tp in parts}
    finally:
        await consumer.stop()


async def _until(predicate, timeout: float = 60.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.1)


def test_consumer_group_alerts_once_and_commits(kafka_bootstrap, topic_prefix, dump):
    """Mixed audit traffic on a real topic: one alert per security event; offsets committed so a restarted
    alerter (empty ledger, same group) sends nothing again, and picks up what is new."""
    s = Settings(kafka={"bootstrap": kafka_bootstrap, "topic_prefix": topic_prefix, "partitions": 2})
    topic, group = f"{topic_prefix}.audit", f"{topic_prefix}-sink-security-alerts"
    event, _ = escalation(dump)
    noise = [AuditEvent(action="tool.call"), AuditEvent(action="api.request")]
    stale = AuditEvent(action="security.privilege_escalation", at=datetime.now(timezone.utc) - timedelta(days=3))

    async def scenario():
        await ensure_topics(s.kafka)
        await produce(kafka_bootstrap, topic, [(e.id.encode(), e.to_bytes()) for e in [*noise, event, stale]]
                      + [(b"junk", b"{not json")])
        async with FakeHooks() as hooks:
            def run(alerter: SecurityAlerter) -> asyncio.Task:
                return asyncio.ensure_future(alerter.run(kafka_bootstrap, topic, group, retry_seconds=0.5))

            first = run(SecurityAlerter(settings(hooks), dead_letter=DeadLetters(), sleep=no_sleep))
            await _until(lambda: len(hooks.webhook.received) >= 1)
            total = len(noise) + 3
            # Committed = every record handled, on every partition (the stale and junk ones too).
            for _ in range(100):
                offsets = await _committed(kafka_bootstrap, topic, group)
                if sum(o or 0 for o in offsets.values()) == total:
                    break
                await asyncio.sleep(0.2)
            first.cancel()
            await asyncio.gather(first, return_exceptions=True)
            later = AuditEvent(action="security.destructive_operation", details={"task_id": "t9"})
            second = run(SecurityAlerter(settings(hooks), dead_letter=DeadLetters(), sleep=no_sleep))
            await produce(kafka_bootstrap, topic, [(later.id.encode(), later.to_bytes())])
            await _until(lambda: len(hooks.webhook.received) >= 2)
            await asyncio.sleep(1.5)  # a wrongly repeated alert would arrive now
            second.cancel()
            await asyncio.gather(second, return_exceptions=True)
            return offsets, [json.loads(r["body"])["alert_id"] for r in hooks.webhook.received], later

    offsets, ids, later = asyncio.run(asyncio.wait_for(scenario(), 120))
    assert sum(o or 0 for o in offsets.values()) == len(noise) + 3
    assert ids == [event.id, later.id]


def test_sink_role_wiring_dead_letters_on_the_topic(kafka_bootstrap, topic_prefix, tmp_path, dump):
    """`register` as run_sink calls it: a task of a real Faust app; a permanently refused alert becomes a dead
    letter on the deadletter topic, carrying the audit record."""
    event, _ = escalation(dump)

    async def scenario():
        async with FakeHooks() as hooks:
            hooks.webhook.fail_next(1, 410)
            s = Settings(kafka={"bootstrap": kafka_bootstrap, "topic_prefix": topic_prefix, "partitions": 2},
                         worker={"app_id": f"{topic_prefix}-sink", "data_dir": str(tmp_path / "w")},
                         sinks=settings(hooks).model_dump(mode="json") | {
                             "destinations": {"soc": {"type": "webhook", "url": hooks.webhook.url, "secret": SECRET}},
                             "default": []})
            await ensure_topics(s.kafka)
            app, topics = create_app(s, web=False)
            assert register(app, s, topics) is not None
            await produce(kafka_bootstrap, f"{topic_prefix}.audit", [(event.id.encode(), event.to_bytes())])
            await app.start()
            try:
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    letters = await read_all(kafka_bootstrap, f"{topic_prefix}.deadletter")
                    if letters:
                        return letters, hooks.webhook.attempts
                    await asyncio.sleep(0.3)
                return [], hooks.webhook.attempts
            finally:
                await app.stop()

    letters, attempts = asyncio.run(asyncio.wait_for(scenario(), 120))
    assert attempts == 1
    [(key, value)] = letters
    letter = DeadLetter.model_validate_json(value)
    assert key == f"{topic_prefix}.audit".encode() and letter.stage == "security-alert:soc"
    assert AuditEvent.model_validate_json(base64.b64decode(letter.value_b64)).id == event.id


def test_register_without_destinations_is_a_warning(caplog):
    app, topics = create_app(Settings(kafka={"topic_prefix": "unused"}), web=False)
    with caplog.at_level("WARNING"):
        assert register(app, Settings(), topics) is None
    assert "no SOC destination configured" in caplog.text



def test_the_sink_role_as_users_run_it_alerts_the_soc(kafka_bootstrap, topic_prefix, tmp_path, dump):
    """`aetherius sink` (a real subprocess, configured by env vars only) sends the SOC an alert for a security
    event on the audit topic, and nothing for the other audit traffic."""
    event, _ = escalation(dump)
    with InThread(FakeHooks()) as hooks:
        env = {**os.environ, "AETHERIUS_KAFKA__BOOTSTRAP": kafka_bootstrap, "AETHERIUS_KAFKA__TOPIC_PREFIX": topic_prefix,
               "AETHERIUS_KAFKA__PARTITIONS": "2", "AETHERIUS_WORKER__APP_ID": topic_prefix,
               "AETHERIUS_WORKER__DATA_DIR": str(tmp_path / "worker"), "AETHERIUS_LOG_LEVEL": "WARNING",
               "AETHERIUS_ANALYTICS__CHDB_PATH": str(tmp_path / "chdb"), "AETHERIUS_ANALYTICS__API_PORT": str(free_port()),
               "AETHERIUS_SINKS": json.dumps({"destinations": {"soc": {"type": "webhook", "url": hooks.webhook.url,
                                                                       "secret": SECRET}},
                                              "security_alerts": {"destinations": ["soc"]}})}
        log = open(tmp_path / "sink.log", "wb")
        proc = subprocess.Popen([sys.executable, "-m", "aetherius.cli", "sink"], cwd=REPO, env=env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            asyncio.run(produce(kafka_bootstrap, f"{topic_prefix}.audit",
                                [(e.id.encode(), e.to_bytes()) for e in (AuditEvent(action="tool.call"), event)]))
            deadline = time.monotonic() + 90
            while not hooks.webhook.received and time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.3)
            time.sleep(1.0)  # a second (wrong) alert would arrive now
            received = list(hooks.webhook.received)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(30)
            log.close()
    assert len(received) == 1, (tmp_path / "sink.log").read_text()[-3000:]
    body = json.loads(received[0]["body"])
    assert body["alert_id"] == event.id and body["kind"] == "privilege_escalation" and body["task_id"] == "task-7"
