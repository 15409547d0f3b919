"""The demo's starter knowledge base is ingested once per content and then copied (aetherius/starter_kb.py):
a second demo skips the embedding; a changed runbook is ingested again; the copy is the demo's own."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from aetherius import starter_kb
from schemas.knowledge_settings import EmbeddingSettings, KnowledgeSettings

RUNBOOKS = Path(__file__).resolve().parent.parent / "deploy" / "knowledge" / "runbooks"


def test_ingested_once_then_copied_and_searchable(tmp_path, monkeypatch):
    monkeypatch.setenv("AETHERIUS_CACHE_DIR", str(tmp_path / "cache"))
    books = tmp_path / "runbooks"
    books.mkdir()
    for name in ("oom_killed.md", "dns_failure.md"):
        shutil.copy(RUNBOOKS / name, books / name)
    settings = KnowledgeSettings(embedding=EmbeddingSettings(provider="hashing"))
    embedded: list[int] = []

    first = starter_kb.prepare(tmp_path / "demo1", settings, runbooks_dir=books, on_done=embedded.append)
    assert not first.cached and first.documents == 2 and first.sections == sum(embedded) > 0
    embedded.clear()
    second = starter_kb.prepare(tmp_path / "demo2", settings, runbooks_dir=books, on_done=embedded.append)
    assert second.cached and embedded == [] and (second.sections, second.version) == (first.sections, first.version)

    from agents.knowledge.factory import open_knowledge_base

    async def titles(path: Path) -> list[str]:
        kb = open_knowledge_base(settings.model_copy(update={"path": path}))
        try:
            return sorted(e.id for e in await kb.list())
        finally:
            await kb.close()

    assert asyncio.run(titles(tmp_path / "demo2")) == asyncio.run(titles(tmp_path / "demo1"))
    assert len(asyncio.run(titles(tmp_path / "demo2"))) == first.sections

    (books / "dns_failure.md").write_text((books / "dns_failure.md").read_text() + "\n## Also\nCheck CoreDNS.\n")
    third = starter_kb.prepare(tmp_path / "demo3", settings, runbooks_dir=books, on_done=embedded.append)
    assert not third.cached and third.sections == first.sections + 1
