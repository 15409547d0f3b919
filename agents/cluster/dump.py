"""`DumpReader`: the `ClusterReader` over a `kubectl cluster-info dump --output-directory=DIR` tree.

Layout read (missing files simply mean "no objects"):
  DIR/nodes.json, DIR/<plural>.json                 cluster-scoped kinds (storageclasses, persistentvolumes, webhooks…)
  DIR/<ns>/<plural>.json                            namespaced kinds (pods, events, …; replicationcontrollers is
                                                    spelled `replication-controllers.json` as kubectl writes it)
  DIR/<ns>/<pod>/logs.txt, logs-previous.txt        every container's log, kubectl's "==== START logs for container
                                                    C of pod NS/P ====" sections
  DIR/<ns>/<pod>/<container>/logs.txt, logs-previous.txt   one container's log
  DIR/<ns>/podmetrics.json, DIR/nodemetrics.json    optional metrics.k8s.io lists (absent → metrics unavailable)

Files are parsed lazily, once, and cached: a diagnosis touches a handful of files many times, and the
rule-engine benchmark needs p95 < 100 ms. Callers get deep copies (a pickle round trip), so nothing they do changes the cache.
"""

from __future__ import annotations

import pickle
import json
import re
from pathlib import Path
from typing import TypeVar

from agents.cluster.reader import CLUSTER_KINDS, KubeObject, ReaderError, strip_secret_values

_SAFE = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
_FILE_NAMES = {"replicationcontrollers": "replication-controllers"}
# kubectl writes typed lists whose items often lack `kind`; fill it so consumers (and strip_secret_values) can rely on it.
_KIND_OF = {
    "pods": "Pod", "events": "Event", "services": "Service", "endpoints": "Endpoints", "deployments": "Deployment",
    "replicasets": "ReplicaSet", "statefulsets": "StatefulSet", "daemonsets": "DaemonSet", "jobs": "Job",
    "cronjobs": "CronJob", "replicationcontrollers": "ReplicationController",
    "persistentvolumeclaims": "PersistentVolumeClaim", "configmaps": "ConfigMap", "secrets": "Secret",
    "resourcequotas": "ResourceQuota", "limitranges": "LimitRange",
    "horizontalpodautoscalers": "HorizontalPodAutoscaler", "ingresses": "Ingress",
    "networkpolicies": "NetworkPolicy", "serviceaccounts": "ServiceAccount",
    "poddisruptionbudgets": "PodDisruptionBudget", "nodes": "Node", "namespaces": "Namespace",
    "persistentvolumes": "PersistentVolume", "storageclasses": "StorageClass",
    "validatingwebhookconfigurations": "ValidatingWebhookConfiguration",
    "mutatingwebhookconfigurations": "MutatingWebhookConfiguration",
}
T = TypeVar("T")
_LOG_SECTION = re.compile(r"^==== (START|END) logs for container (\S+) of pod (\S+) ====$", re.M)


def _copy(value: T) -> T:
    """A deep copy of plain JSON data; pickle's C round trip is several times faster than copy.deepcopy."""
    return pickle.loads(pickle.dumps(value, pickle.HIGHEST_PROTOCOL))


def _safe(value: str, what: str) -> str:
    """Names become path components: anything that could leave the dump directory is refused."""
    if not isinstance(value, str) or not _SAFE.fullmatch(value):
        raise ReaderError(f"invalid {what} {value!r}: not a Kubernetes name")
    return value


class DumpReader:
    """Read-only view of a cluster-info dump directory (no write method exists, as for every reader)."""

    def __init__(self, path: str | Path, cluster_id: str = "dump") -> None:
        self.root = Path(path)
        if not self.root.is_dir():
            raise ReaderError(f"dump directory {self.root} does not exist or is not a directory")
        self.cluster_id = cluster_id
        self._lists: dict[Path, list[KubeObject]] = {}
        self._by_name: dict[Path, dict[str, KubeObject]] = {}
        self._namespaces: list[str] | None = None

    # --- files -------------------------------------------------------------------------------------------
    def _file(self, kind: str, namespace: str | None) -> Path:
        name = _FILE_NAMES.get(kind, kind) + ".json"
        return self.root / name if namespace is None else self.root / namespace / name

    def _load(self, path: Path, kind: str) -> list[KubeObject]:
        cached = self._lists.get(path)
        if cached is not None:
            return cached
        items: list[KubeObject] = []
        if path.is_file():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise ReaderError(f"{path}: not readable JSON ({exc})") from exc
            raw = data.get("items") if isinstance(data, dict) else None
            if raw is None and isinstance(data, dict) and "metadata" in data and "items" not in data:
                raw = [data]  # a single object written where a List was expected
            if not isinstance(raw, list) or not all(isinstance(i, dict) for i in raw):
                raise ReaderError(f"{path}: expected a JSON List object with an 'items' array of objects")
            default_kind = _KIND_OF.get(kind)
            for item in raw:
                if default_kind and not item.get("kind"):
                    item = {**item, "kind": default_kind}
                items.append(strip_secret_values(item))  # values never enter the cache, so never leave it
        self._lists[path] = items
        self._by_name[path] = {((i.get("metadata") or {}).get("name") or ""): i for i in items}
        return items

    # --- ClusterReader -----------------------------------------------------------------------------------
    async def namespaces(self) -> list[str]:
        return self._list_namespaces()

    def _list_namespaces(self) -> list[str]:
        if self._namespaces is None:
            self._namespaces = sorted(p.name for p in self.root.iterdir() if p.is_dir() and _SAFE.fullmatch(p.name))
        return self._namespaces

    async def list(self, kind: str, namespace: str | None = None,
                   label_selector: dict[str, str] | None = None) -> list[KubeObject]:
        kind = _safe(kind, "kind")
        if kind == "namespaces":
            items = [{"kind": "Namespace", "metadata": {"name": ns}} for ns in self._list_namespaces()]
        elif kind in CLUSTER_KINDS:
            items = self._load(self._file(kind, None), kind)
        elif namespace is not None:
            items = self._load(self._file(kind, _safe(namespace, "namespace")), kind)
        else:
            items = [i for ns in self._list_namespaces() for i in self._load(self._file(kind, ns), kind)]
        if label_selector:
            items = [i for i in items if all(((i.get("metadata") or {}).get("labels") or {}).get(k) == v
                                             for k, v in label_selector.items())]
        return _copy(items)

    async def get(self, kind: str, name: str, namespace: str | None = None) -> KubeObject | None:
        kind, name = _safe(kind, "kind"), _safe(name, "name")
        if kind in CLUSTER_KINDS or kind == "namespaces":
            if kind == "namespaces":
                return {"kind": "Namespace", "metadata": {"name": name}} if name in self._list_namespaces() else None
            path = self._file(kind, None)
        else:
            path = self._file(kind, _safe(namespace or "default", "namespace"))
        self._load(path, kind)
        obj = self._by_name[path].get(name)
        return _copy(obj) if obj is not None else None

    async def logs(self, namespace: str, pod: str, container: str | None = None,
                   previous: bool = False, tail_lines: int | None = None) -> str:
        pod_dir = self.root / _safe(namespace, "namespace") / _safe(pod, "pod name")
        file_name = "logs-previous.txt" if previous else "logs.txt"
        text = None
        if container:
            per_container = pod_dir / _safe(container, "container name") / file_name
            if per_container.is_file():
                text = self._read_text(per_container)
        if text is None:
            combined = pod_dir / file_name
            text = self._section(self._read_text(combined), container) if combined.is_file() else ""
        if tail_lines is not None and tail_lines >= 0:
            lines = text.splitlines()
            text = "\n".join(lines[-tail_lines:]) if tail_lines else ""
        return text

    async def metrics(self, kind: str, namespace: str | None = None) -> list[KubeObject] | None:
        if kind == "pods":
            if namespace is None:
                found = [self.root / ns / "podmetrics.json" for ns in self._list_namespaces()]
                found = [p for p in found if p.is_file()]
                return [m for p in found for m in self._load(p, "podmetrics")] if found else None
            path = self.root / _safe(namespace, "namespace") / "podmetrics.json"
        elif kind == "nodes":
            path = self.root / "nodemetrics.json"
        else:
            raise ReaderError(f"metrics are only for 'pods' or 'nodes', not {kind!r}")
        return _copy(self._load(path, "metrics")) if path.is_file() else None

    # --- helpers -----------------------------------------------------------------------------------------
    @staticmethod
    def _read_text(path: Path) -> str:
        try:
            return path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise ReaderError(f"{path}: not readable ({exc})") from exc

    @staticmethod
    def _section(text: str, container: str | None) -> str:
        """One container's part of kubectl's combined logs.txt; the whole text when it has no sections."""
        marks = list(_LOG_SECTION.finditer(text))
        if not marks:
            return text
        wanted = container or marks[0].group(2)
        for start, end in zip(marks, marks[1:]):
            if start.group(1) == "START" and end.group(1) == "END" and start.group(2) == wanted:
                return text[start.end():end.start()].strip("\n")
        return ""
