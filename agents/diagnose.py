"""Offline diagnosis: an Alertmanager payload + a cluster dump → a `DiagnosticResult`, without Kafka.

The same engines the workers run, over `LocalExecutor` + `DumpReader` instead of the gateway: the rule
engine first, then - for `--engine llm`, or `auto` when an LLM is configured and SRS §5.9.2 chooses it -
the LLM (`agents.llm.diagnose_auto`) with the rule result as its evidence and its fallback.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from agents.cluster.dump import DumpReader
from agents.cluster.reader import ReaderError
from agents.rules.engine import diagnose_with_rules
from agents.rules.target import TARGET_KIND, Target
from agents.tools.local import LocalExecutor
from schemas.alertmanager import Alert, AlertmanagerPayload
from schemas.result import DiagnosticResult
from schemas.settings import LLMSettings
from schemas.signal import Priority
from schemas.subject import alert_subject
from schemas.task import DiagnosticTask, ResourceInfo, TaskContext, TaskLimits

ENGINES = ("rules", "llm", "auto")


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


def task_from_alert(alert: Alert, target: Target, cluster_id: str, max_steps: int) -> DiagnosticTask:
    labels = dict(alert.labels)
    return DiagnosticTask(
        id=_task_id(alert), alert_id=alert.fingerprint or "", cluster_id=cluster_id, namespace=target.namespace,
        resource=ResourceInfo(kind=target.kind, name=target.name, namespace=target.namespace),
        priority=Priority.P2, limits=TaskLimits(max_steps=max_steps),
        context=TaskContext(alertname=target.alertname, severity=labels.get("severity", "warning"), labels=labels,
                            annotations=dict(alert.annotations)))


async def diagnose_offline(dump_dir: str | Path, payload: AlertmanagerPayload, engine: str = "auto",
                           cluster_id: str = "dump", max_steps: int = 10,
                           llm: LLMSettings | None = None) -> DiagnosticResult:
    """Diagnose the payload's first alert against a dump. Raises ReaderError for an unreadable dump,
    EngineUnavailable for `engine="llm"` without an LLM configured."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    if llm is None:
        from schemas.settings import Settings

        llm = Settings().llm
    if engine == "llm" and not llm.configured:
        raise EngineUnavailable("engine 'llm' needs an LLM: set AETHERIUS_LLM__BASE_URL/AETHERIUS_LLM__API_KEY "
                                "(or OPENAI_BASE_URL/OPENAI_API_KEY), or use --engine rules")
    alert = payload.alerts[0]
    target = target_from_alert(alert)
    reader = _RecordingDumpReader(dump_dir, cluster_id=cluster_id)
    executor = LocalExecutor({cluster_id: reader})
    task = task_from_alert(alert, target, cluster_id, max_steps)

    async def rules(t: DiagnosticTask) -> DiagnosticResult:
        return await diagnose_with_rules(target, executor, task_id=t.id, cluster_id=cluster_id, max_steps=max_steps)

    if engine == "rules" or not llm.configured:
        result = await rules(task)
    else:
        from agents.llm import diagnose_auto

        result = (await diagnose_auto(task, executor, llm=llm, rules=rules, engine=engine)).result  # type: ignore[arg-type]
    if reader.failures:  # offline, a dump file that cannot be read is bad input, not a finding
        raise reader.failures[0]
    return result


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
