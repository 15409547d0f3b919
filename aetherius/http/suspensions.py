"""Suspended people at the HTTP edge: every API process refuses them, admins list and lift them.

    follow_suspensions(web_app, settings)   every aiohttp app behind security_middlewares (worker, sink, bridge):
                                            keeps the topic's list in memory for the app's lifetime; the auth
                                            middleware then answers a suspended principal 403 {"error": "suspended"}
    add_suspension_routes(web_app, ...)     GET  /api/v1/security/suspensions            (suspensions:read)
                                            DELETE /api/v1/security/suspensions/{subject} (suspensions:admin)

The book lives on the aiohttp app (`SUSPENSIONS`), so `security_middlewares` keeps its signature and an app
without it (a unit test, a tool) simply suspends no one. Health and metrics are public paths: never refused.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Awaitable, Callable

from aiohttp import web

from aetherius.http.rbac import PRINCIPAL, Principal, require
from schemas.audit import AuditEvent
from schemas.base import utcnow
from schemas.suspension import SUBJECT_MAX, Suspension, is_suspended, lifted
from schemas.topics import topic_name
from streams.suspensions import TOPIC, Publish, SuspensionBook, SuspensionFollower

log = logging.getLogger(__name__)

SUSPENSIONS: web.AppKey[SuspensionBook] = web.AppKey("suspensions", SuspensionBook)
LIST_PATH = "/api/v1/security/suspensions"
PERSON_METHODS = frozenset({"api_key", "oidc"})  # Principal.method of a person (not the webhook credential)
LIFT_PATH = "/api/v1/security/suspensions/{subject}"


def principal_subject(principal: Principal) -> str:
    """The name a suspension is keyed by: what a task records as its requester (streams.webhook.requester_of)."""
    return principal.name[:SUBJECT_MAX] or f"unnamed-{principal.method}"


def refusal(entry: Suspension) -> web.Response:
    return web.json_response({"error": "suspended", "until": entry.until.isoformat(),
                              "reason": f"suspended until {entry.until.isoformat()} after a security event "
                                        f"({entry.security_event or 'unspecified'}) in task {entry.task_id or '-'}"},
                             status=403)


def active_suspension(request: web.Request, principal: Principal, now: datetime | None = None) -> Suspension | None:
    """The suspension in force for this request's principal, if the app follows the list. Only people are
    suspended: the Alertmanager webhook credential is never refused here, even if a person shares its name
    (that would switch off alert ingestion)."""
    book = request.config_dict.get(SUSPENSIONS)
    if book is None or principal.method not in PERSON_METHODS:
        return None
    return book.active(principal_subject(principal), now or utcnow())


def follow_suspensions(web_app: web.Application, bootstrap: str, topic_prefix: str,
                       follower: SuspensionFollower | None = None) -> SuspensionBook:
    """Keep the suspension list of `<prefix>.security.suspensions` on this app for its lifetime. Starting never
    waits for Kafka (fail open, see streams/suspensions.py)."""
    follower = follower or SuspensionFollower(bootstrap, topic_name(topic_prefix, TOPIC))
    web_app[SUSPENSIONS] = follower.book

    async def lifecycle(_app: web.Application):  # noqa: ANN202 - aiohttp cleanup context
        follower.start()
        yield
        await follower.stop()

    web_app.cleanup_ctx.append(lifecycle)
    return follower.book


def add_suspension_routes(web_app: web.Application, publish: Publish,
                          audit: Callable[[AuditEvent], Awaitable[None]]) -> None:
    """The admin view of the list. Call after `follow_suspensions` on the same app."""

    @require("suspensions:read")
    async def listing(request: web.Request) -> web.Response:
        book = request.app[SUSPENSIONS]
        now = utcnow()
        items: list[dict[str, Any]] = [{**e.model_dump(mode="json"), "active": is_suspended(e, now)}
                                       for e in book.all()]
        return web.json_response({"suspensions": items, "synced": book.synced})

    @require("suspensions:admin")
    async def lift(request: web.Request) -> web.Response:
        subject = request.match_info["subject"]
        book = request.app[SUSPENSIONS]
        now = utcnow()
        entry = book.get(subject)
        if not is_suspended(entry, now):
            return web.json_response({"error": "not_found", "reason": f"{subject!r} is not suspended"}, status=404)
        by = request[PRINCIPAL].name
        done = lifted(entry, by, now)  # type: ignore[arg-type]
        try:
            await publish(done)
        except Exception as exc:  # noqa: BLE001 - the lift did not reach the broker: say so, change nothing
            log.error("lifting the suspension of %s failed: %s: %s", subject, type(exc).__name__, exc)
            return web.json_response({"error": "unavailable", "reason": "kafka did not acknowledge the lift; retry"},
                                     status=503, headers={"Retry-After": "5"})
        book.put(done)  # this process at once; the others when their follower reads the record
        try:
            await audit(AuditEvent(actor=by, role=request[PRINCIPAL].role, action="suspension.lift",
                                   resource=f"user/{subject}", cluster_id=done.cluster_id, source_ip=request.remote or "",
                                   details={"subject": subject, "until": done.until.isoformat(), "task_id": done.task_id}))
        except Exception as exc:  # noqa: BLE001 - the lift is done; the api.request audit line records it too
            log.error("suspension.lift not audited: %s", type(exc).__name__)
        log.warning("suspension of %s lifted by %s", subject, by)
        return web.json_response(done.model_dump(mode="json"))

    web_app.router.add_get(LIST_PATH, listing)
    web_app.router.add_delete(LIFT_PATH, lift)
