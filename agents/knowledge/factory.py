"""Open the configured knowledge base, taking ownership of an embedded store."""

from __future__ import annotations

from agents.knowledge.base import ChangeSink, KnowledgeBase
from agents.knowledge.embeddings import Embedder, make_embedder
from agents.knowledge.engines import EdgeEngine, QdrantClientEngine, VectorEngine
from agents.knowledge.ownership import OwnerLock


def open_engine(settings, dimensions: int) -> VectorEngine:  # noqa: ANN001 - KnowledgeSettings
    if settings.engine == "server":
        key = settings.api_key.get_secret_value() if settings.api_key else None
        return QdrantClientEngine(collection=settings.collection, dimensions=dimensions, url=settings.url, api_key=key)
    if settings.engine == "edge":
        return EdgeEngine(path=settings.path, dimensions=dimensions)
    return QdrantClientEngine(collection=settings.collection, dimensions=dimensions, path=settings.path / "qdrant",
                              oversample=settings.oversample)


class OwnedKnowledgeBase(KnowledgeBase):
    """A knowledge base that holds the owner lock of its embedded path until closed."""

    def __init__(self, *args, lock: OwnerLock | None, **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        self._owner = lock

    async def close(self) -> None:
        try:
            await super().close()
        finally:
            if self._owner is not None:
                self._owner.release()


def open_knowledge_base(settings, *, on_change: ChangeSink | None = None, embedder: Embedder | None = None,  # noqa: ANN001
                        api_url: str | None = None) -> OwnedKnowledgeBase:
    """Raises `StoreBusy` when another process owns the embedded path (use its API instead)."""
    embedder = embedder or make_embedder(settings.embedding)
    lock = None
    if settings.engine != "server":
        lock = OwnerLock(settings.path, api_url=api_url or settings.api_url)
        lock.acquire()
    try:
        engine = open_engine(settings, embedder.dimensions)
    except BaseException:
        if lock:
            lock.release()
        raise
    return OwnedKnowledgeBase(engine, embedder, settings.path / "versions.jsonl", on_change=on_change, lock=lock)
