"""Deterministic synthetic records for tests, the dashboards' SQL test and the benchmark.

Shaped like real traffic: a task's snapshots (pending -> running -> terminal), its steps, LLM costs, the report,
some feedback and audit events (tool calls allowed/rejected, auth failures, knowledge changes, sheds).
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from typing import Iterator

from schemas.audit import AuditEvent, CostRecord
from schemas.feedback import UserFeedback
from schemas.result import DiagnosticResult, ProblemCategory, ResultSummary, RootCauseAnalysis
from schemas.signal import Priority
from schemas.step import DiagnosticStep, StepEvent, StepOutput, StepStatus, TokenUsage
from schemas.task import DiagnosticTask, ResourceInfo, TaskContext, TaskStatus

CLUSTERS = ("prod-eu", "prod-us", "staging")
NAMESPACES = ("payments", "checkout", "search", "kube-system")
ALERTNAMES = ("KubePodCrashLooping", "KubePodNotReady", "KubeContainerOOMKilled", "KubePersistentVolumeFillingUp",
              "KubeDeploymentReplicasMismatch")
MODELS = ("gpt-4o-mini", "gpt-4o")
TOOLS = ("get_pod", "describe_pod", "pod_logs", "list_events", "get_workload")
CATEGORIES = tuple(ProblemCategory)


def records(n_tasks: int, *, now: datetime | None = None, days: float = 7.0, seed: int = 7, steps: int = 2,
            costs: int = 1, extras: bool = True) -> Iterator[tuple[str, object]]:
    """(topic, model) pairs for `n_tasks` tasks spread over the `days` before `now`."""
    rnd = random.Random(seed)
    now = now or datetime.now(timezone.utc)
    span = days * 86400.0
    for i in range(n_tasks):
        created = now - timedelta(seconds=rnd.random() * span)
        cluster, ns = rnd.choice(CLUSTERS), rnd.choice(NAMESPACES)
        priority = rnd.choice(tuple(Priority))
        task_id = f"task-{seed}-{i}"
        duration = rnd.uniform(3, 300)
        started = created + timedelta(seconds=rnd.uniform(0.1, 20))
        done = started + timedelta(seconds=duration)
        status = rnd.choices((TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.TIMEOUT), (90, 7, 3))[0]
        base = DiagnosticTask(
            id=task_id, alert_id=f"fp{i}", cluster_id=cluster, namespace=ns, priority=priority, created_at=created,
            resource=ResourceInfo(kind="Pod", name=f"pod-{i % 97}", namespace=ns),
            context=TaskContext(alertname=rnd.choice(ALERTNAMES), severity="critical" if priority.rank < 2 else "warning"),
        )
        yield "task.state", base
        if extras:
            yield "task.state", base.model_copy(update={"status": TaskStatus.RUNNING, "started_at": started})
        yield "task.state", base.model_copy(update={"status": status, "started_at": started, "completed_at": done})
        model = rnd.choice(MODELS)
        step_list = []
        for s in range(1, steps + 1):
            s_start = started + timedelta(seconds=(s - 1) * duration / steps)
            usage = TokenUsage(model=model, prompt_tokens=rnd.randint(200, 3000), completion_tokens=rnd.randint(20, 400),
                               cost_usd=round(rnd.uniform(0.0001, 0.02), 6))
            step = DiagnosticStep(id=f"{task_id}:{s}", task_id=task_id, step_number=s, tool_id=rnd.choice(TOOLS),
                                  status=StepStatus.COMPLETED, started_at=s_start,
                                  completed_at=s_start + timedelta(seconds=duration / steps),
                                  duration_ms=duration / steps * 1000, output=StepOutput(exit_code=0),
                                  token_usage=usage)
            step_list.append(step)
            yield "steps", StepEvent(kind="completed", task_id=task_id, step_number=s, step=step, emitted_at=s_start)
        for c in range(1, costs + 1):
            yield "costs", CostRecord(id=f"{task_id}:{c}:1", task_id=task_id, cluster_id=cluster, priority=priority.value,
                                      model=model, prompt_tokens=rnd.randint(200, 3000),
                                      completion_tokens=rnd.randint(20, 400), cost_usd=round(rnd.uniform(0.0005, 0.05), 6),
                                      at=started + timedelta(seconds=c))
        if not extras:
            continue
        category = rnd.choice(CATEGORIES)
        yield "reports", DiagnosticResult(
            task_id=task_id, cluster_id=cluster, summary=ResultSummary(problem=f"{category.value} in {ns}"),
            root_cause=RootCauseAnalysis(description="synthetic", category=category),
            confidence=round(rnd.uniform(0.3, 0.99), 2), engine=rnd.choice(("rules", "llm", "knowledge")),
            token_usage=TokenUsage(model=model, prompt_tokens=1000, completion_tokens=100, cost_usd=0.01),
            steps=step_list, generated_at=done, status=status.value)
        if rnd.random() < 0.3:
            yield "feedback", UserFeedback(id=f"{task_id}:u{i % 5}", task_id=task_id, user_id=f"u{i % 5}",
                                           rating=rnd.randint(1, 5), timestamp=done + timedelta(minutes=5))
        yield "audit", AuditEvent(id=f"a-{task_id}", at=started, actor="gateway", action="tool.call",
                                  resource=f"tool/{rnd.choice(TOOLS)}", cluster_id=cluster,
                                  result="rejected" if rnd.random() < 0.05 else "allowed")
        if rnd.random() < 0.05:
            yield "audit", AuditEvent(id=f"auth-{task_id}", at=created, actor="anonymous", action="api.auth",
                                      result="rejected", reason="invalid API key", source_ip="10.0.0.9")
        if rnd.random() < 0.1:
            yield "audit", AuditEvent(id=f"kb-{task_id}", at=done, actor="feedback", action="knowledge.confidence",
                                      resource="knowledge/rb-oom", details={"entry_id": "rb-oom", "version": i,
                                      "confidence_before": 0.6, "confidence_after": 0.7, "enabled": True})
        if rnd.random() < 0.05:
            yield "audit", AuditEvent(id=f"shed-{task_id}", at=created, action="task.shed", resource=f"task/{task_id}-x",
                                      cluster_id=cluster, result="rejected", reason="shed: queue depth 101",
                                      details={"priority": "P3"})
