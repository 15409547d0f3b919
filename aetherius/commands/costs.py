"""`aetherius costs`: LLM tokens and dollars by day/cluster/task/model/priority, with totals and the budget."""

from __future__ import annotations

import argparse
import json

from aetherius.context import analytics_source_defaults, apply_analytics, fetch_error_message
from sinks.clickhouse.terminal import DEFAULT_API, FetchError, add_source_args, fetch, table


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("costs", help="token and $ spend (FR-12), from the analytics API or store")
    p.add_argument("--from", dest="start", help="start: ISO 8601 or Unix seconds (default: 30 days ago)")
    p.add_argument("--to", dest="end", help="end (default: now)")
    p.add_argument("--group-by", default="day", choices=["day", "cluster", "task", "model", "priority"])
    add_source_args(p)
    analytics_source_defaults(p)
    p.set_defaults(func=run)


def _direct_costs(store, query, now):
    from sinks.clickhouse import params, service

    window, group_by = params.parse_costs(query, now)
    return service.costs_report(store, window, group_by)


def _direct_budget(store, query, now):
    from schemas.settings import load_settings
    from sinks.clickhouse import service

    limits = load_settings().tasks
    return service.budget_report(store, limits.daily_budget_usd, limits.monthly_budget_usd, now)


def run(args: argparse.Namespace) -> int:
    from aetherius.cli import CliError

    target = apply_analytics(args, DEFAULT_API)
    try:
        costs = fetch(args, "/api/v1/costs", {"from": args.start, "to": args.end, "group_by": args.group_by},
                      _direct_costs)
        budget = fetch(args, "/api/v1/budget", {}, _direct_budget)
    except FetchError as exc:
        raise CliError(fetch_error_message(target, exc)) from exc
    except ValueError as exc:  # ParamError in direct mode
        raise CliError(str(exc)) from exc
    if args.json:
        print(json.dumps({"costs": costs, "budget": budget}, indent=2))
        return 0
    columns = ["key", "calls", "prompt_tokens", "completion_tokens", "tokens", "cost_usd"]
    print(table(costs["rows"], columns, title=f"Costs by {costs['group_by']}, {costs['from']} .. {costs['to']}"))
    print(table([{"key": "TOTAL", **costs["totals"]}], columns))
    print()
    rows = [{"period": name, **{k: budget[name][k] for k in ("spent_usd", "limit_usd", "usage_pct", "remaining_usd")}}
            for name in ("today", "month")]
    print(table(rows, ["period", "spent_usd", "limit_usd", "usage_pct", "remaining_usd"], title="Budget"))
    deg = budget["degradation"]
    print(f"Degradation level {deg['level']}" + (f": {'; '.join(deg['reasons'])}" if deg["reasons"] else " (normal)"))
    return 0
