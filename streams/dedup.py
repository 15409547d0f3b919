"""Deduplication of signals by fingerprint: pure state transitions, kept in a Faust table by the pipeline.

Time is the record's own time (when the bridge received the alert, when the event last happened),
never the processing time: replaying a recording gives the same decisions.
"""

from __future__ import annotations

from enum import Enum

from pydantic import BaseModel, Field

HOUR = 3600.0
MAX_RECENT = 32  # enough to tell "more than 3 an hour" and to show a trend; bounds the row size


class DedupDecision(str, Enum):
    NEW = "new"  # first time, or first time after the window closed or after a resolve: create a task
    DUPLICATE = "duplicate"  # repeat inside the window: count it, create nothing
    RESOLVED = "resolved"  # the firing signal ended: close it, cancel a still-pending task
    STALE_RESOLVE = "stale_resolve"  # a resolve for something not firing: nothing to do


class DedupState(BaseModel):
    status: str = "firing"
    window_start: float  # epoch seconds
    first_seen: float
    last_seen: float
    count_in_window: int = 1
    recent: list[float] = Field(default_factory=list)  # occurrence times within the last hour, newest last

    def frequency_per_hour(self, now: float) -> int:
        return sum(1 for t in self.recent if now - t < HOUR)


def observe(state: DedupState | None, *, now: float, status: str, window_seconds: float
            ) -> tuple[DedupState | None, DedupDecision]:
    """Apply one occurrence; returns the new state (None = leave as is) and what to do."""
    if status == "resolved":
        if state is None or state.status == "resolved":
            return None, DedupDecision.STALE_RESOLVE
        return state.model_copy(update={"status": "resolved", "last_seen": max(now, state.last_seen)}), \
            DedupDecision.RESOLVED

    recent = [t for t in (state.recent if state else []) if now - t < HOUR][-(MAX_RECENT - 1):] + [now]
    if state is None or state.status == "resolved" or now - state.window_start >= window_seconds:
        first = state.first_seen if state else now
        return DedupState(window_start=now, first_seen=first, last_seen=now, recent=recent), DedupDecision.NEW
    return state.model_copy(update={
        "last_seen": max(now, state.last_seen),
        "count_in_window": state.count_in_window + 1,
        "recent": recent,
    }), DedupDecision.DUPLICATE
