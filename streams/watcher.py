"""Kubernetes Events -> the k8s-events topic: list, then watch, per cluster, until cancelled.

How the kubernetes-asyncio 36 pitfalls are handled:
- Every watch call carries `timeout_seconds`. That switches off the library's own reconnect loop, whose
  410 handling retries once with the stale version and then raises; here resume, re-list and backoff
  live in one loop (`EventWatcher.run`) whose decisions are the pure functions below.
- `_request_timeout=ClientTimeout(sock_read=timeout_seconds + grace)`: the server ends a healthy stream
  after `timeout_seconds`, so silence longer than that is a stall; the read times out and we reconnect.
- The list is raw JSON (no model round trip) and paged (`limit`/`continue`); its resourceVersion starts
  the watch, and each event's resourceVersion (or a BOOKMARK's) moves the resume point.

Credentials: a watcher asks its `ApiClientSource` for a client before each list/watch. A fixed client (a
kubeconfig) never changes; a Vault-backed one (streams/watch_sources.py) is rebuilt when its credential is
renewed or re-fetched. The watch stream is ended before the credential goes stale (`stream_seconds`), and a
401/403 makes the source drop its credential; either way the watcher resumes from its resourceVersion with
the new client - nothing is listed or published again.

At-least-once: the resume point only passes an event after `publish` returned for it, so a failed publish
is retried from the same place. A re-list after 410 would re-publish every event still in the cluster;
`SeenEvents` (uid -> highest count published) stops that, while a repeat (count went up) goes through.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Iterable, Literal, Protocol, runtime_checkable

import aiohttp
from kubernetes_asyncio import client, watch
from kubernetes_asyncio.client.exceptions import ApiException
from prometheus_client import Counter, Gauge
from pydantic import ValidationError

from aetherius.metrics import REGISTRY
from agents.cluster.live import get_json
from schemas.kube import InvolvedObject, KubeEvent
from schemas.watch_settings import WatchSettings

log = logging.getLogger(__name__)

Publish = Callable[[str, bytes], Awaitable[None]]
Outcome = Literal["ended", "gone", "failed"]
EVENTS_PATH = "/api/v1/events"

PUBLISHED = Counter("aetherius_watch_events_published_total", "Kubernetes events published to the topic",
                    ["cluster"], registry=REGISTRY)
SKIPPED = Counter("aetherius_watch_events_skipped_total",
                  "Kubernetes events not published, by why (filtered, duplicate, invalid)",
                  ["cluster", "why"], registry=REGISTRY)
RESTARTS = Counter("aetherius_watch_restarts_total", "Watch streams that ended, by outcome (ended, gone, failed)",
                   ["cluster", "outcome"], registry=REGISTRY)
RELISTS = Counter("aetherius_watch_relists_total", "Full lists of events (start and after 410 Gone)",
                  ["cluster"], registry=REGISTRY)
STREAM_UP = Gauge("aetherius_watch_stream_up", "1 while a watch stream to the cluster is open",
                  ["cluster"], registry=REGISTRY)
FAILING = Gauge("aetherius_watch_cluster_failing",
                "Failed list/watch attempts in a row for the cluster (0: healthy); it backs off while > 0",
                ["cluster"], registry=REGISTRY)
CREDENTIAL_FAILURES = Counter("aetherius_watch_credential_failures_total",
                              "Credentials that could not be had (unavailable) or that the API server refused",
                              ["cluster", "why"], registry=REGISTRY)


class CredentialsUnavailable(Exception):
    """A source could not produce credentials (Vault down, secret missing, kubeconfig broken). The message is
    safe to log: it names the cluster and where the credentials were looked for, never a value."""


@runtime_checkable
class ApiClientSource(Protocol):
    """Where a watcher gets its (authenticated) ApiClient; one per cluster."""

    async def client(self) -> client.ApiClient:
        """The client to use now; CredentialsUnavailable if none can be had."""

    def refresh_in(self) -> float | None:
        """Seconds until the credential in use should be replaced (None: it never needs to be)."""

    def rejected(self) -> None:
        """The API server refused the credential (401/403): get a fresh one next time."""

    async def close(self) -> None:
        """Release the client (and whatever the source holds)."""


class FixedClient:
    """A client whose credentials never change here (a kubeconfig; exec plugins refresh inside the client)."""

    def __init__(self, api_client: client.ApiClient) -> None:
        self.api_client = api_client

    async def client(self) -> client.ApiClient:
        return self.api_client

    def refresh_in(self) -> float | None:
        return None

    def rejected(self) -> None:
        pass

    async def close(self) -> None:
        await self.api_client.close()


# --- pure decisions ----------------------------------------------------------------------------------
def is_wanted(obj: dict[str, Any], reasons: frozenset[str], any_type_reasons: frozenset[str] = frozenset()) -> bool:
    """A configured reason on a Warning event (or on any event for the reasons recorded as Normal)."""
    reason = obj.get("reason") or ""
    if reason not in reasons:
        return False
    return obj.get("type") == "Warning" or reason in any_type_reasons


def event_count(obj: dict[str, Any]) -> int:
    """How often the event happened: `count` (core/v1) or `series.count` (events.k8s.io writers)."""
    series = obj.get("series") or {}
    count = obj.get("count") or series.get("count") or 1
    return int(count)


EVENT_MESSAGE_MAX = 4096  # characters of an event message kept (the API server allows ~1 KB; some writers more)


def event_message(text: Any) -> str:
    """An event's message as it may be stored: redacted once, here where it enters (docs/security.md), and cut
    to EVENT_MESSAGE_MAX with a marker - an event cannot be refused with a 4xx like an alert can."""
    from agents.redaction import redact_text

    text = redact_text(str(text))
    if len(text) > EVENT_MESSAGE_MAX:
        text = text[:EVENT_MESSAGE_MAX] + f"...[truncated {len(text) - EVENT_MESSAGE_MAX} characters]"
    return text


def to_kube_event(obj: dict[str, Any], cluster_id: str) -> KubeEvent:
    """The API's Event JSON as our record; ValueError names what is missing or malformed."""
    meta = obj.get("metadata") or {}
    if not meta.get("uid"):
        raise ValueError("event has no metadata.uid")
    if not obj.get("reason"):
        raise ValueError(f"event {meta.get('namespace')}/{meta.get('name')} has no reason")
    involved = obj.get("involvedObject") or obj.get("regarding") or {}
    series = obj.get("series") or {}
    first = obj.get("firstTimestamp") or obj.get("eventTime")
    try:
        return KubeEvent(
            cluster_id=cluster_id,
            uid=meta["uid"],
            namespace=meta.get("namespace") or involved.get("namespace") or "default",
            reason=obj["reason"],
            message=event_message(obj.get("message") or obj.get("note") or ""),
            type=obj.get("type") or "Warning",
            count=event_count(obj),
            involved_object=InvolvedObject.model_validate(involved),
            first_timestamp=first,
            last_timestamp=obj.get("lastTimestamp") or series.get("lastObservedTime") or obj.get("eventTime") or first,
            resource_version=meta.get("resourceVersion") or "",
            source_component=(obj.get("source") or {}).get("component") or obj.get("reportingComponent") or "",
        )
    except (ValidationError, TypeError, ValueError) as exc:  # ValidationError is a ValueError; say which event
        raise ValueError(f"event {meta.get('namespace')}/{meta.get('name')} is malformed: {exc}") from exc


def backoff_delay(attempt: int, base: float, cap: float, rand: float) -> float:
    """Seconds before retry `attempt` (1, 2, ...): doubling from `base`, at most `cap`, "equal jitter".

    Half the delay is fixed (so many watchers never retry in a hot loop), half random in [0, 1) * half
    (so clusters cut off together do not come back in lock-step).
    """
    if attempt < 1:
        return 0.0
    ceiling = min(cap, base * 2 ** min(attempt - 1, 62))
    return ceiling / 2 + ceiling / 2 * rand


def stream_seconds(timeout_seconds: int, refresh_in: float | None) -> int:
    """How long to ask the server to keep this watch open: the configured time, cut short so the stream ends
    by the time the credential is due for renewal (the next stream then starts with the new one)."""
    if refresh_in is None:
        return timeout_seconds
    return max(1, min(timeout_seconds, math.ceil(refresh_in)))


def next_attempt(outcome: Outcome, progressed: bool, attempt: int) -> tuple[int, bool]:
    """After a watch ends: (the new failure count, whether to wait `backoff_delay` before going on).

    Progress (an event or bookmark arrived) clears earlier failures. A healthy end resumes at once. The first
    410 re-lists at once; 410 again with no progress in between backs off (a server whose history is shorter
    than a list takes must not be hammered). Anything else backs off, longer each time.
    """
    if progressed:
        attempt = 0
    if outcome == "ended":
        return 0, False
    if outcome == "gone" and attempt == 0:
        return 1, False
    return attempt + 1, True


class SeenEvents:
    """What was already published: uid -> highest count. Bounded; the least recently seen is dropped first."""

    def __init__(self, max_entries: int = 100_000) -> None:
        self._counts: OrderedDict[str, int] = OrderedDict()
        self._max = max_entries

    def is_new(self, uid: str, count: int) -> bool:
        seen = self._counts.get(uid)
        return seen is None or count > seen

    def mark(self, uid: str, count: int) -> None:
        self._counts[uid] = max(count, self._counts.get(uid, 0))
        self._counts.move_to_end(uid)
        while len(self._counts) > self._max:
            self._counts.popitem(last=False)

    def forget(self, uid: str) -> None:
        self._counts.pop(uid, None)

    def keep_only(self, uids: Iterable[str]) -> None:
        """After a full list: events gone from the cluster need not be remembered."""
        keep = set(uids)
        for uid in [u for u in self._counts if u not in keep]:
            del self._counts[uid]

    def __len__(self) -> int:
        return len(self._counts)


# --- I/O: one cluster --------------------------------------------------------------------------------
@dataclass
class WatchStats:
    """Counters of one watcher, for tests and the log line at each restart."""

    lists: int = 0
    watches: int = 0
    bookmarks: int = 0
    published: int = 0
    duplicates: int = 0
    invalid: int = 0
    gone: int = 0
    failures: int = 0
    credential_failures: int = 0


class EventWatcher:
    """Publishes one cluster's wanted Events. `await run()` until cancelled; it never raises otherwise."""

    def __init__(self, api_client: client.ApiClient | ApiClientSource, cluster_id: str, publish: Publish,
                 reasons: Iterable[str], settings: WatchSettings | None = None,
                 rand: Callable[[], float] = random.random) -> None:
        self.source: ApiClientSource = api_client if isinstance(api_client, ApiClientSource) else FixedClient(api_client)
        self.api_client: client.ApiClient | None = api_client if isinstance(api_client, client.ApiClient) else None
        self.cluster_id = cluster_id
        self.settings = settings or WatchSettings()
        self.reasons = frozenset(reasons)
        self.any_type_reasons = frozenset(self.settings.any_type_reasons)
        self.resource_version: str | None = None
        self.seen = SeenEvents(self.settings.dedup_max_entries)
        self.stats = WatchStats()
        self._publish = publish
        self._rand = rand
        self._progressed = False
        self._extra = {"cluster_id": cluster_id}

    async def run(self) -> None:
        attempt = 0
        while True:
            self._progressed = False
            outcome: Outcome
            try:
                self.api_client = await self.source.client()
                if self.resource_version is None:
                    await self.relist()
                seconds = stream_seconds(self.settings.timeout_seconds, self.source.refresh_in())
                started = asyncio.get_running_loop().time()
                await self.watch_once(seconds)
                # A stream the server closed early and empty is a failure, not a healthy timeout.
                healthy = self._progressed or (asyncio.get_running_loop().time() - started >= seconds / 2)
                outcome = "ended" if healthy else "failed"
            except asyncio.CancelledError:
                raise
            except CredentialsUnavailable as exc:
                outcome = "failed"
                self.stats.credential_failures += 1
                CREDENTIAL_FAILURES.labels(self.cluster_id, "unavailable").inc()
                log.warning("cannot get credentials: %s", exc, extra=self._extra)
            except ApiException as exc:
                if exc.status == 410:
                    outcome = "gone"
                    self.stats.gone += 1
                    self.resource_version = None
                    log.info("resourceVersion expired (410 Gone): re-listing", extra=self._extra)
                elif exc.status in (401, 403):
                    outcome = "failed"
                    self.stats.credential_failures += 1
                    CREDENTIAL_FAILURES.labels(self.cluster_id, "refused").inc()
                    self.source.rejected()
                    log.warning("the API server refused the credentials (HTTP %s %s); fetching them again",
                                exc.status, exc.reason, extra=self._extra)
                else:
                    outcome = "failed"
                    log.warning("watch failed: HTTP %s %s", exc.status, exc.reason, extra=self._extra)
            except Exception as exc:  # unreachable, stalled, cut off, publish failed, a bug: only this cluster waits
                outcome = "failed"
                log.warning("watch failed: %s: %s", type(exc).__name__, exc, extra=self._extra)
            finally:
                STREAM_UP.labels(self.cluster_id).set(0)
            RESTARTS.labels(self.cluster_id, outcome).inc()
            attempt, wait = next_attempt(outcome, self._progressed, attempt)
            FAILING.labels(self.cluster_id).set(attempt if outcome == "failed" else 0)
            if outcome == "failed":
                self.stats.failures += 1
            if wait:
                delay = backoff_delay(attempt, self.settings.backoff_base_seconds,
                                      self.settings.backoff_cap_seconds, self._rand())
                log.info("reconnecting in %.2fs (failure %d in a row)", delay, attempt, extra=self._extra)
                await asyncio.sleep(delay)

    async def relist(self) -> None:
        """List every event (paged), publish the wanted ones not published before, set the resume point."""
        RELISTS.labels(self.cluster_id).inc()
        self.stats.lists += 1
        s = self.settings
        timeout = aiohttp.ClientTimeout(total=s.list_timeout_seconds, sock_connect=s.connect_timeout_seconds)
        uids: list[str] = []
        token, list_rv = "", ""
        while True:
            query: list[tuple[str, Any]] = [("limit", s.list_page_size)]
            if token:
                query.append(("continue", token))
            body = await get_json(self.api_client, EVENTS_PATH, query, timeout)
            for obj in body.get("items") or []:
                uids.append((obj.get("metadata") or {}).get("uid", ""))
                await self._consider(obj)
            meta = body.get("metadata") or {}
            list_rv = list_rv or meta.get("resourceVersion") or ""  # the first page's version is the snapshot's
            token = meta.get("continue") or ""
            if not token:
                break
        self.seen.keep_only(uids)
        if not list_rv:
            raise ValueError("the event list carries no metadata.resourceVersion")
        self.resource_version = list_rv
        FAILING.labels(self.cluster_id).set(0)
        log.info("listed %d events at resourceVersion %s", len(uids), list_rv, extra=self._extra)

    async def watch_once(self, seconds: int | None = None) -> None:
        """One watch stream from the resume point until the server ends it (after `seconds`, default the
        configured timeout); raises on 410, stalls, cuts."""
        s = self.settings
        seconds = seconds or s.timeout_seconds
        self.stats.watches += 1
        core = client.CoreV1Api(self.api_client)
        timeout = aiohttp.ClientTimeout(sock_connect=s.connect_timeout_seconds,
                                        sock_read=seconds + s.read_grace_seconds)
        # return_type "object": objects stay the server's JSON, never fail model validation.
        up, failing = STREAM_UP.labels(self.cluster_id), FAILING.labels(self.cluster_id)

        async def open_stream(**kwargs: Any) -> Any:
            resp = await core.list_event_for_all_namespaces(**kwargs)
            # The server accepted the watch (a refusal raises above): the stream is up now, not when its first
            # event comes - on a quiet cluster that may be never (a default API server sends events no BOOKMARKs).
            up.set(1)
            failing.set(0)
            return resp

        async with watch.Watch(return_type="object") as stream:
            async for event in stream.stream(
                    open_stream, resource_version=self.resource_version,
                    allow_watch_bookmarks=True, timeout_seconds=seconds, _request_timeout=timeout):
                if not isinstance(event, dict) or not isinstance(event.get("raw_object"), dict):
                    raise ValueError(f"watch sent something that is not an event: {str(event)[:200]!r}")
                self._progressed = True
                up.set(1)
                failing.set(0)  # the cluster answers again: visible now, not when this stream ends
                obj = event["raw_object"]
                kind = event.get("type")
                if kind in ("ADDED", "MODIFIED"):
                    await self._consider(obj)
                elif kind == "DELETED":
                    self.seen.forget((obj.get("metadata") or {}).get("uid", ""))
                elif kind == "BOOKMARK":
                    self.stats.bookmarks += 1
                rv = (obj.get("metadata") or {}).get("resourceVersion")
                if rv:  # ADDED/MODIFIED/DELETED/BOOKMARK all move the resume point, after publishing
                    self.resource_version = rv

    async def _consider(self, obj: dict[str, Any]) -> None:
        if not is_wanted(obj, self.reasons, self.any_type_reasons):
            SKIPPED.labels(self.cluster_id, "filtered").inc()
            return
        try:
            record = to_kube_event(obj, self.cluster_id)
        except ValueError as exc:
            self.stats.invalid += 1
            SKIPPED.labels(self.cluster_id, "invalid").inc()
            log.warning("skipping an invalid event: %s", exc, extra=self._extra)
            return
        if not self.seen.is_new(record.uid, record.count):
            self.stats.duplicates += 1
            SKIPPED.labels(self.cluster_id, "duplicate").inc()
            return
        await self._publish(record.topic_key(), record.to_bytes())
        self.seen.mark(record.uid, record.count)
        self.stats.published += 1
        PUBLISHED.labels(self.cluster_id).inc()


async def watch_clusters(watchers: Iterable[EventWatcher]) -> None:
    """Run every cluster's watcher side by side; each handles its own failures, so a dead cluster waits alone."""
    await asyncio.gather(*(w.run() for w in watchers))


def forget_cluster_gauges(cluster_id: str) -> None:
    """A cluster no longer watched must not keep reporting 'failing' or 'up' from its last moment."""
    for gauge in (STREAM_UP, FAILING):
        try:
            gauge.remove(cluster_id)
        except KeyError:
            pass
