"""The Kubernetes secrets engine path end to end: a real OpenBao issues short-lived service-account tokens by calling
a Kubernetes API. No API server can run here, so `FakeTokenRequestAPI` stands in for the one endpoint the engine calls
for a role bound to an existing service account - `POST /api/v1/namespaces/{ns}/serviceaccounts/{name}/token`
(TokenRequest, authentication.k8s.io/v1; OpenBao sends protobuf and accepts JSON, and reads the TTL from the
returned JWT, so the fake returns a real ES256-signed JWT). Everything else - leases, TTL, revocation - is OpenBao's."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Iterator

import hvac
import jwt
import pytest
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import SecretStr

from agents.credentials.vault import VaultCredentialProvider
from schemas.clusters import ClusterConfig
from schemas.security_settings import VaultSettings
from tests.openbao import OpenBao

POLICY = """
path "kubernetes/creds/*" { capabilities = ["update"] }
path "kubernetes/config" { capabilities = ["read"] }
path "sys/leases/renew" { capabilities = ["update"] }
path "sys/leases/revoke" { capabilities = ["update"] }
"""


class FakeTokenRequestAPI:
    """Serves TokenRequest on 127.0.0.1 in a background thread; records the calls it got."""

    def __init__(self, token_seconds: int = 600) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.token_seconds = token_seconds
        self.calls: list[str] = []
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    async def _token(self, request: web.Request) -> web.Response:
        await request.read()  # protobuf TokenRequest; the fake does not need its fields
        ns, name = request.match_info["ns"], request.match_info["name"]
        self.calls.append(f"{ns}/{name}")
        now = int(time.time())
        token = jwt.encode({"iss": "https://kubernetes.default.svc", "sub": f"system:serviceaccount:{ns}:{name}",
                            "iat": now, "nbf": now, "exp": now + self.token_seconds, "n": len(self.calls)},
                           self.key, algorithm="ES256")
        return web.json_response({
            "kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"audiences": [], "expirationSeconds": self.token_seconds},
            "status": {"token": token, "expirationTimestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                            time.gmtime(now + self.token_seconds))},
        }, status=201)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_post("/api/v1/namespaces/{ns}/serviceaccounts/{name}/token", self._token)
        self._runner = web.AppRunner(app)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        self.port = self._runner.addresses[0][1]
        self._ready.set()
        self._loop.run_forever()

    def __enter__(self) -> "FakeTokenRequestAPI":
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


@pytest.fixture(scope="module")
def engine() -> Iterator[tuple[OpenBao, FakeTokenRequestAPI]]:
    with FakeTokenRequestAPI() as api:
        bao = OpenBao()
        with bao.running():
            root = bao.root_client()
            root.sys.create_or_update_policy(name="aetherius-k8s", policy=POLICY)
            root.sys.enable_secrets_engine("kubernetes", path="kubernetes")
            root.write_data("kubernetes/config", data={
                "kubernetes_host": f"http://127.0.0.1:{api.port}", "service_account_jwt": "engine-jwt",
                "disable_local_ca_jwt": True})
            root.write_data("kubernetes/roles/prod-us-west", data={
                "allowed_kubernetes_namespaces": ["aetherius"], "service_account_name": "aetherius-reader",
                "token_default_ttl": "10m", "token_max_ttl": "1h"})
            yield bao, api


CLUSTER = ClusterConfig(id="prod-us-west", name="p", vault_path="kubernetes/prod-us-west",
                        credentials={"engine": "kubernetes", "kubernetes_namespace": "aetherius", "ttl": "2m"})


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


def test_issue_cache_expire_and_revoke_after_the_task(engine: tuple[OpenBao, FakeTokenRequestAPI]) -> None:
    bao, api = engine
    clock = Clock()
    p = make_provider(bao, clock)

    async def scenario() -> None:
        async with p.for_task(CLUSTER) as cred:
            assert cred.source == "kubernetes" and cred.server.startswith("http://127.0.0.1:")
            assert cred.lease_id and cred.expires_at == pytest.approx(time.time() + 120, abs=5)
            assert jwt.decode(cred.token(), options={"verify_signature": False})["sub"] == \
                "system:serviceaccount:aetherius:aetherius-reader"
            assert "eyJ" not in repr(cred)
            async with p.for_task(CLUSTER) as again:  # a concurrent task shares the lease
                assert again is cred
            assert lease_exists(bao, cred.lease_id)  # still in use by the outer task
            clock.offset = 110  # within the 15 s margin of the 2 min lease: a new token is issued
            newer = await p.get(CLUSTER)
            assert newer.lease_id != cred.lease_id and len(api.calls) == 2
            assert lease_exists(bao, cred.lease_id)  # old one still held by this task
        assert not lease_exists(bao, cred.lease_id)  # revoked when the task finished
        assert lease_exists(bao, newer.lease_id)  # cached and unused: kept for the next task
        await p.close()
        assert not lease_exists(bao, newer.lease_id)  # shut-down revokes everything we hold

    asyncio.run(scenario())
    assert api.calls == ["aetherius/aetherius-reader"] * 2


def test_engine_leases_are_not_renewable_so_we_reissue(engine: tuple[OpenBao, FakeTokenRequestAPI]) -> None:
    """OpenBao's Kubernetes engine marks its leases non-renewable (a service-account token's expiry is fixed at
    issue): near the end of the lease the provider issues a fresh token instead of renewing, and revokes the old."""
    bao, api = engine
    clock = Clock()
    p = make_provider(bao, clock)

    async def scenario() -> tuple[str, str]:
        first = await p.get(CLUSTER)
        assert first.renewable is False
        clock.offset = 200
        second = await p.get(CLUSTER)
        return first.lease_id, second.lease_id

    old, new = asyncio.run(scenario())
    assert old != new and not lease_exists(bao, old) and lease_exists(bao, new)
