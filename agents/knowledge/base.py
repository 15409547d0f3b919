"""The knowledge base: entries + vectors in one engine, every change versioned and emitted.

All engine calls run on one dedicated thread: the embedded engines are not meant for concurrent
use, and the event loop must not wait on a brute-force scan. Mutations also hold an asyncio lock, so
a change set is computed from the state it changes.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterable

from pydantic import BaseModel

from agents.knowledge.embeddings import Embedder
from agents.knowledge.engines import StoredPoint, VectorEngine
from agents.knowledge.filters import EntryFilter, derived_payload
from agents.knowledge.runbooks import content_hash, doc_id_for, embedding_text, parse_runbook
from agents.knowledge.versioning import (
    ChangeLog, ChangeSet, EntryChange, KnowledgeVersionRecord, pack_vector, rollback_targets, vector_for_hash,
)
from schemas.base import utcnow
from schemas.knowledge import KnowledgeEntry

log = logging.getLogger(__name__)

ChangeSink = Callable[[KnowledgeVersionRecord], Awaitable[None]]


class SearchHit(BaseModel):
    entry: KnowledgeEntry
    score: float


class UnknownEntry(KeyError):
    pass


class IngestReport(BaseModel):
    version: int  # the version after ingest (unchanged when nothing changed)
    added: list[str] = []
    updated: list[str] = []
    unchanged: list[str] = []
    disabled: list[str] = []  # sections that disappeared from a re-ingested file


def _payload(entry: KnowledgeEntry) -> dict[str, Any]:
    data = entry.model_dump(mode="json")
    return {**data, **derived_payload(data)}


def _entry(payload: dict[str, Any]) -> KnowledgeEntry:
    fields = KnowledgeEntry.model_fields
    return KnowledgeEntry.model_validate({k: v for k, v in payload.items() if k in fields})


class KnowledgeBase:
    def __init__(self, engine: VectorEngine, embedder: Embedder, changelog_path: Path, *,
                 on_change: ChangeSink | None = None) -> None:
        self._engine = engine
        self._embedder = embedder
        self._log = ChangeLog(changelog_path)
        self._on_change = on_change
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kb-engine")
        self._lock = asyncio.Lock()

    async def _run(self, fn: Callable, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    @property
    def version(self) -> int:
        return self._log.version

    # ---- reads -------------------------------------------------------------------------------
    async def search(self, query: str, top_k: int = 5, flt: EntryFilter | None = None) -> list[SearchHit]:
        if not query.strip():
            raise ValueError("the search query is empty")
        (vector,) = await self._embedder.embed([query])
        return await self.search_vector(vector, top_k, flt)

    async def search_vector(self, vector: list[float], top_k: int = 5, flt: EntryFilter | None = None) -> list[SearchHit]:
        points = await self._run(self._engine.search, vector, top_k, flt or EntryFilter())
        return [SearchHit(entry=_entry(p.payload), score=p.score) for p in points]

    async def get(self, entry_id: str) -> KnowledgeEntry:
        points = await self._run(self._engine.get, [entry_id])
        if not points:
            raise UnknownEntry(entry_id)
        return _entry(points[0].payload)

    async def list(self, include_disabled: bool = True) -> list[KnowledgeEntry]:
        points = await self._run(lambda: list(self._engine.scan()))
        entries = [_entry(p.payload) for p in points]
        return sorted((e for e in entries if include_disabled or e.enabled), key=lambda e: e.id)

    async def versions(self) -> list[ChangeSet]:
        return self._log.all()

    # ---- writes ------------------------------------------------------------------------------
    async def ingest_text(self, text: str, source: str, doc_id: str, *, actor: str = "cli") -> IngestReport:
        return await self.ingest_entries(parse_runbook(text, source, doc_id), documents=True, actor=actor)

    async def ingest_files(self, paths: Iterable[Path], *, actor: str = "cli") -> IngestReport:
        """Each file is its own document (id = file stem); all files land in one version."""
        entries: list[KnowledgeEntry] = []
        for path in paths:
            entries += parse_runbook(path.read_text(encoding="utf-8"), str(path), doc_id_for(path.stem))
        return await self.ingest_entries(entries, documents=True, actor=actor)

    async def ingest_entries(self, entries: list[KnowledgeEntry], *, documents: bool = False,
                             actor: str = "cli", action: str = "ingest") -> IngestReport:
        """Upsert by id, skip unchanged content, keep learned fields.

        `documents=True`: the entries are whole documents (ids `<doc>#<section>`), so sections of those
        documents that are no longer there are disabled (kept for history and rollback)."""
        ids = [e.id for e in entries]
        if len(set(ids)) != len(ids):
            raise ValueError("two entries share an id in one ingest")
        async with self._lock:
            current = {p.entry_id: p for p in await self._run(self._engine.get, ids, True)}
            report = IngestReport(version=self.version)
            todo: list[KnowledgeEntry] = []
            for e in entries:
                e = e if e.content_hash else e.model_copy(update={"content_hash": content_hash(e)})
                cur = current.get(e.id)
                if cur is not None and cur.payload.get("content_hash") == e.content_hash:
                    report.unchanged.append(e.id)
                else:
                    todo.append(e)
            vectors = await self._embedder.embed([embedding_text(e) for e in todo]) if todo else []
            changes: list[EntryChange] = []
            points: list[StoredPoint] = []
            now = utcnow()
            for e, vec in zip(todo, vectors):
                cur = current.get(e.id)
                if cur is None:
                    new = e.model_copy(update={"created_at": now, "updated_at": now, "version": 1})
                    changes.append(EntryChange(entry_id=e.id, op="add", after=new.model_dump(mode="json"),
                                               after_vector=pack_vector(vec)))
                    report.added.append(e.id)
                else:
                    old = _entry(cur.payload)
                    new = e.model_copy(update={  # an edited runbook keeps what was learned about it
                        "confidence": old.confidence, "usage_count": old.usage_count, "feedback": old.feedback,
                        "enabled": old.enabled, "needs_improvement": old.needs_improvement,
                        "created_at": old.created_at, "updated_at": now, "version": old.version + 1})
                    changes.append(EntryChange(entry_id=e.id, op="update", before=old.model_dump(mode="json"),
                                               after=new.model_dump(mode="json"), before_vector=pack_vector(cur.vector),
                                               after_vector=pack_vector(vec)))
                    report.updated.append(e.id)
                points.append(StoredPoint(e.id, _payload(new), vec))
            gone: list[KnowledgeEntry] = []
            docs = sorted({i.split("#", 1)[0] for i in ids}) if documents else []
            if docs:
                new_ids = set(ids)
                prefixes = tuple(f"{d}#" for d in docs)
                for p in await self._run(lambda: list(self._engine.scan())):
                    if p.entry_id.startswith(prefixes) and p.entry_id not in new_ids and p.payload.get("enabled", True):
                        gone.append(_entry(p.payload))
            for old in gone:
                new = old.model_copy(update={"enabled": False, "updated_at": now, "version": old.version + 1})
                changes.append(EntryChange(entry_id=old.id, op="disable", before=old.model_dump(mode="json"),
                                           after=new.model_dump(mode="json")))
                report.disabled.append(old.id)
            if not changes:
                return report
            await self._run(self._engine.upsert, points)
            for old in gone:
                await self._run(self._engine.set_payload, old.id,
                                _payload(old.model_copy(update={"enabled": False, "updated_at": now,
                                                                "version": old.version + 1})))
            await self._run(self._engine.optimize)
            cs = await self._commit(actor, action, f"{action} {', '.join(docs) or ', '.join(ids)}"[:500], changes)
            report.version = cs.version
            return report

    async def update(self, entry_id: str, *, actor: str, action: str, reason: str = "",
                     **fields: Any) -> KnowledgeEntry:
        """Change learned/metadata fields (confidence, enabled, feedback, ...) of one entry, versioned."""
        return (await self.update_many([(entry_id, fields)], actor=actor, action=action, reason=reason))[0]

    async def update_many(self, updates: list[tuple[str, dict[str, Any]]], *, actor: str, action: str,
                          reason: str = "") -> list[KnowledgeEntry]:
        forbidden = {"id", "content", "title", "content_hash", "created_at"}
        for _, fields in updates:
            if bad := forbidden & fields.keys():
                raise ValueError(f"cannot update {sorted(bad)} in place; re-ingest the runbook instead")
        async with self._lock:
            out, changes = [], []
            now = utcnow()
            for entry_id, fields in updates:
                points = await self._run(self._engine.get, [entry_id])
                if not points:
                    raise UnknownEntry(entry_id)
                old = _entry(points[0].payload)
                new = KnowledgeEntry.model_validate({**old.model_dump(), **fields, "updated_at": now,
                                                     "version": old.version + 1})
                if new.model_dump(exclude={"updated_at", "version"}) == old.model_dump(exclude={"updated_at", "version"}):
                    out.append(old)
                    continue
                op = "disable" if old.enabled and not new.enabled else "enable" if new.enabled and not old.enabled else "update"
                await self._run(self._engine.set_payload, entry_id, _payload(new))
                changes.append(EntryChange(entry_id=entry_id, op=op, before=old.model_dump(mode="json"),
                                           after=new.model_dump(mode="json")))
                out.append(new)
            if changes:
                await self._commit(actor, action, reason, changes)
            return out

    async def add_entry(self, entry: KnowledgeEntry, *, actor: str, action: str) -> KnowledgeEntry:
        """A learned entry (feedback): added once; re-adding the same content changes nothing."""
        await self.ingest_entries([entry], actor=actor, action=action)
        return await self.get(entry.id)

    async def disable(self, entry_id: str, *, actor: str = "cli", reason: str = "") -> KnowledgeEntry:
        return await self.update(entry_id, enabled=False, actor=actor, action="disable", reason=reason)

    async def rollback(self, version: int, *, actor: str = "cli") -> ChangeSet | None:
        """Restore exactly the state at `version`; recorded as a new version. None if nothing differs."""
        async with self._lock:
            if not 0 <= version <= self.version:
                raise ValueError(f"no version {version}: versions run from 0 to {self.version}")
            history = self._log.all()
            targets = rollback_targets(history, version)
            changes: list[EntryChange] = []
            for entry_id, target in sorted(targets.items()):
                cur_points = await self._run(self._engine.get, [entry_id], True)
                cur = cur_points[0] if cur_points else None
                before = cur.payload if cur else None
                before_state = _entry(before).model_dump(mode="json") if before else None
                if before_state == target:
                    continue
                if target is None:
                    await self._run(self._engine.delete, [entry_id])
                    changes.append(EntryChange(entry_id=entry_id, op="delete", before=before_state,
                                               before_vector=pack_vector(cur.vector if cur else None)))
                    continue
                restored = KnowledgeEntry.model_validate(target)
                same_content = before is not None and before.get("content_hash") == restored.content_hash
                vector = cur.vector if same_content and cur else vector_for_hash(history, restored.content_hash)
                if vector is None:  # an old log without the vector: embed again (same model, same vector)
                    (vector,) = await self._embedder.embed([embedding_text(restored)])
                await self._run(self._engine.upsert, [StoredPoint(entry_id, _payload(restored), vector)])
                changes.append(EntryChange(
                    entry_id=entry_id, op="restore", before=before_state, after=target,
                    before_vector="" if same_content else pack_vector(cur.vector if cur else None),
                    after_vector="" if same_content else pack_vector(vector)))
            if not changes:
                return None
            return await self._commit(actor, "rollback", f"rollback to version {version}", changes)

    async def _commit(self, actor: str, action: str, reason: str, changes: list[EntryChange]) -> ChangeSet:
        cs = await self._run(lambda: self._log.append(actor=actor, action=action, reason=reason, changes=changes))
        if self._on_change is not None:
            try:
                await self._on_change(KnowledgeVersionRecord.of(cs))
            except Exception:  # the version log on disk is the record; the emitted copy can be re-sent
                log.exception("knowledge version %s committed but its record could not be emitted", cs.version)
        return cs

    async def close(self) -> None:
        await self._run(self._engine.close)
        self._pool.shutdown(wait=True)
