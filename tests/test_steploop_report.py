"""A finished task's report is never lost: the row says "report pending" until the broker confirmed it, and the
sweep has it sent again after a kill that landed between the row's write and the report's send.

The loop runs with stand-in topics (`Captured`) and a dict for its table; the Kafka kill test
(tests/test_steploop_kafka.py) covers the same path on the real broker, where the kill lands at random."""

from __future__ import annotations

import asyncio

from agents.runtime import TaskRuntime
from schemas.task import TaskCommand
from tests.test_steploop_llm_strategy import diagnose, dump, make_loop, make_task  # noqa: F401 - dump: fixture


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
    loop.topics["reports"].sent.clear()
    loop.topics["task.state"].sent.clear()

    async def sweep_and_apply() -> None:
        await loop.sweep()
        commands = loop.topics["task.commands"].sent
        while commands:
            await loop.on_command(TaskCommand.model_validate(commands.pop(0)))

    asyncio.run(sweep_and_apply())
    assert loop.topics["reports"].sent == [report]  # the same report, again
    assert loop.topics["task.state"].sent[-1]["status"] == "completed"
    assert not TaskRuntime.model_validate(loop.table[task.id]).report_pending
    asyncio.run(sweep_and_apply())
    assert loop.topics["reports"].sent == [report] and loop.topics["task.commands"].sent == []  # once only


def test_a_republish_command_for_a_confirmed_or_unknown_task_does_nothing(dump) -> None:  # noqa: F811
    dump_dir, labels = dump
    loop = make_loop(dump_dir)
    task = make_task(labels)
    asyncio.run(diagnose(loop, task))
    loop.topics["reports"].sent.clear()
    for task_id in (task.id, "no-such-task"):
        asyncio.run(loop.on_command(TaskCommand(task_id=task_id, action="republish", requested_by="sweep")))
    assert loop.topics["reports"].sent == []
