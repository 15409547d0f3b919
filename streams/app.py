"""The Faust application: one factory, used by the worker role, the demo and the tests.

Every topic is consumed as raw bytes and validated with pydantic inside the agent: a record that
does not parse becomes a dead letter instead of crashing the agent (faust's own decoder raises
inside the stream and kills the agent on every redelivery: a poison pill).
"""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Awaitable, Callable

import faust

from schemas.audit import AuditEvent
from schemas.settings import Settings
from schemas.signal import Priority
from schemas.topics import CATALOGUE, task_topic, topic_name
from streams.consumer import strict_transport


class AetheriusApp(faust.App):
    """Faust's App with our consumer (streams.consumer: commits only past records an agent processed)."""

    logger = logging.getLogger("faust.aetherius_app")  # Faust's service messages, at Faust's log level

    def _new_transport(self) -> Any:
        return strict_transport(self)


@dataclass
class Topics:
    """Faust topic objects by catalogue name."""

    by_name: dict[str, faust.TopicT]

    def __getitem__(self, name: str) -> faust.TopicT:
        return self.by_name[name]

    def task(self, priority: Priority) -> faust.TopicT:
        return self.by_name[task_topic(priority)]

    def audit_sink(self) -> Callable[[AuditEvent], Awaitable[None]]:
        """An async callable that puts an AuditEvent on the audit topic (what every audit_sink= wants)."""
        topic = self.by_name["audit"]

        async def publish(event: AuditEvent) -> None:
            await topic.send(key=event.id.encode(), value=event.to_bytes())

        return publish


def advertised_host(bind_host: str) -> str:
    """The host other workers reach us at: the bind host, unless that is a wildcard (then this host's name)."""
    return socket.gethostname() if bind_host in ("", "0.0.0.0", "::") else bind_host


def worker_url(settings: Settings) -> str:
    scheme = "https" if settings.security.tls.enabled else "http"
    host = advertised_host(settings.worker.host)
    return f"{scheme}://[{host}]:{settings.worker.port}" if ":" in host else f"{scheme}://{host}:{settings.worker.port}"


def create_app(settings: Settings, *, web: bool = True, **overrides: Any) -> tuple[faust.App, Topics]:
    """The Faust app and its topics. `web` is kept for callers; Faust's own web server is always off and the
    worker's HTTP is attached by streams.worker (the canonical URL is set either way: harmless without a server)."""
    data_dir = Path(settings.worker.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    conf: dict[str, Any] = dict(
        broker=f"kafka://{settings.kafka.bootstrap}",
        store="memory://",  # state is rebuilt from the changelog topics on start: no local disk to lose
        datadir=str(data_dir),
        topic_partitions=settings.kafka.partitions,
        topic_replication_factor=settings.kafka.replication_factor,
        key_serializer="raw",
        value_serializer="raw",
        producer_acks=-1,
        consumer_auto_offset_reset="earliest",
        broker_commit_every=100,
        broker_commit_interval=1.0,
        # Faust's own web server never runs: the worker serves its HTTP from our aiohttp app (streams.task_api,
        # secured by aetherius.http). web_host/web_port/canonical_url still describe that server, because the
        # partition assignor tells the other workers this URL (app.router.key_store / table_metadata).
        web_enabled=False,
        web_host=advertised_host(settings.worker.host),
        web_port=settings.worker.port,
        canonical_url=worker_url(settings),
        web_tables_enabled=False,
        web_stats_enabled=False,
        web_in_thread=False,
        logging_config=None,
        table_standby_replicas=0,
        producer_linger=settings.worker.producer_linger_ms / 1000,
        broker_session_timeout=settings.worker.session_timeout_seconds,
        broker_heartbeat_interval=min(settings.worker.heartbeat_interval_seconds,
                                      settings.worker.session_timeout_seconds / 3),
        broker_rebalance_timeout=settings.worker.rebalance_timeout_seconds,
        consumer_group_instance_id=settings.worker.instance_id,
    )
    conf.update(overrides)
    app = AetheriusApp(settings.worker.app_id, **conf)
    topics = Topics({
        spec.name: app.topic(
            topic_name(settings.kafka.topic_prefix, spec.name),
            key_serializer="raw", value_serializer="raw",
            partitions=spec.partitions or settings.kafka.partitions,
        )
        for spec in CATALOGUE
    })
    return app, topics
