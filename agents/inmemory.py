"""The worker's step loop in memory: `aetherius diagnose`, tests and benchmarks run the one loop without a broker.

`StepLoop` (agents/steploop.py) only ever talks to its topics through `send(key=, value=)`, to its table as a
mapping, and to the cluster through a `ToolExecutor`. Here the topics are in-process queues and the table is
a dict; `run_task` feeds the records the loop publishes on `steps` and `task.commands` back to its handlers in
publication order, exactly as the Kafka agent would, and runs the sweep whenever nothing happens for a
moment (timeouts, resumes). So a diagnosis offline takes the same steps, the same termination, the same
budget checks and the same security stops as in a worker, and every record it would have published can be
inspected afterwards (`MemoryTopics.records`).

Idea after bytewax's `testing.py` (in-memory source and sink); nothing of it is copied.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from schemas.audit import AuditEvent, CostRecord
from schemas.result import DiagnosticResult
from schemas.signal import Priority
from schemas.step import StepEvent
from schemas.task import DiagnosticTask, TaskCommand
from schemas.topics import task_topic

# The topics the step loop consumes; records on the others are only kept for inspection.
CONSUMED = ("steps", "task.commands")


@dataclass(frozen=True)
class Record:
    topic: str
    key: bytes
    value: bytes


class MemoryTopic:
    """Stands where a Faust topic stands for the step loop: `send` publishes, nothing is awaited."""

    def __init__(self, name: str, bus: MemoryTopics) -> None:
        self.name = name
        self._bus = bus

    async def send(self, key: bytes | None = None, value: bytes = b"", **_: Any) -> None:
        self._bus.publish(Record(self.name, key or b"", value))

    def get_topic_name(self) -> str:
        return self.name


@dataclass
class MemoryTopics:
    """The catalogue's topics as in-process queues (the same lookups as `streams.app.Topics`)."""

    records: dict[str, list[Record]] = field(default_factory=lambda: defaultdict(list))
    _topics: dict[str, MemoryTopic] = field(default_factory=dict)
    _pending: deque[Record] = field(default_factory=deque)  # consumed topics' records not yet handed to the loop
    _waiter: asyncio.Future[None] | None = None  # not a Queue: that would bind to the first event loop that used it

    def __getitem__(self, name: str) -> MemoryTopic:
        if name not in self._topics:
            self._topics[name] = MemoryTopic(name, self)
        return self._topics[name]

    def task(self, priority: Priority) -> MemoryTopic:
        return self[task_topic(priority)]

    def audit_sink(self) -> Callable[[AuditEvent], Awaitable[None]]:
        topic = self["audit"]

        async def publish(event: AuditEvent) -> None:
            await topic.send(key=event.id.encode(), value=event.to_bytes())

        return publish

    def publish(self, record: Record) -> None:
        self.records[record.topic].append(record)
        if record.topic in CONSUMED:
            self._pending.append(record)
            if self._waiter is not None and not self._waiter.done():
                self._waiter.set_result(None)

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def next_consumed(self, timeout: float) -> Record | None:
        """The oldest record on a consumed topic, waiting up to `timeout` seconds for one (None if none came)."""
        if not self._pending:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await asyncio.wait_for(self._waiter, timeout)
            except asyncio.TimeoutError:
                pass
            finally:
                self._waiter = None
        return self._pending.popleft() if self._pending else None

    def values(self, topic: str) -> list[bytes]:
        return [r.value for r in self.records.get(topic, [])]


@dataclass
class InMemoryRun:
    """What one diagnosis published: the report users get, and every step, cost and audit record."""

    report: DiagnosticResult
    steps: list[StepEvent]
    costs: list[CostRecord]
    audit: list[AuditEvent]


class LoopStalled(RuntimeError):
    """The loop has nothing running, nothing queued and no report: a bug in the loop, never a user error."""


async def run_task(loop: Any, topics: MemoryTopics, task: DiagnosticTask, *, idle_seconds: float = 1.0,
                   on_record: Callable[[Record], Awaitable[None]] | None = None) -> InMemoryRun:
    """Admit `task` and drive `loop` (a `StepLoop` over `topics`) until its report is published.

    `on_record` sees each consumed record before the loop does (tests use it to cancel mid-run)."""
    await loop.on_admission(task)
    idle_sweeps = 0
    while (report := _report(topics, task.id)) is None:
        record = await topics.next_consumed(idle_seconds)
        if record is None:
            # Quiet for a moment: what the worker's 2-second timer does (expire, resume, nudge a stalled row).
            await loop.sweep()
            idle_sweeps = idle_sweeps + 1 if not loop.running and not topics.pending else 0
            if idle_sweeps > 3 * max(1.0, loop.resume_grace_seconds / idle_seconds):
                raise LoopStalled(f"task {task.id}: nothing running, nothing queued and no report")
            continue
        idle_sweeps = 0
        if on_record is not None:
            await on_record(record)
        if record.topic == "steps":
            await loop.on_step_event(StepEvent.from_bytes(record.value))
        else:
            await loop.on_command(TaskCommand.from_bytes(record.value))
    # A finished task's tool calls are cancelled by the loop, a model call in flight finishes and books its cost:
    # wait for both, so `costs` holds every token the server served.
    for running in list(loop.running.values()):
        await asyncio.gather(running, return_exceptions=True)
    return InMemoryRun(
        report=report,
        steps=[StepEvent.from_bytes(v) for v in topics.values("steps")],
        costs=[CostRecord.from_bytes(v) for v in topics.values("costs")],
        audit=[AuditEvent.from_bytes(v) for v in topics.values("audit")],
    )


def _report(topics: MemoryTopics, task_id: str) -> DiagnosticResult | None:
    for value in topics.values("reports"):
        result = DiagnosticResult.from_bytes(value)
        if result.task_id == task_id:
            return result
    return None
