"""Read finished reports back from the reports topic (keyed by task id; the latest record of a task wins).

Used by the demo and by `aetherius tasks show` / `aetherius alert`: the reports topic is the one place that holds
every report whole (the history in ClickHouse keeps only its summary columns)."""

from __future__ import annotations

import asyncio
from typing import Any


def read_reports(bootstrap: str, topic_prefix: str, task_ids: set[str] | None = None,
                 timeout: float = 60.0) -> dict[str, Any]:
    """{task_id: DiagnosticResult} for every report on the topic now (only `task_ids` when given); TimeoutError
    when Kafka does not answer within `timeout` seconds."""
    from schemas.result import DiagnosticResult
    from schemas.topics import topic_name
    from streams.record_replay import consume

    topic = topic_name(topic_prefix, "reports")

    async def read() -> dict[str, DiagnosticResult]:
        out: dict[str, DiagnosticResult] = {}
        async for record in consume(bootstrap, topic, snapshot=True):
            if task_ids is not None and (record.key or b"").decode(errors="replace") not in task_ids:
                continue
            result = DiagnosticResult.from_bytes(record.value)
            out[result.task_id] = result
        return out

    return asyncio.run(asyncio.wait_for(read(), timeout))
