"""The other roles' APIs, asked with the signed-in person's own credential: they authenticate, authorise and audit
the person again, so the console can show nothing and do nothing the API would not let that person see or do."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import aiohttp

from sinks.console.sessions import bearer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Answer:
    status: int  # 0: the role did not answer
    body: Any

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def reason(self) -> str:
        """What went wrong, in words for the page."""
        if self.status == 0:
            return str(self.body)
        if isinstance(self.body, dict):
            for key in ("reason", "message", "error"):
                if self.body.get(key):
                    prefix = f"{self.body['param']}: " if self.body.get("param") else ""
                    return prefix + str(self.body[key])
        return f"HTTP {self.status}"


class Upstream:
    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._http: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()

    async def call(self, credential: str, method: str, url: str, *, params: dict[str, str] | None = None,
                   json: Any = None) -> Answer:
        assert self._http is not None, "Upstream.start() first"
        try:
            async with self._http.request(method, url, params=params, json=json, headers=bearer(credential)) as resp:
                try:
                    body = await resp.json(content_type=None)
                except ValueError:
                    body = {"error": (await resp.text())[:300]}
                return Answer(resp.status, body)
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            where = url.split("/api/", 1)[0]
            log.warning("console: %s did not answer: %s", where, type(exc).__name__)
            return Answer(0, f"{where} did not answer ({type(exc).__name__}); try again")
