"""The worker role: the whole pipeline (and, once registered, the step loop) in one Faust worker, serving the
Task API from our own aiohttp app in the same event loop (Faust's web server stays off)."""

from __future__ import annotations

import asyncio
import logging
import sys
import weakref
from typing import Callable

import faust
from aiohttp.web import Application

from aetherius.http.server import attach_http_server
from aetherius.logging import setup_logging
from schemas.settings import Settings
from streams.admin import ensure_topics
from streams.app import Topics, create_app
from streams.liveness import LivenessMonitor
from streams.pipeline import Pipeline, build_pipeline
from streams.task_api import create_worker_web_app

log = logging.getLogger(__name__)

# Extra parts (step loop, sinks) register themselves on the app through hooks like this one.
Extension = Callable[[faust.App, Topics, Settings, Pipeline], None]

_WEB_APPS: "weakref.WeakKeyDictionary[faust.App, Application]" = weakref.WeakKeyDictionary()


def worker_web_app(app: faust.App) -> Application | None:
    """The worker's aiohttp app, for an extension that serves routes from the worker (e.g. the knowledge base
    it owns). Add routes while extending (the router freezes when the server starts); mark each handler with
    `@require` and list it in aetherius.http.openapi.CATALOGUE (tests/test_openapi.py checks both)."""
    return _WEB_APPS.get(app)


def build_worker_app(settings: Settings, *, web: bool = True,
                     extensions: tuple[Extension, ...] = ()) -> tuple[faust.App, Pipeline]:
    """The worker's Faust app. With `web`, its HTTP server (settings.worker.host/port, TLS from
    settings.security.tls) starts before the app's services and stops after them."""
    app, topics = create_app(settings, web=web)
    pipe = build_pipeline(app, topics, settings)
    monitor = liveness_monitor(app, settings)
    if web:
        _WEB_APPS[app] = web_app = create_worker_web_app(app, pipe, settings, live=monitor.live)
        attach_http_server(app, web_app, settings.worker.host, settings.worker.port, settings.security.tls)
    for extend in extensions:
        extend(app, topics, settings, pipe)
    return app, pipe


def liveness_monitor(app: faust.App, settings: Settings) -> LivenessMonitor:
    """The stall check behind /health/live of a role that runs Faust agents (worker, sink)."""
    monitor = LivenessMonitor(app, stall_seconds=settings.worker.stall_seconds,
                              recovery_stall_seconds=settings.worker.recovery_stall_seconds)
    monitor.register(app)
    return monitor


def run_worker(settings: Settings, extensions: tuple[Extension, ...] = ()) -> int:
    setup_logging(settings.log_level)
    asyncio.run(ensure_topics(settings.kafka))
    app, _pipe = build_worker_app(settings, extensions=extensions)  # a bad TLS cert/key fails here
    if not settings.security.api_keys and settings.security.oidc is None:
        log.warning("no API keys and no OIDC configured: every Task API call will be refused (401); "
                    "see docs/security.md")
    return run_faust(app, settings)


def run_faust(app: faust.App, settings: Settings) -> int:
    """Run a Faust app in the foreground with our logging left alone; blocks until SIGTERM/SIGINT."""
    worker = faust.Worker(app, loglevel=settings.log_level, quiet=True, redirect_stdouts=False,
                          override_logging=False)
    if not sys.stdout.isatty():  # its spinner writes cursor escape codes (\x1b[?25h) into log files
        worker.spinner = None
    worker.execute_from_commandline()  # exits the process
    return 0
