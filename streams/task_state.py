"""The legal task lifecycle: pending -> running -> completed | failed | cancelled | timeout.

A pending task may also be cancelled (resolved alert, user) or fail (shed, cluster unavailable)
without ever running. Anything else is refused; the caller logs the refusal and keeps the old state.
"""

from __future__ import annotations

from schemas.task import TaskStatus

_LEGAL: dict[TaskStatus, frozenset[TaskStatus]] = {
    TaskStatus.PENDING: frozenset({TaskStatus.RUNNING, TaskStatus.CANCELLED, TaskStatus.FAILED}),
    TaskStatus.RUNNING: frozenset({TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED, TaskStatus.TIMEOUT}),
    TaskStatus.COMPLETED: frozenset(),
    TaskStatus.FAILED: frozenset(),
    TaskStatus.CANCELLED: frozenset(),
    TaskStatus.TIMEOUT: frozenset(),
}


class IllegalTransition(ValueError):
    pass


def can_transition(current: TaskStatus, new: TaskStatus) -> bool:
    return new in _LEGAL[current]


def check_transition(current: TaskStatus, new: TaskStatus) -> None:
    if not can_transition(current, new):
        raise IllegalTransition(f"illegal task transition {current.value} -> {new.value}")
