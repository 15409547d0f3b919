"""`aetherius tasks`: list, show (with the report) and cancel diagnostic tasks through the worker's Task API.

With no flags it talks to the running stack of the current context (aetherius/context.py), as kubectl does.
A task can be named by its full id or by a unique prefix (the listing shows the first 8 characters)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

WHAT = "Task API"


def add_api_args(p: argparse.ArgumentParser, role: str) -> None:
    p.add_argument("--api", default=None, help=f"the {role}'s base URL (default: the current context's, see "
                                                "`aetherius context`)")
    p.add_argument("--api-key", default=None, help="API key (default: $AETHERIUS_API_KEY, else the context's key)")
    p.add_argument("--json", action="store_true", help="print JSON")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tasks", help="list, show and cancel diagnostic tasks (the worker's Task API)")
    tasks = p.add_subparsers(dest="tasks_command", required=True, metavar="ACTION")
    lst = tasks.add_parser("list", help="tasks, newest first")
    lst.add_argument("--status", help="pending, running, completed, failed, cancelled, timeout")
    lst.add_argument("--cluster", help="only this cluster")
    lst.add_argument("--priority", help="P0..P3")
    lst.add_argument("--limit", type=int, default=50)
    add_api_args(lst, "worker")
    show = tasks.add_parser("show", help="one task and its report")
    show.add_argument("task_id", help="task id or a unique prefix of it")
    show.add_argument("--no-report", action="store_true", help="do not read the report from Kafka")
    add_api_args(show, "worker")
    cancel = tasks.add_parser("cancel", help="cancel a pending or running task")
    cancel.add_argument("task_id", help="task id or a unique prefix of it")
    add_api_args(cancel, "worker")
    p.set_defaults(func=run)


def worker_target(args: argparse.Namespace):  # noqa: ANN201 - Target
    """--api > the context's worker > the configured worker (worker.host:worker.port)."""
    from aetherius.context import resolve
    from schemas.settings import load_settings

    worker = load_settings().worker
    return resolve("worker", args.api, args.api_key, default_url=f"http://{worker.host}:{worker.port}")


def listing(target, **query: Any) -> list[dict[str, Any]]:  # noqa: ANN001
    from aetherius.apiclient import call

    return call(target, "GET", "/api/v1/tasks", what=WHAT, query=query)["tasks"]


def find_task(target, ref: str) -> dict[str, Any]:  # noqa: ANN001
    """The task with id `ref`, or the one task whose id starts with `ref`."""
    from aetherius.apiclient import call
    from aetherius.cli import CliError

    ref = ref.strip().lower()
    if len(ref) == 36:
        return call(target, "GET", f"/api/v1/tasks/{ref}", what=WHAT)
    if len(ref) < 4:
        raise CliError(f"task id {ref!r}: give at least 4 characters of it")
    found = [t for t in listing(target, limit=1000) if t["id"].startswith(ref)]
    if not found:
        raise CliError(f"no task whose id starts with {ref!r} (see `aetherius tasks list`)")
    if len(found) > 1:
        raise CliError(f"{ref!r} matches {len(found)} tasks ({', '.join(t['id'] for t in found[:5])}); give more of it")
    return found[0]


def kafka_of_stack() -> tuple[str, str]:
    """(bootstrap, topic prefix) of the current context's stack, else of the settings."""
    from aetherius.context import load_context
    from schemas.settings import load_settings

    ctx = load_context().context
    if ctx is not None and ctx.kafka_bootstrap:
        return ctx.kafka_bootstrap, ctx.topic_prefix
    kafka = load_settings().kafka
    return kafka.bootstrap, kafka.topic_prefix


def report_of(task_id: str, timeout: float = 30.0) -> tuple[Any, str]:
    """(DiagnosticResult or None, why none)."""
    from aetherius.reportfeed import read_reports

    bootstrap, prefix = kafka_of_stack()
    try:
        found = read_reports(bootstrap, prefix, {task_id}, timeout=timeout)
    except Exception as exc:  # noqa: BLE001 - Kafka down or the topic missing: the task is still worth showing
        return None, f"could not read the reports topic at {bootstrap}: {type(exc).__name__}: {exc}"
    return found.get(task_id), "no report yet"


def task_rows(tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"task": t["id"][:8], "priority": t["priority"], "cluster": t["cluster_id"],
             "alert": t["context"]["alertname"],
             "target": f"{t['resource']['kind'].lower()}/{t['namespace']}/{t['resource']['name']}",
             "status": t["status"], "created": str(t.get("created_at", ""))[:19],
             "incident": (t["context"].get("incident_id") or "")[:8]} for t in tasks]


TASK_COLUMNS = ["task", "priority", "cluster", "alert", "target", "status", "incident", "created"]


def print_task(task: dict[str, Any], out=sys.stdout) -> None:  # noqa: ANN001
    ctx = task["context"]
    lines = [f"task {task['id']}  {task['priority']}  {task['status']}"
             + (f" ({task['status_reason']})" if task.get("status_reason") else ""),
             f"alert:   {ctx['alertname']} ({ctx['severity']}) on {task['resource']['kind'].lower()}/"
             f"{task['namespace']}/{task['resource']['name']} in cluster {task['cluster_id']}",
             f"created: {task.get('created_at')}  started: {task.get('started_at') or '-'}  "
             f"completed: {task.get('completed_at') or '-'}"]
    if ctx.get("incident_id"):
        others = [c for c in ctx.get("clusters", []) if c != task["cluster_id"]]
        lines.append(f"incident: {ctx['incident_id']} (also firing in {', '.join(others) or '-'})")
    if task.get("requested_by"):
        lines.append(f"requested by: {task['requested_by'].get('subject')} ({task['requested_by'].get('role')})")
    print("\n".join(lines), file=out)


def run(args: argparse.Namespace) -> int:
    from aetherius.apiclient import call
    from sinks.clickhouse.terminal import table

    target = worker_target(args)
    c = args.tasks_command
    if c == "list":
        tasks = listing(target, status=args.status, cluster=args.cluster, priority=args.priority, limit=args.limit)
        if args.json:
            print(json.dumps(tasks, indent=2))
        else:
            print(table(task_rows(tasks), TASK_COLUMNS, title=f"Tasks at {target.url} (newest first)"))
        return 0
    task = find_task(target, args.task_id)
    if c == "show":
        result, why = (None, "not read (--no-report)") if args.no_report else report_of(task["id"])
        if args.json:
            print(json.dumps({"task": task, "report": result.model_dump(mode="json") if result else None}, indent=2))
            return 0
        print_task(task)
        print()
        if result is not None:
            from sinks.report import render_markdown

            print(render_markdown(result, task=task))
        else:
            print(f"report: {why}")
        return 0
    if task["status"] in ("completed", "failed", "timeout", "cancelled"):  # cancel is idempotent: nothing to stop
        print(json.dumps({"task_id": task["id"], "status": task["status"]}) if args.json else
              f"task {task['id']} already ended: {task['status']}"
              + (f" ({task['status_reason']})" if task.get("status_reason") else "") + "; nothing to cancel")
        return 0
    answer = call(target, "POST", f"/api/v1/tasks/{task['id']}/cancel", what=WHAT, body={})
    print(json.dumps(answer) if args.json else f"task {answer['task_id']}: {answer['status']} "
          f"(was {task['status']}; `aetherius tasks show {task['id'][:8]}` shows how it ended)")
    return 0
