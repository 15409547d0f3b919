"""A record that could not be processed, with why, so nothing is dropped silently."""

from __future__ import annotations

import base64
from datetime import datetime

from pydantic import Field

from schemas.base import Record, utcnow


class DeadLetter(Record):
    source_topic: str
    partition: int = -1
    offset: int = -1
    key_b64: str = ""
    value_b64: str = ""
    error: str
    stage: str
    at: datetime = Field(default_factory=utcnow)

    @classmethod
    def of(cls, *, topic: str, key: bytes | None, value: bytes | None, error: str, stage: str,
           partition: int = -1, offset: int = -1) -> "DeadLetter":
        return cls(
            source_topic=topic, partition=partition, offset=offset,
            key_b64=base64.b64encode(key or b"").decode(), value_b64=base64.b64encode(value or b"").decode(),
            error=error[:2000], stage=stage,
        )
