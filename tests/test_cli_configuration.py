"""A bad configuration (environment or file) stops every role before it touches anything: one line on stderr
naming what is wrong, exit 2 - never a traceback."""

from __future__ import annotations

import pytest

from aetherius.cli import main


@pytest.mark.parametrize("role", ["worker", "webhook", "sink", "watch"])
@pytest.mark.parametrize("env, config, says", [
    ({"AETHERIUS_WORKER__PRODUCER_LINGER_MS": "-1"}, None, "worker.producer_linger_ms: Input should be greater"),
    ({"AETHERIUS_WEBHOOK__RATE_PER_SECOND": "0"}, None, "webhook.rate_per_second: Input should be greater"),
    ({}, "x: [\n", "bad configuration: while parsing"),
    ({}, "- a list\n", "must be a YAML mapping"),
])
def test_bad_configuration_is_one_line_and_exit_2(role, env, config, says, monkeypatch, capsys, tmp_path) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    if config is None:
        monkeypatch.delenv("AETHERIUS_CONFIG", raising=False)
    else:
        (tmp_path / "config.yaml").write_text(config)
        monkeypatch.setenv("AETHERIUS_CONFIG", str(tmp_path / "config.yaml"))
    assert main([role]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"aetherius {role}: bad configuration: ") and says in err and err.count("\n") == 1, err


def test_a_missing_config_file_is_named(monkeypatch, capsys, tmp_path) -> None:
    monkeypatch.setenv("AETHERIUS_CONFIG", str(tmp_path / "nowhere.yaml"))
    assert main(["worker"]) == 2
    assert "nowhere.yaml" in capsys.readouterr().err
