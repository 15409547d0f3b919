"""Delivery shared by the Slack, Teams and webhook sinks: retry with exponential back-off,
idempotency per (destination, report id), and a dead letter when a destination keeps failing.

A report is never lost: it is delivered, or it is in the dead-letter topic with the destination and
the last error, from where it can be replayed. Pure parts (`backoff_delay`, `classify`) are tested
directly; `Deliverer` is the I/O edge.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import OrderedDict
from typing import Any, Awaitable, Callable, Literal, Protocol

import aiohttp
from prometheus_client import Counter
from pydantic import BaseModel, ConfigDict

from aetherius.metrics import REGISTRY
from schemas.deadletter import DeadLetter
from schemas.result import DiagnosticResult
from schemas.sinks_settings import Destination, RetryPolicy

log = logging.getLogger(__name__)

DELIVERIES = Counter("aetherius_sink_deliveries_total", "Report deliveries by destination type and outcome",
                     ["type", "outcome"], registry=REGISTRY)
ATTEMPTS = Counter("aetherius_sink_attempts_total", "HTTP attempts by destination type and result",
                   ["type", "result"], registry=REGISTRY)


class HttpRequest(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: Literal["slack", "webhook", "teams"]
    url: str
    body: bytes
    headers: dict[str, str]


Verdict = Literal["ok", "retry", "fail"]


def classify(status: int, body: str = "", kind: str = "webhook") -> Verdict:
    """2xx ok; 408/425/429/5xx retry; other 4xx fail at once (a bad URL or payload will not heal).

    Slack answers 200 "ok" on success. Teams' legacy connector answers 200 "1" and reports
    throttling in the body ("429"), so that body is retried.
    """
    if 200 <= status < 300:
        if kind == "teams" and body and body.strip() not in ("1", "") and "429" in body:
            return "retry"
        return "ok"
    if status in (408, 425, 429) or status >= 500:
        return "retry"
    return "fail"


def backoff_delay(attempt: int, policy: RetryPolicy, retry_after: float | None = None,
                  rand: Callable[[], float] = random.random) -> float:
    """Delay before attempt `attempt + 1` (attempt counts from 1): base·2^(n-1), capped, ± jitter;
    a server's Retry-After wins when it is longer."""
    delay = min(policy.base_delay_seconds * (2 ** (attempt - 1)), policy.max_delay_seconds)
    delay *= 1 + policy.jitter * (2 * rand() - 1)
    if retry_after is not None:
        delay = max(delay, min(retry_after, policy.max_delay_seconds))
    return max(0.0, delay)


def parse_retry_after(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


class Ledger(Protocol):
    """Which (destination, report id) pairs were delivered. Back it with a Faust table to survive restarts."""

    def done(self, key: str) -> bool: ...
    def mark(self, key: str) -> None: ...


class DeliveredLedger:
    """In-memory, bounded (oldest forgotten first): enough for redeliveries after a rebalance."""

    def __init__(self, capacity: int = 100_000) -> None:
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._capacity = capacity

    def done(self, key: str) -> bool:
        return key in self._seen

    def mark(self, key: str) -> None:
        self._seen[key] = None
        self._seen.move_to_end(key)
        while len(self._seen) > self._capacity:
            self._seen.popitem(last=False)


class TableLedger:
    """The delivered pairs in a Faust table (changelog-backed), so they survive a restart of the sink: a report
    repeated on the topic (at-least-once upstream) after the sink restarted is still delivered once. Written while
    the agent handles the report's record, so a row lives in the partition of its report id; the consumer commits
    that record only after the row's changelog record (streams/consumer.py). Marks older than `keep_seconds` are
    dropped from memory (a repeat comes within minutes, not days); the compacted changelog keeps one small
    record per delivery."""

    def __init__(self, table: Any, keep_seconds: float = 7 * 86400.0, clock: Callable[[], float] = time.time) -> None:
        self.table = table
        self.keep_seconds = keep_seconds
        self.clock = clock
        self._marks = 0

    def done(self, key: str) -> bool:
        at = self.table.get(key)
        return at is not None and self.clock() - float(at) < self.keep_seconds

    def mark(self, key: str) -> None:
        self.table[key] = self.clock()
        self._marks += 1
        if self._marks % 1000 == 0:
            self.prune()

    def prune(self) -> None:
        cutoff = self.clock() - self.keep_seconds
        for key in [k for k, at in list(self.table.data.items()) if at is not None and float(at) < cutoff]:
            self.table.data.pop(key, None)


def build_request(dest: Destination, result: DiagnosticResult, *, public_url: str = "") -> HttpRequest:
    """The HTTP request a destination gets for a report (the builders live with each sink)."""
    url = dest.url.get_secret_value()
    if dest.type == "slack":
        from sinks.slack import slack_request
        return slack_request(url, result, max_recommendations=dest.max_recommendations)
    if dest.type == "teams":
        from sinks.teams import teams_request
        return teams_request(url, result, max_recommendations=dest.max_recommendations, public_url=public_url)
    from sinks.webhook import webhook_request
    assert dest.secret is not None  # enforced by Destination
    return webhook_request(url, dest.secret.get_secret_value(), result)


DeadLetterSink = Callable[[DeadLetter], Awaitable[None]]
Outcome = Literal["delivered", "duplicate", "dead-lettered"]


class Deliverer:
    def __init__(self, policy: RetryPolicy, *, ledger: Ledger, dead_letter: DeadLetterSink,
                 session_factory: Callable[[], aiohttp.ClientSession] | None = None,
                 sleep: Callable[[float], Awaitable[None]] | None = None, source_topic: str = "reports") -> None:
        self._policy = policy
        self._ledger = ledger
        self._dead_letter = dead_letter
        self._session_factory = session_factory or (lambda: aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=policy.timeout_seconds)))
        self._sleep = sleep or asyncio.sleep
        self._source_topic = source_topic

    async def deliver(self, destination: str, request: HttpRequest, result: DiagnosticResult,
                      raw: bytes | None = None) -> Outcome:
        outcome = await self.deliver_record(destination, request, record_id=result.report_id,
                                            key=result.task_id.encode(), value=raw or result.to_bytes(),
                                            task_id=result.task_id)
        DELIVERIES.labels(request.kind, outcome).inc()
        return outcome

    async def deliver_record(self, destination: str, request: HttpRequest, *, record_id: str, key: bytes,
                             value: bytes, task_id: str = "", what: str = "report", stage: str = "sink") -> Outcome:
        """Any record (a report, a security alert): once per (destination, record_id), retried, else
        dead-lettered with `key`/`value` - the source record as it was on its topic - for a replay."""
        ledger_key = f"{destination}:{record_id}"
        if self._ledger.done(ledger_key):
            return "duplicate"
        error = await self._attempts(request, task_id)
        if error is None:
            self._ledger.mark(ledger_key)
            return "delivered"
        log.error("%s undeliverable to %s: %s", what, destination, error, extra={"task_id": task_id, "stage": "sink"})
        await self._dead_letter(DeadLetter.of(
            topic=self._source_topic, key=key, value=value,
            error=f"destination {destination} ({request.kind}): {error}", stage=f"{stage}:{destination}"))
        # Dead-lettered counts as handled: a replay from the dead-letter topic is a new, deliberate delivery.
        self._ledger.mark(ledger_key)
        return "dead-lettered"

    async def _attempts(self, request: HttpRequest, task_id: str) -> str | None:
        """None when delivered, else the last error."""
        last = "no attempt made"
        async with self._session_factory() as session:
            for attempt in range(1, self._policy.max_attempts + 1):
                retry_after = None
                try:
                    async with session.post(request.url, data=request.body, headers=request.headers) as resp:
                        text = (await resp.text())[:500]
                        verdict = classify(resp.status, text, request.kind)
                        last = f"HTTP {resp.status}: {text}"
                        retry_after = parse_retry_after(resp.headers.get("Retry-After"))
                except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
                    verdict, last = "retry", f"{type(exc).__name__}: {exc}"
                ATTEMPTS.labels(request.kind, verdict).inc()
                if verdict == "ok":
                    return None
                if verdict == "fail" or attempt == self._policy.max_attempts:
                    return f"{last} (after {attempt} attempt{'s' if attempt > 1 else ''})"
                delay = backoff_delay(attempt, self._policy, retry_after)
                log.warning("delivery attempt %d to %s failed (%s); retrying in %.1fs", attempt, request.kind, last,
                            delay, extra={"task_id": task_id, "stage": "sink"})
                await self._sleep(delay)
        return last


async def deliver(result: DiagnosticResult, destination: str, dest: Destination, *, policy: RetryPolicy,
                  ledger: Ledger, dead_letter: DeadLetterSink, **kw) -> Outcome:  # noqa: ANN003
    """One report to one destination (convenience over `Deliverer`)."""
    return await Deliverer(policy, ledger=ledger, dead_letter=dead_letter, **kw).deliver(
        destination, build_request(dest, result), result)
