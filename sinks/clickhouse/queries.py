"""Analytics queries as pure builders: typed filters in, `(sql, params)` out.

User input only ever travels as ClickHouse query parameters (`{name:Type}`), bound by the client; the only
text spliced into SQL comes from fixed whitelists here (group-by keys, filter columns). Reads use FINAL or
argMax so redelivered duplicates never count twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

GroupBy = Literal["day", "cluster", "task", "model", "priority", "category"]
GROUP_KEYS: dict[str, str] = {
    "day": "toString(toDate(at))", "cluster": "cluster_id", "task": "task_id", "model": "model",
    "priority": "priority",
    # the root-cause category of the task's report ("" until its report is stored: said as "no report yet")
    "category": "if(r_category = '', 'no report yet', r_category)",
}
# A cost row knows its task, not the task's root cause: that comes from the report (one per task).
_COSTS_WITH_CATEGORY = ("costs FINAL LEFT JOIN (SELECT task_id AS r_task, category AS r_category FROM reports FINAL) "
                        "AS r ON r.r_task = costs.task_id")
DT = "DateTime64(3, 'UTC')"
TERMINAL = ("completed", "failed", "timeout", "cancelled")

Query = tuple[str, dict[str, Any]]


def naive_utc(value: datetime) -> datetime:
    """Parameters are bound as naive UTC and typed DateTime64(3, 'UTC')."""
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    return value


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime

    def params(self) -> dict[str, Any]:
        return {"from": naive_utc(self.start), "to": naive_utc(self.end)}


def _between(column: str) -> str:
    return f"{column} >= {{from:{DT}}} AND {column} < {{to:{DT}}}"


# --------------------------------------------------------------------------------------------- costs

def costs_by(window: Window, group_by: GroupBy, limit: int = 1000) -> Query:
    key = GROUP_KEYS[group_by]
    order = "key" if group_by == "day" else "cost_usd DESC, key"
    sql = (f"SELECT {key} AS key, sum(prompt_tokens) AS prompt_tokens, sum(completion_tokens) AS completion_tokens, "
           f"sum(cost_usd) AS cost_usd, count() AS calls "
           f"FROM {_COSTS_WITH_CATEGORY if group_by == 'category' else 'costs FINAL'} WHERE {_between('at')} "
           f"GROUP BY key ORDER BY {order} LIMIT {{limit:UInt32}}")
    return sql, {**window.params(), "limit": limit}


def costs_total(window: Window) -> Query:
    sql = ("SELECT sum(prompt_tokens) AS prompt_tokens, sum(completion_tokens) AS completion_tokens, "
           f"sum(cost_usd) AS cost_usd, count() AS calls, uniqExact(task_id) AS tasks FROM costs FINAL "
           f"WHERE {_between('at')}")
    return sql, window.params()


def spend_since(day_start: datetime, month_start: datetime) -> Query:
    sql = (f"SELECT sumIf(cost_usd, at >= {{day:{DT}}}) AS today_usd, sum(cost_usd) AS month_usd "
           f"FROM costs FINAL WHERE at >= {{month:{DT}}}")
    return sql, {"day": naive_utc(day_start), "month": naive_utc(month_start)}


def queue_depth() -> Query:
    """Tasks whose latest status is pending (created in the last day): the queue the scheduler holds."""
    sql = ("SELECT count() AS depth FROM (SELECT task_id, argMax(status, event_time) AS status FROM tasks "
           "WHERE created_at >= now64(3) - INTERVAL 1 DAY GROUP BY task_id) WHERE status = 'pending'")
    return sql, {}


# --------------------------------------------------------------------------------------------- history

@dataclass(frozen=True)
class HistoryFilter:
    window: Window
    cluster: str | None = None
    namespace: str | None = None
    alertname: str | None = None
    category: str | None = None
    status: str | None = None
    limit: int = 50
    offset: int = 0


_TASK_FILTERS = (("cluster", "cluster_id"), ("namespace", "namespace"), ("alertname", "alertname"))


def _latest_tasks(f: HistoryFilter) -> Query:
    where = [_between("created_at")]
    params: dict[str, Any] = f.window.params()
    for name, column in _TASK_FILTERS:
        value = getattr(f, name)
        if value is not None:
            where.append(f"{column} = {{{name}:String}}")
            params[name] = value
    having = ""
    if f.status is not None:
        having = " HAVING last_status = {status:String}"
        params["status"] = f.status
    # Aliases differ from column names: ClickHouse would otherwise resolve WHERE created_at to min(created_at).
    sql = ("SELECT task_id, argMax(status, event_time) AS last_status, any(cluster_id) AS t_cluster, "
           "any(namespace) AS t_namespace, any(alertname) AS t_alertname, any(priority) AS t_priority, "
           "any(resource_kind) AS t_kind, any(resource_name) AS t_name, min(created_at) AS t_created, "
           "max(completed_at) AS t_completed, max(duration_seconds) AS t_duration, "
           "argMax(status_reason, event_time) AS t_reason "
           f"FROM tasks WHERE {' AND '.join(where)} GROUP BY task_id{having}")
    return sql, params


def _with_reports(f: HistoryFilter) -> Query:
    inner, params = _latest_tasks(f)
    where = ""
    if f.category is not None:
        where = " WHERE r.category = {category:String}"
        params["category"] = f.category
    sql = ("SELECT t.task_id AS task_id, t.last_status AS status, t.t_cluster AS cluster_id, "
           "t.t_namespace AS namespace, t.t_alertname AS alertname, t.t_priority AS priority, "
           "t.t_kind AS resource_kind, t.t_name AS resource_name, t.t_created AS created_at, "
           "t.t_completed AS completed_at, t.t_duration AS duration_seconds, t.t_reason AS status_reason, "
           "r.category AS category, r.confidence AS confidence, r.engine AS engine, r.cost_usd AS cost_usd "
           f"FROM ({inner}) AS t LEFT JOIN (SELECT task_id, category, confidence, engine, cost_usd FROM reports FINAL "
           f"WHERE generated_at >= {{from:{DT}}}) AS r ON r.task_id = t.task_id{where}")
    return sql, params


def history(f: HistoryFilter) -> Query:
    sql, params = _with_reports(f)
    return (f"{sql} ORDER BY created_at DESC, task_id LIMIT {{limit:UInt32}} OFFSET {{offset:UInt32}}",
            {**params, "limit": f.limit, "offset": f.offset})


def history_count(f: HistoryFilter) -> Query:
    sql, params = _with_reports(f)
    return f"SELECT count() AS total FROM ({sql})", params


# --------------------------------------------------------------------------------------------- stats

@dataclass(frozen=True)
class StatsFilter:
    window: Window
    cluster: str | None = None
    top: int = 10


def _cluster(f: StatsFilter, params: dict[str, Any]) -> str:
    if f.cluster is None:
        return ""
    params["cluster"] = f.cluster
    return " AND cluster_id = {cluster:String}"


def stats_by_status(f: StatsFilter) -> Query:
    params = f.window.params()
    sql = ("SELECT status, count() AS tasks FROM (SELECT task_id, argMax(status, event_time) AS status FROM tasks "
           f"WHERE {_between('created_at')}{_cluster(f, params)} GROUP BY task_id) GROUP BY status ORDER BY tasks DESC")
    return sql, params


def stats_by_category(f: StatsFilter) -> Query:
    params = f.window.params()
    sql = ("SELECT category, count() AS reports, avg(confidence) AS avg_confidence FROM reports FINAL "
           f"WHERE {_between('generated_at')}{_cluster(f, params)} GROUP BY category ORDER BY reports DESC")
    return sql, params


def stats_durations(f: StatsFilter) -> Query:
    """Diagnosis time (start -> end) percentiles, and MTTR: mean alert-to-report time of completed tasks."""
    params = f.window.params()
    sql = ("SELECT count() AS finished, quantile(0.5)(duration_seconds) AS duration_p50_seconds, "
           "quantile(0.95)(duration_seconds) AS duration_p95_seconds, "
           "avgIf(dateDiff('millisecond', created_at, assumeNotNull(completed_at)) / 1000, status = 'completed') "
           "AS mttr_seconds FROM tasks FINAL "
           f"WHERE status IN ('completed', 'failed', 'timeout') AND {_between('created_at')}{_cluster(f, params)}")
    return sql, params


def stats_feedback(f: StatsFilter) -> Query:
    params = f.window.params()
    sql = ("SELECT count() AS votes, avg(rating) AS avg_rating, avg(helpful) AS helpful_ratio FROM "
           "(SELECT id, argMax(rating, timestamp) AS rating, argMax(helpful, timestamp) AS helpful FROM feedback "
           f"WHERE {_between('timestamp')} GROUP BY id)")
    return sql, params


def stats_top_alertnames(f: StatsFilter) -> Query:
    params = {**f.window.params(), "top": f.top}
    sql = ("SELECT alertname, uniqExact(task_id) AS tasks FROM tasks "
           f"WHERE {_between('created_at')}{_cluster(f, params)} GROUP BY alertname ORDER BY tasks DESC, alertname "
           "LIMIT {top:UInt32}")
    return sql, params


# --------------------------------------------------------------------------------------------- audit logs

@dataclass(frozen=True)
class AuditCursor:
    """Where a page of audit rows ends: newest first, so the next page holds rows before (at, id)."""

    at: datetime
    id: str


@dataclass(frozen=True)
class AuditFilter:
    window: Window
    actor: str | None = None
    action: str | None = None
    action_prefix: bool = False  # `action` ends in "*": every action starting with the rest
    cluster: str | None = None
    result: str | None = None
    limit: int = 100
    cursor: AuditCursor | None = None


AUDIT_COLUMNS = ("id", "at", "actor", "role", "action", "resource", "cluster_id", "result", "reason", "duration_ms",
                 "source_ip", "details")


def audit_logs(f: AuditFilter) -> Query:
    """One page of audit rows, newest first, keyset-paged on (at, id): a page never shifts when rows arrive.
    Asks for limit + 1 rows; the caller cuts the extra one and makes it the cursor's reason to exist."""
    where = [_between("at")]
    params: dict[str, Any] = f.window.params()
    for name, column in (("actor", "actor"), ("cluster", "cluster_id"), ("result", "result")):
        value = getattr(f, name)
        if value is not None:
            where.append(f"{column} = {{{name}:String}}")
            params[name] = value
    if f.action is not None:
        where.append("startsWith(action, {action:String})" if f.action_prefix else "action = {action:String}")
        params["action"] = f.action
    if f.cursor is not None:
        where.append(f"(at, id) < ({{c_at:{DT}}}, {{c_id:String}})")
        params.update(c_at=naive_utc(f.cursor.at), c_id=f.cursor.id)
    sql = (f"SELECT {', '.join(AUDIT_COLUMNS)} FROM audit FINAL WHERE {' AND '.join(where)} "
           "ORDER BY at DESC, id DESC LIMIT {limit:UInt32}")
    return sql, {**params, "limit": f.limit + 1}


# --------------------------------------------------------------------------------------------- budget

def period_starts(now: datetime) -> tuple[datetime, datetime]:
    """Start of the UTC day and month containing `now`."""
    now = now.astimezone(timezone.utc) if now.tzinfo else now.replace(tzinfo=timezone.utc)
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return day, day.replace(day=1)


def default_window(now: datetime, days: float = 1.0) -> Window:
    return Window(now - timedelta(days=days), now)


@dataclass(frozen=True)
class DegradationInputs:
    daily_budget_usage_pct: float
    queue_depth: int | None = None
    ai_service_health: float | None = None  # 0-100, when known
    system_error_rate_pct: float | None = None


def degradation_level(i: DegradationInputs) -> tuple[int, list[str]]:
    """SRS §5.9.6: the highest level whose trigger holds, with the triggers that fired. Unknown inputs never fire."""
    fired: dict[int, list[str]] = {1: [], 2: [], 3: []}
    u = i.daily_budget_usage_pct
    if u >= 80:
        fired[1].append(f"daily budget usage {u:.1f}% >= 80%")
    if i.queue_depth is not None and i.queue_depth > 80:
        fired[1].append(f"queue depth {i.queue_depth} > 80")
    if u >= 95:
        fired[2].append(f"daily budget usage {u:.1f}% >= 95%")
    if i.ai_service_health is not None and i.ai_service_health < 50:
        fired[2].append(f"AI service health {i.ai_service_health:g} < 50")
    if i.ai_service_health is not None and i.ai_service_health < 20:
        fired[3].append(f"AI service health {i.ai_service_health:g} < 20")
    if i.system_error_rate_pct is not None and i.system_error_rate_pct > 50:
        fired[3].append(f"system error rate {i.system_error_rate_pct:g}% > 50%")
    for level in (3, 2, 1):
        if fired[level]:
            return level, fired[level]
    return 0, []
