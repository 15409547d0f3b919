"""Send what an agent could not process to the dead-letter topic, with the reason: never drop it."""

from __future__ import annotations

import logging

import faust
from prometheus_client import Counter

from aetherius.metrics import REGISTRY
from schemas.deadletter import DeadLetter

log = logging.getLogger(__name__)

DEAD_LETTERS = Counter("aetherius_dead_letters_total", "Records sent to the dead-letter topic",
                       ["stage"], registry=REGISTRY)


async def dead_letter(topic: faust.TopicT, event: faust.EventT, error: BaseException | str, stage: str) -> None:
    message = event.message
    text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    record = DeadLetter.of(topic=message.topic, key=event.key, value=event.value, error=text, stage=stage,
                           partition=message.partition, offset=message.offset)
    DEAD_LETTERS.labels(stage=stage).inc()
    log.warning("dead letter: %s", text[:500], extra={"stage": stage, "topic": message.topic})
    await topic.send(key=event.key, value=record.to_bytes())
