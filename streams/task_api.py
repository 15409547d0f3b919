"""The worker's HTTP: the Task API (FR-15/16), health, metrics and the OpenAPI document, as one aiohttp app.

It runs in the Faust worker's loop (aetherius.http.server) behind `security_middlewares`, so every API call is
authenticated, checked against its `@require` permission and audited on the audit topic.

A task lives in the `tasks` table partition of the worker that owns its key. A request for one task that this
worker does not own is forwarded to the owner (found in `app.router.table_metadata`), carrying the caller's
credential so the owner authenticates, authorises and audits it again; a header marks it as forwarded so it is
never forwarded twice (during a rebalance two workers may disagree about the owner). A listing answers its own
partitions and asks every other worker holding partitions (`app.router.table_metadata`) for theirs, then merges.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from typing import Any, AsyncIterator, Literal, Mapping

import aiohttp
import faust
from aiohttp import web
from prometheus_client import Counter
from pydantic import BaseModel, Field, ValidationError
from yarl import URL

from aetherius.http.auth import security_middlewares
from aetherius.http.health import add_health_routes
from aetherius.http.openapi import add_openapi_route
from aetherius.http.rbac import PRINCIPAL, require
from aetherius.metrics import REGISTRY
from schemas.security_settings import TLSSettings
from schemas.settings import Settings
from schemas.signal import Priority
from schemas.task import DiagnosticTask, SchedulerCommand, TaskCommand, TaskStatus
from streams.app import Topics
from streams.pipeline import Pipeline

log = logging.getLogger(__name__)

LIST_LIMIT_MAX = 1000
FORWARDED_HEADER = "X-Aetherius-Forwarded-By"
CREDENTIAL_HEADERS = ("Authorization", "X-API-Key")
PEER_TIMEOUT_SECONDS = 10.0
MAX_BODY_BYTES = 64 * 1024  # the Task API takes no body larger than a cancel request

FORWARDS = Counter("aetherius_task_api_forwards_total", "Task API requests sent to another worker",
                   ["kind", "outcome"], registry=REGISTRY)


class TaskListResponse(BaseModel):
    tasks: list[DiagnosticTask]
    count: int = Field(description="matching tasks on every worker that answered (tasks holds at most limit)")
    incomplete: list[str] = Field(default_factory=list, description="workers that did not answer")


class CancelAccepted(BaseModel):
    task_id: str
    status: Literal["cancelling"] = "cancelling"


class _PeerListing(BaseModel):
    """What another worker's forwarded listing must look like before it is merged."""

    tasks: list[dict[str, Any]]
    count: int = Field(ge=0)


# ---------------------------------------------------------------- pure decisions

class FilterError(ValueError):
    pass


def parse_filters(query: Mapping[str, str]) -> dict[str, Any]:
    """Validated listing filters; unknown values are a 400 naming the parameter."""
    out: dict[str, Any] = {}
    if status := query.get("status"):
        try:
            out["status"] = TaskStatus(status)
        except ValueError:
            raise FilterError(f"status: must be one of {[s.value for s in TaskStatus]}") from None
    if priority := query.get("priority"):
        try:
            out["priority"] = Priority(priority.upper())
        except ValueError:
            raise FilterError("priority: must be one of P0, P1, P2, P3") from None
    if cluster := query.get("cluster"):
        if len(cluster) > 253:
            raise FilterError("cluster: longer than 253 characters")
        out["cluster"] = cluster
    limit = query.get("limit", "100")
    if not str(limit).isdigit() or not 1 <= int(limit) <= LIST_LIMIT_MAX:
        raise FilterError(f"limit: must be an integer from 1 to {LIST_LIMIT_MAX}")
    out["limit"] = int(limit)
    return out


def matches(task: dict[str, Any], filters: dict[str, Any]) -> bool:
    return (("status" not in filters or task.get("status") == filters["status"].value)
            and ("priority" not in filters or task.get("priority") == filters["priority"].value)
            and ("cluster" not in filters or task.get("cluster_id") == filters["cluster"]))


def newest_first(tasks: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    return sorted(tasks, key=lambda t: t.get("created_at", ""), reverse=True)[:limit]


def merge_listings(parts: list[tuple[list[dict[str, Any]], int]], limit: int) -> tuple[list[dict[str, Any]], int]:
    """Merge each worker's (newest `limit` matches, total matches) into the newest `limit` overall.

    Each part is already cut to `limit`, which is enough: the overall newest `limit` are among each worker's own
    newest `limit`. A task two workers both returned (a rebalance moved it) is counted once."""
    seen: set[str] = set()
    merged: list[dict[str, Any]] = []
    duplicates = 0
    for tasks, _ in parts:
        for task in tasks:
            if task.get("id") in seen:
                duplicates += 1
                continue
            seen.add(task.get("id", ""))
            merged.append(task)
    return newest_first(merged, limit), sum(count for _, count in parts) - duplicates


def same_node(a: URL | str, b: URL | str) -> bool:
    a, b = URL(str(a)), URL(str(b))
    return (a.host, a.port) == (b.host, b.port)


def owner_of_partition(metadata: Mapping[str, Mapping[str, Any]], changelog: str, partition: int) -> str | None:
    """The URL of the worker active for `partition` of a table's changelog, from `app.router.table_metadata`."""
    for url, topics in metadata.items():
        if partition in topics.get(changelog, ()):
            return str(url).rstrip("/")
    return None


def forward_headers(incoming: Mapping[str, str], me: str) -> dict[str, str]:
    """Only the caller's credential travels on (never cookies or hop-by-hop headers), plus the forwarded mark."""
    out = {h: incoming[h] for h in CREDENTIAL_HEADERS if h in incoming}
    out[FORWARDED_HEADER] = me
    return out


def _error(status: int, error: str, reason: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": error, "reason": reason}, status=status, headers=headers)


def peer_ssl_context(tls: TLSSettings) -> ssl.SSLContext | bool:
    """How this worker verifies another worker's TLS: the system CAs plus our own certificate (a self-signed
    certificate shared by all workers verifies itself)."""
    if not tls.enabled:
        return True
    ctx = ssl.create_default_context()
    ctx.load_verify_locations(cafile=str(tls.cert_file))
    return ctx


# ---------------------------------------------------------------- the handlers

class TaskApi:
    def __init__(self, app: faust.App, pipe: Pipeline, settings: Settings) -> None:
        self.app = app
        self.tasks = pipe.tasks_table
        self.topics = pipe.topics
        self._source_topic = pipe.topics["task.state"].get_topic_name()
        self._changelog = self.tasks.changelog_topic.get_topic_name()
        self._peer_ssl = peer_ssl_context(settings.security.tls)
        self._session: aiohttp.ClientSession | None = None

    @property
    def me(self) -> str:
        return str(self.app.conf.canonical_url).rstrip("/")

    def recovered(self) -> bool:
        """Tables recovered at least once: before that the tables are incomplete and the producer may be down."""
        return self.app.tables.recovery.completed.is_set()

    def ready(self) -> bool:
        return (self.recovered() and self.app.consumer is not None and not self.app.rebalancing
                and bool(self.app.consumer.assignment()))

    async def client_session(self, _web_app: web.Application) -> AsyncIterator[None]:
        """aiohttp cleanup context: one client session for talking to the other workers."""
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=PEER_TIMEOUT_SECONDS),
                                              connector=aiohttp.TCPConnector(ssl=self._peer_ssl))
        yield
        await self._session.close()

    # Which worker holds a task. The tasks table takes the partition of the task.state record that wrote it, and
    # that record is keyed by the raw task id. Faust's own `app.router.key_store` hashes the JSON-serialised
    # changelog key instead (b'"id"', not b'id'): a different partition, so it names the wrong worker for about
    # half the tasks. We hash as the producer did and look the partition up in `table_metadata`.

    def _metadata(self) -> Mapping[str, Mapping[str, Any]]:
        return self.app.router.table_metadata(self.tasks.name)

    def _partition_of(self, task_id: str) -> int:
        return self.app.producer.key_partition(self._source_topic, task_id.encode()).partition

    def _owned_partitions(self) -> set[int] | None:
        """The tasks-table partitions this worker is active for, or None when no assignment is known yet.

        A listing needs it because faust's memory store keeps the keys this worker wrote itself after their
        partition was revoked (it forgets only keys it recovered from the changelog): without it a listing would
        include stale copies of tasks another worker now owns."""
        metadata = self._metadata()
        if all(same_node(url, self.me) for url in metadata):
            # The only worker: every row is ours. (On a fresh broker the first assignment's metadata can name
            # only some partitions, which would hide tasks; filtering is only needed with other workers.)
            return None
        for url, topics in metadata.items():
            if same_node(url, self.me):
                return set(topics.get(self._changelog, ()))
        return set()  # known, and we hold none (more workers than partitions)

    def _owner(self, task_id: str) -> str | None:
        """The URL of the worker owning `task_id`, or None when it is this one. KeyError: no owner known yet."""
        metadata = self._metadata()
        if metadata and all(same_node(url, self.me) for url in metadata):
            return None  # the only worker owns every task
        url = owner_of_partition(metadata, self._changelog, self._partition_of(task_id))
        if url is None:
            raise KeyError(task_id)
        return None if same_node(url, self.me) else url

    async def _routed(self, request: web.Request, task_id: str, kind: str) -> web.Response | None:
        """Forward to the owner and return its answer, or None when this worker owns the task and answers.

        A request already forwarded once that lands on a worker that does not own the task (the two disagree
        during a rebalance) gets 503: forwarding again could loop, and our copy may be stale."""
        try:
            owner = self._owner(task_id)
        except KeyError:
            return _error(503, "unavailable", "task routing unknown (rebalancing); retry", {"Retry-After": "2"})
        if owner is None:
            return None
        if FORWARDED_HEADER in request.headers:
            return _error(503, "unavailable", f"task {task_id} is owned by {owner} (rebalancing); retry",
                          {"Retry-After": "2"})
        assert self._session is not None
        try:
            async with self._session.request(request.method, owner + request.rel_url.path_qs,
                                             headers=forward_headers(request.headers, self.me),
                                             data=await request.read() or None) as resp:
                body = await resp.read()
                headers = {h: resp.headers[h] for h in ("WWW-Authenticate", "Retry-After") if h in resp.headers}
                FORWARDS.labels(kind, "ok").inc()
                return web.Response(body=body, status=resp.status, content_type=resp.content_type, headers=headers)
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            FORWARDS.labels(kind, "failed").inc()
            log.warning("task %s: owner %s did not answer: %s", task_id, owner, exc.__class__.__name__,
                        extra={"task_id": task_id})
            return _error(502, "bad_gateway", f"the worker owning task {task_id} ({owner}) did not answer")

    # -- routes

    async def detail(self, request: web.Request) -> web.Response:
        task_id = request.match_info["task_id"]
        if (routed := await self._routed(request, task_id, "detail")) is not None:
            return routed
        task = self.tasks.get(task_id)
        if task is None:
            return _error(404, "not_found", f"task {task_id} not found")
        return web.json_response(task)

    async def cancel(self, request: web.Request) -> web.Response:
        task_id = request.match_info["task_id"]
        if (routed := await self._routed(request, task_id, "cancel")) is not None:
            return routed
        task = self.tasks.get(task_id)
        if task is None:
            return _error(404, "not_found", f"task {task_id} not found")
        if TaskStatus(task["status"]).terminal:
            return _error(409, "conflict", f"task {task_id} is already {task['status']}")
        by = request[PRINCIPAL].name
        # Pending: the scheduler removes it from its queue. Running: the step loop stops it.
        await self.topics["task.queue"].send(key=task_id.encode(), value=SchedulerCommand(
            action="cancel", task_id=task_id, reason="cancelled by user", requested_by=by).to_bytes())
        await self.topics["task.commands"].send(key=task_id.encode(), value=TaskCommand(
            task_id=task_id, action="cancel", requested_by=by, reason="cancelled by user").to_bytes())
        log.info("task %s cancel requested by %s", task_id, by, extra={"task_id": task_id})
        return web.json_response(CancelAccepted(task_id=task_id).model_dump(), status=202)

    async def listing(self, request: web.Request) -> web.Response:
        try:
            filters = parse_filters(request.query)
        except FilterError as exc:
            return _error(400, "bad_request", str(exc))
        limit = filters["limit"]
        mine = self._owned_partitions()
        local = [t for k, t in self.tasks.items() if t and matches(t, filters)
                 and (mine is None or self._partition_of(k) in mine)]
        parts = [(newest_first(local, limit), len(local))]
        incomplete: list[str] = []
        if FORWARDED_HEADER not in request.headers:
            remote, incomplete = await self._from_other_workers(request)
            parts += remote
        tasks, count = merge_listings(parts, limit)
        return web.json_response({"tasks": tasks, "count": count, "incomplete": incomplete})

    async def _from_other_workers(self, request: web.Request) -> tuple[list[tuple[list[dict], int]], list[str]]:
        """Every other worker holding partitions of the tasks table, asked for its own matches at once."""
        hosts = sorted({str(h).rstrip("/") for h in self.app.router.table_metadata(self.tasks.name)
                        if not same_node(h, self.me)})
        assert self._session is not None
        session, headers = self._session, forward_headers(request.headers, self.me)

        async def ask(host: str) -> tuple[list[dict], int] | None:
            try:
                async with session.get(f"{host}/api/v1/tasks", params=dict(request.query), headers=headers) as resp:
                    if resp.status != 200:
                        raise ValueError(f"status {resp.status}")
                    part = _PeerListing.model_validate(await resp.json())
                FORWARDS.labels("list", "ok").inc()
                return part.tasks, part.count
            except (aiohttp.ClientError, asyncio.TimeoutError, ValueError, ValidationError) as exc:
                FORWARDS.labels("list", "failed").inc()
                log.warning("task listing: %s did not answer: %s", host, str(exc)[:200])
                return None

        answers = await asyncio.gather(*(ask(h) for h in hosts))
        return ([a for a in answers if a is not None],
                [h for h, a in zip(hosts, answers) if a is None])


def _starting_gate(api: TaskApi, public: frozenset[str]):  # noqa: ANN202 - aiohttp middleware
    """Until the tables recovered once, API calls get 503: the tables are incomplete and the producer that
    carries cancel commands and audit events is not up. Probes and metrics always answer."""

    @web.middleware
    async def gate(request: web.Request, handler):  # noqa: ANN001, ANN202
        if request.path not in public and not api.recovered():
            return _error(503, "unavailable", "worker is starting (table recovery)", {"Retry-After": "2"})
        return await handler(request)

    return gate


def create_worker_web_app(app: faust.App, pipe: Pipeline, settings: Settings,
                          live: Any = None) -> web.Application:
    """The worker's aiohttp app: Task API, probes, metrics and the OpenAPI document, secured and audited."""
    api = TaskApi(app, pipe, settings)
    public = frozenset(settings.security.public_paths)
    web_app = web.Application(
        middlewares=[_starting_gate(api, public),
                     *security_middlewares(settings.security, pipe.topics.audit_sink(), settings.webhook)],
        client_max_size=MAX_BODY_BYTES)
    web_app.cleanup_ctx.append(api.client_session)
    web_app.router.add_get("/api/v1/tasks", require("tasks:read")(api.listing))
    web_app.router.add_get("/api/v1/tasks/{task_id}", require("tasks:read")(api.detail))
    web_app.router.add_post("/api/v1/tasks/{task_id}/cancel", require("tasks:cancel")(api.cancel))
    add_health_routes(web_app, api.ready, live=live)
    add_openapi_route(web_app)
    _serve_suspensions(web_app, pipe.topics, settings)
    return web_app


def _serve_suspensions(web_app: web.Application, topics: Topics, settings: Settings) -> None:
    """SRS §5.8.5: refuse suspended people on this API, and let admins list and lift suspensions here."""
    from aetherius.http.suspensions import add_suspension_routes, follow_suspensions
    from streams.suspensions import TOPIC, topic_publisher

    follow_suspensions(web_app, settings.kafka.bootstrap, settings.kafka.topic_prefix)
    add_suspension_routes(web_app, topic_publisher(topics[TOPIC].send, ack_timeout=10.0), topics.audit_sink())
