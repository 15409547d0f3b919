"""`Suspension`: a person refused by every Aetherius API for a while, after a security event in a diagnosis they
asked for (SRS §5.8.5 response 1, "temporarily disable the related user permission").

One record per subject on the compacted topic `security.suspensions` (key = subject): the newest record for a
subject is the truth. A lift is a new record with `lifted_by` set (not a tombstone), so the list an admin reads
still says who lifted it and when; a tombstone (null value) simply forgets the subject.

The decisions here are pure (no clock, no I/O): the caller passes `now`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import Field

from schemas.base import Record, utcnow
from schemas.requester import Requester

SUBJECT_MAX = 200  # as schemas.requester.Requester.subject: the name a task carries is the name we refuse


class Suspension(Record):
    subject: str = Field(min_length=1, max_length=SUBJECT_MAX)  # API key name or OIDC subject (the audit actor)
    until: datetime
    reason: str = Field(default="", max_length=1000)
    security_event: str = Field(default="", max_length=64)  # the SRS §5.8.5 kind (privilege_escalation ...)
    task_id: str = ""
    cluster_id: str = ""
    audit_event_id: str = ""  # the `suspension.start` AuditEvent written beside this record
    created_at: datetime = Field(default_factory=utcnow)
    lifted_by: str = ""  # an admin lifted it early (DELETE /api/v1/security/suspensions/{subject})
    lifted_at: datetime | None = None


def is_suspended(entry: Suspension | None, now: datetime) -> bool:
    """In force: present, not lifted, and `now` before `until`."""
    return entry is not None and not entry.lifted_by and now < entry.until


def suspension_for(requester: Requester | None, *, seconds: int, now: datetime, security_event: str,
                   reason: str = "", task_id: str = "", cluster_id: str = "",
                   audit_event_id: str = "") -> Suspension | None:
    """The suspension a security event in this task calls for, or None: only a person who asked (a requester
    from the API or the CLI) is suspended - alert- and event-triggered tasks run as the service role, and
    suspending that would switch off the alert pipeline for everyone. `seconds == 0` turns it off."""
    if requester is None or seconds <= 0 or requester.via not in ("api", "cli"):
        return None
    return Suspension(subject=requester.subject, until=now + timedelta(seconds=seconds), reason=reason[:1000],
                      security_event=security_event[:64], task_id=task_id, cluster_id=cluster_id,
                      audit_event_id=audit_event_id, created_at=now)


def lifted(entry: Suspension, by: str, now: datetime) -> Suspension:
    """The same suspension, lifted early by `by` (an admin)."""
    return entry.model_copy(update={"lifted_by": by[:SUBJECT_MAX] or "admin", "lifted_at": now})
