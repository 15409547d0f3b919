"""Where each cluster's watcher gets its authenticated ApiClient (the `ApiClientSource` seam of streams/watcher.py).

- `KubeconfigSource`: a kubeconfig file/context, or the pod's service account - loaded once, as `aetherius watch
  --kubeconfig` always did (exec-plugin tokens refresh inside the client).
- `VaultSource`: the cluster's endpoint/CA/token from Vault/OpenBao at its registry `vault_path`, through the same
  `VaultReader` the diagnosis uses (agents/cluster/vault_reader.py), so caching, renewal before expiry, lease
  handling and "never written anywhere" are one implementation. The watcher ends each stream by the time the
  credential is due (`refresh_in`), then asks again and gets a client with the renewed/re-fetched credential.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from kubernetes_asyncio import client

from agents.cluster.reader import ReaderError
from agents.cluster.vault_reader import VaultReader
from agents.credentials.vault import VaultCredentialProvider
from schemas.clusters import ClusterConfig
from streams.watcher import CredentialsUnavailable


class KubeconfigSource:
    def __init__(self, cluster_id: str, kubeconfig: Path | None, context: str | None) -> None:
        self.cluster_id, self.kubeconfig, self.context = cluster_id, kubeconfig, context
        self._client: client.ApiClient | None = None

    async def client(self) -> client.ApiClient:
        if self._client is None:
            from agents.cluster.live import api_client_from_config

            try:
                self._client = await api_client_from_config(self.kubeconfig, self.context)
            except ReaderError as exc:
                raise CredentialsUnavailable(f"cluster {self.cluster_id}: {exc}") from None
        return self._client

    def refresh_in(self) -> float | None:
        return None

    def rejected(self) -> None:
        pass  # a kubeconfig is not re-read: its token is what the operator gave

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None


class VaultSource:
    def __init__(self, cluster: ClusterConfig, provider: VaultCredentialProvider,
                 clock: Callable[[], float] = time.time) -> None:
        self.cluster_id = cluster.id
        self.provider = provider
        self._reader = VaultReader(cluster, provider)
        self._clock = clock

    async def client(self) -> client.ApiClient:
        try:
            return await self._reader.api_client()
        except ReaderError as exc:  # VaultReader's form of a CredentialError: safe text, no values
            raise CredentialsUnavailable(str(exc)) from None

    def refresh_in(self) -> float | None:
        expires = self._reader.expires_at
        if expires is None:
            return None
        return expires - self.provider.settings.renew_margin_seconds - self._clock()

    def rejected(self) -> None:
        self.provider.forget(self.cluster_id)

    async def close(self) -> None:
        await self._reader.close()
        self.provider.forget(self.cluster_id)
