"""A real small model for the LLM wire tests: llama-cpp-python's OpenAI-compatible server with SmolLM2-135M.

`deploy/tools/install-llama-server.sh` builds the server from source once and caches it (setup runs it; so does
the first test that needs it, when setup did not); the tests skip only when it says the build is impossible here
(exit 3: no compiler, no Python headers), with its reason. The server is started on 127.0.0.1 on a free port with
`--chat_format chatml-function-calling` and stopped by its PID.

`WireRecorder` sits between the client and the server and keeps every exchange (request body, HTTP status,
response body): what was sent, what came back, and the tokens the server reported - so a test can count round
trips and compare the tokens booked on the costs topic with the tokens served.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import pytest
from aiohttp import ClientSession, ClientTimeout, web

from aetherius.localkafka import free_port
from tests.threaded import InThread

ROOT = Path(__file__).resolve().parent.parent
INSTALL = ROOT / "deploy" / "tools" / "install-llama-server.sh"
MODEL = "smollm2"
IMPOSSIBLE = 3  # the install script's "cannot build here" exit code


def install() -> Path:
    """The cached server's directory, building it first if needed (minutes, once); skips when impossible here."""
    proc = subprocess.run(["bash", str(INSTALL)], capture_output=True, text=True, timeout=3600)
    if proc.returncode == IMPOSSIBLE:
        pytest.skip(proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "llama server cannot be built here")
    if proc.returncode != 0:
        pytest.fail(f"install-llama-server.sh failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return Path(proc.stdout.strip().splitlines()[-1])


@dataclass
class LlamaServer:
    home: Path
    log: Path
    port: int = 0
    proc: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self, timeout: float = 180.0) -> "LlamaServer":
        self.port = free_port()
        cmd = [str(self.home / "bin" / "python"), "-m", "llama_cpp.server", "--model", str(self.home / "model.gguf"),
               "--model_alias", MODEL, "--chat_format", "chatml-function-calling", "--n_ctx", "8192",
               "--n_threads", str(min(2, os.cpu_count() or 1)), "--host", "127.0.0.1", "--port", str(self.port),
               "--verbose", "False"]
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"llama server exited with {self.proc.returncode}: {self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(self.base_url + "/models", timeout=2) as resp:
                    if resp.status == 200:
                        return self
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"llama server not ready in {timeout}s: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)


@dataclass
class Exchange:
    request: dict[str, Any]
    status: int
    response: dict[str, Any]
    seconds: float

    @property
    def tool_calls(self) -> list[dict[str, Any]]:
        choices = self.response.get("choices") or [{}]
        return (choices[0].get("message") or {}).get("tool_calls") or []

    @property
    def tokens(self) -> int:
        usage = self.response.get("usage") or {}
        return int(usage.get("prompt_tokens") or 0) + int(usage.get("completion_tokens") or 0)


@dataclass
class WireRecorder:
    """An HTTP pass-through to the model server that records every chat completion."""

    upstream: str
    exchanges: list[Exchange] = field(default_factory=list)
    in_flight: int = 0  # chat completions sent upstream and not yet answered
    base_url: str = ""
    _runner: web.AppRunner | None = None
    _session: ClientSession | None = None

    async def __aenter__(self) -> "WireRecorder":
        self._session = ClientSession(timeout=ClientTimeout(total=None))
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/v1/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.base_url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/v1"  # type: ignore[union-attr]
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    async def _forward(self, request: web.Request) -> web.Response:
        assert self._session is not None
        body = await request.read()
        started = time.monotonic()
        url = self.upstream + "/" + request.match_info["tail"]
        chat = request.path.endswith("/chat/completions")
        self.in_flight += chat
        try:
            async with self._session.request(request.method, url, data=body or None, headers={
                    "Content-Type": request.headers.get("Content-Type", "application/json")}) as resp:
                payload = await resp.read()
                status, content_type = resp.status, resp.headers.get("Content-Type", "application/json")
        finally:
            self.in_flight -= chat
        if chat:
            self.exchanges.append(Exchange(request=_json(body), status=status, response=_json(payload),
                                           seconds=time.monotonic() - started))
        return web.Response(status=status, body=payload, headers={"Content-Type": content_type})

    def served_tokens(self) -> int:
        return sum(e.tokens for e in self.exchanges if e.status == 200)


def _json(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw or b"{}")
    except ValueError:
        return {"raw": raw.decode(errors="replace")[:2000]}
    return value if isinstance(value, dict) else {"value": value}


class RecorderThread(InThread[WireRecorder]):
    def __init__(self, upstream: str) -> None:
        super().__init__(WireRecorder(upstream))


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory) -> Iterator[LlamaServer]:
    server = LlamaServer(install(), tmp_path_factory.mktemp("llama") / "server.log").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def model_wire(llama_server: LlamaServer) -> Iterator[WireRecorder]:
    """A fresh recorder in front of the session's server, for one test."""
    with RecorderThread(llama_server.base_url) as recorder:
        yield recorder


def llm_env(base_url: str, **extra: str) -> dict[str, str]:
    """Settings for `aetherius` processes pointed at the real model: priced at 0, so held by tokens."""
    return {"AETHERIUS_LLM__BASE_URL": base_url, "AETHERIUS_LLM__API_KEY": "local",
            "AETHERIUS_LLM__CHEAP_MODEL": MODEL, "AETHERIUS_LLM__STRONG_MODEL": MODEL,
            "AETHERIUS_LLM__PRICES": json.dumps({MODEL: [0, 0]}), "AETHERIUS_LLM__TIMEOUT_SECONDS": "240",
            "AETHERIUS_LLM__MAX_TOKENS": "256", **extra}


__all__ = ["Exchange", "LlamaServer", "MODEL", "RecorderThread", "WireRecorder", "install", "llama_server",
           "llm_env", "model_wire"]
