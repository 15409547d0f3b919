"""Each cluster's read-only reader, from settings: a dump directory, a kubeconfig, or (for clusters in the
registry file, with Vault configured) credentials fetched from Vault on use. Made lazily."""

from __future__ import annotations

from typing import Any, Iterator, Mapping

from agents.cluster.reader import ClusterReader
from schemas.settings import ClusterSource


class Readers(Mapping[str, ClusterReader]):
    """cluster id -> reader. Dump and Vault readers are made on first use; kubeconfig readers by
    `connect_live()` inside the running loop. With a registry, a changed entry gets a new reader."""

    def __init__(self, sources: dict[str, ClusterSource], registry: Any = None, vault: Any = None,
                 tracker: Any = None, notify: Any = None) -> None:
        self.sources = sources
        self.registry = registry  # agents.clusters.registry.ClusterRegistry | None
        self.vault = vault  # agents.credentials.vault.VaultCredentialProvider | None
        self.tracker = tracker  # agents.clusters.availability.AvailabilityTracker | None: 3 tries, then unavailable
        self.notify = notify
        self._made: dict[str, ClusterReader] = {}

    def __getitem__(self, cluster_id: str) -> ClusterReader:
        reader = self.raw(cluster_id)
        if self.tracker is None:
            return reader
        from agents.clusters.guard import GuardedReader

        return GuardedReader(reader, self.tracker, self.notify)

    def raw(self, cluster_id: str) -> ClusterReader:
        """The reader without the availability guard (what a re-probe uses)."""
        self._follow_registry()
        if cluster_id not in self._made:
            source = self.sources.get(cluster_id)
            if source is not None and source.dump is not None:
                from agents.cluster.dump import DumpReader

                self._made[cluster_id] = DumpReader(source.dump, cluster_id=cluster_id)
            elif source is None and self._vault_cluster(cluster_id) is not None:
                from agents.cluster.vault_reader import VaultReader

                self._made[cluster_id] = VaultReader(self._vault_cluster(cluster_id), self.vault)
            elif source is not None:
                raise KeyError(f"cluster {cluster_id}: its kubeconfig reader is made by connect_live() at start-up")
            else:
                raise KeyError(f"cluster {cluster_id} has no reader: not in settings.clusters, and not in the "
                               "registry with Vault configured")
        return self._made[cluster_id]

    def _vault_cluster(self, cluster_id: str) -> Any:
        if self.registry is None or self.vault is None:
            return None
        config = self.registry.get(cluster_id)
        return config if config is not None and config.enabled else None

    def _follow_registry(self) -> None:
        if self.registry is None:
            return
        outcome = self.registry.check()
        if outcome.result == "reloaded" and outcome.change is not None:
            for cluster_id in (*outcome.change.removed, *outcome.change.changed):
                if cluster_id not in self.sources:
                    self._made.pop(cluster_id, None)
                    self.vault.forget(cluster_id) if self.vault is not None else None

    async def connect_live(self) -> None:
        """Create the kubeconfig/in-cluster readers (call once inside the running loop)."""
        from agents.cluster.live import LiveReader, api_client_from_config

        for cluster_id, source in self.sources.items():
            if source.dump is None and cluster_id not in self._made:
                api = await api_client_from_config(source.kubeconfig, source.context)
                self._made[cluster_id] = LiveReader(api, cluster_id)

    def __contains__(self, cluster_id: object) -> bool:
        return isinstance(cluster_id, str) and (cluster_id in self.sources or self._vault_cluster(cluster_id) is not None)

    def __iter__(self) -> Iterator[str]:
        ids = set(self.sources)
        if self.registry is not None and self.vault is not None:
            ids |= {cid for cid, c in self.registry.clusters.items() if c.enabled}
        return iter(sorted(ids))

    def __len__(self) -> int:
        return len(list(iter(self)))

    def get(self, cluster_id: str, default=None):  # type: ignore[override]
        try:
            return self[cluster_id]
        except KeyError:
            return default


def cluster_readers(settings: Any, tracker: Any = None, notify: Any = None) -> Readers:
    """The readers a worker uses: settings.clusters, plus the registry's clusters when Vault is configured."""
    registry = vault = None
    if settings.clusters_file is not None and settings.vault is not None:
        from agents.clusters.registry import ClusterRegistry
        from agents.credentials.vault import VaultCredentialProvider

        registry = ClusterRegistry.load(settings.clusters_file)
        vault = VaultCredentialProvider(settings.vault)
    return Readers(settings.clusters, registry, vault, tracker, notify)
