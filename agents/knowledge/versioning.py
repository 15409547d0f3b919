"""Knowledge-base versions (SRS §5.3.3): every change is a numbered change set; rollback is computed.

The log is append-only. Version 0 is the empty knowledge base; each committed change set is the next
integer. A change set holds, per entry, the full state before and after (and the vector whenever the
content changed), so the state at any version can be rebuilt exactly. A rollback is itself a new
change set, so history is never rewritten and a rollback can be rolled back.
"""

from __future__ import annotations

import base64
import json
import threading
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field

from schemas.base import Record, utcnow

Op = Literal["add", "update", "disable", "enable", "delete", "restore"]


def pack_vector(v: list[float] | None) -> str:
    return base64.b64encode(np.asarray(v, dtype=np.float32).tobytes()).decode() if v is not None else ""


def unpack_vector(s: str) -> list[float] | None:
    return np.frombuffer(base64.b64decode(s), dtype=np.float32).tolist() if s else None


class EntryChange(BaseModel):
    entry_id: str
    op: Op
    before: dict[str, Any] | None = None  # KnowledgeEntry JSON, None when the entry did not exist
    after: dict[str, Any] | None = None  # None when the entry was deleted
    before_vector: str = ""  # packed float32, only when the content changed or the entry went away
    after_vector: str = ""


class ChangeSet(BaseModel):
    version: int = Field(ge=1)
    at: datetime = Field(default_factory=utcnow)
    actor: str = "system"
    action: str  # ingest | disable | feedback | rollback | update | ...
    reason: str = ""
    changes: list[EntryChange]


class EntryChangeSummary(BaseModel):
    entry_id: str
    op: Op
    title: str = ""
    confidence_before: float | None = None
    confidence_after: float | None = None
    enabled_before: bool | None = None
    enabled_after: bool | None = None
    content_hash_before: str = ""
    content_hash_after: str = ""


class KnowledgeVersionRecord(Record):
    """What is emitted for ClickHouse: the change set without contents or vectors."""

    version: int
    at: datetime
    actor: str
    action: str
    reason: str = ""
    changes: list[EntryChangeSummary]

    @classmethod
    def of(cls, cs: ChangeSet) -> "KnowledgeVersionRecord":
        def get(d: dict | None, k: str):  # noqa: ANN202
            return None if d is None else d.get(k)
        return cls(version=cs.version, at=cs.at, actor=cs.actor, action=cs.action, reason=cs.reason, changes=[
            EntryChangeSummary(entry_id=c.entry_id, op=c.op, title=(c.after or c.before or {}).get("title", ""),
                               confidence_before=get(c.before, "confidence"), confidence_after=get(c.after, "confidence"),
                               enabled_before=get(c.before, "enabled"), enabled_after=get(c.after, "enabled"),
                               content_hash_before=get(c.before, "content_hash") or "",
                               content_hash_after=get(c.after, "content_hash") or "")
            for c in cs.changes])


def rollback_targets(log: list[ChangeSet], version: int) -> dict[str, dict[str, Any] | None]:
    """Entry id -> its state at `version` (None: it did not exist) for every entry changed after it.

    Pure: the state at V of an entry changed later is the `before` of its first change after V.
    """
    targets: dict[str, dict[str, Any] | None] = {}
    for cs in sorted(log, key=lambda c: c.version):
        if cs.version <= version:
            continue
        for ch in cs.changes:
            targets.setdefault(ch.entry_id, ch.before)
    return targets


def vector_for_hash(log: list[ChangeSet], content_hash: str) -> list[float] | None:
    """The vector recorded for a content hash; every add and content change records one."""
    for cs in reversed(log):
        for ch in cs.changes:
            if ch.after and ch.after.get("content_hash") == content_hash and ch.after_vector:
                return unpack_vector(ch.after_vector)
            if ch.before and ch.before.get("content_hash") == content_hash and ch.before_vector:
                return unpack_vector(ch.before_vector)
    return None


class ChangeLog:
    """JSON lines on disk, owned by the one process that owns the store (see agents/knowledge/README)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._sets: list[ChangeSet] = []
        if path.exists():
            for n, line in enumerate(path.read_text().splitlines(), 1):
                if line.strip():
                    try:
                        self._sets.append(ChangeSet.model_validate_json(line))
                    except ValueError as exc:
                        raise ValueError(f"{path}:{n}: unreadable change set: {exc}") from exc

    @property
    def version(self) -> int:
        return self._sets[-1].version if self._sets else 0

    def all(self) -> list[ChangeSet]:
        return list(self._sets)

    def append(self, *, actor: str, action: str, reason: str, changes: list[EntryChange]) -> ChangeSet:
        with self._lock:
            cs = ChangeSet(version=self.version + 1, actor=actor, action=action, reason=reason, changes=changes)
            self._path.parent.mkdir(parents=True, exist_ok=True)
            with self._path.open("a") as fh:
                fh.write(cs.model_dump_json() + "\n")
                fh.flush()
            self._sets.append(cs)
            return cs


def dumps_entry_state(state: dict[str, Any] | None) -> str:
    return json.dumps(state, sort_keys=True, default=str)
