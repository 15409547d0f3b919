"""`POST /api/v1/feedback`: validate, check the task exists, publish a `UserFeedback` to the feedback topic.

Body: {"task_id": str, "rating": 1-5 | "up" | "down" | "👍" | "👎", "comment"|"comments": str,
"corrections": [{"field", "suggested", "explanation"}], "user_id": str (optional)}.
The user is the authenticated principal when the auth middleware set one (`request["principal"]`),
else `user_id` from the body, else "anonymous". One feedback per (task, user): the id is
`task_id:user_id`, so a second vote replaces the first downstream.
Replies: 202 {"id", "status": "received"}; 400 {"error", "details"}; 404 unknown task; 503 publish failed.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Awaitable, Callable

from aiohttp import web

from aetherius.http.rbac import PRINCIPAL, require
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from schemas.feedback import FeedbackCorrection, UserFeedback

log = logging.getLogger(__name__)

Publish = Callable[[UserFeedback], Awaitable[None]]
TaskExists = Callable[[str], Awaitable[bool]]

_THUMBS = {"up": 5, "👍": 5, "+1": 5, "thumbsup": 5, "down": 1, "👎": 1, "-1": 1, "thumbsdown": 1}
MAX_COMMENT = 4000


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    task_id: str = Field(min_length=1, max_length=200)
    rating: int
    comments: str = Field(default="", max_length=MAX_COMMENT, alias="comment")
    corrections: list[FeedbackCorrection] = Field(default_factory=list, max_length=50)
    user_id: str = Field(default="", max_length=200)

    @field_validator("rating", mode="before")
    @classmethod
    def _thumbs(cls, v: Any) -> Any:
        if isinstance(v, str) and v.strip().lower() in _THUMBS:
            return _THUMBS[v.strip().lower()]
        if isinstance(v, bool):
            raise ValueError("rating must be 1-5 or up/down")
        return v

    @field_validator("rating")
    @classmethod
    def _range(cls, v: int) -> int:
        if not 1 <= v <= 5:
            raise ValueError("rating must be between 1 and 5")
        return v


def to_feedback(req: FeedbackRequest, user_id: str) -> UserFeedback:
    return UserFeedback(id=f"{req.task_id}:{user_id}", task_id=req.task_id, user_id=user_id, rating=req.rating,
                        comments=req.comments, corrections=req.corrections)


def _bad(error: str, details: list[dict] | None = None) -> web.Response:
    return web.json_response({"error": error, "details": details or []}, status=400)


def feedback_handler(publish: Publish, task_exists: TaskExists) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handle(request: web.Request) -> web.Response:
        try:
            body = await request.json(loads=json.loads)
        except (ValueError, UnicodeDecodeError):
            return _bad("body must be a JSON object")
        if not isinstance(body, dict):
            return _bad("body must be a JSON object")
        try:
            req = FeedbackRequest.model_validate(body)
        except ValidationError as exc:
            return _bad("invalid feedback", [{"field": ".".join(map(str, e["loc"])), "message": e["msg"]}
                                             for e in exc.errors()])
        if not await task_exists(req.task_id):
            return web.json_response({"error": f"unknown task {req.task_id!r}"}, status=404)
        principal = request.get(PRINCIPAL)  # set by the auth middleware: the voter is who authenticated
        user = principal.name if principal is not None else (req.user_id or "anonymous")
        fb = to_feedback(req, user)
        try:
            await publish(fb)
        except Exception:
            log.exception("feedback for task %s could not be published", req.task_id, extra={"task_id": req.task_id})
            return web.json_response({"error": "feedback could not be recorded, retry later"}, status=503)
        return web.json_response({"id": fb.id, "status": "received"}, status=202)

    return handle


def add_feedback_route(app: web.Application, publish: Publish, task_exists: TaskExists) -> None:
    app.router.add_post("/api/v1/feedback", require("feedback:write")(feedback_handler(publish, task_exists)))
