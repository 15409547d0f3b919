"""SRS §5.9.5 knowledge-base update decisions, as pure functions (no I/O; the applier does the I/O).

Branches, exactly as the SRS states them, with our reading where it is silent:
- Positive (rating >= 4): fewer than 3 similar cases -> create a new entry at confidence 0.6; otherwise
  raise the matched entry's confidence by 0.1 (max 1.0) and count a helpful vote.
- Negative (rating <= 2) with a comment -> confidence x 0.8, mark "needs improvement", disable below 0.3.
  Negative without a comment -> confidence x 0.9 (the SRS disables only in the commented branch).
- New pattern: no similar case and root-cause confidence >= 0.7 -> held as a candidate; it becomes an
  entry after 2 confirmations (distinct positive feedbacks on the pattern, the first included). A
  positive vote on a pattern with no similar case and lower confidence is not learned. The SRS branch
  is about learning, so only positive feedback starts or confirms a pattern.
- Conflict: learned entries for the same problem with different solutions -> keep the one with the
  best success rate when that rate is > 0.8, disable the others.
- Duplicate feedback (same user, same task = same feedback id): a repeated vote with the same polarity
  changes nothing; a changed vote moves the helpful/unhelpful count and applies the new branch.
- Re-enabling: an entry that feedback disabled (disabled + needs improvement) is enabled again when
  positive feedback brings its confidence back to 0.3 or more. An operator's `kb disable` is not undone.
- Neutral (rating 3): recorded, no change.
"""

from __future__ import annotations

import hashlib
import re
from enum import Enum
from typing import Literal, Union

from pydantic import BaseModel, Field

from schemas.feedback import UserFeedback

MIN_SIMILAR_FOR_UPDATE = 3
NEW_ENTRY_CONFIDENCE = 0.6
POSITIVE_STEP = 0.1
MAX_CONFIDENCE = 1.0
NEGATIVE_WITH_COMMENT_FACTOR = 0.8
NEGATIVE_WITHOUT_COMMENT_FACTOR = 0.9
DISABLE_BELOW = 0.3
NEW_PATTERN_MIN_ROOT_CAUSE_CONFIDENCE = 0.7
MIN_CONFIRMATIONS = 2
CONFLICT_KEEP_SUCCESS_RATE = 0.8
LEARNED_SOURCES = ("feedback", "incident")


class Polarity(str, Enum):
    POSITIVE = "positive"
    NEGATIVE = "negative"
    NEUTRAL = "neutral"


def polarity(rating: int) -> Polarity:
    if rating >= 4:
        return Polarity.POSITIVE
    if rating <= 2:
        return Polarity.NEGATIVE
    return Polarity.NEUTRAL


class SimilarCase(BaseModel):
    """A knowledge entry similar to the diagnosed problem (score >= the similar-case threshold)."""

    entry_id: str
    score: float
    confidence: float
    enabled: bool = True
    needs_improvement: bool = False
    helpful: int = 0
    unhelpful: int = 0
    problem_category: str = ""
    content_hash: str = ""
    source_type: str = "manual"


class Candidate(BaseModel):
    pattern_key: str
    confirmations: list[str] = Field(default_factory=list)  # feedback ids


class FeedbackContext(BaseModel):
    feedback: UserFeedback
    root_cause_category: str = ""
    root_cause_description: str = ""
    root_cause_confidence: float = 0.0
    similar: list[SimilarCase] = Field(default_factory=list)  # best first
    used_entry_ids: list[str] = Field(default_factory=list)  # knowledge the task used
    previous: Polarity | None = None  # this user's earlier vote on this task, if any
    candidate: Candidate | None = None  # the pending pattern for this problem, if any


class CreateEntry(BaseModel):
    kind: Literal["create_entry"] = "create_entry"
    confidence: float = NEW_ENTRY_CONFIDENCE
    pattern_key: str
    reason: str


class AdjustEntry(BaseModel):
    kind: Literal["adjust_entry"] = "adjust_entry"
    entry_id: str
    confidence: float
    enabled: bool
    needs_improvement: bool
    helpful_delta: int = 0
    unhelpful_delta: int = 0
    reason: str


class HoldCandidate(BaseModel):
    kind: Literal["hold_candidate"] = "hold_candidate"
    candidate: Candidate
    reason: str


class PromoteCandidate(BaseModel):
    kind: Literal["promote_candidate"] = "promote_candidate"
    candidate: Candidate
    confidence: float = NEW_ENTRY_CONFIDENCE
    reason: str


class KeepBest(BaseModel):
    kind: Literal["keep_best"] = "keep_best"
    keep_id: str
    disable_ids: list[str]
    reason: str


class NoChange(BaseModel):
    kind: Literal["no_change"] = "no_change"
    reason: str


Decision = Union[CreateEntry, AdjustEntry, HoldCandidate, PromoteCandidate, KeepBest, NoChange]


def pattern_key(category: str, description: str) -> str:
    """Stable key of a problem pattern: category + the normalised root-cause description."""
    norm = " ".join(re.findall(r"[a-z0-9]+", description.lower()))
    return f"{category or 'unknown'}:{hashlib.sha256(norm.encode()).hexdigest()[:16]}"


def success_rate(helpful: int, unhelpful: int) -> float | None:
    total = helpful + unhelpful
    return helpful / total if total else None


def target_case(ctx: FeedbackContext) -> SimilarCase | None:
    """The entry the feedback is about: one the task used if known, else the most similar one."""
    by_id = {c.entry_id: c for c in ctx.similar}
    for entry_id in ctx.used_entry_ids:
        if entry_id in by_id:
            return by_id[entry_id]
    return ctx.similar[0] if ctx.similar else None


def vote_deltas(new: Polarity, previous: Polarity | None) -> tuple[int, int]:
    """(helpful, unhelpful) count changes for a vote that replaces `previous` (same user, same task)."""
    helpful = (new is Polarity.POSITIVE) - (previous is Polarity.POSITIVE)
    unhelpful = (new is Polarity.NEGATIVE) - (previous is Polarity.NEGATIVE)
    return int(helpful), int(unhelpful)


def positive_confidence(current: float) -> float:
    return round(min(current + POSITIVE_STEP, MAX_CONFIDENCE), 6)


def negative_confidence(current: float, has_comment: bool) -> float:
    factor = NEGATIVE_WITH_COMMENT_FACTOR if has_comment else NEGATIVE_WITHOUT_COMMENT_FACTOR
    return round(current * factor, 6)


def decide(ctx: FeedbackContext) -> list[Decision]:
    vote = polarity(ctx.feedback.rating)
    if ctx.previous is not None and ctx.previous == vote:
        return [NoChange(reason="duplicate vote from the same user on the same task: record updated, not counted again")]
    if vote is Polarity.NEUTRAL:
        return [NoChange(reason="neutral rating (3): recorded, no knowledge change")]
    helpful_d, unhelpful_d = vote_deltas(vote, ctx.previous)
    if vote is Polarity.NEGATIVE:
        return _negative(ctx, unhelpful_d, helpful_d)
    return _positive(ctx, helpful_d, unhelpful_d)


def _negative(ctx: FeedbackContext, unhelpful_d: int, helpful_d: int) -> list[Decision]:
    case = target_case(ctx)
    if case is None:
        return [NoChange(reason="negative feedback, but no knowledge entry was involved")]
    has_comment = bool(ctx.feedback.comments.strip())
    conf = negative_confidence(case.confidence, has_comment)
    if has_comment:
        enabled = case.enabled and conf >= DISABLE_BELOW
        reason = f"negative with comment: confidence {case.confidence} x {NEGATIVE_WITH_COMMENT_FACTOR} = {conf}" + (
            f", below {DISABLE_BELOW}: disabled" if case.enabled and not enabled else "")
        decision = AdjustEntry(entry_id=case.entry_id, confidence=conf, enabled=enabled, needs_improvement=True,
                               helpful_delta=helpful_d, unhelpful_delta=unhelpful_d, reason=reason)
    else:
        decision = AdjustEntry(entry_id=case.entry_id, confidence=conf, enabled=case.enabled,
                               needs_improvement=case.needs_improvement, helpful_delta=helpful_d,
                               unhelpful_delta=unhelpful_d,
                               reason=f"negative without comment: confidence {case.confidence} x "
                                      f"{NEGATIVE_WITHOUT_COMMENT_FACTOR} = {conf}")
    return [decision, *_conflicts(ctx, decision)]


def _positive(ctx: FeedbackContext, helpful_d: int, unhelpful_d: int) -> list[Decision]:
    fid = ctx.feedback.id
    if not ctx.similar:
        if ctx.root_cause_confidence < NEW_PATTERN_MIN_ROOT_CAUSE_CONFIDENCE:
            return [NoChange(reason=f"new pattern with root-cause confidence {ctx.root_cause_confidence} < "
                                    f"{NEW_PATTERN_MIN_ROOT_CAUSE_CONFIDENCE}: not learned")]
        key = pattern_key(ctx.root_cause_category, ctx.root_cause_description)
        cand = ctx.candidate or Candidate(pattern_key=key)
        if fid not in cand.confirmations:
            cand = cand.model_copy(update={"confirmations": [*cand.confirmations, fid]})
        if len(cand.confirmations) >= MIN_CONFIRMATIONS:
            return [PromoteCandidate(candidate=cand, reason=f"new pattern confirmed {len(cand.confirmations)} times")]
        return [HoldCandidate(candidate=cand, reason=f"new pattern held: {len(cand.confirmations)} of "
                                                     f"{MIN_CONFIRMATIONS} confirmations")]
    if len(ctx.similar) < MIN_SIMILAR_FOR_UPDATE:
        return [CreateEntry(pattern_key=pattern_key(ctx.root_cause_category, ctx.root_cause_description),
                            reason=f"positive with {len(ctx.similar)} similar case(s) < {MIN_SIMILAR_FOR_UPDATE}: new entry")]
    case = target_case(ctx)
    assert case is not None  # similar is non-empty
    conf = positive_confidence(case.confidence)
    reenable = not case.enabled and case.needs_improvement and conf >= DISABLE_BELOW
    decision = AdjustEntry(entry_id=case.entry_id, confidence=conf, enabled=case.enabled or reenable,
                           needs_improvement=case.needs_improvement, helpful_delta=helpful_d,
                           unhelpful_delta=unhelpful_d,
                           reason=f"positive with {len(ctx.similar)} similar cases: confidence {case.confidence} + "
                                  f"{POSITIVE_STEP} = {conf}" + (", enabled again" if reenable else ""))
    return [decision, *_conflicts(ctx, decision)]


def resolve_conflict(cases: list[SimilarCase]) -> KeepBest | None:
    """Learned entries for one problem that say different things: keep the best-proven one."""
    learned = [c for c in cases if c.source_type in LEARNED_SOURCES]
    if len({c.content_hash for c in learned}) < 2:
        return None
    rated = [(success_rate(c.helpful, c.unhelpful), c) for c in learned]
    rated = [(r, c) for r, c in rated if r is not None]
    if not rated:
        return None
    best_rate, best = max(rated, key=lambda rc: (rc[0], rc[1].helpful, rc[1].confidence))
    if best_rate <= CONFLICT_KEEP_SUCCESS_RATE:
        return None
    losers = [c.entry_id for c in learned if c.entry_id != best.entry_id and c.enabled
              and (success_rate(c.helpful, c.unhelpful) or 0.0) < best_rate]
    if not losers:
        return None
    return KeepBest(keep_id=best.entry_id, disable_ids=losers,
                    reason=f"conflicting entries for {best.problem_category or 'one problem'}: keep "
                           f"{best.entry_id} (success rate {best_rate:.2f})")


def _conflicts(ctx: FeedbackContext, applied: AdjustEntry) -> list[Decision]:
    """Conflict check over the similar cases of the same problem, with this feedback's counts applied."""
    cases = []
    for c in ctx.similar:
        if c.entry_id == applied.entry_id:
            c = c.model_copy(update={"helpful": c.helpful + applied.helpful_delta,
                                     "unhelpful": c.unhelpful + applied.unhelpful_delta,
                                     "enabled": applied.enabled, "confidence": applied.confidence})
        if not ctx.root_cause_category or c.problem_category == ctx.root_cause_category:
            cases.append(c)
    resolved = resolve_conflict(cases)
    return [resolved] if resolved else []
