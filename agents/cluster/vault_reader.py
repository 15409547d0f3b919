"""A live reader whose credentials come from Vault/OpenBao for every call, never from disk.

Each call asks the credential provider (agents/credentials/vault.py) for the cluster's credential; the
provider caches it only until shortly before it expires, so a rotated or short-lived token is picked up
without a restart. A new credential gets a new API client; the old one is closed. A token the API server
refuses (401) is forgotten, so the next call fetches a fresh one. The CA certificate (public) is the
only thing written, to a private temp file, because the Kubernetes client reads CAs from files.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from typing import Any

from kubernetes_asyncio import client

from agents.cluster.live import LiveReader
from agents.cluster.reader import KubeObject, ReaderError
from agents.credentials.vault import ClusterCredential, CredentialError, VaultCredentialProvider
from schemas.clusters import ClusterConfig


class VaultReader:
    def __init__(self, cluster: ClusterConfig, provider: VaultCredentialProvider, request_timeout: float = 10.0) -> None:
        self.cluster = cluster
        self.cluster_id = cluster.id
        self.provider = provider
        self.request_timeout = request_timeout
        self._credential: ClusterCredential | None = None
        self._reader: LiveReader | None = None
        self._ca_file: str | None = None
        self._lock = asyncio.Lock()

    async def _current(self) -> LiveReader:
        try:
            credential = await self.provider.get(self.cluster)
        except CredentialError as exc:
            raise ReaderError(str(exc)) from None
        async with self._lock:
            if credential is not self._credential or self._reader is None:
                old = self._reader
                self._reader = LiveReader(self._api_client(credential), self.cluster_id, self.request_timeout)
                self._credential = credential
                if old is not None:
                    await old.close()
            return self._reader

    async def api_client(self) -> client.ApiClient:
        """The ApiClient for the current credential (a new one after rotation; the previous one is closed).
        For callers that speak the API themselves, e.g. the Events watcher; ReaderError if Vault cannot serve."""
        return (await self._current()).api_client

    @property
    def expires_at(self) -> float | None:
        """When the credential in use stops being served from cache (epoch seconds; None: never, or none yet)."""
        return self._credential.expires_at if self._credential is not None else None

    def _api_client(self, credential: ClusterCredential) -> client.ApiClient:
        cfg = client.Configuration(host=credential.server.rstrip("/"))
        cfg.api_key = {"BearerToken": credential.token()}
        cfg.api_key_prefix = {"BearerToken": "Bearer"}
        if credential.ca_cert:
            cfg.ssl_ca_cert = self._write_ca(credential.ca_cert)
        return client.ApiClient(configuration=cfg)

    def _write_ca(self, pem: str) -> str:
        if self._ca_file is None:
            fd, self._ca_file = tempfile.mkstemp(prefix=f"aetherius-ca-{self.cluster_id}-", suffix=".pem")
            os.close(fd)
        with open(self._ca_file, "w") as fh:
            fh.write(pem)
        return self._ca_file

    async def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        reader = await self._current()
        try:
            return await getattr(reader, method)(*args, **kwargs)
        except ReaderError as exc:
            # 401: the server no longer accepts the token (revoked, expired): fetch a new one next time. Not on
            # 403: the token is good and only this read is not granted (secrets, configmaps under the chart's
            # role); forgetting it would issue a new credential - with the Kubernetes engine a new service
            # account and binding - on every refused read, and leave the old lease running until its TTL.
            if " 401" in str(exc) or "Unauthorized" in str(exc):
                self.provider.forget(self.cluster_id)
            raise

    async def list(self, kind: str, namespace: str | None = None,
                   label_selector: dict[str, str] | None = None) -> list[KubeObject]:
        return await self._call("list", kind, namespace, label_selector)

    async def get(self, kind: str, name: str, namespace: str | None = None) -> KubeObject | None:
        return await self._call("get", kind, name, namespace)

    async def logs(self, namespace: str, pod: str, container: str | None = None,
                   previous: bool = False, tail_lines: int | None = None) -> str:
        return await self._call("logs", namespace, pod, container, previous, tail_lines)

    async def metrics(self, kind: str, namespace: str | None = None) -> list[KubeObject] | None:
        return await self._call("metrics", kind, namespace)

    async def close(self) -> None:
        if self._reader is not None:
            await self._reader.close()
        if self._ca_file is not None:
            os.unlink(self._ca_file)
            self._ca_file = None
