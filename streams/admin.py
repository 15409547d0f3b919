"""Create the catalogue's topics at start-up when missing, and refuse to run on mismatched partitions.

Faust only creates its own changelog topics; source topics that do not exist when a worker
subscribes are silently ignored ("Ignoring missing topic"), so every role calls this first.
"""

from __future__ import annotations

import logging

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from schemas.settings import KafkaSettings
from schemas.topics import CATALOGUE, topic_name

log = logging.getLogger(__name__)


def planned_topics(kafka: KafkaSettings) -> list[NewTopic]:
    return [
        NewTopic(
            name=topic_name(kafka.topic_prefix, spec.name),
            num_partitions=spec.partitions or kafka.partitions,
            replication_factor=kafka.replication_factor,
            topic_configs={"cleanup.policy": spec.cleanup_policy, "retention.ms": str(spec.retention_ms)},
        )
        for spec in CATALOGUE
    ]


async def ensure_topics(kafka: KafkaSettings) -> list[str]:
    """Create what is missing; returns the names created. Existing topics with another partition
    count are an error: keyed state (tables) would silently land on the wrong partitions."""
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap)
    await admin.start()
    try:
        planned = planned_topics(kafka)
        existing = set(await admin.list_topics())
        missing = [t for t in planned if t.name not in existing]
        if missing:
            try:
                await admin.create_topics(missing)
            except TopicAlreadyExistsError:  # another role created them at the same moment
                pass
            log.info("created topics", extra={"stage": "admin"})
        present = [t for t in planned if t.name in existing]
        if present:
            described = await admin.describe_topics([t.name for t in present])
            counts = {d["topic"]: len(d["partitions"]) for d in described}
            wrong = [f"{t.name} has {counts.get(t.name)} partitions, expected {t.num_partitions}"
                     for t in present if counts.get(t.name) not in (None, t.num_partitions)]
            if wrong:
                raise RuntimeError("topic layout mismatch: " + "; ".join(wrong))
        return [t.name for t in missing]
    finally:
        await admin.close()
