"""Diagnosis without Kafka: an Alertmanager payload + a cluster dump (or any ClusterReader) → a `DiagnosticResult`.

Not a second engine: the worker's `StepLoop` runs in memory (agents/inmemory.py) and every tool call goes
through the same MCP gateway as in a worker (safety checks, redaction, output caps, timeouts, audit records),
here over a `DumpReader`. So the strategy (SRS §5.9.2), the budgets, the termination reasons and the report are
the worker's. `engine` narrows the strategy: "rules" never calls a model, "llm" always continues with one.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Literal, cast

from agents.cluster.dump import DumpReader
from agents.cluster.reader import ClusterReader, ReaderError
from agents.engine import RulesEngine, build_llm_engine
from agents.gateway.inprocess import in_process_executor
from agents.inmemory import InMemoryRun, MemoryTopics, run_task
from agents.rules.target import TARGET_KIND, Target
from agents.steploop import StepLoop
from agents.tools.registry import load_registry
from schemas.alertmanager import Alert, AlertmanagerPayload
from schemas.result import DiagnosticResult
from schemas.settings import Settings, load_settings
from schemas.signal import Priority
from schemas.subject import alert_subject
from schemas.task import DiagnosticTask, ResourceInfo, TaskContext, TaskLimits

EngineChoice = Literal["rules", "llm", "auto"]
ENGINES: tuple[EngineChoice, ...] = ("rules", "llm", "auto")


class EngineUnavailable(RuntimeError):
    """The requested engine cannot run here (e.g. --engine llm with no LLM configured)."""


def target_from_alert(alert: Alert) -> Target:
    """The alert's subject (schemas/subject.py: its rule labels, never the scrape target's) as a Target."""
    labels = alert.labels
    subject = alert_subject(labels)
    kind = TARGET_KIND.get(subject.kind, "namespace")
    return Target(kind=kind, name=subject.name if kind != "namespace" else "", namespace=subject.namespace or "default",
                  container=subject.container, alertname=labels.get("alertname", ""), labels=dict(labels))


def _task_id(alert: Alert) -> str:
    seed = alert.fingerprint or "|".join(f"{k}={v}" for k, v in sorted(alert.labels.items()))
    started = alert.startsAt.isoformat() if alert.startsAt else ""
    return "offline-" + uuid.uuid5(uuid.NAMESPACE_URL, f"{seed}|{started}").hex[:16]


def task_from_alert(alert: Alert, target: Target, cluster_id: str, limits: TaskLimits) -> DiagnosticTask:
    labels = dict(alert.labels)
    return DiagnosticTask(
        id=_task_id(alert), alert_id=alert.fingerprint or "", cluster_id=cluster_id, namespace=target.namespace,
        resource=ResourceInfo(kind=target.kind, name=target.name, namespace=target.namespace),
        priority=Priority.P2, limits=limits,
        context=TaskContext(alertname=target.alertname, severity=labels.get("severity", "warning"), labels=labels,
                            annotations=dict(alert.annotations)))


async def diagnose_offline(dump_dir: str | Path, payload: AlertmanagerPayload, engine: str = "auto",
                           cluster_id: str = "dump", max_steps: int = 10,
                           settings: Settings | None = None) -> DiagnosticResult:
    """Diagnose the payload's first alert against a dump, through the worker's own step loop in memory.

    Raises ReaderError for an unreadable dump, EngineUnavailable for `engine="llm"` without an LLM."""
    return (await diagnose_offline_run(dump_dir, payload, engine=engine, cluster_id=cluster_id, max_steps=max_steps,
                                       settings=settings)).report


async def diagnose_offline_run(dump_dir: str | Path, payload: AlertmanagerPayload, engine: str = "auto",
                               cluster_id: str = "dump", max_steps: int = 10,
                               settings: Settings | None = None) -> InMemoryRun:
    """`diagnose_offline` with everything the loop published (steps with their outputs, costs, audit)."""
    reader = _RecordingDumpReader(dump_dir, cluster_id=cluster_id)
    run = await diagnose_run(reader, payload, engine=engine, max_steps=max_steps, settings=settings)
    if reader.failures:  # offline, a dump file that cannot be read is bad input, not a finding
        raise reader.failures[0]
    return run


async def diagnose_run(reader: ClusterReader, payload: AlertmanagerPayload, engine: str = "auto",
                       max_steps: int = 10, settings: Settings | None = None) -> InMemoryRun:
    """Diagnose the payload's first alert on any ClusterReader (a dump, or a live cluster's LiveReader) through
    the worker's step loop in memory; the task's cluster is `reader.cluster_id`. The reader is not closed."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    settings = settings or load_settings()
    if engine == "llm" and not settings.llm.configured:
        raise EngineUnavailable("engine 'llm' needs an LLM: set AETHERIUS_LLM__BASE_URL/AETHERIUS_LLM__API_KEY "
                                "(or OPENAI_BASE_URL/OPENAI_API_KEY), or use --engine rules")
    alert = payload.alerts[0]
    target = target_from_alert(alert)
    cluster_id = reader.cluster_id
    topics = MemoryTopics()
    registry = load_registry(settings.gateway.registry_file)
    executor = in_process_executor({cluster_id: reader}, settings=settings.gateway, registry=registry,
                                   audit_sink=topics.audit_sink())
    limits = TaskLimits(max_steps=max_steps, timeout_seconds=settings.tasks.timeout_seconds,
                        budget_usd=settings.tasks.budget_usd, budget_tokens=settings.tasks.budget_tokens)
    task = task_from_alert(alert, target, cluster_id, limits)
    loop = StepLoop(topics=topics, table={}, engine=RulesEngine(), executor=executor,
                    llm=build_llm_engine(settings, registry) if engine != "rules" else None,
                    service_role=settings.tasks.service_role, engine_choice=cast(EngineChoice, engine))
    try:
        return await run_task(loop, topics, task)
    finally:
        await executor.aclose()


class _RecordingDumpReader(DumpReader):
    """Remembers every ReaderError (the executor turns them into failed steps; the CLI must report them)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.failures: list[ReaderError] = []

    def _load(self, path, kind):  # type: ignore[no-untyped-def]
        try:
            return super()._load(path, kind)
        except ReaderError as exc:
            self.failures.append(exc)
            raise
