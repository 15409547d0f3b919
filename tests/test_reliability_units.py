"""The pure parts of issue 13's fixes, without a broker: the consumer's commit rule, size budgets, slot
reconciliation and the dead letter's own budget. Their behaviour on real processes is in
tests/test_kill_alertmanager.py and tests/test_chaos_soak.py."""

from __future__ import annotations

import json

from schemas.bounds import RECORD_BUDGET, clip, clip_map, json_size
from schemas.deadletter import KEEP_BYTES, DeadLetter
from schemas.signal import Priority
from streams.consumer import commit_point
from streams.scheduling import RELEASE_GRACE, RESEND_AFTER, STOP_GRACE, Limits, QueuedTask, Scheduler


# -- the consumer's commit rule -------------------------------------------------------------------------
def test_commit_stops_before_an_offset_no_agent_acknowledged():
    assert commit_point([5, 6, 7], 5) == (8, 3)
    assert commit_point([5, 6, 8, 9], 5) == (7, 2)  # 7 not done: 8 and 9 wait
    # The committed record itself was never processed (Faust's check lets exactly this one slip):
    assert commit_point([6, 7, 8], 5) == (None, 0)
    assert commit_point([], 5) == (None, 0)


def test_commit_settles_redelivered_offsets_below_the_committed_one():
    # After a re-read, records already committed are acknowledged again: settled, never committed backwards.
    assert commit_point([3, 4, 5, 6], 5) == (7, 4)
    assert commit_point([3, 4], 5) == (None, 2)


# -- size budgets ---------------------------------------------------------------------------------------
def test_clip_keeps_short_text_and_marks_what_it_cut():
    assert clip("api-7d9f", 253) == "api-7d9f"
    long = "p" * 200_000
    cut = clip(long, 253)
    assert json_size(cut) - 2 <= 253 and cut.startswith("ppp") and cut.endswith("chars]")
    assert str(200_000 - len(cut.split("…")[0])) in cut


def test_clip_measures_escaped_json_not_characters():
    emoji = "\U0001F525" * 13_000  # 12 bytes each as escaped JSON (a surrogate pair)
    assert json_size(emoji) > 150_000
    cut = clip(emoji, 4096)
    assert json_size(cut) - 2 <= 4096


def test_clip_map_spends_a_total_budget_in_order():
    labels = {"alertname": "X", "pod": "p" * 100_000, "namespace": "shop", "extra": "e" * 100_000}
    out = clip_map(labels, per_value=4096, total=8192)
    assert out["alertname"] == "X" and out["namespace"] == "shop"
    assert json_size(out) < 8192 + 512
    assert out["extra"].endswith("chars]")


def test_a_dead_letter_of_a_huge_record_fits_the_broker():
    value = b"x" * 2_000_000
    dl = DeadLetter.of(topic="t", key=b"k", value=value, error="record too large", stage="steploop")
    assert dl.truncated and dl.value_bytes == 2_000_000
    assert len(dl.to_bytes()) < RECORD_BUDGET
    assert len(dl.value_b64) <= 4 * KEEP_BYTES // 3 + 4


# -- running slots ----------------------------------------------------------------------------------------
def _running(timeout: float = 60.0) -> Scheduler:
    s = Scheduler()
    s.enqueue(QueuedTask(task_id="t1", priority=Priority.P2, cluster_id="prod-us", enqueued_at=0.0,
                         timeout_seconds=timeout), Limits())
    assert [t.task_id for t in s.admit(Limits(), now=100.0)] == ["t1"]
    return s


def test_an_unconfirmed_admission_is_sent_again_until_the_step_loop_takes_it():
    s = _running(timeout=600.0)
    assert s.reconcile(100.0 + RESEND_AFTER - 1) == []
    assert [(a, t.task_id) for a, t in s.reconcile(100.0 + RESEND_AFTER)] == [("resend", "t1")]
    assert s.reconcile(100.0 + RESEND_AFTER + 1) == []  # not again before another RESEND_AFTER
    assert [a for a, _ in s.reconcile(100.0 + 2 * RESEND_AFTER)] == ["resend"]
    assert s.start("t1") is not None and s.start("t1") is None
    assert s.reconcile(100.0 + 3 * RESEND_AFTER) == []  # started: nothing to re-send


def test_a_slot_held_past_the_time_budget_is_stopped_then_released():
    s = _running(timeout=60.0)
    s.start("t1")
    assert not s.due(100.0 + 60 + STOP_GRACE - 1)
    assert [a for a, _ in s.reconcile(100.0 + 60 + STOP_GRACE)] == ["stop"]
    assert s.due(100.0 + 60 + RELEASE_GRACE)
    assert [a for a, _ in s.reconcile(100.0 + 60 + RELEASE_GRACE)] == ["release"]
    assert s.running == {} and s._per_cluster["prod-us"] == 0  # the cluster's slot is free again


def test_a_rebuilt_scheduler_keeps_the_admission_time():
    s = _running()
    rebuilt = Scheduler.rebuild([], list(s.running.values()), {})
    assert rebuilt.running["t1"].admitted_at == 100.0
    assert [a for a, _ in rebuilt.reconcile(100.0 + RESEND_AFTER)] == ["resend"]


# -- liveness -------------------------------------------------------------------------------------------
from streams.liveness import Sample, judge  # noqa: E402


def _judge(samples, waiting, now, **kw):
    args = dict(stall_seconds=60, rebalancing_since=None, recovery_stall_seconds=300, consumer_answers=True,
                broker_answers=True, commit_refused="")
    args.update(kw)
    return judge(samples, waiting, now, **args)


def test_a_partition_with_records_waiting_and_no_progress_is_a_stall():
    waiting: dict = {}
    tp = ("chaos.tasks.p2", 1)
    # Idle for an hour with nothing to do: no stall. Records arrive at t=1000: the clock starts then.
    assert _judge({tp: Sample(35, 35, last_progress=0.0)}, waiting, 1000.0).alive
    assert _judge({tp: Sample(35, 38, last_progress=0.0)}, waiting, 1000.0).alive
    assert _judge({tp: Sample(35, 38, last_progress=0.0)}, waiting, 1059.0).alive
    v = _judge({tp: Sample(35, 38, last_progress=0.0)}, waiting, 1060.0)
    assert not v.alive and "partition" in v.reasons and v.lag[tp] == 3
    # Progress resets it; so does catching up.
    assert _judge({tp: Sample(36, 38, last_progress=1061.0)}, waiting, 1100.0).alive
    assert _judge({tp: Sample(38, 38, last_progress=1061.0)}, waiting, 2000.0).alive and tp not in waiting


def test_a_broker_outage_is_not_a_stall_but_a_hung_consumer_or_recovery_is():
    tp = ("t", 0)
    waiting = {tp: 0.0}
    assert _judge({tp: Sample(1, 9, 0.0)}, waiting, 500.0, broker_answers=False, consumer_answers=False).alive
    v = _judge({}, {}, 500.0, broker_answers=True, consumer_answers=False)
    assert set(v.reasons) == {"consumer"}
    v = _judge({}, {}, 500.0, rebalancing_since=100.0)
    assert set(v.reasons) == {"recovery"}
    assert _judge({}, {}, 500.0, rebalancing_since=300.0).alive
    assert set(_judge({}, {}, 1.0, commit_refused="refused").reasons) == {"commit"}


def test_health_live_fails_with_the_reason_when_stalled():
    import asyncio as aio

    from aiohttp import web
    from aiohttp.test_utils import TestClient, TestServer

    from aetherius.http.health import add_health_routes

    state = {"ok": True}
    app = web.Application()
    add_health_routes(app, lambda: True, live=lambda: (state["ok"], {} if state["ok"] else {"stalled": {"partition": "x"}}))

    async def go():
        async with TestClient(TestServer(app)) as client:
            assert (await client.get("/health/live")).status == 200
            state["ok"] = False
            resp = await client.get("/health/live")
            assert resp.status == 503 and (await resp.json())["stalled"] == {"partition": "x"}

    aio.run(go())


def test_an_ended_task_is_not_started_again_by_a_redelivered_enqueue():
    s = _running()
    s.finish("t1")
    s.end("t1", 200.0)
    again = QueuedTask(task_id="t1", priority=Priority.P2, cluster_id="prod-us", enqueued_at=0.0)
    assert s.enqueue(again, Limits()) == (None, [])  # recognised: no second run, no slot
    assert s.admit(Limits(), now=201.0) == [] and s.running == {}
    assert s.forget_ended(200.0 + 3599) == [] and s.forget_ended(200.0 + 3600) == ["t1"]
    rebuilt = Scheduler.rebuild([], [], {}, {"t2": 5.0, "t1": 1.0})
    assert list(rebuilt.ended) == ["t1", "t2"] and rebuilt.knows("t2")
