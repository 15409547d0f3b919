"""A finished task's report is never lost: the row says "report pending" until the broker confirmed it, and the
sweep has it sent again after a kill that landed between the row's write and the report's send.

The loop runs in memory (agents/inmemory.py: in-process topics, a dict for its table); the Kafka kill test
(tests/test_steploop_kafka.py) covers the same path on the real broker, where the kill lands at random."""

from __future__ import annotations

import asyncio
import json

from agents.runtime import TaskRuntime
from schemas.task import TaskCommand
from tests.test_steploop_llm_strategy import diagnose, dump, make_loop, make_task  # noqa: F401 - dump: fixture


def sent(loop, topic: str) -> list[dict]:
    return [json.loads(v) for v in loop.topics.values(topic)]


async def apply_commands(loop) -> int:
    """Hand the loop the commands it published (the step-loop agent's job in a worker); how many there were."""
    applied = 0
    while (record := await loop.topics.next_consumed(0.01)) is not None:
        if record.topic == "task.commands":
            await loop.on_command(TaskCommand.from_bytes(record.value))
            applied += 1
    return applied


def test_a_report_the_broker_never_confirmed_is_sent_again_once(dump) -> None:  # noqa: F811
    dump_dir, labels = dump
    loop = make_loop(dump_dir)
    loop.resume_grace_seconds = 0.0
    task = make_task(labels)
    report = asyncio.run(diagnose(loop, task))
    row = TaskRuntime.model_validate(loop.table[task.id])
    assert row.finished and not row.report_pending  # the normal path: sent, confirmed, marked

    # The kill: the finished row reached the changelog, the report and the final snapshot did not.
    loop.table[task.id] = row.model_copy(update={"report_pending": True}).model_dump(mode="json")
    loop.topics.records["reports"].clear()
    loop.topics.records["task.state"].clear()

    async def sweep_and_apply() -> int:
        await loop.sweep()
        return await apply_commands(loop)

    assert asyncio.run(sweep_and_apply()) == 1
    assert sent(loop, "reports") == [report]  # the same report, again
    assert sent(loop, "task.state")[-1]["status"] == "completed"
    assert not TaskRuntime.model_validate(loop.table[task.id]).report_pending
    assert asyncio.run(sweep_and_apply()) == 0
    assert sent(loop, "reports") == [report]  # once only


def test_a_republish_command_for_a_confirmed_or_unknown_task_does_nothing(dump) -> None:  # noqa: F811
    dump_dir, labels = dump
    loop = make_loop(dump_dir)
    task = make_task(labels)
    asyncio.run(diagnose(loop, task))
    loop.topics.records["reports"].clear()
    for task_id in (task.id, "no-such-task"):
        asyncio.run(loop.on_command(TaskCommand(task_id=task_id, action="republish", requested_by="sweep")))
    assert sent(loop, "reports") == []
