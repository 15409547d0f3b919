"""The common base of every record on a topic."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import ClassVar

from pydantic import BaseModel, ConfigDict


def utcnow() -> datetime:
    """Timezone-aware now; naive datetimes never enter a record."""
    return datetime.now(timezone.utc)


class Record(BaseModel):
    """A topic record: versioned, strict about unknown fields, JSON on the wire.

    `schema_version` lets a consumer refuse a record written by a newer producer instead of
    misreading it; bump `SCHEMA_VERSION` on any incompatible change.
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    SCHEMA_VERSION: ClassVar[int] = 1
    schema_version: int = 1

    def to_bytes(self) -> bytes:
        return self.model_dump_json(by_alias=True).encode()

    @classmethod
    def from_bytes(cls, raw: bytes | str):  # noqa: ANN206 - returns cls
        return cls.model_validate_json(raw)
