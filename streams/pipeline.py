"""The alert pipeline as Faust agents: signals (normalize + dedup) -> correlation + task creation ->
scheduler -> task view. The decisions are the pure functions of streams.*; this module is wiring.

    alerts.raw [fingerprint] + k8s.events [object]  --signals agent (dedup table)-->  signals [alertname]
    signals  --correlate agent (correlation table)-->  incidents, task.queue
    task.queue (1 partition)  --scheduler agent (scheduler table, a row per task)-->  tasks.p0..p3, task.state, audit
    task.state + task.annotations [task_id]  --task view agent (tasks table)-->  the Task API

Every agent runs its records through streams.boundary (the one per-record error contract): a record that
cannot be parsed or processed goes to the dead-letter topic with the reason and the agent carries on; a
record the broker could not take yet is tried again. The agents' forwards and table writes go through
streams.emit: Faust's producer, without the per-record cost of `topic.send` and `table[key] = value`.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable

import faust
from faust.types import TP
from prometheus_client import Counter, Gauge

from aetherius.metrics import REGISTRY
from schemas.alertmanager import RawAlert
from schemas.audit import AuditEvent
from schemas.kube import KubeEvent
from schemas.settings import Settings
from schemas.signal import CorrelatedIncident, Priority, Signal
from schemas.result import DiagnosticResult
from schemas.task import (DiagnosticTask, IncidentMembership, ResourceInfo, SchedulerCommand, TaskCommand, TaskContext,
                          TaskLimits,
                          TaskStatus, TaskStatusChange)
from streams import correlation, dedup, scheduling
from streams.app import Topics
from streams.boundary import error_boundary
from streams.emit import Emitter
from streams.normalize import ClusterPolicy, from_alert, from_kube_event
from streams.priority import PriorityInputs, PriorityRules, assign_priority, bumps, business_impact
from streams.scheduler_store import SchedulerStore
from streams.task_state import can_transition

log = logging.getLogger(__name__)

SIGNALS = Counter("aetherius_signals_total", "Signals by dedup decision", ["source", "decision"], registry=REGISTRY)
TASKS = Counter("aetherius_tasks_total", "Task status changes", ["status", "priority", "cluster"], registry=REGISTRY)
QUEUE_DEPTH = Gauge("aetherius_queue_depth", "Tasks waiting for a running slot", registry=REGISTRY)
RUNNING = Gauge("aetherius_tasks_running", "Tasks holding a running slot", registry=REGISTRY)
SHED = Counter("aetherius_tasks_shed_total", "Tasks shed because the queue was over its limit", ["priority"],
               registry=REGISTRY)
INCIDENTS = Counter("aetherius_incidents_total", "Cross-cluster incidents detected", registry=REGISTRY)
ILLEGAL = Counter("aetherius_task_transitions_refused_total", "Illegal task state transitions refused",
                  registry=REGISTRY)
RECONCILED = Counter("aetherius_slots_reconciled_total",
                     "Running slots without progress: admission re-sent, task asked to stop, slot released",
                     ["action"], registry=REGISTRY)
CONFIG_WARNINGS = Counter("aetherius_config_warnings_total", "Signals that needed a default (cluster/namespace)",
                          ["kind"], registry=REGISTRY)

RATE_TICK_SECONDS = 5.0  # how late a task may start after its rate window opens or a limit is raised
TASK_NS = uuid.UUID("6f1d7a2e-4c1b-4f59-9a53-0d3b8b5e1a77")


def epoch(dt: datetime) -> float:
    return (dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)).timestamp()


def correlation_key(signal: Signal) -> str:
    """"The same alert in several clusters": same alertname, namespace and resource, whatever the cluster.
    (Two different pods crash-looping in one cluster are two alerts, not one alert seen twice.) The signals
    topic is keyed by alertname, so every cluster's copy of an alert reaches the same partition."""
    return "|".join((signal.alertname, signal.namespace, signal.resource_kind, signal.resource_name))


def task_id_for(fingerprint: str, window_start: float) -> str:
    """Deterministic: a redelivered signal creates the same task id, which the scheduler recognises."""
    return str(uuid.uuid5(TASK_NS, f"{fingerprint}:{window_start:.3f}"))


@dataclass
class Pipeline:
    app: faust.App
    topics: Topics
    settings: Settings
    dedup_table: Any
    correlation_table: Any
    scheduler: SchedulerStore
    tasks_table: Any
    limits: scheduling.Limits
    clusters: ClusterPolicy  # replaced when the cluster registry file changes
    emit: Emitter  # the agents' forwards and table writes (streams.emit says why)
    # What extensions hand each other (e.g. the knowledge base the worker's HTTP routes serve).
    extras: dict[str, Any] = field(default_factory=dict)
    # task id -> IncidentMembership: incidents tasks joined after creation (kept to merge into later snapshots).
    memberships_table: Any = None

    def task(self, task_id: str) -> DiagnosticTask | None:
        raw = self.tasks_table.get(task_id)
        return DiagnosticTask.model_validate(raw) if raw else None


def _limits(settings: Settings, clusters: dict[str, Any] | None = None) -> scheduling.Limits:
    p = settings.pipeline
    clusters = clusters or {}
    return scheduling.Limits(
        per_priority=dict(p.running_limits), per_cluster=p.per_cluster_limit, total=p.total_limit,
        queue_limit=p.queue_limit,
        cluster_limits={cid: c.access_control.max_concurrent_tasks for cid, c in clusters.items()},
        cluster_rates={cid: c.access_control.rate_limit for cid, c in clusters.items()})


def _from_registry(settings: Settings, clusters: dict[str, Any]) -> tuple[ClusterPolicy, scheduling.Limits]:
    """Known clusters, their concurrency and rate limits from the registry (disabled clusters are unknown)."""
    enabled = {cid: c for cid, c in clusters.items() if c.enabled}
    policy = ClusterPolicy(default_cluster=settings.pipeline.default_cluster, known=frozenset(enabled))
    return policy, _limits(settings, enabled)


def build_pipeline(app: faust.App, topics: Topics, settings: Settings) -> Pipeline:
    p = settings.pipeline
    registry = None
    if settings.clusters_file is not None:
        from agents.clusters.registry import ClusterRegistry

        registry = ClusterRegistry.load(settings.clusters_file)  # a bad file at start-up stops the worker
        policy, limits = _from_registry(settings, registry.clusters)
    else:  # no registry: every named cluster is accepted, one limit for all
        policy, limits = ClusterPolicy(default_cluster=p.default_cluster), _limits(settings)
    rules = PriorityRules(frequency_threshold=p.frequency_bump_per_hour,
                          system_namespaces=frozenset(p.system_namespaces),
                          cross_cluster_threshold=p.correlation_min_clusters)
    n = settings.kafka.partitions
    emit = Emitter(app)
    pipe = Pipeline(
        app=app, topics=topics, settings=settings,
        dedup_table=app.Table("dedup", default=None, partitions=n),
        correlation_table=app.Table("correlation", default=None, partitions=n),
        scheduler=SchedulerStore(app.Table("scheduler", default=None, partitions=1), emit),
        tasks_table=app.Table("tasks", default=None, partitions=n),
        memberships_table=app.Table("incident_members", default=None, partitions=n),
        limits=limits,
        clusters=policy,
        emit=emit,
    )
    deadletters = topics["deadletter"]

    audit = topics.audit_sink()

    # -- 1. normalize + dedup -------------------------------------------------------------------
    async def on_input(event: faust.EventT) -> None:
        if event.message.topic == topics["k8s.events"].get_topic_name():
            signal = from_kube_event(KubeEvent.from_bytes(event.value), pipe.clusters)
        else:
            signal = from_alert(RawAlert.from_bytes(event.value), pipe.clusters)
        now = epoch(signal.last_seen)
        state_raw = pipe.dedup_table.get(signal.fingerprint)
        state = dedup.DedupState.model_validate(state_raw) if state_raw else None
        new_state, decision = dedup.observe(state, now=now, status=signal.status,
                                            window_seconds=p.dedup_window_seconds)
        if new_state is not None:
            await emit.put(pipe.dedup_table, signal.fingerprint, new_state.model_dump())  # a new value, never in place
        SIGNALS.labels(source=signal.source, decision=decision.value).inc()
        if decision in (dedup.DedupDecision.DUPLICATE, dedup.DedupDecision.STALE_RESOLVE):
            return
        assert new_state is not None
        signal = signal.model_copy(update={
            "historical_frequency": new_state.frequency_per_hour(now),
            "first_seen": datetime.fromtimestamp(new_state.window_start, timezone.utc)
            if decision == dedup.DedupDecision.NEW else signal.first_seen,
        })
        if signal.cluster_defaulted or signal.namespace_defaulted:
            await _config_warning(signal, audit)
        await emit.send(topics["signals"], signal.alertname.encode(), signal.to_bytes())

    # -- 2. correlation + task creation -----------------------------------------------------------
    async def on_signal(event: faust.EventT) -> None:
        signal = Signal.from_bytes(event.value)
        now = epoch(signal.last_seen)
        key = correlation_key(signal)
        state_raw = pipe.correlation_table.get(key)
        state = correlation.CorrelationState.model_validate(state_raw) if state_raw else None
        if signal.status == "resolved":
            new_state = correlation.observe_resolved(state, now=now, cluster_id=signal.cluster_id,
                                                     fingerprint=signal.fingerprint,
                                                     window_seconds=p.correlation_window_seconds)
            if new_state is not None:
                await emit.put(pipe.correlation_table, key, new_state.model_dump())
            cmd = SchedulerCommand(action="resolve", fingerprint=signal.fingerprint, reason="alert resolved")
            await emit.send(topics["task.queue"], signal.fingerprint.encode(), cmd.to_bytes())
            return
        own_task_id = task_id_for(signal.fingerprint, epoch(signal.first_seen))
        new_state, decision = correlation.observe_firing(
            state, now=now, cluster_id=signal.cluster_id, fingerprint=signal.fingerprint,
            window_seconds=p.correlation_window_seconds, min_clusters=p.correlation_min_clusters,
            task_id=own_task_id)
        await emit.put(pipe.correlation_table, key, new_state.model_dump())
        impact = business_impact(p.business_impact, signal.namespace,
                                 signal.labels.get("service") or signal.labels.get("app", ""),
                                 p.default_business_impact)
        inputs = PriorityInputs(severity=signal.severity, impact=impact,
                                frequency_per_hour=signal.historical_frequency, namespace=signal.namespace,
                                clusters_firing=decision.clusters_firing)
        priority = assign_priority(inputs, rules)
        signal = signal.model_copy(update={"priority": priority})
        meta = {"business_impact": impact, "bumps": bumps(inputs, rules)}
        if decision.covered_by:
            return  # an open incident's cross-cluster task already diagnoses this alert
        if decision.new_incident_id:
            members = new_state.members
            incident = CorrelatedIncident(
                incident_id=decision.new_incident_id, alertname=signal.alertname,
                clusters=sorted(members), member_fingerprints=[m.fingerprint for m in members.values()],
                window_start=datetime.fromtimestamp(min(m.last_seen for m in members.values()), timezone.utc))
            INCIDENTS.inc()
            await emit.send(topics["incidents"], signal.alertname.encode(), incident.to_bytes())
            # The earlier members' tasks were created before the incident existed: they join it now.
            for note in correlation.memberships(incident.incident_id, incident.clusters, decision.joined):
                await emit.send(topics["task.annotations"], note.task_id.encode(), note.to_bytes())
            task = _new_task(str(uuid.uuid5(TASK_NS, f"incident:{incident.incident_id}")), signal, priority,
                             settings, meta, incident=incident)
        else:
            task = _new_task(own_task_id, signal, priority, settings, meta)
        cmd = SchedulerCommand(action="enqueue", task=task)
        await emit.send(topics["task.queue"], task.id.encode(), cmd.to_bytes())

    # -- 3. scheduler: limits, queue order, shedding ------------------------------------------------
    async def on_command(event: faust.EventT) -> None:
        cmd = SchedulerCommand.from_bytes(event.value)
        try:
            await _apply(cmd, pipe.scheduler.state())
        except BaseException:
            pipe.scheduler.invalidate()  # the in-memory state may be half-changed: rebuild it from the rows
            raise

    async def _apply(cmd: SchedulerCommand, sched: scheduling.Scheduler) -> None:
        store = pipe.scheduler
        now = epoch(cmd.at)
        new_task: DiagnosticTask | None = None
        shed: list[scheduling.QueuedTask] = []
        if cmd.action == "enqueue":
            assert cmd.task is not None, "enqueue without a task"
            task = cmd.task
            entry, shed = sched.enqueue(scheduling.QueuedTask(
                task_id=task.id, priority=task.priority, cluster_id=task.cluster_id,
                fingerprints=task.context.signal_fingerprints, enqueued_at=epoch(task.created_at),
                timeout_seconds=task.limits.timeout_seconds), pipe.limits)
            if entry is not None:
                new_task = task
        elif cmd.action == "finish":
            sched.finish(cmd.task_id)
            if cmd.task_id not in sched.ended:
                sched.end(cmd.task_id, now)
                await store.ended(cmd.task_id, now)
        elif cmd.action == "started":
            started = sched.start(cmd.task_id)
            if started is not None:
                await store.running(started)  # confirmed: the row drops the body
        elif cmd.action in ("cancel", "resolve"):
            removed = sched.cancel_pending(task_id=cmd.task_id or None, fingerprint=cmd.fingerprint or None)
            for queued in removed:
                sched.end(queued.task_id, now)
                await store.ended(queued.task_id, now)
                reason = cmd.reason or cmd.action
                if cmd.action == "cancel":
                    reason = f"{reason} ({cmd.requested_by}, before it started)"
                await _end(queued, TaskStatus.CANCELLED, reason,
                           "manual_stop" if cmd.action == "cancel" else "alert_resolved", cmd.requested_by)
        await _reconcile(sched, now)
        admitted = sched.admit(pipe.limits, now=now)
        if new_task is not None and new_task.id in sched.queued:  # it waits: keep its body for admission
            await store.queued(sched.queued[new_task.id], new_task.model_dump(mode="json"))
        QUEUE_DEPTH.set(len(sched.queue))
        RUNNING.set(len(sched.running))
        if new_task is not None:  # the new task's snapshot first, so the view knows it before any later change
            snapshot = new_task
            if any(victim.task_id == new_task.id for victim in shed):  # shed on arrival: one failed snapshot
                snapshot = new_task.model_copy(update={"status": TaskStatus.FAILED,
                                                       "status_reason": _shed_reason(sched)})
            await emit.send(topics["task.state"], snapshot.id.encode(), snapshot.to_bytes())
        for victim in shed:
            announced = new_task is not None and victim.task_id == new_task.id
            sched.end(victim.task_id, now)
            await store.ended(victim.task_id, now)
            await _shed(victim, sched, announced=announced)
        for queued in admitted:
            arrived = new_task if new_task is not None and new_task.id == queued.task_id else None
            raw = arrived.model_dump(mode="json") if arrived else store.body(queued.task_id)
            if raw is None:  # cannot happen unless the rows diverged; say so rather than hang
                log.error("admitted task has no stored body", extra={"task_id": queued.task_id})
                continue
            await store.running(queued, raw)  # the body stays until the step loop confirms the task
            body = arrived.to_bytes() if arrived is not None else DiagnosticTask.model_validate(raw).to_bytes()
            await emit.send(topics.task(queued.priority), queued.task_id.encode(), body)
        for cluster in {q.cluster_id for q in admitted if q.cluster_id in sched.starts}:
            await store.starts(cluster, sched.starts[cluster])
        await store.forget_ended(sched.forget_ended(now))

    async def _reconcile(sched: scheduling.Scheduler, now: float) -> None:
        """Running slots without progress (streams/scheduling.py): admissions sent again, overdue tasks asked to
        stop, and those still holding their slot long after their time budget ended here with a report."""
        store = pipe.scheduler
        for action, entry in sched.reconcile(now):
            RECONCILED.labels(action=action).inc()
            if action == "resend":
                raw = store.body(entry.task_id)
                if raw is None:
                    log.error("admitted task has no stored body", extra={"task_id": entry.task_id})
                    continue
                log.info("admission not confirmed by the step loop: sending it again",
                         extra={"task_id": entry.task_id, "cluster_id": entry.cluster_id})
                await store.running(entry, raw)
                await emit.send(topics.task(entry.priority), entry.task_id.encode(),
                                DiagnosticTask.model_validate(raw).to_bytes())
            elif action == "stop":
                await store.running(entry, store.body(entry.task_id))
                cmd = TaskCommand(task_id=entry.task_id, action="timeout", requested_by="scheduler",
                                  reason="running slot held past the task's time budget")
                await emit.send(topics["task.commands"], entry.task_id.encode(), cmd.to_bytes())
            else:
                sched.end(entry.task_id, now)
                await store.ended(entry.task_id, now)
                held = now - (entry.admitted_at or now)
                reason = (f"no progress: held a running slot for {held:.0f}s, past its {entry.timeout_seconds:.0f}s "
                          "time budget; the scheduler released the slot")
                log.warning("task failed: %s", reason, extra={"task_id": entry.task_id, "cluster_id": entry.cluster_id})
                await _end(entry, TaskStatus.FAILED, reason, "no_progress", "scheduler")

    async def _end(entry: scheduling.QueuedTask, status: TaskStatus, reason: str, termination: str,
                   by: str, announced: bool = False) -> None:
        """A task the scheduler ends itself: its status change (unless its snapshot said so already) and its final
        report, so every channel and the history show its end."""
        if not announced:
            await _transition(entry.task_id, status, reason)
        report = DiagnosticResult.without_diagnosis(entry.task_id, entry.cluster_id, status=status.value,
                                                    reason=termination, note=reason, ended_by=by)
        await emit.send(topics["reports"], entry.task_id.encode(), report.to_bytes())

    def _shed_reason(sched: scheduling.Scheduler) -> str:
        return f"shed: queue depth {len(sched.queue)} over the limit {pipe.limits.queue_limit}"

    async def _shed(victim: scheduling.QueuedTask, sched: scheduling.Scheduler, announced: bool) -> None:
        """`announced`: the task's own snapshot already says failed (it was shed the moment it arrived)."""
        SHED.labels(priority=victim.priority.value).inc()
        reason = _shed_reason(sched)
        await _end(victim, TaskStatus.FAILED, reason, "shed", "scheduler", announced=announced)
        await audit(AuditEvent(action="task.shed", resource=f"task/{victim.task_id}", cluster_id=victim.cluster_id,
                               result="rejected", reason=reason, details={"priority": victim.priority.value}))

    async def _transition(task_id: str, status: TaskStatus, reason: str) -> None:
        """Status changes for tasks the scheduler holds: the view agent checks legality and applies."""
        change = TaskStatusChange(task_id=task_id, status=status, reason=reason)
        await emit.send(topics["task.state"], task_id.encode(), change.to_bytes())

    # -- 4. task view: the latest snapshot of every task, legal transitions only ---------------------
    def membership(task_id: str) -> IncidentMembership | None:
        raw = pipe.memberships_table.get(task_id)
        return IncidentMembership.model_validate(raw) if raw else None

    async def republish(task: DiagnosticTask) -> None:
        """The merged snapshot back on task.state, so the history (ClickHouse rows) carries the incident too;
        the view meets it again as a same-status detail update that already has the incident: no loop."""
        await emit.send(topics["task.state"], task.id.encode(), task.to_bytes())

    async def on_task_state(event: faust.EventT) -> None:
        body = json.loads(event.value)
        holds_slot = True
        if body.get("kind") == "incident_member":
            note = IncidentMembership.model_validate(body)
            await emit.put(pipe.memberships_table, note.task_id, note.model_dump(mode="json"))
            current = pipe.task(note.task_id)
            if current is not None and not current.context.incident_id:  # else its first snapshot gets it
                joined = correlation.with_incident(current, note)
                await emit.put(pipe.tasks_table, joined.id, joined.model_dump(mode="json"))
                await republish(joined)
            return
        if body.get("kind") == "status_change":
            change = TaskStatusChange.model_validate(body)
            # The scheduler sends these only for tasks it ended itself (shed or cancelled while waiting, or
            # released after holding a slot without progress): their slot is free already.
            holds_slot = change.changed_by != "scheduler"
            current = pipe.task(change.task_id)
            if current is None:
                raise ValueError(f"status change for unknown task {change.task_id}")
            new = current.model_copy(update={"status": change.status, "status_reason": change.reason})
        else:
            new = DiagnosticTask.model_validate(body)
            current = pipe.task(new.id)
            if new.status == TaskStatus.RUNNING:  # the step loop took it: its admission need not be sent again
                cmd = SchedulerCommand(action="started", task_id=new.id, requested_by="step loop")
                await emit.send(topics["task.queue"], new.id.encode(), cmd.to_bytes())
        enriched = False
        if not new.context.incident_id and (note := membership(new.id)) is not None:
            # The step loop and the scheduler hold the task as it was created: keep the incident it joined since.
            new, enriched = correlation.with_incident(new, note), body.get("kind") != "status_change"
        if current is not None and current.status == new.status:
            await emit.put(pipe.tasks_table, new.id, new.model_dump(mode="json"))  # same status: a detail update
            if enriched:
                await republish(new)
            if new.status.terminal and holds_slot:  # a final snapshot again: make sure no slot stays held
                cmd = SchedulerCommand(action="finish", task_id=new.id, reason=new.status.value)
                await emit.send(topics["task.queue"], new.id.encode(), cmd.to_bytes())
            return
        if current is not None and not can_transition(current.status, new.status):
            ILLEGAL.inc()
            log.warning("refused illegal transition %s -> %s", current.status.value, new.status.value,
                        extra={"task_id": new.id, "cluster_id": new.cluster_id})
            return
        await emit.put(pipe.tasks_table, new.id, new.model_dump(mode="json"))
        if enriched:
            await republish(new)
        TASKS.labels(status=new.status.value, priority=new.priority.value, cluster=new.cluster_id).inc()
        if new.status.terminal and holds_slot:  # frees its running slot, if it held one
            cmd = SchedulerCommand(action="finish", task_id=new.id, reason=new.status.value)
            await emit.send(topics["task.queue"], new.id.encode(), cmd.to_bytes())

    if registry is not None:
        _watch_registry(app, pipe, registry, audit)
    _scheduler_housekeeping(app, pipe)
    _register(app, topics, "signals", [topics["alerts.raw"], topics["k8s.events"]], error_boundary("signals", deadletters, on_input))
    _register(app, topics, "correlate", [topics["signals"]], error_boundary("correlate", deadletters, on_signal))
    _register(app, topics, "scheduler", [topics["task.queue"]], error_boundary("scheduler", deadletters, on_command))
    _register(app, topics, "task_view", [topics["task.state"], topics["task.annotations"]],
              error_boundary("task_view", deadletters, on_task_state))
    return pipe


def _watch_registry(app: faust.App, pipe: Pipeline, registry: Any,
                    audit: Callable[[AuditEvent], Awaitable[None]]) -> None:
    """Hot reload (NFR-25): a good new file replaces the known clusters and their limits at once; a bad
    one is reported (log, metric, audit event) and the last good registry stays in force."""
    from agents.clusters.registry import change_audit_event

    @app.timer(interval=2.0)
    async def reload_registry() -> None:
        outcome = registry.check()
        if outcome.result == "reloaded":
            pipe.clusters, pipe.limits = _from_registry(pipe.settings, registry.clusters)
            await audit(change_audit_event(outcome.change, str(registry.path)))
        elif outcome.result == "rejected":
            await audit(change_audit_event(None, str(registry.path), error=outcome.error or ""))


def _scheduler_housekeeping(app: faust.App, pipe: Pipeline) -> None:
    """Things only the scheduler's owner can do: forget its parsed state when partitions move (the next
    command rebuilds it from the recovered rows), and wake the queue when something is due without a
    command to carry it - a waiting task could start now (a cluster's rate window opened, a registry edit
    raised a limit), running slots need reconciling, or the rows were never loaded since this worker took
    the queue. The tick only asks; the scheduler agent decides, with the command's own time."""

    async def forget(*_args: Any, **_kwargs: Any) -> None:
        pipe.scheduler.invalidate()
        QUEUE_DEPTH.set(0)  # only the owner reports them: it sets them again with its next command
        RUNNING.set(0)

    app.on_partitions_revoked.connect(forget)
    app.on_partitions_assigned.connect(forget)

    queue_tp = TP(pipe.topics["task.queue"].get_topic_name(), 0)

    @app.timer(interval=RATE_TICK_SECONDS)
    async def wake_rate_limited() -> None:
        sched = pipe.scheduler.cached  # None until this worker, owning the queue, parsed its rows
        now = datetime.now(timezone.utc).timestamp()
        if sched is None:
            # The owner after a restart or rebalance: without a command nothing would load its rows, and the
            # slots of tasks lost in the crash would never be reconciled.
            owner = app.consumer is not None and queue_tp in app.consumer.assignment() and not app.rebalancing
            reason = "scheduler partition assigned" if owner else ""
        elif sched.admissible(pipe.limits, now=now):
            reason = "rate window opened"
        elif sched.due(now):
            reason = "running slots to reconcile"
        else:
            reason = ""
        if reason:
            cmd = SchedulerCommand(action="tick", reason=reason)
            await pipe.emit.send(pipe.topics["task.queue"], b"tick", cmd.to_bytes())


def _register(app: faust.App, topics: Topics, name: str, sources: list[faust.TopicT],
              fn: Callable[[faust.StreamT], Awaitable[None]]) -> None:
    channel = sources[0] if len(sources) == 1 else app.topic(
        *[t.get_topic_name() for t in sources], key_serializer="raw", value_serializer="raw")
    app.agent(channel, name=f"aetherius.{name}")(fn)


def _new_task(task_id: str, signal: Signal, priority: Priority, settings: Settings, meta: dict[str, Any],
              incident: CorrelatedIncident | None = None) -> DiagnosticTask:
    t = settings.tasks
    return DiagnosticTask(
        id=task_id,
        alert_id=signal.fingerprint,
        cluster_id=signal.cluster_id,
        namespace=signal.namespace,
        resource=ResourceInfo(kind=signal.resource_kind, name=signal.resource_name, namespace=signal.namespace),
        priority=priority,
        created_at=signal.last_seen,
        context=TaskContext(
            alertname=signal.alertname, severity=signal.severity, labels=signal.labels,
            annotations=signal.annotations,
            signal_fingerprints=incident.member_fingerprints if incident else [signal.fingerprint],
            incident_id=incident.incident_id if incident else None,
            clusters=incident.clusters if incident else [signal.cluster_id],
        ),
        limits=TaskLimits(max_steps=t.max_steps, timeout_seconds=t.timeout_seconds, budget_usd=t.budget_usd),
        metadata={**meta, "source": signal.source, "historical_frequency": signal.historical_frequency},
        requested_by=signal.requested_by,  # dedup keeps the first request's signal: the task carries its requester
    )


async def _config_warning(signal: Signal, audit: Callable[[AuditEvent], Awaitable[None]]) -> None:
    kinds = [k for k, flag in (("cluster", signal.cluster_defaulted), ("namespace", signal.namespace_defaulted)) if flag]
    for kind in kinds:
        CONFIG_WARNINGS.labels(kind=kind).inc()
    await audit(AuditEvent(action="config.warning", resource=f"signal/{signal.fingerprint}",
                           cluster_id=signal.cluster_id, result="ok",
                           reason=f"defaulted {', '.join(kinds)} for alert {signal.alertname}",
                           details={"labels": signal.labels}))
