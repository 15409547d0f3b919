"""Small real-Kafka helpers for tests: produce records, read a whole topic."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaProducer


async def produce(bootstrap: str, topic: str, records: list[tuple[bytes | None, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        futures = [await producer.send(topic, key=k, value=v) for k, v in records]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def read_all(bootstrap: str, topic: str) -> list[tuple[bytes | None, bytes]]:
    """Every record currently on the topic (up to the end offsets at call time)."""
    from streams.record_replay import consume

    return [(r.key, r.value) async for r in consume(bootstrap, topic, snapshot=True)]


def run(coro):
    return asyncio.run(coro)
