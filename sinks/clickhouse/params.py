"""Query-string parsing for the analytics API and CLI: strings in, typed filters out, or `ParamError(param)`."""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import datetime, timedelta, timezone
from typing import Mapping

from schemas.result import ProblemCategory
from schemas.task import TaskStatus
from sinks.clickhouse.queries import GROUP_KEYS, AuditCursor, AuditFilter, HistoryFilter, StatsFilter, Window

MAX_LIMIT = 500
MAX_WINDOW = timedelta(days=3 * 366)


class ParamError(ValueError):
    def __init__(self, param: str, message: str) -> None:
        super().__init__(f"{param}: {message}")
        self.param = param
        self.message = message


def parse_time(param: str, text: str) -> datetime:
    """ISO 8601 (naive = UTC; a trailing Z is fine) or Unix seconds."""
    text = text.strip()
    try:
        if text.replace(".", "", 1).isdigit():
            return datetime.fromtimestamp(float(text), timezone.utc)
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        raise ParamError(param, f"not a time: {text!r} (use ISO 8601 or Unix seconds)") from None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def parse_window(q: Mapping[str, str], now: datetime, default_days: float) -> Window:
    end = parse_time("to", q["to"]) if q.get("to") else now
    start = parse_time("from", q["from"]) if q.get("from") else end - timedelta(days=default_days)
    if start >= end:
        raise ParamError("from", "must be before 'to'")
    if end - start > MAX_WINDOW:
        raise ParamError("from", "the window may span at most 3 years")
    return Window(start, end)


def parse_int(q: Mapping[str, str], param: str, default: int, lo: int, hi: int) -> int:
    if not q.get(param):
        return default
    try:
        value = int(q[param])
    except ValueError:
        raise ParamError(param, f"not an integer: {q[param]!r}") from None
    if not lo <= value <= hi:
        raise ParamError(param, f"must be between {lo} and {hi}")
    return value


def _text(q: Mapping[str, str], param: str, allowed: set[str] | None = None) -> str | None:
    value = q.get(param)
    if value is None or value == "":
        return None
    if len(value) > 256:
        raise ParamError(param, "longer than 256 characters")
    if allowed is not None and value not in allowed:
        raise ParamError(param, f"must be one of {', '.join(sorted(allowed))}")
    return value


def _no_unknown(q: Mapping[str, str], known: set[str]) -> None:
    for param in q:
        if param not in known:
            raise ParamError(param, f"unknown parameter (known: {', '.join(sorted(known))})")


def parse_costs(q: Mapping[str, str], now: datetime) -> tuple[Window, str]:
    _no_unknown(q, {"from", "to", "group_by"})
    group_by = _text(q, "group_by", set(GROUP_KEYS)) or "day"
    return parse_window(q, now, default_days=30), group_by


def parse_history(q: Mapping[str, str], now: datetime) -> HistoryFilter:
    _no_unknown(q, {"from", "to", "cluster", "namespace", "alertname", "category", "status", "limit", "offset"})
    return HistoryFilter(
        window=parse_window(q, now, default_days=1),
        cluster=_text(q, "cluster"), namespace=_text(q, "namespace"), alertname=_text(q, "alertname"),
        category=_text(q, "category", {c.value for c in ProblemCategory}),
        status=_text(q, "status", {s.value for s in TaskStatus}),
        limit=parse_int(q, "limit", 50, 1, MAX_LIMIT), offset=parse_int(q, "offset", 0, 0, 10_000_000),
    )


def parse_stats(q: Mapping[str, str], now: datetime) -> StatsFilter:
    _no_unknown(q, {"from", "to", "cluster", "top"})
    return StatsFilter(window=parse_window(q, now, default_days=1), cluster=_text(q, "cluster"),
                       top=parse_int(q, "top", 10, 1, 100))


def parse_budget(q: Mapping[str, str]) -> None:
    _no_unknown(q, set())


# --------------------------------------------------------------------------------------------- audit logs

AUDIT_RESULTS = ("allowed", "rejected", "error", "ok")
AUDIT_LIMIT_MAX = 1000
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2}))?$")


def parse_rfc3339(param: str, text: str, *, end: bool = False) -> datetime:
    """An RFC 3339 date-time with its offset (`2026-11-20T08:00:00Z`, `...+01:00`), or a full-date
    (`2026-11-20`: that day's start; as an `end`, the day is included, so the window ends at the next midnight).
    A time without an offset is refused: it would be read in an unknown zone."""
    text = text.strip()
    if not _RFC3339.match(text):
        raise ParamError(param, f"not an RFC 3339 time: {text[:60]!r} (e.g. 2026-11-20T08:00:00Z or 2026-11-20)")
    try:
        if len(text) == 10:
            day = datetime.fromisoformat(text).replace(tzinfo=timezone.utc)
            return day + timedelta(days=1) if end else day
        value = datetime.fromisoformat(re.sub(r"[Zz]$", "+00:00", text[:10] + "T" + text[11:]))
    except ValueError:
        raise ParamError(param, f"not a valid date or time: {text[:60]!r}") from None
    return value.astimezone(timezone.utc)


def encode_cursor(cursor: AuditCursor) -> str:
    """Opaque to callers: where the next page starts (the last row's time and id), base64url JSON."""
    raw = json.dumps({"at": cursor.at.isoformat(), "id": cursor.id}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str) -> AuditCursor:
    bad = ParamError("cursor", "not a cursor this API returned (pass next_cursor unchanged)")
    if len(text) > 1024:
        raise bad
    try:
        body = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        at = datetime.fromisoformat(body["at"])
        ident = body["id"]
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise bad from None
    if not isinstance(ident, str) or at.tzinfo is None or len(ident) > 256:
        raise bad
    return AuditCursor(at=at.astimezone(timezone.utc), id=ident)


def parse_audit(q: Mapping[str, str], now: datetime) -> AuditFilter:
    """GET /api/v1/audit-logs: start/end (RFC 3339; default the last 24 hours), actor, action (`security.*`
    matches a prefix), cluster, result, limit, cursor. Every refusal names its parameter."""
    _no_unknown(q, {"start", "end", "actor", "action", "cluster", "result", "limit", "cursor"})
    end = parse_rfc3339("end", q["end"], end=True) if q.get("end") else now
    start = parse_rfc3339("start", q["start"]) if q.get("start") else end - timedelta(days=1)
    if start >= end:
        raise ParamError("start", "must be before 'end'")
    if end - start > MAX_WINDOW:
        raise ParamError("start", "the window may span at most 3 years")
    action = _text(q, "action")
    prefix = action is not None and action.endswith("*")
    if action is not None and "*" in action[:-1]:
        raise ParamError("action", "'*' may only end the action (a prefix, e.g. security.*)")
    return AuditFilter(
        window=Window(start, end), actor=_text(q, "actor"),
        action=action[:-1] if prefix else action, action_prefix=prefix,  # type: ignore[index]
        cluster=_text(q, "cluster"), result=_text(q, "result", set(AUDIT_RESULTS)),
        limit=parse_int(q, "limit", 100, 1, AUDIT_LIMIT_MAX),
        cursor=decode_cursor(q["cursor"]) if q.get("cursor") else None,
    )
