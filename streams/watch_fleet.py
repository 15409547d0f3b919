"""The set of clusters one `aetherius watch` process watches, kept in line with the cluster registry file.

Which clusters, and with which credentials (`desired_targets`, pure):
- `--cluster ID --kubeconfig F [--context C]` on the command line: that kubeconfig.
- `settings.clusters[ID]` with a kubeconfig (or neither kubeconfig nor dump: the pod's service account).
  A dump directory cannot be watched; it is skipped with a note.
- every *enabled* cluster of the registry file (`settings.clusters_file`) not given a kubeconfig above: its
  endpoint/CA/token from Vault at its `vault_path` (needs `settings.vault`). `enabled: false` stops a cluster
  whatever its source.
- any `--cluster` on the command line restricts the set to the named clusters. A bare `--cluster ID` that is
  nowhere else and with no registry configured keeps the old meaning: the default kubeconfig / service account.

`WatchFleet.apply(targets)` starts a watcher per new cluster, stops removed ones, and restarts one whose
credential source changed (carrying its published-event memory over, so the re-list publishes nothing twice).
A change elsewhere in a registry entry (limits, monitoring) touches no watcher. Each watcher handles its own
failures (streams/watcher.py), so one cluster without credentials or API never holds up another.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from prometheus_client import Gauge

from aetherius.metrics import REGISTRY
from schemas.clusters import ClusterConfig
from schemas.watch_settings import WatchSettings
from streams.watcher import ApiClientSource, EventWatcher, Publish, forget_cluster_gauges

log = logging.getLogger(__name__)

WATCHED = Gauge("aetherius_watch_clusters", "Clusters this process runs a watcher for", registry=REGISTRY)


@dataclass(frozen=True)
class WatchTarget:
    """One cluster to watch and where its credentials come from: a kubeconfig, or Vault (`vault` set)."""

    cluster_id: str
    kubeconfig: Path | None = None
    context: str | None = None
    vault: ClusterConfig | None = field(default=None, compare=False)
    origin: str = "settings"  # cli | settings | registry: for log lines

    @property
    def source_key(self) -> tuple[Any, ...]:
        """What decides the credentials: a change here restarts the watcher; anything else does not."""
        if self.vault is not None:
            return ("vault", self.vault.vault_path, self.vault.credentials.model_dump_json())
        return ("kubeconfig", str(self.kubeconfig) if self.kubeconfig else None, self.context)

    def describe(self) -> str:
        if self.vault is not None:
            return f"vault:{self.vault.vault_path}"
        return f"kubeconfig:{self.kubeconfig or 'default'}" + (f"@{self.context}" if self.context else "")


@dataclass(frozen=True)
class CliCluster:
    """One `--cluster` from the command line (kubeconfig/context only when given after it)."""

    id: str
    kubeconfig: Path | None = None
    context: str | None = None

    @property
    def explicit(self) -> bool:
        return self.kubeconfig is not None or self.context is not None


def desired_targets(cli: Iterable[CliCluster], sources: Mapping[str, Any],
                    registry: Mapping[str, ClusterConfig] | None,
                    vault_configured: bool) -> tuple[dict[str, WatchTarget], list[str]]:
    """Pure: the clusters to watch now, and notes on clusters left out (each names the cluster and why).

    `sources` is `settings.clusters` (objects with .dump/.kubeconfig/.context); `registry` is the registry in
    force (None when no file is configured).
    """
    cli = list(cli)
    targets: dict[str, WatchTarget] = {}
    notes: list[str] = []
    disabled = {cid for cid, c in (registry or {}).items() if not c.enabled}
    for cid, src in sources.items():
        if src.dump is None:
            targets[cid] = WatchTarget(cid, src.kubeconfig, src.context, origin="settings")
        elif cid not in (registry or {}):
            notes.append(f"cluster {cid}: read from a dump directory, which cannot be watched")
    for cid, config in (registry or {}).items():
        if not config.enabled or cid in targets:
            continue
        if vault_configured:
            targets[cid] = WatchTarget(cid, vault=config, origin="registry")
        else:
            notes.append(f"cluster {cid}: in the registry but no vault settings to get its credentials from")
    for spec in cli:
        if spec.explicit:
            targets[spec.id] = WatchTarget(spec.id, spec.kubeconfig, spec.context, origin="cli")
        elif spec.id not in targets and registry is None and spec.id not in sources:
            targets[spec.id] = WatchTarget(spec.id, origin="cli")  # default kubeconfig / service account
    for cid in sorted(disabled & targets.keys()):
        del targets[cid]
        notes.append(f"cluster {cid}: disabled in the registry")
    if cli:
        named = {s.id for s in cli}
        for cid in sorted(named - targets.keys() - disabled - (registry or {}).keys() - sources.keys()):
            notes.append(f"cluster {cid}: named with --cluster but in neither the registry nor settings.clusters")
        targets = {cid: t for cid, t in targets.items() if cid in named}
    return targets, notes


@dataclass(frozen=True)
class FleetPlan:
    start: tuple[str, ...] = ()
    stop: tuple[str, ...] = ()
    restart: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.start or self.stop or self.restart)


def plan_changes(running: Mapping[str, WatchTarget], desired: Mapping[str, WatchTarget]) -> FleetPlan:
    """Pure: what to do to go from the running watchers to the desired ones."""
    return FleetPlan(start=tuple(sorted(desired.keys() - running.keys())),
                     stop=tuple(sorted(running.keys() - desired.keys())),
                     restart=tuple(sorted(c for c in running.keys() & desired.keys()
                                          if running[c].source_key != desired[c].source_key)))


@dataclass
class _Running:
    target: WatchTarget
    source: ApiClientSource
    watcher: EventWatcher
    task: asyncio.Task[None]


MakeSource = Callable[[WatchTarget], ApiClientSource]


class WatchFleet:
    """The running watchers, one asyncio task each. `apply()` is serialised; `stop_all()` at shutdown."""

    def __init__(self, publish: Publish, reasons: Iterable[str], settings: WatchSettings,
                 make_source: MakeSource) -> None:
        self.publish = publish
        self.reasons = list(reasons)
        self.settings = settings
        self.make_source = make_source
        self.running: dict[str, _Running] = {}
        self._lock = asyncio.Lock()

    def watcher(self, cluster_id: str) -> EventWatcher | None:
        entry = self.running.get(cluster_id)
        return entry.watcher if entry else None

    async def apply(self, desired: Mapping[str, WatchTarget]) -> FleetPlan:
        async with self._lock:
            plan = plan_changes({c: r.target for c, r in self.running.items()}, desired)
            for cid in plan.stop:
                await self._stop(cid)
                log.info("stopped watching", extra={"cluster_id": cid})
            for cid in plan.restart:
                seen = (await self._stop(cid)).seen
                self._start(desired[cid], seen)
                log.info("credential source changed to %s: watcher restarted", desired[cid].describe(),
                         extra={"cluster_id": cid})
            for cid in plan.start:
                self._start(desired[cid])
                log.info("watching (%s, from %s)", desired[cid].describe(), desired[cid].origin,
                         extra={"cluster_id": cid})
            for cid, target in desired.items():  # keep the newest registry entry (same source) for the record
                if cid in self.running:
                    self.running[cid].target = target
            WATCHED.set(len(self.running))
            return plan

    def _start(self, target: WatchTarget, seen: Any = None) -> None:
        source = self.make_source(target)
        watcher = EventWatcher(source, target.cluster_id, self.publish, self.reasons, self.settings)
        if seen is not None:
            watcher.seen = seen
        task = asyncio.create_task(watcher.run(), name=f"watch:{target.cluster_id}")
        self.running[target.cluster_id] = _Running(target, source, watcher, task)

    async def _stop(self, cluster_id: str) -> EventWatcher:
        entry = self.running.pop(cluster_id)
        entry.task.cancel()
        await asyncio.gather(entry.task, return_exceptions=True)
        try:
            await entry.source.close()
        except Exception as exc:  # noqa: BLE001 - closing must not stop the others from closing
            log.warning("closing the client failed: %s", type(exc).__name__, extra={"cluster_id": cluster_id})
        forget_cluster_gauges(cluster_id)
        return entry.watcher

    async def stop_all(self) -> None:
        await self.apply({})
