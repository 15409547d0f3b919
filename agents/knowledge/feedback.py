"""Runs the SRS §5.9.5 decisions (agents.feedback_rules) against the knowledge base.

State the rules need between feedbacks (each user's last vote per task, pending new-pattern
candidates) lives in a `FeedbackLedger`; the file ledger sits beside the store it belongs to and has
the same single owner. The Faust agent that calls `FeedbackApplier.apply` is the lead's wiring.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel

from agents.feedback_rules import (
    AdjustEntry, Candidate, CreateEntry, Decision, FeedbackContext, HoldCandidate, KeepBest, NoChange, Polarity,
    PromoteCandidate, SimilarCase, decide, pattern_key, polarity,
)
from agents.knowledge.base import KnowledgeBase, UnknownEntry
from agents.redaction import redact_text
from agents.knowledge.filters import EntryFilter
from schemas.feedback import UserFeedback
from schemas.knowledge import KnowledgeCategory, KnowledgeEntry, KnowledgeFeedback, KnowledgeSource
from schemas.result import DiagnosticResult

log = logging.getLogger(__name__)


class FeedbackLedger(Protocol):
    def vote(self, feedback_id: str) -> Polarity | None: ...
    def set_vote(self, feedback_id: str, vote: Polarity) -> None: ...
    def candidate(self, key: str) -> Candidate | None: ...
    def set_candidate(self, candidate: Candidate | None, key: str) -> None: ...


class _LedgerState(BaseModel):
    votes: dict[str, Polarity] = {}
    candidates: dict[str, Candidate] = {}


class FileFeedbackLedger:
    """A small JSON file rewritten atomically on each change (feedback is low volume)."""

    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._state = _LedgerState.model_validate_json(path.read_text()) if path and path.exists() else _LedgerState()

    def _save(self) -> None:
        if self._path is None:
            return
        self._path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._path.with_suffix(".tmp")
        tmp.write_text(self._state.model_dump_json())
        tmp.replace(self._path)

    def vote(self, feedback_id: str) -> Polarity | None:
        return self._state.votes.get(feedback_id)

    def set_vote(self, feedback_id: str, vote: Polarity) -> None:
        self._state.votes[feedback_id] = vote
        self._save()

    def candidate(self, key: str) -> Candidate | None:
        return self._state.candidates.get(key)

    def set_candidate(self, candidate: Candidate | None, key: str) -> None:
        if candidate is None:
            self._state.candidates.pop(key, None)
        else:
            self._state.candidates[key] = candidate
        self._save()


def problem_text(result: DiagnosticResult) -> str:
    """What a result is about, phrased like the knowledge it should match."""
    parts = [result.summary.problem]
    if result.root_cause:
        parts.append(result.root_cause.description)
    return ". ".join(p for p in parts if p)


def learned_entry(result: DiagnosticResult, key: str, confidence: float, feedback: UserFeedback) -> KnowledgeEntry:
    rc = result.root_cause
    lines = [f"Problem: {result.summary.problem}"]
    if rc:
        lines.append(f"Root cause ({rc.category.value}): {rc.description}")
        lines += [f"- evidence: {e.source}: {e.detail}" for e in rc.evidence[:8]]
    for r in sorted(result.recommendations, key=lambda r: r.priority)[:5]:
        lines.append(f"- fix ({r.risk.value} risk): {r.action}" + (f" — `{r.command}`" if r.command else ""))
    return KnowledgeEntry(
        id=f"learned:{key}", title=redact_text(f"{rc.category.value if rc else 'unknown'}: {result.summary.problem}"[:200]),
        content=redact_text("\n".join(lines)), category=KnowledgeCategory.TROUBLESHOOT,
        problem_category=rc.category.value if rc else "",
        tags=["learned"], source=KnowledgeSource(type="feedback", author=feedback.user_id, reference=result.task_id),
        confidence=confidence, cluster_ids=[result.cluster_id] if result.cluster_id else [],
    )


class FeedbackOutcome(BaseModel):
    feedback_id: str
    decisions: list[Decision]
    kb_version: int


class FeedbackApplier:
    def __init__(self, kb: KnowledgeBase, ledger: FeedbackLedger, *, similar_threshold: float = 0.6,
                 max_similar: int = 10) -> None:
        self._kb = kb
        self._ledger = ledger
        self._threshold = similar_threshold
        self._max = max_similar
        self._lock = asyncio.Lock()  # one feedback at a time: every decision reads state the previous one wrote

    async def similar_cases(self, result: DiagnosticResult) -> list[SimilarCase]:
        hits = await self._kb.search(problem_text(result) or "unknown problem", top_k=self._max,
                                     flt=EntryFilter(include_disabled=True))
        return [SimilarCase(entry_id=h.entry.id, score=h.score, confidence=h.entry.confidence,
                            enabled=h.entry.enabled, needs_improvement=h.entry.needs_improvement,
                            helpful=h.entry.feedback.helpful, unhelpful=h.entry.feedback.unhelpful,
                            problem_category=h.entry.problem_category, content_hash=h.entry.content_hash,
                            source_type=h.entry.source.type)
                for h in hits if h.score >= self._threshold]

    async def apply(self, feedback: UserFeedback, result: DiagnosticResult,
                    used_entry_ids: list[str] | None = None) -> FeedbackOutcome:
        async with self._lock:
            rc = result.root_cause
            category = rc.category.value if rc else ""
            description = rc.description if rc else result.summary.problem
            key = pattern_key(category, description)
            ctx = FeedbackContext(
                feedback=feedback, root_cause_category=category, root_cause_description=description,
                root_cause_confidence=result.confidence, similar=await self.similar_cases(result),
                used_entry_ids=used_entry_ids or [], previous=self._ledger.vote(feedback.id),
                candidate=self._ledger.candidate(key))
            decisions = decide(ctx)
            actor = f"feedback:{feedback.user_id}"
            for d in decisions:
                await self._run(d, result, feedback, actor)
            self._ledger.set_vote(feedback.id, polarity(feedback.rating))
            return FeedbackOutcome(feedback_id=feedback.id, decisions=decisions, kb_version=self._kb.version)

    async def _run(self, d: Decision, result: DiagnosticResult, feedback: UserFeedback, actor: str) -> None:
        if isinstance(d, NoChange):
            return
        if isinstance(d, AdjustEntry):
            try:
                cur = await self._kb.get(d.entry_id)
            except UnknownEntry:
                log.warning("feedback %s targets entry %s, which no longer exists", feedback.id, d.entry_id)
                return
            fb = cur.feedback
            helpful, unhelpful = max(0, fb.helpful + d.helpful_delta), max(0, fb.unhelpful + d.unhelpful_delta)
            score = round(helpful / (helpful + unhelpful), 4) if helpful + unhelpful else 0.0
            await self._kb.update(d.entry_id, actor=actor, action="feedback", reason=d.reason,
                                  confidence=d.confidence, enabled=d.enabled, needs_improvement=d.needs_improvement,
                                  feedback=KnowledgeFeedback(helpful=helpful, unhelpful=unhelpful, score=score))
        elif isinstance(d, (CreateEntry, PromoteCandidate)):
            key = d.pattern_key if isinstance(d, CreateEntry) else d.candidate.pattern_key
            entry = learned_entry(result, key, d.confidence, feedback)
            entry = entry.model_copy(update={"feedback": KnowledgeFeedback(helpful=1, score=1.0)})
            await self._kb.add_entry(entry, actor=actor, action="feedback")
            if isinstance(d, PromoteCandidate):
                self._ledger.set_candidate(None, key)
        elif isinstance(d, HoldCandidate):
            self._ledger.set_candidate(d.candidate, d.candidate.pattern_key)
        elif isinstance(d, KeepBest):
            await self._kb.update_many([(i, {"enabled": False}) for i in d.disable_ids], actor=actor,
                                       action="feedback-conflict", reason=d.reason)


def ledger_path(kb_path: Path) -> Path:
    return kb_path / "feedback_ledger.json"


__all__ = ["FeedbackApplier", "FeedbackLedger", "FileFeedbackLedger", "FeedbackOutcome", "ledger_path"]
