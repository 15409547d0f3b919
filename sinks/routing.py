"""Which destinations get a report (pure), and the reports-topic consumer that delivers to them.

`route()` is the rule evaluation; `ReportDispatcher` routes, renders and delivers with retries,
idempotency and dead letters (sinks.delivery); `register(app, settings)` adds the Faust agent.
"""

from __future__ import annotations

import fnmatch
import logging
from typing import Any, Awaitable, Callable

from pydantic import BaseModel

from schemas.deadletter import DeadLetter
from schemas.result import DiagnosticResult
from schemas.signal import Priority
from schemas.sinks_settings import RouteRule, SinksSettings

log = logging.getLogger(__name__)


class RouteKey(BaseModel):
    cluster: str = ""
    namespace: str = ""
    priority: Priority | None = None


def route_key(result: DiagnosticResult) -> RouteKey:
    """Cluster from the result; namespace/priority from the result when it carries them (see the
    lead's schema note), else the namespace the diagnosis steps looked at."""
    namespace = getattr(result, "namespace", "") or ""
    if not namespace:
        for step in result.steps:
            ns = step.input.parameters.get("namespace")
            if isinstance(ns, str) and ns:
                namespace = ns
                break
    priority = getattr(result, "priority", None)
    return RouteKey(cluster=result.cluster_id, namespace=namespace, priority=priority)


def _matches(patterns: list[str], value: str) -> bool:
    return not patterns or any(fnmatch.fnmatchcase(value, p) for p in patterns)


def rule_matches(rule: RouteRule, key: RouteKey) -> bool:
    if not _matches(rule.clusters, key.cluster) or not _matches(rule.namespaces, key.namespace):
        return False
    return not rule.priorities or (key.priority is not None and key.priority in rule.priorities)


def route(key: RouteKey, rules: list[RouteRule], default: list[str]) -> list[str]:
    """Destinations in rule order, without duplicates; `default` when no rule matched."""
    out: list[str] = []
    matched = False
    for rule in rules:
        if rule_matches(rule, key):
            matched = True
            out += [d for d in rule.destinations if d not in out]
            if not rule.continue_:
                break
    return out if matched else list(default)


DeadLetterSink = Callable[[DeadLetter], Awaitable[None]]


class ReportDispatcher:
    """Routes one report and delivers it to each destination; never raises for a delivery failure."""

    def __init__(self, settings: SinksSettings, *, dead_letter: DeadLetterSink, ledger=None,  # noqa: ANN001
                 session_factory=None, sleep=None, source_topic: str = "reports") -> None:  # noqa: ANN001
        from sinks.delivery import DeliveredLedger, Deliverer

        self._settings = settings
        self._ledger = ledger or DeliveredLedger()
        self._deliverer = Deliverer(settings.retry, ledger=self._ledger, dead_letter=dead_letter,
                                    session_factory=session_factory, sleep=sleep, source_topic=source_topic)

    async def dispatch(self, result: DiagnosticResult, raw: bytes | None = None) -> dict[str, str]:
        """destination name -> "delivered" | "duplicate" | "dead-lettered" | "disabled" | "unknown"."""
        from sinks.delivery import build_request

        names = route(route_key(result), self._settings.routes, self._settings.default)
        outcome: dict[str, str] = {}
        for name in names:
            dest = self._settings.destinations.get(name)
            if dest is None:
                outcome[name] = "unknown"
                continue
            if not dest.enabled:
                outcome[name] = "disabled"
                continue
            request = build_request(dest, result, public_url=self._settings.public_url)
            outcome[name] = await self._deliverer.deliver(name, request, result, raw)
        return outcome


def register(app: Any, settings: Any, *, dead_letter: DeadLetterSink | None = None) -> ReportDispatcher:
    """Add the reports-topic agent to a Faust app: raw bytes in, validated, routed, delivered.

    Deliveries are awaited inline: a slow destination slows this agent only (run the sink role as
    its own worker). Bad records and exhausted deliveries go to the dead-letter topic.
    """
    from schemas.topics import topic_name

    prefix = settings.kafka.topic_prefix
    sinks_settings: SinksSettings = settings.sinks
    dl_topic = app.topic(topic_name(prefix, "deadletter"), key_type=bytes, value_type=bytes,
                         key_serializer="raw", value_serializer="raw")

    async def _dead_letter(record: DeadLetter) -> None:
        await dl_topic.send(key=record.source_topic.encode(), value=record.to_bytes())

    sink_dl = dead_letter or _dead_letter
    reports_topic = topic_name(prefix, "reports")
    from sinks.delivery import TableLedger

    delivered = app.Table("delivered-reports", default=None, partitions=settings.kafka.partitions)
    dispatcher = ReportDispatcher(sinks_settings, dead_letter=sink_dl, source_topic=reports_topic,
                                  ledger=TableLedger(delivered))
    channel = app.topic(reports_topic, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")

    async def deliver_reports(stream: Any) -> None:
        async for event in stream.events():
            key, value = event.key, event.value
            try:
                result = DiagnosticResult.from_bytes(value)
            except ValueError as exc:
                await _safe(sink_dl, DeadLetter.of(topic=reports_topic, key=key, value=value, error=str(exc),
                                                   stage="sink:validate", partition=event.message.partition,
                                                   offset=event.message.offset))
                continue
            try:
                await dispatcher.dispatch(result, value)
            except Exception as exc:  # a bug: keep the agent alive and the report recoverable
                log.exception("report dispatch failed", extra={"task_id": result.task_id, "stage": "sink"})
                await _safe(sink_dl, DeadLetter.of(topic=reports_topic, key=key, value=value, error=repr(exc),
                                                   stage="sink:dispatch"))

    app.agent(channel, name="aetherius.sinks.reports")(deliver_reports)
    return dispatcher


async def _safe(sink: DeadLetterSink, record: DeadLetter) -> None:
    try:
        await sink(record)
    except Exception:
        log.exception("could not write a dead letter for %s", record.stage)
