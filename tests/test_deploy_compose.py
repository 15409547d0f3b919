"""docker-compose.yml checked without a Docker engine: it parses (and, where a `docker compose` binary is
installed, Compose itself validates it), every local file it mounts exists, every Aetherius service runs a
real `aetherius` subcommand that our own CLI parser accepts, each one's config and env load into our Settings,
published ports do not clash, and the health checks, scrape targets and Alertmanager wiring agree with the
ports the roles really listen on.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from aetherius.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)")


def interpolate(value: Any) -> Any:
    """Compose's ${VAR:-default} / ${VAR} / $$ with every variable unset (the out-of-the-box values)."""
    if isinstance(value, str):
        return _VAR.sub(lambda m: m.group(2) or "", value.replace("$$", "\0")).replace("\0", "$")
    if isinstance(value, list):
        return [interpolate(v) for v in value]
    if isinstance(value, dict):
        return {k: interpolate(v) for k, v in value.items()}
    return value


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return interpolate(yaml.safe_load(COMPOSE.read_text()))


def aetherius_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: s for name, s in compose["services"].items() if s.get("build", {}).get("dockerfile") == "Dockerfile"}


def role_port(name: str) -> int | None:
    """The port each role listens on, from the same Settings file the containers get (None: no HTTP)."""
    settings = yaml.safe_load((ROOT / "deploy" / "compose" / "aetherius.yaml").read_text())
    return {"webhook": settings["webhook"]["port"], "worker": settings["worker"]["port"],
            "sink": settings["analytics"]["api_port"], "gateway": 8765}.get(name)


def test_every_aetherius_role_is_a_service_of_the_one_image(compose: dict[str, Any]) -> None:
    services = aetherius_services(compose)
    assert set(services) == {"webhook", "worker", "watch", "sink", "gateway"}
    assert {s["image"] for s in services.values()} == {"aetherius:dev"}
    assert {s["build"]["context"] for s in services.values()} == {"."}
    assert {"kafka", "clickhouse", "qdrant", "openbao", "grafana", "prometheus", "alertmanager"} <= set(compose["services"])


def test_every_command_is_a_real_aetherius_subcommand(compose: dict[str, Any]) -> None:
    parser = build_parser()
    subcommands = set(parser._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    for name, service in aetherius_services(compose).items():
        command = service["command"]
        assert command[0] in subcommands, f"{name}: `aetherius {command[0]}` does not exist ({sorted(subcommands)})"
        args = parser.parse_args(command)  # every flag and value as the entrypoint would receive them
        assert args.command == command[0] and callable(args.func)


def test_published_ports_do_not_clash_and_stay_on_loopback(compose: dict[str, Any]) -> None:
    seen: dict[int, str] = {}
    for name, service in compose["services"].items():
        for mapping in service.get("ports", []):
            host_ip, host_port, _container = str(mapping).split(":")
            assert host_ip == "127.0.0.1", f"{name} publishes {mapping} beyond this machine"
            assert int(host_port) not in seen, f"host port {host_port}: {seen.get(int(host_port))} and {name}"
            seen[int(host_port)] = name


def test_every_local_file_it_mounts_exists(compose: dict[str, Any]) -> None:
    checked = 0
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith((".", "/")):
                assert (ROOT / source).exists(), f"{name} mounts {source}, which is not in the repository"
                checked += 1
    for name, config in compose.get("configs", {}).items():
        if "file" in config:
            assert (ROOT / config["file"]).exists(), name
    assert checked >= 10
    assert (ROOT / "Dockerfile").is_file()


def test_every_service_has_a_healthcheck_and_waits_for_healthy_dependencies(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, service in services.items():
        assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
        for dep, spec in (service.get("depends_on") or {}).items():
            assert dep in services, f"{name} depends on unknown service {dep}"
            assert spec["condition"] == "service_healthy", f"{name} -> {dep}"
    for name in ("worker", "sink"):
        assert {"kafka", "clickhouse", "qdrant"} <= set(services[name]["depends_on"])


def test_healthchecks_probe_the_port_each_role_listens_on(compose: dict[str, Any]) -> None:
    for name, service in aetherius_services(compose).items():
        port = role_port(name)
        check = " ".join(service["healthcheck"]["test"])
        if name in ("webhook", "worker", "sink"):
            assert f"http://127.0.0.1:{port}/health/ready" in check, name
        elif port is not None:
            assert f"'127.0.0.1', {port}" in check, name
        if port is not None:
            assert f"127.0.0.1:{port}:{port}" in service["ports"], name


def test_each_service_config_and_env_load_into_settings(compose: dict[str, Any],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from schemas.settings import Settings

    for name, service in aetherius_services(compose).items():
        mounts = {v.split(":")[1]: v.split(":")[0] for v in service["volumes"]}
        env = {k: str(v) for k, v in service["environment"].items()}
        config = mounts[env["AETHERIUS_CONFIG"]]
        with monkeypatch.context() as m:
            for var in list(os.environ):
                if var.startswith(("AETHERIUS_", "OPENAI_")):
                    m.delenv(var)
            for var, value in env.items():
                m.setenv(var, value)
            m.setenv("AETHERIUS_CONFIG", str(ROOT / config))
            settings = Settings()
        assert settings.kafka.bootstrap == "kafka:19092", name
        assert settings.analytics.clickhouse_url.startswith("clickhouse://aetherius:"), name
        assert settings.knowledge.engine == "server" and settings.knowledge.url == "http://qdrant:6333"
        assert settings.vault is not None and settings.vault.url == "http://openbao:8200"
        # roles bind every interface inside their container; the published ports stay on loopback
        assert settings.webhook.host == settings.worker.host == settings.analytics.api_host == "0.0.0.0"
        if name == "webhook":
            assert settings.webhook.bearer_token.get_secret_value() == compose["configs"]["webhook_token"]["content"]
    kafka_env = compose["services"]["kafka"]["environment"]
    assert "PLAINTEXT://kafka:19092" in kafka_env["KAFKA_ADVERTISED_LISTENERS"]


def test_prometheus_scrapes_every_role_with_metrics_and_loads_our_rules(compose: dict[str, Any]) -> None:
    prometheus = yaml.safe_load((ROOT / "deploy" / "compose" / "prometheus.yml").read_text())
    targets = {job["job_name"]: job["static_configs"][0]["targets"] for job in prometheus["scrape_configs"]}
    for role in ("webhook", "worker", "sink"):
        assert targets[f"aetherius-{role}"] == [f"{role}:{role_port(role)}"]  # rules.yml keys on job=~"aetherius.*"
    mounts = compose["services"]["prometheus"]["volumes"]
    assert "./deploy/prometheus/rules.yml:/etc/prometheus/rules/aetherius.yml:ro" in mounts
    assert prometheus["rule_files"] == ["/etc/prometheus/rules/*.yml"]
    assert prometheus["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["alertmanager:9093"]


def test_alertmanager_posts_to_the_bridge_with_the_bridge_token(compose: dict[str, Any]) -> None:
    am = yaml.safe_load((ROOT / "deploy" / "compose" / "alertmanager.yml").read_text())
    (receiver,) = [r for r in am["receivers"] if r["name"] == am["route"]["receiver"]]
    (hook,) = receiver["webhook_configs"]
    assert hook["url"] == f"http://webhook:{role_port('webhook')}/api/v1/webhook/alertmanager"
    assert hook["send_resolved"] is True
    auth = hook["http_config"]["authorization"]
    (mounted,) = compose["services"]["alertmanager"]["configs"]
    assert auth["credentials_file"] == mounted["target"] and mounted["source"] == "webhook_token"
    assert "credentials" not in auth


def test_grafana_gets_our_provisioning_and_every_variable_it_uses(compose: dict[str, Any]) -> None:
    grafana = compose["services"]["grafana"]
    mounts = {v.split(":")[0]: v.split(":")[1] for v in grafana["volumes"]}
    provider = yaml.safe_load((ROOT / "deploy/grafana/provisioning/dashboards/aetherius.yml").read_text())
    assert mounts["./deploy/grafana/dashboards"] == provider["providers"][0]["options"]["path"]
    assert mounts["./deploy/grafana/provisioning/datasources"] == "/etc/grafana/provisioning/datasources"
    datasource = (ROOT / "deploy/grafana/provisioning/datasources/clickhouse.yml").read_text()
    for var in set(re.findall(r"\$\{(\w+)\}", datasource)):
        assert var in grafana["environment"], f"Grafana's datasource reads ${{{var}}}, which compose does not set"
    assert "grafana-clickhouse-datasource" in grafana["environment"]["GF_INSTALL_PLUGINS"]


def _compose_binary() -> list[str] | None:
    for candidate in (shutil.which("docker-compose"), str(Path(os.environ.get("GOPATH") or Path.home() / "go") / "bin" / "docker-compose")):
        if candidate and Path(candidate).is_file():
            return [candidate]
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        return [docker, "compose"]
    return None


@pytest.mark.parametrize("profile", [[], ["--profile", "cluster"]])
def test_docker_compose_itself_accepts_the_file(profile: list[str]) -> None:
    binary = _compose_binary()
    if binary is None:
        pytest.skip("no docker compose binary (optional: `go install github.com/docker/compose/v2/cmd@v2.32.4`, "
                    "then copy $GOPATH/bin/cmd to $GOPATH/bin/docker-compose)")
    result = subprocess.run([*binary, "-f", str(COMPOSE), *profile, "config", "-q"], capture_output=True, text=True,
                            cwd=ROOT, timeout=60)
    assert result.returncode == 0, result.stderr
