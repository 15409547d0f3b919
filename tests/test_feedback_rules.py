"""SRS §5.9.5 branches, one test each, on the pure decision functions."""

from __future__ import annotations

from agents.feedback_rules import (
    AdjustEntry, Candidate, CreateEntry, FeedbackContext, HoldCandidate, KeepBest, NoChange, Polarity,
    PromoteCandidate, SimilarCase, decide, pattern_key, resolve_conflict,
)
from schemas.feedback import UserFeedback


def fb(rating: int, comment: str = "", user: str = "u1", task: str = "t1") -> UserFeedback:
    return UserFeedback(id=f"{task}:{user}", task_id=task, user_id=user, rating=rating, comments=comment)


def case(i: int, conf: float = 0.6, **kw) -> SimilarCase:
    return SimilarCase(entry_id=f"e{i}", score=0.9 - i * 0.01, confidence=conf, **kw)


def ctx(feedback: UserFeedback, similar: list[SimilarCase] = (), rc_conf: float = 0.5, **kw) -> FeedbackContext:
    return FeedbackContext(feedback=feedback, root_cause_category="oom_killed", root_cause_description="memory limit",
                           root_cause_confidence=rc_conf, similar=list(similar), **kw)


def test_positive_with_fewer_than_3_similar_cases_creates_an_entry_at_0_6():
    for n in (1, 2):
        (d,) = decide(ctx(fb(5), [case(i) for i in range(n)]))
        assert isinstance(d, CreateEntry) and d.confidence == 0.6


def test_positive_with_3_or_more_similar_cases_raises_the_matched_entry_by_0_1():
    (d,) = decide(ctx(fb(4), [case(0, 0.7), case(1), case(2)]))
    assert isinstance(d, AdjustEntry) and d.entry_id == "e0" and d.confidence == 0.8 and d.helpful_delta == 1


def test_positive_confidence_is_capped_at_1():
    (d,) = decide(ctx(fb(5), [case(0, 0.95), case(1), case(2)]))
    assert d.confidence == 1.0


def test_the_entry_the_task_used_is_the_matched_entry():
    (d,) = decide(ctx(fb(5), [case(0), case(1, 0.5), case(2)], used_entry_ids=["e1"]))
    assert d.entry_id == "e1" and d.confidence == 0.6


def test_negative_with_comment_multiplies_by_0_8_and_marks_needs_improvement():
    (d,) = decide(ctx(fb(1, "wrong fix"), [case(0, 0.5)]))
    assert isinstance(d, AdjustEntry) and d.confidence == 0.4 and d.needs_improvement and d.enabled
    assert d.unhelpful_delta == 1


def test_negative_with_comment_disables_below_0_3():
    (d,) = decide(ctx(fb(2, "still broken"), [case(0, 0.35)]))
    assert d.confidence == 0.28 and not d.enabled


def test_negative_without_comment_multiplies_by_0_9_only():
    (d,) = decide(ctx(fb(1, "  "), [case(0, 0.3)]))
    assert d.confidence == 0.27 and d.enabled and not d.needs_improvement


def test_negative_without_any_entry_changes_nothing():
    (d,) = decide(ctx(fb(1, "bad"), []))
    assert isinstance(d, NoChange)


def test_new_pattern_is_held_until_two_confirmations():
    (d1,) = decide(ctx(fb(5, user="a"), [], rc_conf=0.7))
    assert isinstance(d1, HoldCandidate) and d1.candidate.confirmations == ["t1:a"]
    (again,) = decide(ctx(fb(5, user="a"), [], rc_conf=0.7, candidate=d1.candidate))
    assert isinstance(again, HoldCandidate)  # the same feedback id is not a second confirmation
    (d2,) = decide(ctx(fb(5, user="b"), [], rc_conf=0.9, candidate=d1.candidate))
    assert isinstance(d2, PromoteCandidate) and d2.confidence == 0.6
    assert d2.candidate.pattern_key == pattern_key("oom_killed", "Memory  limit!")


def test_new_pattern_below_0_7_root_cause_confidence_is_not_learned():
    (d,) = decide(ctx(fb(5), [], rc_conf=0.69))
    assert isinstance(d, NoChange)


def test_duplicate_vote_from_the_same_user_does_not_double():
    (d,) = decide(ctx(fb(5), [case(0), case(1), case(2)], previous=Polarity.POSITIVE))
    assert isinstance(d, NoChange)


def test_changed_vote_moves_the_count():
    (d,) = decide(ctx(fb(1, "actually wrong"), [case(0, 0.5)], previous=Polarity.POSITIVE))
    assert d.helpful_delta == -1 and d.unhelpful_delta == 1


def test_neutral_rating_changes_nothing():
    (d,) = decide(ctx(fb(3), [case(0)]))
    assert isinstance(d, NoChange)


def test_positive_feedback_re_enables_an_entry_feedback_disabled():
    disabled = case(0, 0.25, enabled=False, needs_improvement=True)
    (d,) = decide(ctx(fb(5), [disabled, case(1), case(2)]))
    assert d.confidence == 0.35 and d.enabled


def test_positive_feedback_does_not_re_enable_an_operator_disabled_entry():
    (d,) = decide(ctx(fb(5), [case(0, 0.5, enabled=False), case(1), case(2)]))
    assert not d.enabled


def test_conflicting_learned_entries_keep_the_best_success_rate():
    a = case(0, source_type="feedback", content_hash="a", helpful=9, unhelpful=1, problem_category="oom_killed")
    b = case(1, source_type="feedback", content_hash="b", helpful=2, unhelpful=3, problem_category="oom_killed")
    res = resolve_conflict([a, b])
    assert isinstance(res, KeepBest) and res.keep_id == "e0" and res.disable_ids == ["e1"]


def test_no_conflict_resolution_when_the_best_rate_is_not_above_0_8():
    a = case(0, source_type="feedback", content_hash="a", helpful=4, unhelpful=1)
    b = case(1, source_type="feedback", content_hash="b", helpful=1, unhelpful=1)
    assert resolve_conflict([a, b]) is None


def test_runbook_sections_are_never_treated_as_conflicts():
    a = case(0, content_hash="a", helpful=9)
    b = case(1, content_hash="b", unhelpful=5)
    assert resolve_conflict([a, b]) is None


def test_conflict_check_runs_after_a_vote():
    a = case(0, 0.7, source_type="feedback", content_hash="a", helpful=8, unhelpful=1, problem_category="oom_killed")
    b = case(1, 0.7, source_type="feedback", content_hash="b", helpful=1, unhelpful=1, problem_category="oom_killed")
    c = case(2, 0.7, source_type="manual", content_hash="c", problem_category="oom_killed")
    decisions = decide(ctx(fb(5), [a, b, c]))
    assert isinstance(decisions[0], AdjustEntry) and isinstance(decisions[1], KeepBest)
    assert decisions[1].disable_ids == ["e1"]


def test_candidate_round_trips_through_json():
    c = Candidate(pattern_key="k", confirmations=["a"])
    assert Candidate.model_validate_json(c.model_dump_json()) == c
