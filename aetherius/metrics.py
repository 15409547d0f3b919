"""The one Prometheus registry. Define a metric next to the code that moves it, on `REGISTRY`:

    from aetherius.metrics import REGISTRY
    ALERTS = Counter("aetherius_alerts_received_total", "...", registry=REGISTRY)
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

REGISTRY = CollectorRegistry(auto_describe=True)


def exposition() -> tuple[bytes, str]:
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
