"""Timestamped HMAC signatures, the scheme Slack uses for its requests and we use for our webhooks: the
timestamp is signed with the body, and a request older than five minutes is refused (replay protection)."""

from __future__ import annotations

import hmac
import time
from typing import Callable

MAX_SKEW_SECONDS = 300


def check_timestamped(timestamp: str | None, signature: str | None, expected: Callable[[str], str], *,
                      missing: str, now: float | None = None) -> str | None:
    """None when `signature` is `expected(timestamp)` and the timestamp is fresh, else why not (pure)."""
    if not timestamp or not signature:
        return missing
    try:
        ts = int(timestamp)
    except ValueError:
        return "timestamp is not an integer"
    if abs((time.time() if now is None else now) - ts) > MAX_SKEW_SECONDS:
        return "timestamp outside the 5-minute window"
    if not hmac.compare_digest(expected(timestamp), signature):
        return "signature mismatch"
    return None
