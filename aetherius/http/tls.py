"""Server-side TLS for our aiohttp servers: TLS 1.2 minimum; TLS 1.3 is negotiated whenever the client offers it
(OpenSSL picks the highest common version, and we never cap the maximum)."""

from __future__ import annotations

import ssl
from pathlib import Path

from schemas.security_settings import TLSSettings


class TLSConfigError(ValueError):
    """The cert/key pair cannot be loaded; the message names the files, never their content."""


def ssl_context(cert: str | Path, key: str | Path) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.options |= ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE
    # TLS 1.2 suites limited to forward-secret AEAD ones; TLS 1.3 suites are always AEAD.
    ctx.set_ciphers("ECDHE+AESGCM:ECDHE+CHACHA20")
    try:
        ctx.load_cert_chain(certfile=str(cert), keyfile=str(key))
    except (OSError, ssl.SSLError) as exc:
        raise TLSConfigError(f"cannot load TLS certificate {cert} / key {key}: {exc.__class__.__name__}") from None
    return ctx


def ssl_context_from(settings: TLSSettings) -> ssl.SSLContext | None:
    """None when no cert is configured (plain HTTP, e.g. behind a TLS-terminating ingress)."""
    if not settings.enabled:
        return None
    return ssl_context(settings.cert_file, settings.key_file)  # type: ignore[arg-type]
