"""The diagnostic step loop on Kafka: every step is a record, the task's state is a table row.

    tasks.p0..p3 [task_id]  --admission-->  row created, steps opened --> steps (requested) + tool calls
                            dispatched to bounded asyncio tasks (never awaited inline)
    tool call finishes      --> steps (completed)  --> row updated, next steps opened ... --> reports
    task.commands (cancel, timeout) --> row finishes with a partial report

Nothing about a task is kept in memory between records. A sweep re-dispatches the steps that the row
says are in flight but that no local call is running for (after a crash or a rebalance), and turns an
expired task into a timeout record; both are idempotent by (task_id, step number).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import faust
from prometheus_client import Counter, Histogram

from agents import runtime as rt_logic
from agents.engine import Engine, target_for_task
from agents.runtime import Next, StepRecord, TaskRuntime
from agents.termination import Termination
from agents.tools.types import ToolCall, ToolExecutor
from aetherius.metrics import REGISTRY
from schemas.result import DiagnosticResult, ResultSummary
from schemas.settings import Settings
from schemas.step import DiagnosticStep, StepEvent, StepInput, StepOutput, StepStatus, StepType
from schemas.task import DiagnosticTask, TaskCommand, TaskStatus
from streams.app import Topics
from streams.pipeline import Pipeline, error_boundary

log = logging.getLogger(__name__)

TOOL_CALLS = Counter("aetherius_tool_calls_total", "Tool calls by tool and result", ["tool", "result"],
                     registry=REGISTRY)
TASK_DURATION = Histogram("aetherius_task_duration_seconds", "Diagnosis duration from start to report",
                          ["status", "priority"], registry=REGISTRY,
                          buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600))
REPORTS = Counter("aetherius_reports_total", "Reports published", ["category", "engine"], registry=REGISTRY)

MAX_TOOL_CALLS_IN_FLIGHT = 30  # per worker; per task the runtime keeps it to 3


@dataclass
class StepLoop:
    topics: Topics
    table: Any
    engine: Engine
    executor: ToolExecutor
    role: str = "sre"
    sem: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(MAX_TOOL_CALLS_IN_FLIGHT))
    running: dict[tuple[str, int], asyncio.Task] = field(default_factory=dict)
    # When this process first saw a step in flight that it is not running. After a restart the steps
    # topic may still hold that step's completion; waiting a moment lets it arrive instead of re-running.
    orphan_seen: dict[tuple[str, int], float] = field(default_factory=dict)
    resume_grace_seconds: float = 10.0

    # -- rows ----------------------------------------------------------------------------------
    def row(self, task_id: str) -> TaskRuntime | None:
        raw = self.table.get(task_id)
        return TaskRuntime.model_validate(raw) if raw else None

    def store(self, rt: TaskRuntime) -> None:
        self.table[rt.task.id] = rt.model_dump(mode="json")  # reassign: in-place edits are not recorded

    def planner(self, task: DiagnosticTask):
        target = target_for_task(task)
        return lambda obs: self.engine.plan(target, obs)

    # -- records in ----------------------------------------------------------------------------
    async def on_admission(self, task: DiagnosticTask) -> None:
        if self.row(task.id) is not None:
            return  # redelivered admission: the row already exists
        now = time.time()
        rt, new = rt_logic.begin(task, self.planner(task), now, engine=self.engine.name)
        running = task.model_copy(update={"status": TaskStatus.RUNNING,
                                          "started_at": datetime.fromtimestamp(now, timezone.utc)})
        rt = rt.model_copy(update={"task": running})
        self.store(rt)
        await self.topics["task.state"].send(key=task.id.encode(), value=running.to_bytes())
        await self._apply(rt, Next(dispatch=new) if new else Next(evidence_exhausted=True))

    async def on_step_event(self, event: StepEvent) -> None:
        if event.kind == "requested":
            # The log of what was asked. The call itself was dispatched when the step was opened: acting on
            # a redelivered request after a crash would run a step again that may already have completed.
            return
        rt = self.row(event.task_id)
        if rt is None:
            return
        out = event.step.output
        error = "" if event.step.status == StepStatus.COMPLETED else (out.stderr if out else "failed")
        parsed = _parse(out.stdout) if out and not error else None
        rt, nxt = rt_logic.complete(rt, event.step_number, parsed, error, time.time(), self.planner(rt.task))
        self.store(rt)
        await self._apply(rt, nxt)

    async def on_command(self, cmd: TaskCommand) -> None:
        rt = self.row(cmd.task_id)
        if rt is None or rt.finished:
            return  # pending tasks are cancelled by the scheduler; finished ones stay finished
        now = time.time()
        if cmd.action == "cancel":
            rt, nxt = rt_logic.cancel(rt, now, self.planner(rt.task))
        else:  # "timeout" from the sweep, or any nudge: re-evaluate
            rt, nxt = rt_logic.advance(rt, now, self.planner(rt.task))
        self.store(rt)
        await self._apply(rt, nxt)

    # -- decisions out -------------------------------------------------------------------------
    async def _apply(self, rt: TaskRuntime, nxt: Next) -> None:
        for step in nxt.dispatch:
            await self.topics["steps"].send(key=rt.task.id.encode(), value=_event(rt.task, step, "requested").to_bytes())
            self.dispatch(rt.task.id, step.number, step.call, rt.task.cluster_id)
        if nxt.finish is not None or nxt.evidence_exhausted:
            await self._finish(rt, nxt.finish)

    async def _finish(self, rt: TaskRuntime, stop: Termination | None) -> None:
        target = target_for_task(rt.task)
        try:
            result = self.engine.analyze(target, rt_logic.observations(rt), rt.task)
        except Exception as exc:  # noqa: BLE001 - a broken analysis still gets a report, never a lost task
            log.exception("analysis failed", extra={"task_id": rt.task.id})
            result = DiagnosticResult(task_id=rt.task.id, summary=ResultSummary(problem=f"analysis failed: {exc}"))
        if stop is not None:
            reason, status, result_status = stop.reason.value, stop.status, stop.result_status
        else:
            reason = "root_cause_identified" if result.confidence >= 0.85 else "evidence_exhausted"
            status, result_status = TaskStatus.COMPLETED, "completed"
        steps = [_diagnostic_step(rt.task.id, s) for s in rt.steps]
        result = result.model_copy(update={"task_id": rt.task.id, "cluster_id": rt.task.cluster_id, "steps": steps,
                                           "engine": rt.engine, "termination_reason": reason,
                                           "status": result_status})
        now = datetime.now(timezone.utc)
        final = rt.task.model_copy(update={"status": status, "completed_at": now, "status_reason": reason})
        self.store(rt.model_copy(update={"finished": True, "termination_reason": reason, "task": final}))
        await self.topics["reports"].send(key=rt.task.id.encode(), value=result.to_bytes())
        await self.topics["task.state"].send(key=rt.task.id.encode(), value=final.to_bytes())
        category = result.root_cause.category.value if result.root_cause else "none"
        REPORTS.labels(category=category, engine=rt.engine).inc()
        TASK_DURATION.labels(status=status.value, priority=rt.task.priority.value).observe(
            max(0.0, time.time() - rt.started_at))
        for key in [k for k in self.running if k[0] == rt.task.id]:
            self.running.pop(key).cancel()

    # -- slow work, off the partition ----------------------------------------------------------
    def dispatch(self, task_id: str, number: int, call: ToolCall, cluster_id: str) -> None:
        key = (task_id, number)
        if key in self.running and not self.running[key].done():
            return
        self.running[key] = asyncio.ensure_future(self._run_tool(task_id, number, call, cluster_id))

    async def _run_tool(self, task_id: str, number: int, call: ToolCall, cluster_id: str) -> None:
        started = time.time()
        try:
            async with self.sem:
                result = await self.executor.call(call, task_id=task_id, cluster_id=cluster_id, role=self.role)
            ok, stdout, stderr = result.ok, result.output, result.error
        except Exception as exc:  # noqa: BLE001 - a failed call is a failed step, not a lost one
            ok, stdout, stderr = False, "", f"{type(exc).__name__}: {exc}"
        TOOL_CALLS.labels(tool=call.tool_id, result="ok" if ok else "error").inc()
        step = DiagnosticStep(
            id=f"{task_id}:{number}", task_id=task_id, step_number=number, tool_id=call.tool_id,
            input=StepInput(command=call.tool_id, parameters=call.parameters, context=cluster_id),
            output=StepOutput(exit_code=0 if ok else 1, stdout=stdout, stderr=stderr),
            status=StepStatus.COMPLETED if ok else StepStatus.FAILED, reasoning=call.reason,
            started_at=datetime.fromtimestamp(started, timezone.utc), completed_at=datetime.now(timezone.utc),
            duration_ms=(time.time() - started) * 1000)
        event = StepEvent(kind="completed", task_id=task_id, step_number=number, step=step)
        try:
            await self.topics["steps"].send(key=task_id.encode(), value=event.to_bytes())
        finally:
            self.running.pop((task_id, number), None)

    async def sweep(self) -> None:
        """Resume what a crash or rebalance interrupted; expire tasks past their timeout."""
        now = time.time()
        for task_id, raw in list(self.table.items()):
            if not raw or raw.get("finished"):
                continue
            rt = TaskRuntime.model_validate(raw)
            if now - rt.started_at >= rt.task.limits.timeout_seconds:
                cmd = TaskCommand(task_id=task_id, action="timeout", requested_by="sweep")
                await self.topics["task.commands"].send(key=task_id.encode(), value=cmd.to_bytes())
                continue
            for step in rt.in_flight():
                key = (task_id, step.number)
                if key in self.running:
                    continue
                first_seen = self.orphan_seen.setdefault(key, now)
                if now - first_seen >= self.resume_grace_seconds:
                    log.info("re-dispatching step %s", step.number, extra={"task_id": task_id})
                    self.orphan_seen.pop(key, None)
                    self.dispatch(task_id, step.number, step.call, rt.task.cluster_id)


def _parse(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        return {"text": text}
    return value if isinstance(value, dict) else {"value": value}


def _event(task: DiagnosticTask, step: StepRecord, kind: str) -> StepEvent:
    return StepEvent(kind=kind, task_id=task.id, step_number=step.number, step=DiagnosticStep(
        id=f"{task.id}:{step.number}", task_id=task.id, step_number=step.number, type=StepType.EXECUTION,
        tool_id=step.call.tool_id, input=StepInput(command=step.call.tool_id, parameters=step.call.parameters,
                                                   context=task.cluster_id),
        status=StepStatus.RUNNING, reasoning=step.call.reason,
        started_at=datetime.fromtimestamp(step.started_at, timezone.utc)))


def _diagnostic_step(task_id: str, s: StepRecord) -> DiagnosticStep:
    return DiagnosticStep(
        id=f"{task_id}:{s.number}", task_id=task_id, step_number=s.number, tool_id=s.call.tool_id,
        input=StepInput(command=s.call.tool_id, parameters=s.call.parameters),
        output=StepOutput(exit_code=0 if s.status == "completed" else 1, stderr=s.error),
        status=StepStatus.COMPLETED if s.status == "completed" else StepStatus.FAILED if s.status == "failed"
        else StepStatus.RUNNING, reasoning=s.call.reason,
        started_at=datetime.fromtimestamp(s.started_at, timezone.utc),
        completed_at=datetime.fromtimestamp(s.completed_at, timezone.utc) if s.completed_at else None,
        duration_ms=((s.completed_at or s.started_at) - s.started_at) * 1000)


def register_step_loop(app: faust.App, topics: Topics, settings: Settings, pipe: Pipeline,
                       engine: Engine, executor: ToolExecutor) -> StepLoop:
    table = app.Table("runtime", default=None, partitions=settings.kafka.partitions)
    loop = StepLoop(topics=topics, table=table, engine=engine, executor=executor)
    deadletters = topics["deadletter"]

    async def on_record(event: faust.EventT) -> None:
        topic = event.message.topic
        if topic == topics["steps"].get_topic_name():
            await loop.on_step_event(StepEvent.from_bytes(event.value))
        elif topic == topics["task.commands"].get_topic_name():
            await loop.on_command(TaskCommand.from_bytes(event.value))
        else:
            await loop.on_admission(DiagnosticTask.from_bytes(event.value))

    sources = [topics.task(p).get_topic_name() for p in _priorities()] + [
        topics["steps"].get_topic_name(), topics["task.commands"].get_topic_name()]
    channel = app.topic(*sources, key_serializer="raw", value_serializer="raw")
    app.agent(channel, name="aetherius.steploop")(error_boundary("steploop", deadletters, on_record))

    @app.timer(interval=2.0)
    async def sweep() -> None:
        try:
            await loop.sweep()
        except Exception:  # noqa: BLE001 - the sweep runs again in 2 s
            log.exception("step-loop sweep failed")

    return loop


def _priorities():
    from schemas.signal import Priority

    return list(Priority)
