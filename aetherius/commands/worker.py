"""`aetherius worker`: run the stream pipeline, the Task API and the step loop."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("worker", help="run the pipeline worker (dedup, priority, correlation, scheduler, step loop)")
    p.add_argument("--port", type=int, default=None, help="HTTP port of the Task API (default: settings.worker.port)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from aetherius.compose import worker_extensions
    from schemas.settings import load_settings
    from streams.worker import run_worker

    from aiokafka.errors import KafkaConnectionError

    from aetherius.cli import CliError
    from aetherius.http.tls import TLSConfigError

    settings = load_settings()
    if args.port is not None:
        if not 1 <= args.port <= 65535:
            raise CliError(f"--port must be between 1 and 65535, not {args.port}")
        settings.worker.port = args.port
    try:
        return run_worker(settings, extensions=worker_extensions(settings))
    except TLSConfigError as exc:
        raise CliError(f"worker TLS: {exc}") from None
    except KafkaConnectionError as exc:
        raise CliError(f"cannot reach Kafka at {settings.kafka.bootstrap} ({exc}); "
                       "set AETHERIUS_KAFKA__BOOTSTRAP or start one with `aetherius kafka`") from None
