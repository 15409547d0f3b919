"""The real roles as processes on the real broker, with the console in front: what the browser tests and the
console benchmark run against. `aetherius worker`, `sink`, `webhook` and `console` are started through the CLI,
each with its own log; API keys per human role (tests/workerproc.TEST_KEYS); one unique topic prefix.

Clusters are the demo's `kubectl cluster-info dump`s, plus `slow`: a kubeconfig pointing at a local API server
that answers every request after `SLOW_SECONDS`, so a task there stays running long enough to be stopped.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aetherius.localkafka import free_port
from tests.workerproc import TEST_KEYS, api_keys_env

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "deploy" / "demo"
SLOW_SECONDS = 8.0
WEBHOOK_TOKEN = "console-test-webhook-token"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


class SlowKubeAPI:
    """A Kubernetes API that is reachable and never quick: every answer comes after `delay` seconds (a 503)."""

    def __init__(self, delay: float = SLOW_SECONDS) -> None:
        self.delay = delay
        self.port = free_port()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        from aiohttp import web

        async def slow(_request: web.Request) -> web.Response:
            await asyncio.sleep(self.delay)
            return web.json_response({"kind": "Status", "status": "Failure", "code": 503,
                                      "message": "the test's slow API server"}, status=503)

        async def main() -> None:
            app = web.Application()
            app.router.add_route("*", "/{tail:.*}", slow)
            runner = web.AppRunner(app)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", self.port).start()
            while True:
                await asyncio.sleep(3600)

        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(main())

    def start(self) -> "SlowKubeAPI":
        self._thread.start()
        return self

    def kubeconfig(self, path: Path) -> Path:
        path.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "slow",
            "clusters": [{"name": "slow", "cluster": {"server": f"http://127.0.0.1:{self.port}"}}],
            "users": [{"name": "u", "user": {"token": "t"}}],
            "contexts": [{"name": "slow", "context": {"cluster": "slow", "user": "u"}}]}))
        return path


@dataclass
class Role:
    name: str
    port: int
    proc: subprocess.Popen | None = None


@dataclass
class Stack:
    bootstrap: str
    work: Path
    prefix: str = field(default_factory=lambda: "ui" + uuid.uuid4().hex[:8])
    extra_env: dict[str, str] = field(default_factory=dict)
    roles: dict[str, Role] = field(default_factory=dict)
    slow: SlowKubeAPI | None = None

    def url(self, role: str) -> str:
        return f"http://127.0.0.1:{self.roles[role].port}"

    @property
    def console(self) -> str:
        return self.url("console")

    def env(self) -> dict[str, str]:
        clusters: dict[str, Any] = {p.name: {"dump": str(p)} for p in sorted((DEMO / "clusters").iterdir())
                                    if p.is_dir()}
        if self.slow is not None:
            clusters["slow"] = {"kubeconfig": str(self.slow.kubeconfig(self.work / "slow-kubeconfig.json"))}
        env = {k: v for k, v in os.environ.items() if not k.startswith("AETHERIUS_")}
        env.update({
            "AETHERIUS_CONTEXT": "none",
            "AETHERIUS_KAFKA__BOOTSTRAP": self.bootstrap,
            "AETHERIUS_KAFKA__TOPIC_PREFIX": self.prefix,
            "AETHERIUS_KAFKA__PARTITIONS": "2",
            "AETHERIUS_WORKER__APP_ID": self.prefix,
            "AETHERIUS_WORKER__DATA_DIR": str(self.work / "worker"),
            "AETHERIUS_WORKER__PORT": str(self.roles["worker"].port),
            "AETHERIUS_ANALYTICS__CHDB_PATH": str(self.work / "clickhouse"),
            "AETHERIUS_ANALYTICS__API_PORT": str(self.roles["sink"].port),
            "AETHERIUS_ANALYTICS__BATCH_SECONDS": "0.3",
            "AETHERIUS_WEBHOOK__PORT": str(self.roles["webhook"].port),
            "AETHERIUS_WEBHOOK__BEARER_TOKEN": WEBHOOK_TOKEN,
            "AETHERIUS_CONSOLE__PORT": str(self.roles["console"].port),
            "AETHERIUS_CONSOLE__COOKIE_SECURE": "false",  # plain HTTP on 127.0.0.1
            "AETHERIUS_KNOWLEDGE__PATH": str(self.work / "knowledge"),
            "AETHERIUS_KNOWLEDGE__API_URL": f"http://127.0.0.1:{self.roles['worker'].port}",
            "AETHERIUS_CLUSTERS": json.dumps(clusters),
            "AETHERIUS_PIPELINE__BUSINESS_IMPACT": json.dumps({"ecommerce": 9, "shop": 5}),
            "AETHERIUS_SECURITY__API_KEYS": api_keys_env(),
            "AETHERIUS_LOG_LEVEL": os.environ.get("CONSOLE_TEST_LOG_LEVEL", "WARNING"),
            **self.extra_env,
        })
        return env

    def start(self, knowledge: bool = True, timeout: float = 180.0) -> "Stack":
        for name in ("worker", "sink", "webhook", "console"):
            self.roles[name] = Role(name, free_port())
        if knowledge:
            from aetherius import starter_kb
            from schemas.knowledge_settings import KnowledgeSettings

            starter_kb.prepare(self.work / "knowledge", KnowledgeSettings())
        env = self.env()
        (self.work / "logs").mkdir(parents=True, exist_ok=True)
        for role in self.roles.values():  # the worker first: it creates the topics the others use
            with open(self.work / "logs" / f"{role.name}.log", "ab") as log:
                role.proc = subprocess.Popen([sys.executable, "-m", "aetherius.cli", role.name], env=env, cwd=REPO,
                                             stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        for role in self.roles.values():
            while True:
                if role.proc.poll() is not None:
                    raise RuntimeError(f"{role.name} exited {role.proc.returncode}: {self.log(role.name)}")
                try:
                    if http("GET", f"{self.url(role.name)}/health/ready")[0] == 200:
                        break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{role.name} not ready in {timeout:.0f}s: {self.log(role.name)}")
                time.sleep(0.3)
        return self

    def log(self, role: str) -> str:
        path = self.work / "logs" / f"{role}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def stop(self) -> None:
        for role in self.roles.values():
            if role.proc is not None and role.proc.poll() is None:
                os.killpg(role.proc.pid, signal.SIGTERM)
        for role in self.roles.values():
            if role.proc is None:
                continue
            try:
                role.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(role.proc.pid, signal.SIGKILL)
                role.proc.wait(10)

    # -- talking to the roles as their clients do
    def post_alert(self, labels: dict[str, str], annotations: dict[str, str] | None = None) -> dict:
        alert = {"status": "firing", "labels": labels, "annotations": annotations or {},
                 "startsAt": "2026-11-20T10:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
                 "generatorURL": "http://prometheus.example:9090/graph"}
        payload = {"version": "4", "status": "firing", "receiver": "aetherius", "groupKey": "{}:{}",
                   "truncatedAlerts": 0, "groupLabels": {}, "commonLabels": labels,
                   "commonAnnotations": annotations or {}, "externalURL": "http://alertmanager.example:9093",
                   "alerts": [alert]}
        status, body = http("POST", f"{self.url('webhook')}/api/v1/webhook/alertmanager", payload,
                            headers={"Authorization": f"Bearer {WEBHOOK_TOKEN}"})
        assert status == 200, body
        return body

    def api(self, role: str, method: str, path: str, body: Any = None, key_role: str = "sre") -> tuple[int, Any]:
        return http(method, f"{self.url(role)}{path}", body, headers={"X-API-Key": TEST_KEYS[key_role]})


def http(method: str, url: str, body: Any = None, headers: dict[str, str] | None = None,
         timeout: float = 20.0) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read()
            status = resp.status
    except urllib.error.HTTPError as err:
        raw, status = err.read(), err.code
    try:
        return status, json.loads(raw or b"null")
    except ValueError:
        return status, raw.decode(errors="replace")


def browser():  # noqa: ANN201 - (playwright, browser); the caller stops both
    """Debian's chromium driven by Playwright (never `playwright install`: nothing is downloaded)."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"{CHROMIUM} is missing: apt-get install -y chromium (deploy/setup.sh --test does)")
    pw = sync_playwright().start()
    return pw, pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def chromium_available() -> bool:
    return Path(CHROMIUM).exists()
