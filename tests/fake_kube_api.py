"""A fake Kubernetes API server for tests: the real wire protocol, served by aiohttp on 127.0.0.1.

Most tests use a real kube-apiserver + etcd (tests/kubeapi.py). This fake stays only for what a real server will
not do on demand: a watch stream that stays open and silent (stall), a connection cut mid-stream without a
restart, an ERROR 410 on an already open stream, bursts of scripted 5xx, a metrics API that answers or is
unavailable (no metrics-server runs here), and recording every request a client sent (query parameters, the
Authorization header) for tests about what a client asks. It speaks the protocol kubernetes-asyncio 36 uses, byte
for byte where it matters:

- list: `GET /api/v1/{plural}`, `/api/v1/namespaces/{ns}/{plural}`, `/apis/{group}/{version}/...`, with
  `labelSelector`, `fieldSelector` (equality), `limit`/`continue` paging and a list `metadata.resourceVersion`;
  list items carry no `kind`/`apiVersion`, exactly like the real server.
- get: `.../{plural}/{name}`; a missing object is a 404 `Status` body (`reason: NotFound`).
- watch: `?watch=True` (kubernetes-asyncio capitalises booleans; `true`/`1` work too) streams chunked JSON
  lines `{"type": ADDED|MODIFIED|DELETED|BOOKMARK|ERROR, "object": ...}`; `resourceVersion` resumes after that
  version, unset/"0" starts with synthetic ADDED events for what exists; `timeoutSeconds` ends the stream
  cleanly; `allowWatchBookmarks` enables BOOKMARK events; a version older than the retained history gets an
  ERROR event whose object is a `Status` with code 410 (reason Expired), as the watch cache sends it.
- pod logs: `/api/v1/namespaces/{ns}/pods/{name}/log` with `container`, `previous`, `tailLines`, `limitBytes`,
  including the real 400 answers (container name required, previous container not found).
- metrics.k8s.io/v1beta1 pods and nodes; `metrics_status = 404` (API not registered) or 503 (unavailable).
- every verb but GET is refused with 405 and recorded in `writes`, so a test can prove nothing wrote.

Test controls: `add`/`update`/`delete` objects (watchers get the events), `bookmark()`, `expire_history()` and
`gone()` (force 410), `stall_next_watches(n)` (stream opened, nothing ever sent), `end_watches()` (clean close),
`drop_watches()` (connection cut mid-stream), `fail_next(n, status)`, `stop()`/`start()` on the same port
(server down and back), `token` (require a bearer token), and `requests`/`count()` to see what was asked (each request keeps its
`Authorization` header, so a test can tell which credential a client sent).
"""

from __future__ import annotations

import asyncio
import copy
import json
import socket
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.kubeapi import make_event  # noqa: F401 - one event builder for the fake and the real server

Obj = dict[str, Any]


@dataclass(frozen=True)
class Resource:
    prefix: str  # "/api/v1" or "/apis/apps/v1"
    plural: str
    kind: str
    namespaced: bool

    @property
    def api_version(self) -> str:
        return "v1" if self.prefix == "/api/v1" else self.prefix.removeprefix("/apis/")

    @property
    def key(self) -> str:
        return f"{self.prefix}/{self.plural}"


_CORE = "/api/v1"
_TABLE: list[tuple[str, str, str, bool]] = [
    (_CORE, "pods", "Pod", True), (_CORE, "events", "Event", True), (_CORE, "services", "Service", True),
    (_CORE, "endpoints", "Endpoints", True), (_CORE, "configmaps", "ConfigMap", True),
    (_CORE, "secrets", "Secret", True), (_CORE, "persistentvolumeclaims", "PersistentVolumeClaim", True),
    (_CORE, "replicationcontrollers", "ReplicationController", True),
    (_CORE, "resourcequotas", "ResourceQuota", True), (_CORE, "limitranges", "LimitRange", True),
    (_CORE, "serviceaccounts", "ServiceAccount", True),
    (_CORE, "nodes", "Node", False), (_CORE, "namespaces", "Namespace", False),
    (_CORE, "persistentvolumes", "PersistentVolume", False),
    ("/apis/apps/v1", "deployments", "Deployment", True), ("/apis/apps/v1", "replicasets", "ReplicaSet", True),
    ("/apis/apps/v1", "statefulsets", "StatefulSet", True), ("/apis/apps/v1", "daemonsets", "DaemonSet", True),
    ("/apis/batch/v1", "jobs", "Job", True), ("/apis/batch/v1", "cronjobs", "CronJob", True),
    ("/apis/autoscaling/v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", True),
    ("/apis/networking.k8s.io/v1", "ingresses", "Ingress", True),
    ("/apis/networking.k8s.io/v1", "networkpolicies", "NetworkPolicy", True),
    ("/apis/policy/v1", "poddisruptionbudgets", "PodDisruptionBudget", True),
    ("/apis/storage.k8s.io/v1", "storageclasses", "StorageClass", False),
    ("/apis/admissionregistration.k8s.io/v1", "validatingwebhookconfigurations",
     "ValidatingWebhookConfiguration", False),
    ("/apis/admissionregistration.k8s.io/v1", "mutatingwebhookconfigurations",
     "MutatingWebhookConfiguration", False),
    ("/apis/metrics.k8s.io/v1beta1", "pods", "PodMetrics", True),
    ("/apis/metrics.k8s.io/v1beta1", "nodes", "NodeMetrics", False),
]
RESOURCES: dict[str, Resource] = {f"{p}/{pl}": Resource(p, pl, k, n) for p, pl, k, n in _TABLE}
METRICS_PREFIX = "/apis/metrics.k8s.io/v1beta1"


def resource_for(plural: str, api: str | None = None) -> Resource:
    """The resource a test means by `plural`; `api` ("metrics.k8s.io/v1beta1", "apps/v1") disambiguates."""
    if api is not None:
        prefix = _CORE if api == "v1" else f"/apis/{api}"
        return RESOURCES[f"{prefix}/{plural}"]
    found = [r for r in RESOURCES.values() if r.plural == plural and r.prefix != METRICS_PREFIX]
    if len(found) != 1:
        raise KeyError(f"unknown plural {plural!r}")
    return found[0]


def status_body(code: int, reason: str, message: str) -> Obj:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


def write_kubeconfig(path: Path, server: str, token: str) -> Path:
    """A one-context kubeconfig for a fake API server at `server`, authenticating with `token`."""
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "x",
        "clusters": [{"name": "x", "cluster": {"server": server}}],
        "users": [{"name": "x", "user": {"token": token}}],
        "contexts": [{"name": "x", "context": {"cluster": "x", "user": "x"}}]}))
    return path


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _get_path(obj: Obj, dotted: str) -> Any:
    cur: Any = obj
    for part in dotted.split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    return cur


class BadSelector(ValueError):
    pass


def _match_labels(obj: Obj, selector: str) -> bool:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    for term in filter(None, (t.strip() for t in selector.split(","))):
        if " in " in term or " notin " in term or "(" in term:
            raise BadSelector(f"unsupported label selector term {term!r}")
        if "!=" in term:
            k, v = term.split("!=", 1)
            if labels.get(k.strip()) == v.strip():
                return False
        elif "=" in term:
            k, v = term.replace("==", "=").split("=", 1)
            if labels.get(k.strip()) != v.strip():
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


def _match_fields(obj: Obj, selector: str) -> bool:
    for term in filter(None, (t.strip() for t in selector.split(","))):
        negate = "!=" in term
        k, v = term.replace("==", "=").split("!=" if negate else "=", 1)
        actual = _get_path(obj, k.strip())
        actual = "" if actual is None else str(actual)
        if (actual == v.strip()) == negate:
            return False
    return True


@dataclass
class _Watch:
    resource: Resource
    namespace: str | None
    label_selector: str
    field_selector: str
    bookmarks: bool
    queue: asyncio.Queue = field(default_factory=asyncio.Queue)
    request: web.Request | None = None


@dataclass
class RequestRecord:
    method: str
    path: str
    query: dict[str, str]
    authorization: str = ""

    @property
    def is_watch(self) -> bool:
        return self.query.get("watch", "").lower() in ("true", "1")


class FakeKubeAPI:
    """One fake cluster. `async with FakeKubeAPI() as api:` or `await api.start()` / `await api.stop()`."""

    def __init__(self, token: str | None = None) -> None:
        self.token = token
        self.port: int | None = None
        self.rv = 1  # the cluster's resourceVersion counter (etcd revision)
        self.oldest_rv = 0  # watches from a version below this get 410 Gone
        self._objects: dict[str, dict[tuple[str, str], Obj]] = {k: {} for k in RESOURCES}
        self._history: list[tuple[int, str, str, Obj]] = []  # (rv, type, resource key, object)
        self._logs: dict[tuple[str, str, str, bool], str] = {}
        self._watches: list[_Watch] = []
        self._stall = 0
        self._fail: list[tuple[int, str | None]] = []  # (status, path substring) per scripted failure
        self._runner: web.AppRunner | None = None
        self.metrics_status: int | None = None  # 404: metrics API not registered; 503: unavailable
        self.requests: list[RequestRecord] = []
        self.writes: list[RequestRecord] = []

    # --- lifecycle -------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> FakeKubeAPI:
        """Serve on a free port, or on the previous port again after `stop()` (the server came back)."""
        if self.port is None:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                self.port = s.getsockname()[1]
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True).start()
        return self

    async def stop(self) -> None:
        """The server goes away: open streams are cut, new connections are refused."""
        self.drop_watches()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeKubeAPI:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- objects ---------------------------------------------------------------------------------
    def add(self, plural: str, obj: Obj, api: str | None = None) -> Obj:
        """Create an object (ADDED to watchers); fills uid, namespace, creationTimestamp, resourceVersion."""
        res = resource_for(plural, api)
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        if "name" not in meta:
            raise ValueError("metadata.name is required")
        if res.namespaced:
            meta.setdefault("namespace", "default")
        meta.setdefault("uid", str(uuid.uuid4()))
        meta.setdefault("creationTimestamp", _now())
        return self._write(res, obj, "ADDED")

    def update(self, plural: str, obj: Obj, api: str | None = None) -> Obj:
        res = resource_for(plural, api)
        meta = obj["metadata"]
        old = self._objects[res.key].get((meta.get("namespace", ""), meta["name"]))
        if old is None:
            raise KeyError(f"{plural} {meta['name']} does not exist")
        obj = copy.deepcopy(obj)
        obj["metadata"].setdefault("uid", old["metadata"]["uid"])
        return self._write(res, obj, "MODIFIED")

    def delete(self, plural: str, name: str, namespace: str = "", api: str | None = None) -> None:
        res = resource_for(plural, api)
        obj = self._objects[res.key].pop((namespace if res.namespaced else "", name))
        self.rv += 1
        obj = copy.deepcopy(obj)
        obj["metadata"]["resourceVersion"] = str(self.rv)
        self._record(res, obj, "DELETED")

    def get_object(self, plural: str, name: str, namespace: str = "", api: str | None = None) -> Obj | None:
        res = resource_for(plural, api)
        return self._objects[res.key].get((namespace if res.namespaced else "", name))

    def set_logs(self, namespace: str, pod: str, text: str, container: str = "", previous: bool = False) -> None:
        """Log text of a container ('' container: the pod's only container)."""
        self._logs[(namespace, pod, container, previous)] = text

    def _write(self, res: Resource, obj: Obj, kind: str) -> Obj:
        self.rv += 1
        meta = obj["metadata"]
        meta["resourceVersion"] = str(self.rv)
        self._objects[res.key][(meta.get("namespace", "") if res.namespaced else "", meta["name"])] = obj
        self._record(res, obj, kind)
        return copy.deepcopy(obj)

    def _record(self, res: Resource, obj: Obj, kind: str) -> None:
        self._history.append((self.rv, kind, res.key, obj))
        for w in list(self._watches):
            if w.resource.key == res.key and self._visible(w, obj):
                w.queue.put_nowait(("event", kind, obj))

    # --- scripted trouble ------------------------------------------------------------------------
    def bookmark(self) -> None:
        """Send a BOOKMARK at the current resourceVersion to every watch that asked for bookmarks."""
        for w in self._watches:
            if w.bookmarks:
                w.queue.put_nowait(("bookmark", str(self.rv)))

    def expire_history(self) -> None:
        """Compact past every version handed out so far: resuming from any of them gets 410 Gone.

        The version moves on by one (as other writes would), so a fresh list starts from a valid version.
        """
        self.rv += 1
        self.oldest_rv = self.rv
        self._history.clear()

    def gone(self) -> None:
        """Force 410 on open watches too: compact history and send each an ERROR 410, then end it."""
        self.expire_history()
        for w in self._watches:
            w.queue.put_nowait(("gone",))

    def stall_next_watches(self, n: int = 1) -> None:
        """The next n watch requests get a 200 and an open stream on which nothing is ever sent."""
        self._stall += n

    def fail_next(self, n: int = 1, status: int = 500, path_contains: str | None = None) -> None:
        """The next n matching requests get this HTTP status with a Status body."""
        self._fail.extend([(status, path_contains)] * n)

    def end_watches(self) -> None:
        """Close every open watch cleanly (what a server-side timeout does)."""
        for w in self._watches:
            w.queue.put_nowait(("end",))

    def drop_watches(self) -> None:
        """Cut every open watch connection mid-stream (no terminating chunk)."""
        for w in list(self._watches):
            if w.request is not None and w.request.transport is not None:
                w.request.transport.close()
            w.queue.put_nowait(("drop",))

    @property
    def open_watches(self) -> int:
        """Watch streams whose client is still connected."""
        return sum(1 for w in self._watches
                   if w.request is not None and w.request.transport is not None
                   and not w.request.transport.is_closing())

    def count(self, path: str | None = None, watch: bool | None = None) -> int:
        """Requests received, optionally only those whose path ends with `path` and of one mode."""
        return sum(1 for r in self.requests
                   if (path is None or r.path.endswith(path)) and (watch is None or r.is_watch == watch))

    # --- HTTP ------------------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        rec = RequestRecord(request.method, request.path, dict(request.query), request.headers.get("Authorization", ""))
        self.requests.append(rec)
        if self.token is not None and request.headers.get("Authorization") != f"Bearer {self.token}":
            return _status(401, "Unauthorized", "Unauthorized")
        if request.method != "GET":
            self.writes.append(rec)
            return _status(405, "MethodNotAllowed", f"{request.method} is not supported by this server")
        for i, (status, needle) in enumerate(self._fail):
            if needle is None or needle in request.path:
                del self._fail[i]
                return _status(status, "InternalError" if status >= 500 else "BadRequest", "scripted failure")
        try:
            return await self._route(request, rec)
        except BadSelector as exc:
            return _status(400, "BadRequest", str(exc))

    async def _route(self, request: web.Request, rec: RequestRecord) -> web.StreamResponse:
        segs = [s for s in request.path.split("/") if s]
        if segs[:2] == ["api", "v1"]:
            prefix, rest = _CORE, segs[2:]
        elif len(segs) >= 3 and segs[0] == "apis":
            prefix, rest = f"/apis/{segs[1]}/{segs[2]}", segs[3:]
        else:
            return _status(404, "NotFound", "the server could not find the requested resource")
        namespace: str | None = None
        if len(rest) >= 3 and rest[0] == "namespaces":
            namespace, rest = rest[1], rest[2:]
        if not rest or f"{prefix}/{rest[0]}" not in RESOURCES:
            return _status(404, "NotFound", "the server could not find the requested resource")
        res = RESOURCES[f"{prefix}/{rest[0]}"]
        if prefix == METRICS_PREFIX and self.metrics_status is not None:
            reason = "NotFound" if self.metrics_status == 404 else "ServiceUnavailable"
            return _status(self.metrics_status, reason, "the server is currently unable to handle the request")
        if namespace is not None and not res.namespaced:
            return _status(404, "NotFound", f"{res.plural} is not namespaced")
        if len(rest) == 1:
            if rec.is_watch:
                return await self._watch(request, res, namespace)
            return self._list(request, res, namespace)
        if len(rest) == 2:
            return self._get(res, rest[1], namespace)
        if len(rest) == 3 and res.plural == "pods" and prefix == _CORE and rest[2] == "log":
            return self._log(request, namespace or "", rest[1])
        return _status(404, "NotFound", "the server could not find the requested resource")

    def _visible(self, w: _Watch | None, obj: Obj, namespace: str | None = None,
                 labels: str = "", fields: str = "") -> bool:
        if w is not None:
            namespace, labels, fields = w.namespace, w.label_selector, w.field_selector
        if namespace is not None and obj["metadata"].get("namespace") != namespace:
            return False
        return _match_labels(obj, labels) and _match_fields(obj, fields)

    def _list(self, request: web.Request, res: Resource, namespace: str | None) -> web.Response:
        q = request.query
        items = [o for o in self._objects[res.key].values()
                 if self._visible(None, o, namespace, q.get("labelSelector", ""), q.get("fieldSelector", ""))]
        items.sort(key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))
        list_rv, start = str(self.rv), 0
        if q.get("continue"):
            try:
                token_rv, start_s = q["continue"].split(":")
                list_rv, start = token_rv, int(start_s)
            except ValueError:
                return _status(400, "BadRequest", "invalid continue token")
            if int(token_rv) < self.oldest_rv:
                return _status(410, "Expired", "The provided continue parameter is too old")
        limit = int(q.get("limit") or 0)
        page = items[start:start + limit] if limit else items[start:]
        meta: Obj = {"resourceVersion": list_rv}
        if limit and start + limit < len(items):
            meta["continue"] = f"{list_rv}:{start + limit}"
        body = {"kind": f"{res.kind}List", "apiVersion": res.api_version, "metadata": meta,
                "items": [copy.deepcopy(o) for o in page]}  # list items carry no kind/apiVersion
        return web.json_response(body)

    def _get(self, res: Resource, name: str, namespace: str | None) -> web.Response:
        obj = self._objects[res.key].get((namespace or "", name) if res.namespaced else ("", name))
        if obj is None:
            return _status(404, "NotFound", f'{res.plural} "{name}" not found')
        return web.json_response(_typed(res, obj))

    def _log(self, request: web.Request, namespace: str, name: str) -> web.Response:
        pod = self._objects[f"{_CORE}/pods"].get((namespace, name))
        if pod is None:
            return _status(404, "NotFound", f'pods "{name}" not found')
        containers = [c["name"] for c in (pod.get("spec") or {}).get("containers", [])]
        container = request.query.get("container", "")
        if not container:
            if len(containers) > 1:
                return _status(400, "BadRequest", f"a container name must be specified for pod {name}, "
                                                   f"choose one of: [{' '.join(containers)}]")
            container = containers[0] if containers else ""
        elif container not in containers:
            return _status(400, "BadRequest", f"container {container} is not valid for pod {name}")
        previous = request.query.get("previous", "").lower() in ("true", "1")
        text = self._logs.get((namespace, name, container, previous))
        if text is None:
            text = self._logs.get((namespace, name, "", previous))
        if text is None and previous:
            return _status(400, "BadRequest",
                           f'previous terminated container "{container}" in pod "{name}" not found')
        text = text or ""
        if request.query.get("tailLines"):
            lines = text.splitlines(keepends=True)
            text = "".join(lines[-int(request.query["tailLines"]):]) if int(request.query["tailLines"]) else ""
        if request.query.get("limitBytes"):
            text = text.encode()[: int(request.query["limitBytes"])].decode(errors="ignore")
        return web.Response(text=text, content_type="text/plain")

    async def _watch(self, request: web.Request, res: Resource, namespace: str | None) -> web.StreamResponse:
        q = request.query
        w = _Watch(res, namespace, q.get("labelSelector", ""), q.get("fieldSelector", ""),
                   q.get("allowWatchBookmarks", "").lower() in ("true", "1"), request=request)
        _match_labels({"metadata": {}}, w.label_selector)  # reject a bad selector before streaming
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        if self._stall > 0:
            self._stall -= 1
            self._watches.append(w)  # so drop_watches()/stop() can cut it; it never gets a line
            try:
                while (await w.queue.get())[0] != "drop":
                    pass
            finally:
                self._watches.remove(w)
            return resp
        # Subscribe and snapshot in one step (no await between), so nothing falls in a gap.
        start = q.get("resourceVersion", "")
        initial: list[tuple[str, Obj]] = []
        if start and start != "0":
            if int(start) < self.oldest_rv:
                await _send(resp, "ERROR", status_body(
                    410, "Expired", f"too old resource version: {start} ({self.oldest_rv})"))
                return resp
            initial = [(t, o) for rv, t, k, o in self._history
                       if k == res.key and rv > int(start) and self._visible(w, o)]
        else:
            initial = [("ADDED", o) for o in self._objects[res.key].values() if self._visible(w, o)]
        self._watches.append(w)
        try:
            for kind, obj in initial:
                await _send(resp, kind, _typed(res, obj))
            timeout = float(q["timeoutSeconds"]) if q.get("timeoutSeconds") else None
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout if timeout else None
            while True:
                remaining = None if deadline is None else deadline - loop.time()
                if remaining is not None and remaining <= 0:
                    break
                try:
                    item = await asyncio.wait_for(w.queue.get(), remaining)
                except TimeoutError:
                    break
                if item[0] == "event":
                    await _send(resp, item[1], _typed(res, item[2]))
                elif item[0] == "bookmark":
                    await _send(resp, "BOOKMARK", {"kind": res.kind, "apiVersion": res.api_version,
                                                   "metadata": {"resourceVersion": item[1]}})
                elif item[0] == "gone":
                    await _send(resp, "ERROR", status_body(410, "Expired", "too old resource version"))
                    break
                elif item[0] == "drop":
                    return resp
                else:  # end
                    break
            await resp.write_eof()
        except (ConnectionResetError, RuntimeError):
            pass  # the client went away
        finally:
            if w in self._watches:
                self._watches.remove(w)
        return resp


def _typed(res: Resource, obj: Obj) -> Obj:
    return {"kind": res.kind, "apiVersion": res.api_version, **copy.deepcopy(obj)}


async def _send(resp: web.StreamResponse, kind: str, obj: Obj) -> None:
    await resp.write(json.dumps({"type": kind, "object": obj}).encode() + b"\n")


def _status(code: int, reason: str, message: str) -> web.Response:
    return web.json_response(status_body(code, reason, message), status=code)
