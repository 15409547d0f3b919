"""Slack interactivity: v0 signature + 5-minute window, and a 👍/👎 click becoming a UserFeedback.

The requests are built exactly as Slack sends them: form-encoded `payload=<json>` of type
block_actions, signed with the app's signing secret.
"""

from __future__ import annotations

import asyncio
import json
import time
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

from schemas.feedback import UserFeedback
from sinks.slack import (
    ACTION_DOWN, ACTION_UP, add_slack_routes, feedback_from_action, slack_payload, slack_signature,
    verify_slack_signature,
)
from tests.test_report import sample_result

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


def click(task_id: str, action_id: str, user: str = "U0123") -> dict:
    blocks = slack_payload(sample_result(task_id))["blocks"]
    button = [e for b in blocks if b["type"] == "actions" for e in b["elements"] if e["action_id"] == action_id][0]
    return {"type": "block_actions", "user": {"id": user, "username": "ana", "team_id": "T1"},
            "api_app_id": "A1", "container": {"type": "message"}, "trigger_id": "1.2.3",
            "actions": [{**button, "block_id": f"feedback:{task_id}", "action_ts": "1700000000.1"}]}


def test_signature_valid_bad_and_stale():
    body = b"payload=%7B%7D"
    now = 1_700_000_000
    good = slack_signature(SECRET, str(now), body)
    assert verify_slack_signature(SECRET, str(now), good, body, now=now + 299) is None
    assert verify_slack_signature(SECRET, str(now), good, body + b"x", now=now) == "signature mismatch"
    assert verify_slack_signature("other-secret", str(now), good, body, now=now) == "signature mismatch"
    assert verify_slack_signature(SECRET, str(now), good, body, now=now + 301) == "timestamp outside the 5-minute window"
    assert verify_slack_signature(SECRET, str(now), good, body, now=now - 301) == "timestamp outside the 5-minute window"
    assert verify_slack_signature(SECRET, None, good, body, now=now).startswith("missing")
    assert verify_slack_signature(SECRET, "abc", good, body, now=now) == "timestamp is not an integer"


def test_slack_documented_example_signature():
    # The example from Slack's "Verifying requests from Slack" guide.
    body = (b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
            b"&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
            b"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
            b"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c")
    assert slack_signature(SECRET, "1531420618", body) == \
        "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"


def test_button_click_becomes_feedback():
    up = feedback_from_action(click("t-9", ACTION_UP))
    down = feedback_from_action(click("t-9", ACTION_DOWN))
    assert up == UserFeedback(id="t-9:slack:U0123", task_id="t-9", user_id="slack:U0123", rating=5,
                              timestamp=up.timestamp)
    assert down.rating == 1 and not down.helpful and down.id == up.id  # a changed vote replaces the first
    assert feedback_from_action({"type": "view_submission"}) is None
    other = click("t-9", ACTION_UP)
    other["actions"][0]["action_id"] = "someone_elses_button"
    assert feedback_from_action(other) is None


def _serve_and_post(requests: list[tuple[bytes, dict]]) -> tuple[list[int], list[UserFeedback]]:
    published: list[UserFeedback] = []

    async def publish(fb: UserFeedback) -> None:
        published.append(fb)

    async def go() -> list[int]:
        app = web.Application()
        add_slack_routes(app, SECRET, publish)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        statuses = []
        try:
            async with aiohttp.ClientSession() as s:
                for body, headers in requests:
                    async with s.post(f"http://127.0.0.1:{port}/api/v1/slack/interactivity", data=body,
                                      headers={"Content-Type": "application/x-www-form-urlencoded", **headers}) as r:
                        statuses.append(r.status)
        finally:
            await runner.cleanup()
        return statuses

    return asyncio.run(go()), published


def signed(payload: dict, ts: int | None = None, secret: str = SECRET) -> tuple[bytes, dict]:
    body = urlencode({"payload": json.dumps(payload)}).encode()
    ts_s = str(ts if ts is not None else int(time.time()))
    return body, {"X-Slack-Request-Timestamp": ts_s, "X-Slack-Signature": slack_signature(secret, ts_s, body)}


def test_interactivity_endpoint_accepts_only_signed_fresh_clicks():
    ok = signed(click("t-1", ACTION_DOWN))
    bad = signed(click("t-2", ACTION_UP), secret="wrong")
    stale = signed(click("t-3", ACTION_UP), ts=int(time.time()) - 600)
    unsigned = (ok[0], {})
    statuses, published = _serve_and_post([ok, bad, stale, unsigned])
    assert statuses == [200, 401, 401, 401]
    assert [(f.task_id, f.rating) for f in published] == [("t-1", 1)]
