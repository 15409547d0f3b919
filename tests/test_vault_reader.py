"""Cluster access with credentials from a real OpenBao and a real kube-apiserver (tests/kubeapi.py): the reader
asks Vault on use, follows a rotated token once the API server refuses the old one (401), keeps a token that is
merely refused one read (403), and a cluster whose credentials cannot be had fails alone."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
from pydantic import SecretStr

from agents.cluster.reader import ReaderError
from agents.cluster.vault_reader import VaultReader
from agents.credentials.vault import VaultCredentialProvider
from schemas.clusters import ClusterConfig
from schemas.security_settings import VaultSettings
from tests.kubeapi import KubeAPIServer
from tests.kubechart import NAMESPACE, install_chart_rbac
from tests.openbao import OpenBao

NS = "vr-shop"


@pytest.fixture(scope="module")
def bao():
    server = OpenBao()
    with server.running():
        yield server


def cluster(cid: str) -> ClusterConfig:
    return ClusterConfig(id=cid, name=cid, vault_path=f"secret/clusters/{cid}")


async def account(server: KubeAPIServer, name: str) -> str:
    """A service account bound to the chart's reader role; its token."""
    async with server.admin() as kube:
        role = (await install_chart_rbac(kube)).cluster_role["metadata"]["name"]
        await kube.ensure(f"/api/v1/namespaces/{NAMESPACE}/serviceaccounts", {"metadata": {"name": name}})
        await kube.ensure("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", {
            "metadata": {"name": f"vr-{name}"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": NAMESPACE}]})
        return await kube.token(NAMESPACE, name)


def test_reader_uses_vault_credentials_follows_rotation_and_fails_alone(bao, kube_api, caplog):
    caplog.set_level(logging.DEBUG)
    tokens: dict[str, str] = {}

    async def scenario():
        async with kube_api.admin() as kube:
            await kube.ensure("/api/v1/namespaces", {"metadata": {"name": NS}})
            await kube.ensure(f"/api/v1/namespaces/{NS}/pods", {
                "metadata": {"name": "cart-1"}, "spec": {"containers": [{"name": "c", "image": "x"}]}})
        for name in ("alpha-1", "alpha-2", "beta"):
            tokens[name] = await account(kube_api, name)
        bao.put_cluster("alpha", kube_api.url, tokens["alpha-1"], ca_cert=kube_api.ca_pem)
        bao.put_cluster("beta", kube_api.url, tokens["beta"], ca_cert=kube_api.ca_pem)
        provider = VaultCredentialProvider(VaultSettings(url=bao.url, token=SecretStr("root"), kv_cache_seconds=300))
        readers = {c: VaultReader(cluster(c), provider) for c in ("alpha", "beta", "ghost")}
        try:
            first = await readers["alpha"].get("pods", "cart-1", NS)
            held = await provider.get(cluster("alpha"))
            with pytest.raises(ReaderError, match="HTTP 403"):  # a read the role does not grant ...
                await readers["alpha"].list("secrets", NS)
            assert await provider.get(cluster("alpha")) is held  # ... keeps the credential

            # Rotation: Vault gets a new token and the old one's service account is deleted at the server. Once
            # the server refuses the old token (401, after its 10 s authentication cache), it is forgotten and
            # the next call reads the new one from Vault.
            bao.put_cluster("alpha", kube_api.url, tokens["alpha-2"], ca_cert=kube_api.ca_pem)
            async with kube_api.admin() as kube:
                await kube.delete(f"/api/v1/namespaces/{NAMESPACE}/serviceaccounts/alpha-1")
            deadline = time.monotonic() + 30
            while True:
                assert time.monotonic() < deadline, "the old token was never refused"
                try:
                    await readers["alpha"].get("pods", "cart-1", NS)
                except ReaderError as exc:
                    assert "HTTP 401" in str(exc)
                    break
                await asyncio.sleep(0.5)
            after = await readers["alpha"].get("pods", "cart-1", NS)
            assert (await provider.get(cluster("alpha"))).token() == tokens["alpha-2"]

            with pytest.raises(ReaderError, match="ghost"):  # no secret at its vault_path
                await readers["ghost"].list("pods", NS)
            other = await readers["beta"].list("pods", NS)
            return first, after, other
        finally:
            for r in readers.values():
                await r.close()
            await provider.close()

    first, after, other = asyncio.run(scenario())
    assert first["metadata"]["name"] == after["metadata"]["name"] == "cart-1"
    assert [p["metadata"]["name"] for p in other] == ["cart-1"]
    assert not any(t in caplog.text for t in tokens.values())
