"""Per-cluster credentials end to end on real parts: OpenBao (tests/openbao.py) and two real API servers.

Cluster "first" (the session's server) has its endpoint, CA and the chart service account's token in KV v2.
Cluster "second" is a second kube-apiserver + etcd; OpenBao's Kubernetes secrets engine talks to it for real: for
each credential it creates a service account, binds it to the chart's reader ClusterRole and issues its token with
the TokenRequest API; revoking the lease deletes both, so the server refuses the token from then on. The engine
logs in to that server as a service account of its own that may do only that. Revoking "second" (its lease, and
its role so no new credential is issued) makes it fail alone; "first" keeps being read; restoring the role brings
"second" back with a new token.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from agents.cluster.reader import ReaderError
from agents.cluster.vault_reader import VaultReader
from agents.credentials.vault import VaultCredentialProvider
from schemas.clusters import ClusterConfig
from schemas.security_settings import VaultSettings
from tests.kubeapi import Kube, KubeAPIServer, require_binaries
from tests.kubechart import ChartIdentity, engine_identity, install_chart_rbac
from tests.openbao import OpenBao

POLICY = """
path "kubernetes/creds/*" { capabilities = ["update"] }
path "kubernetes/config" { capabilities = ["read"] }
path "secret/data/clusters/*" { capabilities = ["read"] }
path "sys/leases/renew" { capabilities = ["update"] }
path "sys/leases/revoke" { capabilities = ["update"] }
"""
@pytest.fixture(scope="module")
def second(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeAPIServer]:
    server = KubeAPIServer(require_binaries(), tmp_path_factory.mktemp("kubeapi-second"))
    with server.running():
        yield server


@pytest.fixture(scope="module")
def setup(kube_api: KubeAPIServer, second: KubeAPIServer) -> Iterator[dict[str, Any]]:
    async def prepare() -> tuple[ChartIdentity, ChartIdentity, str]:
        async with kube_api.admin() as k1, second.admin() as k2:
            first_id, second_id = await install_chart_rbac(k1), await install_chart_rbac(k2)
            engine_token = await engine_identity(k2, second_id.cluster_role["metadata"]["name"])
            for kube, node in ((k1, "first-node"), (k2, "second-node")):
                await kube.ensure("/api/v1/nodes", {"metadata": {"name": node}})
        return first_id, second_id, engine_token

    first_id, second_id, engine_token = asyncio.run(prepare())
    bao = OpenBao()
    with bao.running():
        root = bao.root_client()
        root.sys.create_or_update_policy(name="aetherius", policy=POLICY)
        root.sys.enable_secrets_engine("kubernetes", path="kubernetes")
        root.write_data("kubernetes/config", data={"kubernetes_host": second.url, "kubernetes_ca_cert": second.ca_pem,
                                                   "service_account_jwt": engine_token, "disable_local_ca_jwt": True})
        role = {"allowed_kubernetes_namespaces": ["aetherius"], "kubernetes_role_type": "ClusterRole",
                "kubernetes_role_name": second_id.cluster_role["metadata"]["name"],
                "token_default_ttl": "10m", "token_max_ttl": "1h"}
        root.write_data("kubernetes/roles/second", data=role)
        root.secrets.kv.v2.create_or_update_secret(path="clusters/first", mount_point="secret", secret={
            "server": kube_api.url, "ca_cert": kube_api.ca_pem, "token": first_id.token})
        yield {"bao": bao, "role": role}


CLUSTERS = {
    "first": ClusterConfig(id="first", name="first", vault_path="secret/clusters/first"),
    "second": ClusterConfig(id="second", name="second", vault_path="kubernetes/second",
                            credentials={"engine": "kubernetes", "kubernetes_namespace": "aetherius", "ttl": "10m",
                                         "cluster_role_binding": True}),
}


def provider(bao: OpenBao) -> VaultCredentialProvider:
    token = bao.root_client().auth.token.create(policies=["aetherius"], ttl="1h")["auth"]["client_token"]
    return VaultCredentialProvider(VaultSettings(url=bao.url, token=SecretStr(token), renew_margin_seconds=15))


async def node_names(reader: VaultReader) -> list[str]:
    return sorted(n["metadata"]["name"] for n in await reader.list("nodes"))


def test_openbao_issues_a_real_token_for_the_second_cluster_and_revocation_stops_only_it(setup, second):
    bao: OpenBao = setup["bao"]
    root = bao.root_client()
    p = provider(bao)
    first, other = VaultReader(CLUSTERS["first"], p), VaultReader(CLUSTERS["second"], p)

    async def main() -> None:
        try:
            assert await node_names(first) == ["first-node"]
            assert await node_names(other) == ["second-node"]  # cluster-wide read: the engine's ClusterRoleBinding
            cred = await p.get(CLUSTERS["second"])
            assert cred.source == "kubernetes" and cred.lease_id and cred.server == second.url
            async with second.admin() as kube:  # what the engine made on the real server
                review = await kube.create("/apis/authentication.k8s.io/v1/tokenreviews", {
                    "apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": cred.token()}})
            user = review["status"]["user"]["username"]
            assert review["status"]["authenticated"] and user.startswith("system:serviceaccount:aetherius:")
            with pytest.raises(ReaderError, match="HTTP 403"):  # the reader role, nothing more
                await other.list("secrets", "aetherius")
            assert (await p.get(CLUSTERS["second"])).lease_id == cred.lease_id  # a refused read keeps the token

            # The operator cuts "second" off: its leases revoked (the engine deletes the service account and its
            # binding, so the server refuses the token), and its role removed so nothing new is issued.
            await asyncio.to_thread(root.sys.revoke_prefix, "kubernetes/creds/second")
            await asyncio.to_thread(root.delete, "kubernetes/roles/second")
            # The server refuses the cached token: 403 while its authentication cache (10 s) still knows the
            # deleted service account, then 401; after the 401 the reader asks Vault, which issues nothing.
            errors: list[str] = []
            deadline = time.monotonic() + 40
            while not errors or "credentials for cluster second" not in errors[-1]:
                assert time.monotonic() < deadline, errors[-3:]
                with pytest.raises(ReaderError) as refused:
                    await other.list("nodes")
                errors.append(str(refused.value))
                assert await node_names(first) == ["first-node"]  # the other cluster is untouched throughout
                await asyncio.sleep(0.5)
            refusals = [m.group(0) if (m := re.search(r"list nodes failed: HTTP \d{3}", e)) else e for e in errors[:-1]]
            assert set(refusals) <= {"list nodes failed: HTTP 403", "list nodes failed: HTTP 401"}, errors
            assert refusals[-1].endswith("401"), errors
            assert "role 'second' does not exist" in errors[-1]

            await asyncio.to_thread(root.write_data, "kubernetes/roles/second", data=setup["role"])
            assert await node_names(other) == ["second-node"]
            assert (await p.get(CLUSTERS["second"])).lease_id != cred.lease_id
        finally:
            await first.close()
            await other.close()
            await p.close()

    asyncio.run(main())


def test_the_lease_ending_with_the_task_invalidates_the_token(setup, second):
    """`for_task`: the credential lives as long as the task; when it ends the lease is revoked and the real
    server refuses the token (the service account it belonged to is gone)."""
    p = provider(setup["bao"])

    async def main() -> tuple[str, int]:
        async with p.for_task(CLUSTERS["second"]) as cred:
            token = cred.token()
            async with Kube(second.url, token, second.ssl_context()) as kube:
                assert await kube.status("GET", "/api/v1/nodes") == 200
        deadline = time.monotonic() + 30  # the server's token cache accepts a deleted account's token for 10 s
        async with Kube(second.url, token, second.ssl_context()) as kube:
            while (status := await kube.status("GET", "/api/v1/nodes")) != 401 and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
        await p.close()
        return token, status

    _, status = asyncio.run(main())
    assert status == 401
