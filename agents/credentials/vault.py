"""Per-cluster credentials from Vault/OpenBao (hvac), never stored.

Sources, chosen by the cluster's `credentials.engine`:
- `kv2`: a KV v2 secret at `vault_path` holding {server, ca_cert, token}. KV secrets carry no lease, so the value is
  re-read after `kv_cache_seconds` (or its own `expires_at`, if it has one) - a rotated secret is picked up.
- `kubernetes`: the Kubernetes secrets engine issues a short-lived service-account token (`<mount>/creds/<role>`).
  The lease is cached until shortly before it ends, renewed while a task still uses it, and revoked when the last
  task using it finishes (`async with provider.for_task(cluster) as cred`).
Vault login: a token, AppRole, or Kubernetes auth; our own token is renewed before it expires and, for AppRole and
Kubernetes auth, re-obtained by logging in again when it expires or is revoked.

A credential lives only in memory: `ClusterCredential` hides its token from repr/str, refuses pickling, and is not
JSON-serialisable. Log lines name clusters and paths, never values. Any Vault failure is a `CredentialError` for the
cluster that asked; other clusters' cached credentials keep being served.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, AsyncIterator, Callable

import hvac
import hvac.exceptions
import requests

from schemas.clusters import ClusterConfig
from schemas.security_settings import VaultSettings

log = logging.getLogger(__name__)


class CredentialError(Exception):
    """Credentials for one cluster could not be obtained. The message is safe to show and log."""

    def __init__(self, cluster_id: str, reason: str) -> None:
        self.cluster_id = cluster_id
        self.reason = reason
        super().__init__(f"credentials for cluster {cluster_id}: {reason}")


class ClusterCredential:
    """Endpoint, CA and bearer token for one cluster. The token is reachable only through `.token()`."""

    __slots__ = ("cluster_id", "server", "ca_cert", "_token", "expires_at", "lease_id", "renewable", "source")

    def __init__(self, cluster_id: str, server: str, ca_cert: str | None, token: str, expires_at: float | None,
                 source: str, lease_id: str | None = None, renewable: bool = False) -> None:
        self.cluster_id, self.server, self.ca_cert = cluster_id, server, ca_cert
        self._token = token
        self.expires_at, self.source, self.lease_id, self.renewable = expires_at, source, lease_id, renewable

    def token(self) -> str:
        return self._token

    def __repr__(self) -> str:
        return (f"ClusterCredential(cluster_id={self.cluster_id!r}, server={self.server!r}, source={self.source!r}, "
                f"expires_at={self.expires_at!r}, leased={self.lease_id is not None}, token='***')")

    __str__ = __repr__

    def __reduce__(self):  # noqa: ANN204 - never pickled, so never written to disk or a topic by accident
        raise TypeError("ClusterCredential cannot be pickled")


@dataclass
class _Entry:
    credential: ClusterCredential
    users: int = 0


@dataclass
class _Login:
    expires_at: float | None  # None: the token does not expire
    renewable: bool


def _parse_time(value: str) -> float | None:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(timezone.utc).timestamp()
    except (ValueError, AttributeError):
        return None


class VaultCredentialProvider:
    """One per process. Vault calls are blocking (hvac/requests) and run in worker threads."""

    def __init__(self, settings: VaultSettings, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self._clock = clock
        self._client: hvac.Client | None = None
        self._login: _Login | None = None
        self._login_lock = threading.Lock()
        self._cache: dict[str, _Entry] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    # ------------------------------------------------------------ public API

    async def get(self, cluster: ClusterConfig) -> ClusterCredential:
        """A credential valid for at least `renew_margin_seconds` more, from cache when possible."""
        lock = self._locks.setdefault(cluster.id, asyncio.Lock())
        async with lock:
            entry = self._cache.get(cluster.id)
            if entry is not None and self._fresh(entry.credential):
                return entry.credential
            if entry is not None and entry.credential.lease_id and entry.credential.renewable:
                renewed = await asyncio.to_thread(self._renew_lease, cluster.id, entry.credential)
                if renewed is not None and self._fresh(renewed):
                    entry.credential = renewed
                    return renewed
            credential = await asyncio.to_thread(self._fetch, cluster)
            old = self._cache.get(cluster.id)
            self._cache[cluster.id] = _Entry(credential)  # tasks still using `old` release it in for_task
            if old is not None and old.credential.lease_id and old.users == 0:
                await asyncio.to_thread(self._revoke_lease, cluster.id, old.credential)
            return credential

    @contextlib.asynccontextmanager
    async def for_task(self, cluster: ClusterConfig) -> AsyncIterator[ClusterCredential]:
        """Use a credential for the length of one task. When the last task using a leased credential ends, the
        lease is revoked (the Kubernetes engine then invalidates the service-account token)."""
        credential = await self.get(cluster)
        entry = self._cache[cluster.id]
        entry.users += 1
        try:
            yield credential
        finally:
            entry.users -= 1
            if entry.users == 0 and credential.lease_id:
                if self._cache.get(cluster.id) is entry:
                    self._cache.pop(cluster.id, None)
                await asyncio.to_thread(self._revoke_lease, cluster.id, credential)

    def forget(self, cluster_id: str) -> None:
        """Drop a cached credential (e.g. the cluster left the registry or the API server rejected the token)."""
        self._cache.pop(cluster_id, None)

    async def close(self) -> None:
        """Revoke every lease we hold and, if we logged in ourselves, our own token."""
        for cluster_id, entry in list(self._cache.items()):
            if entry.credential.lease_id:
                await asyncio.to_thread(self._revoke_lease, cluster_id, entry.credential)
        self._cache.clear()
        if self._client is not None and self.settings.auth_method != "token":
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self._client.auth.token.revoke_self)
        self._client, self._login = None, None

    # ------------------------------------------------------------ Vault session (runs in threads)

    def _fresh(self, credential: ClusterCredential) -> bool:
        return credential.expires_at is None or self._clock() < credential.expires_at - self.settings.renew_margin_seconds

    def _new_client(self) -> hvac.Client:
        s = self.settings
        return hvac.Client(url=s.url, timeout=s.timeout_seconds, namespace=s.namespace,
                           verify=str(s.ca_cert) if s.ca_cert else True)

    def _session(self, cluster_id: str) -> hvac.Client:
        """A client whose token is valid for a while yet: log in, renew, or re-login as needed."""
        with self._login_lock:
            if self._client is None or self._login is None:
                self._client = self._new_client()
                self._login = self._authenticate(cluster_id, self._client)
            elif self._login.expires_at is not None and \
                    self._clock() >= self._login.expires_at - self.settings.renew_margin_seconds:
                self._login = self._renew_or_relogin(cluster_id, self._client, self._login)
            return self._client

    def _authenticate(self, cluster_id: str, client: hvac.Client) -> _Login:
        s = self.settings
        with self._vault_errors(cluster_id, "vault login"):
            if s.auth_method == "token":
                client.token = s.token.get_secret_value()  # type: ignore[union-attr]
                data = client.auth.token.lookup_self()["data"]
                ttl = int(data.get("ttl") or 0)
                return _Login(self._clock() + ttl if ttl else None, bool(data.get("renewable")))
            if s.auth_method == "approle":
                resp = client.auth.approle.login(role_id=s.approle_role_id,
                                                 secret_id=s.approle_secret_id.get_secret_value(),  # type: ignore[union-attr]
                                                 mount_point=s.approle_mount)
            else:
                try:
                    jwt = s.kubernetes_jwt_path.read_text().strip()
                except OSError as exc:
                    raise CredentialError(cluster_id, f"cannot read the service-account token file "
                                                      f"{s.kubernetes_jwt_path}: {exc.strerror}") from None
                resp = client.auth.kubernetes.login(role=s.kubernetes_role, jwt=jwt, mount_point=s.kubernetes_mount)
            auth = resp["auth"]
            ttl = int(auth.get("lease_duration") or 0)
            log.info("logged in to vault with %s", s.auth_method)
            return _Login(self._clock() + ttl if ttl else None, bool(auth.get("renewable")))

    def _renew_or_relogin(self, cluster_id: str, client: hvac.Client, login: _Login) -> _Login:
        if login.renewable:
            try:
                auth = client.auth.token.renew_self()["auth"]
                ttl = int(auth.get("lease_duration") or 0)
                log.info("renewed the vault token")
                return _Login(self._clock() + ttl if ttl else None, bool(auth.get("renewable")))
            except Exception as exc:  # noqa: BLE001 - fall through to a fresh login where one is possible
                log.warning("vault token renewal failed: %s", exc.__class__.__name__)
        if self.settings.auth_method == "token":
            if login.expires_at is not None and self._clock() >= login.expires_at:
                raise CredentialError(cluster_id, "the vault token has expired and cannot be renewed; "
                                                  "provide a new token")
            return login  # not renewable but still valid for a little while
        return self._authenticate(cluster_id, client)

    @contextlib.contextmanager
    def _vault_errors(self, cluster_id: str, what: str):  # noqa: ANN202
        url = self.settings.url
        try:
            yield
        except CredentialError:
            raise
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout, hvac.exceptions.VaultDown,
                hvac.exceptions.BadGateway) as exc:
            raise CredentialError(cluster_id, f"{what}: vault unreachable at {url} ({exc.__class__.__name__})") from None
        except hvac.exceptions.Forbidden:
            raise CredentialError(cluster_id, f"{what}: vault denied access (token revoked, expired, or lacking "
                                              "a policy for this path)") from None
        except hvac.exceptions.InvalidPath:
            raise CredentialError(cluster_id, f"{what}: nothing at this path in vault") from None
        except hvac.exceptions.VaultError as exc:
            errors = "; ".join(str(e)[:200] for e in (getattr(exc, "errors", None) or [])) or exc.__class__.__name__
            raise CredentialError(cluster_id, f"{what}: vault error: {errors}") from None

    def _call(self, cluster: ClusterConfig, what: str, fn: Callable[[hvac.Client], Any]) -> Any:
        """Run one Vault call; on 'denied' with a re-loginable method, log in again once and retry (revoked token)."""
        for attempt in (1, 2):
            client = self._session(cluster.id)
            try:
                with self._vault_errors(cluster.id, what):
                    return fn(client)
            except CredentialError as exc:
                if attempt == 1 and "denied" in exc.reason and self.settings.auth_method != "token":
                    with self._login_lock:
                        self._client, self._login = None, None
                    continue
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    # ------------------------------------------------------------ sources

    def _fetch(self, cluster: ClusterConfig) -> ClusterCredential:
        mount, rest = cluster.vault_location()
        if cluster.credentials.engine == "kv2":
            return self._from_kv2(cluster, mount, rest)
        return self._from_kubernetes(cluster, mount, rest)

    def _from_kv2(self, cluster: ClusterConfig, mount: str, path: str) -> ClusterCredential:
        what = f"read kv2 secret {mount}/{path}"
        resp = self._call(cluster, what, lambda c: c.secrets.kv.v2.read_secret_version(
            path=path, mount_point=mount, raise_on_deleted_version=True))
        data = (resp.get("data") or {}).get("data") or {}
        missing = [k for k in ("server", "token") if not data.get(k)]
        if missing:
            raise CredentialError(cluster.id, f"{what}: the secret lacks {missing} (expects server, token, ca_cert)")
        expires = self._clock() + self.settings.kv_cache_seconds
        if data.get("expires_at"):
            own = _parse_time(str(data["expires_at"]))
            if own is None:
                raise CredentialError(cluster.id, f"{what}: expires_at is not an ISO-8601 time")
            expires = min(expires, own)
        log.info("read cluster credentials from kv2", extra={"cluster_id": cluster.id})
        return ClusterCredential(cluster.id, str(data["server"]), data.get("ca_cert") or None, str(data["token"]),
                                 expires, source="kv2")

    def _from_kubernetes(self, cluster: ClusterConfig, mount: str, role: str) -> ClusterCredential:
        src = cluster.credentials
        server, ca_cert = src.server, src.ca_cert
        if not server:
            config = self._call(cluster, f"read kubernetes engine config {mount}/config",
                                lambda c: c.read(f"{mount}/config"))
            cfg = (config or {}).get("data") or {}
            server, ca_cert = cfg.get("kubernetes_host"), ca_cert or cfg.get("kubernetes_ca_cert") or None
            if not server:
                raise CredentialError(cluster.id, f"kubernetes engine {mount} has no kubernetes_host configured")
        body: dict[str, Any] = {"kubernetes_namespace": src.kubernetes_namespace,
                                "ttl": src.ttl or self.settings.kubernetes_token_ttl}
        if src.cluster_role_binding:
            body["cluster_role_binding"] = True
        what = f"issue a service-account token from {mount}/creds/{role}"
        resp = self._call(cluster, what, lambda c: c.write_data(f"{mount}/creds/{role}", data=body))
        token = ((resp or {}).get("data") or {}).get("service_account_token")
        if not token:
            raise CredentialError(cluster.id, f"{what}: the response holds no service_account_token")
        ttl = int(resp.get("lease_duration") or 0)
        log.info("issued a short-lived service-account token", extra={"cluster_id": cluster.id})
        return ClusterCredential(cluster.id, server, ca_cert, token, self._clock() + ttl if ttl else None,
                                 source="kubernetes", lease_id=resp.get("lease_id") or None,
                                 renewable=bool(resp.get("renewable")))

    # ------------------------------------------------------------ leases

    def _renew_lease(self, cluster_id: str, credential: ClusterCredential) -> ClusterCredential | None:
        try:
            client = self._session(cluster_id)
            resp = client.sys.renew_lease(lease_id=credential.lease_id)
        except Exception as exc:  # noqa: BLE001 - a failed renewal means: issue a new credential
            log.warning("lease renewal failed (%s)", exc.__class__.__name__, extra={"cluster_id": cluster_id})
            return None
        ttl = int(resp.get("lease_duration") or 0)
        return ClusterCredential(cluster_id, credential.server, credential.ca_cert, credential.token(),
                                 self._clock() + ttl if ttl else None, credential.source, credential.lease_id,
                                 bool(resp.get("renewable")))

    def _revoke_lease(self, cluster_id: str, credential: ClusterCredential) -> None:
        try:
            self._session(cluster_id).sys.revoke_lease(lease_id=credential.lease_id)
            log.info("revoked a credential lease", extra={"cluster_id": cluster_id})
        except Exception as exc:  # noqa: BLE001 - it still expires at its TTL; say so
            log.warning("lease revocation failed (%s); it expires at its TTL", exc.__class__.__name__,
                        extra={"cluster_id": cluster_id})
