"""`aetherius gateway`: serve the read-only tool gateway (MCP, streamable HTTP) for one cluster.

    aetherius gateway --dump DIR --cluster ID --port P
    aetherius gateway --kubeconfig FILE [--context C] --cluster ID --port P

Listens on 127.0.0.1 by default. Another host is only accepted with a bearer token (env var named by
--token-env, default AETHERIUS_GATEWAY_TOKEN), since the caller's role travels in the request.
Audit events go to the log (JSON lines on stderr) until a Kafka sink is wired.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import os
import signal
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("gateway", help="serve the read-only MCP tool gateway over streamable HTTP")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--dump", metavar="DIR", help="a `kubectl cluster-info dump` directory")
    source.add_argument("--kubeconfig", metavar="FILE", help="a kubeconfig for a live cluster (read-only use)")
    p.add_argument("--context", default=None, help="kubeconfig context (default: the current one)")
    p.add_argument("--cluster", default="default", metavar="ID", help="cluster id callers name (default: default)")
    p.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8765, help="listen port (default 8765; 0 picks a free one)")
    p.add_argument("--registry", default=None, metavar="FILE", help="tool registry YAML (default deploy/tools/registry.yaml)")
    p.add_argument("--token-env", default="AETHERIUS_GATEWAY_TOKEN", metavar="NAME",
                   help="env var holding the bearer token clients must send (unset: no token required on loopback)")
    p.add_argument("--max-output-bytes", type=int, default=None, help="cap per tool answer (default 10 MB)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from aetherius.cli import CliError
    from aetherius.logging import setup_logging

    setup_logging(os.environ.get("AETHERIUS_LOG_LEVEL", "INFO"))
    if not 0 <= args.port <= 65535:
        raise CliError(f"--port {args.port} is not a TCP port")
    token = os.environ.get(args.token_env) or None
    if not _is_loopback(args.host) and not token:
        raise CliError(f"--host {args.host} is not a loopback address: set a bearer token in ${args.token_env} first")
    if args.max_output_bytes is not None and args.max_output_bytes < 1024:
        raise CliError("--max-output-bytes must be at least 1024")
    try:
        return asyncio.run(_serve(args, token))
    except KeyboardInterrupt:
        return 0


async def _serve(args: argparse.Namespace, token: str | None) -> int:
    from aetherius.cli import CliError
    from agents.cluster.reader import ReaderError
    from agents.gateway import DEFAULT_MAX_OUTPUT_BYTES, Gateway, GatewayServer, serving_http
    from agents.tools.registry import RegistryError, load_registry

    try:
        registry = load_registry(args.registry)
    except RegistryError as exc:
        raise CliError(str(exc)) from exc
    try:
        if args.dump:
            from agents.cluster.dump import DumpReader
            reader = DumpReader(args.dump, cluster_id=args.cluster)
        else:
            from agents.cluster.live import reader_from_kubeconfig
            reader = await reader_from_kubeconfig(args.kubeconfig, args.context, args.cluster)
    except ReaderError as exc:
        raise CliError(str(exc)) from exc
    gateway = Gateway(registry, {args.cluster: reader}, max_output_bytes=args.max_output_bytes or DEFAULT_MAX_OUTPUT_BYTES)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with serving_http(GatewayServer(gateway), host=args.host, port=args.port, token=token) as url:
            print(f"gateway ready: {url} (cluster {args.cluster}, {len(registry.tools)} read-only tools"
                  f"{', bearer token required' if token else ''})", flush=True)
            await stop.wait()
    except OSError as exc:
        raise CliError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from exc
    finally:
        close = getattr(reader, "close", None)
        if close is not None:
            await close()
    print("gateway stopped", file=sys.stderr)
    return 0


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
