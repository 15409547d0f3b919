"""How long a person is suspended after a security event in a diagnosis they asked for (SRS §5.8.5 response 1,
"temporarily disable the related user permission"). Wired as `Settings.security.suspensions`."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class SuspensionSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # 0 turns the automatic suspension off (suspensions already on the topic still run out, or are lifted).
    # Capped at 7 days: longer than that is a decision for a person (remove the key), not an automatism.
    seconds: int = Field(default=900, ge=0, le=7 * 24 * 3600)
    # How long `aetherius trigger` reads the suspension list before it gives up and goes on (fail open).
    cli_read_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
