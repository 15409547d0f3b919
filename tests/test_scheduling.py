"""Admission limits (SRS §3.6.3), rate limits (§5.5.3), queue order, shedding order, cancel/resolve."""

from schemas.clusters import RateSpec
from schemas.signal import Priority
from streams.scheduling import Limits, QueuedTask, Scheduler


def qt(i, priority="P2", cluster="c1", t=None, fps=()):
    return QueuedTask(task_id=f"t{i}", priority=Priority(priority), cluster_id=cluster,
                      enqueued_at=float(i if t is None else t), fingerprints=list(fps))


def fill(tasks, limits):
    s = Scheduler()
    shed_all = []
    for task in tasks:
        shed_all += s.enqueue(task, limits)[1]
    return s, shed_all


def ids(tasks):
    return [t.task_id for t in tasks]


def test_admission_order_is_priority_then_arrival():
    s, _ = fill([qt(1, "P3"), qt(2, "P1"), qt(3, "P2"), qt(4, "P1")], Limits(total=2))
    assert ids(s.admit(Limits(total=2), now=0.0)) == ["t2", "t4"]
    assert ids(s.queue) == ["t3", "t1"]


def test_per_priority_limits():
    limits = Limits(per_priority={"P1": 1, "P2": 2, "P3": 1}, per_cluster=100, total=100)
    s, _ = fill([qt(i, "P2", cluster=f"c{i}") for i in range(5)], limits)
    assert len(s.admit(limits, now=0.0)) == 2 and len(s.queue) == 3


def test_per_cluster_limit_does_not_block_other_clusters():
    limits = Limits(per_cluster=2, total=100)
    s, _ = fill([qt(1, cluster="a"), qt(2, cluster="a"), qt(3, cluster="a"), qt(4, cluster="b")], limits)
    assert ids(s.admit(limits, now=0.0)) == ["t1", "t2", "t4"] and ids(s.queue) == ["t3"]


def test_total_limit_and_p0_is_never_held():
    limits = Limits(total=1, per_cluster=1)
    s, _ = fill([qt(1, "P1"), qt(2, "P0"), qt(3, "P0")], limits)
    assert set(ids(s.admit(limits, now=0.0))) == {"t2", "t3"}  # both P0 run; P1 waits for the cluster slot
    assert s.finish("t2") and s.finish("t3") and not s.finish("t3")
    assert ids(s.admit(limits, now=0.0)) == ["t1"]


def test_a_full_house_admits_nothing_but_p0_and_frees_slots_on_finish():
    limits = Limits(total=2, per_cluster=10)
    s, _ = fill([qt(i, "P2") for i in range(1, 6)], limits)
    assert ids(s.admit(limits, now=0.0)) == ["t1", "t2"]
    s.enqueue(qt(9, "P0"), limits)
    assert ids(s.admit(limits, now=0.0)) == ["t9"]  # P0 passes a full house
    assert s.admit(limits, now=0.0) == []
    s.finish("t1"), s.finish("t9")
    assert ids(s.admit(limits, now=0.0)) == ["t3"]  # t1 and t9 done: one slot free again


def test_shedding_takes_newest_p3_then_p2_never_p1():
    limits = Limits(queue_limit=3, total=0, per_priority={"P1": 0, "P2": 0, "P3": 0})
    s, shed = fill([qt(1, "P3"), qt(2, "P2"), qt(3, "P3"), qt(4, "P1"), qt(5, "P2"), qt(6, "P1")], limits)
    assert ids(shed) == ["t3", "t1", "t5"]
    assert sorted(ids(s.queue)) == ["t2", "t4", "t6"]
    assert ids(s.enqueue(qt(7, "P1"), limits)[1]) == ["t2"]
    entry, shed = s.enqueue(qt(8, "P0"), limits)
    assert entry is not None and shed == [] and len(s.queue) == 4  # only P0/P1 left: the queue grows
    assert s.shed_total == 4


def test_a_new_p3_over_the_limit_is_itself_the_one_shed():
    limits = Limits(queue_limit=2, total=0, per_priority={"P1": 0, "P2": 0, "P3": 0})
    s, _ = fill([qt(1, "P3"), qt(2, "P3")], limits)
    entry, shed = s.enqueue(qt(3, "P3"), limits)
    assert entry is not None and ids(shed) == ["t3"] and ids(s.queue) == ["t1", "t2"] and not s.knows("t3")


def test_redelivered_enqueue_is_ignored():
    s, _ = fill([qt(1)], Limits())
    assert s.enqueue(qt(1), Limits()) == (None, [])
    s.admit(Limits(), now=0.0)
    assert s.enqueue(qt(1), Limits()) == (None, [])  # running counts as known too


def test_cancel_pending_by_id_and_by_fingerprint():
    s, _ = fill([qt(1, fps=["fa"]), qt(2, fps=["fb"]), qt(3, fps=["fa", "fc"])], Limits(total=0))
    assert ids(s.cancel_pending(fingerprint="fa")) == ["t1", "t3"]
    assert s.cancel_pending(fingerprint="fc") == []  # the index forgot t3 with it
    assert ids(s.cancel_pending(task_id="t2")) == ["t2"] and s.queue == [] and s.queued == {}
    assert s.cancel_pending(task_id="missing") == []


def test_a_clusters_own_limit_from_the_registry_replaces_the_default():
    limits = Limits(per_cluster=1, total=100, cluster_limits={"big": 3})
    s, _ = fill([qt(i, cluster="big") for i in range(4)] + [qt(9, cluster="small"), qt(10, cluster="small")], limits)
    assert sorted(ids(s.admit(limits, now=0.0))) == ["t0", "t1", "t2", "t9"]


def test_a_clusters_rate_limit_holds_tasks_in_the_queue_until_the_window_has_room():
    limits = Limits(per_cluster=100, total=100, cluster_rates={"slow": RateSpec.model_validate("2/minute")})
    s, _ = fill([qt(i, cluster="slow") for i in range(1, 4)] + [qt(9, cluster="free")], limits)
    assert sorted(ids(s.admit(limits, now=100.0))) == ["t1", "t2", "t9"]  # the third start on "slow" waits
    assert ids(s.queue) == ["t3"] and s.starts == {"slow": [100.0, 100.0]}
    s.finish("t1")  # a free running slot does not help: the rate counts starts, not running tasks
    assert s.admit(limits, now=159.0) == []
    assert ids(s.admit(limits, now=160.0)) == ["t3"] and s.starts == {"slow": [160.0]}


def test_p0_counts_towards_the_rate_but_is_never_held_by_it():
    limits = Limits(per_cluster=100, total=100, cluster_rates={"c1": RateSpec.model_validate("1/hour")})
    s, _ = fill([qt(1, "P0"), qt(2, "P0"), qt(3, "P1")], limits)
    assert ids(s.admit(limits, now=10.0)) == ["t1", "t2"] and ids(s.queue) == ["t3"]
    assert len(s.starts["c1"]) == 2


def test_rebuild_from_rows_restores_order_counters_and_arrival_counter():
    limits = Limits(total=1, per_cluster=5)
    s, _ = fill([qt(1, "P3"), qt(2, "P1"), qt(3, "P2"), qt(4, "P1")], limits)
    s.admit(limits, now=0.0)
    again = Scheduler.rebuild(list(reversed(s.queue)), list(s.running.values()), {})
    assert again.queue == s.queue and again.running == s.running and again.seq == s.seq == 4
    assert again.admit(limits, now=0.0) == []  # the rebuilt running counts still hold the one slot
    assert again.enqueue(qt(5, "P1"), limits)[0].seq == 5


def test_a_large_queue_keeps_every_decision_cheap_and_correct():
    """Thousands of P1 tasks queue in a storm (never shed): decisions stay right at that size."""
    limits = Limits(total=50, per_cluster=10)
    s, _ = fill([qt(i, "P1", cluster=f"c{i % 7}", fps=[f"f{i}"]) for i in range(3000)], limits)
    assert len(s.admit(limits, now=0.0)) == 20  # the P1 limit
    assert ids(s.cancel_pending(fingerprint="f2999")) == ["t2999"] and len(s.queue) == 2979
    s.finish("t0")
    assert ids(s.admit(limits, now=0.0)) == ["t20"]
