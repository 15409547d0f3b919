"""`/health/live`, `/health/ready` and `/metrics`: the same three public routes on every role."""

from __future__ import annotations

from typing import Any, Callable

from aiohttp import web

from aetherius.metrics import exposition


def add_health_routes(web_app: web.Application, ready: Callable[[], bool],
                      detail: Callable[[], dict[str, Any]] | None = None,
                      live: Callable[[], tuple[bool, dict[str, Any]]] | None = None) -> None:
    """Live: the process answers and `live()` (a stream role's stall check, streams/liveness.py) says it makes
    progress - 503 with the reason otherwise, so Kubernetes restarts it. Ready: `ready()` (503 until then),
    with `detail()` in the body. Metrics: the one Prometheus registry. The auth middleware lets these through
    (security.public_paths)."""

    async def is_live(_request: web.Request) -> web.Response:
        ok, why = live() if live is not None else (True, {})
        return web.json_response({"status": "ok" if ok else "stalled", **why}, status=200 if ok else 503)

    async def is_ready(_request: web.Request) -> web.Response:
        ok = bool(ready())
        body = {"status": "ready" if ok else "starting", **(detail() if detail else {})}
        return web.json_response(body, status=200 if ok else 503)

    async def metrics(_request: web.Request) -> web.Response:
        body, content_type = exposition()
        return web.Response(body=body, headers={"Content-Type": content_type})

    web_app.router.add_get("/health/live", is_live)
    web_app.router.add_get("/health/ready", is_ready)
    web_app.router.add_get("/metrics", metrics)
