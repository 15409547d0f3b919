"""Cluster registry: the SRS §5.5.3 file validates; errors name the cluster and field; hot reload keeps the last
good registry when a bad file arrives and never raises."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from agents.clusters.registry import ClusterRegistry, RegistryError, change_audit_event, diff, parse_registry
from schemas.clusters import ClusterConfig, RateSpec

SRS_EXAMPLE = """
clusters:
- id: "prod-us-west"
  name: "Production US West"
  region: "us-west-2"
  environment: "production"
  vault_path: "kubernetes/prod-us-west"
  monitoring:
    alertmanager_url: "https://alertmanager.prod-us-west.example.com"
    webhook_endpoint: "/webhook/alertmanager"
  access_control:
    max_concurrent_tasks: 10
    allowed_operations: ["get", "list", "describe", "logs"]
    rate_limit: "100/hour"

- id: "prod-eu-west"
  name: "Production EU West"
  region: "eu-west-1"
  environment: "production"
  vault_path: "kubernetes/prod-eu-west"
  monitoring:
    alertmanager_url: "https://alertmanager.prod-eu-west.example.com"
    webhook_endpoint: "/webhook/alertmanager"
  access_control:
    max_concurrent_tasks: 10
    allowed_operations: ["get", "list", "describe", "logs"]
    rate_limit: "100/hour"

- id: "test-staging"
  name: "Test Staging Environment"
  region: "us-east-1"
  environment: "staging"
  vault_path: "secret/clusters/test-staging"
  credentials: {engine: kv2}
  access_control:
    max_concurrent_tasks: 5
    allowed_operations: ["get", "list", "describe", "logs"]
    rate_limit: "200/hour"
"""


def test_srs_example_parses() -> None:
    reg = parse_registry(SRS_EXAMPLE)
    ids = [c.id for c in reg.clusters]
    assert ids == ["prod-us-west", "prod-eu-west", "test-staging"]
    staging = reg.clusters[2]
    assert staging.access_control.max_concurrent_tasks == 5
    assert staging.access_control.rate_limit == RateSpec(count=200, period_seconds=3600)
    assert staging.access_control.rate_limit.per_second == pytest.approx(200 / 3600)
    assert staging.vault_location() == ("secret", "clusters/test-staging")
    assert reg.clusters[0].vault_location() == ("kubernetes", "prod-us-west")
    assert reg.model_dump()["clusters"][0]["access_control"]["rate_limit"] == "100/hour"  # round-trips


@pytest.mark.parametrize("edit, expected", [
    (("max_concurrent_tasks: 5", "max_concurrent_tasks: 0"),
     "cluster 'test-staging' (#3) field access_control.max_concurrent_tasks: Input should be greater than or equal to 1"),
    (('rate_limit: "200/hour"', 'rate_limit: "lots"'),
     "cluster 'test-staging' (#3) field access_control.rate_limit: rate 'lots' must look like '100/hour'"),
    (('allowed_operations: ["get", "list", "describe", "logs"]\n    rate_limit: "200/hour"',
      'allowed_operations: ["get", "delete"]\n    rate_limit: "200/hour"'),
     "cluster 'test-staging' (#3) field access_control.allowed_operations: operations ['delete'] are not read-only"),
    (('id: "prod-eu-west"', 'id: "prod-us-west"'), "cluster id 'prod-us-west' appears more than once"),
    (('id: "prod-eu-west"', 'id: "Prod EU!"'), "cluster 'Prod EU!' (#2) field id: String should match pattern"),
    (('  environment: "staging"\n', '  environment: "staging"\n  colour: blue\n'),
     "cluster 'test-staging' (#3) field colour: Extra inputs are not permitted"),
    (('vault_path: "secret/clusters/test-staging"', 'vault_path: "nomount"'),
     "cluster 'test-staging' (#3) field vault_path: String should match pattern"),
    (("credentials: {engine: kv2}", "credentials: {engine: kubernetes}"),
     "cluster 'test-staging' (#3) field credentials: credentials.kubernetes_namespace is required"),
])
def test_validation_errors_name_cluster_and_field(edit: tuple[str, str], expected: str) -> None:
    old, new = edit
    assert old in SRS_EXAMPLE
    with pytest.raises(RegistryError) as info:
        parse_registry(SRS_EXAMPLE.replace(old, new, 1), "clusters.yaml")
    assert any(p.startswith(expected) for p in info.value.problems), info.value.problems
    assert str(info.value).startswith("clusters.yaml: ")


def test_debug_from_the_srs_example_is_refused_as_a_write() -> None:
    with pytest.raises(RegistryError, match=r"operations \['debug'\] are not read-only"):
        parse_registry(SRS_EXAMPLE.replace('["get", "list", "describe", "logs"]\n    rate_limit: "200/hour"',
                                           '["get", "list", "describe", "logs", "debug"]\n    rate_limit: "200/hour"'))


def test_structural_errors() -> None:
    with pytest.raises(RegistryError, match="not valid YAML at line 3, column 1"):
        parse_registry("clusters:\n  - id: [unclosed\n")
    with pytest.raises(RegistryError, match="must be a mapping with a 'clusters' list"):
        parse_registry("- just a list\n")
    with pytest.raises(RegistryError, match="field clusters: Input should be a valid list"):
        parse_registry("clusters: 3\n")
    with pytest.raises(RegistryError, match=r"cluster #1 field name: Field required"):
        parse_registry("clusters:\n- {vault_path: a/b}\n")


def test_diff_and_audit_event() -> None:
    old = {c.id: c for c in parse_registry(SRS_EXAMPLE).clusters}
    new = dict(old)
    new.pop("prod-eu-west")
    new["test-staging"] = old["test-staging"].model_copy(update={"region": "us-east-2"})
    new["dev"] = ClusterConfig(id="dev", name="Dev", vault_path="secret/dev")
    change = diff(old, new)
    assert (change.added, change.removed, change.changed) == (("dev",), ("prod-eu-west",), ("test-staging",))
    event = change_audit_event(change, "clusters.yaml")
    assert event.action == "config.clusters.reload" and event.details["removed"] == ["prod-eu-west"]
    assert change_audit_event(None, "clusters.yaml", error="bad").result == "error"


def _write(path: Path, text: str, bump: int) -> None:
    path.write_text(text)
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + bump * 1_000_000_000))  # a distinct mtime per write


def test_hot_reload_keeps_last_good_and_never_raises(tmp_path: Path) -> None:
    path = tmp_path / "clusters.yaml"
    _write(path, SRS_EXAMPLE, 0)
    reg = ClusterRegistry.load(path)
    assert set(reg.clusters) == {"prod-us-west", "prod-eu-west", "test-staging"}
    assert reg.check().result == "unchanged"

    _write(path, SRS_EXAMPLE.replace("max_concurrent_tasks: 5", "max_concurrent_tasks: 7"), 1)
    out = reg.check()
    assert out.result == "reloaded" and out.change.changed == ("test-staging",)
    assert reg.get("test-staging").access_control.max_concurrent_tasks == 7

    _write(path, SRS_EXAMPLE.replace("max_concurrent_tasks: 5", "max_concurrent_tasks: -1"), 2)
    out = reg.check()
    assert out.result == "rejected" and "keeping the last good registry" in out.error and "test-staging" in out.error
    assert reg.get("test-staging").access_control.max_concurrent_tasks == 7 and reg.last_error
    assert reg.check().result == "unchanged"  # the same bad content is reported once

    _write(path, "clusters: [\n", 3)
    assert reg.check().result == "rejected"
    path.write_bytes(b"\xff\xfe not utf-8")
    assert reg.check().result == "rejected"
    path.unlink()
    out = reg.check()
    assert out.result == "rejected" and "cannot read" in out.error
    assert reg.check().result == "unchanged" and len(reg.clusters) == 3

    _write(path, SRS_EXAMPLE.replace("max_concurrent_tasks: 5", "max_concurrent_tasks: 7"), 4)
    assert reg.check().result == "unchanged" and reg.last_error is None  # the good content is back

    assert reg.resolve("nope", "prod-us-west").id == "prod-us-west"
    assert reg.resolve(None, "nope") is None


def test_startup_load_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="cannot read"):
        ClusterRegistry.load(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text(SRS_EXAMPLE.replace('  name: "Production EU West"\n', ""))
    with pytest.raises(RegistryError, match=r"cluster 'prod-eu-west' \(#2\) field name: Field required"):
        ClusterRegistry.load(bad)


def test_watch_loop_calls_back_and_survives_callback_errors(tmp_path: Path) -> None:
    path = tmp_path / "clusters.yaml"
    _write(path, SRS_EXAMPLE, 0)
    reg = ClusterRegistry.load(path)
    changes, errors = [], []

    async def on_change(change, clusters) -> None:  # noqa: ANN001
        changes.append(change)
        raise RuntimeError("subscriber bug")  # must not stop the watcher

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(reg.watch(0.01, on_change=on_change, on_error=errors.append, stop=stop))
        await asyncio.sleep(0.05)
        _write(path, SRS_EXAMPLE.replace("region: \"eu-west-1\"", "region: \"eu-west-3\""), 1)
        for _ in range(200):
            if changes:
                break
            await asyncio.sleep(0.01)
        _write(path, "clusters: 1\n", 2)
        for _ in range(200):
            if errors:
                break
            await asyncio.sleep(0.01)
        stop.set()
        await asyncio.wait_for(task, 5)

    asyncio.run(scenario())
    assert changes[0].changed == ("prod-eu-west",)
    assert len(errors) == 1 and "field clusters" in errors[0]
    assert reg.get("prod-eu-west").region == "eu-west-3"
