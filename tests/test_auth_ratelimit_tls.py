"""Rate limiting (pure token bucket + 429 over HTTP) and TLS (real handshakes against a self-signed aiohttp server)."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import ssl
import warnings
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from aetherius.http.auth import hash_api_key, security_middlewares
from aetherius.http.ratelimit import Bucket, RateLimiter, take
from aetherius.http.rbac import require
from aetherius.http.tls import TLSConfigError, ssl_context, ssl_context_from
from schemas.audit import AuditEvent
from schemas.security_settings import ApiKeyEntry, RateLimitSettings, SecuritySettings, TLSSettings


# ---------------------------------------------------------------- token bucket (pure)

def test_bucket_spends_refills_and_caps() -> None:
    b = Bucket(tokens=2.0, updated=0.0)
    b, ok, _ = take(b, 0.0, rate=1.0, burst=2)
    assert ok and b.tokens == 1.0
    b, ok, _ = take(b, 0.0, rate=1.0, burst=2)
    assert ok and b.tokens == 0.0
    b, ok, retry = take(b, 0.25, rate=1.0, burst=2)
    assert not ok and retry == pytest.approx(0.75)
    b, ok, _ = take(b, 1.0, rate=1.0, burst=2)
    assert ok
    b, _, _ = take(b, 1000.0, rate=1.0, burst=2)  # a long idle period refills only up to burst
    assert b.tokens == 1.0
    b2, ok, _ = take(Bucket(0.0, 50.0), 10.0, rate=1.0, burst=2)  # clock stepped back: no tokens minted
    assert not ok and b2.tokens == 0.0


def test_limiter_keys_are_independent_overridable_and_bounded() -> None:
    now = [0.0]
    security = SecuritySettings(
        api_keys=[ApiKeyEntry(name="vip", role="sre", hash=hash_api_key("v"), rate_per_second=1, burst=5)],
        rate_limit=RateLimitSettings(rate_per_second=1, burst=2, max_tracked_keys=3))
    limiter = RateLimiter.from_security(security, clock=lambda: now[0])
    assert [limiter.check("api_key:a")[0] for _ in range(3)] == [True, True, False]
    assert limiter.check("api_key:b")[0]  # another key's budget is untouched
    assert [limiter.check("api_key:vip")[0] for _ in range(6)] == [True] * 5 + [False]
    for k in ("c", "d", "e"):
        limiter.check(f"api_key:{k}")
    assert len(limiter._buckets) == 3  # noqa: SLF001 - the bound is the property under test
    assert limiter.check("api_key:a")[0]  # evicted, so a fresh full bucket


def test_http_429_with_retry_after_per_key() -> None:
    security = SecuritySettings(
        api_keys=[ApiKeyEntry(name="one", role="sre", hash=hash_api_key("key-one")),
                  ApiKeyEntry(name="two", role="sre", hash=hash_api_key("key-two"))],
        rate_limit=RateLimitSettings(rate_per_second=0.2, burst=2))
    audit: list[AuditEvent] = []

    async def sink(event: AuditEvent) -> None:
        audit.append(event)

    @require("tasks:read")
    async def tasks(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def scenario() -> tuple[list[int], aiohttp.ClientResponse, dict, int, list[int]]:
        app = web.Application(middlewares=security_middlewares(security, sink))
        app.router.add_get("/tasks", tasks)
        app.router.add_get("/health/live", health)
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            statuses = [(await client.get("/tasks", headers={"X-API-Key": "key-one"})).status for _ in range(2)]
            limited = await client.get("/tasks", headers={"X-API-Key": "key-one"})
            body = await limited.json()
            other = (await client.get("/tasks", headers={"X-API-Key": "key-two"})).status
            probes = [(await client.get("/health/live")).status for _ in range(10)]  # never limited
            return statuses, limited, body, other, probes

    statuses, limited, body, other, probes = asyncio.run(scenario())
    assert statuses == [200, 200]
    assert limited.status == 429 and int(limited.headers["Retry-After"]) in (4, 5)
    assert body["error"] == "rate_limited" and "one" in body["reason"]
    assert other == 200 and probes == [200] * 10
    assert audit[2].result == "rejected" and audit[2].reason == "rate limited" and audit[2].details["status"] == 429


def test_alertmanager_is_not_held_to_the_api_key_limit_unless_configured() -> None:
    """An alert storm must not turn into 429s (late or lost notifications): the webhook credential has its own
    limit, off by default; API keys keep theirs on the same server."""
    from schemas.settings import WebhookSettings

    security = SecuritySettings(api_keys=[ApiKeyEntry(name="one", role="sre", hash=hash_api_key("key-one"))],
                                rate_limit=RateLimitSettings(rate_per_second=0.2, burst=2))

    async def sink(event: AuditEvent) -> None:
        pass

    @require("alerts:ingest")
    async def webhook(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def statuses(hook: WebhookSettings, n: int) -> tuple[list[int], list[int]]:
        app = web.Application(middlewares=security_middlewares(security, sink, hook))
        app.router.add_post("/api/v1/webhook/alertmanager", webhook)
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            am = [(await client.post("/api/v1/webhook/alertmanager", headers={"Authorization": "Bearer am-token"},
                                     json={})).status for _ in range(n)]
            keyed = [(await client.post("/api/v1/webhook/alertmanager", headers={"X-API-Key": "key-one"},
                                        json={})).status for _ in range(3)]
            return am, keyed

    am, keyed = asyncio.run(statuses(WebhookSettings(bearer_token="am-token"), 50))
    assert am == [200] * 50 and keyed == [200, 200, 429]
    am, _ = asyncio.run(statuses(WebhookSettings(bearer_token="am-token", rate_per_second=0.5, burst=5), 7))
    assert am == [200] * 5 + [429] * 2


# ---------------------------------------------------------------- TLS

def self_signed(tmp: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp / "tls.crt", tmp / "tls.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def client_ctx(cafile: Path, lo: ssl.TLSVersion | None = None, hi: ssl.TLSVersion | None = None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(cafile))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TLS 1.0/1.1 constants, used to prove they are refused
        if lo is not None:
            ctx.minimum_version = lo
            ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        if hi is not None:
            ctx.maximum_version = hi
    return ctx


async def handshake(server_ctx: ssl.SSLContext, client: ssl.SSLContext) -> tuple[str, int, str]:
    """Serve HTTPS on a free port; return (negotiated TLS version, HTTP status, body) seen by the client."""
    app = web.Application()

    async def hello(request: web.Request) -> web.Response:
        version = request.transport.get_extra_info("ssl_object").version()  # as negotiated, seen by the server
        return web.Response(text=f"hello over {version}")
    app.router.add_get("/health/live", hello)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_ctx)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"https://127.0.0.1:{port}/health/live", ssl=client) as resp:
                text = await resp.text()
                return text.rsplit(" ", 1)[-1], resp.status, text
    finally:
        await runner.cleanup()


def test_tls_handshake_prefers_13_and_allows_12(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    server = ssl_context(cert, key)
    assert server.minimum_version == ssl.TLSVersion.TLSv1_2
    assert asyncio.run(handshake(server, client_ctx(cert))) == ("TLSv1.3", 200, "hello over TLSv1.3")
    assert asyncio.run(handshake(server, client_ctx(cert, hi=ssl.TLSVersion.TLSv1_2)))[0] == "TLSv1.2"


def test_tls_refuses_11_clients(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    old_client = client_ctx(cert, lo=ssl.TLSVersion.TLSv1, hi=ssl.TLSVersion.TLSv1_1)
    # Control: a permissive server does complete a TLS 1.1 handshake with this client, so the refusal below is
    # caused by our minimum version and not by the client being unable to speak TLS 1.1 at all.
    permissive = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        permissive.minimum_version = ssl.TLSVersion.TLSv1
    permissive.set_ciphers("DEFAULT:@SECLEVEL=0")
    permissive.load_cert_chain(str(cert), str(key))
    assert asyncio.run(handshake(permissive, old_client))[0] == "TLSv1.1"
    with pytest.raises(aiohttp.ClientConnectorError):
        asyncio.run(handshake(ssl_context(cert, key), old_client))


def test_tls_settings_and_bad_files(tmp_path: Path) -> None:
    assert ssl_context_from(TLSSettings()) is None
    with pytest.raises(ValueError, match="must be set together"):
        TLSSettings(cert_file=tmp_path / "c")
    cert, _ = self_signed(tmp_path)
    with pytest.raises(TLSConfigError, match="cannot load TLS certificate") as info:
        ssl_context(cert, cert)  # a cert is not a key
    assert "BEGIN" not in str(info.value)  # names files, never their content
