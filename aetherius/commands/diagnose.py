"""`aetherius diagnose --dump DIR --alert FILE`: diagnose one alert against a cluster dump, offline.

`--format json` prints exactly one JSON object (the report as the webhook sink sends it: the DiagnosticResult
plus its rendered summaries); `markdown` the report as Slack/Teams/email get it. Both are redacted.
Exit 0 whenever a result was produced (also `unknown`), 2 with one line on stderr for unreadable input.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("diagnose", help="diagnose an Alertmanager alert against a `kubectl cluster-info dump` directory")
    p.add_argument("--dump", required=True, metavar="DIR", help="directory written by kubectl cluster-info dump --output-directory")
    p.add_argument("--alert", required=True, metavar="FILE", help="Alertmanager webhook payload (JSON); the first alert is used")
    p.add_argument("--engine", choices=("rules", "llm", "auto"), default="auto",
                   help="rules: rule engine only; llm: the LLM (needs one configured), rule findings as evidence; "
                        "auto (default): SRS 5.9.2 - the LLM when configured and chosen, else the rules")
    p.add_argument("--format", choices=("json", "markdown"), default="json")
    p.add_argument("--max-steps", type=int, default=10, help="tool calls allowed (1-20, default 10)")
    p.set_defaults(func=run)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def run(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from agents.cluster.reader import ReaderError
    from agents.diagnose import EngineUnavailable, diagnose_offline
    from aetherius.cli import CliError
    from schemas.alertmanager import AlertmanagerPayload
    from streams.admission import AdmissionError, check_alert, redacted_alert
    from sinks.report import render_json, render_markdown

    if not 1 <= args.max_steps <= 20:
        raise CliError(f"--max-steps must be between 1 and 20, got {args.max_steps}")
    dump = Path(args.dump)
    if not dump.is_dir():
        raise CliError(f"--dump {dump}: not a directory")
    try:
        raw = Path(args.alert).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"--alert {args.alert}: cannot read ({_one_line(exc)})") from exc
    try:
        payload = AlertmanagerPayload.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "payload"
        raise CliError(f"--alert {args.alert}: not an Alertmanager payload ({where}: {_one_line(first.get('msg', ''))})") from exc
    try:  # the same door as the webhook bridge: names and sizes checked, text redacted before it is used
        check_alert(payload.alerts[0], "alerts[0]")
    except AdmissionError as exc:
        raise CliError(f"--alert {args.alert}: {exc.field}: {_one_line(exc.message)}") from exc
    payload = payload.model_copy(update={"alerts": [redacted_alert(payload.alerts[0])]})
    try:
        result = asyncio.run(diagnose_offline(dump, payload, engine=args.engine, max_steps=args.max_steps))
    except (ReaderError, EngineUnavailable, ValueError) as exc:
        raise CliError(_one_line(exc)) from exc
    # The report exactly as the sinks render it (redacted once more on the way out, like every channel).
    print(json.dumps(render_json(result), ensure_ascii=False) if args.format == "json" else render_markdown(result),
          end="" if args.format == "markdown" else "\n")
    return 0
