"""A record that could not be processed, with why, so nothing is dropped silently.

A dead letter must itself fit on the broker: the failed record's key and value are kept up to
`KEEP_BYTES` each (the record that failed is often the one that was too big), with their full sizes."""

from __future__ import annotations

import base64
from datetime import datetime

from pydantic import Field

from schemas.base import Record, utcnow

KEEP_BYTES = 64 * 1024


class DeadLetter(Record):
    source_topic: str
    partition: int = -1
    offset: int = -1
    key_b64: str = ""
    value_b64: str = ""
    error: str
    stage: str
    at: datetime = Field(default_factory=utcnow)
    key_bytes: int = 0  # sizes of the failed record's key and value, whatever was kept of them
    value_bytes: int = 0
    truncated: bool = False

    @classmethod
    def of(cls, *, topic: str, key: bytes | None, value: bytes | None, error: str, stage: str,
           partition: int = -1, offset: int = -1) -> "DeadLetter":
        key, value = key or b"", value or b""
        return cls(
            source_topic=topic, partition=partition, offset=offset,
            key_b64=base64.b64encode(key[:KEEP_BYTES]).decode(), value_b64=base64.b64encode(value[:KEEP_BYTES]).decode(),
            error=error[:2000], stage=stage, key_bytes=len(key), value_bytes=len(value),
            truncated=len(key) > KEEP_BYTES or len(value) > KEEP_BYTES,
        )
