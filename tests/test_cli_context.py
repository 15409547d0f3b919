"""The CLI's current context (aetherius/context.py): written 0600, ignored once its stack is gone, and the
precedence flag > environment > context > default; a command that reaches nothing says where it tried (one line,
exit 2). The end-to-end use against a running demo is in tests/test_demo.py."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from aetherius.context import StackContext, load_context, remove_context, resolve, write_context
from aetherius.localkafka import external_bootstrap


@pytest.fixture
def ctx_file(tmp_path, monkeypatch):
    path = tmp_path / "cfg" / "context.json"
    monkeypatch.setenv("AETHERIUS_CONTEXT", str(path))
    monkeypatch.delenv("AETHERIUS_API_KEY", raising=False)
    return path


def stack(pid: int) -> StackContext:
    return StackContext(name="demo", pid=pid, apis={"worker": "http://127.0.0.1:6001", "sink": "http://127.0.0.1:6002/"},
                        api_key="ctx-key", kafka_bootstrap="127.0.0.1:1", topic_prefix="p")


def test_written_private_and_found_while_its_process_runs(ctx_file):
    assert write_context(stack(os.getpid())) == ctx_file
    assert ctx_file.stat().st_mode & 0o777 == 0o600
    assert load_context().context == stack(os.getpid())
    target = resolve("sink", None, None, "http://default:8081")
    assert (target.url, target.api_key) == ("http://127.0.0.1:6002", "ctx-key") and str(ctx_file) in target.source


def test_flag_and_environment_override_the_context(ctx_file, monkeypatch):
    write_context(stack(os.getpid()))
    assert resolve("worker", "http://elsewhere:1/", "flag-key", None).url == "http://elsewhere:1"
    monkeypatch.setenv("AETHERIUS_API_KEY", "env-key")
    assert resolve("worker", None, None, None).api_key == "env-key"
    assert resolve("worker", None, "flag-key", None).api_key == "flag-key"


def test_a_context_whose_process_is_gone_is_ignored_and_said_why(ctx_file):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    write_context(stack(int(dead.stdout)))
    found = load_context()
    assert found.context is None and "is gone" in found.why_none
    target = resolve("sink", None, None, "http://127.0.0.1:8081")
    assert target.url == "http://127.0.0.1:8081" and target.api_key is None and "is gone" in target.source


def test_removed_only_by_the_process_that_wrote_it(ctx_file):
    write_context(stack(os.getpid()))
    remove_context(os.getpid() + 1)
    assert ctx_file.exists()
    remove_context(os.getpid())
    assert not ctx_file.exists()


def test_none_disables_it(monkeypatch):
    monkeypatch.setenv("AETHERIUS_CONTEXT", "none")
    assert write_context(stack(os.getpid())) is None and load_context().context is None


@pytest.mark.parametrize("command", [["tasks", "list"], ["stats"], ["costs"], ["kb", "search", "x"]])
def test_unreachable_stack_is_one_line_naming_the_url_and_the_way_out(ctx_file, command):
    write_context(StackContext(name="demo", pid=os.getpid(), apis={r: "http://127.0.0.1:9" for r in
                                                                   ("worker", "sink", "webhook")}))
    proc = subprocess.run([sys.executable, "-m", "aetherius.cli", *command], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "AETHERIUS_CONTEXT": str(ctx_file)})
    # our pid is alive for the child: the context is live, and it points nowhere
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "http://127.0.0.1:9" in proc.stderr and "--api URL" in proc.stderr and str(ctx_file) in proc.stderr


def test_demo_honours_both_kafka_variable_names(monkeypatch):
    monkeypatch.delenv("AETHERIUS_KAFKA_BOOTSTRAP", raising=False)
    monkeypatch.delenv("AETHERIUS_KAFKA__BOOTSTRAP", raising=False)
    assert external_bootstrap() is None
    monkeypatch.setenv("AETHERIUS_KAFKA__BOOTSTRAP", "h:2")
    assert external_bootstrap() == "h:2"
    monkeypatch.setenv("AETHERIUS_KAFKA_BOOTSTRAP", "h:1")
    assert external_bootstrap() == "h:1"
