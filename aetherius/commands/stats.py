"""`aetherius stats`: diagnosis counts, durations, MTTR, feedback and top alerts (FR-18)."""

from __future__ import annotations

import argparse
import json

from aetherius.context import analytics_source_defaults, apply_analytics, fetch_error_message
from sinks.clickhouse.terminal import DEFAULT_API, FetchError, add_source_args, fetch, table


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("stats", help="diagnosis statistics (FR-18), from the analytics API or store")
    p.add_argument("--from", dest="start", help="start: ISO 8601 or Unix seconds (default: 24 hours ago)")
    p.add_argument("--to", dest="end", help="end (default: now)")
    p.add_argument("--cluster", help="only this cluster")
    p.add_argument("--top", type=int, default=10, help="how many alertnames to list")
    add_source_args(p)
    analytics_source_defaults(p)
    p.set_defaults(func=run)


def _direct(store, query, now):
    from sinks.clickhouse import params, service

    return service.stats_report(store, params.parse_stats(query, now))


def run(args: argparse.Namespace) -> int:
    from aetherius.cli import CliError

    target = apply_analytics(args, DEFAULT_API)
    query = {"from": args.start, "to": args.end, "cluster": args.cluster, "top": str(args.top)}
    try:
        body = fetch(args, "/api/v1/stats", query, _direct)
    except FetchError as exc:
        raise CliError(fetch_error_message(target, exc)) from exc
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    if args.json:
        print(json.dumps(body, indent=2))
        return 0
    scope = f" in cluster {body['cluster']}" if body.get("cluster") else ""
    print(f"Diagnoses {body['from']} .. {body['to']}{scope}\n")
    print(table(body["by_status"], ["status", "tasks"], title="By status"), end="\n\n")
    print(table(body["by_category"], ["category", "reports", "avg_confidence"], title="By category"), end="\n\n")
    d, f = body["durations"], body["feedback"]
    summary = [{"metric": "finished tasks", "value": d.get("finished")},
               {"metric": "duration p50 (s)", "value": d.get("duration_p50_seconds")},
               {"metric": "duration p95 (s)", "value": d.get("duration_p95_seconds")},
               {"metric": "MTTR (s)", "value": d.get("mttr_seconds")},
               {"metric": "feedback votes", "value": f.get("votes")},
               {"metric": "feedback avg rating (1-5)", "value": f.get("avg_rating")},
               {"metric": "helpful ratio", "value": f.get("helpful_ratio")}]
    print(table(summary, ["metric", "value"], title="Durations and feedback"), end="\n\n")
    print(table(body["top_alertnames"], ["alertname", "tasks"], title="Top alertnames"))
    return 0
