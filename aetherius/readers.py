"""Build each cluster's read-only reader from settings, lazily: a live reader needs the event loop."""

from __future__ import annotations

from typing import Iterator, Mapping

from agents.cluster.reader import ClusterReader
from schemas.settings import ClusterSource


class Readers(Mapping[str, ClusterReader]):
    """cluster id -> reader. Dump readers are made at once; live ones on first use, inside the loop."""

    def __init__(self, sources: dict[str, ClusterSource]) -> None:
        self.sources = sources
        self._made: dict[str, ClusterReader] = {}

    def __getitem__(self, cluster_id: str) -> ClusterReader:
        if cluster_id not in self._made:
            source = self.sources[cluster_id]
            if source.dump is not None:
                from agents.cluster.dump import DumpReader

                self._made[cluster_id] = DumpReader(source.dump, cluster_id=cluster_id)
            else:
                raise KeyError(f"cluster {cluster_id}: live readers are created with `await live(...)` first")
        return self._made[cluster_id]

    async def connect_live(self) -> None:
        """Create the kubeconfig/in-cluster readers (call once inside the running loop)."""
        from agents.cluster.live import LiveReader, api_client_from_config

        for cluster_id, source in self.sources.items():
            if source.dump is None and cluster_id not in self._made:
                api = await api_client_from_config(source.kubeconfig, source.context)
                self._made[cluster_id] = LiveReader(api, cluster_id)

    def __iter__(self) -> Iterator[str]:
        return iter(self.sources)

    def __len__(self) -> int:
        return len(self.sources)

    def get(self, cluster_id: str, default=None):  # type: ignore[override]
        try:
            return self[cluster_id]
        except KeyError:
            return default
