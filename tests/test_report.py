"""Report rendering: every section present, secrets redacted, JSON round-trips."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from schemas.result import (
    DiagnosticResult, Evidence, ProblemCategory, Recommendation, ResultSummary, RiskLevel, RootCauseAnalysis,
    Severity, TimelineEvent,
)
from schemas.step import DiagnosticStep, StepInput, StepOutput, StepStatus, TokenUsage
from sinks.report import render_json, render_markdown

SECRET = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"


def sample_result(task_id: str = "task-42", cluster_id: str = "prod-eu", **kw) -> DiagnosticResult:
    return DiagnosticResult(
        task_id=task_id, cluster_id=cluster_id,
        summary=ResultSummary(problem="payment-api pods crash-looping", impact="checkout errors for 30% of users",
                              resolution="raise the memory limit", prevention="alert at 90% of the limit"),
        root_cause=RootCauseAnalysis(
            description="container exceeded its 512Mi memory limit", category=ProblemCategory.OOM_KILLED,
            severity=Severity.HIGH,
            evidence=[Evidence(source="pod/payment-api-7d9/status", detail="exitCode=137 reason=OOMKilled"),
                      Evidence(source="pod/payment-api-7d9/logs", detail=f"token={SECRET}", kind="log")],
            timeline=[TimelineEvent(at=datetime(2026, 11, 25, 10, 0, tzinfo=timezone.utc), event="first OOM kill")]),
        recommendations=[
            Recommendation(priority=2, action="Roll back the release", command="kubectl -n pay rollout undo deployment/payment-api",
                           risk=RiskLevel.MEDIUM),
            Recommendation(priority=1, action="Raise the memory limit to 1Gi",
                           command="kubectl -n pay set resources deployment/payment-api --limits=memory=1Gi"),
        ],
        confidence=0.92, token_usage=TokenUsage(model="gpt-4o-mini", prompt_tokens=1200, completion_tokens=300, cost_usd=0.0004),
        steps=[DiagnosticStep(id=f"{task_id}:1", task_id=task_id, step_number=1, tool_id="describe_pod",
                              input=StepInput(command="describe_pod", parameters={"namespace": "pay", "name": "payment-api-7d9"}),
                              output=StepOutput(analysis="OOMKilled, exit 137"), status=StepStatus.COMPLETED)],
        engine="rules", **kw)


def test_markdown_has_every_section_in_order():
    md = render_markdown(sample_result())
    heads = [line for line in md.splitlines() if line.startswith("#")]
    assert heads == ["# [prod-eu] payment-api pods crash-looping", "## Problem", "## Root cause", "### Evidence",
                     "## Impact", "## Timeline", "## Recommendations", "## Resolution", "## Prevention", "## Steps"]
    assert "oom_killed (high): container exceeded its 512Mi memory limit" in md
    assert md.index("Raise the memory limit") < md.index("Roll back the release")  # priority order
    assert "kubectl -n pay set resources deployment/payment-api --limits=memory=1Gi" in md
    assert "confidence** 92%" in md and "$0.0004 (1500 tokens, gpt-4o-mini)" in md
    assert "`describe_pod`(namespace=pay, name=payment-api-7d9) — completed: OOMKilled, exit 137" in md


def test_secrets_never_reach_a_report():
    result = sample_result()
    assert SECRET not in render_markdown(result)
    assert SECRET not in json.dumps(render_json(result))
    assert "[REDACTED" in render_markdown(result)


def test_json_report_keeps_the_result_and_adds_summaries():
    data = render_json(sample_result())
    assert data["report_id"] == "task-42" and data["root_cause"]["category"] == "oom_killed"
    assert data["root_cause_summary"].startswith("oom_killed (high)")
    assert len(data["recommendations"]) == 2


def test_a_result_without_root_cause_renders():
    r = DiagnosticResult(task_id="t", summary=ResultSummary(problem="unknown"), status="failed",
                         termination_reason="budget exhausted")
    md = render_markdown(r)
    assert "Root cause not determined" in md and "_Stopped: budget exhausted_" in md
    assert "$0 (rule engine)" in md


def test_report_names_the_incident_and_the_other_clusters_when_given_the_task():
    from schemas.result import DiagnosticResult, ResultSummary
    from schemas.signal import Priority
    from schemas.task import DiagnosticTask, TaskContext
    from sinks.report import render_markdown

    result = DiagnosticResult(task_id="t1", cluster_id="prod-eu", summary=ResultSummary(problem="payment OOM"))
    member = DiagnosticTask(id="t1", cluster_id="prod-eu", priority=Priority.P0, context=TaskContext(
        alertname="KubePodCrashLooping", incident_id="inc-42", clusters=["prod-eu", "prod-us", "staging"]))
    text = render_markdown(result, task=member.model_dump(mode="json"))
    assert "**Cross-cluster incident** `inc-42`: KubePodCrashLooping also fires in prod-us, staging" in text
    assert "Cross-cluster" not in render_markdown(result)  # without the task's view, nothing is claimed
    alone = member.model_copy(update={"context": TaskContext(alertname="X", clusters=["prod-eu"])})
    assert "Cross-cluster" not in render_markdown(result, task=alone)
