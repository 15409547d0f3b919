"""POST /api/v1/feedback over a real aiohttp server behind the real auth middleware: 202 / 400 / 401 / 404 / 503.
The voter is the authenticated caller (a developer's API key named "ana"), never a name in the body."""

from __future__ import annotations

import asyncio

import aiohttp
from aiohttp import web

from aetherius.http.auth import generate_api_key, hash_api_key, security_middlewares
from agents.knowledge.feedback_api import add_feedback_route
from schemas.security_settings import SecuritySettings
from schemas.feedback import UserFeedback


KEY = generate_api_key()
SECURITY = SecuritySettings(api_keys=[{"name": "ana", "role": "developer", "hash": hash_api_key(KEY)}])


def post_all(bodies: list, *, fail_publish: bool = False, key: str | None = KEY
             ) -> tuple[list[tuple[int, dict]], list[UserFeedback]]:
    published: list[UserFeedback] = []

    async def audit(_event) -> None:
        return None

    async def publish(fb: UserFeedback) -> None:
        if fail_publish:
            raise ConnectionError("kafka down")
        published.append(fb)

    async def exists(task_id: str) -> bool:
        return task_id.startswith("t-")

    async def go():
        app = web.Application(middlewares=security_middlewares(SECURITY, audit))
        add_feedback_route(app, publish, exists)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        out = []
        try:
            async with aiohttp.ClientSession(headers={"X-API-Key": key} if key else {}) as s:
                for b in bodies:
                    kw = {"data": b} if isinstance(b, (bytes, str)) else {"json": b}
                    async with s.post(f"http://127.0.0.1:{port}/api/v1/feedback", **kw) as r:
                        out.append((r.status, await r.json()))
        finally:
            await runner.cleanup()
        return out

    return asyncio.run(go()), published


def test_valid_feedback_is_published():
    res, pub = post_all([{"task_id": "t-1", "rating": "👎", "comment": "wrong namespace", "user_id": "mallory",
                          "corrections": [{"field": "root_cause", "suggested": "quota"}]},
                         {"task_id": "t-1", "rating": 4}])
    # Same voter, same task: the same feedback id, so the second vote replaces the first downstream.
    assert res[0] == (202, {"id": "t-1:ana", "status": "received"})
    assert res[1] == (202, {"id": "t-1:ana", "status": "received"})
    assert pub[0].rating == 1 and pub[0].comments == "wrong namespace" and pub[0].corrections[0].suggested == "quota"
    assert pub[1].helpful


def test_bad_input_is_a_400_naming_the_field():
    res, pub = post_all([b"not json", [1, 2], {"task_id": "t-1"}, {"task_id": "t-1", "rating": 9},
                         {"task_id": "t-1", "rating": "meh"}, {"task_id": "t-1", "rating": 5, "extra": 1},
                         {"task_id": "", "rating": 5}])
    assert [s for s, _ in res] == [400] * 7 and not pub
    assert res[0][1]["error"] == "body must be a JSON object"
    assert res[2][1]["details"][0]["field"] == "rating"
    assert "between 1 and 5" in res[3][1]["details"][0]["message"]
    assert res[5][1]["details"][0]["field"] == "extra"


def test_unknown_task_is_404_and_publish_failure_is_503():
    res, pub = post_all([{"task_id": "nope", "rating": 5}])
    assert res[0][0] == 404 and not pub
    res, pub = post_all([{"task_id": "t-1", "rating": 5}], fail_publish=True)
    assert res[0][0] == 503


def test_feedback_needs_credentials():
    res, pub = post_all([{"task_id": "t-1", "rating": 5}], key=None)
    assert res[0][0] == 401 and not pub
