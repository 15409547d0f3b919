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
    return parse_time(event.get("lastTimestamp") or event.get("eventTime") or event.get("firstTimestamp")
                      or meta(event, "creationTimestamp", None))


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
    count = e.get("count") or (e.get("series") or {}).get("count")
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


# --- log patterns -----------------------------------------------------------------------------------------

DNS_ERROR = re.compile(r"no such host|NXDOMAIN|Name or service not known|Temporary failure in name resolution|"
                       r"getaddrinfo (?:ENOTFOUND|EAI_AGAIN)|could not resolve host|UnknownHostException|"
                       r"could not translate host name|nodename nor servname", re.I)
_DNS_HOST = re.compile(r"lookup ([A-Za-z0-9][A-Za-z0-9.-]*)|(?:ENOTFOUND|EAI_AGAIN) ([A-Za-z0-9][A-Za-z0-9.-]*)|"
                       r"UnknownHostException:? ([A-Za-z0-9][A-Za-z0-9.-]*)|host name \"([A-Za-z0-9.-]+)\"|"
                       r"resolve host:? '?([A-Za-z0-9][A-Za-z0-9.-]*)")
CONN_ERROR = re.compile(r"connection refused|ECONNREFUSED|no route to host|EHOSTUNREACH|connection timed out|"
                        r"ETIMEDOUT|i/o timeout|connection reset|ECONNRESET", re.I)
_HOST_PORT = re.compile(r"(?<![A-Za-z0-9.@-])([a-z][a-z0-9-]*(?:\.[a-z0-9-]+)*):(\d{2,5})\b")
EXEC_ERROR = re.compile(r"exec format error|executable file not found|exec user process caused|"
                        r"no such file or directory|permission denied|not found in \$PATH|"
                        r"exec: \"[^\"]*\": (?:stat|not found)", re.I)
SECURITY_ERROR = re.compile(r"runAsNonRoot|violates PodSecurity|security context constraint|PodSecurityPolicy|"
                            r"pod security policy|non-numeric user|privileged containers are not allowed|"
                            r"forbidden: unable to validate against any", re.I)
MISSING_CONFIG = re.compile(r"(configmap|secret)s? \"([^\"]+)\" not found|"
                            r"couldn't find key (\S+) in (ConfigMap|Secret) ([^/\s]+)/(\S+)", re.I)
READONLY_FS = re.compile(r"read-only file system", re.I)
ERROR_LINE = re.compile(r"\b(error|exception|panic|fatal|traceback|segmentation fault|unhandled|failed)\b", re.I)


def matching_lines(text: str, pattern: re.Pattern[str], limit: int = 3) -> list[str]:
    """The last `limit` lines of `text` matching `pattern` (the latest failure is the relevant one)."""
    hits = [line.strip() for line in text.splitlines() if pattern.search(line)]
    return hits[-limit:]


def dns_hosts(line: str) -> list[str]:
    return [next(g for g in m.groups() if g).rstrip(".") for m in _DNS_HOST.finditer(line)]


def conn_hosts(line: str) -> list[tuple[str, int]]:
    return [(m.group(1), int(m.group(2))) for m in _HOST_PORT.finditer(line)
            if m.group(1) not in ("localhost", "http", "https", "tcp")]


def service_of_host(host: str, namespace: str) -> tuple[str, str] | None:
    """'db' / 'db.ns' / 'db.ns.svc[.cluster.local]' → (namespace, service); None for an outside host."""
    parts = host.lower().split(".")
    if len(parts) == 1:
        return namespace, parts[0]
    if len(parts) == 2:
        return parts[1], parts[0]
    if parts[2] == "svc":
        return parts[1], parts[0]
    return None
