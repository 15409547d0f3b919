"""Role-based access control: the permission matrix (data, in one place) and the `@require` marker.

The matrix is rendered into docs/security.md by `render_matrix_markdown()`; a test compares the two, so the
documented policy cannot drift from the enforced one.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Awaitable, Callable

from aiohttp import web

ROLES: tuple[str, ...] = ("sre", "developer", "admin", "auditor", "alertmanager")

# permission -> roles allowed. audit:read: the auditor's (SRS §2.3.1 "安全审计员") and the admin's, who the SRS
# has query the audit log too (§10 "SQL查询 (管理员)"; issue 17). Admins read it; they cannot change or delete it:
# no route writes the audit table, and the auditor reviews the admins' own actions there.
PERMISSIONS: dict[str, frozenset[str]] = {
    "alerts:ingest": frozenset({"alertmanager", "sre", "admin"}),
    "tasks:read": frozenset({"sre", "developer", "admin"}),
    "tasks:create": frozenset({"sre", "admin"}),
    "tasks:cancel": frozenset({"sre", "admin"}),
    "reports:read": frozenset({"sre", "developer", "admin", "auditor"}),
    "feedback:write": frozenset({"sre", "developer", "admin"}),
    "knowledge:read": frozenset({"sre", "developer", "admin"}),
    "knowledge:write": frozenset({"admin"}),
    "tools:admin": frozenset({"admin"}),
    "clusters:admin": frozenset({"admin"}),
    "costs:read": frozenset({"sre", "admin", "auditor"}),
    "history:read": frozenset({"sre", "developer", "admin", "auditor"}),
    "audit:read": frozenset({"auditor", "admin"}),
    # SRS §5.8.5 suspensions: auditors see who was suspended and why; only admins lift one early.
    "suspensions:read": frozenset({"admin", "auditor"}),
    "suspensions:admin": frozenset({"admin"}),
}

PERMISSION_ATTR = "__aetherius_permission__"


# Who Alertmanager's webhook credential authenticates as (aetherius.http.auth), and by which methods: the rate
# limiter gives it its own limit, the suspension check never refuses it.
WEBHOOK_PRINCIPAL = "alertmanager"
WEBHOOK_BEARER, WEBHOOK_BASIC = "webhook_bearer", "webhook_basic"


@dataclass(frozen=True)
class Principal:
    """Who is calling. `roles` holds every role the credential carries; `role` is the one recorded in audit."""

    name: str
    role: str
    method: str  # api_key | oidc | webhook_bearer | webhook_basic
    roles: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if not self.roles:
            object.__setattr__(self, "roles", frozenset({self.role}))


def allowed(roles: frozenset[str] | set[str], permission: str) -> bool:
    """Pure check. An unknown permission is a programming error, not a silent deny."""
    if permission not in PERMISSIONS:
        raise KeyError(f"unknown permission {permission!r}; add it to aetherius.http.rbac.PERMISSIONS")
    return bool(PERMISSIONS[permission] & set(roles))


def primary_role(roles: set[str] | frozenset[str]) -> str:
    """The role recorded for a multi-role credential: the most privileged one, deterministically."""
    for role in ("admin", "sre", "auditor", "developer", "alertmanager"):
        if role in roles:
            return role
    raise ValueError("no known role")


PRINCIPAL: web.RequestKey[Principal] = web.RequestKey("principal", Principal)
"""Where the auth middleware puts the caller: `request[PRINCIPAL]` (or `request.get(PRINCIPAL)`)."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def require(permission: str) -> Callable[[Handler], Handler]:
    """Mark a handler with the permission it needs. The auth middleware enforces it before the handler runs;
    the wrapper checks again so a handler mounted without the middleware still refuses (fail closed)."""
    if permission not in PERMISSIONS:
        raise KeyError(f"unknown permission {permission!r}")

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def guarded(request: web.Request) -> web.StreamResponse:
            principal = request.get(PRINCIPAL)
            if principal is None:
                raise web.HTTPUnauthorized(text='{"error": "unauthorized", "reason": "no authenticated principal"}',
                                           content_type="application/json")
            if not allowed(principal.roles, permission):
                raise web.HTTPForbidden(text=f'{{"error": "forbidden", "permission": "{permission}"}}',
                                        content_type="application/json")
            return await handler(request)

        setattr(guarded, PERMISSION_ATTR, permission)
        return guarded

    return decorate


def handler_permission(handler: object) -> str | None:
    return getattr(handler, PERMISSION_ATTR, None)


def route_permissions(app: web.Application) -> list[tuple[str, str, str | None]]:
    """(method, path, permission) for every route: lets a test assert no route is left unmarked."""
    out = []
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter") or info.get("prefix") or ""
        out.append((route.method, path, handler_permission(route.handler)))
    return out


def render_matrix_markdown() -> str:
    """The permission matrix as a Markdown table (embedded verbatim in docs/security.md)."""
    header = "| permission | " + " | ".join(ROLES) + " |"
    rule = "|---|" + "---|" * len(ROLES)
    rows = [header, rule]
    for permission, roles in PERMISSIONS.items():
        cells = ["yes" if role in roles else "-" for role in ROLES]
        rows.append(f"| `{permission}` | " + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n"
