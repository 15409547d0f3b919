"""The scheduler's state in a Faust table, one row per task instead of one row for everything.

The scheduler runs once per command on a single partition, so its cost per command bounds the whole
pipeline. Storing the whole queue as one row re-serialised the queue (and its changelog record) on every
command - measured at 40% of a worker's time in an alert storm. Here a command writes only the rows it
changed: the new task's row (with its body, needed when it is admitted), an admitted task's row (now
without the body: it has been sent), a tombstone for a task that left, and a rate-limited cluster's start
times. The parsed state lives in memory and is rebuilt from the rows after every rebalance, because
another worker may have owned the partition in between.

    task:<id>     {"entry": QueuedTask, "task": DiagnosticTask JSON}                    queued
    task:<id>     {"entry": QueuedTask, "running": true, "task": DiagnosticTask JSON}   admitted, not yet started
    task:<id>     {"entry": QueuedTask, "running": true}                                started by the step loop
    rate:<cluster> [start times]
    done:<id>     ended at (epoch seconds): a redelivered enqueue of an ended task is ignored (for an hour)

An admitted task keeps its body until the step loop confirms it: the scheduler sends the admission again
if it was lost (streams/scheduling.py, `reconcile`).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from streams.emit import Emitter
from streams.scheduling import QueuedTask, Scheduler

log = logging.getLogger(__name__)

TASK, RATE, DONE = "task:", "rate:", "done:"


class SchedulerStore:
    def __init__(self, table: Any, emit: Emitter) -> None:
        self.table = table
        self.emit = emit
        self._state: Scheduler | None = None

    def invalidate(self) -> None:
        """Forget the parsed state; the next command rebuilds it from the rows. Called when partitions move
        (another worker may have owned the queue meanwhile) and when a command failed half-way."""
        self._state = None

    @property
    def cached(self) -> Scheduler | None:
        """The state if this worker has parsed it since the last rebalance (the owner), else None."""
        return self._state

    def state(self) -> Scheduler:
        if self._state is None:
            self._state = self._load()
        return self._state

    def body(self, task_id: str) -> dict[str, Any] | None:
        """A queued or admitted-not-started task's full body, as stored when it was enqueued."""
        row = self.table.get(TASK + task_id)
        return row.get("task") if row else None

    async def queued(self, entry: QueuedTask, body: dict[str, Any]) -> None:
        await self.emit.put(self.table, TASK + entry.task_id, {"entry": entry.model_dump(mode="json"), "task": body})

    async def running(self, entry: QueuedTask, body: dict[str, Any] | None = None) -> None:
        """The running row; with the body until the step loop confirmed the task."""
        row: dict[str, Any] = {"entry": entry.model_dump(mode="json"), "running": True}
        if body is not None and not entry.started:
            row["task"] = body
        await self.emit.put(self.table, TASK + entry.task_id, row)

    async def gone(self, task_id: str) -> None:
        await self.emit.delete(self.table, TASK + task_id)  # a tombstone on the changelog

    async def ended(self, task_id: str, at: float) -> None:
        """The task left the scheduler: its row goes, and it is remembered as ended."""
        await self.gone(task_id)
        await self.emit.put(self.table, DONE + task_id, at)

    async def forget_ended(self, task_ids: list[str]) -> None:
        for task_id in task_ids:
            await self.emit.delete(self.table, DONE + task_id)

    async def starts(self, cluster: str, times: list[float]) -> None:
        await self.emit.put(self.table, RATE + cluster, list(times))

    def _load(self) -> Scheduler:
        queued: list[QueuedTask] = []
        running: list[QueuedTask] = []
        starts: dict[str, list[float]] = {}
        ended: dict[str, float] = {}
        now = time.time()
        for key, row in list(self.table.items()):
            if row is None:
                continue
            if key.startswith(TASK):
                entry = QueuedTask.model_validate(row["entry"])
                if row.get("running") and entry.admitted_at is None:  # a row from before slots were timed
                    entry = entry.model_copy(update={"admitted_at": now})
                (running if row.get("running") else queued).append(entry)
            elif key.startswith(RATE):
                starts[key[len(RATE):]] = [float(t) for t in row]
            elif key.startswith(DONE):
                ended[key[len(DONE):]] = float(row)
            else:
                log.warning("ignoring an unknown scheduler row %r", key)
        state = Scheduler.rebuild(queued, running, starts, ended)
        log.info("scheduler state rebuilt: %d queued, %d running, %d recently ended", len(state.queue),
                 len(state.running), len(state.ended))
        return state
