"""The step loop's side of the per-record contract: a task whose record cannot be written ends with a report.

The loop runs in memory (in-process topics, agents/inmemory.py) and a dict table whose writer applies the real record budget
(streams.emit.check_size); the record goes through the real boundary (streams.boundary.handle)."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace

from agents.runtime import FAILED_RECORD, TaskRuntime
from schemas.task import TaskContext
from streams.boundary import handle
from streams.emit import check_size
from agents.inmemory import MemoryTopics
from tests.test_steploop_llm_strategy import diagnose, dump, make_loop, make_task, sent  # noqa: F401


def budgeted(loop):
    async def write_row(key: str, value: dict) -> None:
        check_size("runtime-changelog", key.encode(), json.dumps(value).encode())  # what streams.emit refuses
        loop.table[key] = value

    loop.write_row = write_row
    return loop


def event(topic: str, key: bytes, value: bytes):
    return SimpleNamespace(key=key, value=value, message=SimpleNamespace(topic=topic, partition=0, offset=7))


def test_an_admission_too_large_to_store_ends_its_task_with_a_failed_report(dump) -> None:  # noqa: F811
    dump_dir, labels = dump
    loop = budgeted(make_loop(dump_dir))
    huge = make_task(labels).model_copy(update={"context": TaskContext(
        alertname="Huge", labels={**labels, "pod": "p" * 600_000}, annotations={"description": "\U0001F525" * 40_000})})
    dead_topics = MemoryTopics()
    deadletters = dead_topics["deadletter"]

    async def on_failure(ev, reason: str) -> None:
        from schemas.task import DiagnosticTask
        await loop.fail(ev.key.decode(), reason, DiagnosticTask.from_bytes(ev.value))

    async def admit(ev) -> None:
        from schemas.task import DiagnosticTask
        await loop.on_admission(DiagnosticTask.from_bytes(ev.value))

    asyncio.run(handle("steploop", deadletters, admit, event("tasks.p2", huge.id.encode(), huge.to_bytes()), on_failure))

    [report] = sent(loop, "reports")
    assert report["status"] == "failed" and report["termination_reason"] == FAILED_RECORD
    assert "record too large" in report["summary"]["problem"]
    row = TaskRuntime.model_validate(loop.table[huge.id])
    assert row.finished and not row.report_pending and row.task.status.value == "failed"
    assert len(json.dumps(loop.table[huge.id])) < 100_000  # the failure row is small whatever the task was
    [dead] = [json.loads(v) for v in dead_topics.values("deadletter")]
    assert dead["stage"] == "steploop" and dead["error"].startswith("record too large")
    assert sent(loop, "task.state")[-1]["status"] == "failed"


def test_a_failed_record_of_a_finished_task_changes_nothing(dump) -> None:  # noqa: F811
    dump_dir, labels = dump
    loop = budgeted(make_loop(dump_dir))
    task = make_task(labels)
    asyncio.run(diagnose(loop, task))
    before = dict(loop.table[task.id])
    asyncio.run(loop.fail(task.id, "ValueError: a late poison step"))
    assert loop.table[task.id] == before and len(sent(loop, "reports")) == 1


def test_a_running_task_cancelled_by_a_user_says_who_in_its_report(dump) -> None:  # noqa: F811
    from schemas.task import TaskCommand

    dump_dir, labels = dump
    loop = make_loop(dump_dir)
    task = make_task(labels)

    async def go() -> None:
        await loop.on_admission(task)
        await loop.on_command(TaskCommand(task_id=task.id, action="cancel", requested_by="alice"))

    asyncio.run(go())
    [report] = sent(loop, "reports")
    assert report["termination_reason"] == "manual_stop" and report["status"] in ("cancelled", "completed", "partial")
    assert {"name": "termination", "content": "manual_stop: ended by alice"} in report["artifacts"]
