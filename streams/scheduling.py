"""Task admission: running limits, rate limits, queue order and load shedding (SRS §3.6.3, §5.5.3) as pure
state changes.

Limits: P0 is never limited; P1 <= 20, P2 <= 30, P3 <= 50 running; <= 10 running per cluster (or the
cluster's own `max_concurrent_tasks`) and <= 50 in all (P0 counts towards them but is never held back by
them). A cluster's `rate_limit` ("100/hour") caps how many tasks may start against it in any sliding window
of that length; a task over the rate waits in the queue (it is not failed) and starts when the window has
room again - P0 counts towards the rate but is never held back by it, as with concurrency.

Queue order: priority, then arrival. When the queue holds more than `queue_limit` tasks, the newest P3 is
shed, then the newest P2; P1 and P0 are never shed (the queue grows past the limit rather than lose them).

Every function takes a state and returns a new one (the old one is left as it was); the work per call
is linear in the queue at most, because this runs once per scheduler command on a single partition.
"""

from __future__ import annotations

import bisect
from collections import Counter
from dataclasses import dataclass, field

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


class SchedulerState(BaseModel):
    queue: list[QueuedTask] = Field(default_factory=list)  # kept in admission order (see _order)
    running: dict[str, QueuedTask] = Field(default_factory=dict)
    seq: int = 0
    shed_total: int = 0
    # Rate-limited clusters only: when their recent tasks started, oldest first, trimmed to the window.
    starts: dict[str, list[float]] = Field(default_factory=dict)


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


def enqueue(state: SchedulerState, task: QueuedTask, limits: Limits) -> tuple[SchedulerState, list[QueuedTask]]:
    """Add a task; returns the new state and the tasks shed to keep the queue within its limit."""
    if task.task_id in state.running or any(q.task_id == task.task_id for q in state.queue):
        return state, []  # redelivered: already known
    seq = state.seq + 1
    queue = list(state.queue)
    bisect.insort(queue, task.model_copy(update={"seq": seq}), key=_order)
    shed: list[QueuedTask] = []
    while len(queue) > limits.queue_limit:
        at = _shed_candidate(queue)
        if at is None:
            break
        shed.append(queue.pop(at))
    return state.model_copy(update={"queue": queue, "seq": seq, "shed_total": state.shed_total + len(shed)}), shed


def _shed_candidate(queue: list[QueuedTask]) -> int | None:
    """Where the newest task of the lowest sheddable priority is: the queue is sorted, so scan from its end."""
    for level in (Priority.P3, Priority.P2):
        for at in range(len(queue) - 1, -1, -1):
            if queue[at].priority == level:
                return at  # within a level the queue is in arrival order: the first one from the end is the newest
            if queue[at].priority.value < level.value:
                break  # past this level into more urgent ones
    return None


def rate_room(starts: list[float], rate: RateSpec, now: float) -> int:
    """How many more tasks may start now under `rate` given the recent start times."""
    return rate.count - sum(1 for t in starts if now - t < rate.period_seconds)


def admit(state: SchedulerState, limits: Limits, *, now: float) -> tuple[SchedulerState, list[QueuedTask]]:
    """Move every queued task that fits, in queue order, to running. A task that does not fit (its
    cluster is busy or over its rate) does not block later tasks of other clusters: fairness between clusters.
    `now` is the command's own time, so a replay makes the same decisions."""
    running = dict(state.running)
    per_priority = Counter(r.priority.value for r in running.values())
    per_cluster = Counter(r.cluster_id for r in running.values())
    starts = {c: [t for t in times if now - t < limits.cluster_rates[c].period_seconds]
              for c, times in state.starts.items() if c in limits.cluster_rates}
    waiting, admitted = [], []
    for task in state.queue:
        if _fits(task, len(running), per_priority, per_cluster, starts, limits, now):
            running[task.task_id] = task
            per_priority[task.priority.value] += 1
            per_cluster[task.cluster_id] += 1
            if task.cluster_id in limits.cluster_rates:
                starts[task.cluster_id] = [*starts.get(task.cluster_id, []), now]
            admitted.append(task)
        else:
            waiting.append(task)
    if not admitted:
        return state, []
    return state.model_copy(update={"queue": waiting, "running": running, "starts": starts}), admitted


def _fits(task: QueuedTask, n_running: int, per_priority: Counter[str], per_cluster: Counter[str],
          starts: dict[str, list[float]], limits: Limits, now: float) -> bool:
    if task.priority == Priority.P0:
        return True
    if n_running >= limits.total:
        return False
    if per_priority[task.priority.value] >= limits.per_priority.get(task.priority.value, limits.total):
        return False
    if per_cluster[task.cluster_id] >= limits.cluster_limits.get(task.cluster_id, limits.per_cluster):
        return False
    rate = limits.cluster_rates.get(task.cluster_id)
    return rate is None or rate_room(starts.get(task.cluster_id, []), rate, now) > 0


def finish(state: SchedulerState, task_id: str) -> SchedulerState:
    if task_id not in state.running:
        return state
    running = {k: v for k, v in state.running.items() if k != task_id}
    return state.model_copy(update={"running": running})


def cancel_pending(state: SchedulerState, *, task_id: str | None = None, fingerprint: str | None = None
                   ) -> tuple[SchedulerState, list[QueuedTask]]:
    """Remove queued (not yet running) tasks by id or by a member signal's fingerprint."""
    def matches(t: QueuedTask) -> bool:
        return (task_id is not None and t.task_id == task_id) or (
            fingerprint is not None and fingerprint in t.fingerprints)

    removed = [t for t in state.queue if matches(t)]
    if not removed:
        return state, []
    return state.model_copy(update={"queue": [t for t in state.queue if not matches(t)]}), removed


def rebuild(queued: list[QueuedTask], running: list[QueuedTask], starts: dict[str, list[float]]) -> SchedulerState:
    """The state from its stored rows (after a restart or a rebalance): the queue re-sorted, the arrival
    counter past every stored one."""
    seq = max((t.seq for t in (*queued, *running)), default=0)
    return SchedulerState(queue=sorted(queued, key=_order), running={t.task_id: t for t in running}, seq=seq,
                          starts={c: sorted(times) for c, times in starts.items()})
