"""Admission limits (SRS §3.6.3), queue order, shedding order, cancel/resolve."""

from schemas.signal import Priority
from streams.scheduling import Limits, QueuedTask, SchedulerState, admit, cancel_pending, enqueue, finish


def qt(i, priority="P2", cluster="c1", t=None, fps=()):
    return QueuedTask(task_id=f"t{i}", priority=Priority(priority), cluster_id=cluster,
                      enqueued_at=float(i if t is None else t), fingerprints=list(fps))


def fill(tasks, limits):
    s = SchedulerState()
    shed_all = []
    for task in tasks:
        s, shed = enqueue(s, task, limits)
        shed_all += shed
    return s, shed_all


def test_admission_order_is_priority_then_arrival():
    s, _ = fill([qt(1, "P3"), qt(2, "P1"), qt(3, "P2"), qt(4, "P1")], Limits(total=2))
    s, admitted = admit(s, Limits(total=2), now=0.0)
    assert [t.task_id for t in admitted] == ["t2", "t4"]


def test_per_priority_limits():
    limits = Limits(per_priority={"P1": 1, "P2": 2, "P3": 1}, per_cluster=100, total=100)
    s, _ = fill([qt(i, "P2", cluster=f"c{i}") for i in range(5)], limits)
    s, admitted = admit(s, limits, now=0.0)
    assert len(admitted) == 2 and len(s.queue) == 3


def test_per_cluster_limit_does_not_block_other_clusters():
    limits = Limits(per_cluster=2, total=100)
    s, _ = fill([qt(1, cluster="a"), qt(2, cluster="a"), qt(3, cluster="a"), qt(4, cluster="b")], limits)
    s, admitted = admit(s, limits, now=0.0)
    assert [t.task_id for t in admitted] == ["t1", "t2", "t4"] and [t.task_id for t in s.queue] == ["t3"]


def test_total_limit_and_p0_is_never_held():
    limits = Limits(total=1, per_cluster=1)
    s, _ = fill([qt(1, "P1"), qt(2, "P0"), qt(3, "P0")], limits)
    s, admitted = admit(s, limits, now=0.0)
    assert {t.task_id for t in admitted} == {"t2", "t3"}  # both P0 run; P1 waits for the cluster slot
    s = finish(s, "t2")
    s = finish(s, "t3")
    s, admitted = admit(s, limits, now=0.0)
    assert [t.task_id for t in admitted] == ["t1"]


def test_shedding_takes_newest_p3_then_p2_never_p1():
    limits = Limits(queue_limit=3, total=0, per_priority={"P1": 0, "P2": 0, "P3": 0})
    s, shed = fill([qt(1, "P3"), qt(2, "P2"), qt(3, "P3"), qt(4, "P1"), qt(5, "P2"), qt(6, "P1")], limits)
    assert [t.task_id for t in shed] == ["t3", "t1", "t5"]
    assert sorted(t.task_id for t in s.queue) == ["t2", "t4", "t6"]
    s, shed = enqueue(s, qt(7, "P1"), limits)
    assert [t.task_id for t in shed] == ["t2"]
    s, shed = enqueue(s, qt(8, "P0"), limits)
    assert shed == [] and len(s.queue) == 4  # only P0/P1 left: the queue grows rather than lose them
    assert s.shed_total == 4


def test_redelivered_enqueue_is_ignored():
    s, _ = fill([qt(1)], Limits())
    again, shed = enqueue(s, qt(1), Limits())
    assert again is s and shed == []


def test_cancel_pending_by_id_and_by_fingerprint():
    s, _ = fill([qt(1, fps=["fa"]), qt(2, fps=["fb"]), qt(3, fps=["fa", "fc"])], Limits(total=0))
    s, removed = cancel_pending(s, fingerprint="fa")
    assert [t.task_id for t in removed] == ["t1", "t3"]
    s, removed = cancel_pending(s, task_id="t2")
    assert [t.task_id for t in removed] == ["t2"] and s.queue == []
    s2, removed = cancel_pending(s, task_id="missing")
    assert s2 is s and removed == []


def test_a_clusters_own_limit_from_the_registry_replaces_the_default():
    limits = Limits(per_cluster=1, total=100, cluster_limits={"big": 3})
    s, _ = fill([qt(i, cluster="big") for i in range(4)] + [qt(9, cluster="small"), qt(10, cluster="small")], limits)
    s, admitted = admit(s, limits, now=0.0)
    assert sorted(t.task_id for t in admitted) == ["t0", "t1", "t2", "t9"]


def test_a_clusters_rate_limit_holds_tasks_in_the_queue_until_the_window_has_room():
    from schemas.clusters import RateSpec
    limits = Limits(per_cluster=100, total=100, cluster_rates={"slow": RateSpec.model_validate("2/minute")})
    s, _ = fill([qt(i, cluster="slow") for i in range(1, 4)] + [qt(9, cluster="free")], limits)
    s, admitted = admit(s, limits, now=100.0)
    assert sorted(t.task_id for t in admitted) == ["t1", "t2", "t9"]  # the third start on "slow" waits
    assert [t.task_id for t in s.queue] == ["t3"] and s.starts == {"slow": [100.0, 100.0]}
    s = finish(s, "t1")  # a free running slot does not help: the rate counts starts, not running tasks
    assert admit(s, limits, now=159.0)[1] == []
    s, admitted = admit(s, limits, now=160.0)
    assert [t.task_id for t in admitted] == ["t3"] and s.starts == {"slow": [160.0]}


def test_p0_counts_towards_the_rate_but_is_never_held_by_it():
    from schemas.clusters import RateSpec

    limits = Limits(per_cluster=100, total=100, cluster_rates={"c1": RateSpec.model_validate("1/hour")})
    s, _ = fill([qt(1, "P0"), qt(2, "P0"), qt(3, "P1")], limits)
    s, admitted = admit(s, limits, now=10.0)
    assert [t.task_id for t in admitted] == ["t1", "t2"] and [t.task_id for t in s.queue] == ["t3"]
    assert len(s.starts["c1"]) == 2


def test_rebuild_from_rows_restores_order_and_arrival_counter():
    from streams.scheduling import rebuild

    limits = Limits(total=1, per_cluster=5)
    s, _ = fill([qt(1, "P3"), qt(2, "P1"), qt(3, "P2"), qt(4, "P1")], limits)
    s, _ = admit(s, limits, now=0.0)
    again = rebuild(list(reversed(s.queue)), list(s.running.values()), {})
    assert again.queue == s.queue and again.running == s.running and again.seq == s.seq == 4
    again, _ = enqueue(again, qt(5, "P1"), limits)
    assert again.seq == 5
