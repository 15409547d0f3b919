"""Task admission: running limits, queue order, and load shedding (SRS §3.6.3) as pure state changes.

Limits: P0 is never limited; P1 <= 20, P2 <= 30, P3 <= 50 running; <= 10 running per cluster and
<= 50 in all (P0 counts towards them but is never held back by them). Queue order: priority, then
arrival. When the queue holds more than `queue_limit` tasks, the newest P3 is shed, then the newest
P2; P1 and P0 are never shed (the queue grows past the limit rather than lose them).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import BaseModel, Field

from schemas.signal import Priority


class QueuedTask(BaseModel):
    task_id: str
    priority: Priority
    cluster_id: str
    fingerprints: list[str] = Field(default_factory=list)
    enqueued_at: float
    seq: int = 0  # arrival order, tie-breaker for equal timestamps


class SchedulerState(BaseModel):
    queue: list[QueuedTask] = Field(default_factory=list)
    running: dict[str, QueuedTask] = Field(default_factory=dict)
    seq: int = 0
    shed_total: int = 0


@dataclass(frozen=True)
class Limits:
    per_priority: dict[str, int] = field(default_factory=lambda: {"P1": 20, "P2": 30, "P3": 50})
    per_cluster: int = 10
    total: int = 50
    queue_limit: int = 100
    # A cluster's own limit from the registry (access_control.max_concurrent_tasks) replaces per_cluster.
    cluster_limits: dict[str, int] = field(default_factory=dict)


def _order(t: QueuedTask) -> tuple[int, float, int]:
    return (t.priority.rank, t.enqueued_at, t.seq)


def enqueue(state: SchedulerState, task: QueuedTask, limits: Limits) -> tuple[SchedulerState, list[QueuedTask]]:
    """Add a task; returns the new state and the tasks shed to keep the queue within its limit."""
    if task.task_id in state.running or any(q.task_id == task.task_id for q in state.queue):
        return state, []  # redelivered: already known
    seq = state.seq + 1
    queue = sorted([*state.queue, task.model_copy(update={"seq": seq})], key=_order)
    shed: list[QueuedTask] = []
    while len(queue) > limits.queue_limit:
        victim = _shed_candidate(queue)
        if victim is None:
            break
        queue.remove(victim)
        shed.append(victim)
    return state.model_copy(update={"queue": queue, "seq": seq, "shed_total": state.shed_total + len(shed)}), shed


def _shed_candidate(queue: list[QueuedTask]) -> QueuedTask | None:
    for level in (Priority.P3, Priority.P2):
        candidates = [t for t in queue if t.priority == level]
        if candidates:
            return max(candidates, key=lambda t: (t.enqueued_at, t.seq))
    return None


def _fits(task: QueuedTask, running: dict[str, QueuedTask], limits: Limits) -> bool:
    if task.priority == Priority.P0:
        return True
    if len(running) >= limits.total:
        return False
    same_priority = sum(1 for r in running.values() if r.priority == task.priority)
    if same_priority >= limits.per_priority.get(task.priority.value, limits.total):
        return False
    same_cluster = sum(1 for r in running.values() if r.cluster_id == task.cluster_id)
    return same_cluster < limits.cluster_limits.get(task.cluster_id, limits.per_cluster)


def admit(state: SchedulerState, limits: Limits) -> tuple[SchedulerState, list[QueuedTask]]:
    """Move every queued task that fits, in queue order, to running. A task that does not fit (its
    cluster is busy) does not block later tasks of other clusters: fairness between clusters."""
    running = dict(state.running)
    waiting, admitted = [], []
    for task in state.queue:
        if _fits(task, running, limits):
            running[task.task_id] = task
            admitted.append(task)
        else:
            waiting.append(task)
    if not admitted:
        return state, []
    return state.model_copy(update={"queue": waiting, "running": running}), admitted


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
