"""Cluster access with credentials from a real OpenBao: the reader asks Vault on use, follows a rotated token
after the API server refuses the old one, and a cluster whose credentials cannot be had fails alone.
The API servers are tests/fake_kube_api.py fakes (no real one can run here) that require a bearer token."""

from __future__ import annotations

import asyncio
import logging

import pytest
from pydantic import SecretStr

from agents.cluster.reader import ReaderError
from agents.cluster.vault_reader import VaultReader
from agents.credentials.vault import VaultCredentialProvider
from schemas.clusters import ClusterConfig
from schemas.security_settings import VaultSettings
from tests.fake_kube_api import FakeKubeAPI
from tests.openbao import OpenBao


@pytest.fixture(scope="module")
def bao():
    server = OpenBao()
    with server.running():
        yield server


def cluster(cid: str) -> ClusterConfig:
    return ClusterConfig(id=cid, name=cid, vault_path=f"secret/clusters/{cid}")


def pod(name: str) -> dict:
    return {"metadata": {"name": name, "namespace": "shop"}, "spec": {"containers": []}, "status": {"phase": "Running"}}


def test_reader_uses_vault_credentials_follows_rotation_and_fails_alone(bao, caplog):
    caplog.set_level(logging.DEBUG)

    async def scenario():
        alpha, beta = FakeKubeAPI(token="alpha-token-1"), FakeKubeAPI(token="beta-token")
        await alpha.start()
        await beta.start()
        try:
            alpha.add("pods", pod("cart-1"))
            beta.add("pods", pod("api-1"))
            bao.put_cluster("alpha", alpha.url, "alpha-token-1")
            bao.put_cluster("beta", beta.url, "beta-token")
            provider = VaultCredentialProvider(VaultSettings(url=bao.url, token=SecretStr("root"), kv_cache_seconds=300))
            readers = {c: VaultReader(cluster(c), provider) for c in ("alpha", "beta", "ghost")}
            first = await readers["alpha"].get("pods", "cart-1", "shop")

            # Rotation: Vault and the API server move to a new token; the cached one is refused once,
            # forgotten, and the next call reads the new one from Vault.
            alpha.token = "alpha-token-2"
            bao.put_cluster("alpha", alpha.url, "alpha-token-2")
            with pytest.raises(ReaderError, match="401"):
                await readers["alpha"].get("pods", "cart-1", "shop")
            after = await readers["alpha"].get("pods", "cart-1", "shop")

            with pytest.raises(ReaderError, match="ghost"):  # no secret at its vault_path
                await readers["ghost"].list("pods", "shop")
            other = await readers["beta"].list("pods", "shop")
            for r in readers.values():
                await r.close()
            return first, after, other, alpha.writes + beta.writes
        finally:
            await alpha.stop()
            await beta.stop()

    first, after, other, writes = asyncio.run(scenario())
    assert first["metadata"]["name"] == after["metadata"]["name"] == "cart-1"
    assert [p["metadata"]["name"] for p in other] == ["api-1"]
    assert writes == []
    assert "alpha-token" not in caplog.text and "beta-token" not in caplog.text
