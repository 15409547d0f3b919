"""The composition root: which parts run in which role. The only module that knows them all."""

from __future__ import annotations

import logging

import faust

from schemas.settings import Settings
from streams.app import Topics
from streams.pipeline import Pipeline
from streams.worker import Extension

log = logging.getLogger(__name__)


def step_loop_extension(settings: Settings) -> Extension:
    def extend(app: faust.App, topics: Topics, settings: Settings, pipe: Pipeline) -> None:
        from aetherius.readers import Readers
        from agents.engine import RulesEngine
        from agents.steploop import register_step_loop
        from agents.tools.local import LocalExecutor

        readers = Readers(settings.clusters)
        executor = LocalExecutor(readers)  # type: ignore[arg-type]
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
