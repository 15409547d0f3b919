"""deploy/alertmanager/receivers-example.yml: it parses, wires the bridge's path with a bearer token read from a
file (never inline), sends resolved notifications, `amtool check-config` accepts it (and rejects a broken
variant, so the check can fail), and a REAL Alertmanager running this very file - only the URL, the token file
and the waits pointed at the test - delivers through the bridge onto the real Kafka topic.
"""

from __future__ import annotations

from tests.alertmanager_run import ALERTMANAGER, deliver

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "deploy" / "alertmanager" / "receivers-example.yml"
AMTOOL = shutil.which("amtool")
BRIDGE_PATH = "/api/v1/webhook/alertmanager"


def load() -> dict[str, Any]:
    return yaml.safe_load(EXAMPLE.read_text())


def aetherius_route(config: dict[str, Any]) -> dict[str, Any]:
    (route,) = [r for r in config["route"]["routes"] if r["receiver"] == "aetherius"]
    return route


def webhook(config: dict[str, Any]) -> dict[str, Any]:
    (receiver,) = [r for r in config["receivers"] if r["name"] == "aetherius"]
    (hook,) = receiver["webhook_configs"]
    return hook


def seconds(duration: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600}
    return float(duration[:-1]) * units[duration[-1]]


def test_example_wires_the_bridge_with_a_bearer_token_file() -> None:
    config = load()
    hook = webhook(config)
    assert hook["url"].endswith(BRIDGE_PATH)
    assert hook["send_resolved"] is True
    auth = hook["http_config"]["authorization"]
    assert auth["type"] == "Bearer" and auth["credentials_file"].startswith("/")
    assert "credentials" not in auth, "the token belongs in a mounted file, not in the config"
    route = aetherius_route(config)
    assert route["continue"] is True, "existing notification routes must keep working"
    assert seconds(route["group_wait"]) <= 30 and seconds(route["group_interval"]) <= 300
    assert seconds(route["repeat_interval"]) >= 3600


@pytest.mark.skipif(AMTOOL is None, reason="amtool not installed (apt-get install prometheus-alertmanager)")
def test_amtool_accepts_the_example_and_rejects_a_broken_one(tmp_path: Path) -> None:
    ok = subprocess.run([AMTOOL, "check-config", str(EXAMPLE)], capture_output=True, text=True, timeout=30)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    broken = load()
    webhook(broken)["http_config"]["authorization"]["credentials"] = "inline-too"  # both set: invalid
    (tmp_path / "broken.yml").write_text(yaml.safe_dump(broken))
    bad = subprocess.run([AMTOOL, "check-config", str(tmp_path / "broken.yml")], capture_output=True, text=True,
                         timeout=30)
    assert bad.returncode != 0


@pytest.mark.skipif(ALERTMANAGER is None, reason="Alertmanager not installed (apt-get install prometheus-alertmanager)")
def test_real_alertmanager_with_the_example_delivers_through_the_bridge(kafka_bootstrap: str, topic_prefix: str,
                                                                       tmp_path: Path) -> None:
    from aetherius.localkafka import free_port
    from schemas.settings import Settings

    token = "example-token-0123456789"
    bridge_port, am_port = free_port(), free_port()
    (tmp_path / "token").write_text(token + "\n")  # as a mounted Secret file usually ends
    config = load()
    hook = webhook(config)
    hook["url"] = f"http://127.0.0.1:{bridge_port}{BRIDGE_PATH}"
    hook["http_config"]["authorization"]["credentials_file"] = str(tmp_path / "token")
    aetherius_route(config).update(group_wait="1s", group_interval="1s")  # test speed; routing unchanged
    (tmp_path / "am.yml").write_text(yaml.safe_dump(config))

    settings = Settings(kafka={"bootstrap": kafka_bootstrap, "topic_prefix": topic_prefix},
                        webhook={"bearer_token": token})
    sent = [{"alertname": "KubePodCrashLooping", "namespace": "prod", "pod": "api-1", "cluster": "eu-1",
             "severity": "critical"},
            {"alertname": "KubePodNotReady", "namespace": "prod", "pod": "web-2", "cluster": "eu-1",
             "severity": "warning"}]

    raws = deliver(settings, tmp_path / "am.yml", bridge_port, am_port, sent, tmp_path)
    assert sorted(r.alert.labels["pod"] for r in raws) == ["api-1", "web-2"]
    assert {r.receiver for r in raws} == {"aetherius"}  # routed by the example's matcher, token accepted
