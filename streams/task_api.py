"""The Task API and the health/metrics endpoints, served by every worker (FR-15/16).

A task lives in the `tasks` table partition of the worker that owns its key: `table_route` forwards
a request for one task to that worker, and a listing asks every worker for its own part and merges.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
import faust
from faust.web import Request, Response, View

from aetherius.metrics import exposition
from schemas.signal import Priority
from schemas.task import SchedulerCommand, TaskCommand, TaskStatus
from streams.pipeline import Pipeline

log = logging.getLogger(__name__)

LIST_LIMIT_MAX = 1000


class FilterError(ValueError):
    pass


def parse_filters(query: Any) -> dict[str, Any]:
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


def register_task_api(app: faust.App, pipe: Pipeline) -> None:
    tasks = pipe.tasks_table
    topics = pipe.topics

    @app.page("/api/v1/tasks/{task_id}")
    class TaskDetail(View):
        @app.table_route(table=tasks, match_info="task_id")
        async def get(self, request: Request, task_id: str) -> Response:
            task = tasks.get(task_id)
            if task is None:
                return self.json({"error": f"task {task_id} not found"}, status=404)
            return self.json(task)

    @app.page("/api/v1/tasks/{task_id}/cancel")
    class TaskCancel(View):
        @app.table_route(table=tasks, match_info="task_id")
        async def post(self, request: Request, task_id: str) -> Response:
            task = tasks.get(task_id)
            if task is None:
                return self.json({"error": f"task {task_id} not found"}, status=404)
            if TaskStatus(task["status"]).terminal:
                return self.json({"error": f"task {task_id} is already {task['status']}"}, status=409)
            by = request.headers.get("X-Aetherius-User", "api")
            # Pending: the scheduler removes it from its queue. Running: the step loop stops it.
            await topics["task.queue"].send(key=task_id.encode(), value=SchedulerCommand(
                action="cancel", task_id=task_id, reason="cancelled by user", requested_by=by).to_bytes())
            await topics["task.commands"].send(key=task_id.encode(), value=TaskCommand(
                task_id=task_id, action="cancel", requested_by=by, reason="cancelled by user").to_bytes())
            return self.json({"task_id": task_id, "status": "cancelling"}, status=202)

    @app.page("/api/v1/tasks")
    class TaskList(View):
        async def get(self, request: Request) -> Response:
            try:
                filters = parse_filters(request.query)
            except FilterError as exc:
                return self.json({"error": str(exc)}, status=400)
            found = [t for t in tasks.values() if t and matches(t, filters)]
            if request.query.get("local") != "1":
                found += await _from_other_workers(app, tasks.name, request)
            found.sort(key=lambda t: t.get("created_at", ""), reverse=True)
            return self.json({"tasks": found[:filters["limit"]], "count": len(found)})

    @app.page("/health/live")
    class Live(View):
        async def get(self, request: Request) -> Response:
            return self.json({"status": "ok"})

    @app.page("/health/ready")
    class Ready(View):
        async def get(self, request: Request) -> Response:
            ready = app.consumer is not None and not app.rebalancing and bool(app.consumer.assignment())
            return self.json({"status": "ready" if ready else "starting"}, status=200 if ready else 503)

    @app.page("/metrics")
    class Metrics(View):
        async def get(self, request: Request) -> Response:
            body, content_type = exposition()
            return self.bytes(body, content_type=content_type.split(";")[0])


async def _from_other_workers(app: faust.App, table_name: str, request: Request) -> list[dict[str, Any]]:
    """Ask every other worker that holds partitions of the table for its local matches."""
    me = str(app.conf.canonical_url).rstrip("/")
    hosts = [h.rstrip("/") for h in app.router.table_metadata(table_name) if h.rstrip("/") != me]
    if not hosts:
        return []
    query = {**request.query, "local": "1", "limit": str(LIST_LIMIT_MAX)}

    async def fetch(session: aiohttp.ClientSession, host: str) -> list[dict[str, Any]]:
        try:
            async with session.get(f"{host}/api/v1/tasks", params=query) as resp:
                return (await resp.json()).get("tasks", [])
        except Exception as exc:  # noqa: BLE001 - a dead worker loses its part of the list, not the request
            log.warning("task listing: %s did not answer: %s", host, exc)
            return []

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        parts = await asyncio.gather(*(fetch(session, h) for h in hosts))
    return [t for part in parts for t in part]
