"""Knowledge base on real qdrant engines (qdrant-client local mode and qdrant-edge-py): ingestion,
idempotency, scoping filters, versions and exact rollback, the single-owner lock, the CLI and its
remote mode. Uses the hashing test embedder: nothing here judges retrieval quality."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from pathlib import Path

import pytest
from aiohttp import web

from agents.knowledge.base import KnowledgeBase
from agents.knowledge.embeddings import HashingEmbedder
from agents.knowledge.engines import StoreBusy
from agents.knowledge.factory import open_knowledge_base
from agents.knowledge.filters import EntryFilter
from agents.knowledge.runbooks import RunbookError, parse_runbook
from agents.knowledge.versioning import KnowledgeVersionRecord
from schemas.knowledge_settings import KnowledgeSettings

RUNBOOKS = Path(__file__).resolve().parent.parent / "deploy" / "knowledge" / "runbooks"
QUERIES = ["exit code 137 memory", "image pull unauthorized", "dns no such host", "quota exceeded forbidden",
           "liveness probe failed restart", "service selector no endpoints"]

DOC = """---
title: Disk full on the database
tags: [disk]
environments: [prod]
k8s_versions: ["v1.29.3"]
---
# ignored because front matter has a title
## Symptoms
Database writes fail with no space left on device.
## Fix
Expand the volume.
"""


def settings(tmp: Path, engine: str = "local") -> KnowledgeSettings:
    return KnowledgeSettings(path=tmp, engine=engine, embedding={"provider": "hashing"})


async def snapshot(kb: KnowledgeBase) -> dict:
    """Everything observable: each query's ranked hits with full entries and scores, and the list."""
    out = {}
    for q in QUERIES:
        hits = await kb.search(q, 5, EntryFilter(include_disabled=True))
        out[q] = [(h.entry.model_dump(mode="json"), round(h.score, 6)) for h in hits]
    out["list"] = [e.model_dump(mode="json") for e in await kb.list()]
    return out


@pytest.mark.parametrize("engine", ["local", "edge"])
def test_rollback_restores_identical_search_results(tmp_path, engine):
    async def go():
        emitted: list[KnowledgeVersionRecord] = []

        async def on_change(rec: KnowledgeVersionRecord) -> None:
            emitted.append(rec)

        kb = open_knowledge_base(settings(tmp_path, engine), on_change=on_change)
        try:
            await kb.ingest_files(sorted(RUNBOOKS.glob("*.md")))
            v1 = kb.version
            before = await snapshot(kb)
            # change: edit a runbook, disable an entry, learn a confidence, add a document
            oom = (RUNBOOKS / "oom_killed.md").read_text().replace("Raise the memory limit", "Double the memory limit")
            await kb.ingest_text(oom, "oom_killed.md", "oom_killed")
            await kb.disable("dns_failure#fix")
            await kb.update("image_pull_failure#symptoms", confidence=0.2, actor="test", action="feedback")
            await kb.ingest_text(DOC, "disk.md", "disk")
            assert await snapshot(kb) != before
            cs = await kb.rollback(v1)
            after = await snapshot(kb)
            assert after == before
            assert {c.entry_id for c in cs.changes} == {"oom_killed#fix", "dns_failure#fix", "image_pull_failure#symptoms",
                                                        "disk#symptoms", "disk#fix"}
            assert [r.version for r in emitted] == [1, 2, 3, 4, 5, 6] and emitted[-1].action == "rollback"
            # a rollback is a version too: rolling back to before it restores the changed state
            changed = kb.version - 1
            await kb.rollback(changed)
            assert (await kb.get("dns_failure#fix")).enabled is False
            await kb.rollback(0)
            assert await kb.list() == []
        finally:
            await kb.close()
    asyncio.run(go())


def test_ingest_is_idempotent_and_disables_removed_sections(tmp_path):
    async def go():
        kb = open_knowledge_base(settings(tmp_path))
        try:
            r1 = await kb.ingest_text(DOC, "disk.md", "disk")
            r2 = await kb.ingest_text(DOC, "disk.md", "disk")
            assert r1.added == ["disk#symptoms", "disk#fix"] and r2.unchanged == r1.added and r2.version == r1.version
            await kb.update("disk#fix", confidence=0.9, actor="t", action="feedback")
            r3 = await kb.ingest_text(DOC.replace("Expand the volume.", "Expand the PVC."), "disk.md", "disk")
            assert r3.updated == ["disk#fix"]
            fix = await kb.get("disk#fix")
            assert fix.confidence == 0.9 and fix.content == "Expand the PVC." and fix.version == 3  # learning kept
            r4 = await kb.ingest_text(DOC.split("## Fix")[0], "disk.md", "disk")
            assert r4.disabled == ["disk#fix"] and not (await kb.get("disk#fix")).enabled
        finally:
            await kb.close()
    asyncio.run(go())


@pytest.mark.parametrize("engine", ["local", "edge"])
def test_scoping_filters(tmp_path, engine):
    async def go():
        kb = open_knowledge_base(settings(tmp_path, engine))
        try:
            await kb.ingest_text(DOC, "disk.md", "disk")  # prod, k8s 1.29 only
            await kb.ingest_files([RUNBOOKS / "volume_mount_failure.md"])  # applies everywhere
            q = "no space left on device database"
            ids = lambda hits: {h.entry.id.split("#")[0] for h in hits}  # noqa: E731
            assert "disk" in ids(await kb.search(q, 10, EntryFilter(environment="prod", k8s_version="1.29.7")))
            assert "disk" not in ids(await kb.search(q, 10, EntryFilter(environment="staging")))
            assert "disk" not in ids(await kb.search(q, 10, EntryFilter(k8s_version="v1.30.0")))
            assert "volume_mount_failure" in ids(await kb.search(q, 10, EntryFilter(environment="staging")))
            await kb.disable("disk#symptoms")
            assert "disk#symptoms" not in {h.entry.id for h in await kb.search(q, 10)}
            assert "disk#symptoms" in {h.entry.id for h in await kb.search(q, 10, EntryFilter(include_disabled=True))}
            # a narrow filter that the over-fetch cannot satisfy falls back to the engine's filter
            only = await kb.search("anything at all", 2, EntryFilter(problem_category="volume_mount_failure"))
            assert len(only) == 2 and all(h.entry.problem_category == "volume_mount_failure" for h in only)
        finally:
            await kb.close()
    asyncio.run(go())


def test_embedded_store_has_one_owner(tmp_path):
    async def go():
        kb = open_knowledge_base(settings(tmp_path))
        try:
            with pytest.raises(StoreBusy, match="owned by pid"):
                open_knowledge_base(settings(tmp_path))
        finally:
            await kb.close()
        kb2 = open_knowledge_base(settings(tmp_path))  # released on close
        await kb2.close()
    asyncio.run(go())


def test_runbook_errors_name_the_file_and_problem():
    with pytest.raises(RunbookError, match=r"x.md: front matter: confidence"):
        parse_runbook("---\ntitle: a\nconfidence: 2\n---\n## A\nb", "x.md", "x")
    with pytest.raises(RunbookError, match="x.md: front matter: colour"):
        parse_runbook("---\ntitle: a\ncolour: red\n---\n## A\nb", "x.md", "x")
    with pytest.raises(RunbookError, match="no title"):
        parse_runbook("## A\nb", "x.md", "x")
    with pytest.raises(RunbookError, match="both titled"):
        parse_runbook("# T\n## A\nb\n## A\nc", "x.md", "x")
    entries = parse_runbook("# T\nintro\n## Fix\n```\n## not a heading\n```\n### Sub\ntext", "x.md", "x")
    assert [e.id for e in entries] == ["x#overview", "x#fix"] and "## not a heading" in entries[1].content


OWNER_KEY = "aek_test-owner-key-0123456789"


def test_cli_works_locally_and_through_the_owner_api(tmp_path, capsys, monkeypatch):
    from aetherius.http.auth import hash_api_key, security_middlewares
    from schemas.security_settings import SecuritySettings

    monkeypatch.setenv("AETHERIUS_API_KEY", OWNER_KEY)
    from aetherius.cli import main
    from agents.knowledge.api import add_kb_routes

    data = tmp_path / "kb"
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("{}")
    base = ["kb", "--data-dir", str(data), "--json"]
    import os
    os.environ["AETHERIUS_CONFIG"] = str(cfg)
    try:
        # no owner: the CLI opens the path itself (with the real local model, as a user would)
        assert main(base + ["ingest", str(RUNBOOKS / "dns_failure.md")]) == 0
        assert json.loads(capsys.readouterr().out)["added"][0] == "dns_failure#overview"

        # a "worker" owns the store and serves the API; the CLI must go through it
        ready, stop = threading.Event(), threading.Event()
        state: dict = {}

        def worker() -> None:
            async def serve() -> None:
                kb = None
                try:
                    sock = socket.socket()
                    sock.bind(("127.0.0.1", 0))  # learn the port first: the owner advertises it in its lock
                    kb = open_knowledge_base(KnowledgeSettings(path=data),
                                             api_url=f"http://127.0.0.1:{sock.getsockname()[1]}")
                    async def audit(_event) -> None:
                        return None

                    # The owner's API as the worker serves it: behind the auth middleware, an admin key.
                    app = web.Application(middlewares=security_middlewares(SecuritySettings(api_keys=[
                        {"name": "ops", "role": "admin", "hash": hash_api_key(OWNER_KEY)}]), audit))
                    add_kb_routes(app, kb)
                    runner = web.AppRunner(app, access_log=None)
                    await runner.setup()
                    await web.SockSite(runner, sock).start()
                    ready.set()
                    while not stop.is_set():
                        await asyncio.sleep(0.05)
                    await runner.cleanup()
                except BaseException as exc:  # surface to the test thread
                    state["error"] = exc
                    ready.set()
                finally:
                    if kb is not None:
                        await kb.close()
            asyncio.run(serve())

        t = threading.Thread(target=worker, daemon=True)
        t.start()
        assert ready.wait(60) and "error" not in state, state
        try:
            assert main(base + ["search", "name resolution fails", "--top-k", "2"]) == 0
            hits = json.loads(capsys.readouterr().out)["hits"]
            assert [h["entry"]["id"].split("#")[0] for h in hits] == ["dns_failure", "dns_failure"]
            assert main(base + ["disable", "dns_failure#fix"]) == 0
            assert json.loads(capsys.readouterr().out)["enabled"] is False
            assert main(base + ["versions"]) == 0
            assert [v["action"] for v in json.loads(capsys.readouterr().out)["versions"]] == ["ingest", "disable"]
            assert main(base + ["rollback", "1"]) == 0
            assert json.loads(capsys.readouterr().out)["changed"] == [{"entry_id": "dns_failure#fix", "op": "restore"}]
            assert main(base + ["show", "nope"]) == 2
            assert "404" in capsys.readouterr().err
        finally:
            stop.set()
            t.join(30)
    finally:
        del os.environ["AETHERIUS_CONFIG"]
