"""Watching many clusters from the cluster registry file, each with its own credentials.

Pure planning (which clusters, from which source; what to start/stop/restart) is tested directly. The rest runs
on real parts: a real OpenBao (tests/openbao.py) holding each cluster's endpoint, CA and token in KV v2, three real
kube-apiservers (tests/kubeapi.py) each with its own service-account signing key - a token is good at its own
server only, so a cluster that publishes used its own credential - and the real Kafka broker. A credential is
revoked at the server by deleting its service account's binding (refused at once) and the account itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml
from pydantic import SecretStr

from aetherius.metrics import REGISTRY
from schemas.audit import AuditEvent
from schemas.clusters import ClusterConfig
from schemas.kube import KubeEvent
from schemas.security_settings import VaultSettings
from schemas.settings import ClusterSource, load_settings
from schemas.topics import topic_name
from streams.watch_fleet import CliCluster, WatchTarget, desired_targets, plan_changes
from streams.watch_sources import VaultSource
from streams.watcher import EventWatcher, stream_seconds
from tests.kubeapi import Kube, KubeAPIServer, make_event, require_binaries
from tests.kubechart import NAMESPACE, install_chart_rbac
from tests.openbao import OpenBao
from tests.test_watcher import FAST, REASONS, Sink, until

REPO = Path(__file__).resolve().parents[1]


# --- pure: which clusters, from where -------------------------------------------------------------------
def cfg(cid: str, **extra: Any) -> ClusterConfig:
    return ClusterConfig(**{"id": cid, "name": cid, "vault_path": f"secret/clusters/{cid}", **extra})


def test_registry_clusters_come_from_vault_settings_and_cli_kubeconfigs_win():
    registry = {c.id: c for c in (cfg("alpha"), cfg("beta", enabled=False), cfg("gamma"))}
    sources = {"gamma": ClusterSource(kubeconfig=Path("/k/gamma")), "dumped": ClusterSource(dump=Path("/d")),
               "local": ClusterSource()}
    targets, notes = desired_targets([], sources, registry, vault_configured=True)
    assert {c: t.describe() for c, t in targets.items()} == {
        "alpha": "vault:secret/clusters/alpha", "gamma": "kubeconfig:/k/gamma", "local": "kubeconfig:default"}
    assert notes == ["cluster dumped: read from a dump directory, which cannot be watched"]

    targets, notes = desired_targets([], sources, registry, vault_configured=False)
    assert sorted(targets) == ["gamma", "local"]
    assert "cluster alpha: in the registry but no vault settings to get its credentials from" in notes


def test_cli_clusters_restrict_the_set_and_disabled_wins():
    registry = {c.id: c for c in (cfg("alpha"), cfg("beta", enabled=False), cfg("gamma"))}
    cli = [CliCluster("alpha"), CliCluster("extra", kubeconfig=Path("/k/x")), CliCluster("beta", Path("/k/b")),
           CliCluster("typo")]
    targets, notes = desired_targets(cli, {}, registry, vault_configured=True)
    assert {c: t.origin for c, t in targets.items()} == {"alpha": "registry", "extra": "cli"}
    assert "cluster beta: disabled in the registry" in notes
    assert any(n.startswith("cluster typo: named with --cluster") for n in notes)
    # No registry at all: a bare --cluster keeps its old meaning (default kubeconfig / service account).
    targets, _ = desired_targets([CliCluster("solo")], {}, None, vault_configured=False)
    assert targets == {"solo": WatchTarget("solo", origin="cli")}


def test_plan_restarts_only_when_the_credential_source_changes():
    old = {"a": WatchTarget("a", vault=cfg("a")), "b": WatchTarget("b", vault=cfg("b")),
           "k": WatchTarget("k", Path("/k1"))}
    new = {"a": WatchTarget("a", vault=cfg("a", access_control={"max_concurrent_tasks": 3})),  # limits only
           "b": WatchTarget("b", vault=cfg("b", vault_path="secret/other/b")),
           "k": WatchTarget("k", Path("/k1"), context="admin"), "c": WatchTarget("c", vault=cfg("c"))}
    plan = plan_changes(old, new)
    assert (plan.start, plan.stop, plan.restart) == (("c",), (), ("b", "k"))
    assert plan_changes(new, {"c": new["c"]}).stop == ("a", "b", "k")
    assert not plan_changes(new, new)


def test_stream_seconds_end_the_watch_when_the_credential_is_due():
    assert stream_seconds(120, None) == 120
    assert stream_seconds(120, 42.2) == 43  # ends just after the renewal point, never before it
    assert stream_seconds(120, 500) == 120
    assert stream_seconds(120, -3) == 1  # overdue: a short stream, then the next one fetches anew


# --- real OpenBao, real API servers, real Kafka ---------------------------------------------------------
@pytest.fixture(scope="module")
def bao() -> Iterator[OpenBao]:
    server = OpenBao()
    with server.running():
        yield server


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, KubeAPIServer]]:
    """Three real API servers (three clusters), each with the chart's reader role installed."""
    made = {n: KubeAPIServer(require_binaries(), tmp_path_factory.mktemp(f"kubeapi-{n}"))
            for n in ("alpha", "beta", "gamma")}
    with contextlib.ExitStack() as stack:
        for server in made.values():
            stack.enter_context(server.running())
        yield made


async def reader_account(server: KubeAPIServer, name: str) -> str:
    """A service account bound to the chart's reader ClusterRole, and a token for it (TokenRequest)."""
    async with server.admin() as kube:
        role = (await install_chart_rbac(kube)).cluster_role["metadata"]["name"]
        await kube.ensure(f"/api/v1/namespaces/{NAMESPACE}/serviceaccounts", {"metadata": {"name": name}})
        await kube.ensure("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", {
            "metadata": {"name": f"reader-{name}"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": NAMESPACE}]})
        return await kube.token(NAMESPACE, name)


async def revoke_account(server: KubeAPIServer, name: str) -> None:
    """The binding goes (every request with its token is 403 from now on), then the account (401 once the
    server's 10 s token cache has let go of it)."""
    async with server.admin() as kube:
        await kube.delete(f"/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/reader-{name}")
        await kube.delete(f"/api/v1/namespaces/{NAMESPACE}/serviceaccounts/{name}")


async def fresh(server: KubeAPIServer, *namespaces: str) -> None:
    """No events left from earlier tests (a watcher publishes every event of its cluster); the namespaces exist."""
    async with server.admin() as kube:
        for ns in (await kube.request("GET", "/api/v1/namespaces"))["items"]:
            await kube.request("DELETE", f"/api/v1/namespaces/{ns['metadata']['name']}/events", ok=(200,))
        for ns in namespaces:
            await kube.ensure("/api/v1/namespaces", {"metadata": {"name": ns}})


async def seed(server: KubeAPIServer, cid: str, n: int = 0) -> None:
    async with server.admin() as kube:
        await kube.create(f"/api/v1/namespaces/{cid}/events",
                          make_event(f"web-{cid}-{n}.1", "BackOff", namespace=cid, object_name=f"web-{cid}-{n}"))


def put(bao: OpenBao, cid: str, server: KubeAPIServer, token: str) -> None:
    bao.put_cluster(cid, server.url, token, ca_cert=server.ca_pem)


def delete_secret(bao: OpenBao, cid: str) -> None:
    bao.root_client().secrets.kv.v2.delete_metadata_and_all_versions(path=f"clusters/{cid}", mount_point="secret")


def write_registry(path: Path, clusters: list[str], text: str | None = None) -> None:
    """Replace the file whole (as a ConfigMap update does), so a reader never sees half a file."""
    body = text if text is not None else yaml.safe_dump(
        {"clusters": [{"id": c, "name": c, "vault_path": f"secret/clusters/{c}"} for c in clusters]})
    tmp = path.with_suffix(".tmp")
    tmp.write_text(body)
    os.replace(tmp, path)


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


class Collector:
    """Reads a topic from the start in the background, so a test can wait for what it expects."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap, self.topic = bootstrap, topic
        self.records: list[tuple[str, bytes]] = []
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Collector:
        from aiokafka import AIOKafkaConsumer

        self._consumer = AIOKafkaConsumer(self.topic, bootstrap_servers=self.bootstrap, auto_offset_reset="earliest",
                                          group_id=f"g-{uuid.uuid4().hex[:8]}", enable_auto_commit=False)
        await self._consumer.start()
        self._task = asyncio.create_task(self._run())
        return self

    async def _run(self) -> None:
        while True:
            for batch in (await self._consumer.getmany(timeout_ms=200)).values():
                self.records.extend((m.key.decode(), m.value) for m in batch)

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        await self._consumer.stop()

    def events(self) -> list[tuple[str, KubeEvent]]:
        return [(k, KubeEvent.from_bytes(v)) for k, v in self.records]

    def keys(self) -> list[str]:
        return [k for k, _ in self.records]


async def create_topics(bootstrap: str, *topics: str) -> None:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(t, num_partitions=2, replication_factor=1) for t in topics])
    finally:
        await admin.close()


WATCH = FAST.model_copy(update={"registry_poll_seconds": 0.1})


@pytest.mark.kafka
def test_registry_clusters_watched_with_their_own_vault_credentials_reloaded_and_isolated(
        bao, servers, kafka_bootstrap, topic_prefix, tmp_path, caplog):
    """Two clusters from one registry file publish, each with its own token; a third whose secret is missing
    fails alone; an edit adds one and removes one; a bad edit changes nothing; a credential revoked at its API
    server stops only its cluster, which comes back (resumed, nothing published twice) once Vault holds a new one."""
    from aetherius.commands.watch import serve

    caplog.set_level(logging.INFO)
    events_topic, audit_topic = topic_name(topic_prefix, "k8s.events"), topic_name(topic_prefix, "audit")
    registry = tmp_path / "clusters.yaml"
    tokens: dict[str, str] = {}

    async def scenario() -> None:
        await create_topics(kafka_bootstrap, events_topic, audit_topic)
        for cid, server in servers.items():
            await fresh(server, cid)
            tokens[cid] = await reader_account(server, f"{cid}-1")
            await seed(server, cid)
            put(bao, cid, server, tokens[cid])
        async with Kube(servers["beta"].url, tokens["alpha"], servers["beta"].ssl_context()) as other:
            assert await other.status("GET", "/api/v1/events") == 401  # a token is good at its own server only
        write_registry(registry, ["alpha", "beta", "ghost"])  # ghost: nothing at its vault_path
        settings = load_settings(
            kafka={"bootstrap": kafka_bootstrap, "topic_prefix": topic_prefix}, clusters_file=registry,
            vault=VaultSettings(url=bao.url, token=SecretStr("root")), watch=WATCH)
        ghost_failures = metric("aetherius_watch_credential_failures_total", cluster="ghost", why="unavailable")
        alpha_lists = metric("aetherius_watch_relists_total", cluster="alpha")
        async with Collector(kafka_bootstrap, events_topic) as events, Collector(kafka_bootstrap, audit_topic) as audit:
            task = asyncio.create_task(serve([], settings))
            try:
                # 1. Both registry clusters publish, keyed by their own id, each with the token of its own server.
                await until(lambda: len(events.records) == 2, "one event from each of alpha and beta", 30)
                assert sorted(events.keys()) == ["alpha/alpha/Pod/web-alpha-0", "beta/beta/Pod/web-beta-0"]
                assert {r.cluster_id for _, r in events.events()} == {"alpha", "beta"}
                # ghost has no secret: it fails and backs off, visibly, and holds nobody up.
                await until(lambda: metric("aetherius_watch_credential_failures_total", cluster="ghost",
                                           why="unavailable") >= ghost_failures + 2, "ghost's repeated failures")
                assert metric("aetherius_watch_cluster_failing", cluster="ghost") >= 1
                assert metric("aetherius_watch_cluster_failing", cluster="alpha") == 0
                await until(lambda: metric("aetherius_watch_stream_up", cluster="alpha") == 1
                            and metric("aetherius_watch_stream_up", cluster="beta") == 1, "both watches open")
                await seed(servers["beta"], "beta", 1)
                await until(lambda: len(events.records) == 3, "beta's watched event")

                # 2. Registry edit: gamma added, beta removed (and ghost dropped).
                write_registry(registry, ["alpha", "gamma"])
                await until(lambda: "gamma/gamma/Pod/web-gamma-0" in events.keys(), "gamma's event", 15)
                assert metric("aetherius_watch_cluster_failing", cluster="ghost") == 0  # no longer watched
                await until(lambda: len(audit.records) >= 1, "the reload audit event")
                reload = AuditEvent.from_bytes(audit.records[0][1])
                assert (reload.action, reload.result) == ("config.clusters.reload", "ok")
                assert reload.details["added"] == ["gamma"] and sorted(reload.details["removed"]) == ["beta", "ghost"]
                await seed(servers["beta"], "beta", 2)  # nobody watches beta any more: never published

                # 3. A bad edit is audited as an error; the running set stays and keeps publishing.
                write_registry(registry, [], text="clusters:\n  - id: [not, valid\n")
                await until(lambda: len(audit.records) >= 2, "the rejected-reload audit event")
                rejected = AuditEvent.from_bytes(audit.records[1][1])
                assert rejected.result == "error" and "not valid YAML" in rejected.reason
                await seed(servers["alpha"], "alpha", 1)
                await seed(servers["gamma"], "gamma", 1)
                await until(lambda: len(events.records) == 6, "alpha and gamma after the bad edit")

                # 4. alpha's credential is revoked at its API server and its secret removed from Vault: alpha
                #    fails (refused, then unavailable) and backs off; gamma goes on.
                refused = metric("aetherius_watch_credential_failures_total", cluster="alpha", why="refused")
                delete_secret(bao, "alpha")
                # A watch already open outlives the revocation (the server authorises a request once) until its
                # timeout; the next one is refused.
                await revoke_account(servers["alpha"], "alpha-1")
                await until(lambda: metric("aetherius_watch_credential_failures_total", cluster="alpha",
                                           why="unavailable") >= 1, "alpha to find no credentials in Vault", 20)
                await seed(servers["alpha"], "alpha", 2)
                assert metric("aetherius_watch_credential_failures_total", cluster="alpha", why="refused") > refused
                assert metric("aetherius_watch_cluster_failing", cluster="alpha") >= 1
                await seed(servers["gamma"], "gamma", 2)
                await until(lambda: "gamma/gamma/Pod/web-gamma-2" in events.keys(), "gamma while alpha is down")
                assert "alpha/alpha/Pod/web-alpha-2" not in events.keys()

                # 5. Vault gets a new credential for alpha: alpha resumes from its resourceVersion, publishes the
                #    event it missed and nothing it had already published.
                tokens["alpha2"] = await reader_account(servers["alpha"], "alpha-2")
                put(bao, "alpha", servers["alpha"], tokens["alpha2"])
                await until(lambda: "alpha/alpha/Pod/web-alpha-2" in events.keys(), "alpha back", 20)
                assert metric("aetherius_watch_cluster_failing", cluster="alpha") == 0
                assert metric("aetherius_watch_relists_total", cluster="alpha") == alpha_lists + 1  # resumed
                await asyncio.sleep(0.5)  # anything published twice would show up by now
                keys = events.keys()
                assert len(keys) == len(set(keys)) == 8
                assert sorted(keys) == sorted([f"{c}/{c}/Pod/web-{c}-{i}" for c in ("alpha", "gamma") for i in range(3)]
                                              + ["beta/beta/Pod/web-beta-0", "beta/beta/Pod/web-beta-1"])
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
            # Nothing credential-like in any record or log line.
            blob = b"".join(v for _, v in events.records + audit.records)
            for token in tokens.values():
                assert token.encode() not in blob and token not in caplog.text

    asyncio.run(scenario())


def test_vault_credential_is_renewed_before_it_is_due_without_a_relist_or_a_refusal(bao, servers):
    """A short KV cache: the watcher ends its stream when the credential is due, re-reads Vault and carries on
    with the rotated token from the same resourceVersion. The old token's binding is then removed at the server
    (every request with it would be 403): no refusal, no re-list, nothing published twice."""
    cluster = cfg("rot")
    server = servers["gamma"]
    from agents.credentials.vault import VaultCredentialProvider

    async def scenario() -> None:
        await fresh(server, "rot")
        await seed(server, "rot")
        put(bao, "rot", server, await reader_account(server, "rot-1"))
        provider = VaultCredentialProvider(VaultSettings(url=bao.url, token=SecretStr("root"),
                                                         kv_cache_seconds=2.0, renew_margin_seconds=0.5))
        source = VaultSource(cluster, provider)
        sink = Sink()
        watcher = EventWatcher(source, "rot", sink, REASONS, FAST, rand=lambda: 0.5)
        task = asyncio.create_task(watcher.run())
        try:
            await until(lambda: len(sink.records) == 1 and watcher.stats.watches >= 1, "the listed event")
            first_client, listed_at = watcher.api_client, asyncio.get_running_loop().time()
            put(bao, "rot", server, await reader_account(server, "rot-2"))  # rotated in Vault
            await until(lambda: watcher.api_client is not first_client, "a client with the rotated token", 10)
            # The stream was cut short to the credential's life (2 s), not the configured 5 s.
            assert asyncio.get_running_loop().time() - listed_at < FAST.timeout_seconds
            await revoke_account(server, "rot-1")
            await seed(server, "rot", 1)
            await until(lambda: len(sink.records) == 2, "the event after the rotation")
            await asyncio.sleep(FAST.timeout_seconds)  # the next streams too go out with the new token only
            assert watcher.stats.credential_failures == 0 and watcher.stats.failures == 0
            assert watcher.stats.lists == 1
            assert [k for k, _ in sink.records] == ["rot/rot/Pod/web-rot-0", "rot/rot/Pod/web-rot-1"]
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await source.close()
            await provider.close()

    asyncio.run(scenario())


# --- the command ----------------------------------------------------------------------------------------
def test_start_up_errors_name_the_problem(tmp_path):
    from aetherius.cli import CliError
    from aetherius.commands.watch import ClusterSpec, serve

    registry = tmp_path / "clusters.yaml"
    write_registry(registry, ["alpha"])
    vault = VaultSettings(url="http://127.0.0.1:9", token=SecretStr("x"))
    cases = [
        (load_settings(clusters_file=registry, vault=vault), [ClusterSpec(id="typo")],
         "cannot watch typo: cluster typo: named with --cluster but in neither"),
        (load_settings(clusters_file=registry), [ClusterSpec(id="alpha")], "no vault settings"),
        (load_settings(clusters_file=tmp_path / "missing.yaml"), [], "missing.yaml: cannot read"),
        (load_settings(), [], "nothing to watch"),
    ]
    for settings, specs, message in cases:
        with pytest.raises(CliError, match=message):
            asyncio.run(serve(specs, settings))


@pytest.mark.kafka
def test_aetherius_watch_reads_the_registry_and_vault_from_settings(bao, servers, kafka_bootstrap, topic_prefix,
                                                                    tmp_path):
    """The real CLI process, configured only by environment: registry file + Vault -> two real clusters -> real
    Kafka; its /metrics shows the cluster that has no credentials; SIGTERM stops it cleanly."""
    import httpx

    from tests.openbao import _free_port

    events_topic = topic_name(topic_prefix, "k8s.events")
    registry = tmp_path / "clusters.yaml"
    port = _free_port()

    async def main() -> None:
        await create_topics(kafka_bootstrap, events_topic, topic_name(topic_prefix, "audit"))
        tokens = []
        for cid, server in (("east", servers["alpha"]), ("west", servers["beta"])):
            await fresh(server, cid)
            await seed(server, cid)
            tokens.append(await reader_account(server, f"{cid}-cli"))
            put(bao, cid, server, tokens[-1])
        async with Collector(kafka_bootstrap, events_topic) as events:
            write_registry(registry, ["east", "west", "nosecret"])
            env = {**os.environ, "AETHERIUS_KAFKA__BOOTSTRAP": kafka_bootstrap,
                   "AETHERIUS_KAFKA__TOPIC_PREFIX": topic_prefix, "AETHERIUS_CLUSTERS_FILE": str(registry),
                   "AETHERIUS_VAULT__URL": bao.url, "AETHERIUS_VAULT__TOKEN": "root",
                   "AETHERIUS_WATCH__PORT": str(port), "AETHERIUS_WATCH__BACKOFF_BASE_SECONDS": "0.05",
                   "AETHERIUS_WATCH__BACKOFF_CAP_SECONDS": "0.3"}
            env.pop("AETHERIUS_CONFIG", None)
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "aetherius.cli", "watch", env=env, cwd=REPO,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            try:
                await until(lambda: len(events.records) == 2, "both clusters' events", 40)
                assert sorted(events.keys()) == ["east/east/Pod/web-east-0", "west/west/Pod/web-west-0"]
                async with httpx.AsyncClient() as http:
                    for _ in range(50):
                        body = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
                        if 'aetherius_watch_cluster_failing{cluster="nosecret"}' in body:
                            break
                        await asyncio.sleep(0.1)
                    ready = (await http.get(f"http://127.0.0.1:{port}/health/ready")).json()
                assert 'aetherius_watch_credential_failures_total{cluster="nosecret",why="unavailable"}' in body
                assert set(ready["clusters"]) == {"east", "west", "nosecret"}
                assert ready["clusters"]["nosecret"]["credential_failures"] >= 1
                assert ready["clusters"]["east"]["published"] == 1
            finally:
                proc.send_signal(signal.SIGTERM)
                _, err = await asyncio.wait_for(proc.communicate(), 30)
            assert proc.returncode == 0, err.decode()[-2000:]
            assert b"Traceback" not in err and b"Unclosed" not in err, err.decode()[-2000:]
            assert all(t.encode() not in err for t in tokens)
            lines = [json.loads(line) for line in err.decode().splitlines() if line.startswith("{")]
            assert any(line.get("cluster_id") == "nosecret" and "cannot get credentials" in line.get("msg", "")
                       for line in lines), err.decode()[-2000:]

    asyncio.run(main())


def test_vault_down_stops_only_the_vault_clusters_and_they_resume_when_it_returns(servers, tmp_path):
    """Vault goes away: the Vault cluster fails once its credential is due, the kubeconfig cluster goes on;
    Vault returns: the Vault cluster resumes from its resourceVersion and publishes what it missed, once."""
    from agents.credentials.vault import VaultCredentialProvider
    from streams.watch_fleet import WatchFleet
    from streams.watch_sources import KubeconfigSource

    local, remote = servers["alpha"], servers["beta"]
    vault = OpenBao()  # its own server: this test stops it
    vault.start()

    async def scenario() -> None:
        for server, cid in ((local, "local"), (remote, "remote")):
            await fresh(server, cid)
            await seed(server, cid)
        put(vault, "remote", remote, await reader_account(remote, "remote-1"))
        kubeconfig = local.kubeconfig(await reader_account(local, "local-1"), name="local")
        provider = VaultCredentialProvider(VaultSettings(url=vault.url, token=SecretStr("root"),
                                                         kv_cache_seconds=1.5, renew_margin_seconds=0.5))

        def make_source(target: WatchTarget):
            if target.vault is not None:
                return VaultSource(target.vault, provider)
            return KubeconfigSource(target.cluster_id, target.kubeconfig, target.context)

        sink = Sink()
        fleet = WatchFleet(sink, REASONS, FAST, make_source)
        remote_lists = metric("aetherius_watch_relists_total", cluster="remote")
        await fleet.apply({"local": WatchTarget("local", kubeconfig), "remote": WatchTarget("remote", vault=cfg("remote"))})
        try:
            await until(lambda: len(sink.records) == 2, "both clusters' listed events")
            vault.stop()
            remote_watcher = fleet.watcher("remote")
            await until(lambda: remote_watcher.stats.credential_failures >= 1, "the remote credential to fall due")
            assert metric("aetherius_watch_cluster_failing", cluster="remote") >= 1
            await seed(local, "local", 1)
            await seed(remote, "remote", 1)
            await until(lambda: "local/local/Pod/web-local-1" in [k for k, _ in sink.records], "local goes on")
            assert "remote/remote/Pod/web-remote-1" not in [k for k, _ in sink.records]

            vault.start()  # a dev server forgets everything: the secret is put back
            put(vault, "remote", remote, await reader_account(remote, "remote-1"))
            await until(lambda: "remote/remote/Pod/web-remote-1" in [k for k, _ in sink.records], "remote back", 15)
            keys = [k for k, _ in sink.records]
            assert sorted(keys) == ["local/local/Pod/web-local-0", "local/local/Pod/web-local-1",
                                    "remote/remote/Pod/web-remote-0", "remote/remote/Pod/web-remote-1"]
            assert metric("aetherius_watch_relists_total", cluster="remote") == remote_lists + 1  # never re-listed
        finally:
            await fleet.stop_all()
            await provider.close()

    try:
        asyncio.run(scenario())
    finally:
        vault.stop()
        with contextlib.suppress(OSError):
            os.unlink(vault._log.name)


def test_a_changed_vault_path_restarts_the_watcher_without_publishing_anything_twice(bao, servers):
    """The registry moves a cluster's credentials to another path: a new watcher with the new credential
    re-lists, and the memory of what was published is carried over, so the re-list publishes nothing again.
    A change that does not touch the credentials (limits) leaves the watcher alone."""
    from agents.credentials.vault import VaultCredentialProvider
    from streams.watch_fleet import WatchFleet

    server = servers["gamma"]

    async def scenario() -> None:
        await fresh(server, "moved")
        await seed(server, "moved")
        put(bao, "moved", server, await reader_account(server, "moved-1"))
        bao.root_client().secrets.kv.v2.create_or_update_secret(
            path="elsewhere/moved", mount_point="secret",
            secret={"server": server.url, "ca_cert": server.ca_pem, "token": await reader_account(server, "moved-2")})
        provider = VaultCredentialProvider(VaultSettings(url=bao.url, token=SecretStr("root")))
        sink = Sink()
        fleet = WatchFleet(sink, REASONS, FAST, lambda t: VaultSource(t.vault, provider))
        try:
            await fleet.apply({"moved": WatchTarget("moved", vault=cfg("moved"))})
            first = fleet.watcher("moved")
            await until(lambda: len(sink.records) == 1 and first.stats.watches >= 1, "the listed event")
            plan = await fleet.apply({"moved": WatchTarget(
                "moved", vault=cfg("moved", access_control={"max_concurrent_tasks": 2}))})
            assert not plan and fleet.watcher("moved") is first

            await revoke_account(server, "moved-1")  # only the credential at the new path works from now on
            plan = await fleet.apply({"moved": WatchTarget(
                "moved", vault=cfg("moved", vault_path="secret/elsewhere/moved"))})
            assert plan.restart == ("moved",)
            second = fleet.watcher("moved")
            await until(lambda: second.stats.lists == 1 and second.stats.watches >= 1, "the new watcher's list")
            assert second.stats.duplicates == 1 and len(sink.records) == 1
            await seed(server, "moved", 1)
            await until(lambda: len(sink.records) == 2, "an event through the new credential")
            assert second.stats.credential_failures == 0
        finally:
            await fleet.stop_all()
            await provider.close()

    asyncio.run(scenario())
