"""`aetherius demo` as a new user meets it.

- `demo --once` end to end (on the session's broker): six tasks from seven alerts, one cross-cluster incident
  named by all three member tasks (their reports and their ClickHouse rows), a report per task with the right
  root causes, stats from ClickHouse, and the "try next" block.
- `aetherius demo` kept running (with its own Kafka, as `make demo` runs it): every command of the README's quick
  start and of the demo's "try next" block runs against it as printed, with no flags (they find the demo through
  its context file); then a real `kill <pid>` (SIGTERM) stops everything it started - roles, Kafka and Kafka's
  data directory - and removes the context.
- SIGHUP while Kafka starts leaves no broker behind.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.kafka
REPO = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "aetherius.cli"]


def demo_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "AETHERIUS_CONTEXT": str(tmp_path / "context.json"),
           "AETHERIUS_CACHE_DIR": os.environ.get("AETHERIUS_CACHE_DIR", str(Path.home() / ".cache" / "aetherius")),
           **extra}
    for name in ("AETHERIUS_KAFKA_BOOTSTRAP", "AETHERIUS_KAFKA__BOOTSTRAP", "AETHERIUS_API_KEY"):
        if name not in extra:
            env.pop(name, None)
    return env


def test_demo_once_prints_reports_and_stats(kafka_bootstrap, tmp_path):
    env = demo_env(tmp_path, AETHERIUS_KAFKA_BOOTSTRAP=kafka_bootstrap)
    work = tmp_path / "work"
    proc = subprocess.run(CLI + ["demo", "--once", "--work-dir", str(work)], env=env, capture_output=True, text=True,
                          timeout=600)
    out, err = proc.stdout, proc.stderr
    assert proc.returncode == 0, err[-3000:]
    assert "6 tasks from 7 alerts (1 duplicate suppressed); 1 cross-cluster incident" in out
    assert len(re.findall(r"^# \[", out, re.M)) == 6  # one Markdown report per task
    for category in ("oom_killed", "dependency_failure", "volume_mount_failure", "image_pull_failure"):
        assert f"\n{category}" in out.split("Stats: root causes")[1], category
    # The incident is visible from every member: the task table and each member's report name it.
    assert out.split("Stats: root causes")[0].count("prod-eu,prod-us,staging") == 3
    incident_lines = re.findall(r"^\*\*Cross-cluster incident\*\* `([0-9a-f-]+)`: KubePodCrashLooping also fires in "
                                r"(.+)$", out, re.M)
    assert len(incident_lines) == 3 and len({i for i, _ in incident_lines}) == 1
    assert sorted(others for _, others in incident_lines) == ["prod-eu, prod-us", "prod-eu, staging",
                                                              "prod-us, staging"]
    assert "--limits=memory=512Mi" in out  # the SRS §3.4 fix, as text
    assert re.search(r"completed\s+6", out), out.split("Stats: task status")[1][:300]
    assert "done: 6 reports" in err
    assert "\033[" not in err and "\033[" not in out  # not a terminal: plain text, no escape codes
    assert "Try next" in out and re.search(r"Web console: http://127\.0\.0\.1:\d+/ui/", out)  # where it is
    assert not (tmp_path / "context.json").exists()  # --once removes its context on the way out

    # The history: every member's row carries the incident id (the sink has stopped; the store is free).
    from sinks.clickhouse.store import open_store

    store = open_store(f"chdb://{work / 'clickhouse'}")
    try:
        rows = store.query("SELECT task_id, cluster_id, argMax(incident_id, event_time) AS incident FROM tasks FINAL "
                           "WHERE alertname = 'KubePodCrashLooping' AND namespace = 'ecommerce' GROUP BY task_id, "
                           "cluster_id")
    finally:
        store.close()
    assert sorted(r["cluster_id"] for r in rows) == ["prod-eu", "prod-us", "staging"]
    assert {r["incident"] for r in rows} == {incident_lines[0][0]}


def quickstart_commands() -> list[str]:
    """The README's quick start: the fenced block after `<!-- quickstart -->`, its `aetherius` lines."""
    text = (REPO / "README.md").read_text()
    block = text.split("<!-- quickstart -->", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    lines = [line.split("  #", 1)[0].strip() for line in block.splitlines()]
    commands = [line for line in lines if line.startswith(".venv/bin/aetherius ")]
    assert len(commands) >= 4, block
    return commands


def try_next_commands(out: str) -> list[str]:
    block = out.split("Try next", 1)[1].split("Web console:", 1)[0]
    return [line.strip() for line in block.splitlines() if line.strip() and not line.strip().startswith("#")
            and not line.startswith("Try next") and "aetherius" in line]


def _wait_for(predicate, what: str, timeout: float, proc: subprocess.Popen | None = None):  # noqa: ANN001, ANN202
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the demo exited with {proc.returncode} while waiting for {what}")
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (exited, not yet reaped by its parent) counts as gone
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def test_readme_quickstart_and_try_next_work_against_a_running_demo_then_sigterm_stops_everything(tmp_path):
    """`make demo` as a user runs it: its own Kafka, kept running. Every printed command, as printed (the README's
    `.venv/bin/aetherius` is this checkout's CLI: `python -m aetherius.cli`), exits 0 with no flags."""
    env = demo_env(tmp_path)
    context = tmp_path / "context.json"
    out_path, err_path = tmp_path / "demo.out", tmp_path / "demo.err"
    with open(out_path, "w") as out, open(err_path, "w") as err:
        demo = subprocess.Popen(CLI + ["demo", "--work-dir", str(tmp_path / "work")], env=env, stdout=out,
                                stderr=err, cwd=REPO)
    try:
        _wait_for(lambda: "Ctrl-C (or kill" in out_path.read_text(), "the try-next block", 600, demo)
        printed = out_path.read_text()
        ctx = json.loads(context.read_text())
        assert context.stat().st_mode & 0o777 == 0o600  # it holds a key
        assert ctx["pid"] == demo.pid and set(ctx["processes"]) == {"worker", "sink", "webhook", "console", "kafka"}
        assert ctx["console"].endswith("/ui/")
        from tests.consolestack import http

        assert http("GET", ctx["console"].replace("/ui/", "/health/ready"))[0] == 200

        cli_env = {k: v for k, v in env.items() if k != "AETHERIUS_API_KEY"}
        results: dict[str, subprocess.CompletedProcess] = {}
        readme = [" ".join(CLI) + line[len(".venv/bin/aetherius"):] for line in quickstart_commands()]
        commands = try_next_commands(printed)
        assert [c.split(" -m aetherius.cli ", 1)[1].split()[0:2] for c in commands] == [
            ["alert", "--cluster"], ["tasks", "list"], ["tasks", "show"], ["tasks", "cancel"], ["kb", "search"],
            ["stats"], ["costs", "--group-by"]]
        for command in commands + readme:
            results[command] = subprocess.run(shlex.split(command), env=cli_env, capture_output=True, text=True,
                                              timeout=300, cwd=tmp_path)
            assert results[command].returncode == 0, f"{command}\n{results[command].stderr[-2000:]}"

        alert = results[commands[0]]
        assert "# [prod-eu] KubePodNotReady" in alert.stdout and "OOMKilled" in alert.stdout  # a new task, its report
        assert "deduplicated" not in alert.stderr
        assert "KubePodNotReady" in results[commands[1]].stdout  # the listing shows the new task
        assert "## Root cause" in results[commands[2]].stdout
        assert "already ended" in results[commands[3]].stdout
        kb_hit = results[commands[4]].stdout
        assert "no match" not in kb_hit and "oom" in kb_hit.lower()  # the demo's knowledge base, not an empty one
        assert "By status" in results[commands[5]].stdout and "Budget" in results[commands[6]].stdout

        # The same alert again inside the dedup window: no new task; it says so and shows the existing report.
        again = subprocess.run(shlex.split(commands[0]), env=cli_env, capture_output=True, text=True, timeout=300)
        assert again.returncode == 0 and "deduplicated" in again.stderr and "# [prod-eu] KubePodNotReady" in again.stdout

        # A real kill: SIGTERM, as a service manager or a closed terminal sends.
        os.kill(demo.pid, signal.SIGTERM)
        assert demo.wait(60) == 128 + signal.SIGTERM
    finally:
        if demo.poll() is None:  # the test failed before the kill: do not leave the demo running
            demo.send_signal(signal.SIGINT)
            demo.wait(60)
    for name, pid in ctx["processes"].items():
        _wait_for(lambda pid=pid: not _alive(pid), f"{name} (pid {pid}) to stop", 10)
    assert not Path(ctx["data_dirs"]["kafka"]).exists()  # Kafka's temp dir is gone
    assert not context.exists()  # later commands do not try a stopped stack
    assert "SIGTERM: stopped everything the demo started" in err_path.read_text()

    # With the stack gone, a command says which URL it tried and how to point elsewhere: one line, exit 2.
    gone = subprocess.run(CLI + ["stats"], env=env, capture_output=True, text=True, timeout=60)
    assert gone.returncode == 2 and len(gone.stderr.strip().splitlines()) == 1
    assert "http://127.0.0.1:8081" in gone.stderr and "--api URL" in gone.stderr


def test_sighup_while_kafka_starts_leaves_nothing_behind(tmp_path):
    env = demo_env(tmp_path)
    err_path = tmp_path / "demo.err"
    before = set(Path("/tmp").glob("aetherius-kafka-*"))
    with open(err_path, "w") as err:
        demo = subprocess.Popen(CLI + ["demo", "--work-dir", str(tmp_path / "work")], env=env,
                                stdout=subprocess.DEVNULL, stderr=err, cwd=REPO)
    try:
        match = _wait_for(lambda: re.search(r"starting Kafka [\d.]+ on 127\.0\.0\.1:(\d+)", err_path.read_text()),
                          "Kafka to be starting", 120, demo)
        new_dirs = _wait_for(lambda: set(Path("/tmp").glob("aetherius-kafka-*")) - before, "Kafka's data dir", 30)
        os.kill(demo.pid, signal.SIGHUP)
        assert demo.wait(60) == 128 + signal.SIGHUP
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait(10)
    port = int(match.group(1))
    import socket

    with socket.socket() as s:
        s.settimeout(1)
        assert s.connect_ex(("127.0.0.1", port)) != 0, "the broker still listens"
    assert not any(d.exists() for d in new_dirs)
    assert "SIGHUP" in err_path.read_text()
