"""Vector stores behind one synchronous interface; the knowledge base calls them from one thread.

- `QdrantClientEngine(path=...)`: qdrant-client local mode, the default. Its search is brute force in
  Python and its payload filter is a Python scan (measured ≈ 10× slower than unfiltered), so `search`
  over-fetches unfiltered and filters here, and only uses the native filter when too few survive.
- `QdrantClientEngine(url=...)`: a Qdrant server; the server filters natively with payload indexes.
- `EdgeEngine`: qdrant-edge-py, Qdrant's in-process engine (HNSW + payload indexes) for large
  knowledge bases; native filtering is fast, so it is always used.
Point ids are UUIDv5 of the entry id; the entry id is in the payload.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Protocol

import numpy as np

from agents.knowledge.filters import EntryFilter, to_edge_filter, to_qdrant_client_filter

_NS = uuid.UUID("6f1c7d2e-3b7a-4c55-9a0e-2d1b8f7a4e10")
INDEXED_KEYWORDS = ("status", "problem_category", "cluster_ids", "environments", "k8s_minors")
FILTER_FIELDS = ["id", "enabled", *INDEXED_KEYWORDS]  # what EntryFilter.matches reads


def unit(vector: list[float] | None) -> list[float] | None:
    """Unit length (the DOT-as-cosine collection relies on it); embedders already return unit vectors."""
    if vector is None:
        return None
    v = np.asarray(vector, dtype=np.float32)
    n = float(np.linalg.norm(v))
    return (v / n).tolist() if n > 0 else v.tolist()


def point_id(entry_id: str) -> str:
    return str(uuid.uuid5(_NS, entry_id))


@dataclass
class StoredPoint:
    entry_id: str
    payload: dict[str, Any]
    vector: list[float] | None = None
    score: float = 0.0


class StoreBusy(RuntimeError):
    """The embedded data path is owned by another process (architecture: embedded engines have one owner)."""


class VectorEngine(Protocol):
    def upsert(self, points: list[StoredPoint]) -> None: ...
    def set_payload(self, entry_id: str, payload: dict[str, Any]) -> None: ...
    def delete(self, entry_ids: list[str]) -> None: ...
    def search(self, vector: list[float], limit: int, flt: EntryFilter) -> list[StoredPoint]: ...
    def get(self, entry_ids: list[str], with_vectors: bool = False) -> list[StoredPoint]: ...
    def scan(self, with_vectors: bool = False) -> Iterator[StoredPoint]: ...
    def count(self) -> int: ...
    def optimize(self) -> None: ...
    def close(self) -> None: ...


class QdrantClientEngine:
    def __init__(self, *, collection: str, dimensions: int, path: Path | None = None, url: str | None = None,
                 api_key: str | None = None, oversample: int = 8) -> None:
        from qdrant_client import QdrantClient, models

        self._m = models
        self._collection = collection
        self._oversample = oversample
        self._local = path is not None
        try:
            if path is not None:
                path.mkdir(parents=True, exist_ok=True)
                self._client = QdrantClient(path=str(path))
            else:
                self._client = QdrantClient(url=url, api_key=api_key)
        except RuntimeError as exc:  # portalocker: "... already accessed by another instance of Qdrant client"
            raise StoreBusy(f"knowledge store {path} is in use by another process: {exc}") from exc
        if not self._client.collection_exists(collection):
            # Local mode's COSINE re-normalises every stored vector on every query (measured: most of
            # the search time at 10k). Our vectors are unit length, so DOT gives the same scores.
            distance = models.Distance.DOT if self._local else models.Distance.COSINE
            self._client.create_collection(collection, vectors_config=models.VectorParams(
                size=dimensions, distance=distance))
            if not self._local:  # local mode ignores payload indexes
                for key in INDEXED_KEYWORDS:
                    self._client.create_payload_index(collection, key, models.PayloadSchemaType.KEYWORD)
        size = self._client.get_collection(collection).config.params.vectors.size  # type: ignore[union-attr]
        if size != dimensions:
            raise ValueError(f"collection {collection!r} holds {size}-dim vectors but the embedder makes {dimensions}; "
                             "use another collection or path for another model")

    def upsert(self, points: list[StoredPoint]) -> None:
        if points:
            self._client.upsert(self._collection, points=[
                self._m.PointStruct(id=point_id(p.entry_id), vector=unit(p.vector), payload=p.payload) for p in points])

    def set_payload(self, entry_id: str, payload: dict[str, Any]) -> None:
        self._client.overwrite_payload(self._collection, payload=payload, points=[point_id(entry_id)])

    def delete(self, entry_ids: list[str]) -> None:
        if entry_ids:
            self._client.delete(self._collection, points_selector=self._m.PointIdsList(
                points=[point_id(i) for i in entry_ids]))

    def search(self, vector: list[float], limit: int, flt: EntryFilter) -> list[StoredPoint]:
        if not self._local:
            return self._query(vector, limit, to_qdrant_client_filter(flt))
        # Over-fetch with only the fields the filter reads: local mode deep-copies every returned
        # payload, and copying 40 full entries cost more than the vector scan itself (profiled).
        fetch = limit * self._oversample
        hits = self._query(vector, fetch, None, FILTER_FIELDS)
        kept = [h for h in hits if flt.matches(h.payload)][:limit]
        if len(kept) < limit and len(hits) == fetch:  # rare: a narrow filter; let the engine filter
            return self._query(vector, limit, to_qdrant_client_filter(flt))
        full = {p.entry_id: p.payload for p in self.get([h.entry_id for h in kept])}
        return [StoredPoint(h.entry_id, full[h.entry_id], score=h.score) for h in kept if h.entry_id in full]

    def _query(self, vector: list[float], limit: int, qfilter, fields: list[str] | bool = True) -> list[StoredPoint]:  # noqa: ANN001
        res = self._client.query_points(self._collection, query=vector, limit=limit, query_filter=qfilter,
                                        with_payload=fields)
        return [StoredPoint(entry_id=p.payload["id"], payload=p.payload, score=float(p.score)) for p in res.points]

    def get(self, entry_ids: list[str], with_vectors: bool = False) -> list[StoredPoint]:
        if not entry_ids:
            return []
        recs = self._client.retrieve(self._collection, ids=[point_id(i) for i in entry_ids], with_payload=True,
                                     with_vectors=with_vectors)
        return [StoredPoint(entry_id=r.payload["id"], payload=r.payload,
                            vector=list(r.vector) if with_vectors and r.vector is not None else None) for r in recs]

    def scan(self, with_vectors: bool = False) -> Iterator[StoredPoint]:
        offset = None
        while True:
            recs, offset = self._client.scroll(self._collection, limit=256, offset=offset, with_payload=True,
                                               with_vectors=with_vectors)
            for r in recs:
                yield StoredPoint(entry_id=r.payload["id"], payload=r.payload,
                                  vector=list(r.vector) if with_vectors and r.vector is not None else None)
            if offset is None:
                return

    def count(self) -> int:
        return self._client.count(self._collection, exact=True).count

    def optimize(self) -> None:
        return None

    def close(self) -> None:
        self._client.close()


class EdgeEngine:
    def __init__(self, *, path: Path, dimensions: int) -> None:
        import qdrant_edge as e

        self._e = e
        shard_dir = path / "edge"
        if shard_dir.exists() and any(shard_dir.iterdir()):
            self._shard = e.EdgeShard.load(str(shard_dir))
        else:
            shard_dir.mkdir(parents=True, exist_ok=True)
            cfg = e.EdgeConfig(vectors=e.EdgeVectorParams(size=dimensions, distance=e.Distance.Cosine),
                               hnsw_config=e.HnswIndexConfig(m=16, ef_construct=100, full_scan_threshold=10000))
            self._shard = e.EdgeShard.create(str(shard_dir), cfg)
            for key in INDEXED_KEYWORDS:
                self._shard.update(e.UpdateOperation.create_field_index(key, e.PayloadSchemaType.Keyword))

    def upsert(self, points: list[StoredPoint]) -> None:
        if points:
            self._shard.update(self._e.UpdateOperation.upsert_points(
                [self._e.Point(point_id(p.entry_id), p.vector, p.payload) for p in points]))

    def set_payload(self, entry_id: str, payload: dict[str, Any]) -> None:
        (cur,) = self.get([entry_id], with_vectors=True)
        self.upsert([StoredPoint(entry_id, payload, cur.vector)])  # overwrite, not merge

    def delete(self, entry_ids: list[str]) -> None:
        if entry_ids:
            self._shard.update(self._e.UpdateOperation.delete_points([point_id(i) for i in entry_ids]))

    def search(self, vector: list[float], limit: int, flt: EntryFilter) -> list[StoredPoint]:
        e = self._e
        res = self._shard.search(e.SearchRequest(query=e.Query.Nearest(vector), limit=limit, filter=to_edge_filter(flt),
                                                 with_payload=True))
        return [StoredPoint(entry_id=p.payload["id"], payload=dict(p.payload), score=float(p.score)) for p in res]

    def get(self, entry_ids: list[str], with_vectors: bool = False) -> list[StoredPoint]:
        if not entry_ids:
            return []
        recs = self._shard.retrieve([point_id(i) for i in entry_ids], True, with_vectors)
        return [StoredPoint(entry_id=r.payload["id"], payload=dict(r.payload),
                            vector=list(r.vector) if with_vectors and r.vector is not None else None) for r in recs]

    def scan(self, with_vectors: bool = False) -> Iterator[StoredPoint]:
        e = self._e
        offset = None
        while True:
            recs, offset = self._shard.scroll(e.ScrollRequest(offset=offset, limit=256, with_payload=True,
                                                              with_vector=with_vectors))
            for r in recs:
                yield StoredPoint(entry_id=r.payload["id"], payload=dict(r.payload),
                                  vector=list(r.vector) if with_vectors and r.vector is not None else None)
            if offset is None:
                return

    def count(self) -> int:
        return self._shard.count(self._e.CountRequest())

    def optimize(self) -> None:
        self._shard.optimize()  # builds HNSW once a segment passes the indexing threshold

    def close(self) -> None:
        self._shard.flush()
        self._shard.close()
