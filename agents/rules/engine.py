"""The rule engine's loop driver: plan → execute (≤ 3 calls in parallel) → plan, until done or out of steps.

The only I/O in the rule engine is here: calls go through a `ToolExecutor` (the gateway in production,
`LocalExecutor` offline), every call becomes a `DiagnosticStep`, and the pure analyzer writes the result.
"""

from __future__ import annotations

import asyncio
import json
import time

from agents.rules.analyzer import RuleAnalysis, analyze
from agents.rules.observations import Observations
from agents.rules.planner import next_calls
from agents.rules.target import Target
from agents.tools.types import ToolCall, ToolExecutor, ToolResult
from schemas.base import utcnow
from schemas.result import DiagnosticResult, ProblemCategory, ResultSummary, RootCauseAnalysis
from schemas.step import DiagnosticStep, StepInput, StepOutput, StepStatus, StepType

PARALLEL_CALLS = 3
CONFIDENT = 0.85  # SRS §5.9.4: a root cause this sure ends the loop


def parse_output(result: ToolResult) -> tuple[dict | None, str]:
    """A tool result as (parsed output, error); a truncated or non-JSON answer counts as an error."""
    if not result.ok:
        return None, result.error or "tool failed"
    try:
        data = json.loads(result.output)
    except json.JSONDecodeError:
        return None, "tool output is not JSON" + (" (truncated)" if result.truncated else "")
    return (data, "") if isinstance(data, dict) else (None, "tool output is not a JSON object")


async def diagnose_with_rules(target: Target, executor: ToolExecutor, task_id: str, cluster_id: str,
                              max_steps: int = 10) -> DiagnosticResult:
    obs = Observations()
    steps: list[DiagnosticStep] = []
    reason = "analysis_complete"
    while True:
        planned = next_calls(target, obs)
        if not planned:
            break
        room = max_steps - len(steps)
        if room <= 0:
            reason = "max_steps"
            break
        batch = planned[:min(PARALLEL_CALLS, room)]
        first = len(steps) + 1
        results = await asyncio.gather(*(_run(executor, c, task_id, cluster_id, first + i) for i, c in enumerate(batch)))
        for c, (step, data, error) in zip(batch, results):
            obs.record(c, data, error)
            steps.append(step)
    analysis = analyze(target, obs)
    return build_result(target, analysis, steps, task_id, cluster_id, reason)


async def _run(executor: ToolExecutor, c: ToolCall, task_id: str, cluster_id: str,
               number: int) -> tuple[DiagnosticStep, dict | None, str]:
    started_at, t0 = utcnow(), time.perf_counter()
    try:
        result = await executor.call(c, task_id=task_id, cluster_id=cluster_id, role="sre")
    except Exception as exc:  # an executor bug must cost one step, not the diagnosis
        result = ToolResult(tool_id=c.tool_id, ok=False, error=f"{type(exc).__name__}: {exc}")
    data, error = parse_output(result)
    step = DiagnosticStep(
        id=f"{task_id}:{number}", task_id=task_id, step_number=number, type=StepType.EXECUTION, tool_id=c.tool_id,
        input=StepInput(command=c.tool_id, parameters=c.parameters, context=c.reason),
        output=StepOutput(exit_code=0 if data is not None else 1, stdout=result.output if data is not None else "",
                          stderr=error, truncated=result.truncated),
        status=StepStatus.COMPLETED if data is not None else StepStatus.FAILED,
        started_at=started_at, completed_at=utcnow(), duration_ms=round((time.perf_counter() - t0) * 1000, 3),
        reasoning=c.reason)
    return step, data, error


def build_result(target: Target, analysis: RuleAnalysis, steps: list[DiagnosticStep], task_id: str,
                 cluster_id: str, reason: str) -> DiagnosticResult:
    if analysis.confidence >= CONFIDENT and reason == "analysis_complete":
        reason = "confidence_reached"
    evidence_text = "; ".join(analysis.also_observed)
    first_fix = analysis.recommendations[0] if analysis.recommendations else None
    return DiagnosticResult(
        task_id=task_id, cluster_id=cluster_id, engine="rules", termination_reason=reason,
        status="completed", confidence=analysis.confidence, steps=steps,
        summary=ResultSummary(problem=f"{target.alertname + ': ' if target.alertname else ''}{analysis.description}",
                              impact=analysis.impact,
                              resolution=(f"{first_fix.action}: {first_fix.command}" if first_fix and first_fix.command
                                          else first_fix.action if first_fix else ""),
                              prevention=_prevention(analysis.category)),
        root_cause=RootCauseAnalysis(description=analysis.description + (f" Also observed: {evidence_text}" if evidence_text else ""),
                                     category=analysis.category, severity=analysis.severity,
                                     evidence=analysis.evidence, timeline=analysis.timeline),
        recommendations=analysis.recommendations,
    )


_PREVENTION: dict[ProblemCategory, str] = {
    ProblemCategory.OOM_KILLED: "Size memory limits from observed peaks plus headroom; alert on usage near the limit.",
    ProblemCategory.APPLICATION_CRASH: "Gate releases on canaries and keep rollback one command away.",
    ProblemCategory.MISSING_CONFIG: "Ship config with the workload (same chart/kustomization) and validate it in CI.",
    ProblemCategory.IMAGE_PULL_FAILURE: "Pin images by digest that CI has pushed; check pull secrets in CI.",
    ProblemCategory.INVALID_COMMAND: "Test the container's entrypoint in CI on the nodes' architecture.",
    ProblemCategory.SECURITY_CONTEXT_VIOLATION: "Lint manifests against the namespace's Pod Security level in CI.",
    ProblemCategory.INSUFFICIENT_RESOURCES: "Right-size requests and keep cluster autoscaling headroom.",
    ProblemCategory.SCHEDULING_CONSTRAINT: "Keep node labels/taints and workload selectors in one reviewed place.",
    ProblemCategory.QUOTA_EXCEEDED: "Alert on quota usage above 80% before it blocks rollouts.",
    ProblemCategory.VOLUME_MOUNT_FAILURE: "Use existing storage classes and watch claims stuck Pending.",
    ProblemCategory.NODE_NOT_READY: "Run workloads with replicas spread across nodes and PodDisruptionBudgets.",
    ProblemCategory.NODE_PRESSURE_EVICTION: "Set requests close to real usage; alert on node pressure conditions.",
    ProblemCategory.LIVENESS_PROBE_FAILURE: "Make liveness probes cheap and tolerant; use startup probes for slow starts.",
    ProblemCategory.READINESS_PROBE_FAILURE: "Keep readiness checks fast and independent of optional dependencies.",
    ProblemCategory.SERVICE_SELECTOR_MISMATCH: "Template service selectors and pod labels from one value.",
    ProblemCategory.DEPENDENCY_FAILURE: "Retry dependencies with backoff instead of crashing; alert on the dependency.",
    ProblemCategory.DNS_FAILURE: "Monitor cluster DNS; use fully qualified service names.",
    ProblemCategory.AUTOSCALER_AT_MAX: "Alert before the HPA reaches maxReplicas; review the ceiling with load tests.",
    ProblemCategory.ADMISSION_WEBHOOK_FAILURE: "Run webhooks highly available; scope them with namespace selectors.",
    ProblemCategory.UNKNOWN: "",
}


def _prevention(category: ProblemCategory) -> str:
    return _PREVENTION.get(category, "")
