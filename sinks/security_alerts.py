"""SOC alerts for security events (SRS §5.8.5 "send a security alert to the SOC team").

    audit topic --(own consumer group, commit after handling)--> `security.*` AuditEvents
      --> SecurityAlert (redacted, bounded) --> each `sinks.security_alerts.destinations` entry
          (signed webhook or Slack), retried, once per (destination, audit event id), else dead-lettered

The gateway raises the events (agents/gateway/core.py: `security.<kind>` beside the `tool.call` audit
line); the step loop stops the task that caused one (agents/steploop.py). This module only tells people.

Why a plain aiokafka consumer with its own group instead of a Faust agent beside the ClickHouse one:
Faust hands each audit record to every agent of that topic, and an agent whose buffer is full blocks
the partition for all of them - a SOC endpoint down for an hour would stall the audit history. With its
own group the alerter commits only what it has delivered or dead-lettered (at-least-once), and the
ClickHouse sink never waits for it. The pure parts (`alert_verdict`, `security_alert`, the request
builders) have no I/O and are tested directly.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable, Literal

from aiokafka import AIOKafkaConsumer
from prometheus_client import Counter
from pydantic import BaseModel, Field, ValidationError

from aetherius.metrics import REGISTRY
from agents.redaction import redact_obj, redact_text
from schemas.audit import AuditEvent
from schemas.deadletter import DeadLetter
from schemas.sinks_settings import Destination, SinksSettings
from sinks.delivery import DeliveredLedger, Deliverer, HttpRequest, Ledger
from sinks.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

log = logging.getLogger(__name__)

ACTION_PREFIX = "security."
ALERT_ID_HEADER = "X-Aetherius-Alert-Id"
EVENT_HEADER = "X-Aetherius-Event"
SEVERITY: dict[str, str] = {  # what the SOC triages by; unknown kinds are high
    "privilege_escalation": "critical", "destructive_operation": "critical",
    "injection_attempt": "high", "unauthorized_access": "medium",
}

ALERTS = Counter("aetherius_security_alerts_total",
                 "SOC alerts for security audit events, by destination and outcome "
                 "(delivered, duplicate, dead-lettered, disabled; stale and invalid with no destination)",
                 ["destination", "outcome"], registry=REGISTRY)

DeadLetterSink = Callable[[DeadLetter], Awaitable[None]]
Verdict = Literal["alert", "ignore", "stale"]


class Who(BaseModel):
    actor: str = ""  # "task:<id>" for the step loop, an API key name or user for people
    role: str = ""
    source_ip: str = ""
    transport: str = ""


class SecurityAlert(BaseModel):
    """What the SOC receives: one blocked request, redacted; `alert_id` is the audit event id (dedupe on it)."""

    type: Literal["aetherius.security_alert"] = "aetherius.security_alert"
    version: int = 1
    alert_id: str
    kind: str  # privilege_escalation | destructive_operation | injection_attempt | unauthorized_access
    severity: str
    at: datetime
    summary: str
    tool: str = ""
    parameter: str = ""  # the offending parameter, when one was named
    parameters: dict[str, Any] = Field(default_factory=dict)  # the request as sent, redacted and bounded
    reason: str = ""
    layer: str = ""  # the safety layer that refused it (agents/tools/safety.py)
    task_id: str = ""
    cluster_id: str = ""
    who: Who = Field(default_factory=Who)
    blocked: bool = True


# ---- pure ----------------------------------------------------------------------------------------

def alert_verdict(event: AuditEvent, now: datetime, max_age_seconds: float) -> Verdict:
    """Alert on security events young enough to matter; everything else on the audit topic is not ours."""
    if not event.action.startswith(ACTION_PREFIX):
        return "ignore"
    at = event.at if event.at.tzinfo else event.at.replace(tzinfo=timezone.utc)
    return "stale" if (now - at).total_seconds() > max_age_seconds else "alert"


def _clip(text: Any, limit: int) -> str:
    text = redact_text(str(text or ""))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def security_alert(event: AuditEvent) -> SecurityAlert:
    """The alert for one `security.<kind>` audit event. Redacted again here: the gateway already redacts,
    but an alert leaves the system and any producer may write to the audit topic."""
    details = event.details if isinstance(event.details, dict) else {}
    kind = _clip(event.action[len(ACTION_PREFIX):], 64) or "unknown"
    tool = event.resource[len("tool/"):] if event.resource.startswith("tool/") else event.resource
    params = details.get("parameters")
    params = redact_obj(params) if isinstance(params, dict) else {}
    params = {_clip(k, 64): (v if isinstance(v, (bool, int, float)) or v is None else _clip(v, 300))
              for k, v in list(params.items())[:32]}
    parameter = _clip(details.get("parameter"), 100)
    cluster = _clip(event.cluster_id, 100)
    summary = f"{kind.replace('_', ' ')} blocked: tool {_clip(tool, 100) or '?'}"
    summary += f" parameter {parameter!r}" if parameter else ""
    summary += f" on cluster {cluster}" if cluster else ""
    return SecurityAlert(
        alert_id=event.id, kind=kind, severity=SEVERITY.get(kind, "high"), at=event.at, summary=summary,
        tool=_clip(tool, 100), parameter=parameter, parameters=params, reason=_clip(event.reason, 1000),
        layer=_clip(details.get("layer"), 40), task_id=_clip(details.get("task_id"), 200), cluster_id=cluster,
        who=Who(actor=_clip(event.actor, 200), role=_clip(event.role, 40), source_ip=_clip(event.source_ip, 64),
                transport=_clip(details.get("transport"), 40)))


def webhook_alert_request(url: str, secret: str, alert: SecurityAlert, now: float | None = None) -> HttpRequest:
    """Signed exactly like report webhooks (sinks/webhook.py), so one receiver verifies both."""
    body = json.dumps(alert.model_dump(mode="json"), separators=(",", ":"), ensure_ascii=False).encode()
    ts = str(int(time.time() if now is None else now))
    return HttpRequest(kind="webhook", url=url, body=body, headers={
        "Content-Type": "application/json", TIMESTAMP_HEADER: ts, SIGNATURE_HEADER: sign(secret, ts, body),
        ALERT_ID_HEADER: alert.alert_id, EVENT_HEADER: "security_alert", "User-Agent": "Aetherius-Webhook/1"})


def _mrkdwn(text: str) -> str:
    """Attacker-chosen text made inert for Slack: no mentions/links (`<!channel>`), no code-span breakout."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("`", "'")


def slack_alert_blocks(alert: SecurityAlert) -> list[dict[str, Any]]:
    fields = [("Tool", alert.tool), ("Parameter", alert.parameter), ("Task", alert.task_id),
              ("Cluster", alert.cluster_id), ("Who", f"{alert.who.actor} (role {alert.who.role or '?'})"),
              ("Source", alert.who.source_ip or alert.who.transport)]
    params = json.dumps(alert.parameters, ensure_ascii=False, indent=1)
    return [
        {"type": "header", "text": {"type": "plain_text", "emoji": True,
                                    "text": f"🚨 Security alert ({alert.severity}): {alert.kind.replace('_', ' ')}"[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _mrkdwn(f"*Blocked.* {alert.reason}")[:2900]}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f"*{name}*\n{_mrkdwn(value or '-')}"[:1900]}
                                       for name, value in fields]},
        {"type": "section", "text": {"type": "mrkdwn", "text": ("*Request*\n```" + _mrkdwn(params)[:2800] + "```")}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": _mrkdwn(
            f"audit event {alert.alert_id} · {alert.at.isoformat()} · the task that asked was stopped "
            "by the step loop; see the audit log for the full trail")[:2900]}]},
    ]


def slack_alert_request(url: str, alert: SecurityAlert) -> HttpRequest:
    body = {"text": _mrkdwn(f"Security alert ({alert.severity}): {alert.summary}")[:3000],
            "blocks": slack_alert_blocks(alert)}
    return HttpRequest(kind="slack", url=url, body=json.dumps(body, ensure_ascii=False).encode(),
                       headers={"Content-Type": "application/json"})


def alert_request(dest: Destination, alert: SecurityAlert) -> HttpRequest:
    url = dest.url.get_secret_value()
    if dest.type == "slack":
        return slack_alert_request(url, alert)
    if dest.type == "webhook":
        assert dest.secret is not None  # enforced by Destination
        return webhook_alert_request(url, dest.secret.get_secret_value(), alert)
    raise ValueError(f"security alerts cannot go to a {dest.type} destination")  # refused by SinksSettings


# ---- I/O -----------------------------------------------------------------------------------------

class SecurityAlerter:
    """Turns audit records into SOC alerts. `handle` never raises for bad data or a failed delivery; it
    raises only when a dead letter cannot be written - then the record is not committed and is read again."""

    def __init__(self, settings: SinksSettings, *, dead_letter: DeadLetterSink, source_topic: str = "audit",
                 ledger: Ledger | None = None, session_factory: Any = None, sleep: Any = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> None:
        self.settings = settings
        self.clock = clock
        self.deliverer = Deliverer(settings.retry, ledger=ledger or DeliveredLedger(), dead_letter=dead_letter,
                                   session_factory=session_factory, sleep=sleep, source_topic=source_topic)

    async def handle(self, key: bytes | None, value: bytes | None) -> dict[str, str]:
        """One audit record: destination -> outcome ({} when it is not an alert)."""
        try:
            event = AuditEvent.from_bytes(value or b"")
        except (ValidationError, ValueError) as exc:
            # The ClickHouse sink counts and logs invalid audit records; nothing here can tell if it was ours.
            ALERTS.labels(destination="", outcome="invalid").inc()
            log.warning("skipped an invalid audit record: %s", str(exc).splitlines()[0][:200], extra={"stage": "security-alert"})
            return {}
        verdict = alert_verdict(event, self.clock(), self.settings.security_alerts.max_age_seconds)
        if verdict != "alert":
            if verdict == "stale":
                ALERTS.labels(destination="", outcome="stale").inc()
                log.info("security event %s is older than max_age_seconds: not alerted", event.id)
            return {}
        alert = security_alert(event)
        outcome: dict[str, str] = {}
        for name in self.settings.security_alerts.destinations:
            dest = self.settings.destinations[name]
            if not dest.enabled:
                outcome[name] = "disabled"
            else:
                outcome[name] = await self.deliverer.deliver_record(
                    name, alert_request(dest, alert), record_id=event.id, key=key or event.id.encode(),
                    value=value or b"", task_id=alert.task_id, what="security alert", stage="security-alert")
            ALERTS.labels(destination=name, outcome=outcome[name]).inc()
        return outcome

    async def run(self, bootstrap: str, topic: str, group_id: str, *, retry_seconds: float = 2.0) -> None:
        """Consume `topic` in group `group_id` forever, committing each record once handled (at-least-once:
        a crash re-reads what was not committed; the ledger and `alert_id` absorb the repeat).

        A new group starts at the beginning of the topic, so events raised before this role first ran are
        alerted too (up to `max_age_seconds` old)."""
        while True:
            consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group_id,
                                        enable_auto_commit=False, auto_offset_reset="earliest",
                                        max_poll_records=20, max_poll_interval_ms=15 * 60 * 1000)
            try:
                await consumer.start()
                while True:
                    batches = await consumer.getmany(timeout_ms=1000)
                    for tp, messages in batches.items():
                        for message in messages:
                            if await self.handle(message.key, message.value):
                                await consumer.commit({tp: message.offset + 1})  # a delivered alert is never resent
                        await consumer.commit({tp: messages[-1].offset + 1})
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - uncommitted records are read again after the retry
                log.exception("security alert consumer failed; retrying in %.0fs", retry_seconds)
                await asyncio.sleep(retry_seconds)
            finally:
                try:
                    await consumer.stop()
                except Exception:  # noqa: BLE001 - stopping a broken consumer may fail too
                    pass


def register(app: Any, settings: Any, topics: Any) -> SecurityAlerter | None:
    """Run the alerter as a task of the sink role's Faust app (its dead letters go to the deadletter topic).
    None, with a warning, when no SOC destination is configured."""
    from schemas.topics import topic_name

    sinks: SinksSettings = settings.sinks
    if not sinks.security_alerts.destinations:
        log.warning("no SOC destination configured (sinks.security_alerts.destinations): security events are "
                    "blocked, audited and counted, but nobody is alerted; see docs/security.md")
        return None
    audit_topic = topic_name(settings.kafka.topic_prefix, "audit")
    deadletters = topics["deadletter"]

    async def dead_letter(record: DeadLetter) -> None:
        await deadletters.send(key=record.source_topic.encode(), value=record.to_bytes())

    alerter = SecurityAlerter(sinks, dead_letter=dead_letter, source_topic=audit_topic)
    group_id = f"{settings.worker.app_id}-security-alerts"

    async def security_alerts() -> None:
        await alerter.run(settings.kafka.bootstrap, audit_topic, group_id)

    app.task(security_alerts)
    return alerter
