"""What a model call puts on the wire and how it fails, against the scripted OpenAI-compatible server (the
real `openai` client, one `LLMEngine.turn` at a time). The same requests against a real server:
tests/test_llm_real_model.py.

- every request with tools says `tool_choice: "auto"` (llama.cpp's server ignores tools without it) and caps the
  answer at `llm.max_tokens`, in the field the settings name;
- an assistant turn that only called tools goes back with `content: ""` (the scripted server, like llama.cpp's,
  refuses null);
- a call that timed out is not sent again (the server may still be generating it); a connection error, a 429 or
  a 5xx - nothing generated - is retried once; a 4xx other than 429 is not.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from agents.llm import EngineOptions, LLMEngine, record_tool_result
from agents.llm.tools import ToolSpec
from agents.termination import Termination, TerminationReason
from agents.tools.types import ToolResult
from aetherius.localkafka import free_port
from schemas.settings import LLMSettings
from schemas.signal import Priority
from schemas.task import DiagnosticTask, ResourceInfo, TaskContext, TaskLimits, TaskStatus
from tests.llm_server import Answer, HttpError, LLMTestServer, Slow, ToolCalls

PRICES = {"m": (1.0, 2.0)}
TOOL = ToolSpec(id="get_pod", description="One pod.", parameters={
    "type": "object", "additionalProperties": False, "required": ["namespace", "name"],
    "properties": {"namespace": {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", "maxLength": 63},
                   "name": {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]+)*$",
                            "maxLength": 253}}})
UNKNOWN = {"summary": {"problem": "nothing found"}, "confidence": 0.2,
           "root_cause": {"description": "no evidence of a fault", "category": "unknown"}}


def task(timeout: float = 60.0) -> DiagnosticTask:
    return DiagnosticTask(id="t1", cluster_id="c", namespace="shop", priority=Priority.P2,
                          resource=ResourceInfo(kind="pod", name="web-1", namespace="shop"),
                          limits=TaskLimits(timeout_seconds=timeout), context=TaskContext(alertname="PodNotReady"))


def engine(base_url: str, *, retries: int = 1, **settings) -> LLMEngine:
    llm = LLMSettings(base_url=base_url, api_key="k", cheap_model="m", strong_model="m", prices=PRICES,
                      **{"timeout_seconds": 5.0, **settings})
    return LLMEngine(llm, tools=[TOOL], options=EngineOptions(max_retries=retries, retry_delay_seconds=0.05))


def test_requests_carry_tool_choice_max_tokens_and_a_string_for_empty_assistant_content():
    async def go():
        async with LLMTestServer([ToolCalls([("get_pod", {"namespace": "shop", "name": "web-1"})]),
                                  Answer(UNKNOWN), Answer(UNKNOWN)]) as srv:
            e = engine(srv.base_url, max_tokens=333)
            first = await e.turn(e.start(task()))
            (call,) = first.calls
            conv, _ = record_tool_result(first.conversation, call.step_number,
                                         ToolResult(tool_id="get_pod", ok=True, output='{"name": "web-1"}'),
                                         now=e.clock(), max_chars=1000)
            second = await e.turn(conv)
            stop = Termination(reason=TerminationReason.MAX_STEPS_REACHED, status=TaskStatus.COMPLETED,
                               result_status="completed_with_partial_results", note="The step limit is reached.")
            concluding = await e.turn(e.conclude(e.start(task()), stop))
            return srv, first, second, concluding

    srv, first, second, concluding = asyncio.run(go())
    assert srv.protocol_errors == [] and first.action == "tool_calls" and second.action == "answer"
    with_tools, answered, without_tools = srv.requests
    assert with_tools["tool_choice"] == "auto" and with_tools["max_tokens"] == 333
    assert [t["function"]["name"] for t in with_tools["tools"]] == ["get_pod"]
    assert "pattern" not in str(with_tools["tools"])  # the gateway keeps its patterns; grammar converters choke on them
    assistant = answered["messages"][2]
    assert assistant["role"] == "assistant" and assistant["content"] == "" and assistant["tool_calls"]
    assert "tools" not in without_tools and "tool_choice" not in without_tools and without_tools["max_tokens"] == 333
    assert concluding.action == "answer"


def test_the_token_cap_goes_in_the_field_o_series_models_take():
    async def go():
        async with LLMTestServer([Answer(UNKNOWN)]) as srv:
            e = engine(srv.base_url, max_tokens=64, max_tokens_field="max_completion_tokens")
            await e.turn(e.start(task()))
            return srv.requests[0]

    body = asyncio.run(go())
    assert body["max_completion_tokens"] == 64 and "max_tokens" not in body


def test_a_call_that_timed_out_is_not_sent_again():
    async def go():
        async with LLMTestServer([Slow(3.0, Answer(UNKNOWN)), Answer(UNKNOWN)]) as srv:
            e = engine(srv.base_url, timeout_seconds=0.5)
            started = time.monotonic()
            result = await e.turn(e.start(task()))
            elapsed = time.monotonic() - started
            await asyncio.sleep(0.3)  # a retry, if one were made, would have reached the server by now
            return result, elapsed, len(srv.requests)

    result, elapsed, requests = asyncio.run(go())
    assert result.action == "error" and "not retried" in result.error and result.cost is None
    assert requests == 1 and elapsed < 2.5


@pytest.mark.parametrize("failure", [HttpError(500, "overloaded"), HttpError(503, "loading model"),
                                     HttpError(429, "slow down", retry_after=0.1)])
def test_a_failure_before_generation_is_retried_once(failure):
    async def go():
        async with LLMTestServer([failure, Answer(UNKNOWN)]) as srv:
            e = engine(srv.base_url)
            return await e.turn(e.start(task())), len(srv.requests)

    result, requests = asyncio.run(go())
    assert result.action == "answer" and requests == 2


def test_a_second_failure_or_a_client_error_ends_the_turn():
    async def go():
        async with LLMTestServer([HttpError(500), HttpError(500), HttpError(400, "bad request"), Answer(UNKNOWN)]) as srv:
            e = engine(srv.base_url)
            twice = await e.turn(e.start(task()))
            after_two = len(srv.requests)
            refused = await e.turn(e.start(task()))
            return twice, after_two, refused, len(srv.requests)

    twice, after_two, refused, requests = asyncio.run(go())
    assert twice.action == "error" and "InternalServerError" in twice.error and after_two == 2
    assert refused.action == "error" and "BadRequestError" in refused.error and requests == 3


def test_an_unreachable_server_is_tried_twice_then_the_turn_fails():
    port = free_port()  # nothing listens there: connection refused, before anything was generated
    e = engine(f"http://127.0.0.1:{port}/v1")
    started = time.monotonic()
    result = asyncio.run(e.turn(e.start(task())))
    assert result.action == "error" and "APIConnectionError" in result.error
    assert time.monotonic() - started < 5


def test_no_retry_when_the_task_has_no_time_left_for_it():
    async def go():
        async with LLMTestServer([HttpError(500), Answer(UNKNOWN)]) as srv:
            e = engine(srv.base_url, retries=1)
            e.options = e.options.model_copy(update={"retry_delay_seconds": 5.0})
            return await e.turn(e.start(task(timeout=3.0))), len(srv.requests)

    result, requests = asyncio.run(go())
    assert result.action == "error" and requests == 1
