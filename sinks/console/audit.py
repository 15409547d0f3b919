"""The console's audit events (every request, sign-ins and sign-outs) onto the audit topic, like every role's.

While Kafka is away an event goes to the log instead (with its fields): it is never silently lost, and a broken
audit path never fails the person's request (the auth middleware counts the failure)."""

from __future__ import annotations

import logging

from aiokafka import AIOKafkaProducer

from schemas.audit import AuditEvent
from schemas.topics import topic_name

log = logging.getLogger(__name__)


class KafkaAudit:
    def __init__(self, bootstrap: str, prefix: str) -> None:
        self.bootstrap = bootstrap
        self.topic = topic_name(prefix, "audit")
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all", linger_ms=5,
                                    request_timeout_ms=10_000)
        try:
            await producer.start()
        except Exception as exc:  # noqa: BLE001 - serve anyway; events go to the log until a restart
            log.error("console: audit producer not started (%s): audit events go to the log", type(exc).__name__)
            await producer.stop()
            return
        self._producer = producer

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()

    async def __call__(self, event: AuditEvent) -> None:
        if self._producer is None:
            log.warning("audit event (Kafka unavailable): %s", event.model_dump_json())
            return
        await self._producer.send(self.topic, key=event.id.encode(), value=event.to_bytes())
