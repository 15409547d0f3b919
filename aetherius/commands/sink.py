"""`aetherius sink`: deliver reports (Slack, Teams, webhooks) and SOC security alerts, keep history in ClickHouse,
serve analytics."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sink", help="run the sinks: reports to Slack/Teams/webhooks, security alerts to the SOC, "
                                     "history to ClickHouse, analytics API")
    p.add_argument("--port", type=int, default=None, help="analytics API port (default: settings.analytics.api_port)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from aiokafka.errors import KafkaConnectionError

    from aetherius.cli import CliError
    from aetherius.compose import run_sink
    from schemas.settings import load_settings

    settings = load_settings()
    if args.port:
        settings.analytics.api_port = args.port
    try:
        return run_sink(settings)
    except KafkaConnectionError as exc:
        raise CliError(f"cannot reach Kafka at {settings.kafka.bootstrap} ({exc})") from None
