"""The sink end to end on the real Kafka broker: Faust agents from `register()` consume raw records from every sink
topic, skip garbage, and land each record once in chdb even when the producer sends everything twice."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timezone

import pytest

from schemas.analytics_settings import AnalyticsSettings
from schemas.settings import Settings
from schemas.topics import topic_name
from sinks.clickhouse import migrations
from sinks.clickhouse.metrics import RECORDS
from sinks.clickhouse.sink import register
from sinks.clickhouse.store import AsyncStore, open_store
from sinks.clickhouse.synthetic import records
from streams.admin import ensure_topics
from streams.app import create_app
from tests.kafkautil import produce

pytestmark = pytest.mark.kafka

KEYS = {"task.state": "id", "reports": "task_id", "costs": "task_id", "feedback": "task_id", "audit": "id"}


def _key(topic: str, model) -> bytes:
    if topic == "steps":
        return model.task_id.encode()
    return str(getattr(model, KEYS[topic])).encode()


def _seen(topic: str) -> tuple[int, int]:
    """(valid, invalid) records the sink has decoded from `topic` so far in this process."""
    return (int(RECORDS.labels(topic=topic, outcome="ok")._value.get()),
            int(RECORDS.labels(topic=topic, outcome="invalid")._value.get()))


def test_register_consumes_every_topic_once(kafka_bootstrap: str, topic_prefix: str, tmp_path) -> None:
    settings = Settings(kafka={"bootstrap": kafka_bootstrap, "topic_prefix": topic_prefix, "partitions": 2},
                        worker={"app_id": topic_prefix, "data_dir": str(tmp_path / "worker")})
    pairs = list(records(25, now=datetime.now(timezone.utc), days=1, seed=21))
    by_topic: dict[str, list[tuple[bytes, bytes]]] = {}
    for topic, model in pairs:
        by_topic.setdefault(topic, []).append((_key(topic, model), model.to_bytes()))
    expected = {"tasks": len(by_topic["task.state"]), "steps": len(by_topic["steps"]),
                "costs": len(by_topic["costs"]), "reports": len(by_topic["reports"])}

    store = open_store("chdb://memory")
    migrations.prepare(store, AnalyticsSettings())
    astore = AsyncStore(store)

    async def final_counts() -> dict[str, int]:
        return {t: int((await astore.query(f"SELECT count() AS n FROM {t} FINAL"))[0]["n"]) for t in expected}

    async def scenario() -> tuple[dict[str, tuple[int, int]], dict[str, int]]:
        await ensure_topics(settings.kafka)
        for topic, recs in by_topic.items():
            name = topic_name(topic_prefix, topic)
            await produce(kafka_bootstrap, name, recs + [(b"junk", b"{not json")] + recs)  # everything twice
        base = {t: _seen(t) for t in by_topic}
        wanted = {t: (2 * len(recs), 1) for t, recs in by_topic.items()}

        def decoded() -> dict[str, tuple[int, int]]:
            return {t: (_seen(t)[0] - base[t][0], _seen(t)[1] - base[t][1]) for t in by_topic}
        app, _topics = create_app(settings, web=False)
        register(app, settings, astore)
        await app.start()
        try:
            # Done when every record was decoded (twice each, plus one invalid per topic) and the rows are in.
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and (decoded() != wanted or await final_counts() != expected):
                await asyncio.sleep(0.3)
            await asyncio.sleep(1.0)  # a late duplicate batch would show up now
            return decoded(), await final_counts()
        finally:
            await app.stop()

    try:
        decoded, counts = asyncio.run(asyncio.wait_for(scenario(), timeout=120))
    finally:
        astore.close()
    assert decoded == {t: (2 * len(recs), 1) for t, recs in by_topic.items()}  # every record, junk counted
    assert counts == expected  # ... and each stored once
