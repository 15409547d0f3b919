"""Run `aetherius worker` as a real subprocess against the test broker (so kill -9 means kill -9).

The worker's API is authenticated: it is started with one API key per role in TEST_KEYS (stored hashed in
AETHERIUS_SECURITY__API_KEYS, as in production), and `get`/`post` send the sre key unless told otherwise.
"""

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

from aetherius.http.auth import hash_api_key
from aetherius.localkafka import free_port

# One API key per human role; generous per-key rate limits so polling tests are never throttled.
TEST_KEYS: dict[str, str] = {role: f"aek_test_{role}_0123456789abcdef" for role in ("sre", "developer", "admin", "auditor")}
DEFAULT_KEY = TEST_KEYS["sre"]


def api_keys_env() -> str:
    return json.dumps([{"name": f"test-{role}", "role": role, "hash": hash_api_key(key),
                        "rate_per_second": 1000, "burst": 1000} for role, key in TEST_KEYS.items()])


@dataclass
class WorkerProcess:
    bootstrap: str
    prefix: str
    work_dir: Path
    env_extra: dict[str, str] = field(default_factory=dict)
    port: int = 0
    proc: subprocess.Popen | None = None
    name: str = "worker"
    rss_start: float = 0.0

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
            "AETHERIUS_KNOWLEDGE__PATH": str(self.work_dir / "knowledge"),
            "AETHERIUS_LOG_LEVEL": "WARNING",
            "AETHERIUS_SECURITY__API_KEYS": api_keys_env(),
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

    @property
    def log_path(self) -> Path:
        return self.work_dir / f"worker-{self.port}.log"

    def log_tail(self) -> str:
        return self.log_path.read_text()[-3000:]

    def log_bytes(self) -> int:
        return self.log_path.stat().st_size if self.log_path.exists() else 0

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def rss(self) -> float:
        """Resident memory in MB (0 when not running)."""
        if not self.alive:
            return 0.0
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():  # type: ignore[union-attr]
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def request(self, method: str, path: str, body: dict | None = None, key: str | None = DEFAULT_KEY,
                headers: dict[str, str] | None = None) -> tuple[int, dict]:
        """(status, JSON body). `key=None` sends no credential."""
        all_headers = {**({"X-API-Key": key} if key else {}), **(headers or {})}
        data = None
        if method == "POST":
            data = json.dumps(body or {}).encode()
            all_headers["Content-Type"] = "application/json"
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=all_headers)
        try:
            with urllib.request.urlopen(req, timeout=20) as resp:
                return resp.status, _json(resp.read())
        except urllib.error.HTTPError as err:
            return err.code, _json(err.read())

    def get(self, path: str, key: str | None = DEFAULT_KEY, headers: dict[str, str] | None = None) -> tuple[int, dict]:
        return self.request("GET", path, key=key, headers=headers)

    def post(self, path: str, body: dict | None = None, key: str | None = DEFAULT_KEY,
             headers: dict[str, str] | None = None) -> tuple[int, dict]:
        return self.request("POST", path, body, key=key, headers=headers)

    def stop(self, kill: bool = False) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGKILL if kill else signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:  # faust can hang in shutdown: the test must not
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)


def _json(raw: bytes) -> dict:
    try:
        return json.loads(raw or b"{}")
    except ValueError:  # e.g. aiohttp's plain-text 500: keep it readable in the assertion message
        return {"raw": raw.decode(errors="replace")[:500]}


def wait_for(predicate, timeout: float = 60.0, interval: float = 0.5, what: str = "condition", fail: bool = True):
    """The predicate's first truthy value; at the timeout an AssertionError, or with `fail=False` its last value
    (for a caller that reports what it saw)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    if not fail:
        return last
    raise AssertionError(f"timed out waiting for {what}; last value: {last!r}")
