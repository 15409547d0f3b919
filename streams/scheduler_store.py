"""The scheduler's state in a Faust table, one row per task instead of one row for everything.

The scheduler runs once per command on a single partition, so its cost per command bounds the whole
pipeline. Storing the whole queue as one row re-serialised the queue (and its changelog record) on every
command - measured at 40% of a worker's time in an alert storm. Here a command writes only the rows it
changed: the new task's row (with its body, needed when it is admitted), an admitted task's row (now
without the body: it has been sent), a tombstone for a task that left, and a rate-limited cluster's start
times. The parsed state lives in memory and is rebuilt from the rows after every rebalance, because
another worker may have owned the partition in between.

    task:<id>     {"entry": QueuedTask, "task": DiagnosticTask JSON}   queued
    task:<id>     {"entry": QueuedTask, "running": true}               running
    rate:<cluster> [start times]
"""

from __future__ import annotations

import logging
from typing import Any

from streams.scheduling import QueuedTask, SchedulerState, rebuild

log = logging.getLogger(__name__)

TASK, RATE = "task:", "rate:"


class SchedulerStore:
    def __init__(self, table: Any) -> None:
        self.table = table
        self._state: SchedulerState | None = None
        self._generation = 0

    def invalidate(self) -> None:
        """The partition may have moved: forget the parsed state (the next command rebuilds it)."""
        self._generation += 1
        self._state = None

    @property
    def cached(self) -> SchedulerState | None:
        """The state if this worker has parsed it since the last rebalance (the owner), else None."""
        return self._state

    def state(self) -> SchedulerState:
        if self._state is None:
            self._state = self._load()
        return self._state

    def body(self, task_id: str) -> dict[str, Any] | None:
        """A queued task's full body, as stored when it was enqueued."""
        row = self.table.get(TASK + task_id)
        return row.get("task") if row else None

    def commit(self, old: SchedulerState, new: SchedulerState, bodies: dict[str, dict[str, Any]]) -> None:
        """Write the rows that differ between `old` and `new`. `bodies` holds the bodies of newly queued tasks."""
        generation = self._generation
        if new is not old:
            old_queued = {t.task_id for t in old.queue}
            new_queued = {t.task_id: t for t in new.queue}
            for task_id, entry in new_queued.items():
                if task_id not in old_queued:
                    self.table[TASK + task_id] = {"entry": entry.model_dump(mode="json"), "task": bodies[task_id]}
            for task_id, entry in new.running.items():
                if task_id not in old.running:
                    self.table[TASK + task_id] = {"entry": entry.model_dump(mode="json"), "running": True}
            for task_id in (old_queued | old.running.keys()) - (new_queued.keys() | new.running.keys()):
                self.table.pop(TASK + task_id, None)  # a tombstone on the changelog
            for cluster in old.starts.keys() | new.starts.keys():
                if old.starts.get(cluster) != new.starts.get(cluster):
                    self.table[RATE + cluster] = new.starts.get(cluster, [])
        if generation == self._generation:  # a rebalance in between: leave the state to be rebuilt
            self._state = new

    def _load(self) -> SchedulerState:
        queued: list[QueuedTask] = []
        running: list[QueuedTask] = []
        starts: dict[str, list[float]] = {}
        for key, row in list(self.table.items()):
            if row is None:
                continue
            if key.startswith(TASK):
                entry = QueuedTask.model_validate(row["entry"])
                (running if row.get("running") else queued).append(entry)
            elif key.startswith(RATE):
                starts[key[len(RATE):]] = [float(t) for t in row]
            else:
                log.warning("ignoring an unknown scheduler row %r", key)
        state = rebuild(queued, running, starts)
        log.info("scheduler state rebuilt: %d queued, %d running", len(state.queue), len(state.running))
        return state
