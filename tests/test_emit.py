"""streams.emit without a broker: what it refuses and what it reports. Its records on a real broker (and
recovery from its changelog rows) are covered by tests/test_pipeline_kafka.py and tests/test_task_api.py."""

from __future__ import annotations

import asyncio
import weakref
from types import SimpleNamespace

import pytest
from faust.serializers import codecs

from aetherius.metrics import REGISTRY
from streams import emit
from streams.emit import Emitter


def failures(topic: str) -> float:
    return REGISTRY.get_sample_value("aetherius_produce_failures_total", {"topic": topic}) or 0.0


def test_a_table_row_outside_an_agent_is_refused_before_anything_changes():
    table = SimpleNamespace(data={})
    with pytest.raises(RuntimeError, match="while an agent processes a record"):
        asyncio.run(Emitter(app=None).put(table, "k", {"v": 1}))  # type: ignore[arg-type]
    assert table.data == {}


def test_a_refused_record_is_counted_and_logged(caplog):
    async def scenario() -> None:
        ok, refused, cancelled = (asyncio.get_running_loop().create_future() for _ in range(3))
        ok.set_result(None)
        refused.set_exception(RuntimeError("NotEnoughReplicas"))
        cancelled.cancel()
        before = failures("t1")
        emit._check_delivery("t1", ok)
        assert failures("t1") == before
        emit._check_delivery("t1", refused)
        emit._check_delivery("t1", cancelled)
        assert failures("t1") == before + 2

    asyncio.run(scenario())
    assert "NotEnoughReplicas" in caplog.text


def test_changelog_rows_are_serialised_as_faust_would():
    """Recovery decodes changelog records with the table's serializers: the same codec must write them."""
    sent: list[tuple] = []

    class Producer:
        async def send(self, topic, key, value, partition, timestamp, headers):
            sent.append((topic, key, value, partition))
            fut = asyncio.get_running_loop().create_future()
            fut.set_result(None)
            return fut

    table = SimpleNamespace(data={"gone": 1}, key_serializer="json", value_serializer="json",
                            changelog_topic=SimpleNamespace(get_topic_name=lambda: "app-t-changelog"))
    class Event:  # Faust keeps a weak reference to the event it is processing
        message = SimpleNamespace(partition=3)

    event = Event()
    em = Emitter(app=SimpleNamespace(producer=Producer()))  # type: ignore[arg-type]

    async def scenario() -> None:
        import faust.streams
        token = faust.streams._current_event.set(weakref.ref(event))  # as Faust sets it for an agent's record
        try:
            await em.put(table, "k", {"n": 1})
            await em.delete(table, "gone")
            await em.delete(table, "never-there")  # absent: no tombstone, like table.pop(key, None)
        finally:
            faust.streams._current_event.reset(token)

    asyncio.run(scenario())
    assert table.data == {"k": {"n": 1}}
    assert sent == [("app-t-changelog", codecs.dumps("json", "k"), codecs.dumps("json", {"n": 1}), 3),
                    ("app-t-changelog", codecs.dumps("json", "gone"), None, 3)]
