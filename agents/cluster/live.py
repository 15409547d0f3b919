"""The ClusterReader for a real cluster, over kubernetes-asyncio. Read-only by construction.

Every request goes through one function, `get_json`, which can only send GET: there is no code path here
that writes, patches, deletes, execs or port-forwards. Objects come back as the API server's own JSON
(no model round trip: nothing the client's models do not know is dropped, and large lists are not
deserialised into Python objects first); list items get their `kind`/`apiVersion` back, which the server
leaves out of lists. Secret and ConfigMap values are stripped before anything is returned.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
from dataclasses import dataclass
from typing import Any

import aiohttp
from kubernetes_asyncio import client, config
from kubernetes_asyncio.client.exceptions import ApiException

from agents.cluster.reader import CLUSTER_KINDS, NAMESPACED_KINDS, KubeObject, ReaderError, strip_secret_values

log = logging.getLogger(__name__)

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
MAX_LOG_BYTES = 2 * 1024 * 1024  # a log answer larger than this is cut (limitBytes) rather than held in memory


@dataclass(frozen=True)
class ApiResource:
    prefix: str  # "/api/v1" or "/apis/<group>/<version>"
    kind: str
    namespaced: bool

    @property
    def api_version(self) -> str:
        return "v1" if self.prefix == "/api/v1" else self.prefix.removeprefix("/apis/")


_CORE, _APPS, _BATCH = "/api/v1", "/apis/apps/v1", "/apis/batch/v1"
_ADMISSION = "/apis/admissionregistration.k8s.io/v1"
# Every plural the ClusterReader protocol names, with the group/version a current cluster serves it at.
RESOURCES: dict[str, ApiResource] = {
    "pods": ApiResource(_CORE, "Pod", True), "events": ApiResource(_CORE, "Event", True),
    "services": ApiResource(_CORE, "Service", True), "endpoints": ApiResource(_CORE, "Endpoints", True),
    "replicationcontrollers": ApiResource(_CORE, "ReplicationController", True),
    "persistentvolumeclaims": ApiResource(_CORE, "PersistentVolumeClaim", True),
    "configmaps": ApiResource(_CORE, "ConfigMap", True), "secrets": ApiResource(_CORE, "Secret", True),
    "resourcequotas": ApiResource(_CORE, "ResourceQuota", True),
    "limitranges": ApiResource(_CORE, "LimitRange", True),
    "serviceaccounts": ApiResource(_CORE, "ServiceAccount", True),
    "deployments": ApiResource(_APPS, "Deployment", True), "replicasets": ApiResource(_APPS, "ReplicaSet", True),
    "statefulsets": ApiResource(_APPS, "StatefulSet", True), "daemonsets": ApiResource(_APPS, "DaemonSet", True),
    "jobs": ApiResource(_BATCH, "Job", True), "cronjobs": ApiResource(_BATCH, "CronJob", True),
    "horizontalpodautoscalers": ApiResource("/apis/autoscaling/v2", "HorizontalPodAutoscaler", True),
    "ingresses": ApiResource("/apis/networking.k8s.io/v1", "Ingress", True),
    "networkpolicies": ApiResource("/apis/networking.k8s.io/v1", "NetworkPolicy", True),
    "poddisruptionbudgets": ApiResource("/apis/policy/v1", "PodDisruptionBudget", True),
    "nodes": ApiResource(_CORE, "Node", False), "namespaces": ApiResource(_CORE, "Namespace", False),
    "persistentvolumes": ApiResource(_CORE, "PersistentVolume", False),
    "storageclasses": ApiResource("/apis/storage.k8s.io/v1", "StorageClass", False),
    "validatingwebhookconfigurations": ApiResource(_ADMISSION, "ValidatingWebhookConfiguration", False),
    "mutatingwebhookconfigurations": ApiResource(_ADMISSION, "MutatingWebhookConfiguration", False),
}
assert set(RESOURCES) == NAMESPACED_KINDS | CLUSTER_KINDS, "the resource table must cover the protocol's kinds"
assert all(RESOURCES[k].namespaced for k in NAMESPACED_KINDS)

METRICS_GROUP, METRICS_VERSION = "metrics.k8s.io", "v1beta1"
METRICS_KINDS = {"pods": "PodMetrics", "nodes": "NodeMetrics"}


# --- pure helpers ------------------------------------------------------------------------------------
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")


def checked_name(value: str, what: str) -> str:
    """A Kubernetes object name (DNS subdomain); anything else, e.g. '../secrets', never reaches a URL."""
    if not isinstance(value, str) or not _NAME.match(value):
        raise ReaderError(f"invalid {what} {value!r}: not a Kubernetes name")
    return value


def resource_path(kind: str, namespace: str | None = None, name: str | None = None) -> str:
    """The API path of a plural kind. A namespaced get without a namespace means "default" (as kubectl)."""
    res = RESOURCES.get(kind)
    if res is None:
        raise ReaderError(f"unknown kind {kind!r}; known kinds: {', '.join(sorted(RESOURCES))}")
    if res.namespaced and name is not None and not namespace:
        namespace = "default"
    if res.namespaced and namespace:
        path = f"{res.prefix}/namespaces/{checked_name(namespace, 'namespace')}/{kind}"
    else:
        path = f"{res.prefix}/{kind}"
    return f"{path}/{checked_name(name, 'name')}" if name is not None else path


def label_selector_text(selector: dict[str, str] | None) -> str:
    """{"app": "web", "tier": "fe"} -> "app=web,tier=fe" (equality terms, the form the API takes)."""
    if not selector:
        return ""
    for k, v in selector.items():
        if not k or not isinstance(v, str) or any(c in f"{k}{v}" for c in ",=! ()"):
            raise ReaderError(f"invalid label selector term {k!r}={v!r}")
    return ",".join(f"{k}={v}" for k, v in sorted(selector.items()))


def clean_object(obj: KubeObject, kind: str, api_version: str) -> KubeObject:
    """Give a list item back its kind/apiVersion, drop managedFields, strip Secret/ConfigMap values.

    managedFields (server-side apply bookkeeping) say which client set which field: never a diagnosis fact, often
    half of an object's bytes - they ate the gateway's output cap and an LLM's tokens. kubectl hides them too."""
    obj = {"kind": kind, "apiVersion": api_version, **obj}
    meta = dict(obj.get("metadata") or {})
    meta.pop("managedFields", None)
    if obj["kind"] in ("Secret", "ConfigMap"):
        annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k != LAST_APPLIED}
        meta["annotations"] = annotations  # kubectl apply keeps every value in this annotation
        obj["metadata"] = meta
        return strip_secret_values(obj)
    if "metadata" in obj:
        obj["metadata"] = meta
    return obj


def describe_api_error(cluster_id: str, what: str, exc: ApiException) -> str:
    """One line naming the cluster, the request and what the server said (its Status message)."""
    body = exc.body.decode(errors="replace") if isinstance(exc.body, bytes) else (exc.body or "")
    message = status_message(body)
    return f"cluster {cluster_id}: {what} failed: HTTP {exc.status} {exc.reason or ''}".rstrip() + (
        f": {message}" if message else "")


def status_message(body: str) -> str:
    """The `message` of a Status body, or the start of a body that is not one."""
    try:
        return str(json.loads(body).get("message", ""))[:500]
    except (ValueError, AttributeError):
        return body[:500]


# --- I/O: the one request function -------------------------------------------------------------------
async def get_json(api_client: client.ApiClient, path: str, query: list[tuple[str, Any]] | None = None,
                   timeout: aiohttp.ClientTimeout | None = None) -> dict[str, Any]:
    """GET `path` and return the JSON body as a dict; ApiException on a non-2xx answer."""
    return await api_client.call_api(
        path, "GET", query_params=query or [], header_params={"Accept": "application/json"},
        response_types_map={200: "object"}, auth_settings=["BearerToken"],
        _return_http_data_only=True, _preload_content=True, _request_timeout=timeout)


class LiveReader:
    """ClusterReader over one cluster's API server. `await close()` (or `async with`) when done."""

    def __init__(self, api_client: client.ApiClient, cluster_id: str, request_timeout: float = 10.0,
                 page_size: int = 500) -> None:
        self.api_client = api_client
        self.cluster_id = cluster_id
        self._timeout = aiohttp.ClientTimeout(total=request_timeout)
        self._page_size = page_size

    async def close(self) -> None:
        await self.api_client.close()

    async def __aenter__(self) -> LiveReader:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def list(self, kind: str, namespace: str | None = None,
                   label_selector: dict[str, str] | None = None) -> list[KubeObject]:
        path = resource_path(kind, namespace)
        res = RESOURCES[kind]
        query: list[tuple[str, Any]] = [("limit", self._page_size)]
        if selector := label_selector_text(label_selector):
            query.append(("labelSelector", selector))
        items: list[KubeObject] = []
        token = ""
        while True:  # follow `continue`: a big cluster comes back whole, one page at a time
            body = await self._get(path, query + ([("continue", token)] if token else []), f"list {kind}")
            items.extend(clean_object(o, res.kind, res.api_version) for o in body.get("items") or [])
            token = (body.get("metadata") or {}).get("continue") or ""
            if not token:
                return items

    async def get(self, kind: str, name: str, namespace: str | None = None) -> KubeObject | None:
        path = resource_path(kind, namespace, name)
        res = RESOURCES[kind]
        try:
            body = await self._get(path, None, f"get {kind}/{name}", not_found_ok=True)
        except _NotFound:
            return None
        return clean_object(body, res.kind, res.api_version)

    async def logs(self, namespace: str, pod: str, container: str | None = None,
                   previous: bool = False, tail_lines: int | None = None) -> str:
        if tail_lines is not None and tail_lines < 0:
            raise ReaderError(f"tail_lines must be >= 0, got {tail_lines}")
        path = f"{resource_path('pods', namespace, pod)}/log"  # validates both names
        query: list[tuple[str, Any]] = [("limitBytes", MAX_LOG_BYTES)]
        if container:
            query.append(("container", checked_name(container, "container name")))
        if previous:
            query.append(("previous", True))
        if tail_lines is not None:
            query.append(("tailLines", tail_lines))
        what = f"logs of {namespace}/{pod}" + (f" [{container}]" if container else "")
        try:
            # Raw text: the generated client json-decodes a log that happens to be JSON, mangling it. Accept as
            # kubectl does: the API server answers `Accept: text/plain` with 406 (it negotiates only its
            # serializers); the log comes back as text/plain, an error as a JSON Status.
            resp = await self.api_client.call_api(
                path, "GET", query_params=query, header_params={"Accept": "application/json, */*"},
                auth_settings=["BearerToken"], _preload_content=False, _request_timeout=self._timeout)
            async with resp:
                text = await resp.text(errors="replace")
                if resp.status == 200:
                    return text
                if resp.status == 204:  # the API server's answer for a pod not yet on a node: no log
                    return ""
                status, message = resp.status, status_message(text)
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            raise ReaderError(f"cluster {self.cluster_id}: {what}: unreachable ({type(exc).__name__}: {exc})") from exc
        if status == 404 or (status == 400 and previous and "not found" in message):
            return ""  # no such pod, or no previous container: there is no log
        raise ReaderError(f"cluster {self.cluster_id}: {what} failed: HTTP {status}: {message}")

    async def metrics(self, kind: str, namespace: str | None = None) -> list[KubeObject] | None:
        if kind not in METRICS_KINDS:
            raise ReaderError(f"metrics are only for 'pods' or 'nodes', not {kind!r}")
        if namespace:
            checked_name(namespace, "namespace")
        api = client.CustomObjectsApi(self.api_client)
        try:
            if kind == "pods" and namespace:
                body = await api.list_namespaced_custom_object(
                    METRICS_GROUP, METRICS_VERSION, namespace, kind, _request_timeout=self._timeout)
            else:
                body = await api.list_cluster_custom_object(
                    METRICS_GROUP, METRICS_VERSION, kind, _request_timeout=self._timeout)
        except ApiException as exc:  # 404: metrics-server not installed; 503: installed but not answering
            log.info("metrics API unavailable: HTTP %s", exc.status, extra={"cluster_id": self.cluster_id})
            return None
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            raise ReaderError(f"cluster {self.cluster_id}: metrics {kind}: unreachable "
                              f"({type(exc).__name__}: {exc})") from exc
        return [{"kind": METRICS_KINDS[kind], "apiVersion": f"{METRICS_GROUP}/{METRICS_VERSION}", **o}
                for o in body.get("items") or []]

    async def _get(self, path: str, query: list[tuple[str, Any]] | None, what: str,
                   not_found_ok: bool = False) -> dict[str, Any]:
        try:
            return await get_json(self.api_client, path, query, self._timeout)
        except ApiException as exc:
            if not_found_ok and exc.status == 404:
                raise _NotFound() from exc
            raise ReaderError(describe_api_error(self.cluster_id, what, exc)) from exc
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            raise ReaderError(f"cluster {self.cluster_id}: {what}: unreachable ({type(exc).__name__}: {exc})") from exc


class _NotFound(Exception):
    pass


# --- configuration -----------------------------------------------------------------------------------
async def api_client_from_config(kubeconfig: str | os.PathLike[str] | None = None,
                                 context: str | None = None) -> client.ApiClient:
    """An ApiClient of its own (never the process-wide default), so each cluster keeps its credentials.

    No kubeconfig and running in a pod: the pod's service account (its token is re-read as it rotates).
    Otherwise the kubeconfig (default `$KUBECONFIG` / ~/.kube/config), never written back to; exec-plugin
    tokens are renewed before each request once they expire. A missing or broken file is a ReaderError.
    """
    cfg = client.Configuration()
    try:
        if kubeconfig is None and os.environ.get("KUBERNETES_SERVICE_HOST"):
            config.load_incluster_config(client_configuration=cfg)
        else:
            path = os.fspath(kubeconfig) if kubeconfig is not None else os.path.expanduser(
                os.environ.get("KUBECONFIG", "~/.kube/config").split(os.pathsep)[0])
            if not os.path.isfile(path):
                raise ReaderError(f"kubeconfig {path} does not exist")
            loader = await config.load_kube_config(config_file=path, context=context,
                                                   client_configuration=cfg, persist_config=False)
            if "exec" in (getattr(loader, "_user", None) or {}):
                cfg.refresh_api_key_hook = _exec_token_refresher(loader)
    except ReaderError:
        raise
    except Exception as exc:  # ConfigException, yaml errors, a failing exec plugin
        raise ReaderError(f"cannot load cluster credentials from {kubeconfig or 'the default location'}"
                          f"{f' (context {context})' if context else ''}: {exc}") from exc
    return client.ApiClient(configuration=cfg)


def _exec_token_refresher(loader: Any):
    async def refresh(cfg: client.Configuration) -> None:
        await loader.load_from_exec_plugin()  # a no-op until the plugin's token has expired
        if loader.token:
            cfg.api_key["BearerToken"] = loader.token
    return refresh


async def reader_from_kubeconfig(path: str | os.PathLike[str] | None, context: str | None,
                                 cluster_id: str) -> LiveReader:
    return LiveReader(await api_client_from_config(path, context), cluster_id)
