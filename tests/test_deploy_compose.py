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
    """The port each role listens on, from the same Settings file (and, for watch, env) the containers get."""
    settings = yaml.safe_load((ROOT / "deploy" / "compose" / "aetherius.yaml").read_text())
    watch_env = yaml.safe_load(COMPOSE.read_text())["services"]["watch"]["environment"]
    return {"webhook": settings["webhook"]["port"], "worker": settings["worker"]["port"],
            "watch": int(watch_env["AETHERIUS_WATCH__PORT"]), "sink": settings["analytics"]["api_port"],
            "gateway": 8765, "console": int(yaml.safe_load(COMPOSE.read_text())["services"]["console"]["environment"]
                                            ["AETHERIUS_CONSOLE__PORT"])}.get(name)


def service_settings(compose: dict[str, Any], name: str, monkeypatch: pytest.MonkeyPatch,
                     **extra_env: str) -> Any:
    """The Settings a service's process builds from its mounted config and its environment. A variable declared
    without a value is Compose's pass-through: unset in the container unless the shell sets it (`extra_env`)."""
    from schemas.settings import Settings

    service = aetherius_services(compose)[name]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in service["volumes"]}
    env = {k: str(v) for k, v in service["environment"].items() if v is not None}
    env.update({k: v for k, v in extra_env.items() if k in service["environment"]})
    with monkeypatch.context() as m:
        for var in list(os.environ):
            if var.startswith(("AETHERIUS_", "OPENAI_")):
                m.delenv(var)
        for var, value in env.items():
            m.setenv(var, value)
        m.setenv("AETHERIUS_CONFIG", str(ROOT / mounts[env["AETHERIUS_CONFIG"]]))
        return Settings()


def test_every_aetherius_role_is_a_service_of_the_one_image(compose: dict[str, Any]) -> None:
    services = aetherius_services(compose)
    assert set(services) == {"webhook", "worker", "watch", "sink", "gateway", "console"}
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
        if name in ("webhook", "worker", "watch", "sink", "console"):
            assert f"http://127.0.0.1:{port}/health/ready" in check, name
            assert service["environment"]["AETHERIUS_HEALTH_URL"] == f"http://127.0.0.1:{port}/health/ready", name
        elif port is not None:
            assert f"'127.0.0.1', {port}" in check, name
        if port is not None:
            assert f"127.0.0.1:{port}:{port}" in service["ports"], name


def test_each_service_config_and_env_load_into_settings(compose: dict[str, Any],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    for name in aetherius_services(compose):
        settings = service_settings(compose, name, monkeypatch)
        assert settings.kafka.bootstrap == "kafka:19092", name
        assert settings.analytics.clickhouse_url.startswith("clickhouse://aetherius:"), name
        assert settings.knowledge.engine == "server" and settings.knowledge.url == "http://qdrant:6333"
        assert settings.vault is not None and settings.vault.url == "http://openbao:8200"
        # roles bind every interface inside their container; the published ports stay on loopback
        assert settings.webhook.host == settings.worker.host == settings.analytics.api_host == "0.0.0.0"
        if name == "webhook":
            assert settings.webhook.bearer_token.get_secret_value() == compose["configs"]["webhook_token"]["content"]
        if name == "watch":  # serves /health and /metrics off loopback, on the port it publishes
            assert settings.watch.host == "0.0.0.0" and settings.watch.port == role_port("watch")
        assert settings.clusters_file is None, f"{name}: no registry unless AETHERIUS_CLUSTERS_FILE is set"
    kafka_env = compose["services"]["kafka"]["environment"]
    assert "PLAINTEXT://kafka:19092" in kafka_env["KAFKA_ADVERTISED_LISTENERS"]


REGISTRY_HINT = re.compile(r"AETHERIUS_CLUSTERS_FILE=(/\S+)")


def test_watch_needs_no_cluster_flag_and_watches_the_registry_when_one_is_given(
        compose: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`aetherius watch` without --cluster watches AETHERIUS_CLUSTERS (the kubeconfig, as the old flags did) and,
    with the registry the header describes, every enabled registry cluster too - through the real loader and the
    watcher's own target selection. The registry path lies in a directory both readers bind-mount (a directory,
    so host edits reach the containers and are hot-reloaded)."""
    from agents.clusters.registry import ClusterRegistry
    from streams.watch_fleet import desired_targets

    watch = aetherius_services(compose)["watch"]
    assert watch["command"] == ["watch"]
    assert not build_parser().parse_args(watch["command"]).clusters
    settings = service_settings(compose, "watch", monkeypatch)
    targets, _ = desired_targets([], settings.clusters, None, settings.vault is not None)
    assert {cid: str(t.kubeconfig) for cid, t in targets.items()} == {"local": "/etc/aetherius/kube/config"}

    (in_container,) = set(REGISTRY_HINT.findall(COMPOSE.read_text()))
    for name in ("worker", "watch"):
        service = aetherius_services(compose)[name]
        assert "AETHERIUS_CLUSTERS_FILE" in service["environment"], name
        assert service["environment"]["AETHERIUS_CLUSTERS_FILE"] is None, f"{name}: must pass through, not default"
        (source,) = [v.split(":")[0] for v in service["volumes"]
                     if Path(in_container).parent == Path(v.split(":")[1])]
        assert (ROOT / source).is_dir(), f"{name}: the registry's directory is not a mounted directory"
    registry_file = tmp_path / Path(in_container).name
    registry_file.write_text("clusters:\n  - {id: prod-eu, name: Prod EU, vault_path: kubernetes/prod-eu}\n"
                             "  - {id: old, name: Old, vault_path: kubernetes/old, enabled: false}\n")
    settings = service_settings(compose, "watch", monkeypatch, AETHERIUS_CLUSTERS_FILE=in_container)
    assert str(settings.clusters_file) == in_container
    registry = ClusterRegistry.load(registry_file)  # the container path, on this machine
    targets, _ = desired_targets([], settings.clusters, registry.clusters, settings.vault is not None)
    assert set(targets) == {"local", "prod-eu"} and targets["prod-eu"].vault is not None


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
