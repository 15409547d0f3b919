"""Logs stay bounded while a dependency is down, expected start-up retries are not errors, and a worker's log
file carries no terminal escape codes (issues 13 #6 and 15)."""

from __future__ import annotations

import io
import json
import logging

from aetherius.logging import JsonLines, Repeats, StartupRetries


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _logger(*filters: logging.Filter) -> tuple[logging.Logger, io.StringIO, logging.Handler]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonLines())
    for f in filters:
        handler.addFilter(f)
    log = logging.getLogger(f"test.bounded.{id(out)}")
    log.handlers[:] = [handler]
    log.propagate = False
    log.setLevel(logging.DEBUG)
    return log, out, handler


def lines(out: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_an_outage_writes_one_line_per_state_change_and_a_summary_per_period():
    clock = Clock()
    repeats = Repeats(summary_seconds=60, clock=clock)
    log, out, handler = _logger(repeats)
    for second in range(280):  # a 4.7-minute outage, retried ~20 times a second (as aiokafka did)
        clock.now = 1000.0 + second
        for attempt in range(20):
            log.error("Unable connect to node with id %s: %s", 1, f"[Errno 111] Connect call failed port {40000 + attempt}")
        log.error("Unable to update metadata from [%s]", 1)
        if second % 60 == 59:
            for record in repeats.summaries():
                handler.handle(record)
    clock.now += 120  # the broker is back: nothing repeats any more
    for _ in range(2):
        for record in repeats.summaries():
            handler.handle(record)
        clock.now += 60
    got = lines(out)
    assert len(got) <= 2 + 2 * 5 + 2, len(got)  # first lines, a summary per minute each, "stopped" each
    assert got[0]["msg"].startswith("Unable connect to node with id 1") and got[0]["level"] == "error"
    assert any(g["msg"].startswith("repeated 1199 more times in the last 60s: Unable connect") for g in got)
    assert sum(g["msg"].startswith("stopped repeating") for g in got) == 2
    assert len(out.getvalue()) < 5_000  # was 1.38 M lines, 209 MB


def test_different_tasks_are_different_messages():
    log, out, _ = _logger(Repeats(clock=Clock()))
    for task in ("a1", "b2", "a1"):
        log.warning("resuming step", extra={"task_id": task})
    assert [g.get("task_id") for g in lines(out)] == ["a1", "b2"]


def test_start_up_retries_are_info_during_the_grace_then_keep_their_level():
    clock = Clock()
    log, out, _ = _logger(StartupRetries(grace_seconds=60, clock=clock))
    logging.getLogger().setLevel(logging.INFO)
    log.error("Group Coordinator Request failed: [Error 15] GroupCoordinatorNotAvailableError")
    log.warning("Got error produce response: NotLeaderForPartitionError")
    log.error("a real error")
    clock.now += 61
    log.error("Group Coordinator Request failed: [Error 15] GroupCoordinatorNotAvailableError")
    assert [g["level"] for g in lines(out)] == ["info", "info", "error", "error"]


def test_the_worker_spinner_writes_nothing_into_a_log_file(tmp_path):
    """faust.Worker's spinner prints cursor codes (\\x1b[?25h) even when stdout is a file: run_faust drops it."""
    import subprocess
    import sys

    code = ("import sys, faust\n"
            "from unittest import mock\n"
            "import streams.worker as w\n"
            "app = faust.App('x', broker='memory://', store='memory://')\n"
            "made = []\n"
            "class W(faust.Worker):\n"
            "    def execute_from_commandline(self):\n"
            "        made.append(self); self._on_startup_end_spinner()\n"
            "with mock.patch.object(w.faust, 'Worker', W):\n"
            "    w.run_faust(app, mock.Mock(log_level='INFO'))\n"
            "print('spinner', made[0].spinner)\n")
    out = tmp_path / "out.log"
    with open(out, "wb") as f:
        subprocess.run([sys.executable, "-c", code], stdout=f, stderr=subprocess.STDOUT, timeout=60, check=True)
    text = out.read_text()
    assert "spinner None" in text and "\x1b" not in text, repr(text[-300:])
