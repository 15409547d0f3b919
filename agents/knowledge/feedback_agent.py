"""Faust wiring for the feedback topic: raw bytes in, `UserFeedback` validated, applied to the KB.

The lead's composition root supplies how to find a task's report and the knowledge it used
(`lookup(task_id) -> (DiagnosticResult, used_entry_ids) | None`); the KB and applier are owned by the
same worker (embedded store: one owner). Bad records and failures go to the dead-letter topic.
"""

from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable

from agents.knowledge.feedback import FeedbackApplier
from schemas.deadletter import DeadLetter
from schemas.feedback import UserFeedback
from schemas.result import DiagnosticResult
from schemas.topics import topic_name

log = logging.getLogger(__name__)

Lookup = Callable[[str], Awaitable[tuple[DiagnosticResult, list[str]] | None]]


def register(app: Any, settings: Any, *, applier: FeedbackApplier, lookup: Lookup) -> None:
    prefix = settings.kafka.topic_prefix
    source = topic_name(prefix, "feedback")
    channel = app.topic(source, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")
    dead = app.topic(topic_name(prefix, "deadletter"), key_type=bytes, value_type=bytes,
                     key_serializer="raw", value_serializer="raw")

    async def to_dead(key: bytes | None, value: bytes | None, error: str, stage: str) -> None:
        try:
            await dead.send(key=source.encode(), value=DeadLetter.of(topic=source, key=key, value=value, error=error,
                                                                      stage=stage).to_bytes())
        except Exception:
            log.exception("could not dead-letter a feedback record")

    async def apply_feedback(stream: Any) -> None:
        async for event in stream.events():
            key, value = event.key, event.value
            try:
                fb = UserFeedback.from_bytes(value)
            except ValueError as exc:
                await to_dead(key, value, str(exc), "feedback:validate")
                continue
            try:
                found = await lookup(fb.task_id)
                if found is None:
                    await to_dead(key, value, f"no report for task {fb.task_id}", "feedback:lookup")
                    continue
                result, used = found
                outcome = await applier.apply(fb, result, used)
                log.info("feedback %s applied: %s", fb.id, [d.kind for d in outcome.decisions],
                         extra={"task_id": fb.task_id})
            except Exception as exc:  # never let it escape the agent: the record would be skipped silently
                log.exception("feedback %s failed", fb.id, extra={"task_id": fb.task_id})
                await to_dead(key, value, repr(exc), "feedback:apply")

    app.agent(channel, name="aetherius.knowledge.feedback")(apply_feedback)
