"""Cross-cluster correlation: the same alert firing in enough clusters inside a sliding window.

"The same alert" is the correlation key alertname|namespace|kind|name (streams.pipeline.correlation_key): state
is per key, whatever the cluster. The signals topic is keyed by alertname, so every cluster's copy of an alert
reaches the same partition and one agent sees them all.
The first members get their own tasks (we cannot wait to see whether others follow: P0 must start
in seconds); when the threshold is reached one incident and one cross-cluster task are created, the earlier
members' tasks join the incident (`CorrelationDecision.joined`: the task view adds the incident to them, so their
reports and history rows name it too), and later members inside the window are covered by that incident instead
of getting tasks of their own.
"""

from __future__ import annotations

import uuid

from pydantic import BaseModel, Field

from schemas.task import DiagnosticTask, IncidentMembership


class Member(BaseModel):
    fingerprint: str
    last_seen: float
    task_id: str | None = None  # the member's own task, if it got one (the first members do)


class CorrelationState(BaseModel):
    members: dict[str, Member] = Field(default_factory=dict)  # cluster_id -> latest member
    incident_id: str | None = None
    incident_started: float | None = None


class CorrelationDecision(BaseModel):
    clusters_firing: int
    new_incident_id: str | None = None  # set once, when the threshold is first reached
    covered_by: str | None = None  # an open incident already covers this signal
    joined: dict[str, str] = Field(default_factory=dict)  # new incident: cluster -> earlier member's own task id


def _live(state: CorrelationState, now: float, window: float) -> dict[str, Member]:
    return {c: m for c, m in state.members.items() if now - m.last_seen < window}


def observe_firing(state: CorrelationState | None, *, now: float, cluster_id: str, fingerprint: str,
                   window_seconds: float, min_clusters: int,
                   task_id: str | None = None) -> tuple[CorrelationState, CorrelationDecision]:
    """`task_id`: the task this signal gets if no incident covers it (remembered for when one forms)."""
    state = state or CorrelationState()
    members = _live(state, now, window_seconds)
    known = members.get(cluster_id)
    members[cluster_id] = Member(fingerprint=fingerprint, last_seen=now,
                                 task_id=task_id if known is None or known.fingerprint != fingerprint else known.task_id)
    incident_id = state.incident_id if len(_live(state, now, window_seconds)) else None
    if incident_id and len(members) < min_clusters:
        incident_id = None
    decision = CorrelationDecision(clusters_firing=len(members))
    if len(members) >= min_clusters:
        if incident_id is None:
            incident_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"incident:{fingerprint}:{now}"))
            decision.new_incident_id = incident_id
            decision.joined = {c: m.task_id for c, m in members.items() if c != cluster_id and m.task_id}
        else:
            decision.covered_by = incident_id
    started = state.incident_started if incident_id == state.incident_id else (now if incident_id else None)
    return CorrelationState(members=members, incident_id=incident_id, incident_started=started), decision


def observe_resolved(state: CorrelationState | None, *, now: float, cluster_id: str, fingerprint: str,
                     window_seconds: float) -> CorrelationState | None:
    """A resolved signal leaves the member set (only if it is the member we know for that cluster)."""
    if state is None:
        return None
    members = {c: m for c, m in _live(state, now, window_seconds).items()
               if not (c == cluster_id and m.fingerprint == fingerprint)}
    return state.model_copy(update={"members": members, "incident_id": state.incident_id if members else None})


def memberships(incident_id: str, clusters: list[str], joined: dict[str, str]) -> list[IncidentMembership]:
    """One record per earlier member task, for the task view (sorted: deterministic output)."""
    return [IncidentMembership(task_id=task_id, incident_id=incident_id, clusters=sorted(clusters))
            for _cluster, task_id in sorted(joined.items())]


def with_incident(task: DiagnosticTask, membership: IncidentMembership | None) -> DiagnosticTask:
    """The task with its incident in its context (unchanged when it has one or there is none to add)."""
    if membership is None or task.context.incident_id:
        return task
    clusters = sorted(set(membership.clusters) | {task.cluster_id})
    return task.model_copy(update={"context": task.context.model_copy(update={
        "incident_id": membership.incident_id, "clusters": clusters})})
