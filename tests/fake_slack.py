"""Local stand-ins for Slack's and Teams' incoming webhooks (no real Slack/Teams can run here).

They speak the real wire protocol as documented by the vendors: Slack answers 200 with body "ok",
400 "invalid_payload" / "no_text" for a bad message, 404 "no_service", 410 "channel_is_archived",
429 with Retry-After, 500 on its own failures; Teams' connector answers 200 with body "1", Workflows
202. Both check the message shape they would reject (Block Kit / Adaptive Card envelope). A test
can make the next N requests fail with a status, and read what was received.
Also a generic receiver for the signed Aetherius webhook.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

SLACK_BLOCK_TYPES = {"section", "header", "context", "actions", "divider", "image", "input", "rich_text"}


def slack_problem(msg: Any) -> str | None:
    """What Slack would refuse in an incoming-webhook message, or None."""
    if not isinstance(msg, dict):
        return "invalid_payload"
    if not msg.get("text") and not msg.get("blocks"):
        return "no_text"
    blocks = msg.get("blocks", [])
    if not isinstance(blocks, list) or len(blocks) > 50:
        return "invalid_blocks"
    for b in blocks:
        if b.get("type") not in SLACK_BLOCK_TYPES:
            return "invalid_blocks"
        if b["type"] == "header" and (b["text"].get("type") != "plain_text" or len(b["text"]["text"]) > 150):
            return "invalid_blocks"
        if b["type"] == "section" and len(b.get("text", {}).get("text", "")) > 3000:
            return "invalid_blocks"
        if b["type"] == "actions":
            for el in b.get("elements", []):
                if el.get("type") == "button" and (not el.get("action_id") or el["text"].get("type") != "plain_text"
                                                   or len(el.get("value", "")) > 2000):
                    return "invalid_blocks"
    return None


@dataclass
class Receiver:
    """One fake endpoint; `fail_next(n, status)` makes the next n requests fail."""

    kind: str  # slack | teams | webhook
    received: list[dict[str, Any]] = field(default_factory=list)  # {"body": bytes, "headers": {...}}
    attempts: int = 0
    _fail: list[int] = field(default_factory=list)
    url: str = ""

    def fail_next(self, n: int, status: int = 500) -> None:
        self._fail += [status] * n

    def messages(self) -> list[Any]:
        return [json.loads(r["body"]) for r in self.received]

    async def handle(self, request: web.Request) -> web.Response:
        self.attempts += 1
        body = await request.read()
        if self._fail:
            status = self._fail.pop(0)
            text = {429: "rate_limited", 404: "no_service", 410: "channel_is_archived"}.get(status, "server_error")
            return web.Response(status=status, text=text, headers={"Retry-After": "1"} if status == 429 else {})
        try:
            msg = json.loads(body)
        except ValueError:
            return web.Response(status=400, text="invalid_payload")
        if self.kind == "slack":
            problem = slack_problem(msg)
            if problem:
                return web.Response(status=400, text=problem)
            self.received.append({"body": body, "headers": dict(request.headers)})
            return web.Response(status=200, text="ok")
        if self.kind == "teams":
            att = (msg.get("attachments") or [{}])[0]
            if msg.get("type") != "message" or att.get("contentType") != "application/vnd.microsoft.card.adaptive" \
                    or att.get("content", {}).get("type") != "AdaptiveCard":
                return web.Response(status=400, text="Bad payload received by generic incoming webhook.")
            self.received.append({"body": body, "headers": dict(request.headers)})
            return web.Response(status=200, text="1")
        self.received.append({"body": body, "headers": dict(request.headers)})
        return web.Response(status=204)


class FakeHooks:
    """Starts one aiohttp server on 127.0.0.1 with /slack, /teams and /webhook receivers."""

    def __init__(self) -> None:
        self.slack = Receiver("slack")
        self.teams = Receiver("teams")
        self.webhook = Receiver("webhook")
        self._runner: web.AppRunner | None = None

    async def __aenter__(self) -> "FakeHooks":
        app = web.Application()
        app.router.add_post("/services/T000/B000/XXXX", self.slack.handle)
        app.router.add_post("/teams/webhookb2/abc", self.teams.handle)
        app.router.add_post("/hook", self.webhook.handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        base = f"http://127.0.0.1:{port}"
        self.slack.url = f"{base}/services/T000/B000/XXXX"
        self.teams.url = f"{base}/teams/webhookb2/abc"
        self.webhook.url = f"{base}/hook"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner:
            await self._runner.cleanup()
