"""Authentication for every aiohttp server: API keys, OIDC bearer JWTs, and the Alertmanager webhook credential.

Every route except the configured public paths (health, metrics) needs a credential. The middleware
authenticates, checks the route's `@require` permission (deny when a route declares none), and records an
`AuditEvent` for every non-public request - success or failure - through an injected async sink.
A presented credential never appears in a response, a log line, a metric label or an audit record.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import secrets
import time
from collections import OrderedDict
from http import HTTPStatus
from pathlib import Path
from typing import Any, Awaitable, Callable

import aiohttp
import jwt
from aiohttp import web
from prometheus_client import Counter

from aetherius.http.rbac import (PRINCIPAL, WEBHOOK_BASIC, WEBHOOK_BEARER, WEBHOOK_PRINCIPAL, Principal, allowed,
                                 handler_permission, primary_role)
from aetherius.http.ratelimit import RateLimiter, ratelimit_middleware
from aetherius.http.suspensions import active_suspension, refusal as suspension_refusal
from aetherius.metrics import REGISTRY
from schemas.audit import AuditEvent
from schemas.security_settings import HUMAN_ROLES, ApiKeyEntry, OIDCSettings, SecuritySettings
from schemas.settings import WebhookSettings

log = logging.getLogger(__name__)

AuditSink = Callable[[AuditEvent], Awaitable[None]]

AUTH_FAILURES = Counter("aetherius_http_auth_failures_total", "Requests refused by authentication or RBAC",
                        ["status"], registry=REGISTRY)
AUDIT_SINK_FAILURES = Counter("aetherius_audit_sink_failures_total",
                              "Audit events the sink failed to accept (the request itself still completed)",
                              registry=REGISTRY)

SUSPENDED_REFUSALS = Counter("aetherius_http_suspended_refusals_total",
                             "Requests refused because their principal is suspended after a security event",
                             registry=REGISTRY)

REALM = "aetherius"


# ---------------------------------------------------------------- API keys

def generate_api_key() -> str:
    """A new random API key (256 bits). Hand it to the user once; store only `hash_api_key(key)`."""
    return "aek_" + secrets.token_urlsafe(32)


def hash_api_key(key: str, scheme: str = "sha256", *, n: int = 2**14, r: int = 8, p: int = 1) -> str:
    """The storable form of a key. sha256 suffices for generated (256-bit random) keys; use scrypt for any
    human-chosen key, where a fast hash would make an offline guess cheap."""
    if scheme == "sha256":
        return "sha256:" + hashlib.sha256(key.encode()).hexdigest()
    if scheme == "scrypt":
        salt = secrets.token_bytes(16)
        digest = hashlib.scrypt(key.encode(), salt=salt, n=n, r=r, p=p, dklen=32)
        enc = lambda b: base64.urlsafe_b64encode(b).decode()  # noqa: E731
        return f"scrypt:{n}:{r}:{p}:{enc(salt)}:{enc(digest)}"
    raise ValueError(f"unknown hash scheme {scheme!r} (sha256 or scrypt)")


def _scrypt_matches(key: str, stored: str) -> bool:
    _, n, r, p, salt, digest = stored.split(":")
    expected = base64.urlsafe_b64decode(digest)
    got = hashlib.scrypt(key.encode(), salt=base64.urlsafe_b64decode(salt), n=int(n), r=int(r), p=int(p),
                         dklen=len(expected), maxmem=2**27)
    return hmac.compare_digest(got, expected)


class ApiKeyStore:
    """Finds the entry for a presented key in time independent of which entry (if any) matches.

    Every sha256 entry is compared (no early exit). scrypt entries cost ~50 ms each, so a key that verified once
    is remembered by its sha256 in a small in-memory map (never written anywhere)."""

    def __init__(self, entries: list[ApiKeyEntry], cache_size: int = 1024) -> None:
        self._sha = [(bytes.fromhex(e.hash.split(":", 1)[1]), e) for e in entries if e.hash.startswith("sha256:")]
        self._scrypt = [e for e in entries if e.hash.startswith("scrypt:")]
        self._verified: OrderedDict[bytes, ApiKeyEntry] = OrderedDict()
        self._cache_size = cache_size

    def lookup(self, key: str) -> ApiKeyEntry | None:
        if not key or len(key) > 512:
            return None
        digest = hashlib.sha256(key.encode()).digest()
        found: ApiKeyEntry | None = None
        for stored, entry in self._sha:
            if hmac.compare_digest(stored, digest) and found is None:
                found = entry
        if found is not None or not self._scrypt:
            return found
        cached = self._verified.get(digest)
        if cached is not None:
            return cached
        for entry in self._scrypt:
            if _scrypt_matches(key, entry.hash):
                self._verified[digest] = entry
                while len(self._verified) > self._cache_size:
                    self._verified.popitem(last=False)
                return entry
        return None


# ---------------------------------------------------------------- OIDC

class AuthFailure(Exception):
    """Why a request is refused. `status` 401 (no/invalid credential), 403 (valid but no role), 503 (cannot verify)."""

    def __init__(self, reason: str, status: int = 401, error: str = "invalid_token") -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.error = error


class JwksCache:
    """Signing keys by kid, from a URL or a file. Refreshed after `jwks_cache_seconds`, and early when a token names
    an unknown kid (key rotation) - but at most once per `jwks_min_refresh_seconds`, so random kids cannot turn us
    into a request amplifier. A failed refresh keeps the keys we already have."""

    def __init__(self, settings: OIDCSettings, clock: Callable[[], float] = time.monotonic) -> None:
        self._settings = settings
        self._clock = clock
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._lock = asyncio.Lock()

    async def _load(self) -> dict[str, Any]:
        if self._settings.jwks_file is not None:
            return json.loads(Path(self._settings.jwks_file).read_text())
        timeout = aiohttp.ClientTimeout(total=self._settings.fetch_timeout_seconds)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            async with session.get(self._settings.jwks_url) as resp:  # type: ignore[arg-type]
                resp.raise_for_status()
                return await resp.json(content_type=None)

    async def _refresh(self) -> None:
        self._attempted_at = self._clock()
        try:
            data = await self._load()
            keyset = jwt.PyJWKSet.from_dict(data)
        except Exception as exc:  # noqa: BLE001 - any failure keeps the old keys; the reason is logged
            log.warning("JWKS refresh failed (%s): %s", self._settings.jwks_url or self._settings.jwks_file,
                        exc.__class__.__name__)
            return
        self._keys = {k.key_id or "": k for k in keyset.keys}
        self._fetched_at = self._clock()

    async def get(self, kid: str | None) -> jwt.PyJWK:
        now = self._clock()
        stale = self._fetched_at is None or now - self._fetched_at >= self._settings.jwks_cache_seconds
        unknown = (kid or "") not in self._keys and not (kid is None and len(self._keys) == 1)
        may_retry = self._attempted_at is None or now - self._attempted_at >= self._settings.jwks_min_refresh_seconds
        if (stale or unknown) and may_retry:
            async with self._lock:
                if self._attempted_at is None or self._clock() - self._attempted_at >= self._settings.jwks_min_refresh_seconds:
                    await self._refresh()
        if not self._keys:
            raise AuthFailure("signing keys unavailable", status=503, error="temporarily_unavailable")
        if kid is None:
            if len(self._keys) == 1:
                return next(iter(self._keys.values()))
            raise AuthFailure("token has no kid and the JWKS holds several keys")
        key = self._keys.get(kid)
        if key is None:
            raise AuthFailure("token signed by an unknown key (kid)")
        return key


_JWT_ERRORS: list[tuple[type[Exception], str]] = [
    (jwt.ExpiredSignatureError, "token expired"),
    (jwt.ImmatureSignatureError, "token not yet valid"),
    (jwt.InvalidAudienceError, "token audience mismatch"),
    (jwt.InvalidIssuerError, "token issuer mismatch"),
    (jwt.InvalidSignatureError, "token signature invalid"),
    (jwt.InvalidAlgorithmError, "token algorithm not allowed"),
    (jwt.MissingRequiredClaimError, "token lacks a required claim"),
    (jwt.DecodeError, "malformed token"),
]


class OidcVerifier:
    def __init__(self, settings: OIDCSettings, jwks: JwksCache | None = None) -> None:
        self.settings = settings
        self.jwks = jwks or JwksCache(settings)

    async def verify(self, token: str) -> Principal:
        s = self.settings
        try:
            header = jwt.get_unverified_header(token)
        except jwt.DecodeError:
            raise AuthFailure("malformed token") from None
        if header.get("alg") not in s.algorithms:
            raise AuthFailure("token algorithm not allowed")
        key = await self.jwks.get(header.get("kid"))
        try:
            claims = jwt.decode(token, key=key.key, algorithms=s.algorithms, audience=s.audience, issuer=s.issuer,
                                leeway=s.leeway_seconds,
                                options={"require": ["exp", "iss", "aud", s.name_claim]})
        except jwt.PyJWTError as exc:
            for kind, reason in _JWT_ERRORS:
                if isinstance(exc, kind):
                    if isinstance(exc, jwt.MissingRequiredClaimError):
                        reason = f"token lacks the {exc.claim!r} claim"
                    raise AuthFailure(reason) from None
            raise AuthFailure("token rejected") from None
        name = str(claims[s.name_claim])
        roles = self.roles_from(claims)
        if not roles:
            raise AuthFailure(f"token of {name} carries no Aetherius role (claim {s.roles_claim!r})",
                              status=403, error="insufficient_scope")
        return Principal(name=name, role=primary_role(roles), method="oidc", roles=frozenset(roles))

    def roles_from(self, claims: dict[str, Any]) -> set[str]:
        raw = claims.get(self.settings.roles_claim, [])
        values = [raw] if isinstance(raw, str) else [v for v in raw if isinstance(v, str)] if isinstance(raw, list) else []
        roles: set[str] = set()
        for value in values:
            if value in self.settings.role_map:
                roles.add(self.settings.role_map[value])
            elif value in HUMAN_ROLES:
                roles.add(value)
        return roles


def looks_like_jwt(token: str) -> bool:
    return token.startswith("eyJ") and token.count(".") == 2


# ---------------------------------------------------------------- the authenticator

class Authenticator:
    """Turns a request's credential into a `Principal` or raises `AuthFailure` naming why."""

    def __init__(self, security: SecuritySettings, webhook: WebhookSettings | None = None,
                 oidc: OidcVerifier | None = None) -> None:
        self.security = security
        self.keys = ApiKeyStore(security.api_keys)
        self.oidc = oidc or (OidcVerifier(security.oidc) if security.oidc else None)
        self._webhook_paths = frozenset(security.webhook_paths)
        wh = webhook or WebhookSettings()
        self._wh_bearer = wh.bearer_token.get_secret_value().encode() if wh.bearer_token else None
        self._wh_basic = ((wh.basic_user or "").encode(), wh.basic_password.get_secret_value().encode()) \
            if wh.basic_user and wh.basic_password else None

    def challenges(self, path: str) -> list[str]:
        out = []
        if path in self._webhook_paths and self._wh_basic:
            out.append(f'Basic realm="{REALM}"')
        return out

    async def authenticate(self, request: web.Request) -> Principal:
        return await self.authenticate_headers(request.headers, request.path)

    async def authenticate_headers(self, headers: Any, path: str = "") -> Principal:
        """The principal behind a request's `X-API-Key` / `Authorization` headers (any mapping with `.get`), as
        for an HTTP route at `path`; also what the MCP gateway uses, so its callers hold the same credentials."""
        api_key = headers.get("X-API-Key")
        authz = headers.get("Authorization", "")
        scheme, _, value = authz.partition(" ")
        scheme, value = scheme.lower(), value.strip()
        on_webhook = path in self._webhook_paths
        if api_key is not None:
            return self._from_api_key(api_key)
        if scheme == "basic" and value:
            if not (on_webhook and self._wh_basic):
                raise AuthFailure("basic auth is accepted only on the Alertmanager webhook", error="invalid_request")
            return self._from_basic(value)
        if scheme == "bearer" and value:
            if on_webhook and self._wh_bearer is not None and hmac.compare_digest(value.encode(), self._wh_bearer):
                return Principal(name=WEBHOOK_PRINCIPAL, role="alertmanager", method=WEBHOOK_BEARER)
            if looks_like_jwt(value) and self.oidc is not None:
                return await self.oidc.verify(value)
            return self._from_api_key(value)
        if authz:
            raise AuthFailure("unsupported Authorization scheme", error="invalid_request")
        raise AuthFailure("missing credentials", error="invalid_request")

    def _from_api_key(self, key: str) -> Principal:
        entry = self.keys.lookup(key)
        if entry is None:
            raise AuthFailure("unknown API key")
        return Principal(name=entry.name, role=entry.role, method="api_key")

    def _from_basic(self, value: str) -> Principal:
        try:
            user, _, password = base64.b64decode(value, validate=True).partition(b":")
        except (ValueError, TypeError):
            raise AuthFailure("malformed basic credentials", error="invalid_request") from None
        want_user, want_password = self._wh_basic  # type: ignore[misc]
        ok_user = hmac.compare_digest(user, want_user)
        ok_password = hmac.compare_digest(password, want_password)
        if not (ok_user and ok_password):
            raise AuthFailure("invalid basic credentials")
        return Principal(name=WEBHOOK_PRINCIPAL, role="alertmanager", method=WEBHOOK_BASIC)


# ---------------------------------------------------------------- middleware

def _failure_response(failure: AuthFailure, challenges: list[str]) -> web.Response:
    body = {"error": "unauthorized" if failure.status == 401 else
            "forbidden" if failure.status == 403 else "unavailable", "reason": failure.reason}
    resp = web.json_response(body, status=failure.status)
    if failure.status == 401:
        desc = failure.reason.replace('"', "'")
        resp.headers.add("WWW-Authenticate", f'Bearer realm="{REALM}", error="{failure.error}", error_description="{desc}"')
        for challenge in challenges:
            resp.headers.add("WWW-Authenticate", challenge)
    return resp


def _result(status: int) -> str:
    """What the audit says happened: every 4xx was refused (401/403/429 by us, 404/400/409/413... by the route),
    5xx failed, the rest succeeded. A 404 is not an `ok` (issue 14)."""
    if 400 <= status < 500:
        return "rejected"
    return "error" if status >= 500 else "ok"


def _reason(status: int, reason: str) -> str:
    if reason or status < 400:
        return reason
    try:
        return f"{status} {HTTPStatus(status).phrase.lower()}"
    except ValueError:
        return str(status)


def auth_middleware(authenticator: Authenticator, audit_sink: AuditSink,
                    public_paths: list[str] | None = None, clock: Callable[[], float] = time.perf_counter):  # noqa: ANN201
    public = frozenset(public_paths if public_paths is not None else authenticator.security.public_paths)

    async def emit(event: AuditEvent) -> None:
        try:
            await audit_sink(event)
        except Exception as exc:  # noqa: BLE001 - a broken sink must not turn into a failed request
            AUDIT_SINK_FAILURES.inc()
            log.error("audit sink failed: %s", exc.__class__.__name__)

    @web.middleware
    async def middleware(request: web.Request, handler):  # noqa: ANN001, ANN202
        if request.path in public:
            return await handler(request)
        started = clock()
        permission = handler_permission(request.match_info.handler)
        principal: Principal | None = None
        status, reason = 500, ""
        try:
            try:
                principal = await authenticator.authenticate(request)
            except AuthFailure as failure:
                status, reason = failure.status, failure.reason
                return _failure_response(failure, authenticator.challenges(request.path))
            request[PRINCIPAL] = principal
            suspension = active_suspension(request, principal)
            if suspension is not None:  # SRS §5.8.5: after a security event in a task this person asked for
                status, reason = 403, f"suspended until {suspension.until.isoformat()}"
                SUSPENDED_REFUSALS.inc()
                return suspension_refusal(suspension)
            if permission is None and request.match_info.http_exception is None:
                status, reason = 403, "route declares no permission (deny by default)"
                return web.json_response({"error": "forbidden", "reason": reason}, status=403)
            if permission is not None and not allowed(principal.roles, permission):
                status, reason = 403, f"role {principal.role} lacks {permission}"
                return web.json_response({"error": "forbidden", "reason": reason, "permission": permission}, status=403)
            try:
                response = await handler(request)
            except web.HTTPException as exc:
                status = exc.status
                raise
            status = response.status
            if status == 429:
                reason = "rate limited"
            return response
        except asyncio.CancelledError:
            status, reason = 499, "client went away"
            raise
        except Exception as exc:
            if not isinstance(exc, web.HTTPException):
                reason = f"handler error: {exc.__class__.__name__}"
            raise
        finally:
            if status in (401, 403, 503):
                AUTH_FAILURES.labels(str(status)).inc()
            await emit(AuditEvent(
                actor=principal.name if principal else "anonymous",
                role=principal.role if principal else "",
                action="api.request",
                resource=f"{request.method} {request.path}",
                result=_result(status),  # type: ignore[arg-type]
                reason=_reason(status, reason),
                duration_ms=round((clock() - started) * 1000.0, 3),
                source_ip=request.remote or "",
                details={"status": status, "permission": permission or "",
                         "auth_method": principal.method if principal else ""},
            ))

    return middleware


def security_middlewares(security: SecuritySettings, audit_sink: AuditSink, webhook: WebhookSettings | None = None,
                         *, authenticator: Authenticator | None = None,
                         limiter: RateLimiter | None = None) -> list:
    """The middlewares for `web.Application(middlewares=...)`, in order: authenticate+authorize+audit, then rate limit."""
    auth = authenticator or Authenticator(security, webhook)
    out = [auth_middleware(auth, audit_sink)]
    if security.rate_limit.enabled:
        out.append(ratelimit_middleware(limiter or RateLimiter.from_security(security, webhook=webhook)))
    return out


__all__ = ["ApiKeyStore", "AuditSink", "AuthFailure", "Authenticator", "JwksCache", "OidcVerifier", "Principal",
           "auth_middleware", "generate_api_key", "hash_api_key", "security_middlewares"]
