"""Run one aiohttp app inside an already running event loop (a Faust worker's), with optional TLS.

Every role that is a Faust app (worker, sink) serves its HTTP this way instead of Faust's own web server, so the
routes carry `@require` marks and pass through `security_middlewares`. `attach_http_server` makes the server a
dependency of the Faust app that starts before the app's own services and stops after them: probes answer while
tables recover (a long recovery must not fail the liveness probe) and a request in flight at shutdown still has
its producer until the consumer has stopped.
"""

from __future__ import annotations

import logging
import ssl
from typing import Any

from aiohttp import web
from mode import Service

from aetherius.http.tls import ssl_context_from
from schemas.security_settings import TLSSettings

log = logging.getLogger(__name__)

SHUTDOWN_GRACE_SECONDS = 5.0  # requests in flight at stop get this long; aiohttp's default is 60 s


class HttpServer(Service):
    """An aiohttp `Application` on host:port for the lifetime of this mode Service."""

    def __init__(self, web_app: web.Application, host: str, port: int, *,
                 ssl_context: ssl.SSLContext | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.web_app = web_app
        self.host = host
        self.port = port
        self.ssl_context = ssl_context
        self._runner: web.AppRunner | None = None

    @property
    def scheme(self) -> str:
        return "https" if self.ssl_context is not None else "http"

    async def on_start(self) -> None:
        self._runner = web.AppRunner(self.web_app, access_log=None, shutdown_timeout=SHUTDOWN_GRACE_SECONDS)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, ssl_context=self.ssl_context)
        try:
            await site.start()
        except OSError as exc:
            await self._runner.cleanup()
            self._runner = None
            raise OSError(f"cannot serve HTTP on {self.host}:{self.port}: {exc.strerror or exc}") from None
        log.info("serving %s on %s:%s", self.scheme.upper(), self.host, self.port)

    async def on_stop(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()
            log.info("HTTP server on %s:%s stopped", self.host, self.port)


def attach_http_server(app: Any, web_app: web.Application, host: str, port: int,
                       tls: TLSSettings | None = None) -> HttpServer:
    """Serve `web_app` for the lifetime of the Faust (or any mode) `app`: first to start, last to stop.

    TLS is on when `tls` names a cert/key (TLS 1.2+, see aetherius.http.tls); a bad pair fails here, at build
    time, with a message naming the files."""
    server = HttpServer(web_app, host, port, ssl_context=ssl_context_from(tls) if tls else None,
                        beacon=app.beacon)
    app.add_dependency(server)
    return server
