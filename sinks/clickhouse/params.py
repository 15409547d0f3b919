"""Query-string parsing for the analytics API and CLI: strings in, typed filters out, or `ParamError(param)`."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Mapping

from schemas.result import ProblemCategory
from schemas.task import TaskStatus
from sinks.clickhouse.queries import GROUP_KEYS, HistoryFilter, StatsFilter, Window

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
