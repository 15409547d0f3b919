"""`aetherius watch`: publish the Warning events of one or more clusters to the k8s-events topic.

    aetherius watch --cluster prod-eu --kubeconfig ~/.kube/prod-eu --context admin \\
                    --cluster prod-us --kubeconfig ~/.kube/prod-us

`--kubeconfig`/`--context` belong to the `--cluster` before them. Without `--kubeconfig` a cluster uses the
pod's service account when running in Kubernetes, else `$KUBECONFIG` / ~/.kube/config. Each cluster runs in
its own task with its own credentials; one that cannot be reached retries with backoff and affects no other.
The topic must exist (start-up topic creation is the worker's job).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import signal
from pathlib import Path
from typing import Any, Awaitable, Callable

from pydantic import BaseModel, ValidationError, field_validator

log = logging.getLogger(__name__)

_CLUSTER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")


class ClusterSpec(BaseModel):
    id: str
    kubeconfig: Path | None = None
    context: str | None = None

    @field_validator("id")
    @classmethod
    def _valid_id(cls, v: str) -> str:
        if not _CLUSTER_ID.match(v):
            raise ValueError(f"cluster id {v!r} must be 1-63 letters, digits, '.', '_' or '-'")
        return v


class _NewCluster(argparse.Action):
    def __call__(self, parser: argparse.ArgumentParser, ns: argparse.Namespace, value: Any,
                 option: str | None = None) -> None:
        clusters = list(getattr(ns, self.dest, None) or [])
        clusters.append({"id": value})
        setattr(ns, self.dest, clusters)


class _ForLastCluster(argparse.Action):
    def __call__(self, parser: argparse.ArgumentParser, ns: argparse.Namespace, value: Any,
                 option: str | None = None) -> None:
        clusters = getattr(ns, "clusters", None) or []
        if not clusters:
            parser.error(f"{option} must follow the --cluster it belongs to")
        if self.dest in clusters[-1]:
            parser.error(f"{option} given twice for cluster {clusters[-1]['id']}")
        clusters[-1][self.dest] = value


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("watch", help="publish Kubernetes Warning events of one or more clusters to Kafka")
    p.add_argument("--cluster", action=_NewCluster, dest="clusters", metavar="ID", required=True,
                   help="cluster id used in records and keys; repeat for more clusters")
    p.add_argument("--kubeconfig", action=_ForLastCluster, metavar="FILE", help="kubeconfig of the preceding --cluster")
    p.add_argument("--context", action=_ForLastCluster, metavar="NAME", help="kubeconfig context of the preceding --cluster")
    p.set_defaults(func=run)


def cluster_specs(raw: list[dict[str, Any]]) -> list[ClusterSpec]:
    """Validated cluster list; CliError names a bad id, a duplicate or a kubeconfig that is not there."""
    from aetherius.cli import CliError

    specs: list[ClusterSpec] = []
    for item in raw:
        try:
            spec = ClusterSpec.model_validate(item)
        except ValidationError as exc:
            raise CliError(exc.errors()[0]["msg"].removeprefix("Value error, ")) from exc
        if any(s.id == spec.id for s in specs):
            raise CliError(f"cluster {spec.id} is given twice")
        if spec.kubeconfig is not None and not spec.kubeconfig.expanduser().is_file():
            raise CliError(f"cluster {spec.id}: kubeconfig {spec.kubeconfig} does not exist")
        specs.append(spec)
    return specs


def make_producer(bootstrap: str):
    """The producer every watcher publishes through: acknowledged by all replicas, idempotent."""
    from aiokafka import AIOKafkaProducer

    return AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True,
                            client_id="aetherius-watch")


def kafka_publisher(producer: Any, topic: str) -> Callable[[str, bytes], Awaitable[None]]:
    """`publish(key, value)` that returns only once the broker has the record (the watcher's resume point waits)."""
    async def publish(key: str, value: bytes) -> None:
        await producer.send_and_wait(topic, value, key=key.encode())
    return publish


def run(args: argparse.Namespace) -> int:
    from aetherius.logging import setup_logging
    from schemas.settings import load_settings

    specs = cluster_specs(args.clusters)
    settings = load_settings()
    setup_logging(settings.log_level)
    return asyncio.run(_serve(specs, settings))


async def _serve(specs: list[ClusterSpec], settings: Any) -> int:
    from aetherius.cli import CliError
    from agents.cluster.live import api_client_from_config
    from agents.cluster.reader import ReaderError
    from schemas.topics import topic_name
    from schemas.watch_settings import WatchSettings
    from streams.watcher import EventWatcher, watch_clusters

    watch_settings = getattr(settings, "watch", None) or WatchSettings()
    clients = []
    try:
        for spec in specs:
            try:
                clients.append(await api_client_from_config(spec.kubeconfig, spec.context))
            except ReaderError as exc:
                raise CliError(f"cluster {spec.id}: {exc}") from exc
        producer = make_producer(settings.kafka.bootstrap)
        try:
            await producer.start()
        except Exception as exc:
            await producer.stop()
            raise CliError(f"cannot reach Kafka at {settings.kafka.bootstrap}: {exc}") from exc
        topic = topic_name(settings.kafka.topic_prefix, "k8s.events")
        publish = kafka_publisher(producer, topic)
        watchers = [EventWatcher(c, s.id, publish, settings.pipeline.watch_reasons, watch_settings)
                    for c, s in zip(clients, specs)]
        main = asyncio.current_task()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, main.cancel)
        log.info("watching %s into %s", ", ".join(s.id for s in specs), topic)
        try:
            await watch_clusters(watchers)
        except asyncio.CancelledError:
            log.info("stopping")
        finally:
            await producer.stop()
        return 0
    finally:
        for c in clients:
            await c.close()
