"""The analytics answers (costs, budget, history, stats) as JSON-able dicts, from a synchronous `Store`.

Shared by the HTTP API (run on the store's thread) and the CLI's direct mode, so both print the same thing.
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timezone
from typing import Any

from sinks.clickhouse import queries as q
from sinks.clickhouse.store import Store


def clean(value: Any) -> Any:
    """JSON-safe: UTC ISO times, NaN/inf (empty quantiles) as null, floats rounded to 6 places."""
    if isinstance(value, datetime):
        value = value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else round(value, 6)
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    return value


def _window(w: q.Window) -> dict[str, Any]:
    return {"from": clean(w.start), "to": clean(w.end)}


def _one(store: Store, query: q.Query) -> dict[str, Any]:
    rows = store.query(*query)
    return rows[0] if rows else {}


def costs_report(store: Store, window: q.Window, group_by: str) -> dict[str, Any]:
    rows = store.query(*q.costs_by(window, group_by))  # type: ignore[arg-type]
    for row in rows:
        row["tokens"] = int(row["prompt_tokens"]) + int(row["completion_tokens"])
    totals = _one(store, q.costs_total(window))
    totals["tokens"] = int(totals.get("prompt_tokens") or 0) + int(totals.get("completion_tokens") or 0)
    return clean({**_window(window), "group_by": group_by, "rows": rows, "totals": totals})


def _usage(spent: float, limit: float) -> dict[str, Any]:
    return {"spent_usd": spent, "limit_usd": limit, "usage_pct": (100.0 * spent / limit) if limit > 0 else None,
            "remaining_usd": max(0.0, limit - spent)}


def budget_report(store: Store, daily_limit: float, monthly_limit: float, now: datetime) -> dict[str, Any]:
    day_start, month_start = q.period_starts(now)
    spend = _one(store, q.spend_since(day_start, month_start))
    today, month = float(spend.get("today_usd") or 0.0), float(spend.get("month_usd") or 0.0)
    depth = int(_one(store, q.queue_depth()).get("depth") or 0)
    daily = _usage(today, daily_limit)
    inputs = q.DegradationInputs(daily_budget_usage_pct=daily["usage_pct"] or 0.0, queue_depth=depth)
    level, reasons = q.degradation_level(inputs)
    return clean({
        "at": now, "today": {"since": day_start, **daily}, "month": {"since": month_start, **_usage(month, monthly_limit)},
        "alert_threshold_pct": 80.0,
        "degradation": {"level": level, "reasons": reasons,
                        "inputs": {"daily_budget_usage_pct": inputs.daily_budget_usage_pct, "queue_depth": depth},
                        "note": "SRS §5.9.6 from budget usage and queue depth; AI health and error rate are not "
                                "known to the store and never trigger here"},
    })


def history_report(store: Store, f: q.HistoryFilter) -> dict[str, Any]:
    total = int(_one(store, q.history_count(f)).get("total") or 0)
    items = store.query(*q.history(f))
    return clean({**_window(f.window), "total": total, "limit": f.limit, "offset": f.offset, "items": items})


def stats_report(store: Store, f: q.StatsFilter) -> dict[str, Any]:
    return clean({
        **_window(f.window), "cluster": f.cluster,
        "by_status": store.query(*q.stats_by_status(f)),
        "by_category": store.query(*q.stats_by_category(f)),
        "durations": _one(store, q.stats_durations(f)),
        "feedback": _one(store, q.stats_feedback(f)),
        "top_alertnames": store.query(*q.stats_top_alertnames(f)),
    })


def audit_report(store: Store, f: q.AuditFilter) -> dict[str, Any]:
    """A page of the audit log; `next_cursor` (opaque) is null on the last page."""
    from sinks.clickhouse.params import encode_cursor

    rows = store.query(*q.audit_logs(f))
    more = len(rows) > f.limit
    rows = rows[:f.limit]
    for row in rows:
        try:
            row["details"] = json.loads(row["details"]) if row["details"] else {}
        except ValueError:  # stored cut at its size limit: keep the text
            pass
    cursor = None
    if more and rows:
        last = rows[-1]["at"]
        last = last.replace(tzinfo=timezone.utc) if last.tzinfo is None else last
        cursor = encode_cursor(q.AuditCursor(at=last, id=rows[-1]["id"]))
    return clean({**_window(f.window), "limit": f.limit, "items": rows, "next_cursor": cursor})
