"""The cluster registry: load the YAML file, validate it, and hot-reload it on change (NFR-25).

A bad file at start-up is a clear error (`RegistryError`, one line per problem naming the cluster and field).
A bad file later is reported (log, metric, `on_error`) and the last good registry stays in force - a typo in
a ConfigMap must never take the agent down.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable

import yaml
from prometheus_client import Counter, Gauge
from pydantic import ValidationError

from aetherius.metrics import REGISTRY
from schemas.audit import AuditEvent
from schemas.clusters import ClusterConfig, ClusterRegistryFile

log = logging.getLogger(__name__)

RELOADS = Counter("aetherius_cluster_registry_reloads_total", "Cluster registry reload attempts by outcome",
                  ["result"], registry=REGISTRY)
CLUSTERS = Gauge("aetherius_cluster_registry_clusters", "Clusters in the registry in force", registry=REGISTRY)


class RegistryError(ValueError):
    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))


def _where(loc: tuple[Any, ...], raw: Any) -> str:
    """('clusters', 1, 'access_control', 'rate_limit') -> "cluster 'prod-eu' (#2) field access_control.rate_limit"."""
    if len(loc) >= 2 and loc[0] == "clusters" and isinstance(loc[1], int):
        index = loc[1]
        cid = None
        if isinstance(raw, dict) and isinstance(raw.get("clusters"), list) and index < len(raw["clusters"]):
            item = raw["clusters"][index]
            cid = item.get("id") if isinstance(item, dict) else None
        who = f"cluster {cid!r} (#{index + 1})" if cid else f"cluster #{index + 1}"
        rest = ".".join(str(p) for p in loc[2:])
        return f"{who} field {rest}" if rest else who
    return "field " + (".".join(str(p) for p in loc) or "(top level)")


def parse_registry(text: str, source: str = "clusters file") -> ClusterRegistryFile:
    """Pure: YAML text -> validated registry, or RegistryError naming every problem."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise RegistryError(source, [f"not valid YAML{at}: {getattr(exc, 'problem', None) or exc}"]) from None
    if not isinstance(raw, dict) or "clusters" not in raw:
        raise RegistryError(source, ["must be a mapping with a 'clusters' list"])
    try:
        return ClusterRegistryFile.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False):
            message = err["msg"].removeprefix("Value error, ")
            if tuple(err["loc"]) == ("clusters",) and message.startswith("cluster id"):
                problems.append(message)  # already names the clusters
            else:
                problems.append(f"{_where(tuple(err['loc']), raw)}: {message}")
        raise RegistryError(source, problems) from None


@dataclass(frozen=True)
class RegistryDiff:
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)


def diff(old: dict[str, ClusterConfig], new: dict[str, ClusterConfig]) -> RegistryDiff:
    return RegistryDiff(added=tuple(sorted(new.keys() - old.keys())), removed=tuple(sorted(old.keys() - new.keys())),
                        changed=tuple(sorted(k for k in old.keys() & new.keys() if old[k] != new[k])))


def change_audit_event(change: RegistryDiff | None, source: str, error: str = "") -> AuditEvent:
    """A config change (or a rejected one) as an AuditEvent, for the audit topic."""
    details: dict[str, Any] = {"file": source}
    if change is not None:
        details.update(added=list(change.added), removed=list(change.removed), changed=list(change.changed))
    return AuditEvent(actor="cluster-registry", action="config.clusters.reload", resource=source,
                      result="error" if error else "ok", reason=error, details=details)


@dataclass
class ReloadOutcome:
    result: str  # unchanged | reloaded | rejected
    change: RegistryDiff = field(default_factory=RegistryDiff)
    error: str = ""


OnChange = Callable[[RegistryDiff, dict[str, ClusterConfig]], Awaitable[None] | None]
OnError = Callable[[str], Awaitable[None] | None]


class ClusterRegistry:
    """The registry in force, replaced atomically on a good reload. Polls the file's (mtime, size, inode) and
    compares content hashes, so a rewrite of identical content is not a change and a same-second edit is caught."""

    def __init__(self, path: str | Path, initial: ClusterRegistryFile, signature: tuple[int, int, int],
                 digest: str) -> None:
        self.path = Path(path)
        self._clusters = {c.id: c for c in initial.clusters}
        self._signature: tuple[int, int, int] | None = signature
        self._good_digest = digest  # content in force
        self._bad_digest: str | None = None  # last rejected content: reported once, not on every poll
        self.last_error: str | None = None
        CLUSTERS.set(len(self._clusters))

    @classmethod
    def load(cls, path: str | Path) -> "ClusterRegistry":
        """Start-up load: a missing or invalid file raises RegistryError (the process should not start on it)."""
        path = Path(path)
        try:
            signature, data = _read(path)
        except OSError as exc:
            raise RegistryError(str(path), [f"cannot read: {exc.strerror or exc}"]) from None
        parsed = parse_registry(_decode(data, str(path)), str(path))
        return cls(path, parsed, signature, _digest(data))

    @property
    def clusters(self) -> dict[str, ClusterConfig]:
        return dict(self._clusters)

    def get(self, cluster_id: str) -> ClusterConfig | None:
        return self._clusters.get(cluster_id)

    def resolve(self, cluster_id: str | None, default_id: str) -> ClusterConfig | None:
        """SRS: an unknown cluster_id routes to the default cluster (the caller raises the config alert)."""
        return self._clusters.get(cluster_id or "") or self._clusters.get(default_id)

    def check(self) -> ReloadOutcome:
        """One poll. Never raises: every failure becomes a 'rejected' outcome with the reason."""
        try:
            signature, data = _read(self.path)
        except OSError as exc:
            if self._signature is None:  # already reported this missing file
                return ReloadOutcome("unchanged")
            self._signature = None
            return self._reject(f"{self.path}: cannot read ({exc.strerror or exc}); keeping the last good registry")
        if signature == self._signature:
            return ReloadOutcome("unchanged")
        self._signature = signature
        digest = _digest(data)
        if digest == self._good_digest:
            self.last_error = None  # e.g. the good file came back after a bad edit or a deletion
            return ReloadOutcome("unchanged")
        if digest == self._bad_digest:
            return ReloadOutcome("unchanged")
        try:
            parsed = parse_registry(_decode(data, str(self.path)), str(self.path))
        except RegistryError as exc:
            self._bad_digest = digest
            return self._reject(f"{exc}; keeping the last good registry")
        except Exception as exc:  # noqa: BLE001 - never crash the watcher
            self._bad_digest = digest
            return self._reject(f"{self.path}: unexpected {exc.__class__.__name__}; keeping the last good registry")
        new = {c.id: c for c in parsed.clusters}
        change = diff(self._clusters, new)
        self._clusters, self._good_digest, self.last_error = new, digest, None
        CLUSTERS.set(len(new))
        RELOADS.labels("reloaded").inc()
        log.info("cluster registry reloaded: +%s -%s ~%s", list(change.added), list(change.removed), list(change.changed))
        return ReloadOutcome("reloaded", change)

    def _reject(self, error: str) -> ReloadOutcome:
        self.last_error = error
        RELOADS.labels("rejected").inc()
        log.error("cluster registry reload rejected: %s", error)
        return ReloadOutcome("rejected", error=error)

    async def watch(self, interval: float = 2.0, *, on_change: OnChange | None = None, on_error: OnError | None = None,
                    stop: asyncio.Event | None = None) -> None:
        """Poll until `stop` is set. Callback failures are logged, never propagated."""
        stop = stop or asyncio.Event()
        while not stop.is_set():
            outcome = self.check()
            try:
                if outcome.result == "reloaded" and on_change is not None:
                    await _maybe_await(on_change(outcome.change, self.clusters))
                elif outcome.result == "rejected" and on_error is not None:
                    await _maybe_await(on_error(outcome.error))
            except Exception as exc:  # noqa: BLE001
                log.error("cluster registry callback failed: %s", exc.__class__.__name__)
            try:
                await asyncio.wait_for(stop.wait(), timeout=interval)
            except asyncio.TimeoutError:
                pass


async def _maybe_await(value: Awaitable[None] | None) -> None:
    if value is not None and hasattr(value, "__await__"):
        await value


def _read(path: Path) -> tuple[tuple[int, int, int], bytes]:
    st = os.stat(path)
    return (st.st_mtime_ns, st.st_size, st.st_ino), path.read_bytes()


def _decode(data: bytes, source: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RegistryError(source, [f"not UTF-8 text (byte {exc.start})"]) from None


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
