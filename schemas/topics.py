"""The topic catalogue: every topic Aetherius uses, in one place.

Names are `<prefix>.<name>`; tests use a unique prefix so runs never see each other's records.
Keys are chosen so that everything one decision needs lands on one partition.
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas.signal import Priority

DAY_MS = 24 * 3600 * 1000


@dataclass(frozen=True)
class TopicSpec:
    name: str
    key: str
    cleanup_policy: str = "delete"
    retention_ms: int = 7 * DAY_MS
    partitions: int | None = None  # None: the configured default
    doc: str = ""


CATALOGUE: tuple[TopicSpec, ...] = (
    TopicSpec("alerts.raw", "fingerprint", doc="one record per accepted Alertmanager alert"),
    TopicSpec("k8s.events", "cluster/namespace/kind/name", doc="Kubernetes Warning events from the watchers"),
    TopicSpec("signals", "fingerprint", doc="normalized, deduplicated, prioritised signals"),
    TopicSpec("incidents", "alertname", doc="the same alert firing in several clusters"),
    *(TopicSpec(f"tasks.{p.value.lower()}", "task_id", doc=f"new {p.value} diagnostic tasks") for p in Priority),
    # One partition on purpose: the scheduler's limits are global, so one consumer must see every command.
    TopicSpec("task.queue", "task_id", partitions=1, doc="scheduler commands: enqueue, finish, cancel, resolve"),
    TopicSpec("task.commands", "task_id", doc="cancel and other requests from the API, for running tasks"),
    TopicSpec("task.state", "task_id", doc="a DiagnosticTask snapshot at every status change"),
    TopicSpec("task.annotations", "task_id",
              doc="what a task learns after creation (it joined a cross-cluster incident), for the task view"),
    TopicSpec("steps", "task_id", doc="step loop events: requested / completed (tool calls and LLM turns)"),
    TopicSpec("reports", "task_id", retention_ms=30 * DAY_MS, doc="final DiagnosticResult per task"),
    TopicSpec("feedback", "task_id", retention_ms=365 * DAY_MS, doc="user ratings of reports"),
    # One partition on purpose: the day and month budgets are global, so one consumer (the budget
    # owner) must see every cost to book it exactly once and judge the thresholds.
    TopicSpec("costs", "task_id", retention_ms=30 * DAY_MS, partitions=1, doc="one record per LLM call"),
    TopicSpec("budget", "decision id", retention_ms=365 * DAY_MS, partitions=1,
              doc="budget decisions (80/95/100%), degradation level changes, and ticks for the budget owner"),
    # Compacted, one partition: the newest record per person is the suspension list every API process
    # reads from the beginning at start and then follows (streams/suspensions.py).
    TopicSpec("security.suspensions", "subject", cleanup_policy="compact", retention_ms=365 * DAY_MS, partitions=1,
              doc="people refused by every API after a security event in their diagnosis (SRS §5.8.5)"),
    TopicSpec("audit", "event id", retention_ms=30 * DAY_MS, doc="who did what; also lands in ClickHouse"),
    TopicSpec("deadletter", "source key", retention_ms=30 * DAY_MS, doc="records that could not be processed, with why"),
)

_BY_NAME = {spec.name: spec for spec in CATALOGUE}


def spec(name: str) -> TopicSpec:
    return _BY_NAME[name]


def topic_name(prefix: str, name: str) -> str:
    if name not in _BY_NAME:
        raise KeyError(f"unknown topic {name!r}; the catalogue has {sorted(_BY_NAME)}")
    return f"{prefix}.{name}"


def task_topic(priority: Priority) -> str:
    return f"tasks.{priority.value.lower()}"
