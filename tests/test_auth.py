"""Authentication over real HTTP: API keys (hashed), OIDC JWTs minted here against a JWKS we serve or write,
the Alertmanager webhook credential, audit events, and that no credential leaks into responses, audit or logs."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import ValidationError

from aetherius.http.auth import (ApiKeyStore, Authenticator, JwksCache, OidcVerifier, generate_api_key,
                                 hash_api_key, security_middlewares)
from aetherius.http.rbac import PRINCIPAL, require
from schemas.audit import AuditEvent
from schemas.security_settings import ApiKeyEntry, OIDCSettings, RateLimitSettings, SecuritySettings
from schemas.settings import WebhookSettings

ISSUER = "https://idp.test.local/realms/ops"
AUDIENCE = "aetherius-api"
WEBHOOK = "/api/v1/webhook/alertmanager"


# ---------------------------------------------------------------- keys and tokens minted by the test

def new_rsa() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwk_of(private: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    jwk = jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key(), as_dict=True)
    return {**jwk, "kid": kid, "alg": "RS256", "use": "sig"}


def mint(private: rsa.RSAPrivateKey, kid: str | None, **overrides: Any) -> str:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "iat": now, "exp": now + 300, "roles": ["sre"]}
    claims.update(overrides)
    claims = {k: v for k, v in claims.items() if v is not None}
    headers = {"kid": kid} if kid else {}
    return jwt.encode(claims, private, algorithm="RS256", headers=headers)


KEY_A, KEY_B, KEY_EVIL = new_rsa(), new_rsa(), new_rsa()


# ---------------------------------------------------------------- a protected app

class Harness:
    def __init__(self, security: SecuritySettings, webhook: WebhookSettings | None = None,
                 jwks: JwksCache | None = None) -> None:
        self.audit: list[AuditEvent] = []
        self.security, self.webhook = security, webhook
        self.auth = Authenticator(security, webhook, OidcVerifier(security.oidc, jwks) if security.oidc else None)

    async def sink(self, event: AuditEvent) -> None:
        self.audit.append(event)

    @property
    def app(self) -> web.Application:
        """A fresh app per event loop (aiohttp binds an app to one loop); the authenticator and audit list persist."""
        app = web.Application(middlewares=security_middlewares(self.security, self.sink, self.webhook,
                                                               authenticator=self.auth))

        @require("tasks:read")
        async def tasks(request: web.Request) -> web.Response:
            p = request[PRINCIPAL]
            return web.json_response({"name": p.name, "role": p.role, "method": p.method})

        @require("alerts:ingest")
        async def ingest(request: web.Request) -> web.Response:
            p = request[PRINCIPAL]
            return web.json_response({"name": p.name, "role": p.role, "method": p.method})

        @require("tasks:read")
        async def boom(request: web.Request) -> web.Response:
            raise RuntimeError("handler bug")

        async def metrics(request: web.Request) -> web.Response:
            return web.Response(text="# metrics")

        app.router.add_get("/api/v1/tasks", tasks)
        app.router.add_post(WEBHOOK, ingest)
        app.router.add_get("/api/v1/boom", boom)
        app.router.add_get("/metrics", metrics)
        return app


async def call(h: Harness, method: str, path: str, headers: dict[str, str]) -> tuple[int, dict, list[str]]:
    client = TestClient(TestServer(h.app, host="127.0.0.1"))
    await client.start_server()
    try:
        resp = await client.request(method, path, headers=headers)
        try:
            body = await resp.json()
        except Exception:  # noqa: BLE001 - plain text routes
            body = {"text": await resp.text()}
        return resp.status, body, resp.headers.getall("WWW-Authenticate", [])
    finally:
        await client.close()


def run(h: Harness, method: str, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict, list[str]]:
    return asyncio.run(call(h, method, path, headers or {}))


# ---------------------------------------------------------------- API keys

def test_hashes_and_constant_time_store() -> None:
    key = generate_api_key()
    assert key.startswith("aek_") and len(key) > 40
    sha, scr = hash_api_key(key), hash_api_key("correct horse battery", "scrypt", n=2**10)
    assert key not in sha and sha.startswith("sha256:")
    assert scr.startswith("scrypt:1024:8:1:")
    store = ApiKeyStore([ApiKeyEntry(name="bot", role="sre", hash=sha),
                         ApiKeyEntry(name="human", role="developer", hash=scr)])
    assert store.lookup(key).name == "bot"
    assert store.lookup("correct horse battery").name == "human"
    assert store.lookup("correct horse battery").name == "human"  # second time from the verified cache
    assert store.lookup("wrong") is None and store.lookup("") is None and store.lookup("x" * 10_000) is None
    with pytest.raises(ValueError, match="unknown hash scheme"):
        hash_api_key(key, "md5")


def test_clear_text_key_in_settings_is_refused() -> None:
    with pytest.raises(ValidationError, match="clear-text key is refused"):
        ApiKeyEntry(name="oops", role="sre", hash="my-actual-key")
    with pytest.raises(ValidationError, match="appears twice"):
        SecuritySettings(api_keys=[ApiKeyEntry(name="a", role="sre", hash=hash_api_key("1")),
                                   ApiKeyEntry(name="a", role="admin", hash=hash_api_key("2"))])


def keys_security(**extra: Any) -> SecuritySettings:
    return SecuritySettings(api_keys=[ApiKeyEntry(name="ci-bot", role="sre", hash=hash_api_key("k-sre-secret-1"))],
                            rate_limit=RateLimitSettings(enabled=False), **extra)


def test_api_key_header_and_bearer_forms() -> None:
    h = Harness(keys_security())
    for headers in ({"X-API-Key": "k-sre-secret-1"}, {"Authorization": "Bearer k-sre-secret-1"}):
        status, body, _ = run(h, "GET", "/api/v1/tasks", headers)
        assert status == 200 and body == {"name": "ci-bot", "role": "sre", "method": "api_key"}
    status, body, challenges = run(h, "GET", "/api/v1/tasks", {"Authorization": "Digest abc"})
    assert status == 401 and body["reason"] == "unsupported Authorization scheme" and challenges
    status, body, _ = run(h, "GET", "/api/v1/tasks", {"Authorization": "Basic " + base64.b64encode(b"a:b").decode()})
    assert status == 401 and "only on the Alertmanager webhook" in body["reason"]
    status, _, _ = run(h, "GET", "/metrics")  # public
    assert status == 200


def test_audit_records_success_failure_and_handler_errors(caplog: pytest.LogCaptureFixture) -> None:
    h = Harness(keys_security())
    caplog.set_level(logging.DEBUG)
    run(h, "GET", "/api/v1/tasks", {"X-API-Key": "k-sre-secret-1"})
    run(h, "GET", "/api/v1/tasks", {"X-API-Key": "k-wrong-guess-2"})
    status, _, _ = run(h, "GET", "/api/v1/boom", {"X-API-Key": "k-sre-secret-1"})
    run(h, "GET", "/metrics")
    assert status == 500
    ok, bad, err = h.audit  # /metrics is public and not audited
    assert (ok.actor, ok.role, ok.result, ok.action, ok.resource) == ("ci-bot", "sre", "ok", "api.request", "GET /api/v1/tasks")
    assert ok.source_ip == "127.0.0.1" and ok.duration_ms >= 0 and ok.details["auth_method"] == "api_key"
    assert (bad.actor, bad.result, bad.reason, bad.details["status"]) == ("anonymous", "rejected", "unknown API key", 401)
    assert (err.result, err.details["status"], err.reason) == ("error", 500, "handler error: RuntimeError")
    dumped = "".join(e.model_dump_json() for e in h.audit) + caplog.text
    assert "k-sre-secret-1" not in dumped and "k-wrong-guess-2" not in dumped


def test_broken_audit_sink_does_not_fail_the_request() -> None:
    async def broken(event: AuditEvent) -> None:
        raise ConnectionError("kafka down")

    security = keys_security()
    app = web.Application(middlewares=security_middlewares(security, broken))

    @require("tasks:read")
    async def tasks(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})
    app.router.add_get("/t", tasks)

    async def go() -> int:
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            return (await client.get("/t", headers={"X-API-Key": "k-sre-secret-1"})).status
    assert asyncio.run(go()) == 200


# ---------------------------------------------------------------- Alertmanager webhook credential

def webhook_harness() -> Harness:
    from pydantic import SecretStr
    return Harness(keys_security(), WebhookSettings(bearer_token=SecretStr("am-token-xyz"), basic_user="am",
                                                    basic_password=SecretStr("am-pass")))


def test_webhook_bearer_and_basic() -> None:
    h = webhook_harness()
    status, body, _ = run(h, "POST", WEBHOOK, {"Authorization": "Bearer am-token-xyz"})
    assert status == 200 and body == {"name": "alertmanager", "role": "alertmanager", "method": "webhook_bearer"}
    basic = "Basic " + base64.b64encode(b"am:am-pass").decode()
    status, body, _ = run(h, "POST", WEBHOOK, {"Authorization": basic})
    assert status == 200 and body["method"] == "webhook_basic"
    status, body, challenges = run(h, "POST", WEBHOOK, {"Authorization": "Basic " + base64.b64encode(b"am:nope").decode()})
    assert status == 401 and body["reason"] == "invalid basic credentials"
    assert any(c.startswith("Basic") for c in challenges) and any(c.startswith("Bearer") for c in challenges)
    status, body, _ = run(h, "POST", WEBHOOK, {"Authorization": "Basic !!notbase64"})
    assert status == 401 and body["reason"] == "malformed basic credentials"
    # the webhook credential is worthless anywhere else
    status, body, _ = run(h, "GET", "/api/v1/tasks", {"Authorization": "Bearer am-token-xyz"})
    assert status == 401 and body["reason"] == "unknown API key"
    # an SRE key may also post to the webhook (alerts:ingest)
    status, _, _ = run(h, "POST", WEBHOOK, {"X-API-Key": "k-sre-secret-1"})
    assert status == 200


# ---------------------------------------------------------------- OIDC

def oidc_security(tmp: Path | None = None, url: str | None = None, **extra: Any) -> SecuritySettings:
    oidc = OIDCSettings(issuer=ISSUER, audience=AUDIENCE, jwks_file=tmp, jwks_url=url,
                        role_map={"ops-team": "sre", "platform": "admin"}, **extra)
    return SecuritySettings(oidc=oidc, rate_limit=RateLimitSettings(enabled=False))


def test_oidc_settings_refuse_symmetric_algorithms_and_need_one_source(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="asymmetric"):
        OIDCSettings(issuer=ISSUER, audience=AUDIENCE, jwks_file=tmp_path / "j", algorithms=["HS256"])
    with pytest.raises(ValidationError, match="exactly one of jwks_url or jwks_file"):
        OIDCSettings(issuer=ISSUER, audience=AUDIENCE)


def test_oidc_jwt_from_jwks_file(tmp_path: Path) -> None:
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [jwk_of(KEY_A, "a")]}))
    h = Harness(oidc_security(jwks))

    def status_reason(token: str) -> tuple[int, str]:
        status, body, _ = run(h, "GET", "/api/v1/tasks", {"Authorization": f"Bearer {token}"})
        return status, body.get("reason") or body.get("method")

    now = int(time.time())
    assert status_reason(mint(KEY_A, "a")) == (200, "oidc")
    assert status_reason(mint(KEY_A, None)) == (200, "oidc")  # no kid, single key in the set
    assert status_reason(mint(KEY_A, "a", roles=["ops-team"])) == (200, "oidc")  # mapped IdP group
    assert status_reason(mint(KEY_A, "a", roles="sre")) == (200, "oidc")  # a single string claim
    assert status_reason(mint(KEY_A, "a", exp=now - 120)) == (401, "token expired")
    assert status_reason(mint(KEY_A, "a", exp=now - 10)) == (200, "oidc")  # within the 30 s leeway
    assert status_reason(mint(KEY_A, "a", nbf=now + 600)) == (401, "token not yet valid")
    assert status_reason(mint(KEY_A, "a", aud="someone-else")) == (401, "token audience mismatch")
    assert status_reason(mint(KEY_A, "a", iss="https://evil.example")) == (401, "token issuer mismatch")
    assert status_reason(mint(KEY_EVIL, "a")) == (401, "token signature invalid")  # right kid, wrong key
    assert status_reason(mint(KEY_A, "a", exp=None)) == (401, "token lacks the 'exp' claim")
    assert status_reason(mint(KEY_A, "a", sub=None)) == (401, "token lacks the 'sub' claim")
    assert status_reason(mint(KEY_A, "zzz")) == (401, "token signed by an unknown key (kid)")
    assert status_reason(mint(KEY_A, "a", roles=["viewer"])) == (403, "token of alice carries no Aetherius role (claim 'roles')")
    # alg=none and HS256 signed with the public key (algorithm confusion) are refused before any verification
    unsigned = jwt.encode({"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "exp": now + 60, "roles": ["admin"]}, None,
                          algorithm="none")
    assert status_reason(unsigned) == (401, "token algorithm not allowed")
    forged = jwt.encode({"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "exp": now + 60, "roles": ["admin"]},
                        "a-shared-secret-long-enough-for-hs256-ok", algorithm="HS256", headers={"kid": "a"})
    assert status_reason(forged) == (401, "token algorithm not allowed")
    assert status_reason("eyJhbGciOi.broken.token") == (401, "malformed token")
    # multi-role tokens: recorded role is the most privileged
    status, body, _ = run(h, "GET", "/api/v1/tasks", {"Authorization": f"Bearer {mint(KEY_A, 'a', roles=['developer', 'platform'])}"})
    assert status == 200 and body["role"] == "admin"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_jwks_url_cached_and_refreshed_on_unknown_kid() -> None:
    """A real HTTP JWKS endpoint: keys are cached, a rotated kid triggers one refresh, and random kids cannot make
    us refetch more often than jwks_min_refresh_seconds."""
    served = {"keys": [jwk_of(KEY_A, "a")]}
    fetches: list[float] = []

    async def jwks_handler(request: web.Request) -> web.Response:
        fetches.append(time.time())
        return web.json_response(served)

    async def scenario() -> list[tuple[int, str]]:
        idp = web.Application()
        idp.router.add_get("/jwks", jwks_handler)
        idp_server = TestServer(idp, host="127.0.0.1")
        await idp_server.start_server()
        clock = FakeClock()
        security = oidc_security(url=str(idp_server.make_url("/jwks")), jwks_min_refresh_seconds=10, jwks_cache_seconds=300)
        h = Harness(security, jwks=JwksCache(security.oidc, clock=clock))
        out = []
        async with TestClient(TestServer(h.app, host="127.0.0.1")) as client:
            async def go(token: str) -> tuple[int, str]:
                resp = await client.get("/api/v1/tasks", headers={"Authorization": f"Bearer {token}"})
                body = await resp.json()
                return resp.status, body.get("reason") or body.get("method")

            out.append(await go(mint(KEY_A, "a")))      # first use: 1 fetch
            out.append(await go(mint(KEY_A, "a")))      # cached: no fetch
            served["keys"].append(jwk_of(KEY_B, "b"))   # the IdP rotates in key b
            out.append(await go(mint(KEY_B, "b")))      # too soon after the last fetch: unknown kid
            clock.now += 11
            out.append(await go(mint(KEY_B, "b")))      # unknown kid -> refresh -> accepted
            out.append(await go(mint(KEY_EVIL, "x1")))  # unknown kid: refetch allowed? no, 0 s since last
            out.append(await go(mint(KEY_EVIL, "x2")))
            clock.now += 301
            out.append(await go(mint(KEY_A, "a")))      # cache expired: one refetch
        await idp_server.close()
        return out

    results = asyncio.run(scenario())
    assert results == [(200, "oidc"), (200, "oidc"), (401, "token signed by an unknown key (kid)"), (200, "oidc"),
                       (401, "token signed by an unknown key (kid)"), (401, "token signed by an unknown key (kid)"),
                       (200, "oidc")]
    assert len(fetches) == 3


def test_jwks_unreachable_is_503_not_401() -> None:
    security = oidc_security(url="http://127.0.0.1:9/jwks", fetch_timeout_seconds=1)
    h = Harness(security)
    status, body, challenges = run(h, "GET", "/api/v1/tasks", {"Authorization": f"Bearer {mint(KEY_A, 'a')}"})
    assert status == 503 and body == {"error": "unavailable", "reason": "signing keys unavailable"} and not challenges
    assert h.audit[0].result == "error"
