"""The suspension list on Kafka: who publishes it, and how every API process keeps a copy.

    bridge / trigger API (a person's own request was an attempt) --Suspension--> security.suspensions [subject]
    admin DELETE /api/v1/security/suspensions/{subject}       --lifted------> security.suspensions [subject]
    every HTTP process (worker, sink, webhook bridge): SuspensionFollower -> SuspensionBook -> auth middleware
    `aetherius trigger`: read_suspensions (the topic once, to its end) before it produces

The topic is compacted and keyed by subject, so it holds the newest record per person: a follower reads it from
the beginning without a consumer group (every process needs ALL of it, not a share), then keeps following.

Kafka down at start or later: the process serves anyway with what it has (fail open), logs loudly and shows
`aetherius_suspensions_synced 0`. Why open: the suspension is the fourth response to an event whose first three
(blocked, audited, task stopped) do not depend on it, and every action that could raise another event (a new
task) needs Kafka itself; closing would turn a broker outage into an API outage for admins and auditors too,
right when they investigate.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from datetime import datetime
from typing import Awaitable, Callable

from prometheus_client import Counter, Gauge
from pydantic import ValidationError

from aetherius.metrics import REGISTRY
from schemas.audit import AuditEvent
from schemas.base import utcnow
from schemas.suspension import Suspension, is_suspended, suspension_for
from schemas.requester import Requester

log = logging.getLogger(__name__)

TOPIC = "security.suspensions"

PUBLISHED = Counter("aetherius_suspensions_published_total",
                    "Suspensions of a person after a security event, by outcome (published / failed)", ["outcome"],
                    registry=REGISTRY)
INVALID = Counter("aetherius_suspension_records_invalid_total", "Records on the suspension topic that did not parse",
                  registry=REGISTRY)
ACTIVE = Gauge("aetherius_suspensions_active", "Subjects suspended right now, as this process knows them",
               registry=REGISTRY)
SYNCED = Gauge("aetherius_suspensions_synced",
               "1 once this process has read the whole suspension topic; 0 while it cannot (it serves anyway)",
               registry=REGISTRY)

Publish = Callable[[Suspension], Awaitable[None]]
AuditSink = Callable[[AuditEvent], Awaitable[None]]


# ---------------------------------------------------------------- the in-memory list (no I/O)

class SuspensionBook:
    """subject -> newest Suspension record, fed record by record; `active` is the decision the auth layer asks."""

    def __init__(self) -> None:
        self._entries: dict[str, Suspension] = {}
        self.synced = False  # the whole topic has been read at least once

    def apply(self, key: bytes | None, value: bytes | None) -> None:
        """One record of the topic. A tombstone forgets the subject; a record that does not parse is counted and
        skipped (a bad record must not stop the follower, nor lift or add anything)."""
        if value is None:
            if key:
                self._entries.pop(key.decode(errors="replace"), None)
            return
        try:
            entry = Suspension.from_bytes(value)
        except ValidationError as exc:
            INVALID.inc()
            log.error("suspension record skipped (key %r): %s", key, exc.errors(include_url=False)[0]["msg"])
            return
        self._entries[entry.subject] = entry

    def put(self, entry: Suspension) -> None:
        self._entries[entry.subject] = entry

    def get(self, subject: str) -> Suspension | None:
        return self._entries.get(subject)

    def active(self, subject: str, now: datetime) -> Suspension | None:
        entry = self._entries.get(subject)
        return entry if is_suspended(entry, now) else None

    def all(self) -> list[Suspension]:
        return sorted(self._entries.values(), key=lambda e: e.created_at, reverse=True)

    def count_active(self, now: datetime) -> int:
        return sum(1 for e in self._entries.values() if is_suspended(e, now))


# ---------------------------------------------------------------- following the topic

class SuspensionFollower:
    """Reads the whole topic into a `SuspensionBook`, then follows it. `start()` never waits for Kafka: the
    connection is made (and re-made, with back-off) in a background task."""

    def __init__(self, bootstrap: str, topic: str, book: SuspensionBook | None = None, *,
                 retry_seconds: float = 2.0, max_retry_seconds: float = 30.0) -> None:
        self.bootstrap, self.topic = bootstrap, topic
        self.book = book or SuspensionBook()
        self.retry_seconds, self.max_retry_seconds = retry_seconds, max_retry_seconds
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="suspension-follower")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _run(self) -> None:
        delay = self.retry_seconds
        while True:
            try:
                await self._follow()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - any broker trouble: keep serving with what we have, retry
                SYNCED.set(0)
                log.error("suspension list of %s not followed (%s: %s): serving with the %d record(s) known; "
                          "a suspension published meanwhile is NOT enforced here (retry in %.0f s)",
                          self.topic, type(exc).__name__, exc, len(self.book.all()), delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.max_retry_seconds)

    async def _follow(self) -> None:
        from streams.record_replay import follow  # TopicMissing until a role created the topic

        def after_poll(caught_up: bool) -> None:
            if caught_up and not self.book.synced:
                self.book.synced = True
                log.info("suspension list read: %d record(s)", len(self.book.all()))
            SYNCED.set(1 if self.book.synced else 0)
            ACTIVE.set(self.book.count_active(utcnow()))

        await follow(self.bootstrap, self.topic, lambda rec: self.book.apply(rec.key, rec.value), after_poll,
                     request_timeout_ms=10_000)

async def read_suspensions(bootstrap: str, topic: str, timeout: float) -> SuspensionBook | None:
    """The list as the topic holds it now (read once, to the end offsets) - for a short-lived process such as
    `aetherius trigger`. None when Kafka did not answer in `timeout` seconds."""
    from streams.record_replay import consume

    book = SuspensionBook()

    async def read() -> None:
        async for rec in consume(bootstrap, topic, snapshot=True):
            book.apply(rec.key, rec.value)

    try:
        await asyncio.wait_for(read(), timeout)
    except Exception as exc:  # noqa: BLE001 - the caller decides what "unknown" means
        log.warning("suspension list of %s not read: %s: %s", topic, type(exc).__name__, exc)
        return None
    book.synced = True
    return book


# ---------------------------------------------------------------- publishing

def requester_suspender(publish: Publish, audit: AuditSink, seconds: int) -> Callable[..., Awaitable[Suspension | None]]:
    """Suspend a person whose own request was an attempt (SRS §5.8.5) and audit it as `suspension.start`.

    Only a person's own request can get them suspended: the entry points judge names where they enter
    (streams/admission.py), so a task never carries an attempt to the gateway, and a tool call the rule engine or
    a model planned is nobody's attempt - its task stops, the SOC hears of it, no person is suspended. It never
    raises - a broker hiccup must not turn the refusal into an error; a failure is logged and counted."""

    async def suspend(requester: Requester | None, security_event: str, reason: str, *, cluster_id: str = "",
                      task_id: str = "", security_audit_event_id: str = "") -> Suspension | None:
        try:
            now = utcnow()
            event = AuditEvent(actor="security-response", action="suspension.start", cluster_id=cluster_id,
                               result="ok")
            entry = suspension_for(requester, seconds=seconds, now=now, security_event=security_event,
                                   reason=reason, task_id=task_id, cluster_id=cluster_id, audit_event_id=event.id)
            if entry is None:
                return None
            await publish(entry)
            PUBLISHED.labels("published").inc()
        except Exception:  # noqa: BLE001 - see the docstring
            PUBLISHED.labels("failed").inc()
            log.exception("could not suspend %s", getattr(requester, "subject", "?"))
            return None
        details = {"subject": entry.subject, "until": entry.until.isoformat(), "task_id": task_id,
                   "security_event": security_event, "seconds": seconds}
        if security_audit_event_id:
            details["security_audit_event_id"] = security_audit_event_id
        try:
            await audit(event.model_copy(update={
                "resource": f"user/{entry.subject}", "reason": f"{security_event}: {reason}"[:1000], "details": details}))
        except Exception as exc:  # noqa: BLE001 - the suspension stands; only its audit line is missing
            log.error("suspension.start not audited: %s", type(exc).__name__)
        log.warning("%s suspended until %s: their request was a security event (%s)", entry.subject,
                    entry.until.isoformat(), security_event)
        return entry

    return suspend


def topic_publisher(send: Callable[..., Awaitable[object]], ack_timeout: float | None = None) -> Publish:
    """A `Publish` over a Faust topic's `send(key=, value=)`: keyed by subject, as compaction needs. With
    `ack_timeout`, it returns only once the broker acknowledged (an admin's lift must not be answered "done"
    while it sits in a buffer); without, it returns once the record is queued (the step loop's way)."""

    async def publish(entry: Suspension) -> None:
        queued = await send(key=entry.subject.encode(), value=entry.to_bytes())
        if ack_timeout is not None and inspect.isawaitable(queued):
            await asyncio.wait_for(queued, ack_timeout)

    return publish
