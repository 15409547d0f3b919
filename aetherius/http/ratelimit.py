"""Per-principal rate limiting: a pure token bucket, a bounded set of buckets, and an aiohttp middleware.

The middleware sits after authentication (it keys on `request[PRINCIPAL]`), so an API key cannot spend
another key's budget, and answers 429 with `Retry-After` (whole seconds, rounded up).
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable

from aiohttp import web

from aetherius.http.rbac import PRINCIPAL, WEBHOOK_BASIC, WEBHOOK_BEARER, WEBHOOK_PRINCIPAL
from schemas.security_settings import RateLimitSettings, SecuritySettings
from schemas.settings import WebhookSettings



@dataclass(frozen=True)
class Bucket:
    tokens: float
    updated: float


def take(bucket: Bucket, now: float, rate: float, burst: int, cost: float = 1.0) -> tuple[Bucket, bool, float]:
    """Refill for the time elapsed, then try to spend `cost`. Returns (new bucket, allowed, retry_after_seconds)."""
    elapsed = max(0.0, now - bucket.updated)  # a clock stepping back never mints tokens
    tokens = min(float(burst), bucket.tokens + elapsed * rate)
    if tokens >= cost:
        return Bucket(tokens - cost, now), True, 0.0
    return Bucket(tokens, now), False, (cost - tokens) / rate


class RateLimiter:
    """Buckets keyed by principal, with per-key overrides; the least recently used bucket is evicted past
    `max_tracked_keys` so a flood of distinct principals cannot grow memory without bound."""

    def __init__(self, settings: RateLimitSettings, overrides: dict[str, tuple[float, int]] | None = None,
                 clock: Callable[[], float] = time.monotonic, exempt: frozenset[str] = frozenset()) -> None:
        self._settings = settings
        self._overrides = overrides or {}
        self._exempt = exempt
        self._clock = clock
        self._buckets: OrderedDict[str, Bucket] = OrderedDict()

    @classmethod
    def from_security(cls, security: SecuritySettings, clock: Callable[[], float] = time.monotonic,
                      webhook: WebhookSettings | None = None) -> "RateLimiter":
        overrides = {
            f"api_key:{k.name}": (k.rate_per_second or security.rate_limit.rate_per_second,
                                  k.burst or security.rate_limit.burst)
            for k in security.api_keys if k.rate_per_second or k.burst
        }
        # Alertmanager (the webhook credential) has its own setting, unlimited unless set: see WebhookSettings.
        senders = (f"{method}:{WEBHOOK_PRINCIPAL}" for method in (WEBHOOK_BEARER, WEBHOOK_BASIC))
        if webhook is not None and webhook.rate_per_second is not None:
            limit = (webhook.rate_per_second, webhook.burst or max(1, int(webhook.rate_per_second * 2)))
            overrides.update({key: limit for key in senders})
            return cls(security.rate_limit, overrides, clock)
        return cls(security.rate_limit, overrides, clock, exempt=frozenset(senders))

    def check(self, key: str) -> tuple[bool, float]:
        if key in self._exempt:
            return True, 0.0
        rate, burst = self._overrides.get(key, (self._settings.rate_per_second, self._settings.burst))
        now = self._clock()
        bucket = self._buckets.pop(key, None) or Bucket(float(burst), now)
        bucket, ok, retry_after = take(bucket, now, rate, burst)
        self._buckets[key] = bucket
        while len(self._buckets) > self._settings.max_tracked_keys:
            self._buckets.popitem(last=False)
        return ok, retry_after


def ratelimit_middleware(limiter: RateLimiter):  # noqa: ANN201 - aiohttp middleware
    @web.middleware
    async def middleware(request: web.Request, handler):  # noqa: ANN001, ANN202
        principal = request.get(PRINCIPAL)
        if principal is None:  # public route: nothing to key on (probes and scrapes are not limited)
            return await handler(request)
        ok, retry_after = limiter.check(f"{principal.method}:{principal.name}")
        if not ok:
            return web.json_response(
                {"error": "rate_limited", "reason": f"rate limit exceeded for {principal.name}",
                 "retry_after_seconds": math.ceil(retry_after)},
                status=429, headers={"Retry-After": str(max(1, math.ceil(retry_after)))})
        return await handler(request)

    return middleware
