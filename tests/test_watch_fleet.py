"""Watching many clusters from the cluster registry file, each with its own credentials.

Pure planning (which clusters, from which source; what to start/stop/restart) is tested directly. The rest runs
on real parts: a real OpenBao (tests/openbao.py) holding each cluster's endpoint/token in KV v2, fake API servers
(tests/fake_kube_api.py: the real list/watch protocol; no real API server can run here) that each accept only their
own bearer token and record what they were sent, and the real Kafka broker.
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
from tests.fake_kube_api import FakeKubeAPI, make_event, write_kubeconfig
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


# --- real OpenBao, fake API servers, real Kafka ---------------------------------------------------------
@pytest.fixture(scope="module")
def bao() -> Iterator[OpenBao]:
    server = OpenBao()
    with server.running():
        yield server


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


def seed(fake: FakeKubeAPI, cid: str, n: int = 0) -> None:
    fake.add("events", make_event(f"web-{cid}-{n}.1", "BackOff", namespace=cid, object_name=f"web-{cid}-{n}"))


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
        bao, kafka_bootstrap, topic_prefix, tmp_path, caplog):
    """Two clusters from one registry file publish, each with its own token; a third whose secret is missing
    fails alone; an edit adds one and removes one; a bad edit changes nothing; a revoked credential stops only
    its cluster, which comes back (without publishing anything twice) once Vault holds a good one again."""
    from aetherius.commands.watch import serve

    caplog.set_level(logging.INFO)
    events_topic, audit_topic = topic_name(topic_prefix, "k8s.events"), topic_name(topic_prefix, "audit")
    registry = tmp_path / "clusters.yaml"
    tokens = {c: f"{c}-sa-token-{uuid.uuid4().hex[:6]}" for c in ("alpha", "beta", "gamma")}
    tokens["alpha2"] = f"alpha-rotated-{uuid.uuid4().hex[:6]}"

    async def scenario() -> None:
        await create_topics(kafka_bootstrap, events_topic, audit_topic)
        fakes = {c: FakeKubeAPI(token=tokens[c]) for c in ("alpha", "beta", "gamma")}
        for cid, fake in fakes.items():
            await fake.start()
            seed(fake, cid)
            bao.put_cluster(cid, fake.url, tokens[cid])
        write_registry(registry, ["alpha", "beta", "ghost"])  # ghost: nothing at its vault_path
        settings = load_settings(
            kafka={"bootstrap": kafka_bootstrap, "topic_prefix": topic_prefix}, clusters_file=registry,
            vault=VaultSettings(url=bao.url, token=SecretStr("root")), watch=WATCH)
        ghost_failures = metric("aetherius_watch_credential_failures_total", cluster="ghost", why="unavailable")
        async with Collector(kafka_bootstrap, events_topic) as events, Collector(kafka_bootstrap, audit_topic) as audit:
            task = asyncio.create_task(serve([], settings))
            try:
                # 1. Both registry clusters publish, keyed by their own id; each API saw only its own token.
                await until(lambda: len(events.records) == 2, "one event from each of alpha and beta", 30)
                assert sorted(events.keys()) == ["alpha/alpha/Pod/web-alpha-0", "beta/beta/Pod/web-beta-0"]
                assert {r.cluster_id for _, r in events.events()} == {"alpha", "beta"}
                for cid in ("alpha", "beta"):
                    assert {r.authorization for r in fakes[cid].requests} == {f"Bearer {tokens[cid]}"}
                    assert fakes[cid].writes == []
                assert fakes["gamma"].requests == []
                # ghost has no secret: it fails and backs off, visibly, and holds nobody up.
                await until(lambda: metric("aetherius_watch_credential_failures_total", cluster="ghost",
                                           why="unavailable") >= ghost_failures + 2, "ghost's repeated failures")
                assert metric("aetherius_watch_cluster_failing", cluster="ghost") >= 1
                assert metric("aetherius_watch_cluster_failing", cluster="alpha") == 0
                await until(lambda: fakes["alpha"].open_watches == 1 and fakes["beta"].open_watches == 1, "watches")
                seed(fakes["beta"], "beta", 1)
                await until(lambda: len(events.records) == 3, "beta's watched event")

                # 2. Registry edit: gamma added, beta removed (and ghost dropped).
                write_registry(registry, ["alpha", "gamma"])
                await until(lambda: "gamma/gamma/Pod/web-gamma-0" in events.keys(), "gamma's event", 15)
                await until(lambda: fakes["beta"].open_watches == 0, "beta's watch to be closed")
                assert {r.authorization for r in fakes["gamma"].requests} == {f"Bearer {tokens['gamma']}"}
                assert metric("aetherius_watch_cluster_failing", cluster="ghost") == 0  # no longer watched
                beta_requests = len(fakes["beta"].requests)
                await until(lambda: len(audit.records) >= 1, "the reload audit event")
                reload = AuditEvent.from_bytes(audit.records[0][1])
                assert (reload.action, reload.result) == ("config.clusters.reload", "ok")
                assert reload.details["added"] == ["gamma"] and sorted(reload.details["removed"]) == ["beta", "ghost"]

                # 3. A bad edit is audited as an error; the running set stays and keeps publishing.
                write_registry(registry, [], text="clusters:\n  - id: [not, valid\n")
                await until(lambda: len(audit.records) >= 2, "the rejected-reload audit event")
                rejected = AuditEvent.from_bytes(audit.records[1][1])
                assert rejected.result == "error" and "not valid YAML" in rejected.reason
                seed(fakes["alpha"], "alpha", 1)
                seed(fakes["gamma"], "gamma", 1)
                await until(lambda: len(events.records) == 6, "alpha and gamma after the bad edit")

                # 4. alpha's token is revoked at its API server and its secret removed from Vault: alpha
                #    fails (refused, then unavailable) and backs off; gamma goes on.
                refused = metric("aetherius_watch_credential_failures_total", cluster="alpha", why="refused")
                delete_secret(bao, "alpha")
                fakes["alpha"].token = tokens["alpha2"]
                fakes["alpha"].drop_watches()  # its open stream ends; the reconnect is refused
                seed(fakes["alpha"], "alpha", 2)
                await until(lambda: metric("aetherius_watch_credential_failures_total", cluster="alpha",
                                           why="unavailable") >= 1, "alpha to find no credentials in Vault")
                assert metric("aetherius_watch_credential_failures_total", cluster="alpha", why="refused") > refused
                assert metric("aetherius_watch_cluster_failing", cluster="alpha") >= 1
                seed(fakes["gamma"], "gamma", 2)
                await until(lambda: "gamma/gamma/Pod/web-gamma-2" in events.keys(), "gamma while alpha is down")
                assert "alpha/alpha/Pod/web-alpha-2" not in events.keys()

                # 5. Vault gets alpha's new token: alpha resumes from its resourceVersion, publishes the event
                #    it missed and nothing it had already published.
                lists_before = fakes["alpha"].count("/api/v1/events", watch=False)
                bao.put_cluster("alpha", fakes["alpha"].url, tokens["alpha2"])
                await until(lambda: "alpha/alpha/Pod/web-alpha-2" in events.keys(), "alpha back", 15)
                assert metric("aetherius_watch_cluster_failing", cluster="alpha") == 0
                assert fakes["alpha"].count("/api/v1/events", watch=False) == lists_before  # resumed, not re-listed
                await asyncio.sleep(0.5)  # anything published twice would show up by now
                keys = events.keys()
                assert len(keys) == len(set(keys)) == 8
                assert sorted(keys) == sorted([f"{c}/{c}/Pod/web-{c}-{i}" for c in ("alpha", "gamma") for i in range(3)]
                                              + ["beta/beta/Pod/web-beta-0", "beta/beta/Pod/web-beta-1"])
                assert len(fakes["beta"].requests) == beta_requests  # nobody watches beta any more
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
                for fake in fakes.values():
                    await fake.stop()
            # Nothing credential-like in any record or log line.
            blob = b"".join(v for _, v in events.records + audit.records)
            for token in tokens.values():
                assert token.encode() not in blob and token not in caplog.text
            assert all(f.writes == [] for f in fakes.values())

    asyncio.run(scenario())


def test_vault_credential_is_renewed_before_it_is_due_without_a_relist_or_a_refusal(bao):
    """A short KV cache: the watcher ends its stream when the credential is due, re-reads Vault and carries on
    with the rotated token from the same resourceVersion - no 401, no re-list, nothing published twice."""
    cluster = cfg("rot")
    from agents.credentials.vault import VaultCredentialProvider

    async def scenario() -> None:
        async with FakeKubeAPI(token="rot-token-1") as fake:
            seed(fake, "rot")
            bao.put_cluster("rot", fake.url, "rot-token-1")
            provider = VaultCredentialProvider(VaultSettings(url=bao.url, token=SecretStr("root"),
                                                             kv_cache_seconds=2.0, renew_margin_seconds=0.5))
            source = VaultSource(cluster, provider)
            sink = Sink()
            watcher = EventWatcher(source, "rot", sink, REASONS, FAST, rand=lambda: 0.5)
            task = asyncio.create_task(watcher.run())
            try:
                await until(lambda: len(sink.records) == 1 and fake.open_watches == 1, "the listed event")
                first_client = watcher.api_client
                bao.put_cluster("rot", fake.url, "rot-token-2")  # rotated in Vault and at the API server
                fake.token = "rot-token-2"  # the open stream was authorised before; the next one must use -2
                await until(lambda: any(r.authorization == "Bearer rot-token-2" for r in fake.requests),
                            "a request with the rotated token", 10)
                seed(fake, "rot", 1)
                await until(lambda: len(sink.records) == 2, "the event after the rotation")
                assert watcher.api_client is not first_client  # a new client for the new credential
                assert watcher.stats.credential_failures == 0 and watcher.stats.failures == 0
                assert watcher.stats.lists == 1 and fake.count("/api/v1/events", watch=False) == 1
                assert [k for k, _ in sink.records] == ["rot/rot/Pod/web-rot-0", "rot/rot/Pod/web-rot-1"]
                watch_timeouts = {int(r.query["timeoutSeconds"]) for r in fake.requests if r.is_watch}
                assert max(watch_timeouts) <= 2 < FAST.timeout_seconds  # cut short to the credential's life
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
def test_aetherius_watch_reads_the_registry_and_vault_from_settings(bao, kafka_bootstrap, topic_prefix, tmp_path):
    """The real CLI process, configured only by environment: registry file + Vault -> two fake clusters -> real
    Kafka; its /metrics shows the cluster that has no credentials; SIGTERM stops it cleanly."""
    import httpx

    from tests.openbao import _free_port

    events_topic = topic_name(topic_prefix, "k8s.events")
    registry = tmp_path / "clusters.yaml"
    port = _free_port()

    async def main() -> None:
        await create_topics(kafka_bootstrap, events_topic, topic_name(topic_prefix, "audit"))
        async with FakeKubeAPI(token="cli-e") as east, FakeKubeAPI(token="cli-w") as west, \
                Collector(kafka_bootstrap, events_topic) as events:
            for cid, fake, token in (("east", east, "cli-e"), ("west", west, "cli-w")):
                seed(fake, cid)
                bao.put_cluster(cid, fake.url, token)
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
            assert b"cli-e" not in err and b"cli-w" not in err
            lines = [json.loads(line) for line in err.decode().splitlines() if line.startswith("{")]
            assert any(line.get("cluster_id") == "nosecret" and "cannot get credentials" in line.get("msg", "")
                       for line in lines), err.decode()[-2000:]

    asyncio.run(main())


def test_vault_down_stops_only_the_vault_clusters_and_they_resume_when_it_returns(tmp_path):
    """Vault goes away: the Vault cluster fails once its credential is due, the kubeconfig cluster goes on;
    Vault returns: the Vault cluster resumes from its resourceVersion and publishes what it missed, once."""
    from agents.credentials.vault import VaultCredentialProvider
    from streams.watch_fleet import WatchFleet
    from streams.watch_sources import KubeconfigSource

    vault = OpenBao()  # its own server: this test stops it
    vault.start()

    async def scenario() -> None:
        async with FakeKubeAPI(token="local-token") as local, FakeKubeAPI(token="remote-token") as remote:
            seed(local, "local")
            seed(remote, "remote")
            vault.put_cluster("remote", remote.url, "remote-token")
            kubeconfig = write_kubeconfig(tmp_path / "local.kubeconfig", local.url, "local-token")
            provider = VaultCredentialProvider(VaultSettings(url=vault.url, token=SecretStr("root"),
                                                             kv_cache_seconds=1.5, renew_margin_seconds=0.5))

            def make_source(target: WatchTarget):
                if target.vault is not None:
                    return VaultSource(target.vault, provider)
                return KubeconfigSource(target.cluster_id, target.kubeconfig, target.context)

            sink = Sink()
            fleet = WatchFleet(sink, REASONS, FAST, make_source)
            await fleet.apply({"local": WatchTarget("local", kubeconfig), "remote": WatchTarget("remote", vault=cfg("remote"))})
            try:
                await until(lambda: len(sink.records) == 2, "both clusters' listed events")
                vault.stop()
                remote_watcher = fleet.watcher("remote")
                await until(lambda: remote_watcher.stats.credential_failures >= 1, "the remote credential to fall due")
                assert metric("aetherius_watch_cluster_failing", cluster="remote") >= 1
                seed(local, "local", 1)
                seed(remote, "remote", 1)
                await until(lambda: "local/local/Pod/web-local-1" in [k for k, _ in sink.records], "local goes on")
                assert "remote/remote/Pod/web-remote-1" not in [k for k, _ in sink.records]

                vault.start()  # a dev server forgets everything: the secret is put back
                vault.put_cluster("remote", remote.url, "remote-token")
                await until(lambda: "remote/remote/Pod/web-remote-1" in [k for k, _ in sink.records], "remote back", 15)
                keys = [k for k, _ in sink.records]
                assert sorted(keys) == ["local/local/Pod/web-local-0", "local/local/Pod/web-local-1",
                                        "remote/remote/Pod/web-remote-0", "remote/remote/Pod/web-remote-1"]
                assert remote.count("/api/v1/events", watch=False) == 1  # resumed, never re-listed
                assert local.writes == remote.writes == []
            finally:
                await fleet.stop_all()
                await provider.close()

    try:
        asyncio.run(scenario())
    finally:
        vault.stop()
        with contextlib.suppress(OSError):
            os.unlink(vault._log.name)


def test_a_changed_vault_path_restarts_the_watcher_without_publishing_anything_twice(bao):
    """The registry moves a cluster's credentials to another path: a new watcher with the new credential
    re-lists, and the memory of what was published is carried over, so the re-list publishes nothing again.
    A change that does not touch the credentials (limits) leaves the watcher alone."""
    from agents.credentials.vault import VaultCredentialProvider
    from streams.watch_fleet import WatchFleet

    async def scenario() -> None:
        async with FakeKubeAPI(token="moved-token-1") as fake:
            seed(fake, "moved")
            bao.put_cluster("moved", fake.url, "moved-token-1")
            bao.root_client().secrets.kv.v2.create_or_update_secret(
                path="elsewhere/moved", mount_point="secret", secret={"server": fake.url, "token": "moved-token-2"})
            provider = VaultCredentialProvider(VaultSettings(url=bao.url, token=SecretStr("root")))
            sink = Sink()
            fleet = WatchFleet(sink, REASONS, FAST, lambda t: VaultSource(t.vault, provider))
            try:
                await fleet.apply({"moved": WatchTarget("moved", vault=cfg("moved"))})
                await until(lambda: len(sink.records) == 1 and fake.open_watches == 1, "the listed event")
                first = fleet.watcher("moved")
                plan = await fleet.apply({"moved": WatchTarget(
                    "moved", vault=cfg("moved", access_control={"max_concurrent_tasks": 2}))})
                assert not plan and fleet.watcher("moved") is first

                fake.token = "moved-token-2"
                plan = await fleet.apply({"moved": WatchTarget(
                    "moved", vault=cfg("moved", vault_path="secret/elsewhere/moved"))})
                assert plan.restart == ("moved",)
                second = fleet.watcher("moved")
                await until(lambda: second.stats.lists == 1 and fake.open_watches == 1, "the new watcher's list")
                assert second.stats.duplicates == 1 and len(sink.records) == 1
                seed(fake, "moved", 1)
                await until(lambda: len(sink.records) == 2, "an event through the new credential")
                assert fake.requests[-1].authorization == "Bearer moved-token-2"
            finally:
                await fleet.stop_all()
                await provider.close()

    asyncio.run(scenario())
