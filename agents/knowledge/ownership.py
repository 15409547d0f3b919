"""One owner per embedded knowledge store (architecture.md: "embedded engines have one owner").

The owner takes an exclusive `flock` on `<path>/owner.lock` and writes its pid and API URL into it.
Any other process (the `aetherius kb` CLI, a second worker) reads the file: if the lock is held it
talks to the owner's API at that URL, otherwise it may open the path itself. The lock dies with its
process, so a crashed worker never leaves the store stuck.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

from agents.knowledge.engines import StoreBusy

LOCK_NAME = "owner.lock"


class OwnerLock:
    def __init__(self, path: Path, api_url: str | None = None) -> None:
        self._file = path / LOCK_NAME
        self._api_url = api_url
        self._fh = None

    def acquire(self) -> None:
        self._file.parent.mkdir(parents=True, exist_ok=True)
        fh = open(self._file, "a+")  # noqa: SIM115 - held for the life of the owner
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.close()
            holder = read_holder(self._file.parent)
            raise StoreBusy(f"knowledge store {self._file.parent} is owned by pid {holder.get('pid', '?')}"
                            + (f" (API {holder['api_url']})" if holder.get("api_url") else "")) from None
        fh.seek(0)
        fh.truncate()
        fh.write(json.dumps({"pid": os.getpid(), "api_url": self._api_url}))
        fh.flush()
        self._fh = fh

    def release(self) -> None:
        if self._fh is not None:
            fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None


def read_holder(path: Path) -> dict:
    """Who holds the store, or {} when nobody does (the lock is free)."""
    file = path / LOCK_NAME
    if not file.exists():
        return {}
    with open(file, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            try:
                return json.loads(fh.read() or "{}")
            except ValueError:
                return {"pid": "?"}
        fcntl.flock(fh, fcntl.LOCK_UN)
        return {}
