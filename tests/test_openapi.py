"""The OpenAPI document: valid OpenAPI 3.1, built from the catalogue, and the catalogue matches the routes the
apps really mount - same (method, path), same permission as each handler's `@require` mark - both ways.

Validity is checked with openapi-spec-validator (a real OpenAPI 3.1 validator, test dependency).
"""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from openapi_spec_validator import validate

from aetherius.http.auth import hash_api_key, security_middlewares
from aetherius.http.openapi import (CATALOGUE, OPENAPI_PATH, OPENAPI_PERMISSION, Route, add_openapi_route,
                                    build_document, catalogue_errors, document_for_app, render_markdown,
                                    route_mismatches)
from aetherius.http.rbac import PERMISSIONS, require
from schemas.settings import Settings

def worker_web_app(settings: Settings | None = None) -> web.Application:
    from streams.app import create_app
    from streams.pipeline import build_pipeline
    from streams.task_api import create_worker_web_app

    settings = settings or Settings()
    app, topics = create_app(settings)
    return create_worker_web_app(app, build_pipeline(app, topics, settings), settings)


def analytics_web_app() -> web.Application:
    from sinks.clickhouse.api import add_routes
    from sinks.clickhouse.store import open_store

    app = web.Application()
    add_routes(app, open_store("chdb://memory"), Settings())  # the real store; no query runs here
    return app


def feedback_web_app() -> web.Application:
    from agents.knowledge.feedback_api import add_feedback_route
    from sinks.slack import add_slack_routes

    async def publish(_fb) -> None: ...

    async def exists(_task_id: str) -> bool:
        return True

    app = web.Application()
    add_feedback_route(app, publish, exists)
    add_slack_routes(app, "signing-secret", publish)
    return app


def knowledge_web_app() -> web.Application:
    from agents.knowledge.api import add_kb_routes

    app = web.Application()
    add_kb_routes(app, None)  # type: ignore[arg-type] - registration only closes over the store; no request runs
    return app


def webhook_web_app() -> web.Application:
    from streams.producer import Producer
    from streams.webhook import create_app

    return create_app(Settings(), Producer(bootstrap="127.0.0.1:1"), manage_producer=False)


def test_catalogue_is_consistent():
    assert catalogue_errors() == []
    assert catalogue_errors([*CATALOGUE, CATALOGUE[0]]) == [f"GET {CATALOGUE[0].path}: listed twice"]
    bad = Route("GET", "/x", "worker", "x", permission="tasks:fly")
    assert catalogue_errors([bad]) == ["GET /x: unknown permission 'tasks:fly'"]
    assert catalogue_errors([Route("GET", "/y", "worker", "y")]) == ["GET /y: auth credential needs permission"]


def test_whole_document_is_valid_openapi_31():
    doc = build_document()
    validate(doc)  # raises OpenAPIValidationError naming the offending part
    assert doc["openapi"] == "3.1.0"
    assert {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops} == {r.key for r in CATALOGUE}
    cancel = doc["paths"]["/api/v1/tasks/{task_id}/cancel"]["post"]
    assert cancel["x-aetherius-permission"] == "tasks:cancel"
    assert cancel["x-aetherius-roles-allowed"] == sorted(PERMISSIONS["tasks:cancel"])
    assert {"401", "403", "429", "202", "404", "409"} <= set(cancel["responses"])
    assert doc["paths"]["/health/live"]["get"]["security"] == []  # public
    # Bodies come from the pydantic models: the task schema is DiagnosticTask's own.
    task = doc["paths"]["/api/v1/tasks/{task_id}"]["get"]["responses"]["200"]["content"]["application/json"]
    assert task["schema"] == {"$ref": "#/components/schemas/DiagnosticTask"}
    assert "cluster_id" in doc["components"]["schemas"]["DiagnosticTask"]["properties"]
    manual = doc["paths"]["/api/v1/tasks"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert manual == {"$ref": "#/components/schemas/ManualRequest"}


def test_worker_routes_match_the_catalogue_both_ways():
    app = worker_web_app()
    assert route_mismatches(app, "worker") == []
    doc = document_for_app(app)
    validate(doc)
    assert set(doc["paths"]) == {r.path for r in CATALOGUE if r.role in ("worker", "all")}


def test_the_drift_check_catches_each_kind_of_drift():
    app = web.Application()

    @require("tasks:read")
    async def wrong_mark(_r):  # catalogue says tasks:cancel
        return web.Response()

    async def unmarked(_r):
        return web.Response()

    app.router.add_post("/api/v1/tasks/{task_id}/cancel", wrong_mark)
    app.router.add_get("/api/v1/tasks/{task_id}", unmarked)
    app.router.add_get("/api/v1/not-catalogued", unmarked)
    app.router.add_get("/api/v1/costs", unmarked)
    problems = route_mismatches(app, "worker")
    assert "POST /api/v1/tasks/{task_id}/cancel: catalogue says tasks:cancel, @require says tasks:read" in problems
    assert "GET /api/v1/tasks/{task_id}: catalogue says tasks:read, @require says None" in problems
    assert "GET /api/v1/not-catalogued: mounted but not in the catalogue" in problems
    assert "GET /api/v1/costs: catalogued for role sink, mounted on worker" in problems
    assert "GET /api/v1/tasks: catalogued for worker but not mounted" in problems


# The sink role is assembled from several modules; each is checked on its own app against its part of the catalogue.
PARTS: dict[str, set[tuple[str, str]] | None] = {
    "webhook": None,  # the whole role
    "knowledge": {r.key for r in CATALOGUE if r.path.startswith("/api/v1/kb/")},
    "analytics": {("GET", "/api/v1/costs"), ("GET", "/api/v1/budget"), ("GET", "/api/v1/history"),
                  ("GET", "/api/v1/stats"), ("GET", "/api/v1/audit-logs")},
    "feedback": {("POST", "/api/v1/feedback"), ("POST", "/api/v1/slack/interactivity")},
}


@pytest.mark.parametrize("name,role,build", [
    ("webhook", "webhook", webhook_web_app),
    ("analytics", "sink", analytics_web_app),
    ("feedback", "knowledge", feedback_web_app),
    ("knowledge", "knowledge", knowledge_web_app),
])
def test_other_roles_routes_match_the_catalogue(name, role, build):
    app = build()
    part = PARTS[name]
    routes = [r for r in CATALOGUE if r.role != role or part is None or r.key in part]
    assert route_mismatches(app, role, routes) == []


def test_slack_route_is_signature_authenticated_not_marked():
    slack = next(r for r in CATALOGUE if r.path == "/api/v1/slack/interactivity")
    assert slack.permission is None and slack.auth == "slack_signature"
    doc = build_document([slack])
    assert doc["paths"][slack.path]["post"]["security"] == [{"slackSignature": []}]


def test_openapi_route_needs_a_credential_and_serves_the_apps_own_routes():
    key = "aek_openapi_test_key_0123456789"
    settings = Settings(security={"api_keys": [
        {"name": "dev", "role": "developer", "hash": hash_api_key(key)},
        {"name": "am", "role": "alertmanager", "hash": hash_api_key(key + "-am")}]})
    events = []

    async def audit(event) -> None:
        events.append(event)

    async def scenario() -> None:
        app = web.Application(middlewares=security_middlewares(settings.security, audit, settings.webhook))

        @require("tasks:read")
        async def tasks(_r):
            return web.json_response({})

        app.router.add_get("/api/v1/tasks", tasks)
        add_openapi_route(app)
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            assert (await client.get(OPENAPI_PATH)).status == 401
            assert (await client.get(OPENAPI_PATH, headers={"X-API-Key": key + "-am"})).status == 403
            resp = await client.get(OPENAPI_PATH, headers={"X-API-Key": key})
            assert resp.status == 200 and resp.content_type == "application/json"
            doc = await resp.json()
        validate(doc)
        assert set(doc["paths"]) == {"/api/v1/tasks", OPENAPI_PATH}
        assert doc["paths"][OPENAPI_PATH]["get"]["x-aetherius-permission"] == OPENAPI_PERMISSION

    asyncio.run(scenario())
    assert [(e.actor, e.details["status"]) for e in events] == [("anonymous", 401), ("am", 403), ("dev", 200)]
    # Every human role may read the document; the webhook's service role may not.
    assert PERMISSIONS[OPENAPI_PERMISSION] == {"sre", "developer", "admin", "auditor"}


def test_markdown_table_lists_every_route_once():
    table = render_markdown()
    lines = table.strip().splitlines()
    assert lines[0].startswith("| method | path |") and len(lines) == 2 + len(CATALOGUE)
    for r in CATALOGUE:
        assert sum(f"| {r.method} | `{r.path}` |" in line for line in lines) == 1, r.key
    assert "| POST | `/api/v1/tasks/{task_id}/cancel` | `aetherius worker` | `tasks:cancel` | admin, sre |" in table
    assert "| GET | `/health/live` | every role | nothing (public) | anyone |" in table
