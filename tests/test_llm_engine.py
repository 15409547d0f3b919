"""The LLM path end to end on the one step loop: the real `openai` client against the scripted
OpenAI-compatible server, the worker's `StepLoop` run in memory (agents/inmemory.py), tools run through the
real in-process MCP gateway over a real cluster dump, and the real rule engine first and as fallback.

The rule engine always runs first (its findings are the model's starting evidence); these tests force the
LLM phase (`engine_choice="llm"`), so the model's step numbers follow the rules' steps."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from agents.cluster.dump import DumpReader
from agents.engine import RulesEngine
from agents.gateway.inprocess import in_process_executor
from agents.inmemory import InMemoryRun, MemoryTopics, Record, run_task
from agents.llm import Conversation, EngineOptions, LLMEngine, Phase, record_tool_result, unresolved
from agents.steploop import StepLoop
from agents.tools.builtin import BUILTIN_TOOLS
from agents.tools.types import ToolCall
from schemas.result import ProblemCategory
from schemas.settings import LLMSettings
from schemas.signal import Priority
from schemas.step import StepStatus, StepType
from schemas.task import DiagnosticTask, ResourceInfo, TaskCommand, TaskContext, TaskLimits
from tests.dumpkit import Ctr, DumpBuilder
from tests.llm_server import Answer, HttpError, LLMTestServer, RawBody, Slow, ToolCalls

NS = "shop"
PRICES = {"test-cheap": (1.0, 4.0), "test-strong": (10.0, 40.0)}
SECRET = "hunter2-very-secret"
SECRET2 = "swordfish-42-secret"  # at the very start of a JSON string value


@pytest.fixture(scope="module")
def dump(tmp_path_factory) -> tuple[Path, str]:
    """SRS §3.4: the payment service restarts, OOMKilled at its 512Mi limit; noise around it."""
    b = DumpBuilder(tmp_path_factory.mktemp("llm") / "dump")
    b.node("node-1")
    rs = b.deployment(NS, "payment", replicas=1, ready=0)
    pod = f"{rs}-x7k2p"
    b.pod(NS, pod, [Ctr("app", restarts=5, ready=False, last={"reason": "OOMKilled", "exitCode": 137},
                        limits={"memory": "512Mi"})], owner=("ReplicaSet", rs), labels={"app": "payment"})
    b.event(NS, "Pod", pod, "BackOff", "Back-off restarting failed container app")
    b.event(NS, "Pod", pod, "Unhealthy", f"password={SECRET2} printed by a probe script", minutes_ago=2)
    b.logs(NS, pod, f"starting payment\nDB_PASSWORD={SECRET}\njava.lang.OutOfMemoryError: Java heap space\n",
           container="app", previous=True)
    b.service(NS, "payment", {"app": "payment"})
    b.endpoints(NS, "payment", not_ready=1)
    b.noise(NS)
    return b.write(), pod


def make_task(pod: str, **limits) -> DiagnosticTask:
    return DiagnosticTask(
        id="task-1", cluster_id="dump", namespace=NS, priority=Priority.P1,
        resource=ResourceInfo(kind="pod", name=pod, namespace=NS), limits=TaskLimits(**limits),
        context=TaskContext(alertname="KubePodCrashLooping", severity="critical",
                            labels={"alertname": "KubePodCrashLooping", "namespace": NS, "pod": pod}))


def answer(category: str = "oom_killed", confidence: float = 0.92, pod: str = "payment") -> dict:
    return {
        "summary": {"problem": f"{pod} is OOMKilled", "impact": "payments fail", "resolution": "raise the limit"},
        "root_cause": {"description": "heap exceeds the 512Mi limit", "category": category, "severity": "high",
                       "evidence": [{"source": f"pod/{NS}/{pod} lastState", "detail": "OOMKilled exitCode=137"},
                                    {"source": f"pod/{NS}/{pod} logs previous", "detail": "OutOfMemoryError", "kind": "log"}]},
        "recommendations": [{"priority": 1, "action": "Raise the memory limit", "risk": "medium",
                             "command": f"kubectl -n {NS} set resources deployment/payment --limits=memory=1Gi"}],
        "confidence": confidence,
    }


class Harness:
    """One in-memory step loop over the dump, its LLM pointed at the scripted server."""

    def __init__(self, dump_dir: Path, srv: LLMTestServer, *, timeout: float = 5.0, wrap=None) -> None:
        self.settings = LLMSettings(base_url=srv.base_url, api_key="test-key", cheap_model="test-cheap",
                                    strong_model="test-strong", prices=PRICES, timeout_seconds=timeout)
        self.topics = MemoryTopics()
        self.executor = in_process_executor({"dump": DumpReader(dump_dir, cluster_id="dump")},
                                            audit_sink=self.topics.audit_sink())
        self.engine = LLMEngine(self.settings, options=EngineOptions(max_retries=0))
        self.loop = StepLoop(topics=self.topics, table={}, engine=RulesEngine(),
                             executor=wrap(self.executor) if wrap else self.executor, llm=self.engine,
                             engine_choice="llm")

    async def diagnose(self, task: DiagnosticTask, on_record=None) -> InMemoryRun:
        try:
            return await run_task(self.loop, self.topics, task, idle_seconds=0.2, on_record=on_record)
        finally:
            await self.executor.aclose()

    def conversation(self, task_id: str = "task-1") -> Conversation:
        return Conversation.model_validate(self.loop.table[task_id]["conversation"])

    def rule_steps(self, task_id: str = "task-1") -> int:
        return len(self.loop.table[task_id]["steps"])


def run(coro):
    return asyncio.run(coro)


def test_scripted_multi_tool_diagnosis_ends_in_a_valid_result(dump):
    dump_dir, pod = dump
    script = [
        ToolCalls([("describe_pod", {"namespace": NS, "name": pod}),
                   ("pod_logs", {"namespace": NS, "name": pod, "previous": True}),
                   ("get_workload", {"namespace": NS, "kind": "deployment", "name": "payment"})],
                  content="Rules say OOM; confirming.", usage=(1500, 60)),
        ToolCalls([("get_service", {"namespace": NS, "name": "payment"})], usage=(4000, 30)),
        Answer(answer(pod=pod), usage=(5200, 400)),
    ]

    async def go():
        async with LLMTestServer(script) as srv:
            h = Harness(dump_dir, srv)
            return await h.diagnose(make_task(pod)), srv, h

    out, srv, h = run(go())
    result, n = out.report, h.rule_steps()
    assert srv.protocol_errors == [] and srv.remaining == 0
    assert result.engine == "llm" and result.root_cause.category is ProblemCategory.OOM_KILLED
    assert result.termination_reason == "root_cause_identified" and result.status == "completed"
    assert result.confidence == 0.92 and len(result.root_cause.evidence) == 2
    # the rules' steps, then: LLM n+1, tools n+2..n+4 (parallel), LLM n+5, tool n+6, LLM n+7 (the answer)
    assert n >= 2 and all(s.tool_id != "llm" for s in result.steps[:n])
    assert [(s.step_number - n, s.tool_id) for s in result.steps[n:]] == [
        (1, "llm"), (2, "describe_pod"), (3, "pod_logs"), (4, "get_workload"), (5, "llm"), (6, "get_service"), (7, "llm")]
    assert [s.id for s in result.steps] == [f"task-1:{k}" for k in range(1, n + 8)]
    assert result.steps[-1].type is StepType.SUMMARY and result.steps[n + 1].type is StepType.EXECUTION
    assert all(s.status is StepStatus.COMPLETED for s in result.steps)
    published = {e.step_number: e.step for e in out.steps if e.kind == "completed"}
    assert "OutOfMemoryError" in published[n + 3].output.stdout  # the tool really ran, through the gateway
    # costs: one record per LLM call, deterministic ids, usage summed into the result
    assert [c.id for c in out.costs] == [f"task-1:{n + 1}:1", f"task-1:{n + 5}:2", f"task-1:{n + 7}:3"]
    assert result.token_usage.prompt_tokens == 10700 and result.token_usage.completion_tokens == 490
    assert result.token_usage.cost_usd == pytest.approx((10700 * 1.0 + 490 * 4.0) / 1e6)
    # what the model saw: the tools, the rule engine's evidence first, real tool output - and no secret
    first = srv.requests[0]
    assert first["model"] == "test-cheap" and len(first["tools"]) == len(BUILTIN_TOOLS)
    assert "Rule engine findings" in first["messages"][1]["content"] and "oom_killed" in first["messages"][1]["content"]
    tool_messages = [m for m in srv.requests[1]["messages"] if m["role"] == "tool"]
    assert len(tool_messages) == 3 and any("OutOfMemoryError" in m["content"] for m in tool_messages)
    everything = json.dumps(srv.requests) + result.model_dump_json() + "".join(e.model_dump_json() for e in out.steps)
    assert SECRET not in everything and SECRET2 not in everything and "[REDACTED" in everything


def test_garbage_answer_is_retried_once_then_the_rule_engine_answers(dump):
    dump_dir, pod = dump
    script = [Answer("It is probably memory. Let me know!", usage=(800, 12)),
              Answer(answer(category="memory_exhaustion"), usage=(900, 300))]

    async def go():
        async with LLMTestServer(script) as srv:
            h = Harness(dump_dir, srv)
            return await h.diagnose(make_task(pod)), srv, h

    out, srv, h = run(go())
    n = h.rule_steps()
    assert len(srv.requests) == 2 and srv.protocol_errors == []
    correction = srv.requests[1]["messages"][-1]["content"]
    assert "not a valid answer" in correction and "contains no JSON object" in correction
    result = out.report
    assert result.termination_reason == "llm_invalid_answer"
    assert result.engine == "rules" and result.root_cause.category is ProblemCategory.OOM_KILLED
    assert any(a.name == "llm_fallback" and "root_cause.category" in a.content for a in result.artifacts)
    # the rules' steps first, then the LLM's two failed turns
    assert [(s.step_number - n, s.tool_id, s.status) for s in result.steps[n:]] == [
        (1, "llm", StepStatus.FAILED), (2, "llm", StepStatus.FAILED)]
    assert len({s.id for s in result.steps}) == len(result.steps)
    assert [c.id for c in out.costs] == [f"task-1:{n + 1}:1", f"task-1:{n + 2}:2"]
    assert result.token_usage.prompt_tokens == 1700


def test_a_malformed_answer_corrected_on_the_retry_is_accepted(dump):
    dump_dir, pod = dump
    script = [Answer("```json\n{\"summary\": {\"problem\": \"x\"}}\n```"), Answer("```json\n" + json.dumps(answer(confidence=0.6)) + "\n```")]

    async def go():
        async with LLMTestServer(script) as srv:
            return await Harness(dump_dir, srv).diagnose(make_task(pod))

    out = run(go())
    assert out.report.engine == "llm"
    assert out.report.termination_reason == "model_concluded" and out.report.confidence == 0.6


@pytest.mark.parametrize("reply, expect", [
    (Slow(3.0, Answer(answer())), "Timeout"),
    (HttpError(500, "model overloaded"), "InternalServerError"),
    (HttpError(401, "bad key"), "AuthenticationError"),
    (RawBody("<html>502 Bad Gateway</html>", content_type="text/html"), ""),
])
def test_endpoint_failures_hand_the_task_to_the_rule_engine(dump, reply, expect):
    dump_dir, pod = dump

    async def go():
        async with LLMTestServer([reply]) as srv:
            h = Harness(dump_dir, srv, timeout=0.5)
            return await h.diagnose(make_task(pod)), h

    out, h = run(go())
    assert out.report.termination_reason == "llm_unavailable"
    assert out.report.engine == "rules" and out.report.root_cause.category is ProblemCategory.OOM_KILLED
    llm_step = out.report.steps[h.rule_steps()]
    assert llm_step.tool_id == "llm" and llm_step.status is StepStatus.FAILED and expect in llm_step.output.stderr
    assert out.costs == []


def test_usage_becomes_a_cost_record_priced_from_the_table(dump):
    dump_dir, pod = dump
    script = [Answer(answer(), usage=(12345, 678), model="test-strong-2026-01-01")]

    async def go():
        async with LLMTestServer(script) as srv:
            h = Harness(dump_dir, srv)
            h.settings.__dict__["cheap_model"] = "test-strong"  # the model this task is given
            return await h.diagnose(make_task(pod)), h

    out, h = run(go())
    (cost,) = out.costs
    assert cost.id == f"task-1:{h.rule_steps() + 1}:1" and cost.task_id == "task-1" and cost.cluster_id == "dump"
    assert cost.priority == "P1"
    assert (cost.model, cost.prompt_tokens, cost.completion_tokens) == ("test-strong", 12345, 678)
    assert cost.cost_usd == pytest.approx((12345 * 10.0 + 678 * 40.0) / 1e6)  # $0.15057
    assert out.report.token_usage.cost_usd == pytest.approx(cost.cost_usd)


def test_budget_exceeded_mid_loop_stops_before_the_next_model_call(dump):
    dump_dir, pod = dump
    script = [ToolCalls([("describe_pod", {"namespace": NS, "name": pod})], usage=(8000, 200)),
              ToolCalls([("pod_logs", {"namespace": NS, "name": pod})], usage=(9000, 200)),
              Answer(answer())]

    async def go():
        async with LLMTestServer(script) as srv:
            h = Harness(dump_dir, srv)
            task = make_task(pod, budget_usd=0.015)  # turn 1: $0.0088, turn 2: +$0.0098 = $0.0186
            return await h.diagnose(task), srv, h

    out, srv, h = run(go())
    assert len(srv.requests) == 2 and srv.remaining == 1
    result = out.report
    assert result.termination_reason == "budget_exceeded" and result.status == "stopped_by_budget"
    assert result.engine == "rules"
    conv = h.conversation()
    # the round the model asked for still runs (reads cost nothing), but the model is not asked again
    assert [s.tool_id for s in conv.steps] == ["llm", "describe_pod", "llm", "pod_logs"]
    assert conv.usage.cost_usd == pytest.approx(0.0186)


def test_step_limit_asks_for_a_conclusion_without_tools(dump):
    dump_dir, pod = dump
    script = [ToolCalls([("describe_pod", {"namespace": NS, "name": pod}),
                         ("pod_logs", {"namespace": NS, "name": pod, "previous": True}),
                         ("get_workload", {"namespace": NS, "kind": "deployment", "name": "payment"})]),
              Answer(answer(confidence=0.8))]

    async def go():
        async with LLMTestServer(script) as srv:
            h = Harness(dump_dir, srv)
            return await h.diagnose(make_task(pod, max_steps=2)), srv, h

    out, srv, h = run(go())
    assert srv.protocol_errors == [] and h.rule_steps() == 2  # the rules stop at the limit too, then hand over
    result = out.report
    assert result.engine == "llm"
    assert result.termination_reason == "max_steps_reached" and result.status == "completed_with_partial_results"
    assert [(s.tool_id, s.status) for s in result.steps[2:]] == [
        ("llm", StepStatus.COMPLETED), ("describe_pod", StepStatus.COMPLETED), ("pod_logs", StepStatus.COMPLETED),
        ("get_workload", StepStatus.SKIPPED), ("llm", StepStatus.COMPLETED)]
    final = srv.requests[1]
    assert "tools" not in final and "No more function calls" in final["messages"][-1]["content"]
    assert "step limit of 2" in [m for m in final["messages"] if m["role"] == "tool"][2]["content"]


def test_three_consecutive_tool_errors_fail_the_task(dump):
    dump_dir, pod = dump
    script = [ToolCalls([("describe_everything", {"namespace": NS, "name": pod}),
                         ("get_pod", {"namespace": NS, "name": "Not_A_Pod_Name"}),
                         ("get_pod", "{not json")])]

    async def go():
        async with LLMTestServer(script) as srv:
            h = Harness(dump_dir, srv)
            return await h.diagnose(make_task(pod)), h

    out, h = run(go())
    assert out.report.termination_reason == "too_many_errors" and out.report.status == "failed"
    conv = h.conversation()
    tools = sorted(conv.steps, key=lambda s: s.step_number)[1:]
    assert [(s.tool_id, s.status) for s in tools] == [("describe_everything", StepStatus.FAILED), ("get_pod", StepStatus.FAILED),
                                                      ("get_pod", StepStatus.FAILED)]
    assert "describe_everything" in tools[0].output.stderr
    assert "name" in tools[1].output.stderr and "not valid JSON" in tools[2].output.stderr
    assert conv.tool_steps == 2  # the call with broken arguments never ran


def test_manual_stop_between_turns(dump):
    dump_dir, pod = dump
    script = [ToolCalls([("get_pod", {"namespace": NS, "name": pod})]), Answer(answer())]

    async def go():
        async with LLMTestServer(script) as srv:
            h = Harness(dump_dir, srv)

            async def stop_after_the_first_turn(record: Record) -> None:
                event = json.loads(record.value)
                if record.topic == "steps" and event["kind"] == "completed" and event["step"]["tool_id"] == "llm":
                    cmd = TaskCommand(task_id="task-1", action="cancel", requested_by="test")
                    await h.topics["task.commands"].send(key=b"task-1", value=cmd.to_bytes())

            return await h.diagnose(make_task(pod), on_record=stop_after_the_first_turn), srv

    out, srv = run(go())
    assert out.report.termination_reason == "manual_stop" and out.report.status == "cancelled"
    assert srv.remaining == 1


def test_single_step_api_resumes_from_stored_state_after_a_crash(dump):
    """The Kafka loop's view: state stored as bytes between steps, a worker dies mid-round."""
    dump_dir, pod = dump
    script = [ToolCalls([("describe_pod", {"namespace": NS, "name": pod}),
                         ("pod_logs", {"namespace": NS, "name": pod, "previous": True})], usage=(1000, 50)),
              Answer(answer(pod=pod), usage=(3000, 300))]

    async def execute(h: Harness, call) -> object:
        return await h.executor.call(ToolCall(tool_id=call.tool_id, parameters=call.parameters), task_id="task-1",
                                     cluster_id="dump")

    async def go():
        async with LLMTestServer(script) as srv:
            h = Harness(dump_dir, srv)
            conv = h.engine.start(make_task(pod), findings="rule engine: OOMKilled x5 (exit 137)")
            stored = conv.to_bytes()

            turn = await h.engine.turn(Conversation.from_bytes(stored))
            assert turn.action == "tool_calls" and [c.step_number for c in turn.calls] == [2, 3]
            assert turn.cost.id == "task-1:1:1"
            stored = turn.conversation.to_bytes()  # the table row, with both calls in flight

            # worker A finishes the first call, stores, and dies before the second
            first = turn.calls[0]
            result = await execute(h, first)
            state, step = record_tool_result(Conversation.from_bytes(stored), first.step_number, result,
                                             now=h.engine.clock(), max_chars=12000)
            assert step.step_number == 2 and state.phase is Phase.TOOLS
            stored = state.to_bytes()

            # worker B restores the row: only step 3 is left; a redelivered step 2 changes nothing
            state = Conversation.from_bytes(stored)
            again, dup = record_tool_result(state, 2, result, now=h.engine.clock(), max_chars=12000)
            assert dup is None and again == state
            left = unresolved(state)
            assert [c.step_number for c in left] == [3]
            for call in left:
                res = await execute(h, call)
                state, _ = record_tool_result(state, call.step_number, res, now=h.engine.clock(), max_chars=12000)
            assert state.phase is Phase.LLM and h.engine.termination(state) is None

            final = await h.engine.turn(Conversation.from_bytes(state.to_bytes()))
            assert final.action == "answer" and final.cost.id == "task-1:4:2"
            await h.executor.aclose()
            return h.engine.result_from_answer(final.conversation, final.answer), srv

    result, srv = run(go())
    assert srv.protocol_errors == [] and result.root_cause.category is ProblemCategory.OOM_KILLED
    assert [s.step_number for s in result.steps] == [1, 2, 3, 4]
    assert "rule engine: OOMKilled" in srv.requests[0]["messages"][1]["content"]


def test_turn_refuses_a_conversation_waiting_for_tools(dump):
    dump_dir, pod = dump

    async def go():
        async with LLMTestServer([ToolCalls([("get_pod", {"namespace": NS, "name": pod})])]) as srv:
            h = Harness(dump_dir, srv)
            turn = await h.engine.turn(h.engine.start(make_task(pod)))
            with pytest.raises(ValueError, match="phase 'llm'"):
                await h.engine.turn(turn.conversation)
            await h.executor.aclose()

    run(go())


class Delayed:
    """The real gateway executor behind a delay, counting how many calls are in flight at once."""

    def __init__(self, inner, seconds: float) -> None:
        self.inner, self.seconds = inner, seconds
        self.in_flight = self.peak = 0

    async def call(self, call, *, task_id, cluster_id, role="sre", actor=""):
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await asyncio.sleep(self.seconds)
            return await self.inner.call(call, task_id=task_id, cluster_id=cluster_id, role=role, actor=actor)
        finally:
            self.in_flight -= 1


def test_at_most_three_tool_calls_of_a_task_run_at_once(dump):
    dump_dir, pod = dump
    five = [("list_pods", {"namespace": NS}), ("list_events", {"namespace": NS}), ("list_services", {"namespace": NS}),
            ("list_nodes", {}), ("get_pod", {"namespace": NS, "name": pod})]
    script = [ToolCalls(five), Answer(answer())]
    slow: list[Delayed] = []

    def wrap(executor):
        slow.append(Delayed(executor, 0.05))
        return slow[0]

    async def go():
        async with LLMTestServer(script) as srv:
            h = Harness(dump_dir, srv, wrap=wrap)
            return await h.diagnose(make_task(pod)), h

    out, h = run(go())
    n = h.rule_steps()
    assert slow[0].peak == 3  # in the rules' phase and in the model's
    assert [s.status for s in out.report.steps[n + 1:n + 6]] == [StepStatus.COMPLETED] * 5


def test_a_hung_tool_is_cut_at_the_task_time_limit(dump):
    dump_dir, pod = dump
    script = [ToolCalls([("get_pod", {"namespace": NS, "name": pod})]), Answer(answer())]

    async def go():
        async with LLMTestServer(script) as srv:
            h = Harness(dump_dir, srv, wrap=lambda executor: Delayed(executor, 30))
            return await h.diagnose(make_task(pod, timeout_seconds=1.0)), h

    out, h = run(go())
    failed = [e.step for e in out.steps if e.kind == "completed" and e.step.status is StepStatus.FAILED]
    assert failed and all("timed out" in s.output.stderr for s in failed)
    assert out.report.termination_reason == "timeout" and out.report.status == "timeout"


def test_metrics_count_calls_tokens_dollars_and_fallbacks(dump):
    from aetherius.metrics import REGISTRY

    dump_dir, pod = dump

    def value(name, **labels):
        return REGISTRY.get_sample_value(name, labels) or 0.0

    before = (value("aetherius_llm_tokens_total", model="test-cheap", kind="prompt"),
              value("aetherius_llm_fallbacks_total", reason="llm_invalid_answer"),
              value("aetherius_llm_calls_total", model="test-cheap", outcome="invalid"),
              value("aetherius_llm_cost_usd_total", model="test-cheap"))
    script = [Answer("nope", usage=(1000, 10)), Answer("still nope", usage=(1000, 10))]

    async def go():
        async with LLMTestServer(script) as srv:
            return await Harness(dump_dir, srv).diagnose(make_task(pod))

    run(go())
    after = (value("aetherius_llm_tokens_total", model="test-cheap", kind="prompt"),
             value("aetherius_llm_fallbacks_total", reason="llm_invalid_answer"),
             value("aetherius_llm_calls_total", model="test-cheap", outcome="invalid"),
             value("aetherius_llm_cost_usd_total", model="test-cheap"))
    assert [a - b for a, b in zip(after, before)] == pytest.approx([2000, 1, 2, 0.00208])


def test_a_model_asking_for_an_escalation_stops_the_task_and_suspends_nobody(dump):
    """Issue 21: a model's request is nobody's attempt. The task a person asked for stops for security (the SOC
    hears of it through the gateway's audit), but that person is not suspended."""
    from schemas.requester import Requester

    dump_dir, pod = dump
    script = [ToolCalls([("get_pod", {"namespace": NS, "name": "x && sudo cat /etc/shadow"})]), Answer(answer())]

    async def go():
        async with LLMTestServer(script) as srv:
            h = Harness(dump_dir, srv)
            task = make_task(pod).model_copy(update={"requested_by": Requester(subject="alice", role="sre")})
            return await h.diagnose(task), srv

    out, srv = run(go())
    assert out.report.termination_reason == "security_violation" and len(srv.requests) == 1
    assert [a.action for a in out.audit if a.action.startswith("security.")] == ["security.privilege_escalation"]
    assert not [a for a in out.audit if a.action == "suspension.start"]
