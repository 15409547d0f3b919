"""Cluster credentials against a REAL OpenBao dev server (tests/openbao.py): KV v2, token lease expiry and renewal,
revoked tokens, AppRole re-login, Vault down, per-cluster isolation, and no token in repr/logs/pickles."""

from __future__ import annotations

import asyncio
import json
import logging
import pickle
import time
from typing import Iterator

import hvac
import pytest
from pydantic import SecretStr, ValidationError

from agents.credentials.vault import ClusterCredential, CredentialError, VaultCredentialProvider
from schemas.clusters import ClusterConfig
from schemas.security_settings import VaultSettings
from tests.openbao import OpenBao

POLICY = """
path "secret/data/clusters/*" { capabilities = ["read"] }
path "kubernetes/creds/*" { capabilities = ["update"] }
path "kubernetes/config" { capabilities = ["read"] }
path "sys/leases/renew" { capabilities = ["update"] }
path "sys/leases/revoke" { capabilities = ["update"] }
"""
CA = "-----BEGIN CERTIFICATE-----\nMIIBdummy\n-----END CERTIFICATE-----\n"


@pytest.fixture(scope="module")
def bao() -> Iterator[OpenBao]:
    server = OpenBao()
    with server.running():
        root = server.root_client()
        root.sys.create_or_update_policy(name="aetherius-read", policy=POLICY)
        for cid in ("alpha", "beta"):
            root.secrets.kv.v2.create_or_update_secret(
                path=f"clusters/{cid}", mount_point="secret",
                secret={"server": f"https://{cid}.k8s.example:6443", "ca_cert": CA, "token": f"sa-token-{cid}-SECRET"})
        root.secrets.kv.v2.create_or_update_secret(path="clusters/broken", mount_point="secret",
                                                   secret={"server": "https://broken.example"})
        yield server


def cluster(cid: str, **extra) -> ClusterConfig:  # noqa: ANN003
    return ClusterConfig(id=cid, name=cid, vault_path=f"secret/clusters/{cid}", **extra)


def child_token(bao: OpenBao, **kwargs) -> str:  # noqa: ANN003
    return bao.root_client().auth.token.create(policies=["aetherius-read"], **kwargs)["auth"]["client_token"]


class Clock:
    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


def provider(bao: OpenBao, token: str, clock=time.time, **settings) -> VaultCredentialProvider:  # noqa: ANN001, ANN003
    return VaultCredentialProvider(VaultSettings(url=bao.url, token=SecretStr(token), **settings), clock=clock)


def test_settings_validation() -> None:
    with pytest.raises(ValidationError, match="vault.token is required"):
        VaultSettings()
    with pytest.raises(ValidationError, match="approle_role_id and vault.approle_secret_id are required"):
        VaultSettings(auth_method="approle", approle_role_id="x")
    with pytest.raises(ValidationError, match="kubernetes_role is required"):
        VaultSettings(auth_method="kubernetes")
    assert "s.secret" not in repr(VaultSettings(token=SecretStr("s.secret")))


def test_kv2_credentials_are_served_cached_and_never_shown(bao: OpenBao, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    clock = Clock()
    p = provider(bao, child_token(bao, ttl="1h"), clock, kv_cache_seconds=60, renew_margin_seconds=5)

    async def scenario() -> tuple[ClusterCredential, ClusterCredential, ClusterCredential]:
        first = await p.get(cluster("alpha"))
        bao.root_client().secrets.kv.v2.create_or_update_secret(  # rotate the secret in Vault
            path="clusters/alpha", mount_point="secret",
            secret={"server": "https://alpha.k8s.example:6443", "ca_cert": CA, "token": "sa-token-alpha-ROTATED"})
        cached = await p.get(cluster("alpha"))
        clock.offset = 56  # within renew_margin of the 60 s cache: re-read
        fresh = await p.get(cluster("alpha"))
        return first, cached, fresh

    first, cached, fresh = asyncio.run(scenario())
    assert (first.server, first.ca_cert, first.token(), first.source) == \
           ("https://alpha.k8s.example:6443", CA, "sa-token-alpha-SECRET", "kv2")
    assert cached is first and fresh.token() == "sa-token-alpha-ROTATED"
    for cred in (first, fresh):
        assert "SECRET" not in repr(cred) and "ROTATED" not in str(cred) and "token='***'" in repr(cred)
        with pytest.raises(TypeError):
            pickle.dumps(cred)
        with pytest.raises(TypeError):
            json.dumps(cred)
    assert "sa-token" not in caplog.text and "read cluster credentials from kv2" in caplog.text
    bao.root_client().secrets.kv.v2.create_or_update_secret(
        path="clusters/alpha", mount_point="secret",
        secret={"server": "https://alpha.k8s.example:6443", "ca_cert": CA, "token": "sa-token-alpha-SECRET"})


def test_bad_paths_fail_only_their_cluster(bao: OpenBao) -> None:
    p = provider(bao, child_token(bao, ttl="1h"))

    async def scenario() -> list[str]:
        out = []
        for cid in ("missing", "broken"):
            with pytest.raises(CredentialError) as info:
                await p.get(cluster(cid))
            assert info.value.cluster_id == cid
            out.append(str(info.value))
        with pytest.raises(CredentialError) as info:  # policy covers secret/data/clusters/* only
            await p.get(ClusterConfig(id="elsewhere", name="x", vault_path="secret/other/alpha"))
        out.append(str(info.value))
        out.append((await p.get(cluster("beta"))).server)
        return out

    missing, broken, denied, beta = asyncio.run(scenario())
    assert missing == "credentials for cluster missing: read kv2 secret secret/clusters/missing: nothing at this path in vault"
    assert broken.endswith("the secret lacks ['token'] (expects server, token, ca_cert)")
    assert "vault denied access" in denied
    assert beta == "https://beta.k8s.example:6443"


def test_kv_expires_at_caps_the_cache(bao: OpenBao) -> None:
    bao.root_client().secrets.kv.v2.create_or_update_secret(
        path="clusters/gamma", mount_point="secret",
        secret={"server": "https://g", "token": "t-gamma", "expires_at": "2030-01-01T00:00:00Z"})
    bao.root_client().secrets.kv.v2.create_or_update_secret(
        path="clusters/delta", mount_point="secret", secret={"server": "https://d", "token": "t", "expires_at": "soon"})
    p = provider(bao, child_token(bao, ttl="1h"), kv_cache_seconds=10**10)
    cred = asyncio.run(p.get(cluster("gamma")))
    assert cred.expires_at == pytest.approx(1893456000.0)
    with pytest.raises(CredentialError, match="expires_at is not an ISO-8601 time"):
        asyncio.run(p.get(cluster("delta")))


def test_our_token_is_renewed_before_it_expires(bao: OpenBao) -> None:
    """A 4 s renewable token, renewed when within the 3 s margin; it is still valid well after its first TTL."""
    token = child_token(bao, ttl="4s", explicit_max_ttl="60s", renewable=True)
    p = provider(bao, token, renew_margin_seconds=3, kv_cache_seconds=0.5)

    async def scenario() -> None:
        await p.get(cluster("alpha"))
        for _ in range(6):  # 6 x 1 s > 4 s TTL: only renewal keeps the token alive
            await asyncio.sleep(1.0)
            p.forget("alpha")
            await p.get(cluster("alpha"))

    asyncio.run(scenario())
    ttl = bao.root_client().auth.token.lookup(token)["data"]["ttl"]
    assert 0 < ttl <= 4


def test_short_ttl_token_expires_with_a_clear_error(bao: OpenBao) -> None:
    token = child_token(bao, ttl="2s", renewable=False)
    p = provider(bao, token, renew_margin_seconds=1)

    async def scenario() -> str:
        await p.get(cluster("alpha"))
        await asyncio.sleep(2.5)
        with pytest.raises(CredentialError) as info:
            await p.get(cluster("beta"))
        return str(info.value)

    assert "the vault token has expired and cannot be renewed" in asyncio.run(scenario())
    with pytest.raises(hvac.exceptions.Forbidden):  # and Vault agrees: the token is gone
        bao.root_client().auth.token.lookup(token)


def test_revoked_token_fails_clearly_while_cached_clusters_keep_working(bao: OpenBao) -> None:
    token = child_token(bao, ttl="1h")
    p = provider(bao, token)

    async def scenario() -> tuple[str, str]:
        await p.get(cluster("alpha"))
        bao.root_client().auth.token.revoke(token)
        with pytest.raises(CredentialError) as info:
            await p.get(cluster("beta"))
        return str(info.value), (await p.get(cluster("alpha"))).token()

    error, alpha = asyncio.run(scenario())
    assert "vault denied access (token revoked, expired" in error
    assert alpha == "sa-token-alpha-SECRET"


def approle(bao: OpenBao, **role) -> tuple[str, str]:  # noqa: ANN003
    root = bao.root_client()
    if "approle/" not in root.sys.list_auth_methods()["data"]:
        root.sys.enable_auth_method("approle")
    root.auth.approle.create_or_update_approle("aetherius", token_policies=["aetherius-read"], **role)
    role_id = root.auth.approle.read_role_id("aetherius")["data"]["role_id"]
    secret_id = root.auth.approle.generate_secret_id("aetherius")["data"]["secret_id"]
    return role_id, secret_id


def test_approle_logs_in_again_after_revocation_and_expiry(bao: OpenBao) -> None:
    role_id, secret_id = approle(bao, token_ttl="2s", token_max_ttl="2s")
    p = VaultCredentialProvider(VaultSettings(url=bao.url, auth_method="approle", approle_role_id=role_id,
                                              approle_secret_id=SecretStr(secret_id), renew_margin_seconds=0.5))

    async def scenario() -> list[str]:
        out = [(await p.get(cluster("alpha"))).token()]
        bao.root_client().auth.token.revoke(p._client.token)  # noqa: SLF001 - revoke the token we logged in with
        p.forget("alpha")
        out.append((await p.get(cluster("alpha"))).token())  # denied -> login again -> served
        await asyncio.sleep(2.2)  # the new token reached its max TTL
        p.forget("alpha")
        out.append((await p.get(cluster("alpha"))).token())
        await p.close()
        return out

    assert asyncio.run(scenario()) == ["sa-token-alpha-SECRET"] * 3


def test_vault_down_fails_clearly_and_other_clusters_continue(bao: OpenBao) -> None:
    """A second, separate OpenBao holds cluster 'edge'. It goes down: 'edge' fails with a clear error, the cluster
    whose credential was cached keeps being served, and clusters on the healthy Vault are unaffected."""
    other = OpenBao()
    with other.running():
        root = other.root_client()
        for cid in ("edge", "edge2"):
            root.secrets.kv.v2.create_or_update_secret(path=f"clusters/{cid}", mount_point="secret",
                                                       secret={"server": f"https://{cid}", "token": f"t-{cid}"})
        down = VaultCredentialProvider(VaultSettings(url=other.url, token=SecretStr("root"), timeout_seconds=2))
        asyncio.run(down.get(cluster("edge2")))
    healthy = provider(bao, child_token(bao, ttl="1h"))

    async def scenario() -> tuple[str, str, str]:
        with pytest.raises(CredentialError) as info:
            await down.get(cluster("edge"))
        return str(info.value), (await down.get(cluster("edge2"))).token(), (await healthy.get(cluster("beta"))).token()

    error, cached, beta = asyncio.run(scenario())
    assert error == (f"credentials for cluster edge: read kv2 secret secret/clusters/edge: vault unreachable at "
                     f"{other.url} (ConnectionError)")
    assert cached == "t-edge2" and beta == "sa-token-beta-SECRET"


def test_kubernetes_engine_configuration_path(bao: OpenBao) -> None:
    """The Kubernetes secrets engine is enabled, configured and given a role in the real OpenBao, and our provider
    reads its config and asks for creds from an engine whose API server does not answer: that failure becomes a
    clear CredentialError for that cluster only. (Creds from a real API server: tests/test_vault_kubernetes.py.)"""
    root = bao.root_client()
    if "kubernetes/" not in root.sys.list_mounted_secrets_engines()["data"]:
        root.sys.enable_secrets_engine("kubernetes", path="kubernetes")
    root.write_data("kubernetes/config", data={"kubernetes_host": "https://127.0.0.1:1", "kubernetes_ca_cert": CA,
                                               "service_account_jwt": "not-a-real-jwt", "disable_local_ca_jwt": True})
    root.write_data("kubernetes/roles/prod-us-west", data={
        "allowed_kubernetes_namespaces": ["aetherius"], "service_account_name": "aetherius-reader",
        "token_default_ttl": "10m"})
    k8s = ClusterConfig(id="prod-us-west", name="p", vault_path="kubernetes/prod-us-west",
                        credentials={"engine": "kubernetes", "kubernetes_namespace": "aetherius"})
    assert k8s.vault_location() == ("kubernetes", "prod-us-west")
    p = provider(bao, child_token(bao, ttl="1h"), timeout_seconds=10)

    async def scenario() -> tuple[str, str]:
        with pytest.raises(CredentialError) as info:
            await p.get(k8s)
        return str(info.value), (await p.get(cluster("alpha"))).token()

    error, alpha = asyncio.run(scenario())
    assert error.startswith("credentials for cluster prod-us-west: issue a service-account token from "
                            "kubernetes/creds/prod-us-west: vault error:")
    assert alpha == "sa-token-alpha-SECRET"
    bad_ns = ClusterConfig(id="wrong-ns", name="w", vault_path="kubernetes/prod-us-west",
                           credentials={"engine": "kubernetes", "kubernetes_namespace": "default"})
    with pytest.raises(CredentialError, match="vault error: .*namespace"):
        asyncio.run(p.get(bad_ns))


def test_kubernetes_auth_without_a_service_account_token_file(bao: OpenBao, tmp_path) -> None:  # noqa: ANN001
    p = VaultCredentialProvider(VaultSettings(url=bao.url, auth_method="kubernetes", kubernetes_role="aetherius",
                                              kubernetes_jwt_path=tmp_path / "missing-token"))
    with pytest.raises(CredentialError, match="cannot read the service-account token file"):
        asyncio.run(p.get(cluster("alpha")))
