"""`aetherius console`: the web console for the people on call - live tasks and steps, reports, feedback, stop,
incidents, audit log, costs and knowledge - at http://HOST:PORT/ui/ (settings `console.*`)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("console", help="serve the web console (/ui/): live tasks, reports, feedback, stop, "
                                        "incidents, audit log, costs, knowledge")
    p.add_argument("--host", default=None, help="listen address (default: settings console.host, 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="port (default: settings console.port, 8090)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from aetherius.cli import CliError
    from aetherius.compose import run_console
    from schemas.settings import load_settings

    settings = load_settings()
    if args.host:
        settings.console.host = args.host
    if args.port:
        settings.console.port = args.port
    if not settings.security.api_keys and settings.security.oidc is None:
        import logging

        logging.getLogger(__name__).warning("no credentials configured (security.api_keys or security.oidc): "
                                            "nobody can sign in until they are")
    try:
        return run_console(settings)
    except OSError as exc:
        raise CliError(f"cannot serve the console on {settings.console.host}:{settings.console.port}: {exc}") from None
