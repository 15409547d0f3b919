"""Run `aetherius worker` as a real subprocess against the test broker (so kill -9 means kill -9)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from aetherius.localkafka import free_port


@dataclass
class WorkerProcess:
    bootstrap: str
    prefix: str
    work_dir: Path
    env_extra: dict[str, str] = field(default_factory=dict)
    port: int = 0
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "AETHERIUS_KAFKA__BOOTSTRAP": self.bootstrap,
            "AETHERIUS_KAFKA__TOPIC_PREFIX": self.prefix,
            "AETHERIUS_KAFKA__PARTITIONS": "2",
            "AETHERIUS_WORKER__APP_ID": self.prefix,
            "AETHERIUS_WORKER__PORT": str(self.port),
            "AETHERIUS_WORKER__DATA_DIR": str(self.work_dir / "worker"),
            "AETHERIUS_LOG_LEVEL": "WARNING",
            **self.env_extra,
        }

    def start(self, timeout: float = 90.0) -> "WorkerProcess":
        self.port = self.port or free_port()
        log = open(self.work_dir / f"worker-{self.port}.log", "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "aetherius.cli", "worker"], env=self.env(),
                                     stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited with {self.proc.returncode}: {self.log_tail()}")
            try:
                if self.get("/health/ready")[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"worker not ready in {timeout}s: {self.log_tail()}")

    def log_tail(self) -> str:
        return (self.work_dir / f"worker-{self.port}.log").read_text()[-3000:]

    def get(self, path: str) -> tuple[int, dict]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=10) as resp:
                return resp.status, json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"{}")

    def post(self, path: str, body: dict | None = None) -> tuple[int, dict]:
        req = urllib.request.Request(self.url + path, data=json.dumps(body or {}).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"{}")

    def stop(self, kill: bool = False) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGKILL if kill else signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:  # faust can hang in shutdown: the test must not
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)


def wait_for(predicate, timeout: float = 60.0, interval: float = 0.5, what: str = "condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}; last value: {last!r}")
