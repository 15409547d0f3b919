"""Server-sent events: each open page gets the board's changes as HTML fragments, rendered on the server.

The board wakes every stream when it changes; each stream then reads `changes_since(its version)`, renders what
its page shows and writes it with the board version as the event id. A reconnecting browser sends that id back
(Last-Event-ID) and gets what it missed; when the change log no longer reaches back, it is told to reload.
A stream that cannot keep up is simply behind: it never holds a queue, so a slow client costs no memory.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Awaitable, Callable

from aiohttp import web
from prometheus_client import Gauge

from aetherius.metrics import REGISTRY
from sinks.console.board import Board, Change

log = logging.getLogger(__name__)

STREAMS = Gauge("aetherius_console_streams", "Live (SSE) connections held by the console", registry=REGISTRY)

Event = tuple[str, dict]  # (event name, data)
RELOAD_AFTER = 2_000  # changes missed: beyond this a stream tells its page to reload instead of catching up
Render = Callable[[list[Change]], Awaitable[list[Event]]]


class Hub:
    def __init__(self, board: Board, max_streams: int, heartbeat: float) -> None:
        self.board = board
        self.max_streams = max_streams
        self.heartbeat = heartbeat
        self._wakers: set[asyncio.Event] = set()
        self._closing = asyncio.Event()
        board.listeners.append(self.wake)

    def wake(self) -> None:
        for waker in self._wakers:
            waker.set()

    @property
    def open_streams(self) -> int:
        return len(self._wakers)

    def close_all(self) -> None:
        """At shutdown: every stream ends (the browsers reconnect to whatever serves next)."""
        self._closing.set()
        self.wake()

    async def stream(self, request: web.Request, since: int, render: Render) -> web.StreamResponse:
        if len(self._wakers) >= self.max_streams:
            return web.json_response({"error": "unavailable", "reason": "too many live connections"}, status=503,
                                     headers={"Retry-After": "10"})
        last = request.headers.get("Last-Event-ID", "")
        version = int(last) if last.isdigit() else since
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store",
                                               "X-Accel-Buffering": "no"})
        await response.prepare(request)
        waker = asyncio.Event()
        self._wakers.add(waker)
        STREAMS.set(len(self._wakers))
        try:
            await response.write(b"retry: 2000\n\n")
            while not self._closing.is_set():
                changes = self.board.changes_since(version)
                if changes is None or len(changes) > RELOAD_AFTER:  # further back than the log, or so far that a
                    await response.write(_event("reload", {}, self.board.version))  # fresh page is cheaper
                    break
                if changes:
                    version = changes[-1].version
                    events = await render(changes)
                    if events:
                        await response.write(b"".join(_event(name, data, version) for name, data in events))
                    continue
                waker.clear()
                if self.board.version > version:
                    continue
                try:
                    await asyncio.wait_for(waker.wait(), self.heartbeat)
                except asyncio.TimeoutError:
                    await response.write(b": keep-alive\n\n")
        except ConnectionResetError:
            pass  # the browser left (a cancelled handler unwinds through finally, as it must)
        finally:
            self._wakers.discard(waker)
            STREAMS.set(len(self._wakers))
        return response


def _event(name: str, data: dict, version: int) -> bytes:
    return f"id: {version}\nevent: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()
