"""`aetherius alert`: post one Alertmanager alert through the webhook bridge, exactly as Alertmanager would, then
follow it to its task and print the report.

With no flags it uses the running stack of the current context (the demo's bridge and its token). The bridge
deduplicates by the alert's labels inside `pipeline.dedup_window_seconds`: a repeat creates no new task, and this
command says so and shows the task that is already diagnosing it instead of waiting for nothing.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from datetime import datetime, timezone
from typing import Any

TERMINAL = ("completed", "failed", "timeout", "cancelled")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("alert", help="post an Alertmanager alert through the webhook bridge and show its report")
    p.add_argument("--cluster", required=True, help="cluster id (the cluster_id label)")
    p.add_argument("--namespace", required=True)
    p.add_argument("--pod", required=True, help="the pod the alert is about")
    p.add_argument("--alertname", default="KubePodNotReady")
    p.add_argument("--severity", default="warning", choices=["critical", "warning", "info"])
    p.add_argument("--summary", default="", help="the alert's summary annotation")
    p.add_argument("--no-wait", action="store_true", help="post and exit; do not wait for the report")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for the task to finish")
    p.add_argument("--webhook", default=None, help="the bridge's base URL (default: the current context's)")
    p.add_argument("--token", default=None, help="the bridge's bearer token (default: $AETHERIUS_WEBHOOK__BEARER_TOKEN, "
                                                  "else the context's)")
    p.add_argument("--api", default=None, help="the worker's base URL for following the task (default: the context's)")
    p.add_argument("--api-key", default=None, help="API key for the worker (default: $AETHERIUS_API_KEY, else the "
                                                   "context's)")
    p.set_defaults(func=run)


def payload(args: argparse.Namespace, now: datetime) -> dict[str, Any]:
    labels = {"alertname": args.alertname, "cluster_id": args.cluster, "namespace": args.namespace,
              "pod": args.pod, "severity": args.severity}
    summary = args.summary or f"{args.alertname} on {args.namespace}/{args.pod}"
    return {"version": "4", "status": "firing", "receiver": "aetherius",
            "groupKey": f'{{}}:{{alertname="{args.alertname}"}}', "truncatedAlerts": 0,
            "groupLabels": {"alertname": args.alertname}, "commonLabels": labels,
            "commonAnnotations": {"summary": summary}, "externalURL": "http://alertmanager.local:9093",
            "alerts": [{"status": "firing", "labels": labels, "annotations": {"summary": summary},
                        "startsAt": now.isoformat().replace("+00:00", "Z"), "endsAt": "0001-01-01T00:00:00Z",
                        "generatorURL": "http://prometheus.local:9090/graph"}]}


def _mine(task: dict[str, Any], fingerprint: str) -> bool:
    return task.get("alert_id") == fingerprint or fingerprint in task["context"].get("signal_fingerprints", [])


def run(args: argparse.Namespace) -> int:
    from aetherius.apiclient import call
    from aetherius.cli import CliError
    from aetherius.commands.tasks import listing, print_task, report_of, worker_target
    from aetherius.context import load_context, resolve
    from sinks.report import render_markdown

    bridge = resolve("webhook", args.webhook, None, default_url=None)
    if bridge is None:
        raise CliError(f"no webhook bridge to post to: {load_context().why_none}; pass --webhook URL and --token, "
                       "or start a stack with `make demo`")
    ctx = load_context().context
    token = args.token or os.environ.get("AETHERIUS_WEBHOOK__BEARER_TOKEN") or (ctx.webhook_token if ctx else "")
    posted_at = datetime.now(timezone.utc)
    answer = call(dataclasses.replace(bridge, api_key=None), "POST", "/api/v1/webhook/alertmanager",
                  what="webhook bridge", body=payload(args, posted_at),
                  headers={"Authorization": f"Bearer {token}"} if token else None)
    fingerprint = (answer.get("fingerprints") or [""])[0]
    print(f"posted {args.alertname} for {args.namespace}/{args.pod} in {args.cluster}: accepted "
          f"{answer.get('accepted')}, fingerprint {fingerprint}", file=sys.stderr)
    if args.no_wait:
        print(json.dumps(answer))
        return 0
    worker = worker_target(args)
    deadline = time.monotonic() + args.timeout
    task: dict[str, Any] | None = None
    said = False
    while time.monotonic() < deadline:
        mine = [t for t in listing(worker, limit=1000) if _mine(t, fingerprint)]
        if mine:
            task = max(mine, key=lambda t: t.get("created_at", ""))
            created = datetime.fromisoformat(task["created_at"].replace("Z", "+00:00"))
            if not said and created.timestamp() < posted_at.timestamp() - 1:
                print(f"deduplicated: this alert is already diagnosed by task {task['id'][:8]} (created "
                      f"{task['created_at'][:19]}); the bridge drops repeats of the same labels inside the dedup "
                      "window (pipeline.dedup_window_seconds). Change --pod or --alertname for a new task.",
                      file=sys.stderr)
            elif not said:
                print(f"task {task['id'][:8]} {task['priority']} {task['status']}", file=sys.stderr)
            said = True
            if task["status"] in TERMINAL:
                break
        time.sleep(0.5)
    if task is None:
        raise CliError(f"no task for fingerprint {fingerprint} after {args.timeout:.0f}s: it may be covered by an "
                       "open cross-cluster incident or still queued; see `aetherius tasks list`")
    if task["status"] not in TERMINAL:
        raise CliError(f"task {task['id']} is still {task['status']} after {args.timeout:.0f}s; "
                       f"`aetherius tasks show {task['id'][:8]}` shows it later")
    result, why = None, "no report yet"
    while time.monotonic() < deadline + 30:  # the report is sent just before the final snapshot; allow for lag
        result, why = report_of(task["id"])
        if result is not None:
            break
        time.sleep(0.5)
    print_task(task)
    print()
    print(render_markdown(result, task=task) if result is not None else f"report: {why}")
    return 0
