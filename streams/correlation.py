"""Cross-cluster correlation: the same alertname firing in enough clusters inside a sliding window.

State is per alertname (the signals topic is keyed by it, so one partition sees every cluster).
The first members get their own tasks (we cannot wait to see whether others follow: P0 must start
in seconds); when the threshold is reached one incident and one cross-cluster task are created, and
later members inside the window are covered by that incident instead of getting tasks of their own.
"""

from __future__ import annotations

import uuid

from pydantic import BaseModel, Field


class Member(BaseModel):
    fingerprint: str
    last_seen: float


class CorrelationState(BaseModel):
    members: dict[str, Member] = Field(default_factory=dict)  # cluster_id -> latest member
    incident_id: str | None = None
    incident_started: float | None = None


class CorrelationDecision(BaseModel):
    clusters_firing: int
    new_incident_id: str | None = None  # set once, when the threshold is first reached
    covered_by: str | None = None  # an open incident already covers this signal


def _live(state: CorrelationState, now: float, window: float) -> dict[str, Member]:
    return {c: m for c, m in state.members.items() if now - m.last_seen < window}


def observe_firing(state: CorrelationState | None, *, now: float, cluster_id: str, fingerprint: str,
                   window_seconds: float, min_clusters: int) -> tuple[CorrelationState, CorrelationDecision]:
    state = state or CorrelationState()
    members = _live(state, now, window_seconds)
    members[cluster_id] = Member(fingerprint=fingerprint, last_seen=now)
    incident_id = state.incident_id if len(_live(state, now, window_seconds)) else None
    if incident_id and len(members) < min_clusters:
        incident_id = None
    decision = CorrelationDecision(clusters_firing=len(members))
    if len(members) >= min_clusters:
        if incident_id is None:
            incident_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"incident:{fingerprint}:{now}"))
            decision.new_incident_id = incident_id
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
