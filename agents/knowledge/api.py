"""The knowledge base over HTTP, served by the process that owns the embedded store.

Every other process (the `aetherius kb` CLI while a worker runs, another role) uses these routes
instead of opening the store's path. Mount with `add_kb_routes(app, kb)`; the auth middleware in
front decides who may call them (read: search/list/show/versions; write: ingest/disable/rollback).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from aetherius.http.rbac import require
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agents.knowledge.base import KnowledgeBase, UnknownEntry
from agents.knowledge.filters import EntryFilter
from agents.knowledge.runbooks import RunbookError, doc_id_for, parse_runbook

PREFIX = "/api/v1/kb"


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    query: str = Field(min_length=1, max_length=4000)
    top_k: int = Field(default=5, ge=1, le=100)
    cluster_id: str | None = None
    environment: str | None = None
    k8s_version: str | None = None
    include_disabled: bool = False


class Document(BaseModel):
    name: str = Field(min_length=1, max_length=500)  # the file name; its stem is the document id
    text: str = Field(max_length=2_000_000)


class IngestRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    documents: list[Document] = Field(min_length=1, max_length=1000)
    actor: str = "api"


class RollbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int = Field(ge=0)
    actor: str = "api"


def _err(status: int, error: str, details: Any = None) -> web.Response:
    return web.json_response({"error": error, "details": details or []}, status=status)


async def _body(request: web.Request, model: type[BaseModel]) -> BaseModel | web.Response:
    try:
        return model.model_validate(await request.json())
    except ValidationError as exc:
        return _err(400, "invalid request", [{"field": ".".join(map(str, e["loc"])), "message": e["msg"]}
                                              for e in exc.errors()])
    except ValueError:
        return _err(400, "body must be JSON")


def add_kb_routes(app: web.Application, kb: KnowledgeBase) -> None:
    async def search(request: web.Request) -> web.Response:
        req = await _body(request, SearchRequest)
        if isinstance(req, web.Response):
            return req
        flt = EntryFilter(cluster_id=req.cluster_id, environment=req.environment, k8s_version=req.k8s_version,
                          include_disabled=req.include_disabled)
        hits = await kb.search(req.query, req.top_k, flt)
        return web.json_response({"version": kb.version, "hits": [h.model_dump(mode="json") for h in hits]})

    async def list_entries(request: web.Request) -> web.Response:
        entries = await kb.list(include_disabled=request.query.get("include_disabled", "true") != "false")
        return web.json_response({"version": kb.version, "entries": [e.model_dump(mode="json") for e in entries]})

    async def show(request: web.Request) -> web.Response:
        try:
            return web.json_response((await kb.get(request.match_info["id"])).model_dump(mode="json"))
        except UnknownEntry:
            return _err(404, f"no entry {request.match_info['id']!r}")

    async def disable(request: web.Request) -> web.Response:
        try:
            entry = await kb.disable(request.match_info["id"], actor=request.query.get("actor", "api"))
        except UnknownEntry:
            return _err(404, f"no entry {request.match_info['id']!r}")
        return web.json_response({"version": kb.version, "entry": entry.model_dump(mode="json")})

    async def ingest(request: web.Request) -> web.Response:
        req = await _body(request, IngestRequest)
        if isinstance(req, web.Response):
            return req
        entries = []
        try:
            for doc in req.documents:
                stem = doc.name.rsplit("/", 1)[-1].rsplit(".", 1)[0]
                entries += parse_runbook(doc.text, doc.name, doc_id_for(stem))
            report = await kb.ingest_entries(entries, documents=True, actor=req.actor)
        except (RunbookError, ValueError) as exc:
            return _err(400, str(exc))
        return web.json_response(report.model_dump())

    async def versions(request: web.Request) -> web.Response:
        sets = await kb.versions()
        return web.json_response({"version": kb.version, "versions": [
            {"version": c.version, "at": c.at.isoformat(), "actor": c.actor, "action": c.action, "reason": c.reason,
             "changes": [{"entry_id": ch.entry_id, "op": ch.op} for ch in c.changes]} for c in sets]})

    async def rollback(request: web.Request) -> web.Response:
        req = await _body(request, RollbackRequest)
        if isinstance(req, web.Response):
            return req
        try:
            cs = await kb.rollback(req.version, actor=req.actor)
        except ValueError as exc:
            return _err(400, str(exc))
        return web.json_response({"version": kb.version, "changed": [] if cs is None else
                                  [{"entry_id": c.entry_id, "op": c.op} for c in cs.changes]})

    # Permission marks enforced by the auth middleware (aetherius/http): reads vs changes of the knowledge base.
    app.router.add_post(f"{PREFIX}/search", require("knowledge:read")(search))
    app.router.add_get(f"{PREFIX}/entries", require("knowledge:read")(list_entries))
    app.router.add_get(f"{PREFIX}/entries/{{id}}", require("knowledge:read")(show))
    app.router.add_post(f"{PREFIX}/entries/{{id}}/disable", require("knowledge:write")(disable))
    app.router.add_post(f"{PREFIX}/ingest", require("knowledge:write")(ingest))
    app.router.add_get(f"{PREFIX}/versions", require("knowledge:read")(versions))
    app.router.add_post(f"{PREFIX}/rollback", require("knowledge:write")(rollback))
