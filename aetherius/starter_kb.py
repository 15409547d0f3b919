"""The starter runbooks as a ready knowledge store, built once per content and copied for every demo.

Ingesting means loading the embedding model and embedding every runbook section: most of a demo's start on
a small machine. The result depends only on the runbooks, the embedding settings and the knowledge-base code,
so it is cached under `~/.cache/aetherius/knowledge-<hash>` (AETHERIUS_CACHE_DIR moves it) and a warm demo
copies the directory instead. The copy is the demo's own: what its worker learns never touches the cache.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from aetherius.localkafka import REPO_ROOT

RUNBOOKS = REPO_ROOT / "deploy" / "knowledge" / "runbooks"
KB_CODE = REPO_ROOT / "agents" / "knowledge"
LOCK_NAME = "owner.lock"  # agents.knowledge.ownership.LOCK_NAME: a cached store is nobody's


@dataclass(frozen=True)
class Ready:
    path: Path
    sections: int
    documents: int
    cached: bool  # True: copied from the cache; False: ingested now (and cached for next time)
    version: int


def cache_root() -> Path:
    return Path(os.environ.get("AETHERIUS_CACHE_DIR", Path.home() / ".cache" / "aetherius"))


def content_key(runbooks: list[Path], settings) -> str:  # noqa: ANN001 - KnowledgeSettings
    """What the store is a function of: the runbooks, the embedding settings, the knowledge code, qdrant's version."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        qdrant = version("qdrant-client")
    except PackageNotFoundError:
        qdrant = ""
    h = hashlib.sha256()
    for path in runbooks:
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    h.update(settings.embedding.model_dump_json(exclude={"api_key"}).encode())
    h.update(f"{settings.engine}|{settings.collection}|{qdrant}".encode())
    for path in sorted(KB_CODE.glob("*.py")):
        h.update(path.read_bytes())
    return h.hexdigest()[:20]


class CountingEmbedder:
    """Embeds in small batches and reports each, so a progress bar can follow a long ingest."""

    def __init__(self, inner, on_total: Callable[[int], None], on_done: Callable[[int], None],  # noqa: ANN001
                 batch: int = 8) -> None:
        self.inner, self.on_total, self.on_done, self.batch = inner, on_total, on_done, batch
        self.dimensions = inner.dimensions
        self.name = getattr(inner, "name", type(inner).__name__)

    async def embed(self, texts: list[str]) -> list[list[float]]:
        self.on_total(len(texts))
        out: list[list[float]] = []
        for i in range(0, len(texts), self.batch):
            chunk = texts[i:i + self.batch]
            out += await self.inner.embed(chunk)
            self.on_done(len(chunk))
        return out


def prepare(target: Path, settings, *, on_phase: Callable[[str], None] = lambda _m: None,  # noqa: ANN001
            on_total: Callable[[int], None] = lambda _n: None, on_done: Callable[[int], None] = lambda _n: None,
            runbooks_dir: Path = RUNBOOKS) -> Ready:
    """Make `target` a knowledge store holding the starter runbooks: a copy of the cached one, else ingest
    (in this process, with progress) and cache the result. `settings` is the KnowledgeSettings to build with."""
    runbooks = sorted(runbooks_dir.rglob("*.md"))
    if not runbooks:
        raise FileNotFoundError(f"no runbooks under {runbooks_dir}")
    key = content_key(runbooks, settings)
    cached = cache_root() / f"knowledge-{key}"
    if (cached / ".complete").exists():
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(cached, target, ignore=shutil.ignore_patterns(LOCK_NAME, ".complete", "meta"))
        sections, documents, version = (int(x) for x in (cached / "meta").read_text().split())
        return Ready(target, sections, documents, True, version)
    on_phase("loading the embedding model")
    report = asyncio.run(_ingest(target, settings, runbooks, on_total, on_done))
    sections, version = len(report.added) + len(report.updated) + len(report.unchanged), report.version
    cached.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{cached.name}-", dir=cached.parent))
    try:  # build beside, then rename: a half-written cache is never used
        shutil.copytree(target, tmp, ignore=shutil.ignore_patterns(LOCK_NAME), dirs_exist_ok=True)
        (tmp / "meta").write_text(f"{sections} {len(runbooks)} {version}\n")
        (tmp / ".complete").touch()
        os.replace(tmp, cached) if not cached.exists() else shutil.rmtree(tmp)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)  # no cache this time; the demo's own store is ready anyway
    return Ready(target, sections, len(runbooks), False, version)


async def _ingest(target: Path, settings, runbooks: list[Path], on_total, on_done):  # noqa: ANN001, ANN202
    from agents.knowledge.embeddings import make_embedder
    from agents.knowledge.factory import open_knowledge_base

    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    ks = settings.model_copy(update={"path": target})
    embedder = CountingEmbedder(make_embedder(ks.embedding), on_total, on_done)
    kb = open_knowledge_base(ks, embedder=embedder)
    try:
        return await kb.ingest_files(runbooks, actor="demo")
    finally:
        await kb.close()
