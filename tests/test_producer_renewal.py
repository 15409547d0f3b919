"""The shared producer recovers when the broker loses its idempotent sequence (found by the chaos soak: after a
broker restart the bridge answered 503 "OutOfOrderSequenceNumber" to every alert, 36,000 times a minute, until it
was restarted by hand). aiokafka's producer is replaced by a stand-in that fails like that once."""

from __future__ import annotations

import asyncio

from aiokafka.errors import OutOfOrderSequenceNumber

import streams.producer as producer_module
from streams.producer import OutRecord, ProduceError, Producer


class FakeAIOKafkaProducer:
    made: list["FakeAIOKafkaProducer"] = []

    def __init__(self, **kwargs) -> None:
        self.broken = not FakeAIOKafkaProducer.made  # the first one has lost its sequence
        self.stopped = False
        FakeAIOKafkaProducer.made.append(self)

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        self.stopped = True

    async def send(self, topic, value=None, key=None, headers=None, timestamp_ms=None, partition=None):
        fut = asyncio.get_running_loop().create_future()
        if self.broken:
            fut.set_exception(OutOfOrderSequenceNumber())
        else:
            fut.set_result(("ok", topic))
        return fut


def test_a_producer_whose_sequence_the_broker_lost_is_replaced(monkeypatch) -> None:
    FakeAIOKafkaProducer.made = []
    monkeypatch.setattr(producer_module, "AIOKafkaProducer", FakeAIOKafkaProducer)

    async def scenario() -> None:
        p = Producer("127.0.0.1:1")
        await p.start()
        record = OutRecord(topic="t", key=b"k", value=b"v")
        try:
            await asyncio.gather(*(p.send_all_and_wait([record]) for _ in range(3)))  # three requests see it
            raise AssertionError("the first sends should fail")
        except ProduceError as exc:
            assert "OutOfOrderSequenceNumber" in str(exc)
        assert await p.send_all_and_wait([record]) == [("ok", "t")]  # the sender's retry goes through
        assert p.renewals == 1 and len(FakeAIOKafkaProducer.made) == 2 and FakeAIOKafkaProducer.made[0].stopped

    asyncio.run(scenario())
