"""The diagnostic step loop on Kafka: every step is a record, the task's state is a table row.

    tasks.p0..p3 [task_id]  --admission: strategy chosen (SRS §5.9.2), row created, steps opened-->
                            steps (requested) + tool calls / LLM turns dispatched to bounded asyncio tasks
    a call or turn finishes --> steps (completed) [+ costs, one CostRecord per LLM call]
                            --> row updated, next steps opened ... --> reports
    task.commands (cancel, timeout, advance) --> row re-evaluated, or finished with a partial report

Nothing about a task is kept in memory between records. The rule engine always runs first; an
`ai_powered` task whose rules are not confident then continues with the LLM (agents/runtime.py), the
rule result being its starting evidence and its fallback. A model call is slow work like a tool call:
at most 20 per worker at once, never awaited on the partition, its outcome published as an analysis
step on the steps topic and applied to the row once, by step number.

Every tool call runs as the task's requester - the person who asked, with their role, for a manual
request; the configured service role for alerts and events (agents/runtime.tool_caller) - so the
gateway's role check (safety layer 4) and its audit events see who the diagnosis is for.

A sweep re-dispatches the calls and turns that the row says are in flight but that no local task is
running (after a crash or a rebalance, after a grace that lets a completion still on the topic
arrive first), nudges a row that is stuck between records, sends again a report the broker never
confirmed (the row is written finished first, the report second: see `_publish_report`), and turns an
expired task into a timeout record; all idempotent by (task_id, step number) or by report id.

A call the gateway refused as a security event (SRS §5.8.5: privilege escalation, a write verb,
injection, a role the task lacks) ends its task at once as failed (`security_violation`): the calls
still running for it are cancelled and nothing more is planned or asked of the model.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable, Literal, Protocol

import faust
from prometheus_client import Counter, Histogram

from agents import runtime as rt_logic
from agents.engine import Engine, target_for_task
from agents.knowledge.attach import MAX_ATTACHED, attachable, attachment_note
from agents.llm.answer import LLMAnswer
from agents.llm.conversation import Conversation
from agents.llm.engine import LLMEngine
from agents.runtime import Next, StepRecord, TaskRuntime, ToolCaller, TurnOutcome
from agents.strategy import Strategy, StrategyDecision, alert_complexity, choose_strategy, decide_for_task
from agents.termination import CONFIDENCE_THRESHOLD, Termination, TerminationReason, stops_task
from agents.tools.types import ToolCall, ToolExecutor, ToolResult
from aetherius.metrics import REGISTRY
from schemas.bounds import RECORD_BUDGET, clip
from schemas.knowledge import KnowledgeEntry
from schemas.result import DiagnosticResult, ResultArtifact, ResultSummary
from schemas.settings import LLMSettings, Settings
from schemas.step import DiagnosticStep, StepEvent, StepInput, StepOutput, StepStatus, StepType
from schemas.task import DiagnosticTask, TaskCommand, TaskStatus
from streams.app import Topics
from streams.emit import RecordTooLarge
from streams.pipeline import Pipeline, error_boundary

log = logging.getLogger(__name__)

TOOL_CALLS = Counter("aetherius_tool_calls_total", "Tool calls by tool and result", ["tool", "result"],
                     registry=REGISTRY)
TASK_DURATION = Histogram("aetherius_task_duration_seconds", "Diagnosis duration from start to report",
                          ["status", "priority"], registry=REGISTRY,
                          buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600))
REPORTS = Counter("aetherius_reports_total", "Reports published", ["category", "engine"], registry=REGISTRY)
STRATEGIES = Counter("aetherius_strategy_total", "Strategy chosen for new tasks", ["strategy"], registry=REGISTRY)
SECURITY_STOPS = Counter("aetherius_tasks_stopped_for_security_total",
                         "Tasks ended because one of their tool requests was a security event", ["kind"],
                         registry=REGISTRY)

MAX_TOOL_CALLS_IN_FLIGHT = 30  # per worker; per task the runtime keeps it to 3
MAX_LLM_CALLS_IN_FLIGHT = 20  # per worker (architecture: "a semaphore per limit: LLM 20")
MIN_CALL_SECONDS = 1.0  # a call always gets this long, even at the very end of a task's time
STEP_OUTPUT_BYTES = 256 * 1024  # a tool's output in its completion record (the gateway allows up to 10 MB)

# (score in [0, 1], matching entries) for a task; sync or async. Helper F's knowledge base plugs in here.
KnowledgeLookup = Callable[[DiagnosticTask], "tuple[float, list[KnowledgeEntry]] | Awaitable[tuple[float, list[KnowledgeEntry]]]"]


class TopicSet(Protocol):
    """What the loop needs of its topics: Faust's (streams.app.Topics) in a worker, agents.inmemory's offline."""

    def __getitem__(self, name: str) -> Any: ...

    def task(self, priority: Any) -> Any: ...

    def audit_sink(self) -> Callable[[Any], Awaitable[None]]: ...


class BudgetState:
    """What the loop asks of the budget view (agents/budget_agent.BudgetWatcher has it as `.view`)."""

    view: Any


@dataclass
class StepLoop:
    topics: TopicSet
    table: Any
    engine: Engine
    executor: ToolExecutor
    # Role for tasks no person asked for (alerts, events); a manual task runs with its requester's role.
    service_role: str = "sre"
    llm: LLMEngine | None = None
    budget: BudgetState | None = None
    knowledge_lookup: KnowledgeLookup | None = None
    # Entries about one problem category (agents.knowledge.retrieval.for_category): what a report is given when
    # none of the entries found from its alert is about the cause it names (agents.knowledge.attach).
    knowledge_for_category: Callable[[DiagnosticTask, str], Awaitable[list[KnowledgeEntry]]] | None = None
    # Which engine may diagnose: "auto" decides per task (SRS §5.9.2, the worker's way); "rules" never calls a
    # model; "llm" always hands the rules' findings to the model (`aetherius diagnose --engine`).
    engine_choice: Literal["auto", "rules", "llm"] = "auto"
    # `tasks.budget_tokens`: a task admitted without a token budget gets this one (None: tokens are not limited).
    budget_tokens: int | None = None
    sem: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(MAX_TOOL_CALLS_IN_FLIGHT))
    llm_sem: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(MAX_LLM_CALLS_IN_FLIGHT))
    running: dict[tuple[str, int], asyncio.Task] = field(default_factory=dict)
    # When this process first saw a step in flight that it is not running. After a restart the steps
    # topic may still hold that step's completion; waiting a moment lets it arrive instead of re-running.
    orphan_seen: dict[tuple[str, int], float] = field(default_factory=dict)
    resume_grace_seconds: float = 5.0
    # How rows are written (the Faust worker: streams.emit's put on the runtime table); None: `table[k] = v`.
    write_row: Callable[[str, dict[str, Any]], Awaitable[None]] | None = None

    # -- rows ----------------------------------------------------------------------------------
    def row(self, task_id: str) -> TaskRuntime | None:
        raw = self.table.get(task_id)
        return TaskRuntime.model_validate(raw) if raw else None

    async def store(self, rt: TaskRuntime) -> TaskRuntime:
        """Write the row (reassigned: in-place edits are not recorded) and return what was stored. The worker
        writes through `write_row` (streams.emit: the changelog record is on the producer before the record
        that caused it can be committed, and within the record budget); a row over the budget is stored with
        its largest step outputs dropped, and one still over it raises RecordTooLarge (the task then fails
        through `fail`)."""
        if self.write_row is None:
            self.table[rt.task.id] = rt.model_dump(mode="json")
            return rt
        try:
            await self.write_row(rt.task.id, rt.model_dump(mode="json"))
            return rt
        except RecordTooLarge:
            slim = rt_logic.slimmed(rt, RECORD_BUDGET - 64 * 1024)
            if slim is rt:
                raise
            log.warning("task row over its size budget: stored without its largest step outputs",
                        extra={"task_id": rt.task.id})
            await self.write_row(rt.task.id, slim.model_dump(mode="json"))
            return slim

    def planner(self, task: DiagnosticTask):
        target = target_for_task(task)
        return lambda obs: self.engine.plan(target, obs)

    # -- strategy ------------------------------------------------------------------------------
    async def choose(self, task: DiagnosticTask) -> tuple[StrategyDecision, float, list[KnowledgeEntry]]:
        """SRS §5.9.2 at admission: knowledge match, LLM configured, global budget and degradation."""
        score, entries = 0.0, []
        if self.knowledge_lookup is not None:
            try:
                found = self.knowledge_lookup(task)
                if inspect.isawaitable(found):
                    found = await found
                score, entries = float(found[0]), list(found[1])
            except Exception:  # noqa: BLE001 - no knowledge is a valid answer, a broken KB must not stop diagnosis
                log.exception("knowledge lookup failed", extra={"task_id": task.id})
        score = min(1.0, max(0.0, score)) if score == score else 0.0
        view = self.budget.view if self.budget is not None else None
        settings = self.llm.settings if self.llm is not None else LLMSettings()
        decision = decide_for_task(task, settings, knowledge_match=score,
                                   admission=view.admission(datetime.now(timezone.utc)) if view else None,
                                   degradation=view.degradation if view else None)
        if self.engine_choice == "llm" and self.llm is not None:
            decision = StrategyDecision(strategy=Strategy.AI_POWERED, complexity=decision.complexity,
                                        model=decision.model or self.llm.settings.cheap_model,
                                        reason="the LLM was requested")
        elif self.engine_choice == "rules" and decision.strategy is Strategy.AI_POWERED:
            decision = StrategyDecision(strategy=Strategy.RULE_BASED, complexity=decision.complexity,
                                        reason="the rule engine was requested")
        elif decision.strategy is Strategy.AI_POWERED and self.llm is None:
            decision = StrategyDecision(strategy=Strategy.RULE_BASED, complexity=decision.complexity,
                                        reason="no LLM engine in this worker")
        return decision, score, entries

    def model_for(self, task: DiagnosticTask, findings: DiagnosticResult) -> str:
        """Cheap or strong model by the complexity the rule findings suggest (SRS §5.9.2)."""
        assert self.llm is not None
        s = self.llm.settings
        return choose_strategy(knowledge_match=0.0, llm_configured=True, ai_available=True, budget_remaining_pct=100.0,
                               complexity=alert_complexity(task, findings).score, cheap_model=s.cheap_model,
                               strong_model=s.strong_model).model or s.cheap_model

    # -- records in ----------------------------------------------------------------------------
    async def on_admission(self, task: DiagnosticTask) -> None:
        existing = self.row(task.id)
        if existing is not None:  # redelivered admission (or sent again by the scheduler): the row exists.
            # Say where the task is: running (the scheduler stops re-sending it) or ended (a slot it was given
            # again is freed: the view turns a repeated final snapshot into a finish).
            await self.topics["task.state"].send(key=task.id.encode(), value=existing.task.to_bytes())
            return
        if task.limits.budget_tokens is None and self.budget_tokens is not None:
            task = task.model_copy(update={"limits": task.limits.model_copy(update={"budget_tokens": self.budget_tokens})})
        decision, score, entries = await self.choose(task)
        STRATEGIES.labels(strategy=decision.strategy.value).inc()
        now = time.time()
        metadata = {**task.metadata, "strategy": decision.strategy.value, "strategy_reason": decision.reason,
                    "complexity": decision.complexity, "model": decision.model or "",
                    "knowledge_match": round(score, 4), "knowledge_ids": [k.id for k in entries[:3]]}
        running = task.model_copy(update={"status": TaskStatus.RUNNING, "metadata": metadata,
                                          "started_at": datetime.fromtimestamp(now, timezone.utc)})
        engine = "knowledge" if decision.strategy is Strategy.KNOWLEDGE_BASED else self.engine.name
        rt, new = rt_logic.begin(running, self.planner(running), now, engine=engine,
                                 strategy=decision.strategy.value, model=decision.model or "", knowledge=entries[:3])
        await self.store(rt)
        await self.topics["task.state"].send(key=task.id.encode(), value=running.to_bytes())
        await self._apply(rt, Next(dispatch=new) if new else Next(evidence_exhausted=True))

    async def on_step_event(self, event: StepEvent) -> None:
        if event.kind == "requested":
            # The log of what was asked. The call itself was dispatched when the step was opened: acting on
            # a redelivered request after a crash would run a step again that may already have completed.
            # Only the sweep's resume marker (status pending) acts - see `on_resume`.
            if event.step.status == StepStatus.PENDING:
                self.on_resume(event.task_id, event.step_number)
            return
        old = self.row(event.task_id)
        if old is None or old.finished:
            return
        now = time.time()
        if event.step.output is not None and stops_task(event.step.output.security_event) and not _is_turn(event.step):
            await self.on_security_violation(old, event.step_number, _tool_result(event.step), now)
            return
        if old.phase == "llm":
            if _is_turn(event.step):
                if event.step_number != old.llm_turn or event.step.output is None:
                    return  # a turn already applied, or one this row never opened
                outcome = TurnOutcome.model_validate_json(event.step.output.stdout)
                rt, nxt = rt_logic.apply_turn(old, outcome, now)
            else:
                rt, nxt = rt_logic.complete_llm_call(old, event.step_number, _tool_result(event.step), now)
        else:
            out = event.step.output
            error = "" if event.step.status == StepStatus.COMPLETED else (out.stderr if out else "failed")
            parsed = _parse(out.stdout) if out and not error else None
            rt, nxt = rt_logic.complete(old, event.step_number, parsed, error, now, self.planner(old.task))
        if rt is old:
            return  # redelivered or unknown: nothing changed, nothing to store
        await self.store(rt)
        await self._apply(rt, nxt)

    async def on_security_violation(self, old: TaskRuntime, number: int, result: ToolResult, now: float) -> None:
        """Stop the task whose request was refused as a security event (the gateway has audited it and
        raised `security.<kind>`; the SOC alert goes from the sink role, sinks/security_alerts.py). Nobody is
        suspended: the call was planned by the rule engine or a model, not asked for by a person (a person's own
        attempt is refused, and its author suspended, where the request enters: streams/admission.py)."""
        rt, stop = rt_logic.stop_for_security(old, number, result, now)
        if stop is None:
            return  # a redelivered or unknown completion
        SECURITY_STOPS.labels(kind=result.security_event[:64]).inc()
        log.warning("task stopped: step %s was refused as a security event (%s)", number, result.security_event,
                    extra={"task_id": rt.task.id, "cluster_id": rt.task.cluster_id})
        await self.store(rt)
        await self._conclude(rt, stop)

    async def fail(self, task_id: str, reason: str, admission: DiagnosticTask | None = None) -> None:
        """End a task one of whose records could not be processed (too large for the broker, or a bug) with a
        failed report saying why: a small row and report that always fit. `admission`: the task's admission
        record, when it failed before the task had a row. A finished task stays as it is."""
        old = self.row(task_id)
        if old is not None and old.finished:
            return
        task = old.task if old is not None else admission
        if task is None:
            return  # a record for a task this worker never knew: nothing to end
        log.error("task failed: %s", reason[:300], extra={"task_id": task_id, "cluster_id": task.cluster_id})
        done = await self.store(rt_logic.failed_row(task, reason, time.time(), old.started_at if old else None))
        for key in [k for k in self.running if k[0] == task_id]:
            self.running.pop(key).cancel()
        await self._publish_report(done)

    def on_resume(self, task_id: str, number: int) -> None:
        """Re-run an orphaned call or model turn. The marker travelled the steps topic behind every
        completion published before it (same key, same partition), so a call still in flight in the
        row now has no completion anywhere: re-running it cannot run a completed step twice."""
        rt = self.row(task_id)
        if rt is None or rt.finished or (task_id, number) in self.running:
            return
        if rt.llm_turn == number and rt.conversation is not None:
            log.info("resuming LLM turn %s", number, extra={"task_id": task_id})
            self.dispatch_turn(task_id, number, rt.conversation)
            return
        step = next((s for s in rt.in_flight() if s.number == number), None)
        if step is not None:
            log.info("resuming step %s", number, extra={"task_id": task_id})
            self.dispatch(rt, number, step.call)

    async def on_command(self, cmd: TaskCommand) -> None:
        rt = self.row(cmd.task_id)
        if cmd.action == "republish":  # from the sweep: a finished row whose report the broker never confirmed
            if rt is not None and rt.finished and rt.report_pending and rt.report is not None:
                log.info("sending the report again", extra={"task_id": cmd.task_id})
                await self._publish_report(rt)
            return
        if rt is None or rt.finished:
            return  # pending tasks are cancelled by the scheduler; finished ones stay finished
        now = time.time()
        if cmd.action == "cancel":
            rt = rt.model_copy(update={"cancelled_by": cmd.requested_by})
            rt, nxt = rt_logic.cancel(rt, now, self.planner(rt.task))
        else:  # "timeout" from the sweep, "advance" for a stalled row, or any nudge: re-evaluate
            rt, nxt = rt_logic.advance(rt, now, self.planner(rt.task))
        await self.store(rt)
        await self._apply(rt, nxt)

    # -- decisions out -------------------------------------------------------------------------
    async def _apply(self, rt: TaskRuntime, nxt: Next) -> None:
        for step in nxt.dispatch:
            await self.topics["steps"].send(key=rt.task.id.encode(), value=_event(rt.task, step, "requested").to_bytes())
            self.dispatch(rt, step.number, step.call)
        if nxt.turn is not None and rt.conversation is not None:
            await self.topics["steps"].send(key=rt.task.id.encode(),
                                            value=_turn_requested(rt.conversation, nxt.turn).to_bytes())
            self.dispatch_turn(rt.task.id, nxt.turn, rt.conversation)
        if nxt.finish is not None or nxt.evidence_exhausted or nxt.llm_done:
            await self._conclude(rt, nxt.finish)

    async def _conclude(self, rt: TaskRuntime, stop: Termination | None) -> None:
        if rt.phase == "llm":
            await self._finish_llm(rt, stop)
            return
        findings = self._analyze(rt)
        if self.llm is not None and not self._ai_disabled() and rt_logic.continues_with_llm(
                rt, findings, stop, requested=self.engine_choice == "llm"):
            model = self.model_for(rt.task, findings)
            conv = self.llm.start(rt.task, model=model, findings=findings, knowledge=rt.knowledge or None,
                                  role=rt_logic.tool_caller(rt.task, self.service_role).role)
            conv = conv.model_copy(update={"started_at": datetime.fromtimestamp(rt.started_at, timezone.utc)})
            task = rt.task.model_copy(update={"metadata": {**rt.task.metadata, "model": model}})
            rt, nxt = rt_logic.start_llm(rt.model_copy(update={"task": task}), conv, findings, model, time.time())
            await self.store(rt)
            await self._apply(rt, nxt)
            return
        if stop is not None:
            reason, status, result_status = stop.reason.value, stop.status, stop.result_status
        elif rt.steps and all(st.status == "failed" for st in rt.steps):
            # Not one read succeeded (the cluster is unreachable, its credentials are gone): a failure to tell
            # a person about, not a "completed" diagnosis of nothing (SRS §3.5.2).
            reason, status, result_status = "cluster_unreadable", TaskStatus.FAILED, "failed"
            findings = findings.model_copy(update={"summary": findings.summary.model_copy(update={
                "problem": f"could not read cluster {rt.task.cluster_id}: {rt.steps[-1].error}"[:500]})})
        else:
            reason = "root_cause_identified" if findings.confidence >= CONFIDENCE_THRESHOLD else "evidence_exhausted"
            status, result_status = TaskStatus.COMPLETED, "completed"
        result = findings
        if rt.strategy == Strategy.KNOWLEDGE_BASED.value:
            notes = [ResultArtifact(name=f"knowledge:{k.id}", content=f"{k.title}\n\n{k.content}") for k in rt.knowledge]
            result = result.model_copy(update={"artifacts": result.artifacts + notes})
        result = result.model_copy(update={"engine": rt.engine if rt.engine != "llm" else "rules",
                                           "steps": _rule_steps(rt), "status": result_status})
        await self._report(rt, _say_why(result, stop), status, reason)

    def _analyze(self, rt: TaskRuntime) -> DiagnosticResult:
        try:
            return self.engine.analyze(target_for_task(rt.task), rt_logic.observations(rt), rt.task)
        except Exception as exc:  # noqa: BLE001 - a broken analysis still gets a report, never a lost task
            log.exception("analysis failed", extra={"task_id": rt.task.id})
            return DiagnosticResult(task_id=rt.task.id, summary=ResultSummary(problem=f"analysis failed: {exc}"))

    async def _finish_llm(self, rt: TaskRuntime, stop: Termination | None) -> None:
        conv, findings = rt.conversation, rt.findings or self._analyze(rt)
        assert conv is not None
        if stop is None and rt.answer is not None and self.llm is not None:
            result = self.llm.result_from_answer(conv, LLMAnswer.model_validate(rt.answer))
            status, reason = TaskStatus.COMPLETED, result.termination_reason
        else:
            reason = stop.reason.value if stop is not None else (rt.llm_stop or "llm_unavailable")
            detail = stop.note if stop is not None else rt.llm_stop_detail
            status = stop.status if stop is not None else TaskStatus.COMPLETED
            base = findings.model_copy(update={"steps": []})

            async def cached(_: DiagnosticTask) -> DiagnosticResult:
                return base

            if self.llm is not None:
                result = await self.llm.fallback_result(conv, cached, reason=reason, termination=stop, detail=detail)
            else:  # this worker has no LLM configured (any more): the rules answer as they are
                result = base.model_copy(update={"token_usage": conv.usage, "status": stop.result_status if stop else
                                                 base.status})
        steps = _rule_steps(rt) + [s for s in result.steps if s.step_number > len(rt.steps)]
        await self._report(rt, _say_why(result.model_copy(update={"steps": steps}), stop), status, reason)

    async def _report(self, rt: TaskRuntime, result: DiagnosticResult, status: TaskStatus, reason: str) -> None:
        result = result.model_copy(update={"task_id": rt.task.id, "cluster_id": rt.task.cluster_id,
                                           "termination_reason": reason})
        result, knowledge = await self._attach_knowledge(rt, result)
        if rt.cancel_requested and rt.cancelled_by:  # as a task cancelled while queued says it (streams.pipeline)
            result = result.model_copy(update={"artifacts": [*result.artifacts, ResultArtifact(
                name="termination", content=f"{reason}: ended by {rt.cancelled_by}")]})
        now = datetime.now(timezone.utc)
        final = rt.task.model_copy(update={"status": status, "completed_at": now, "status_reason": reason,
                                           "metadata": {**rt.task.metadata, "knowledge_ids": [k.id for k in knowledge]}})
        done = rt.model_copy(update={"finished": True, "termination_reason": reason, "task": final, "report": result,
                                     "report_pending": True, "knowledge": knowledge})
        await self.store(done)
        await self._publish_report(done)
        category = result.root_cause.category.value if result.root_cause else "none"
        REPORTS.labels(category=category, engine=result.engine).inc()
        TASK_DURATION.labels(status=status.value, priority=rt.task.priority.value).observe(
            max(0.0, time.time() - rt.started_at))
        for key in [k for k in self.running if k[0] == rt.task.id and k[1] != rt.llm_turn]:
            self.running.pop(key).cancel()
        # A model call in flight is left to finish: the server generates (and bills) it whatever we do, and
        # `_run_turn` then publishes its CostRecord, so the budget books every token served. Its outcome finds
        # the row finished and changes nothing else.

    async def _attach_knowledge(self, rt: TaskRuntime,
                                result: DiagnosticResult) -> tuple[DiagnosticResult, list[KnowledgeEntry]]:
        """Only knowledge about the report's category travels with it, and so is trained by feedback on it; when
        the alert's lookup found none, the entries about that category are looked up. The report says which."""
        category = result.root_cause.category.value if result.root_cause else "unknown"
        kept, dropped = attachable(rt.knowledge, category)
        found: list[KnowledgeEntry] = []
        if (category != "unknown" and self.knowledge_for_category is not None
                and not any(k.problem_category == category for k in kept)):
            try:
                found = [k for k in await self.knowledge_for_category(rt.task, category)
                         if k.problem_category == category and k.id not in {e.id for e in kept}]
            except Exception:  # noqa: BLE001 - a broken knowledge base must not hold the report back
                log.exception("knowledge lookup by category failed", extra={"task_id": rt.task.id})
        if not rt.knowledge and not found:
            return result, []
        attached = (kept + found)[:MAX_ATTACHED]
        gone = {f"knowledge:{k.id}" for k in dropped}
        artifacts = [a for a in result.artifacts if a.name not in gone] + [
            ResultArtifact(name="knowledge", content=attachment_note(category, kept, found, dropped))]
        return result.model_copy(update={"artifacts": artifacts}), attached

    async def _publish_report(self, rt: TaskRuntime) -> None:
        """Send the finished row's report and final snapshot, wait until the broker has both, then record that.

        Two phases because the row and the report go to different topics: a kill after the row's write but
        before the report's would otherwise leave a finished task with no report, and nothing to redo it (a
        redelivered step finds the row finished). Until the row says sent, the sweep asks again; a kill after
        the send but before the mark repeats the report - same id, same content, which consumers keep once."""
        assert rt.report is not None
        key = rt.task.id.encode()
        await _delivered(self.topics["reports"], key, rt.report.to_bytes())
        await _delivered(self.topics["task.state"], key, rt.task.to_bytes())
        await self.store(rt.model_copy(update={"report_pending": False}))

    def _ai_disabled(self) -> bool:
        view = self.budget.view if self.budget is not None else None
        return bool(view is not None and view.ai_disabled)

    # -- slow work, off the partition ----------------------------------------------------------
    def dispatch(self, rt: TaskRuntime, number: int, call: ToolCall) -> None:
        key = (rt.task.id, number)
        if key in self.running and not self.running[key].done():
            return
        left = rt.task.limits.timeout_seconds - (time.time() - rt.started_at)
        caller = rt_logic.tool_caller(rt.task, self.service_role)
        self.running[key] = asyncio.ensure_future(
            self._run_tool(rt.task.id, number, call, rt.task.cluster_id, max(MIN_CALL_SECONDS, left), caller))

    async def _run_tool(self, task_id: str, number: int, call: ToolCall, cluster_id: str, timeout: float,
                        caller: ToolCaller) -> None:
        started = time.time()
        try:
            async with self.sem:
                result = await asyncio.wait_for(self.executor.call(
                    call, task_id=task_id, cluster_id=cluster_id, role=caller.role, actor=caller.actor), timeout)
        except asyncio.TimeoutError:
            result = ToolResult(tool_id=call.tool_id, ok=False, error=f"timed out after {timeout:.1f}s (task time limit)")
        except Exception as exc:  # noqa: BLE001 - a failed call is a failed step, not a lost one
            result = ToolResult(tool_id=call.tool_id, ok=False, error=f"{type(exc).__name__}: {exc}")
        TOOL_CALLS.labels(tool=call.tool_id, result="ok" if result.ok else "error").inc()
        stdout = clip(result.output, STEP_OUTPUT_BYTES)  # the record must fit the broker; the row keeps less
        step = DiagnosticStep(
            id=f"{task_id}:{number}", task_id=task_id, step_number=number, tool_id=call.tool_id,
            input=StepInput(command=call.tool_id, parameters=call.parameters, context=cluster_id),
            output=StepOutput(exit_code=0 if result.ok else 2 if result.rejected else 1, stdout=stdout,
                              stderr=clip(result.error, 16 * 1024), truncated=result.truncated or stdout != result.output,
                              security_event=result.security_event),
            status=StepStatus.COMPLETED if result.ok else StepStatus.FAILED, reasoning=call.reason,
            started_at=datetime.fromtimestamp(started, timezone.utc), completed_at=datetime.now(timezone.utc),
            duration_ms=(time.time() - started) * 1000)
        event = StepEvent(kind="completed", task_id=task_id, step_number=number, step=step)
        try:
            await self.topics["steps"].send(key=task_id.encode(), value=event.to_bytes())
        finally:
            self.running.pop((task_id, number), None)

    def dispatch_turn(self, task_id: str, number: int, conv: Conversation) -> None:
        key = (task_id, number)
        if self.llm is None or (key in self.running and not self.running[key].done()):
            return
        self.running[key] = asyncio.ensure_future(self._run_turn(task_id, number, conv))

    async def _run_turn(self, task_id: str, number: int, conv: Conversation) -> None:
        """One model call; publishes the steps it decided without running, its cost, then its outcome
        (the cost first: a crash before the outcome re-runs the turn under the same cost id)."""
        assert self.llm is not None
        key = task_id.encode()
        try:
            try:
                async with self.llm_sem:
                    result = await self.llm.turn(conv)
                outcome = rt_logic.turn_outcome(conv, result)
            except Exception as exc:  # noqa: BLE001 - turn() catches the endpoint's failures; this is a bug
                log.exception("LLM turn failed", extra={"task_id": task_id})
                outcome = TurnOutcome(number=number, action="error", messages_from=len(conv.messages),
                                      steps_from=len(conv.steps), error=f"{type(exc).__name__}: {exc}")
            turn_step = next((s for s in outcome.steps if s.step_number == number), None) or _failed_turn_step(
                conv, number, outcome.error)
            for step in outcome.steps:
                if step.step_number != number:  # calls answered without running (bad arguments, step limit)
                    await self.topics["steps"].send(key=key, value=StepEvent(
                        kind="completed", task_id=task_id, step_number=step.step_number, step=step).to_bytes())
            if outcome.cost is not None:
                await self.topics["costs"].send(key=key, value=outcome.cost.to_bytes())
            carrier = turn_step.model_copy(update={"output": (turn_step.output or StepOutput()).model_copy(
                update={"stdout": outcome.model_dump_json()})})
            await self.topics["steps"].send(key=key, value=StepEvent(
                kind="completed", task_id=task_id, step_number=number, step=carrier).to_bytes())
        finally:
            self.running.pop((task_id, number), None)

    async def sweep(self) -> None:
        """Resume what a crash or rebalance interrupted; expire tasks past their timeout.

        Work the row says is in flight but no local task runs gets a resume marker on the steps topic
        after a short grace (`on_resume` acts on it); a row with nothing in flight that is not finished
        (a crash between two stores) gets an `advance` command. Both are repeated while still needed."""
        now = time.time()
        waiting: set[tuple[str, int]] = set()
        for task_id, raw in list(self.table.items()):
            if raw and raw.get("finished") and raw.get("report_pending"):
                await self._republish_after_grace(task_id, now, waiting)
                continue
            if not raw or raw.get("finished"):
                continue
            rt = TaskRuntime.model_validate(raw)
            if now - rt.started_at >= rt.task.limits.timeout_seconds:
                cmd = TaskCommand(task_id=task_id, action="timeout", requested_by="sweep")
                await self.topics["task.commands"].send(key=task_id.encode(), value=cmd.to_bytes())
                continue
            work = [s.number for s in rt.in_flight()] + ([rt.llm_turn] if rt.llm_turn is not None else [])
            for number in work or [0]:
                key = (task_id, number)
                if key in self.running:
                    continue
                waiting.add(key)
                if now - self.orphan_seen.setdefault(key, now) < self.resume_grace_seconds:
                    continue
                self.orphan_seen[key] = now  # ask again after another grace if nothing happens
                if number == 0:
                    log.info("re-evaluating a stalled task", extra={"task_id": task_id})
                    cmd = TaskCommand(task_id=task_id, action="advance", requested_by="sweep")
                    await self.topics["task.commands"].send(key=task_id.encode(), value=cmd.to_bytes())
                else:
                    await self.topics["steps"].send(key=task_id.encode(), value=_resume_marker(rt, number).to_bytes())
        for key in [k for k in self.orphan_seen if k not in waiting]:  # resumed or moved on meanwhile
            self.orphan_seen.pop(key, None)

    async def _republish_after_grace(self, task_id: str, now: float, waiting: set[tuple[str, int]]) -> None:
        key = (task_id, -1)  # -1: the report, beside step numbers (0 is "the row itself")
        waiting.add(key)
        if now - self.orphan_seen.setdefault(key, now) < self.resume_grace_seconds:
            return  # the report may be on its way from the handler that finished the row
        self.orphan_seen[key] = now
        cmd = TaskCommand(task_id=task_id, action="republish", requested_by="sweep")
        await self.topics["task.commands"].send(key=task_id.encode(), value=cmd.to_bytes())


async def _delivered(topic: Any, key: bytes, value: bytes) -> None:
    """Send and wait for the broker's acknowledgement (Faust's send returns the delivery future)."""
    pending = await topic.send(key=key, value=value)
    if inspect.isawaitable(pending):
        await pending


def _is_turn(step: DiagnosticStep) -> bool:
    return step.tool_id == "llm" and step.type in (StepType.ANALYSIS, StepType.SUMMARY)


def _tool_result(step: DiagnosticStep) -> ToolResult:
    out = step.output or StepOutput(exit_code=1, stderr="no output")
    return ToolResult(tool_id=step.tool_id, ok=step.status == StepStatus.COMPLETED, output=out.stdout,
                      error=out.stderr, rejected=out.exit_code == 2, truncated=out.truncated,
                      security_event=out.security_event, duration_ms=step.duration_ms)


def _say_why(result: DiagnosticResult, stop: Termination | None) -> DiagnosticResult:
    """A security stop is the headline of its report: whoever reads it must not take it for a diagnosis."""
    if stop is None or stop.reason is not TerminationReason.SECURITY_VIOLATION:
        return result
    return result.model_copy(update={"summary": result.summary.model_copy(update={"problem": stop.note[:500]})})


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


def _resume_marker(rt: TaskRuntime, number: int) -> StepEvent:
    """A request to run step `number` again, from the sweep (status pending tells it from the original)."""
    return StepEvent(kind="requested", task_id=rt.task.id, step_number=number, step=DiagnosticStep(
        id=f"{rt.task.id}:{number}", task_id=rt.task.id, step_number=number,
        type=StepType.ANALYSIS if number == rt.llm_turn else StepType.EXECUTION,
        tool_id="llm" if number == rt.llm_turn else next((s.call.tool_id for s in rt.in_flight() if s.number == number), ""),
        status=StepStatus.PENDING, reasoning="resume: in flight when its worker stopped"))


def _turn_requested(conv: Conversation, number: int) -> StepEvent:
    return StepEvent(kind="requested", task_id=conv.task_id, step_number=number, step=DiagnosticStep(
        id=f"{conv.task_id}:{number}", task_id=conv.task_id, step_number=number, type=StepType.ANALYSIS,
        tool_id="llm", input=StepInput(command="chat.completions",
                                       parameters={"model": conv.model, "tools": conv.tools_enabled},
                                       context=f"{len(conv.messages)} messages"),
        status=StepStatus.RUNNING))


def _failed_turn_step(conv: Conversation, number: int, error: str) -> DiagnosticStep:
    return DiagnosticStep(id=f"{conv.task_id}:{number}", task_id=conv.task_id, step_number=number,
                          type=StepType.ANALYSIS, tool_id="llm", status=StepStatus.FAILED,
                          input=StepInput(command="chat.completions", parameters={"model": conv.model}),
                          output=StepOutput(exit_code=1, stderr=error[:4000]), completed_at=datetime.now(timezone.utc))


def _rule_steps(rt: TaskRuntime) -> list[DiagnosticStep]:
    return [_diagnostic_step(rt.task.id, s) for s in rt.steps]


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
                       engine: Engine, executor: ToolExecutor, *, llm: LLMEngine | None = None,
                       budget: BudgetState | None = None, knowledge_lookup: KnowledgeLookup | None = None,
                       knowledge_for_category: Callable[[DiagnosticTask, str], Awaitable[list[KnowledgeEntry]]]
                       | None = None) -> StepLoop:
    table = app.Table("runtime", default=None, partitions=settings.kafka.partitions)
    loop = StepLoop(topics=topics, table=table, engine=engine, executor=executor, llm=llm, budget=budget,
                    knowledge_lookup=knowledge_lookup, knowledge_for_category=knowledge_for_category,
                    service_role=settings.tasks.service_role, budget_tokens=settings.tasks.budget_tokens)
    loop.write_row = lambda key, value: pipe.emit.put(table, key, value)
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
    async def on_failure(event: faust.EventT, reason: str) -> None:
        """The per-record contract's hook: the failed record's task ends with a report (its key is the task id)."""
        if not event.key:
            return
        admission = None
        if event.message.topic not in (topics["steps"].get_topic_name(), topics["task.commands"].get_topic_name()):
            try:
                admission = DiagnosticTask.from_bytes(event.value)
            except Exception:  # noqa: BLE001 - an admission that does not parse has no task to end
                return
        await loop.fail(bytes(event.key).decode(errors="replace"), reason, admission)

    app.agent(channel, name="aetherius.steploop")(error_boundary("steploop", deadletters, on_record, on_failure))

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
