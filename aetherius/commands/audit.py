"""`aetherius audit`: the audit log (SRS §10) - who did what, newest first - from the sink's API or the store."""

from __future__ import annotations

import argparse
import json

from aetherius.context import analytics_source_defaults, apply_analytics, fetch_error_message
from sinks.clickhouse.terminal import DEFAULT_API, FetchError, add_source_args, fetch, table


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("audit", help="the audit log (SRS §10): who did what; needs role auditor or admin")
    p.add_argument("--start", help="RFC 3339 time (2026-11-20T08:00:00Z) or a date (default: 24 hours before --end)")
    p.add_argument("--end", help="RFC 3339 time or a date, that day included (default: now)")
    p.add_argument("--actor", help="only this actor (API key name, OIDC subject, component)")
    p.add_argument("--action", help="only this action, or a prefix ending in * (security.*)")
    p.add_argument("--cluster", help="only this cluster")
    p.add_argument("--result", choices=["allowed", "rejected", "error", "ok"])
    p.add_argument("--limit", type=int, default=50, help="rows per page (1-1000, default 50)")
    p.add_argument("--cursor", help="the next page: the cursor printed under the previous one")
    add_source_args(p)
    analytics_source_defaults(p)
    p.set_defaults(func=run)


def _direct(store, query, now):  # noqa: ANN001, ANN202
    from sinks.clickhouse import params, service

    return service.audit_report(store, params.parse_audit(query, now))


def run(args: argparse.Namespace) -> int:
    from aetherius.cli import CliError

    target = apply_analytics(args, DEFAULT_API)
    query = {"start": args.start, "end": args.end, "actor": args.actor, "action": args.action,
             "cluster": args.cluster, "result": args.result, "limit": str(args.limit), "cursor": args.cursor}
    try:
        body = fetch(args, "/api/v1/audit-logs", query, _direct)
    except FetchError as exc:
        raise CliError(fetch_error_message(target, exc)) from exc
    except ValueError as exc:  # ParamError in direct mode names the parameter
        raise CliError(str(exc)) from exc
    if args.json:
        print(json.dumps(body, indent=2))
        return 0
    rows = [{**item, "at": item["at"].replace("T", " ").removesuffix("Z"), "cluster": item["cluster_id"],
             "reason": (item.get("reason") or "")[:60]} for item in body["items"]]
    print(table(rows, ["at", "actor", "role", "action", "resource", "cluster", "result", "reason"],
                title=f"Audit log {body['from']} .. {body['to']} (newest first, times UTC)"))
    if body.get("next_cursor"):
        print(f"\nmore: aetherius audit ... --cursor {body['next_cursor']}")
    return 0
