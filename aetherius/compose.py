"""The composition root: which parts run in which role. The only module that knows them all."""

from __future__ import annotations

import logging

import faust

from agents.tools.types import ToolExecutor
from schemas.settings import Settings
from streams.app import Topics
from streams.pipeline import Pipeline
from streams.worker import Extension

log = logging.getLogger(__name__)


def tool_executor(settings: Settings, readers, audit_sink) -> ToolExecutor:
    """The MCP gateway in process for clusters read here; a remote gateway for clusters configured so."""
    from agents.gateway import Gateway, GatewayExecutor, GatewayServer
    from agents.tools.registry import load_registry
    from agents.tools.router import RoutedExecutor

    g = settings.gateway
    gateway = Gateway(load_registry(g.registry_file), readers, audit_sink=audit_sink, max_output_bytes=g.max_output_bytes)
    local = GatewayExecutor(GatewayServer(gateway), timeout_seconds=g.call_timeout_seconds)
    token = g.token.get_secret_value() if g.token else None
    remote = {cluster: GatewayExecutor(url, token=token, timeout_seconds=g.call_timeout_seconds)
              for cluster, url in g.remote.items()}
    return RoutedExecutor(local, remote) if remote else local


def step_loop_extension(settings: Settings) -> Extension:
    def extend(app: faust.App, topics: Topics, settings: Settings, pipe: Pipeline) -> None:
        from aetherius.readers import Readers
        from agents.engine import RulesEngine
        from agents.steploop import register_step_loop

        readers = Readers(settings.clusters)
        executor = tool_executor(settings, readers, topics.audit_sink())
        register_step_loop(app, topics, settings, pipe, engine=RulesEngine(), executor=executor)

        @app.task
        async def connect_clusters() -> None:
            try:
                await readers.connect_live()
            except Exception as exc:  # noqa: BLE001 - an unreachable cluster fails its own tasks only
                log.error("could not connect to a cluster: %s", exc)

    return extend


def worker_extensions(settings: Settings) -> tuple[Extension, ...]:
    return (step_loop_extension(settings),) if settings.worker.step_loop else ()
