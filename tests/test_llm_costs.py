"""Honest costs on the one step loop (in memory, scripted OpenAI-compatible server, real gateway over a dump):

- a model priced at 0 (a local server) is held by the task's token budget instead of dollars;
- a model call in flight when its task ends (cancel, timeout) is left to finish and its cost is booked: the
  tokens on the costs topic equal the tokens the server served;
- a model priced by `llm.assumed_price` says so in its report.
"""

from __future__ import annotations

import asyncio
import json

from agents.cluster.dump import DumpReader
from agents.engine import RulesEngine
from agents.gateway.inprocess import in_process_executor
from agents.inmemory import MemoryTopics, Record, run_task
from agents.llm import EngineOptions, LLMEngine
from agents.steploop import StepLoop
from schemas.settings import LLMSettings
from schemas.task import TaskCommand
from tests.llm_server import Answer, LLMTestServer, Slow, ToolCalls
from tests.test_llm_engine import NS, answer, dump, make_task  # noqa: F401 - dump is a fixture

__all__ = ["dump"]


def loop_for(dump_dir, srv: LLMTestServer, **llm) -> tuple[StepLoop, MemoryTopics, object]:
    settings = LLMSettings(**{"base_url": srv.base_url, "api_key": "k", "cheap_model": "local", "strong_model": "local",
                              "prices": {"local": (0.0, 0.0)}, "timeout_seconds": 10.0, **llm})
    executor = in_process_executor({"dump": DumpReader(dump_dir, cluster_id="dump")})
    topics = MemoryTopics()
    loop = StepLoop(topics=topics, table={}, engine=RulesEngine(), executor=executor, engine_choice="llm",
                    llm=LLMEngine(settings, options=EngineOptions(max_retries=0)), budget_tokens=2500)
    return loop, topics, executor


def test_a_model_priced_at_zero_is_stopped_by_the_token_budget(dump):
    dump_dir, pod = dump
    script = [ToolCalls([("describe_pod", {"namespace": NS, "name": pod})], usage=(1000, 50)),
              ToolCalls([("pod_logs", {"namespace": NS, "name": pod})], usage=(1400, 100)),  # 2550 >= 2500
              Answer(answer())]

    async def go():
        async with LLMTestServer(script) as srv:
            loop, topics, executor = loop_for(dump_dir, srv)
            try:
                return await run_task(loop, topics, make_task(pod), idle_seconds=0.2), srv, loop
            finally:
                await executor.aclose()

    out, srv, loop = asyncio.run(go())
    assert len(srv.requests) == 2 and srv.remaining == 1  # the model is not asked a third time
    assert out.report.termination_reason == "budget_exceeded" and out.report.status == "stopped_by_budget"
    assert sum(c.cost_usd for c in out.costs) == 0 and sum(c.prompt_tokens + c.completion_tokens for c in out.costs) == 2550
    assert loop.table["task-1"]["task"]["limits"]["budget_tokens"] == 2500  # the worker's default, set at admission


def test_a_cancelled_task_still_books_the_model_call_it_had_in_flight(dump):
    dump_dir, pod = dump
    served = (4000, 120)
    script = [ToolCalls([("get_pod", {"namespace": NS, "name": pod})], usage=(900, 40)),
              Slow(1.0, ToolCalls([("pod_logs", {"namespace": NS, "name": pod})], usage=served))]

    async def go():
        async with LLMTestServer(script) as srv:
            loop, topics, executor = loop_for(dump_dir, srv, prices={"local": (1.0, 2.0)})
            turns = []

            async def cancel_during_the_second_turn(record: Record) -> None:
                event = json.loads(record.value)
                if record.topic == "steps" and event["kind"] == "requested" and event["step"]["tool_id"] == "llm":
                    turns.append(event["step_number"])
                    if len(turns) == 2:
                        while len(srv.requests) < 2:  # the server is generating the second answer
                            await asyncio.sleep(0.01)
                        cmd = TaskCommand(task_id="task-1", action="cancel", requested_by="test")
                        await topics["task.commands"].send(key=b"task-1", value=cmd.to_bytes())

            try:
                out = await run_task(loop, topics, make_task(pod), idle_seconds=0.2,
                                     on_record=cancel_during_the_second_turn)
            finally:
                await executor.aclose()
            return out, srv

    out, srv = asyncio.run(go())
    assert out.report.termination_reason == "manual_stop" and out.report.status == "cancelled"
    assert len(srv.requests) == 2
    served_tokens = 900 + 40 + sum(served)
    booked = sum(c.prompt_tokens + c.completion_tokens for c in out.costs)
    assert booked == served_tokens  # the second call was cut off from the report, not from the ledger
    assert sum(c.cost_usd for c in out.costs) == (900 + 40 * 2 + 4000 + 120 * 2) / 1e6
    assert out.report.token_usage.prompt_tokens == 900  # the report was written before the second call ended


def test_an_assumed_price_is_said_in_the_report(dump):
    dump_dir, pod = dump

    async def go():
        async with LLMTestServer([Answer(answer(), usage=(1000, 100))]) as srv:
            loop, topics, executor = loop_for(dump_dir, srv, cheap_model="mystery", strong_model="mystery",
                                              prices={}, assumed_price=(3.0, 6.0))
            try:
                return await run_task(loop, topics, make_task(pod), idle_seconds=0.2)
            finally:
                await executor.aclose()

    out = asyncio.run(go())
    (cost,) = out.costs
    assert cost.price_assumed and cost.cost_usd == (1000 * 3.0 + 100 * 6.0) / 1e6
    assert out.report.token_usage.price_assumed
    note = next(a for a in out.report.artifacts if a.name == "price_assumed")
    assert "price assumed" in note.content and "mystery" in note.content
