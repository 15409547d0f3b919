"""`aetherius gateway`: serve the read-only tool gateway (MCP, streamable HTTP) for one cluster.

    aetherius gateway --dump DIR --cluster ID --port P
    aetherius gateway --kubeconfig FILE [--context C] --cluster ID --port P

Every caller is verified with the same credentials as the HTTP roles - `security.api_keys` (sent as
`Authorization: Bearer <key>` or `X-API-Key`) or OIDC JWTs (`security.oidc`) - and its role and name come from
that credential, never from the request (agents/gateway/server.py). Without any configured credential the
gateway refuses to start. Listens on 127.0.0.1 by default.

Audit events (every call, every refused login, every `security.<kind>`) go to the audit topic on
`kafka.bootstrap` like every other role's, so the sink alerts the SOC; while Kafka is unreachable each event is
written to the log instead (never dropped silently).
"""

from __future__ import annotations

import argparse
import asyncio
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
    p.add_argument("--max-output-bytes", type=int, default=None, help="cap per tool answer (default 10 MB)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from aetherius.cli import CliError
    from aetherius.logging import setup_logging
    from schemas.settings import load_settings

    settings = load_settings()
    setup_logging(os.environ.get("AETHERIUS_LOG_LEVEL", settings.log_level))
    if not 0 <= args.port <= 65535:
        raise CliError(f"--port {args.port} is not a TCP port")
    if not settings.security.api_keys and settings.security.oidc is None:
        raise CliError("no caller credentials configured: set security.api_keys (AETHERIUS_SECURITY__API_KEYS) "
                       "or security.oidc - the gateway takes each caller's role from a verified credential")
    if args.max_output_bytes is not None and args.max_output_bytes < 1024:
        raise CliError("--max-output-bytes must be at least 1024")
    try:
        return asyncio.run(_serve(args, settings))
    except KeyboardInterrupt:
        return 0


async def _serve(args: argparse.Namespace, settings) -> int:  # noqa: ANN001 - schemas.settings.Settings
    from aetherius.cli import CliError
    from aetherius.http.auth import Authenticator
    from agents.cluster.reader import ReaderError
    from agents.gateway import DEFAULT_MAX_OUTPUT_BYTES, Gateway, GatewayServer, serving_http
    from agents.tools.registry import RegistryError, load_registry
    from schemas.audit import AuditEvent
    from schemas.topics import topic_name
    from streams.producer import Producer, audit_publisher, connect_with_retry

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
    producer = Producer(settings.kafka.bootstrap, client_id="aetherius-gateway")
    audit = audit_publisher(producer, topic_name(settings.kafka.topic_prefix, "audit"))
    gateway = Gateway(registry, {args.cluster: reader}, audit_sink=audit,
                      max_output_bytes=args.max_output_bytes or DEFAULT_MAX_OUTPUT_BYTES)

    async def refused(scope, failure) -> None:  # noqa: ANN001 - an ASGI scope, an AuthFailure
        client = scope.get("client") or ("", 0)
        await audit(AuditEvent(actor="anonymous", action="mcp.request", resource=f"{scope.get('method', '')} "
                               f"{scope.get('path', '')}", cluster_id=args.cluster, result="rejected",
                               reason=failure.reason, source_ip=client[0] or "",
                               details={"status": failure.status, "transport": "streamable-http"}))

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:  # the audit topic first, so the first call's events are not only in the log
        from streams.admin import ensure_topics
        await asyncio.wait_for(ensure_topics(settings.kafka), timeout=15)
        await asyncio.wait_for(producer.start(), timeout=10)
    except Exception as exc:  # noqa: BLE001 - serve anyway: audit events go to the log until Kafka answers
        import logging
        logging.getLogger("aetherius.gateway").warning("audit topic not reachable at start (%s): events go to the "
                                                       "log until it is", type(exc).__name__)
    connecting = asyncio.create_task(connect_with_retry(producer, stop))
    try:
        async with serving_http(GatewayServer(gateway), authenticator=Authenticator(settings.security),
                                host=args.host, port=args.port, on_refusal=refused) as url:
            print(f"gateway ready: {url} (cluster {args.cluster}, {len(registry.tools)} read-only tools, "
                  f"verified callers only; audit to {settings.kafka.bootstrap})", flush=True)
            await stop.wait()
    except OSError as exc:
        raise CliError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from exc
    finally:
        stop.set()
        connecting.cancel()
        await asyncio.gather(connecting, return_exceptions=True)
        await asyncio.sleep(0.2)  # let the last audit sends leave
        await producer.stop()
        close = getattr(reader, "close", None)
        if close is not None:
            await close()
    print("gateway stopped", file=sys.stderr)
    return 0


