"""`UserFeedback` (SRS §6.5)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from schemas.base import Record, utcnow


class FeedbackCorrection(BaseModel):
    field: str
    suggested: str = ""
    explanation: str = ""


class UserFeedback(Record):
    id: str  # f"{task_id}:{user_id}": a second vote by the same user replaces the first
    task_id: str
    user_id: str
    rating: int = Field(ge=1, le=5)
    comments: str = ""
    corrections: list[FeedbackCorrection] = Field(default_factory=list)
    helpful: bool = False
    timestamp: datetime = Field(default_factory=utcnow)
    status: Literal["received", "applied", "rejected"] = "received"

    @model_validator(mode="after")
    def _helpful_follows_rating(self) -> "UserFeedback":
        self.helpful = self.rating >= 4
        return self
