"""Seed a real API server with the objects of a dump scenario, and serve its logs.

`seed_objects(kube, builder_or_objects, kubelet_port)` turns what a scenario built for the dump corpus (a
tests/dumpkit.DumpBuilder, or any dump directory read back with `dump_objects(root)`) into API requests, so any
scenario (tests/test_rules_categories.py, tests/corpus) also runs against kube-apiserver:
- every object is created through its collection (`POST`), then given its status through the `status`
  subresource (`PUT .../status`), as the kubelet and the controllers would. Owner references are rewritten to the
  uids the server assigned (a dump scenario makes up its own), and objects are created owners first.
- the API validates what a dump never has to: fields a scenario leaves out because no rule reads them are filled
  with the smallest valid value (a Deployment's pod template, a PersistentVolume's source, a webhook's
  sideEffects); nothing a rule reads is added or changed. Webhook configurations get no `rules`, so the real
  server never calls them. ResourceQuotas come after the objects they count (the quota admission plugin is on).
- each Endpoints also gets its EndpointSlice (what the EndpointSlice mirroring controller would write).

Logs: without a kubelet the API server cannot serve `pods/log`. `FakeKubelet` is the smallest kubelet that can: an
HTTPS server (certificate from the test CA, which the API server is told to trust) answering the kubelet's
`/containerLogs/{ns}/{pod}/{container}` from the scenario's dump. Every Node is seeded with that address and port,
so a log read travels the real path: LiveReader -> kube-apiserver (RBAC on pods/log, container-name checks) ->
kubelet. It is a fake only for the kubelet, which cannot run here.
"""

from __future__ import annotations

import asyncio
import copy
import json
import ssl
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from agents.cluster.dump import DumpReader
from agents.cluster.live import RESOURCES
from tests.dumpkit import DumpBuilder
from tests.kubeapi import Kube, KubeError

Obj = dict[str, Any]
PLACEHOLDER = {"name": "app", "image": "registry.example.com/app:1.0"}
# Owners before what they own; quotas after what they count; events last.
ORDER = ["nodes", "storageclasses", "persistentvolumes", "validatingwebhookconfigurations",
         "mutatingwebhookconfigurations", "configmaps", "secrets", "serviceaccounts", "deployments", "replicasets",
         "statefulsets", "daemonsets", "jobs", "cronjobs", "replicationcontrollers", "pods", "services",
         "endpoints", "persistentvolumeclaims", "limitranges", "horizontalpodautoscalers", "ingresses",
         "networkpolicies", "poddisruptionbudgets", "resourcequotas", "events"]
NO_STATUS = {"configmaps", "secrets", "serviceaccounts", "events", "endpoints", "storageclasses", "limitranges",
             "validatingwebhookconfigurations", "mutatingwebhookconfigurations", "networkpolicies"}
SPEC_KINDS = {"deployments", "statefulsets", "daemonsets", "replicasets", "jobs", "persistentvolumes", "services"}
SYSTEM_NAMESPACES = {"default", "kube-system", "kube-public", "kube-node-lease"}


def collection(plural: str, namespace: str | None, prefix: str | None = None) -> str:
    res = RESOURCES[plural]
    prefix = prefix or res.prefix
    return f"{prefix}/namespaces/{namespace}/{plural}" if res.namespaced else f"{prefix}/{plural}"


@dataclass
class Seeded:
    """What was created, so `unseed` can take it all away again (the server has no garbage collector)."""

    paths: list[str]
    namespaces: list[str]


def _template(labels: dict[str, str], restart: str | None = None) -> Obj:
    spec: Obj = {"containers": [dict(PLACEHOLDER)]}
    if restart:
        spec["restartPolicy"] = restart
    return {"metadata": {"labels": dict(labels)}, "spec": spec}


def complete(plural: str, obj: Obj, kubelet_port: int) -> Obj:
    """`obj` with the fields the API requires and a dump scenario may leave out (never one a rule reads)."""
    obj = copy.deepcopy(obj)
    meta = obj.setdefault("metadata", {})
    for key in ("uid", "creationTimestamp", "resourceVersion", "managedFields", "generation"):
        meta.pop(key, None)  # the server assigns these
    obj.pop("kind", None)  # the collection says what it is
    obj.pop("apiVersion", None)
    spec: Obj = obj.setdefault("spec", {}) if plural in SPEC_KINDS else {}
    if plural in ("deployments", "statefulsets", "replicasets"):
        _consistent_replicas(obj.get("status") or {})
    if plural in ("deployments", "statefulsets", "daemonsets", "replicasets"):
        labels = ((spec.get("selector") or {}).get("matchLabels")
                  or (spec.get("template") or {}).get("metadata", {}).get("labels") or meta.get("labels")
                  or {"app": meta["name"]})
        spec.setdefault("selector", {"matchLabels": labels})
        template = spec.setdefault("template", {})
        template.setdefault("metadata", {}).setdefault("labels", labels)
        template.setdefault("spec", {}).setdefault("containers", [dict(PLACEHOLDER)])
    elif plural == "jobs":
        template = spec.setdefault("template", _template({"job-name": meta["name"]}, restart="Never"))
        template.setdefault("spec", {}).setdefault("containers", [dict(PLACEHOLDER)])
        template["spec"].setdefault("restartPolicy", "Never")
        _finished_job_status(obj)
    elif plural == "persistentvolumes":
        spec.setdefault("capacity", {"storage": "10Gi"})
        spec.setdefault("accessModes", ["ReadWriteOnce"])
        if not any(k in spec for k in ("csi", "hostPath", "local", "nfs")):
            spec["csi"] = {"driver": "ebs.csi.aws.com", "volumeHandle": f"vol-{meta['name']}"}
    elif plural in ("validatingwebhookconfigurations", "mutatingwebhookconfigurations"):
        for hook in obj.get("webhooks") or []:
            hook.setdefault("sideEffects", "None")
            hook.setdefault("admissionReviewVersions", ["v1"])
            hook.pop("rules", None)  # a seeded webhook must never intercept the test's own requests
    elif plural == "nodes":
        # Always the test kubelet on loopback, whatever addresses the scenario gives its nodes: the API server
        # connects to a node's address for pod logs, and nothing but 127.0.0.1 may ever be dialled from a test.
        status = obj.setdefault("status", {})
        status["addresses"] = [{"type": "InternalIP", "address": "127.0.0.1"}]
        status["daemonEndpoints"] = {"kubeletEndpoint": {"Port": kubelet_port}}
    elif plural == "pods":
        for c in [*spec_of(obj).get("containers", []), *spec_of(obj).get("initContainers", [])]:
            res = c.get("resources") or {}
            for name, quantity in (res.get("requests") or {}).items():
                if name.startswith("hugepages-") or ("/" in name and not name.startswith("kubernetes.io/")):
                    # hugepages and extended resources cannot be overcommitted: the API requires limit == request
                    res.setdefault("limits", {}).setdefault(name, quantity)
    elif plural == "events" and obj.get("eventTime"):
        # An event written as events.k8s.io writers do (eventTime, series): the API requires who reported it.
        component = obj.get("reportingComponent") or (obj.get("source") or {}).get("component") or "default-scheduler"
        obj.setdefault("reportingComponent", component)
        obj.setdefault("reportingInstance", f"{component}-test")
        obj.setdefault("action", obj.get("reason") or "Unknown")
    elif plural == "services":
        if spec.get("selector") is None:
            spec.pop("selector", None)
    return obj


def _consistent_replicas(status: Obj) -> None:
    """The counts a workload controller writes never exceed the pods it has (the API refuses otherwise):
    updated, ready <= replicas; available <= ready. A scenario that says more is cut to that."""
    if "replicas" not in status:
        return
    for key in ("updatedReplicas", "readyReplicas"):
        if key in status:
            status[key] = min(status[key], status["replicas"])
    if "availableReplicas" in status and "readyReplicas" in status:
        status["availableReplicas"] = min(status["availableReplicas"], status["readyReplicas"])


def _finished_job_status(job: Obj) -> None:
    """A finished Job as the 1.31+ job controller writes it: FailureTarget before Failed, SuccessCriteriaMet before
    Complete, a startTime (and completionTime when complete) - the API refuses a finished status without them."""
    status = job.get("status") or {}
    conditions = status.get("conditions") or []
    done = {c.get("type"): c for c in conditions if c.get("status") == "True"}
    for final, target in (("Failed", "FailureTarget"), ("Complete", "SuccessCriteriaMet")):
        if final in done and target not in done:
            conditions.insert(conditions.index(done[final]), {**done[final], "type": target})
    if done.keys() & {"Failed", "Complete"}:
        times = sorted(c["lastTransitionTime"] for c in conditions if c.get("lastTransitionTime"))
        start = status.setdefault("startTime", times[0] if times else "2024-01-15T14:00:00Z")
        if "Complete" in done:
            status.setdefault("completionTime", times[-1] if times else start)
        for c in conditions:
            c.setdefault("lastTransitionTime", start)


def api_prefix(plural: str, obj: Obj) -> str:
    """Where to create an object: its own API version where the scenario wrote an older one the server still
    serves (an autoscaling/v1 HPA: the server converts it, and the reader reads it back as autoscaling/v2)."""
    if plural == "horizontalpodautoscalers" and (obj.get("apiVersion") == "autoscaling/v1"
                                                 or "targetCPUUtilizationPercentage" in (obj.get("spec") or {})):
        return "/apis/autoscaling/v1"
    return RESOURCES[plural].prefix


def spec_of(obj: Obj) -> Obj:
    return obj.get("spec") or {}


def endpoint_slice(endpoints: Obj) -> Obj:
    """The EndpointSlice the mirroring controller would write for an Endpoints object."""
    name = endpoints["metadata"]["name"]
    items: list[Obj] = []
    for subset in endpoints.get("subsets") or []:
        for ready, key in ((True, "addresses"), (False, "notReadyAddresses")):
            for addr in subset.get(key) or []:
                items.append({"addresses": [addr["ip"]], "conditions": {"ready": ready}})
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": f"{name}-mirror", "labels": {"kubernetes.io/service-name": name,
                                                              "endpointslice.kubernetes.io/managed-by": "aetherius-test"}},
            "addressType": "IPv4", "endpoints": items, "ports": []}


Objects = list[tuple[str, str | None, Obj]]  # (plural, namespace or None, object), in creation order


def builder_objects(builder: DumpBuilder) -> Objects:
    """What a DumpBuilder holds, owners first."""
    out = [(plural, None, o) for plural, items in builder.cluster_objects.items() for o in items]
    out += [(plural, ns, o) for ns, kinds in builder.ns_objects.items() for plural, items in kinds.items()
            for o in items]
    unknown = {p for p, _, _ in out} - set(ORDER)
    if unknown:
        raise ValueError(f"no API mapping for {sorted(unknown)}")
    return sorted(out, key=lambda t: ORDER.index(t[0]))


async def dump_objects(root: Path) -> Objects:
    """What a dump directory holds (any dump the DumpReader reads: a DumpBuilder's, the corpus's, kubectl's),
    owners first. Secret and ConfigMap values never leave a reader: they are seeded with their keys, empty."""
    reader = DumpReader(root)
    out: Objects = []
    for plural in ORDER:
        if not RESOURCES[plural].namespaced:
            out += [(plural, None, o) for o in await reader.list(plural)]
            continue
        for ns in await reader.namespaces():
            for obj in await reader.list(plural, ns):
                if plural in ("secrets", "configmaps"):
                    obj = {k: v for k, v in obj.items() if k != "keys"} | {"data": {k: "" for k in obj["keys"]}}
                out.append((plural, ns, obj))
    return out


async def seed_objects(kube: Kube, source: DumpBuilder | Objects, kubelet_port: int) -> Seeded:
    """Create the objects (a DumpBuilder's, or `dump_objects(root)`); returns what to delete afterwards."""
    objects = builder_objects(source) if isinstance(source, DumpBuilder) else source
    seeded = Seeded([], [])
    for ns in sorted({ns for _, ns, _ in objects if ns}):
        if ns not in SYSTEM_NAMESPACES:
            await kube.ensure("/api/v1/namespaces", {"metadata": {"name": ns}})
            seeded.namespaces.append(ns)
    try:
        await _create_all(kube, objects, kubelet_port, seeded)
    except BaseException:
        await unseed(kube, seeded)  # nothing half-seeded stays behind for the next scenario
        raise
    return seeded


async def _create_all(kube: Kube, objects: Objects, kubelet_port: int, seeded: Seeded) -> None:
    uids: dict[str, str] = {}  # the uid the scenario made up -> the uid the server assigned
    for plural, ns, original in objects:
        obj = complete(plural, original, kubelet_port)
        for ref in obj.get("metadata", {}).get("ownerReferences") or []:
            ref["uid"] = uids.get(ref.get("uid", ""), ref.get("uid", ""))
        base = collection(plural, ns, api_prefix(plural, original))
        if plural == "services":
            await _service_cidr_for(kube, obj)
        created = await _create(kube, base, obj)
        path = f"{base}/{created['metadata']['name']}"
        seeded.paths.append(path)
        uids[original["metadata"].get("uid", "")] = created["metadata"]["uid"]
        if plural == "nodes" and (created.get("spec") or {}).get("taints") != (obj.get("spec") or {}).get("taints"):
            # The TaintNodesByCondition admission plugin gives every new node the not-ready taint, which the node
            # lifecycle controller lifts once the kubelet reports; there is none, so put the scenario's back.
            created = await kube.request("PUT", path, {**created, "spec": obj.get("spec") or {}})
        if plural not in NO_STATUS and obj.get("status") is not None:
            status = dict(obj["status"])
            if plural == "pods":  # derived by the server from the pod's resources at creation, and immutable
                status["qosClass"] = (created.get("status") or {}).get("qosClass")
            created["status"] = status
            await kube.request("PUT", f"{path}/status", created)
        if plural == "endpoints" and obj.get("subsets"):
            slice_base = f"/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices"
            created_slice = await kube.create(slice_base, endpoint_slice(obj))
            seeded.paths.append(f"{slice_base}/{created_slice['metadata']['name']}")


async def _service_cidr_for(kube: Kube, service: Obj) -> None:
    """A scenario's Service keeps its clusterIP (a log line may name it); where the server's range does not hold
    it, a ServiceCIDR (networking.k8s.io/v1) for its /16 is added, as a cluster operator would."""
    ip = (service.get("spec") or {}).get("clusterIP") or ""
    parts = ip.split(".")
    if len(parts) != 4 or ip.startswith("10.96."):  # "None" (headless), unset, or in --service-cluster-ip-range
        return
    # Kept after the scenario, like its namespaces: a ServiceCIDR being deleted would refuse the next one's IPs.
    await kube.ensure("/apis/networking.k8s.io/v1/servicecidrs", {
        "metadata": {"name": f"seed-{parts[0]}-{parts[1]}"}, "spec": {"cidrs": [f"{parts[0]}.{parts[1]}.0.0/16"]}})


async def _create(kube: Kube, base: str, obj: Obj, attempts: int = 50) -> Obj:
    """POST, retrying the moment a new ServiceCIDR takes to be ready for allocation."""
    for attempt in range(attempts):
        try:
            return await kube.create(base, obj)
        except KubeError as exc:
            if exc.status != 422 or "does not match the current range" not in exc.body or attempt == attempts - 1:
                raise
            await asyncio.sleep(0.1)
    raise AssertionError("unreachable")


async def unseed(kube: Kube, seeded: Seeded) -> None:
    """Delete what `seed_objects` made (grace period 0: there is no kubelet to confirm a pod stopped).

    Namespaces stay: without the namespace controller a deleted namespace would stay Terminating for ever."""
    await asyncio.gather(*(kube.delete(p) for p in reversed(seeded.paths)))


async def dump_cluster(kube: Kube, dest: Path, logs_from: Path) -> Path:
    """The live cluster written as a dump directory, as `kubectl cluster-info dump --all-namespaces` (and the
    DumpReader's extras) would write it: every kind of the reader's table, listed as the admin, items without
    `kind` and managedFields, one directory per namespace. Pod logs are what the test kubelet serves: `logs_from`'s."""
    namespaces = [n["metadata"]["name"] for n in (await kube.request("GET", "/api/v1/namespaces"))["items"]]
    for ns in namespaces:
        (dest / ns).mkdir(parents=True, exist_ok=True)
    for plural, res in RESOURCES.items():
        if plural == "namespaces":
            continue
        body = await kube.request("GET", f"{res.prefix}/{plural}")
        lists: dict[Path, list[Obj]] = {}
        for item in body.get("items") or []:
            item.get("metadata", {}).pop("managedFields", None)
            ns = item["metadata"].get("namespace")
            lists.setdefault(dest / ns if ns else dest, []).append(item)
        for directory, items in lists.items():
            name = {"replicationcontrollers": "replication-controllers"}.get(plural, plural)
            (directory / f"{name}.json").write_text(json.dumps({"kind": "List", "apiVersion": "v1", "items": items}))
    for path in logs_from.rglob("*.txt"):
        target = dest / path.relative_to(logs_from)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
    return dest


# --- the kubelet's log endpoint ---------------------------------------------------------------------------------
class FakeKubelet:
    """`/containerLogs/{ns}/{pod}/{container}` over HTTPS on 127.0.0.1, from a DumpReader set per scenario.

    Runs in a thread with its own event loop, so it serves while a test's loop (or none) runs."""

    def __init__(self, cert: Path, key: Path) -> None:
        self.ssl = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ssl.load_cert_chain(str(cert), str(key))
        self.source: DumpReader | None = None
        self.requests: list[str] = []
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fake-kubelet", daemon=True)

    async def _logs(self, request: web.Request) -> web.Response:
        ns, pod, container = (request.match_info[k] for k in ("ns", "pod", "container"))
        self.requests.append(request.path_qs)
        previous = request.query.get("previous", "").lower() == "true"
        tail = request.query.get("tailLines")
        if self.source is None:
            return web.Response(status=404, text=f'pod "{pod}" not found')
        text = await self.source.logs(ns, pod, container, previous, int(tail) if tail else None)
        if previous and not text:  # what a kubelet answers when the container never terminated before
            return web.Response(status=400, text=f'previous terminated container "{container}" in pod "{pod}" '
                                                 "not found")
        limit = request.query.get("limitBytes")
        body = text.encode()
        return web.Response(body=body[:int(limit)] if limit else body, content_type="text/plain")

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_get("/containerLogs/{ns}/{pod}/{container}", self._logs)
        self._runner = web.AppRunner(app, access_log=None)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self.ssl)
        self._loop.run_until_complete(site.start())
        self.port = self._runner.addresses[0][1]
        self._ready.set()
        self._loop.run_forever()

    def __enter__(self) -> FakeKubelet:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the fake kubelet did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
