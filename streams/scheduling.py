"""Task admission: running limits, rate limits, queue order and load shedding (SRS §3.6.3, §5.5.3).

Limits: P0 is never limited; P1 <= 20, P2 <= 30, P3 <= 50 running; <= 10 running per cluster (or the
cluster's own `max_concurrent_tasks`) and <= 50 in all (P0 counts towards them but is never held back by
them). A cluster's `rate_limit` ("100/hour") caps how many tasks may start against it in any sliding window
of that length; a task over the rate waits in the queue (it is not failed) and starts when the window has
room again - P0 counts towards the rate but is never held back by it, as with concurrency.

Queue order: priority, then arrival. When the queue holds more than `queue_limit` tasks, the newest P3 is
shed, then the newest P2; P1 and P0 are never shed (the queue grows past the limit rather than lose them).

Slots are reconciled (`Scheduler.reconcile`): a running slot is only real while the step loop works on the
task. An admitted task the step loop has not confirmed (`started`) gets its admission again every
`RESEND_AFTER` seconds (the record may be lost: a kill between the slot's write and the admission's
delivery); a task still holding its slot `STOP_GRACE` past its time budget is asked to stop (the step loop
times it out with a report); at `RELEASE_GRACE` past it the scheduler ends it itself as failed, with a
report, and frees the slot, so repeated crashes can never starve a cluster.

A task that has ended is remembered for `ENDED_MEMORY` seconds (`ended`): its enqueue command redelivered
after a crash (at-least-once upstream) is recognised instead of starting the task again - that restarted
task held a running slot that nothing would free, as its step-loop row was already finished.

`Scheduler` is decision logic only, no I/O: the scheduler agent feeds it one command at a time and stores
what each call reports as changed. It is mutable and indexed because it runs once per command on a single
partition and P0/P1 storms can queue thousands of tasks: every operation costs O(log n) or O(what changed),
except admission, which stops at the first task that cannot run once every slot is taken.
"""

from __future__ import annotations

import bisect
from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, Field

from schemas.clusters import RateSpec
from schemas.signal import Priority


class QueuedTask(BaseModel):
    task_id: str
    priority: Priority
    cluster_id: str
    fingerprints: list[str] = Field(default_factory=list)
    enqueued_at: float
    seq: int = 0  # arrival order, tie-breaker for equal timestamps
    timeout_seconds: float = 600.0  # the task's time budget: how long its running slot may be held
    admitted_at: float | None = None  # when it took a running slot
    started: bool = False  # the step loop confirmed it (the task view saw it running)
    nudged_at: float | None = None  # when its admission was last re-sent, or it was last asked to stop


ENDED_MEMORY = 3600.0
RESEND_AFTER = 60.0  # an admission can wait this long behind a backlog; sending it again only adds to it
STOP_GRACE = 60.0
RELEASE_GRACE = 180.0
Reconcile = Literal["resend", "stop", "release"]


@dataclass(frozen=True)
class Limits:
    per_priority: dict[str, int] = field(default_factory=lambda: {"P1": 20, "P2": 30, "P3": 50})
    per_cluster: int = 10
    total: int = 50
    queue_limit: int = 100
    # A cluster's own limit from the registry (access_control.max_concurrent_tasks) replaces per_cluster.
    cluster_limits: dict[str, int] = field(default_factory=dict)
    # A cluster's access_control.rate_limit from the registry: task starts per sliding window.
    cluster_rates: dict[str, RateSpec] = field(default_factory=dict)


def _order(t: QueuedTask) -> tuple[int, float, int]:
    return (int(t.priority.value[1]), t.enqueued_at, t.seq)


def rate_room(starts: list[float], rate: RateSpec, now: float) -> int:
    """How many more tasks may start now under `rate` given the recent start times."""
    return rate.count - sum(1 for t in starts if now - t < rate.period_seconds)


class Scheduler:
    def __init__(self) -> None:
        self.queue: list[QueuedTask] = []  # in admission order (see _order)
        self.queued: dict[str, QueuedTask] = {}
        self.running: dict[str, QueuedTask] = {}
        self.by_fingerprint: dict[str, set[str]] = {}  # queued task ids by member signal
        self.starts: dict[str, list[float]] = {}  # rate-limited clusters: recent start times, oldest first
        self.seq = 0
        self.shed_total = 0
        self.ended: dict[str, float] = {}  # task id -> when it left the scheduler (oldest first)
        self._per_priority: Counter[str] = Counter()
        self._per_cluster: Counter[str] = Counter()

    @classmethod
    def rebuild(cls, queued: list[QueuedTask], running: list[QueuedTask],
                starts: dict[str, list[float]], ended: dict[str, float] | None = None) -> "Scheduler":
        """From stored rows (after a restart or a rebalance): the queue re-sorted, the arrival counter past
        every stored one."""
        s = cls()
        for t in sorted(queued, key=_order):
            s._add_queued(t)
        for t in running:
            s._add_running(t)
        s.starts = {c: sorted(times) for c, times in starts.items()}
        s.ended = dict(sorted((ended or {}).items(), key=lambda kv: kv[1]))
        s.seq = max((t.seq for t in (*queued, *running)), default=0)
        return s

    def knows(self, task_id: str) -> bool:
        return task_id in self.queued or task_id in self.running or task_id in self.ended

    def end(self, task_id: str, now: float) -> None:
        """Remember that the task left the scheduler (finished, cancelled, shed, released)."""
        self.ended.pop(task_id, None)
        self.ended[task_id] = now

    def forget_ended(self, now: float, memory: float = ENDED_MEMORY) -> list[str]:
        """Drop the ended tasks older than `memory`; their ids (for their rows to go too)."""
        old = []
        for task_id, at in self.ended.items():
            if now - at < memory:
                break
            old.append(task_id)
        for task_id in old:
            del self.ended[task_id]
        return old

    def enqueue(self, task: QueuedTask, limits: Limits) -> tuple[QueuedTask | None, list[QueuedTask]]:
        """Add a task. Returns (the queued entry, or None when redelivered) and the tasks shed to keep the queue
        within its limit - possibly the new task itself."""
        if self.knows(task.task_id):
            return None, []  # redelivered: already known
        self.seq += 1
        entry = task.model_copy(update={"seq": self.seq})
        self._add_queued(entry)
        shed: list[QueuedTask] = []
        while len(self.queue) > limits.queue_limit:
            at = self._shed_candidate()
            if at is None:
                break
            shed.append(self._remove_queued_at(at))
        self.shed_total += len(shed)
        return entry, shed

    def _shed_candidate(self) -> int | None:
        """Where the newest task of the lowest sheddable priority is: the queue is sorted, so look at its end."""
        for level in (Priority.P3, Priority.P2):
            end = bisect.bisect_right(self.queue, level.rank, key=lambda t: t.priority.rank)
            if end and self.queue[end - 1].priority == level:
                return end - 1  # within a level the queue is in arrival order: the last one is the newest
        return None

    def admissible(self, limits: Limits, *, now: float) -> list[QueuedTask]:
        """The queued tasks that would start now, in queue order, without changing anything. A task that does
        not fit (its cluster is busy or over its rate) does not block later tasks of other clusters: fairness
        between clusters. `now` is the command's own time, so a replay makes the same decisions."""
        per_priority, per_cluster = Counter(self._per_priority), Counter(self._per_cluster)
        starts = {c: [t for t in times if now - t < limits.cluster_rates[c].period_seconds]
                  for c, times in self.starts.items() if c in limits.cluster_rates}
        n_running, out = len(self.running), []
        for task in self.queue:
            if task.priority != Priority.P0 and n_running >= limits.total:
                break  # every slot is taken and only P0 (at the front of the queue) ignores that
            if task.priority == Priority.P0 or self._fits(task, limits, now, per_priority, per_cluster, starts):
                out.append(task)
                n_running += 1
                per_priority[task.priority.value] += 1
                per_cluster[task.cluster_id] += 1
                if task.cluster_id in limits.cluster_rates:
                    starts.setdefault(task.cluster_id, []).append(now)
        return out

    def admit(self, limits: Limits, *, now: float) -> list[QueuedTask]:
        """Move every task `admissible` names from the queue to running, and record their starts."""
        admitted = [t.model_copy(update={"admitted_at": now}) for t in self.admissible(limits, now=now)]
        self.starts = {c: [t for t in times if now - t < limits.cluster_rates[c].period_seconds]
                       for c, times in self.starts.items() if c in limits.cluster_rates}
        for task in admitted:
            self._add_running(task)
            if task.cluster_id in limits.cluster_rates:
                self.starts.setdefault(task.cluster_id, []).append(now)
        if admitted:
            ids = {t.task_id for t in admitted}
            self.queue = [t for t in self.queue if t.task_id not in ids]
            for t in admitted:
                self._forget_queued(t)
        return admitted

    @staticmethod
    def _fits(task: QueuedTask, limits: Limits, now: float, per_priority: Counter[str], per_cluster: Counter[str],
              starts: dict[str, list[float]]) -> bool:
        p = task.priority.value
        if per_priority[p] >= limits.per_priority.get(p, limits.total):
            return False
        if per_cluster[task.cluster_id] >= limits.cluster_limits.get(task.cluster_id, limits.per_cluster):
            return False
        rate = limits.cluster_rates.get(task.cluster_id)
        return rate is None or rate_room(starts.get(task.cluster_id, []), rate, now) > 0

    def start(self, task_id: str) -> QueuedTask | None:
        """The step loop took the task: its admission need not be re-sent. The updated entry, or None."""
        task = self.running.get(task_id)
        if task is None or task.started:
            return None
        self.running[task_id] = task = task.model_copy(update={"started": True})
        return task

    def due(self, now: float) -> bool:
        """Whether `reconcile` would do anything now (the wake-up tick asks before sending a command)."""
        return any(_reconcile_one(t, now) for t in self.running.values())

    def reconcile(self, now: float) -> list[tuple[Reconcile, QueuedTask]]:
        """What to do about running slots without progress (see the module docstring), applied: re-sent and
        stopped tasks are stamped `nudged_at`, released ones leave the running set."""
        out: list[tuple[Reconcile, QueuedTask]] = []
        for task in list(self.running.values()):
            action = _reconcile_one(task, now)
            if action is None:
                continue
            if action == "release":
                self.finish(task.task_id)
            else:
                task = self.running[task.task_id] = task.model_copy(update={"nudged_at": now})
            out.append((action, task))
        return out

    def finish(self, task_id: str) -> bool:
        """Free a running slot; False when the task held none."""
        task = self.running.pop(task_id, None)
        if task is None:
            return False
        self._per_priority[task.priority.value] -= 1
        self._per_cluster[task.cluster_id] -= 1
        return True

    def cancel_pending(self, *, task_id: str | None = None, fingerprint: str | None = None) -> list[QueuedTask]:
        """Remove queued (not yet running) tasks by id or by a member signal's fingerprint."""
        ids = set(self.by_fingerprint.get(fingerprint, ())) if fingerprint is not None else set()
        if task_id is not None and task_id in self.queued:
            ids.add(task_id)
        removed = [self.queued[i] for i in ids]
        for t in sorted(removed, key=_order):
            self._remove_queued_at(self._index(t))
        return sorted(removed, key=_order)

    # -- indexes --------------------------------------------------------------------------------
    def _add_queued(self, t: QueuedTask) -> None:
        bisect.insort(self.queue, t, key=_order)
        self.queued[t.task_id] = t
        for fp in t.fingerprints:
            self.by_fingerprint.setdefault(fp, set()).add(t.task_id)

    def _index(self, t: QueuedTask) -> int:
        return bisect.bisect_left(self.queue, _order(t), key=_order)

    def _remove_queued_at(self, at: int) -> QueuedTask:
        t = self.queue.pop(at)
        self._forget_queued(t)
        return t

    def _forget_queued(self, t: QueuedTask) -> None:
        del self.queued[t.task_id]
        for fp in t.fingerprints:
            members = self.by_fingerprint.get(fp)
            if members is not None:
                members.discard(t.task_id)
                if not members:
                    del self.by_fingerprint[fp]

    def _add_running(self, t: QueuedTask) -> None:
        self.running[t.task_id] = t
        self._per_priority[t.priority.value] += 1
        self._per_cluster[t.cluster_id] += 1


def _reconcile_one(task: QueuedTask, now: float) -> Reconcile | None:
    admitted = task.admitted_at if task.admitted_at is not None else now
    held = now - admitted
    since_nudge = now - task.nudged_at if task.nudged_at is not None else held
    if held >= task.timeout_seconds + RELEASE_GRACE:
        return "release"
    if held >= task.timeout_seconds + STOP_GRACE and since_nudge >= STOP_GRACE:
        return "stop"
    if not task.started and since_nudge >= RESEND_AFTER:
        return "resend"
    return None
