"""The Kubernetes secrets engine path: a real OpenBao issues service-account tokens by calling a real kube-apiserver
(tests/kubeapi.py) - the TokenRequest API for the chart's existing service account (a `service_account_name` role).
Caching, reissue near the end of the lease, revocation when the last task ends, and what the API server itself
enforces: the tokens are real (TokenReview), at least 10 minutes long, and - for this kind of role - outlive the
revocation of their lease (the engine cannot revoke a TokenRequest token; tests/test_kubeapi_vault.py shows the
revocable kind, where the engine makes and deletes the service account)."""

from __future__ import annotations

import asyncio
import time
from typing import Iterator

import hvac
import jwt
import pytest
from pydantic import SecretStr

from agents.credentials.vault import VaultCredentialProvider
from schemas.clusters import ClusterConfig
from schemas.security_settings import VaultSettings
from tests.kubeapi import Kube, KubeAPIServer
from tests.kubechart import ChartIdentity, engine_identity, install_chart_rbac
from tests.openbao import OpenBao

POLICY = """
path "kubernetes/creds/*" { capabilities = ["update"] }
path "kubernetes/config" { capabilities = ["read"] }
path "sys/leases/renew" { capabilities = ["update"] }
path "sys/leases/revoke" { capabilities = ["update"] }
"""


@pytest.fixture(scope="module")
def engine(kube_api: KubeAPIServer) -> Iterator[tuple[OpenBao, ChartIdentity]]:
    async def prepare() -> tuple[ChartIdentity, str]:
        async with kube_api.admin() as kube:
            identity = await install_chart_rbac(kube)
            return identity, await engine_identity(kube, identity.cluster_role["metadata"]["name"])

    identity, engine_token = asyncio.run(prepare())
    bao = OpenBao()
    with bao.running():
        root = bao.root_client()
        root.sys.create_or_update_policy(name="aetherius-k8s", policy=POLICY)
        root.sys.enable_secrets_engine("kubernetes", path="kubernetes")
        root.write_data("kubernetes/config", data={
            "kubernetes_host": kube_api.url, "kubernetes_ca_cert": kube_api.ca_pem,
            "service_account_jwt": engine_token, "disable_local_ca_jwt": True})
        root.write_data("kubernetes/roles/prod-us-west", data={
            "allowed_kubernetes_namespaces": [identity.namespace], "service_account_name": identity.service_account,
            "token_default_ttl": "10m", "token_max_ttl": "1h"})
        yield bao, identity


def cluster(ttl: str = "10m") -> ClusterConfig:
    return ClusterConfig(id="prod-us-west", name="p", vault_path="kubernetes/prod-us-west",
                         credentials={"engine": "kubernetes", "kubernetes_namespace": "aetherius", "ttl": ttl})


class Clock:
    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


def make_provider(bao: OpenBao, clock: Clock) -> VaultCredentialProvider:
    token = bao.root_client().auth.token.create(policies=["aetherius-k8s"], ttl="1h")["auth"]["client_token"]
    return VaultCredentialProvider(VaultSettings(url=bao.url, token=SecretStr(token), renew_margin_seconds=15),
                                   clock=clock)


def lease_exists(bao: OpenBao, lease_id: str) -> bool:
    try:
        bao.root_client().sys.read_lease(lease_id)
        return True
    except hvac.exceptions.InvalidRequest:
        return False


async def who(server: KubeAPIServer, token: str) -> str | None:
    """The user the real API server authenticates `token` as (TokenReview), or None."""
    async with server.admin() as kube:
        review = await kube.create("/apis/authentication.k8s.io/v1/tokenreviews", {
            "apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}})
    status = review["status"]
    return status["user"]["username"] if status.get("authenticated") else None


def test_issue_cache_expire_and_revoke_after_the_task(engine, kube_api: KubeAPIServer) -> None:
    bao, identity = engine
    clock = Clock()
    p = make_provider(bao, clock)

    async def scenario() -> None:
        async with p.for_task(cluster()) as cred:
            assert cred.source == "kubernetes" and cred.server == kube_api.url and cred.ca_cert == kube_api.ca_pem
            assert cred.lease_id and cred.expires_at == pytest.approx(time.time() + 600, abs=10)
            claims = jwt.decode(cred.token(), options={"verify_signature": False})
            assert claims["sub"] == identity.user and claims["exp"] - claims["iat"] == 600
            assert await who(kube_api, cred.token()) == identity.user  # a real token, accepted by the server
            assert "eyJ" not in repr(cred)
            async with p.for_task(cluster()) as again:  # a concurrent task shares the lease
                assert again is cred
            assert lease_exists(bao, cred.lease_id)  # still in use by the outer task
            clock.offset = 590  # within the 15 s margin of the 10 min lease: a new token is issued
            newer = await p.get(cluster())
            assert newer.lease_id != cred.lease_id and newer.token() != cred.token()
            assert lease_exists(bao, cred.lease_id)  # old one still held by this task
        assert not lease_exists(bao, cred.lease_id)  # revoked when the task finished
        assert lease_exists(bao, newer.lease_id)  # cached and unused: kept for the next task
        await p.close()
        assert not lease_exists(bao, newer.lease_id)  # shut-down revokes everything we hold
        # What revocation cannot do for this kind of role: a TokenRequest token lives to its expiry.
        assert await who(kube_api, cred.token()) == identity.user

    asyncio.run(scenario())


def test_engine_leases_are_not_renewable_so_we_reissue(engine) -> None:
    """OpenBao's Kubernetes engine marks its leases non-renewable (a service-account token's expiry is fixed at
    issue): near the end of the lease the provider issues a fresh token instead of renewing, and revokes the old."""
    bao, _ = engine
    clock = Clock()
    p = make_provider(bao, clock)

    async def scenario() -> tuple[str, str]:
        first = await p.get(cluster())
        assert first.renewable is False
        clock.offset = 600
        second = await p.get(cluster())
        return first.lease_id, second.lease_id

    old, new = asyncio.run(scenario())
    assert old != new and not lease_exists(bao, old) and lease_exists(bao, new)


def test_a_ttl_under_ten_minutes_is_refused_by_the_api_server(engine) -> None:
    """The TokenRequest API issues no token shorter than 10 minutes. The configuration says so when it is loaded;
    asked anyway (through the engine directly), the real server refuses."""
    bao, _ = engine
    with pytest.raises(ValueError, match="ttl 2m is too short.*10m"):
        cluster(ttl="2m")
    with pytest.raises(hvac.exceptions.InternalServerError, match="expirationSeconds: Invalid value: 120"):
        bao.root_client().write_data("kubernetes/creds/prod-us-west",
                                     data={"kubernetes_namespace": "aetherius", "ttl": "2m"})


def test_the_engine_identity_can_do_nothing_else(engine, kube_api: KubeAPIServer) -> None:
    """What OpenBao logs in with may issue tokens, not read the cluster (least privilege, checked by the server)."""
    async def main() -> list[int]:
        async with kube_api.admin() as kube:
            token = await kube.token("vault-system", "openbao", 600)
        async with Kube(kube_api.url, token, kube_api.ssl_context()) as kube:
            return [await kube.status("GET", "/api/v1/pods"), await kube.status("GET", "/api/v1/secrets"),
                    await kube.status("DELETE", "/api/v1/nodes/x")]
    assert asyncio.run(main()) == [403, 403, 403]
