"""Sign-in for the console: the API's own credentials behind a server-side session, CSRF, security headers.

- Sign-in takes an API key or an OIDC token (a JWT), verified by the API's own `Authenticator`; the credential is
  kept in this process's memory only, in a session named by a random id. The browser holds only that id, in an
  HttpOnly, SameSite=Strict cookie (Secure unless `console.cookie_secure` is off for plain-HTTP local use).
- Every request re-verifies the stored credential (a revoked key or a changed role applies at once) and goes
  through the API's auth middleware (`SessionAuthenticator` plugs the session in): RBAC by `@require`, the
  suspension list, and an audit event per request, exactly as on the API. The console asks the other roles with
  the same credential, so they authorise and audit the person again.
- Every state-changing request carries the session's CSRF token (a form field or `X-CSRF-Token`), compared in
  constant time, and must come from this origin (Origin / Sec-Fetch-Site); sign-in has its own double-submit token.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable

from aiohttp import web

from aetherius.http.auth import AuthFailure, Authenticator
from aetherius.http.rbac import Principal
from schemas.security_settings import HUMAN_ROLES, SecuritySettings

COOKIE = "aetherius_session"
LOGIN_COOKIE = "aetherius_login"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "font-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")


@dataclass
class Session:
    id: str
    credential: str = field(repr=False)  # never logged, never sent to the browser
    principal: Principal
    csrf: str = field(repr=False)
    created: float
    seen: float
    expires: float  # the session's end: max age, or the OIDC token's own expiry if sooner


class SessionStore:
    """In-memory sessions, bounded (the least recently used goes first). A restart signs everyone out."""

    def __init__(self, max_age: float, idle: float, limit: int, clock: Callable[[], float] = time.time) -> None:
        self.max_age, self.idle, self.limit, self.clock = max_age, idle, limit, clock
        self._sessions: OrderedDict[str, Session] = OrderedDict()

    def create(self, credential: str, principal: Principal, token_expiry: float | None = None) -> Session:
        now = self.clock()
        expires = now + self.max_age if token_expiry is None else min(now + self.max_age, token_expiry)
        session = Session(id=secrets.token_urlsafe(32), credential=credential, principal=principal,
                          csrf=secrets.token_urlsafe(32), created=now, seen=now, expires=expires)
        self._sessions[session.id] = session
        while len(self._sessions) > self.limit:
            self._sessions.popitem(last=False)
        return session

    def get(self, sid: str | None) -> Session | None:
        if not sid or len(sid) > 100:
            return None
        session = self._sessions.get(sid)
        if session is None:
            return None
        now = self.clock()
        if now >= session.expires or now - session.seen >= self.idle:
            self._sessions.pop(sid, None)
            return None
        session.seen = now
        self._sessions.move_to_end(sid)
        return session

    def drop(self, sid: str | None) -> Session | None:
        return self._sessions.pop(sid or "", None)

    def __len__(self) -> int:
        return len(self._sessions)


SESSION: web.RequestKey[Session] = web.RequestKey("console_session", Session)


def bearer(credential: str) -> dict[str, str]:
    """How the console presents the person's credential to the other roles (an API key or a JWT alike)."""
    return {"Authorization": f"Bearer {credential}"}


class SessionAuthenticator(Authenticator):
    """The API's authenticator with the console's session cookie as the only way in."""

    def __init__(self, security: SecuritySettings, sessions: SessionStore) -> None:
        super().__init__(security)
        self.sessions = sessions

    async def verify_credential(self, credential: str) -> Principal:
        """A credential typed at sign-in (or stored in a session): an API key or an OIDC token, people only."""
        credential = credential.strip()
        if not credential or len(credential) > 8192:
            raise AuthFailure("no credential given")
        principal = await self.authenticate_headers(bearer(credential), "")
        if not (principal.roles & set(HUMAN_ROLES)):
            raise AuthFailure("this credential is not a person's", status=403)
        return principal

    async def authenticate(self, request: web.Request) -> Principal:
        session = self.sessions.get(request.cookies.get(COOKIE))
        if session is None:
            raise AuthFailure("not signed in (or the session ended)")
        principal = await self.verify_credential(session.credential)  # revoked or changed: at once
        session.principal = principal
        request[SESSION] = session
        return principal


def set_session_cookie(response: web.StreamResponse, session: Session, secure: bool) -> None:
    response.set_cookie(COOKIE, session.id, httponly=True, secure=secure, samesite="Strict", path="/",
                        max_age=int(max(0, session.expires - session.created)))


def clear_session_cookie(response: web.StreamResponse, secure: bool) -> None:
    response.del_cookie(COOKIE, path="/", secure=secure, httponly=True, samesite="Strict")


def same_origin(request: web.Request) -> bool:
    """A state-changing request must come from a page of this console: the browser says where it came from."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("Origin")
    if origin is not None and origin != "null":
        return origin == f"{request.scheme}://{request.host}"
    return origin != "null"


async def presented_csrf(request: web.Request) -> str:
    token = request.headers.get(CSRF_HEADER)
    if token is None and request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        token = (await request.post()).get(CSRF_FIELD)
    return token if isinstance(token, str) else ""


def csrf_middleware(exempt: frozenset[str]):  # noqa: ANN201 - an aiohttp middleware
    """Inside the auth middleware (the session is known): POST and friends need this session's token."""

    @web.middleware
    async def check(request: web.Request, handler):  # noqa: ANN001, ANN202
        if request.method in SAFE_METHODS or request.path in exempt:
            return await handler(request)
        session = request.get(SESSION)
        token = await presented_csrf(request)
        if session is None or not same_origin(request) or not token \
                or not hmac.compare_digest(token.encode(), session.csrf.encode()):
            return web.json_response({"error": "forbidden", "reason": "missing or wrong CSRF token (reload the page)"},
                                     status=403)
        return await handler(request)

    return check


@web.middleware
async def security_headers(request: web.Request, handler):  # noqa: ANN001, ANN201
    """Strict CSP (no inline script or style anywhere), no framing, no sniffing, no caching of pages, no referrer to other sites."""
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        response = exc
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    # same-origin, not no-referrer: with no-referrer a browser sends `Origin: null` on form posts, and the CSRF
    # check wants the real origin. Nothing leaks to other sites either way.
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    if not request.path.startswith("/ui/static/"):
        headers.setdefault("Cache-Control", "no-store")
    if isinstance(response, web.HTTPException):
        raise response
    return response
