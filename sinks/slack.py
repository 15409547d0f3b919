"""Slack: a report as an incoming-webhook Block Kit message, and the interactivity endpoint that
turns a 👍/👎 click into a `UserFeedback`.

Signature check (Slack's v0 scheme): basestring = "v0:{X-Slack-Request-Timestamp}:{raw body}",
signature = "v0=" + hex(HMAC-SHA256(signing secret, basestring)), compared in constant time with
X-Slack-Signature; a timestamp more than 5 minutes from now is refused (replay protection).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from typing import Any, Awaitable, Callable
from urllib.parse import parse_qs

from aiohttp import web

from agents.redaction import redact_text
from schemas.feedback import UserFeedback
from schemas.result import DiagnosticResult
from sinks.delivery import HttpRequest
from sinks.signing import check_timestamped
from sinks.report import RISK_ICON, cost_line, ordered_recommendations, root_cause_line, title

log = logging.getLogger(__name__)

ACTION_UP = "aetherius_feedback_up"
ACTION_DOWN = "aetherius_feedback_down"
_TEXT_LIMIT = 2900  # Slack section text limit is 3000 characters


def _clip(text: str, limit: int = _TEXT_LIMIT) -> str:
    text = redact_text(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def blocks(result: DiagnosticResult, max_recommendations: int = 3) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _clip(title(result), 150), "emoji": True}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _clip(f"*Root cause:* {root_cause_line(result)}")}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": _clip(
            f"confidence {result.confidence:.0%} · engine {result.engine} · cost {cost_line(result)} · task `{result.task_id}`")}]},
    ]
    if result.summary.impact:
        out.append({"type": "section", "text": {"type": "mrkdwn", "text": _clip(f"*Impact:* {result.summary.impact}")}})
    if result.root_cause and result.root_cause.evidence:
        ev = "\n".join(f"• `{e.source}`: {e.detail}" for e in result.root_cause.evidence[:5])
        out.append({"type": "section", "text": {"type": "mrkdwn", "text": _clip(f"*Evidence*\n{ev}")}})
    recs = ordered_recommendations(result)[:max_recommendations]
    if recs:
        lines = []
        for i, r in enumerate(recs, 1):
            line = f"{i}. {RISK_ICON.get(r.risk.value, '')} *{r.action}* (risk {r.risk.value})"
            if r.command:
                line += f"\n```{r.command}```"
            lines.append(line)
        out.append({"type": "section", "text": {"type": "mrkdwn", "text": _clip("*Recommendations*\n" + "\n".join(lines))}})
    value_up = json.dumps({"task_id": result.task_id, "vote": "up"})
    value_down = json.dumps({"task_id": result.task_id, "vote": "down"})
    out.append({"type": "actions", "block_id": f"feedback:{result.task_id}"[:255], "elements": [
        {"type": "button", "action_id": ACTION_UP, "text": {"type": "plain_text", "text": "👍 Helpful", "emoji": True},
         "style": "primary", "value": value_up},
        {"type": "button", "action_id": ACTION_DOWN, "text": {"type": "plain_text", "text": "👎 Not helpful", "emoji": True},
         "style": "danger", "value": value_down},
    ]})
    return out


def slack_payload(result: DiagnosticResult, max_recommendations: int = 3) -> dict[str, Any]:
    return {"text": _clip(f"{title(result)} — {root_cause_line(result)}", 3000),
            "blocks": blocks(result, max_recommendations)}


def slack_request(url: str, result: DiagnosticResult, *, max_recommendations: int = 3) -> HttpRequest:
    return HttpRequest(kind="slack", url=url, body=json.dumps(slack_payload(result, max_recommendations)).encode(),
                       headers={"Content-Type": "application/json"})


# ---- interactivity -------------------------------------------------------------------------------

def slack_signature(secret: str, timestamp: str, body: bytes) -> str:
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def verify_slack_signature(secret: str, timestamp: str | None, signature: str | None, body: bytes,
                           now: float | None = None) -> str | None:
    """None when valid, else why not (pure; `now` injectable)."""
    return check_timestamped(timestamp, signature, lambda ts: slack_signature(secret, ts, body), now=now,
                             missing="missing X-Slack-Request-Timestamp or X-Slack-Signature")


def feedback_from_action(payload: dict[str, Any]) -> UserFeedback | None:
    """A block_actions payload with one of our buttons -> UserFeedback (👍 = 5, 👎 = 1); else None."""
    if payload.get("type") != "block_actions":
        return None
    user = (payload.get("user") or {}).get("id") or ""
    for action in payload.get("actions") or []:
        if action.get("action_id") not in (ACTION_UP, ACTION_DOWN):
            continue
        try:
            value = json.loads(action.get("value") or "{}")
        except ValueError:
            return None
        task_id = value.get("task_id") if isinstance(value, dict) else None
        if not task_id or not user:
            return None
        rating = 5 if action["action_id"] == ACTION_UP else 1
        slack_user = f"slack:{user}"
        return UserFeedback(id=f"{task_id}:{slack_user}", task_id=task_id, user_id=slack_user, rating=rating)
    return None


Publish = Callable[[UserFeedback], Awaitable[None]]


def interactivity_handler(signing_secret: str, publish: Publish,
                          clock: Callable[[], float] = time.time) -> Callable[[web.Request], Awaitable[web.Response]]:
    """aiohttp handler for Slack's interactivity Request URL (form body `payload=<json>`)."""

    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        why = verify_slack_signature(signing_secret, request.headers.get("X-Slack-Request-Timestamp"),
                                     request.headers.get("X-Slack-Signature"), body, now=clock())
        if why:
            log.warning("Slack interactivity request refused: %s", why)
            return web.json_response({"error": why}, status=401)
        try:
            payload = json.loads(parse_qs(body.decode())["payload"][0])
        except (KeyError, IndexError, ValueError, UnicodeDecodeError):
            return web.json_response({"error": "body must be form-encoded payload=<json>"}, status=400)
        fb = feedback_from_action(payload) if isinstance(payload, dict) else None
        if fb is None:
            return web.Response(status=200)  # other interactions are not ours; Slack only needs a 200
        try:
            await publish(fb)
        except Exception:
            log.exception("Slack feedback for task %s could not be published", fb.task_id, extra={"task_id": fb.task_id})
            return web.json_response({"error": "feedback could not be recorded"}, status=503)
        return web.json_response({"response_type": "ephemeral", "replace_original": False,
                                  "text": "Thanks — your feedback was recorded."})

    return handle


def add_slack_routes(app: web.Application, signing_secret: str, publish: Publish) -> None:
    app.router.add_post("/api/v1/slack/interactivity", interactivity_handler(signing_secret, publish))
