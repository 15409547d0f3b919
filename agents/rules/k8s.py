"""Pure helpers over Kubernetes objects as plain dicts: statuses, events, quantities, log patterns."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable

Obj = dict[str, Any]
STALE_AFTER = timedelta(hours=1)  # an event older than this before the newest fact is history, not the cause


def meta(obj: Obj | None, field: str, default: Any = "") -> Any:
    value = ((obj or {}).get("metadata") or {}).get(field)
    return default if value is None else value


def name_of(obj: Obj | None) -> str:
    return meta(obj, "name")


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


def event_time(event: Obj) -> datetime | None:
    """When the event was last seen. Events the scheduler writes through events.k8s.io have no lastTimestamp:
    their first time is eventTime and their latest series.lastObservedTime (a pod Pending for hours keeps
    an old eventTime; only the series says it is still happening)."""
    series = event.get("series") or {}
    return parse_time(series.get("lastObservedTime") or event.get("lastTimestamp") or event.get("deprecatedLastTimestamp")
                      or event.get("eventTime") or event.get("firstTimestamp") or meta(event, "creationTimestamp", None))


def involved(event: Obj) -> Obj:
    return event.get("involvedObject") or event.get("regarding") or {}


def events_for(events: Iterable[Obj], kind: str, name: str, namespace: str | None = None) -> list[Obj]:
    out = []
    for e in events:
        inv = involved(e)
        if inv.get("kind", "").lower() == kind.lower() and inv.get("name") == name and (
                namespace is None or (inv.get("namespace") or meta(e, "namespace")) in (namespace, "", None)):
            out.append(e)
    return out


def recent(events: Iterable[Obj], now: datetime | None) -> list[Obj]:
    """Events within STALE_AFTER of `now` (events without a time count as recent)."""
    out = []
    for e in events:
        t = event_time(e)
        if now is None or t is None or now - t <= STALE_AFTER:
            out.append(e)
    return out


def event_line(e: Obj) -> str:
    count = (e.get("series") or {}).get("count") or e.get("count") or e.get("deprecatedCount")
    suffix = f" (x{count})" if count and int(count) > 1 else ""
    return f"{e.get('type', 'Normal')} {e.get('reason', '')}: {(e.get('message') or e.get('note') or '').strip()}{suffix}"


def event_source(e: Obj) -> str:
    inv = involved(e)
    return f"event/{inv.get('namespace') or meta(e, 'namespace') or '-'}/{inv.get('kind', '?')}/{inv.get('name', '?')}"


# --- pods and containers ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class ContainerView:
    """A container's spec and status side by side; `init` tells where its status lives."""

    name: str
    spec: Obj
    status: Obj
    init: bool

    @property
    def status_field(self) -> str:
        return f"status.{'initContainerStatuses' if self.init else 'containerStatuses'}[{self.name}]"

    @property
    def waiting(self) -> Obj:
        return (self.status.get("state") or {}).get("waiting") or {}

    @property
    def running(self) -> Obj | None:
        return (self.status.get("state") or {}).get("running")

    @property
    def terminated(self) -> Obj:
        return (self.status.get("state") or {}).get("terminated") or {}

    @property
    def last_terminated(self) -> Obj:
        return (self.status.get("lastState") or {}).get("terminated") or {}

    @property
    def restarts(self) -> int:
        return int(self.status.get("restartCount") or 0)

    @property
    def ready(self) -> bool:
        return bool(self.status.get("ready"))


def containers(pod: Obj) -> list[ContainerView]:
    """Init containers first (they run first), then app containers and sidecars."""
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    views = []
    for init, spec_key, status_key in ((True, "initContainers", "initContainerStatuses"),
                                       (False, "containers", "containerStatuses")):
        statuses = {s.get("name"): s for s in status.get(status_key) or []}
        for c in spec.get(spec_key) or []:
            views.append(ContainerView(c.get("name", ""), c, statuses.get(c.get("name"), {}), init))
        for name, s in statuses.items():  # a status without a spec (hand-written dumps): still look at it
            if not any(v.name == name for v in views):
                views.append(ContainerView(name, {}, s, init))
    return views


def condition(obj: Obj | None, ctype: str) -> Obj | None:
    for c in ((obj or {}).get("status") or {}).get("conditions") or []:
        if c.get("type") == ctype:
            return c
    return None


def pod_phase(pod: Obj) -> str:
    return (pod.get("status") or {}).get("phase", "")


def pod_unhealthy(pod: Obj) -> bool:
    phase = pod_phase(pod)
    if phase == "Succeeded":
        return False
    if phase != "Running":
        return True
    ready = condition(pod, "Ready")
    if ready is not None and ready.get("status") != "True":
        return True
    return any(not c.ready or c.restarts > 0 for c in containers(pod) if not c.init)


def badness(pod: Obj) -> tuple:
    """Sort key: the most broken pod first (not running, then not ready, then most restarts)."""
    views = containers(pod)
    restarts = sum(c.restarts for c in views)
    waiting = any(c.waiting for c in views)
    return (pod_phase(pod) == "Running" and not waiting, not pod_unhealthy(pod), -restarts, name_of(pod))


def controller_ref(obj: Obj) -> Obj | None:
    refs = meta(obj, "ownerReferences", []) or []
    return next((r for r in refs if r.get("controller")), refs[0] if refs else None)


def pvc_names(pod: Obj) -> list[str]:
    return [v["persistentVolumeClaim"]["claimName"] for v in (pod.get("spec") or {}).get("volumes") or []
            if (v.get("persistentVolumeClaim") or {}).get("claimName")]


def endpoints_ready(endpoints: Obj | None) -> int:
    return sum(len(s.get("addresses") or []) for s in (endpoints or {}).get("subsets") or [])


def endpoints_not_ready(endpoints: Obj | None) -> int:
    return sum(len(s.get("notReadyAddresses") or []) for s in (endpoints or {}).get("subsets") or [])


# --- quantities -------------------------------------------------------------------------------------------

_UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 10**3, "K": 10**3, "M": 10**6, "G": 10**9,
          "T": 10**12, "m": 1e-3, "": 1}


def parse_quantity(value: Any) -> float | None:
    m = re.fullmatch(r"\s*([0-9.]+)\s*(Ki|Mi|Gi|Ti|k|K|M|G|T|m)?\s*", str(value or ""))
    if not m:
        return None
    return float(m.group(1)) * _UNITS[m.group(2) or ""]


def format_memory(num_bytes: float) -> str:
    if num_bytes >= 2**30 and num_bytes % 2**30 == 0:
        return f"{int(num_bytes // 2**30)}Gi"
    return f"{int(-(-num_bytes // 2**20))}Mi"


# --- names --------------------------------------------------------------------------------------------------

_PUBLIC_SUFFIX = frozenset({"com", "net", "org", "io", "dev", "cloud", "co", "app", "ai", "de", "uk", "fr", "eu",
                            "internal", "amazonaws", "azure", "gcp", "example", "test", "local", "lan"})


def service_of_host(host: str, namespace: str) -> tuple[str, str] | None:
    """'db' / 'db.ns' / 'db.ns.svc[.cluster.local]' / 'pod-0.db-headless.ns.svc…' → (namespace, service);
    None for a name outside the cluster ('api.stripe.com', 'db.internal')."""
    parts = host.lower().rstrip(".").split(".")
    if "svc" in parts:
        i = parts.index("svc")
        return (parts[i - 1], parts[i - 2]) if i >= 2 else None
    if len(parts) == 1:
        return namespace, parts[0]
    if len(parts) == 2 and parts[1] not in _PUBLIC_SUFFIX:
        return parts[1], parts[0]
    return None


def is_ip(host: str) -> bool:
    return bool(re.fullmatch(r"\d{1,3}(?:\.\d{1,3}){3}", host or ""))


def env_endpoints(container_spec: Obj) -> list[tuple[str, int | None, str]]:
    """(host, port, env var) a container's plain env values name: a URL or connection string (patterns table,
    group `endpoint`), or DB_HOST=pg next to DB_PORT=5432. Values from secretKeyRef/configMapKeyRef are not
    visible and are not guessed."""
    from agents.rules import patterns

    env = {e.get("name", ""): e.get("value") for e in container_spec.get("env") or [] if isinstance(e.get("value"), str)}
    out: list[tuple[str, int | None, str]] = []
    for name, value in env.items():
        hits = [h for h in patterns.search_all("endpoint", value) if h.get("host") and not is_ip(h.get("host"))]
        if hits:
            port = hits[0].get("port")
            out.append((hits[0].get("host"), int(port) if port.isdigit() else None, name))
            continue
        m = re.fullmatch(r"([a-z][a-z0-9-]*(?:\.[a-z0-9-]+)*)", value)
        if m and re.search(r"HOST|ADDR|SERVER|URL|ENDPOINT|BROKER|SERVICE", name, re.I):
            prefix = re.sub(r"_?(HOST|ADDR|ADDRESS|SERVER|URL|ENDPOINT|SERVICE|BROKERS?)$", "", name, flags=re.I)
            port = env.get(prefix + "_PORT") or env.get(prefix + "PORT") or ""
            out.append((m.group(1), int(port) if str(port).isdigit() else None, name))
    return out
