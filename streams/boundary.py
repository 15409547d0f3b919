"""The per-record error contract every Faust agent runs its records through.

    the record is processed                                   -> acknowledged
    the broker is unavailable (a Kafka error, not the record) -> the same record is tried again, with
                                                                 backoff, until the broker takes it: the
                                                                 partition waits, nothing is skipped
    anything else (invalid, too large, a bug)                 -> `on_failure` (e.g. the step loop ends the
                                                                 record's task with a report), the record
                                                                 to the dead-letter topic with its reason,
                                                                 and its neighbours go on

An exception escaping a Faust agent acks the record and can crash-loop the worker (stack notes), so nothing
escapes but cancellation. A handler may run again for the same record (a retry here, or a redelivery after a
crash): handlers are idempotent by record id.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable

import faust
from aiokafka.errors import KafkaError, MessageSizeTooLargeError
from prometheus_client import Counter
from pydantic import ValidationError

from aetherius.metrics import REGISTRY
from streams.deadletter import dead_letter
from streams.emit import RecordTooLarge

log = logging.getLogger(__name__)

BROKER_RETRIES = Counter("aetherius_record_retries_total", "Records tried again because the broker was unavailable",
                         ["stage"], registry=REGISTRY)

Handler = Callable[[faust.EventT], Awaitable[None]]
OnFailure = Callable[[faust.EventT, str], Awaitable[None]]
RETRY_MAX_SECONDS = 10.0


def reason_for(exc: BaseException) -> str:
    """What a dead letter says about the failure: the fields for invalid input, the size for a big record."""
    if isinstance(exc, ValidationError):
        parts = [f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}" for e in exc.errors()[:5]]
        return "invalid record: " + "; ".join(parts)
    if isinstance(exc, (RecordTooLarge, MessageSizeTooLargeError)):
        return f"record too large: {exc}"
    return f"{type(exc).__name__}: {exc}"


def transient(exc: BaseException) -> bool:
    """The broker's problem, not the record's: worth trying the same record again."""
    return isinstance(exc, KafkaError) and not isinstance(exc, MessageSizeTooLargeError)


async def handle(stage: str, deadletters: faust.TopicT, handler: Handler, event: faust.EventT,
                 on_failure: OnFailure | None = None,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
    """One record through the contract (see the module docstring)."""
    attempt = 0
    while True:
        try:
            await handler(event)
            return
        except Exception as exc:  # noqa: BLE001 - the boundary: classify, never let it escape
            if transient(exc):
                attempt += 1
                BROKER_RETRIES.labels(stage=stage).inc()
                log.warning("%s: the broker is unavailable (%s); trying the record again", stage, type(exc).__name__,
                            extra={"stage": stage})
                await sleep(min(RETRY_MAX_SECONDS, 0.5 * 2 ** min(attempt, 5)))
                continue
            reason = reason_for(exc)
            if not isinstance(exc, (ValidationError, RecordTooLarge, MessageSizeTooLargeError)):
                log.exception("agent %s failed on a record", stage, extra={"stage": stage})
            break
    if on_failure is not None:
        try:
            await on_failure(event, reason)
        except Exception:  # noqa: BLE001 - the dead letter below must still go out
            log.exception("%s: could not end the failed record's work", stage, extra={"stage": stage})
    await _until_sent(stage, lambda: dead_letter(deadletters, event, reason, stage), sleep)


async def _until_sent(stage: str, send: Callable[[], Awaitable[None]],
                      sleep: Callable[[float], Awaitable[None]]) -> None:
    attempt = 0
    while True:
        try:
            await send()
            return
        except Exception as exc:  # noqa: BLE001
            if not transient(exc):
                log.exception("%s: could not write a dead letter", stage, extra={"stage": stage})
                return
            attempt += 1
            await sleep(min(RETRY_MAX_SECONDS, 0.5 * 2 ** min(attempt, 5)))


def error_boundary(stage: str, deadletters: faust.TopicT, handler: Handler,
                   on_failure: OnFailure | None = None) -> Callable[[faust.StreamT], Awaitable[None]]:
    """A Faust agent body that runs every record of its stream through `handle`."""

    async def agent(stream: faust.StreamT) -> None:
        async for event in stream.events():
            await handle(stage, deadletters, handler, event, on_failure)

    agent.__name__ = f"{stage}_agent"
    agent.__qualname__ = agent.__name__
    return agent
