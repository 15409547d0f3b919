"""`aetherius webhook`: run the Alertmanager webhook bridge (and the manual-trigger API)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("webhook", help="serve POST /api/v1/webhook/alertmanager and /api/v1/tasks into Kafka")
    p.add_argument("--host", default=None, help="bind address (default: settings webhook.host)")
    p.add_argument("--port", type=int, default=None, help="port (default: settings webhook.port)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import logging

    from aiohttp import web

    from aetherius.cli import CliError
    from aetherius.logging import setup_logging
    from schemas.settings import load_settings
    from streams.producer import Producer
    from streams.webhook import create_app

    settings = load_settings()
    setup_logging(settings.log_level)
    host = args.host or settings.webhook.host
    port = args.port if args.port is not None else settings.webhook.port
    if not 0 <= port <= 65535:
        raise CliError(f"--port {port} is not a TCP port")
    _ensure_topics(settings)
    producer = Producer(settings.kafka.bootstrap, client_id="aetherius-webhook")
    app = create_app(settings, producer)
    logging.getLogger("aetherius.webhook").info("webhook bridge on http://%s:%d (kafka %s)", host, port,
                                                settings.kafka.bootstrap)
    from aetherius.http.tls import ssl_context_from

    try:
        tls = ssl_context_from(settings.security.tls)  # TLS 1.2+ when a cert/key is configured
    except Exception as exc:  # a missing or broken cert/key: one line, exit 2
        raise CliError(f"TLS: {exc}") from exc
    web.run_app(app, host=host, port=port, access_log=None, print=None, ssl_context=tls)
    return 0


def _ensure_topics(settings) -> None:  # noqa: ANN001
    """Create the catalogue's topics if Kafka answers now; if not, the bridge still starts (and says not
    ready until Kafka is there; the worker creates the topics too)."""
    import asyncio
    import logging

    from streams.admin import ensure_topics

    try:
        asyncio.run(asyncio.wait_for(ensure_topics(settings.kafka), timeout=15))
    except Exception as exc:  # noqa: BLE001 - unreachable Kafka is reported by /health/ready
        logging.getLogger("aetherius.webhook").warning("could not create topics at start-up: %s", exc)
