"""Text -> vector, behind one small interface, so the knowledge base never knows which model runs.

- `LocalMiniLMEmbedder`: the offline default (all-MiniLM-L6-v2 from a PyPI wheel, 384 dims, no network).
- `OpenAIEmbedder`: any OpenAI-compatible `/embeddings` endpoint, when configured.
- `HashingEmbedder`: deterministic feature hashing, ONLY for unit tests of logic that does not judge
  retrieval quality (versioning, feedback application); it knows no synonyms.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import threading
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Embedder(Protocol):
    """`name` goes into the collection metadata: vectors of two models must never be mixed."""

    name: str
    dimensions: int

    async def embed(self, texts: list[str]) -> list[list[float]]: ...


class LocalMiniLMEmbedder:
    name = "all-MiniLM-L6-v2"
    dimensions = 384

    def __init__(self) -> None:
        self._model = None
        self._lock = threading.Lock()

    def _loaded(self):
        with self._lock:  # load once, even when two threads ask at the same moment
            if self._model is None:
                from agents.knowledge.minilm import MiniLM
                self._model = MiniLM()
            return self._model

    def embed_sync(self, texts: list[str]) -> list[list[float]]:
        return self._loaded().encode(list(texts)).tolist()

    async def embed(self, texts: list[str]) -> list[list[float]]:
        # CPU-bound: run off the event loop so a batch of runbooks never stalls other agents.
        return await asyncio.to_thread(self.embed_sync, texts)


class OpenAIEmbedder:
    def __init__(self, *, model: str, dimensions: int, base_url: str | None = None, api_key: str | None = None,
                 timeout_seconds: float = 30.0, client=None) -> None:  # noqa: ANN001 - AsyncOpenAI or a test double
        from openai import AsyncOpenAI

        self.name = f"openai:{model}"
        self.dimensions = dimensions
        self._model = model
        self._client = client or AsyncOpenAI(base_url=base_url, api_key=api_key or "unused", timeout=timeout_seconds)

    async def embed(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        resp = await self._client.embeddings.create(model=self._model, input=list(texts))
        rows = sorted(resp.data, key=lambda d: d.index)
        vectors = [list(map(float, r.embedding)) for r in rows]
        for v in vectors:
            if len(v) != self.dimensions:
                raise ValueError(f"embedding model {self._model!r} returned {len(v)} dimensions, "
                                 f"settings say {self.dimensions}")
        return [_unit(v) for v in vectors]


_TOKEN = re.compile(r"[a-z0-9]+")


class HashingEmbedder:
    """Bag of words hashed into `dimensions` buckets, L2-normalised. Tests only (see module doc)."""

    name = "hashing-test"

    def __init__(self, dimensions: int = 384) -> None:
        self.dimensions = dimensions

    def embed_sync(self, texts: list[str]) -> list[list[float]]:
        out = []
        for text in texts:
            v = np.zeros(self.dimensions, dtype=np.float32)
            for tok in _TOKEN.findall(text.lower()):
                h = int.from_bytes(hashlib.blake2b(tok.encode(), digest_size=8).digest(), "little")
                v[h % self.dimensions] += 1.0 if (h >> 63) else -1.0
            out.append(_unit(v.tolist()))
        return out

    async def embed(self, texts: list[str]) -> list[list[float]]:
        return self.embed_sync(texts)


def _unit(v: list[float]) -> list[float]:
    n = float(np.linalg.norm(v))
    return [x / n for x in v] if n > 0 else list(v)


def make_embedder(settings) -> Embedder:  # noqa: ANN001 - schemas.knowledge_settings.EmbeddingSettings
    """The configured embedder: `local` (default) or `openai`."""
    if settings.provider == "openai":
        key = settings.api_key.get_secret_value() if settings.api_key else None
        return OpenAIEmbedder(model=settings.model, dimensions=settings.dimensions, base_url=settings.base_url,
                              api_key=key, timeout_seconds=settings.timeout_seconds)
    if settings.provider == "hashing":
        return HashingEmbedder(settings.dimensions)
    return LocalMiniLMEmbedder()
