"""`aetherius watch`: publish the Warning events of many clusters to the k8s-events topic.

    aetherius watch                                   # every enabled cluster of the registry file (+ settings.clusters)
    aetherius watch --cluster prod-eu --cluster prod-us          # only these two, credentials as configured
    aetherius watch --cluster prod-eu --kubeconfig ~/.kube/prod-eu --context admin \\
                    --cluster prod-us --kubeconfig ~/.kube/prod-us

Clusters of the registry file (`clusters_file`, SRS §5.5.3) get their endpoint/CA/token from Vault at their
`vault_path` (`vault` settings), renewed before they expire; the file is hot-reloaded: new or re-enabled
clusters start, removed or disabled ones stop, a bad edit is logged and audited and the last good set keeps
running. `--kubeconfig`/`--context` belong to the `--cluster` before them; a bare `--cluster` only restricts
the set (with no registry and no settings entry it means the default kubeconfig / the pod's service account).
Which source wins when several name a cluster: streams/watch_fleet.py. Each cluster runs in its own task with
its own credentials; one that cannot get credentials or reach its API retries with backoff and affects no
other (log lines with cluster_id; metrics `aetherius_watch_cluster_failing{cluster}` and
`aetherius_watch_credential_failures_total{cluster,why}`, served on `watch.port` when set).
The k8s-events and audit topics must exist (start-up topic creation is the worker's job).
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
    p = sub.add_parser("watch", help="publish Kubernetes Warning events of the registry's clusters (or the named "
                                     "ones) to Kafka")
    p.add_argument("--cluster", action=_NewCluster, dest="clusters", metavar="ID", default=None,
                   help="watch only this cluster (repeat for more); default: every enabled cluster of clusters_file "
                        "and every entry of settings.clusters")
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

    specs = cluster_specs(args.clusters or [])
    settings = load_settings()
    setup_logging(settings.log_level)
    return asyncio.run(_main(specs, settings))


async def _main(specs: list[ClusterSpec], settings: Any) -> int:
    main = asyncio.current_task()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, main.cancel)
    try:
        await serve(specs, settings)
    except asyncio.CancelledError:
        log.info("stopped")
    return 0


async def serve(specs: list[ClusterSpec], settings: Any) -> None:
    """Watch until cancelled. CliError for what makes starting pointless (bad registry file, unknown --cluster,
    nothing to watch, broken kubeconfig, Kafka unreachable); afterwards nothing one cluster does stops it."""
    from aetherius.cli import CliError
    from agents.clusters.registry import ClusterRegistry, RegistryError
    from schemas.topics import topic_name
    from schemas.watch_settings import WatchSettings
    from streams.watch_fleet import CliCluster, WatchFleet, desired_targets
    from streams.watch_sources import KubeconfigSource
    from streams.watcher import CredentialsUnavailable

    watch_settings = getattr(settings, "watch", None) or WatchSettings()
    registry = None
    if settings.clusters_file is not None:
        try:
            registry = ClusterRegistry.load(settings.clusters_file)
        except RegistryError as exc:
            raise CliError(str(exc)) from None
    cli = [CliCluster(s.id, s.kubeconfig, s.context) for s in specs]

    def targets_now() -> tuple[dict[str, Any], list[str]]:
        return desired_targets(cli, settings.clusters, registry.clusters if registry else None,
                               settings.vault is not None)

    targets, notes = targets_now()
    missing = [s.id for s in specs if s.id not in targets]
    if missing:
        why = [n for n in notes if any(n.startswith(f"cluster {cid}:") for cid in missing)]
        raise CliError(f"cannot watch {', '.join(missing)}: " + "; ".join(why or ["not configured"]))
    if not targets and registry is None:
        raise CliError("nothing to watch: give --cluster ID [--kubeconfig FILE], or set clusters_file "
                       "(with vault) or clusters" + (f" ({'; '.join(notes)})" if notes else ""))
    for note in notes:
        log.warning("not watched: %s", note)

    prepared: dict[str, Any] = {}  # kubeconfigs are loaded now: a broken one is a start-up error, as before
    provider = None
    producer = None
    runner = None
    fleet = None
    stop_reload = asyncio.Event()
    reload_task: asyncio.Task[None] | None = None
    try:
        for cid, target in targets.items():
            if target.vault is None:
                source = KubeconfigSource(cid, target.kubeconfig, target.context)
                prepared[cid] = source
                try:
                    await source.client()
                except CredentialsUnavailable as exc:
                    raise CliError(str(exc)) from None
        if settings.vault is not None:
            from agents.credentials.vault import VaultCredentialProvider

            provider = VaultCredentialProvider(settings.vault)
        producer = make_producer(settings.kafka.bootstrap)
        try:
            await producer.start()
        except Exception as exc:
            raise CliError(f"cannot reach Kafka at {settings.kafka.bootstrap}: {exc}") from exc
        topic = topic_name(settings.kafka.topic_prefix, "k8s.events")
        fleet = WatchFleet(kafka_publisher(producer, topic), settings.pipeline.watch_reasons, watch_settings,
                           _source_factory(prepared, provider))
        if watch_settings.port is not None:
            runner = await _serve_health(watch_settings, fleet)
        await fleet.apply(targets)
        log.info("watching %s into %s", ", ".join(sorted(targets)) or "nothing yet", topic)
        if registry is not None:
            audit = _audit_publisher(producer, topic_name(settings.kafka.topic_prefix, "audit"))
            reload_task = asyncio.create_task(_follow_registry(registry, fleet, targets_now, audit,
                                                               watch_settings.registry_poll_seconds, stop_reload))
        await asyncio.Event().wait()  # until cancelled
    finally:
        stop_reload.set()
        if reload_task is not None:
            reload_task.cancel()
            await asyncio.gather(reload_task, return_exceptions=True)
        if fleet is not None:
            await fleet.stop_all()
        for source in prepared.values():  # loaded but never handed to a watcher (a start-up error)
            await source.close()
        if provider is not None:
            await provider.close()
        if runner is not None:
            await runner.cleanup()
        if producer is not None:
            await producer.stop()


def _source_factory(prepared: dict[str, Any], provider: Any) -> Callable[[Any], Any]:
    from streams.watch_sources import KubeconfigSource, VaultSource

    def make(target: Any) -> Any:
        if target.vault is not None:
            return VaultSource(target.vault, provider)
        ready = prepared.pop(target.cluster_id, None)
        if ready is not None and (ready.kubeconfig, ready.context) == (target.kubeconfig, target.context):
            return ready
        return KubeconfigSource(target.cluster_id, target.kubeconfig, target.context)
    return make


async def _follow_registry(registry: Any, fleet: Any, targets_now: Callable[[], tuple[dict[str, Any], list[str]]],
                           audit: Callable[[Any], Awaitable[None]], interval: float, stop: asyncio.Event) -> None:
    """Hot reload: a good new file re-plans the watchers; a bad one is audited and the running set stays."""
    from agents.clusters.registry import change_audit_event

    async def on_change(change: Any, _clusters: Any) -> None:
        targets, notes = targets_now()
        for note in notes:
            log.warning("not watched: %s", note)
        plan = await fleet.apply(targets)
        log.info("cluster registry reloaded: watchers started %s, stopped %s, restarted %s",
                 list(plan.start), list(plan.stop), list(plan.restart))
        await audit(change_audit_event(change, str(registry.path)))

    async def on_error(error: str) -> None:  # the registry has logged it and counted it
        await audit(change_audit_event(None, str(registry.path), error=error))

    await registry.watch(interval, on_change=on_change, on_error=on_error, stop=stop)


def _audit_publisher(producer: Any, topic: str) -> Callable[[Any], Awaitable[None]]:
    publish = kafka_publisher(producer, topic)

    async def audit(event: Any) -> None:
        try:
            await asyncio.wait_for(publish(event.id, event.to_bytes()), timeout=10)
        except Exception as exc:  # noqa: BLE001 - an audit record lost is logged; the watchers go on
            log.error("could not publish the audit event %s (%s): %s", event.action, event.result, type(exc).__name__)
    return audit


async def _serve_health(settings: Any, fleet: Any) -> Any:
    """/health/live, /health/ready (ready once the watchers are running) and /metrics, on watch.host:port."""
    from aiohttp import web

    from aetherius.http.health import add_health_routes

    def detail() -> dict[str, Any]:
        clusters = {}
        for cid, entry in fleet.running.items():
            stats = entry.watcher.stats
            clusters[cid] = {"source": entry.target.describe().split(":")[0], "published": stats.published,
                             "failures": stats.failures, "credential_failures": stats.credential_failures}
        return {"clusters": clusters}

    app = web.Application()
    add_health_routes(app, lambda: True, detail)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, settings.host, settings.port).start()
    return runner
