"""streams.consumer.StrictConsumer's bookkeeping, replaying the offsets traced in issue 13's kill -9 runs.

After a restart Faust set tasks.p2[0] to its committed offset 13, and the next records handed to the agent were
17, 18, ... (fetched before the seek); Faust counted 14-16 as done and committed 18: three tasks never started.
Here the same sequence is fed to the consumer's delivery and commit logic (no broker: the consumer object is
built without Faust's start-up, and a re-read is recorded instead of seeking)."""

from __future__ import annotations

from collections import defaultdict
from types import SimpleNamespace

from faust.types import TP
from intervaltree import IntervalTree

from streams.consumer import StrictConsumer

TASKS = TP("chaos.tasks.p2", 0)


def consumer() -> StrictConsumer:
    c = object.__new__(StrictConsumer)
    c.app = SimpleNamespace(topics=SimpleNamespace(acks_enabled_for=lambda topic: not topic.endswith("-changelog")))
    c._expected, c._first, c._rereads, c._reread_seq = {}, {}, {}, {}
    c._fetch_seq = 0
    c._read_offset = defaultdict(lambda: None)
    c._committed_offset = defaultdict(lambda: None)
    c._gap = defaultdict(IntervalTree)
    c._acked = defaultdict(list)
    c._acked_index = defaultdict(set)
    c.rereads = []
    c._reread = lambda tp, offset: (c.rereads.append((tp, offset)), c._rereads.__setitem__(tp, offset))
    return c


def seek(c: StrictConsumer, tp: TP, offset: int, reread: bool = False) -> None:
    """What `perform_seek` (to the committed offset) or a re-read's seek leave behind (no broker needed here)."""
    c._expected[tp] = offset
    c._read_offset[tp] = offset - 1
    if reread:
        c._rereads.pop(tp, None)
        c._reread_seq[(tp, offset)] = c._fetch_seq


def batch(c: StrictConsumer, tp: TP, offsets) -> list[int]:
    c._fetch_seq += 1
    return [o for o in offsets if c._in_order(tp, o, c._fetch_seq)]


def ack(c: StrictConsumer, tp: TP, offsets) -> None:
    for o in offsets:
        c._acked[tp].append(o)
        c._acked_index[tp].add(o)


def test_records_fetched_before_the_seek_are_held_back_and_read_again_in_order():
    c = consumer()
    c._committed_offset[TASKS] = 13
    seek(c, TASKS, 13)
    assert batch(c, TASKS, [17, 18, 19]) == []  # the stale batch: nothing past the hole reaches the agent
    assert c.rereads == [(TASKS, 13)]  # ... and the partition is read again from 13, once
    seek(c, TASKS, 13, reread=True)
    assert batch(c, TASKS, range(13, 20)) == list(range(13, 20))
    assert c._read_offset[TASKS] == 18  # Faust's own check then accepts 19 (its mark is "last read")


def test_no_commit_passes_a_record_that_was_not_acknowledged():
    c = consumer()
    c._committed_offset[TASKS] = 13
    ack(c, TASKS, [17, 18])  # acknowledged out of order: 13-16 are not done
    assert c._new_offset(TASKS) is None
    ack(c, TASKS, [14, 15, 16])
    assert c._new_offset(TASKS) is None  # 13 itself is not done (Faust's check let exactly this one slip)
    ack(c, TASKS, [13])
    assert c._new_offset(TASKS) == 19 and c._acked[TASKS] == []


def test_a_hole_still_there_after_the_re_read_is_accepted_as_gone_from_the_log():
    c = consumer()
    seek(c, TASKS, 5)
    assert batch(c, TASKS, [9, 10]) == [] and c.rereads == [(TASKS, 5)]
    seek(c, TASKS, 5, reread=True)  # read again: the log now starts at 9 (retention deleted 5-8)
    assert batch(c, TASKS, [9, 10]) == [9, 10]
    c._committed_offset[TASKS] = 5
    ack(c, TASKS, [9, 10])
    assert c._new_offset(TASKS) == 11  # 5-8 count as gone, as Faust does for a compacted topic


def test_a_record_handed_over_already_is_not_handed_over_again():
    c = consumer()
    seek(c, TASKS, 0)
    assert batch(c, TASKS, [0, 1, 2]) == [0, 1, 2] and batch(c, TASKS, [2, 3]) == [3]
