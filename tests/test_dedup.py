"""Dedup window edges, resolve handling and the frequency count."""

from streams.dedup import DedupDecision, observe

W = 600.0


def test_first_occurrence_is_new():
    state, decision = observe(None, now=1000.0, status="firing", window_seconds=W)
    assert decision is DedupDecision.NEW and state.count_in_window == 1


def test_repeat_inside_window_is_duplicate_and_counted():
    s, _ = observe(None, now=1000.0, status="firing", window_seconds=W)
    s, d = observe(s, now=1000.0 + W - 0.001, status="firing", window_seconds=W)
    assert d is DedupDecision.DUPLICATE and s.count_in_window == 2


def test_repeat_at_window_end_opens_a_new_window():
    s, _ = observe(None, now=1000.0, status="firing", window_seconds=W)
    s, d = observe(s, now=1000.0 + W, status="firing", window_seconds=W)
    assert d is DedupDecision.NEW and s.window_start == 1000.0 + W and s.first_seen == 1000.0


def test_resolve_closes_and_next_firing_is_new():
    s, _ = observe(None, now=1000.0, status="firing", window_seconds=W)
    s, d = observe(s, now=1010.0, status="resolved", window_seconds=W)
    assert d is DedupDecision.RESOLVED and s.status == "resolved"
    again, d = observe(s, now=1020.0, status="resolved", window_seconds=W)
    assert d is DedupDecision.STALE_RESOLVE and again is None
    s, d = observe(s, now=1030.0, status="firing", window_seconds=W)
    assert d is DedupDecision.NEW


def test_resolve_of_unknown_signal_is_stale():
    state, decision = observe(None, now=1.0, status="resolved", window_seconds=W)
    assert state is None and decision is DedupDecision.STALE_RESOLVE


def test_frequency_counts_the_last_hour_only():
    s = None
    for t in (0.0, 100.0, 200.0, 3700.0):
        s, _ = observe(s, now=t, status="firing", window_seconds=W)
    assert s.frequency_per_hour(3700.0) == 2  # 0 and 100 are over an hour old at 3700; 200 and 3700 are not
