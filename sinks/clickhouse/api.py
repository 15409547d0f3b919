"""HTTP routes of the analytics API (FR-12 costs/budget, FR-18 history/stats, SRS §10 audit logs), mounted by the
sink role.

In the embedded default the sink process owns the chdb data dir, so these routes are how every other process
(the CLI, a dashboard, an operator) reads it. Authentication is the lead's middleware on the same app.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timezone
from typing import Any, Callable

from aiohttp import web

from aetherius.http.rbac import require

from sinks.clickhouse import metrics, params, service
from sinks.clickhouse.store import AsyncStore, Store

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def add_routes(app: web.Application, store: AsyncStore | Store, settings: Any,
               clock: Clock = lambda: datetime.now(timezone.utc)) -> None:
    astore = store if isinstance(store, AsyncStore) else AsyncStore(store)
    limits = settings.tasks

    async def answer(endpoint: str, request: web.Request, build: Callable[[dict[str, str], datetime], Any],
                     run: Callable[..., dict[str, Any]]) -> web.Response:
        query = dict(request.query)
        try:
            args = build(query, clock())
        except params.ParamError as exc:
            return web.json_response({"error": "bad_request", "param": exc.param, "message": exc.message}, status=400)
        started = time.perf_counter()
        try:
            body = await astore.run(run, astore.store, *args)
        except Exception as exc:
            log.exception("analytics query %s failed", endpoint)
            return web.json_response({"error": "store_unavailable", "message": str(exc)[:300]}, status=503)
        finally:
            metrics.QUERY_SECONDS.labels(endpoint=endpoint).observe(time.perf_counter() - started)
        return web.json_response(body)

    async def costs(request: web.Request) -> web.Response:
        return await answer("costs", request, lambda qs, now: params.parse_costs(qs, now), service.costs_report)

    async def budget(request: web.Request) -> web.Response:
        def build(qs: dict[str, str], now: datetime) -> tuple[Any, ...]:
            params.parse_budget(qs)
            return limits.daily_budget_usd, limits.monthly_budget_usd, now
        return await answer("budget", request, build, service.budget_report)

    async def history(request: web.Request) -> web.Response:
        return await answer("history", request, lambda qs, now: (params.parse_history(qs, now),),
                            service.history_report)

    async def stats(request: web.Request) -> web.Response:
        return await answer("stats", request, lambda qs, now: (params.parse_stats(qs, now),), service.stats_report)

    async def audit_logs(request: web.Request) -> web.Response:
        return await answer("audit", request, lambda qs, now: (params.parse_audit(qs, now),), service.audit_report)

    # The permission marks are what the auth middleware enforces (deny by default without one).
    app.router.add_get("/api/v1/costs", require("costs:read")(costs))
    app.router.add_get("/api/v1/budget", require("costs:read")(budget))
    app.router.add_get("/api/v1/history", require("history:read")(history))
    app.router.add_get("/api/v1/stats", require("history:read")(stats))
    app.router.add_get("/api/v1/audit-logs", require("audit:read")(audit_logs))
