"""Writes the Grafana dashboards (deploy/grafana/dashboards/*.json) from the panel list below.

Run `python deploy/grafana/generate.py` after editing a panel; tests/test_grafana_dashboards.py fails when the
JSON files and this list differ, and executes every panel's SQL against the real schema.
SQL uses the grafana-clickhouse-datasource macros ($__timeFilter, $__timeInterval, $__fromTime, ...) and the
`cluster` template variable as ${cluster:singlequote}. Reads use FINAL/argMax: redelivered rows never count twice.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

DATASOURCE = {"type": "grafana-clickhouse-datasource", "uid": "aetherius-clickhouse"}
OUT = Path(__file__).resolve().parent / "dashboards"
CLUSTER = "cluster_id IN (${cluster:singlequote})"
TERMINAL = "('completed', 'failed', 'timeout', 'cancelled')"

# (title, panel type, query kind "ts"|"table", sql, expected columns (None: time + any numeric series))
Panel = tuple[str, str, str, str, "tuple[str, ...] | None"]

OVERVIEW: list[Panel] = [
    ("Tasks started", "stat", "table",
     f"SELECT uniqExact(task_id) AS tasks FROM tasks WHERE $__timeFilter(created_at) AND {CLUSTER}", ("tasks",)),
    ("Success rate", "stat", "table",
     "SELECT countIf(status = 'completed') / greatest(count(), 1) AS success_ratio FROM tasks FINAL "
     f"WHERE status IN {TERMINAL} AND $__timeFilter(event_time) AND {CLUSTER}", ("success_ratio",)),
    ("Tasks by status", "timeseries", "ts",
     "SELECT $__timeInterval(event_time) AS time, status, count() AS tasks FROM tasks FINAL "
     f"WHERE $__timeFilter(event_time) AND {CLUSTER} GROUP BY time, status ORDER BY time", None),
    ("New tasks by priority", "timeseries", "ts",
     "SELECT $__timeInterval(created_at) AS time, priority, count() AS tasks FROM tasks FINAL "
     f"WHERE status = 'pending' AND $__timeFilter(created_at) AND {CLUSTER} GROUP BY time, priority ORDER BY time", None),
    ("New tasks by cluster", "timeseries", "ts",
     "SELECT $__timeInterval(created_at) AS time, cluster_id, count() AS tasks FROM tasks FINAL "
     f"WHERE status = 'pending' AND $__timeFilter(created_at) AND {CLUSTER} GROUP BY time, cluster_id ORDER BY time", None),
    ("Queue depth (tasks waiting to start)", "timeseries", "ts",
     # +1 when a task is created, -1 when it first leaves pending; the running sum is the queue.
     "SELECT time, queue_depth FROM (SELECT time, sum(delta) OVER (ORDER BY time) AS queue_depth FROM ("
     "SELECT $__timeInterval(ev.1) AS time, sum(ev.2) AS delta FROM (SELECT task_id, min(created_at) AS enter, "
     "minIf(event_time, status != 'pending') AS leave, countIf(status != 'pending') AS moved FROM tasks "
     f"WHERE created_at >= $__fromTime - INTERVAL 1 DAY AND created_at <= $__toTime AND {CLUSTER} GROUP BY task_id) "
     "ARRAY JOIN if(moved > 0, [(enter, 1), (leave, -1)], [(enter, 1)]) AS ev GROUP BY time)) "
     "WHERE time >= $__fromTime ORDER BY time", None),
    ("Shed and rejected alerts", "timeseries", "ts",
     "SELECT $__timeInterval(at) AS time, kind, count() AS alerts FROM alerts_dropped FINAL "
     "WHERE $__timeFilter(at) GROUP BY time, kind ORDER BY time", None),
]

DIAGNOSIS: list[Panel] = [
    ("Diagnosis duration p50 / p95 (s)", "timeseries", "ts",
     "SELECT $__timeInterval(event_time) AS time, quantile(0.5)(duration_seconds) AS p50, "
     "quantile(0.95)(duration_seconds) AS p95 FROM tasks FINAL WHERE status IN ('completed', 'failed', 'timeout') "
     f"AND $__timeFilter(event_time) AND {CLUSTER} GROUP BY time ORDER BY time", None),
    ("Root-cause categories", "piechart", "table",
     "SELECT category, count() AS reports FROM reports FINAL "
     f"WHERE $__timeFilter(generated_at) AND {CLUSTER} GROUP BY category ORDER BY reports DESC", ("category", "reports")),
    ("Confidence distribution", "barchart", "table",
     "SELECT toString(floor(confidence * 10) / 10) AS confidence_bucket, count() AS reports FROM reports FINAL "
     f"WHERE $__timeFilter(generated_at) AND {CLUSTER} GROUP BY confidence_bucket ORDER BY confidence_bucket",
     ("confidence_bucket", "reports")),
    ("Average confidence by engine", "timeseries", "ts",
     "SELECT $__timeInterval(generated_at) AS time, engine, avg(confidence) AS confidence FROM reports FINAL "
     f"WHERE $__timeFilter(generated_at) AND {CLUSTER} GROUP BY time, engine ORDER BY time", None),
    ("Steps per task", "barchart", "table",
     "SELECT toString(steps) AS steps_per_task, count() AS tasks FROM (SELECT task_id, countIf(kind = 'completed') "
     "AS steps FROM steps FINAL WHERE $__timeFilter(started_at) GROUP BY task_id) GROUP BY steps "
     "ORDER BY steps", ("steps_per_task", "tasks")),
    ("Tool calls", "table", "table",
     "SELECT tool_id, count() AS calls, round(avg(duration_ms)) AS avg_ms, countIf(exit_code != 0) AS errors "
     "FROM steps FINAL WHERE kind = 'completed' AND $__timeFilter(started_at) GROUP BY tool_id ORDER BY calls DESC",
     ("tool_id", "calls", "avg_ms", "errors")),
]

COST: list[Panel] = [
    ("Spend per day vs daily budget (USD)", "timeseries", "ts",
     "SELECT toStartOfDay(at) AS time, sum(cost_usd) AS spend_usd, any(toFloat64(${daily_budget})) AS budget_usd "
     f"FROM costs FINAL WHERE $__timeFilter(at) AND {CLUSTER} GROUP BY time ORDER BY time", None),
    ("Spend by model (USD)", "timeseries", "ts",
     "SELECT $__timeInterval(at) AS time, model, sum(cost_usd) AS spend_usd FROM costs FINAL "
     f"WHERE $__timeFilter(at) AND {CLUSTER} GROUP BY time, model ORDER BY time", None),
    ("Spend by cluster", "barchart", "table",
     "SELECT cluster_id, sum(cost_usd) AS spend_usd, sum(prompt_tokens + completion_tokens) AS tokens FROM costs FINAL "
     f"WHERE $__timeFilter(at) AND {CLUSTER} GROUP BY cluster_id ORDER BY spend_usd DESC",
     ("cluster_id", "spend_usd", "tokens")),
    ("Cost per task (USD)", "stat", "table",
     "SELECT avg(c) AS avg_usd, quantile(0.5)(c) AS p50_usd, quantile(0.95)(c) AS p95_usd, max(c) AS max_usd "
     "FROM (SELECT task_id, sum(cost_usd) AS c FROM costs FINAL "
     f"WHERE $__timeFilter(at) AND {CLUSTER} GROUP BY task_id)", ("avg_usd", "p50_usd", "p95_usd", "max_usd")),
    ("Most expensive tasks", "table", "table",
     "SELECT task_id, any(cluster_id) AS cluster, any(priority) AS task_priority, sum(cost_usd) AS spend_usd, "
     "sum(prompt_tokens) AS prompt_tokens, sum(completion_tokens) AS completion_tokens FROM costs FINAL "
     f"WHERE $__timeFilter(at) AND {CLUSTER} GROUP BY task_id ORDER BY spend_usd DESC LIMIT 20",
     ("task_id", "cluster", "task_priority", "spend_usd", "prompt_tokens", "completion_tokens")),
    ("Tokens by model", "table", "table",
     "SELECT model, count() AS calls, sum(prompt_tokens) AS prompt_tokens, sum(completion_tokens) AS completion_tokens, "
     f"sum(cost_usd) AS spend_usd FROM costs FINAL WHERE $__timeFilter(at) AND {CLUSTER} GROUP BY model "
     "ORDER BY spend_usd DESC", ("model", "calls", "prompt_tokens", "completion_tokens", "spend_usd")),
]

KNOWLEDGE: list[Panel] = [
    ("Ratings", "barchart", "table",
     "SELECT toString(rating) AS rating, count() AS votes FROM (SELECT id, argMax(rating, timestamp) AS rating "
     "FROM feedback WHERE $__timeFilter(timestamp) GROUP BY id) GROUP BY rating ORDER BY rating", ("rating", "votes")),
    ("Average rating", "timeseries", "ts",
     "SELECT $__timeInterval(ts) AS time, avg(rating) AS avg_rating, count() AS votes FROM (SELECT id, "
     "max(timestamp) AS ts, argMax(rating, timestamp) AS rating FROM feedback WHERE $__timeFilter(timestamp) "
     "GROUP BY id) GROUP BY time ORDER BY time", None),
    ("Helpful ratio", "stat", "table",
     "SELECT avg(helpful) AS helpful_ratio FROM (SELECT id, argMax(helpful, timestamp) AS helpful FROM feedback "
     "WHERE $__timeFilter(timestamp) GROUP BY id)", ("helpful_ratio",)),
    ("Knowledge confidence change", "timeseries", "ts",
     "SELECT $__timeInterval(at) AS time, change, avg(confidence_after - confidence_before) AS avg_delta "
     "FROM knowledge_changes FINAL WHERE $__timeFilter(at) AND confidence_before IS NOT NULL "
     "AND confidence_after IS NOT NULL GROUP BY time, change ORDER BY time", None),
    ("Recent knowledge changes", "table", "table",
     "SELECT at, entry_id, change, actor, version, confidence_before, confidence_after, enabled, reason "
     "FROM knowledge_changes FINAL WHERE $__timeFilter(at) ORDER BY at DESC LIMIT 100",
     ("at", "entry_id", "change", "actor", "version", "confidence_before", "confidence_after", "enabled", "reason")),
    ("Low-rated diagnoses", "table", "table",
     "SELECT f.task_id AS task_id, f.rating AS rating, r.category AS category, r.confidence AS confidence "
     "FROM (SELECT task_id, argMax(rating, timestamp) AS rating FROM feedback WHERE $__timeFilter(timestamp) "
     "GROUP BY id, task_id) AS f LEFT JOIN (SELECT task_id, category, confidence FROM reports FINAL) AS r "
     "ON r.task_id = f.task_id WHERE f.rating <= 2 ORDER BY f.rating, f.task_id LIMIT 50",
     ("task_id", "rating", "category", "confidence")),
]

SECURITY: list[Panel] = [
    ("Rejected tool calls", "timeseries", "ts",
     "SELECT $__timeInterval(at) AS time, count() AS rejected FROM audit FINAL "
     "WHERE action = 'tool.call' AND result = 'rejected' AND $__timeFilter(at) GROUP BY time ORDER BY time", None),
    ("Authentication failures", "timeseries", "ts",
     "SELECT $__timeInterval(at) AS time, count() AS failures FROM audit FINAL "
     "WHERE action LIKE '%auth%' AND result IN ('rejected', 'error') AND $__timeFilter(at) GROUP BY time ORDER BY time",
     None),
    ("Rejected tools", "table", "table",
     "SELECT resource, cluster_id, count() AS rejected, max(at) AS last_seen FROM audit FINAL "
     "WHERE action = 'tool.call' AND result = 'rejected' AND $__timeFilter(at) GROUP BY resource, cluster_id "
     "ORDER BY rejected DESC LIMIT 50", ("resource", "cluster_id", "rejected", "last_seen")),
    ("Auth failures by source", "table", "table",
     "SELECT source_ip, actor, count() AS failures, max(at) AS last_seen FROM audit FINAL "
     "WHERE action LIKE '%auth%' AND result IN ('rejected', 'error') AND $__timeFilter(at) GROUP BY source_ip, actor "
     "ORDER BY failures DESC LIMIT 50", ("source_ip", "actor", "failures", "last_seen")),
    ("Audit events by action", "table", "table",
     "SELECT action, result, count() AS events FROM audit FINAL WHERE $__timeFilter(at) GROUP BY action, result "
     "ORDER BY events DESC", ("action", "result", "events")),
]

DASHBOARDS = {
    "aetherius-overview": ("Aetherius / Overview", OVERVIEW),
    "aetherius-diagnosis": ("Aetherius / Diagnosis", DIAGNOSIS),
    "aetherius-cost": ("Aetherius / Cost", COST),
    "aetherius-knowledge": ("Aetherius / Knowledge & feedback", KNOWLEDGE),
    "aetherius-security": ("Aetherius / Security", SECURITY),
}


def _variables(uid: str, panels: list[Panel]) -> list[dict]:
    sql = " ".join(p[3] for p in panels)
    out = []
    if "${cluster" in sql:
        out.append({
            "name": "cluster", "label": "Cluster", "type": "query", "datasource": DATASOURCE,
            "query": "SELECT DISTINCT cluster_id FROM tasks WHERE $__timeFilter(created_at) ORDER BY cluster_id",
            "definition": "SELECT DISTINCT cluster_id FROM tasks WHERE $__timeFilter(created_at) ORDER BY cluster_id",
            "refresh": 2, "multi": True, "includeAll": True,
            "current": {"selected": True, "text": ["All"], "value": ["$__all"]}, "sort": 1, "options": [],
        })
    if "${daily_budget}" in sql:
        out.append({"name": "daily_budget", "label": "Daily budget (USD)", "type": "constant", "query": "1000",
                    "hide": 2, "current": {"text": "1000", "value": "1000"}})
    return out


def _panel(pid: int, panel: Panel, x: int, y: int) -> dict:
    title, ptype, kind, sql, _ = panel
    width = 24 if ptype == "table" and kind == "table" else 12
    height = 4 if ptype == "stat" else 8
    return {
        "id": pid, "type": ptype, "title": title, "datasource": DATASOURCE,
        "gridPos": {"h": height, "w": 6 if ptype == "stat" else width, "x": x, "y": y},
        "targets": [{
            "refId": "A", "datasource": DATASOURCE, "editorType": "sql", "rawSql": sql,
            "queryType": "timeSeries" if kind == "ts" else "table", "format": 0 if kind == "ts" else 1,
        }],
        "fieldConfig": {"defaults": {}, "overrides": []}, "options": {},
    }


def dashboard(uid: str) -> dict:
    title, panels = DASHBOARDS[uid]
    out, x, y, row_h = [], 0, 0, 0
    for pid, panel in enumerate(panels, start=1):
        p = _panel(pid, panel, x, y)
        w, h = p["gridPos"]["w"], p["gridPos"]["h"]
        if x + w > 24:
            x, y = 0, y + row_h
            row_h = 0
            p["gridPos"].update(x=x, y=y)
        out.append(p)
        x, row_h = x + w, max(row_h, h)
    return {
        "uid": uid, "title": title, "tags": ["aetherius"], "timezone": "utc", "schemaVersion": 39, "version": 1,
        "editable": True, "refresh": "1m", "time": {"from": "now-24h", "to": "now"},
        "templating": {"list": _variables(uid, panels)}, "annotations": {"list": []}, "panels": out,
    }


def render(uid: str) -> str:
    return json.dumps(dashboard(uid), indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    for uid in DASHBOARDS:
        (OUT / f"{uid}.json").write_text(render(uid))
    print(f"wrote {len(DASHBOARDS)} dashboards to {OUT}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
