"""The webhook bridge: Alertmanager (and manual requests) in, one raw-alert record per alert out.

    POST /api/v1/webhook/alertmanager   Alertmanager v4 payload  -> 200 {accepted, fingerprints}
    POST /api/v1/tasks                  manual diagnosis request -> 202 {fingerprint}
    GET  /health/live, /health/ready, /metrics

The answer is 200/202 only after the broker acknowledged every record, so Alertmanager's retry is our
delivery guarantee: a 4xx tells it the payload is wrong (it will not fix itself), a 503 tells it to retry.
Everything is validated before anything is sent, so bad input never produces a partial batch.
The parse/build functions are pure; the handlers only wire them to the producer.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from aiohttp import web
from prometheus_client import Counter, Histogram
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from aetherius.http.auth import security_middlewares
from aetherius.http.rbac import PRINCIPAL, Principal, require
from aetherius.http.suspensions import follow_suspensions, principal_subject
from aetherius.http.health import add_health_routes
from aetherius.http.openapi import add_openapi_route
from aetherius.metrics import REGISTRY
from schemas.alertmanager import Alert, AlertmanagerPayload, RawAlert
from schemas.audit import AuditEvent
from schemas.base import utcnow
from schemas.requester import Requester
from schemas.settings import Settings
from schemas.suspension import Suspension
from schemas.topics import topic_name
from agents.redaction import redact_text
from streams.admission import LIMITS, AdmissionError, check_alert, check_manual, check_payload_fields, redacted_alert
from streams.fingerprint import alert_fingerprint, labels_fingerprint, record_id
from streams.producer import OutRecord, ProduceError, Producer, audit_publisher, connect_with_retry
from streams.suspensions import TOPIC as SUSPENSIONS_TOPIC
from streams.suspensions import requester_suspender

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/api/v1/webhook/alertmanager"
TASKS_PATH = "/api/v1/tasks"
MANUAL_ALERTNAME = "ManualDiagnosis"

ALERTS_RECEIVED = Counter("aetherius_alerts_received_total", "Alerts accepted by the bridge (broker acknowledged)",
                          ["source"], registry=REGISTRY)
ALERTS_REJECTED = Counter("aetherius_alerts_rejected_total",
                          "Refused by the bridge: 1 per bad request; per alert when valid alerts could not be produced",
                          ["reason"], registry=REGISTRY)
REQUEST_SECONDS = Histogram("aetherius_webhook_request_seconds", "Bridge request latency, answer included",
                            ["route", "status"], registry=REGISTRY,
                            buckets=(.001, .0025, .005, .01, .02, .05, .1, .25, .5, 1, 2.5, 5, 10))


# ---------------------------------------------------------------- pure: parsing and building records

class Rejection(Exception):
    """Refused input: HTTP status, a metric reason, a message and the field at fault."""

    def __init__(self, status: int, reason: str, error: str, field: str = "body",
                 details: list[dict[str, str]] | None = None, alerts: int = 1) -> None:
        super().__init__(error)
        self.status, self.reason, self.error, self.field, self.details = status, reason, error, field, details
        self.alerts = alerts  # what the rejected-alerts metric counts: 1 for a bad request, n when Kafka failed

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"error": self.error, "field": self.field}
        if self.details and len(self.details) > 1:
            out["errors"] = self.details
        return out


def field_path(loc: tuple[int | str, ...]) -> str:
    """('alerts', 2, 'labels') -> 'alerts[2].labels'; () -> 'body'."""
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "body"


def _describe(err: Any) -> dict[str, str]:
    path = field_path(tuple(err["loc"]))
    if "alertname is required" in err["msg"]:  # the schema's own validator: name the label itself
        return {"field": f"{path}.alertname", "error": "label alertname is required and must not be empty"}
    return {"field": path, "error": err["msg"]}


def _validate(model: type[BaseModel], body: bytes) -> Any:
    if not body.strip():
        raise Rejection(400, "empty_body", "request body is empty")
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        if errors[0]["type"] == "json_invalid":
            raise Rejection(400, "invalid_json", f"body is not valid JSON: {errors[0]['msg']}") from None
        details = [_describe(e) for e in errors[:20]]
        raise Rejection(400, "invalid_payload", details[0]["error"], details[0]["field"], details) from None


def parse_alertmanager(body: bytes) -> AlertmanagerPayload:
    return _validate(AlertmanagerPayload, body)


def record_for(raw: RawAlert, topic: str, max_bytes: int, field: str) -> OutRecord:
    """One raw alert as a record keyed by its fingerprint; too big for the broker -> 413 before anything is sent."""
    value = raw.to_bytes()
    if len(value) > max_bytes:
        raise Rejection(413, "too_large", f"alert is {len(value)} bytes serialised; the limit is {max_bytes}", field)
    rid = record_id(raw.fingerprint, raw.alert.startsAt)
    source = b"manual" if raw.alert.labels.get("alertname") == MANUAL_ALERTNAME else b"alertmanager"
    return OutRecord(topic=topic, key=raw.fingerprint.encode(), value=value,
                     headers=[("record-id", rid.encode()), ("source", source)])


def admitted(payload: AlertmanagerPayload) -> AlertmanagerPayload:
    """The payload within its budgets and naming objects by the Kubernetes rules (streams/admission.py), with
    labels, annotations and URLs redacted once, here; or a Rejection naming the first field that is not."""
    try:
        check_payload_fields(payload.receiver, payload.externalURL, payload.groupKey, len(payload.alerts))
        for i, alert in enumerate(payload.alerts):
            check_alert(alert, f"alerts[{i}]")
    except AdmissionError as exc:
        raise Rejection(exc.status, "too_large" if exc.status == 413 else "invalid_payload", exc.message,
                        exc.field) from None
    return payload.model_copy(update={"alerts": [redacted_alert(a) for a in payload.alerts],
                                      "externalURL": redact_text(payload.externalURL)})


def alertmanager_records(payload: AlertmanagerPayload, topic: str, max_bytes: int,
                         received_at: datetime) -> list[OutRecord]:
    """Every alert of the payload as a record, or a Rejection for the whole payload."""
    payload = admitted(payload)
    return [
        record_for(RawAlert(fingerprint=alert_fingerprint(alert), alert=alert, receiver=payload.receiver,
                            external_url=payload.externalURL, received_at=received_at),
                   topic, max_bytes, f"alerts[{i}]")
        for i, alert in enumerate(payload.alerts)
    ]


# The label normalize reads the target from (streams/normalize.RESOURCE_LABELS), by the kind a user types.
KIND_LABELS: dict[str, str] = {
    "pod": "pod", "deployment": "deployment", "statefulset": "statefulset", "daemonset": "daemonset",
    "job": "job_name", "hpa": "horizontalpodautoscaler", "horizontalpodautoscaler": "horizontalpodautoscaler",
    "pvc": "persistentvolumeclaim", "persistentvolumeclaim": "persistentvolumeclaim", "service": "service",
    "node": "node",
}


class ManualRequest(BaseModel):
    """A user asking for a diagnosis of one resource (POST /api/v1/tasks, `aetherius trigger`)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    cluster_id: str = Field(min_length=1, max_length=253)  # the Kubernetes rules: check_manual_names
    namespace: str = Field(default="", max_length=253)  # empty for cluster-scoped kinds (node)
    kind: str
    name: str = Field(min_length=1, max_length=253)
    reason: str = Field(default="", max_length=LIMITS["reason"])
    severity: Literal["critical", "warning", "info"] = "warning"

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, kind: str) -> str:
        kind = kind.strip().lower()
        if kind not in KIND_LABELS:
            raise ValueError(f"kind must be one of {sorted(KIND_LABELS)}")
        return kind


def check_manual_names(req: ManualRequest) -> None:
    """The request's names by the Kubernetes rules and its reason's budget; AdmissionError naming the field
    (with `attempt` set when a name is a write command, an escalation or shell syntax: the person's attempt)."""
    check_manual(req.cluster_id, req.namespace, req.kind, req.name, req.reason)


def requester_of(principal: Principal, via: Literal["api", "cli"] = "api") -> Requester:
    """Who asked, as the record carries it: the principal's name and the role its request was authorised and
    audited with (for a multi-role credential the most privileged one, `rbac.primary_role`). The name is cut to
    the 200 characters an audit actor keeps; an IdP that sent an empty name claim still gets a request through."""
    return Requester(subject=principal_subject(principal), role=principal.role, via=via)  # type: ignore[arg-type]


def manual_raw_alert(req: ManualRequest, now: datetime, requester: Requester) -> RawAlert:
    """The request as a raw alert, so it flows through the same normalize/dedup/priority pipeline.

    The fingerprint covers the resource, not the time and not the requester: a double click inside the dedup
    window is one task - and so are two people asking for the same resource inside the window; that task
    carries the FIRST requester and runs its tool calls with the first requester's role (schemas/requester.py).
    """
    labels = {"alertname": MANUAL_ALERTNAME, "cluster_id": req.cluster_id, KIND_LABELS[req.kind]: req.name,
              "severity": req.severity}
    if req.namespace:
        labels["namespace"] = req.namespace
    annotations = {"summary": req.reason or f"manual diagnosis of {req.kind} {req.name}", "requested_by": requester.via}
    fingerprint = labels_fingerprint(labels)
    alert = redacted_alert(Alert(labels=labels, annotations=annotations, startsAt=now, fingerprint=fingerprint))
    return RawAlert(fingerprint=fingerprint, alert=alert, receiver="manual", received_at=now, requested_by=requester)


# ---------------------------------------------------------------- auth (swap for aetherius/http/auth.py)

def _reject(rej: Rejection, headers: dict[str, str] | None = None) -> web.Response:
    ALERTS_REJECTED.labels(rej.reason).inc(rej.alerts)
    return web.json_response(rej.body(), status=rej.status, headers=headers)


def _is_json(content_type: str) -> bool:
    return content_type == "application/json" or (content_type.startswith("application/") and
                                                  content_type.endswith("+json"))


async def _no_audit(_event: AuditEvent) -> None:
    return None


@dataclass
class Bridge:
    settings: Settings
    producer: Producer
    ack_timeout: float
    audit: Callable[[AuditEvent], Awaitable[None]] = _no_audit

    @property
    def raw_topic(self) -> str:
        return topic_name(self.settings.kafka.topic_prefix, "alerts.raw")

    async def _body(self, request: web.Request) -> bytes:
        if not _is_json(request.content_type):
            raise Rejection(415, "unsupported_media_type",
                            f"content type must be application/json, not {request.content_type!r}", "Content-Type")
        limit = self.settings.webhook.max_body_bytes
        if request.content_length is not None and request.content_length > limit:
            raise Rejection(413, "too_large", f"body is {request.content_length} bytes; the limit is {limit}")
        try:
            return await request.read()  # also bounded by client_max_size for chunked bodies
        except web.HTTPRequestEntityTooLarge:
            raise Rejection(413, "too_large", f"body exceeds the limit of {limit} bytes") from None

    async def _produce(self, records: list[OutRecord]) -> None:
        if not self.producer.started:
            raise Rejection(503, "kafka_unavailable", "kafka is not connected; retry later", "kafka",
                            alerts=len(records))
        try:
            await self.producer.send_all_and_wait(records, timeout=self.ack_timeout)
        except ProduceError as exc:
            log.warning("produce failed for %d record(s): %s", len(records), exc, extra={"topic": self.raw_topic})
            raise Rejection(503, "kafka_unavailable", f"kafka did not acknowledge: {exc}", "kafka",
                            alerts=len(records)) from None

    async def alertmanager(self, request: web.Request) -> web.Response:
        try:
            payload = parse_alertmanager(await self._body(request))
            if payload.truncatedAlerts:  # Alertmanager's max_alerts dropped some: they never reach us
                log.warning("Alertmanager truncated %d alert(s) from group %s; raise max_alerts on the receiver",
                            payload.truncatedAlerts, payload.groupKey)
            records = alertmanager_records(payload, self.raw_topic, self.producer.max_request_size - 512, utcnow())
            await self._produce(records)
        except Rejection as rej:
            return _reject(rej, {"Retry-After": "5"} if rej.status == 503 else None)
        ALERTS_RECEIVED.labels("alertmanager").inc(len(records))
        return web.json_response({"accepted": len(records), "fingerprints": [r.key.decode() for r in records]})

    async def manual(self, request: web.Request) -> web.Response:
        try:
            req = _validate(ManualRequest, await self._body(request))
            try:
                check_manual_names(req)
            except AdmissionError as exc:
                if exc.attempt is not None:
                    await self.on_attempt(request, req, exc)
                raise Rejection(400, "invalid_payload", exc.message, exc.field) from None
            raw = manual_raw_alert(req, utcnow(), requester_of(request[PRINCIPAL]))  # set by the auth middleware
            await self._produce([record_for(raw, self.raw_topic, self.producer.max_request_size - 512, "body")])
        except Rejection as rej:
            return _reject(rej, {"Retry-After": "5"} if rej.status == 503 else None)
        ALERTS_RECEIVED.labels("manual").inc()
        log.info("manual diagnosis requested for %s %s/%s by %s (%s)", req.kind, req.namespace, req.name,
                 raw.requested_by.subject, raw.requested_by.role,  # type: ignore[union-attr]
                 extra={"cluster_id": req.cluster_id, "fingerprint": raw.fingerprint})
        return web.json_response({"accepted": 1, "fingerprint": raw.fingerprint}, status=202)

    async def _audit_quietly(self, event: AuditEvent) -> None:
        try:
            await self.audit(event)
        except Exception as exc:  # noqa: BLE001 - an audit sink's trouble never turns a refusal into a 500
            log.error("audit event %s not recorded: %s", event.action, type(exc).__name__)

    async def on_attempt(self, request: web.Request, req: ManualRequest, exc: AdmissionError) -> None:
        """A person's own request named a write command, an escalation or shell syntax as an object (SRS §5.8.5):
        refused like any bad name, and also audited as `security.<kind>` (so the SOC is alerted) and the person
        suspended. This is the one place a person's request can be an attempt: names are checked here, so no
        task carries one to the gateway. Never raises - the refusal stands whatever the broker does."""
        kind, what = exc.attempt  # type: ignore[misc]
        principal: Principal = request[PRINCIPAL]
        requester = requester_of(principal)
        event = AuditEvent(actor=requester.subject, role=principal.role, action=f"security.{kind}",
                           resource=f"{request.method} {request.path}", cluster_id=redact_text(req.cluster_id)[:100],
                           result="rejected", reason=redact_text(f"field {exc.field} {what}")[:1000],
                           source_ip=request.remote or "",
                           details={"parameter": exc.field, "layer": "entry", "security_event": kind, "transport": "http",
                                    "parameters": {exc.field: redact_text(str(getattr(req, exc.field, "")))[:300]}})
        log.warning("security event %s in a manual request by %s: field %s %s", kind, requester.subject, exc.field, what)
        await self._audit_quietly(event)
        suspend = requester_suspender(self._publish_suspension, self._audit_quietly,
                                      self.settings.security.suspensions.seconds)
        await suspend(requester, kind, f"manual request: field {exc.field} {what}", cluster_id=event.cluster_id,
                      security_audit_event_id=event.id)

    async def _publish_suspension(self, entry: Suspension) -> None:
        topic = topic_name(self.settings.kafka.topic_prefix, SUSPENSIONS_TOPIC)
        await self.producer.send_all_and_wait([OutRecord(topic=topic, key=entry.subject.encode(),
                                                         value=entry.to_bytes())], timeout=self.ack_timeout)


BRIDGE = web.AppKey("bridge", Bridge)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def _timing(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.perf_counter()
    status = 500
    try:
        resp = await handler(request)
        status = resp.status
        return resp
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        route = request.match_info.route.resource.canonical if request.match_info.route.resource else "other"
        REQUEST_SECONDS.labels(route, str(status)).observe(time.perf_counter() - started)


def create_app(settings: Settings, producer: Producer, *, ack_timeout: float = 5.0,
               manage_producer: bool = True, freeze_gc: bool = True,
               audit_sink: Callable[[AuditEvent], Awaitable[None]] | None = None) -> web.Application:
    """The bridge as an aiohttp app; mount more routes on it before running.

    With `manage_producer` the app connects the producer in the background at start-up (retrying, so the
    bridge comes up before Kafka and reports not-ready meanwhile) and stops it at clean-up.
    With `freeze_gc`, everything alive at start-up (modules, pydantic schemas, aiokafka) is moved out of
    the collector's view (gc.freeze), so a full collection scans only request garbage: measured, the
    bridge's gen-2 pause went from ~60 ms (a p99 spike at 500 req/s) to under 13 ms.
    """
    audit = audit_sink or audit_publisher(producer, topic_name(settings.kafka.topic_prefix, "audit"))
    bridge = Bridge(settings, producer, ack_timeout, audit)
    # The one security layer (aetherius/http): Alertmanager's bearer/basic credential on the webhook (role
    # alertmanager), API keys or OIDC tokens elsewhere; every call authenticated, authorised and audited.
    app = web.Application(middlewares=[_timing, *security_middlewares(settings.security, audit, settings.webhook)],
                          client_max_size=settings.webhook.max_body_bytes)
    app[BRIDGE] = bridge
    follow_suspensions(app, settings.kafka.bootstrap, settings.kafka.topic_prefix)  # SRS §5.8.5: refuse them here too
    app.router.add_post(WEBHOOK_PATH, require("alerts:ingest")(bridge.alertmanager))
    app.router.add_post(TASKS_PATH, require("tasks:create")(bridge.manual))
    add_health_routes(app, lambda: producer.ready, lambda: {"kafka": producer.ready})
    add_openapi_route(app)  # like every HTTP role: its own routes, to any human role's credential
    if manage_producer:
        app.cleanup_ctx.append(_producer_lifecycle(producer))
    if freeze_gc:
        app.on_startup.append(_freeze_gc)
    return app


async def _freeze_gc(_app: web.Application) -> None:
    gc.collect()
    gc.freeze()


def _producer_lifecycle(producer: Producer) -> Callable[[web.Application], Any]:
    async def lifecycle(_app: web.Application):  # noqa: ANN202 - aiohttp cleanup context
        stop = asyncio.Event()
        connecting = asyncio.create_task(connect_with_retry(producer, stop))
        yield
        stop.set()
        connecting.cancel()
        await asyncio.gather(connecting, return_exceptions=True)
        await producer.stop()
    return lifecycle
