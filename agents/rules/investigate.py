"""The causal walk from the alerted resource, shared by the planner (what to fetch next) and the analyzer
(what it means): target → owned pods (ownerReferences, or the selector when the owner link is missing from
the data) → the worst pod (detect_pod) → what its containers' logs name (detect_deps) → … Each finding
found under the target is prefixed with the target's own link (`Deployment shop/cart has 0/2 replicas
ready → …`), so the chain always starts at what the alert named."""

from __future__ import annotations

from typing import Callable

from agents.rules import k8s, patterns
from agents.rules.context import PATH, SPECULATIVE, SUPPORT, Ctx
from agents.rules.detect_infra import (controller_findings, hpa_findings, namespace_quota_findings, node_findings,
                                       pvc_findings, service_findings)
from agents.rules.detect_pod import explain_pod, signature, worst_first
from agents.rules.finding import Finding, Link, choose, ev, flatten, through
from agents.rules.fixes import rec
from agents.rules.observations import call
from agents.rules.target import WORKLOAD_KINDS
from schemas.result import ProblemCategory as C, RiskLevel

MAX_PODS = 2  # pods of one workload or service explained (the second only when it fails differently)


def investigate(ctx: Ctx) -> list[Finding]:
    kind = ctx.target.kind
    if kind == "pod":
        pod = ctx.facts.pod(ctx.target.namespace, ctx.target.name)
        return explain_pod(ctx, pod, 0, "subject") if pod else []
    if kind in WORKLOAD_KINDS:
        return _workload(ctx)
    return {"service": _service, "pvc": _pvc, "hpa": _hpa, "node": _node}.get(kind, _namespace)(ctx)


def under(link: Link, f: Finding) -> Finding:
    """`f` reached from `link` (the alerted resource): same cause, longer chain."""
    chain = [link] + f.links()
    return Finding(f.category, f.confidence, f.description, flatten(chain), f.recommendations, f.container,
                   resource=link.resource, chain=chain)


def _explain_pods(ctx: Ctx, pods: list[k8s.Obj], link: Link, role: str = "subject",
                  via: Callable[[k8s.Obj], Link | None] | None = None) -> list[Finding]:
    findings: list[Finding] = []
    unhealthy = worst_first(pods)
    for i, pod in enumerate(unhealthy[:MAX_PODS]):
        if i and signature(pod) == signature(unhealthy[0]):
            continue
        middle = via(pod) if via else None
        for f in explain_pod(ctx, pod, 0, role, PATH if i == 0 else SUPPORT):
            findings.append(under(link, under(middle, f) if middle else f))
    return findings


def _revision_links(ctx: Ctx, deployment: str, ns: str) -> Callable[[k8s.Obj], Link | None]:
    """During a rollout (two ReplicaSets with replicas), say which revision a pod belongs to: a new ReplicaSet
    whose pods fail while the old one's serve is the rollout's fault, not the app's history."""
    active = []
    for (kind, rns, name), rs in ctx.facts.workloads.items():
        ref = k8s.controller_ref(rs) or {}
        replicas = ((rs.get("spec") or {}).get("replicas") or (rs.get("status") or {}).get("replicas") or 0)
        if kind == "replicaset" and rns == ns and ref.get("name") == deployment and replicas:
            active.append(rs)
    if len(active) < 2:
        return lambda pod: None

    def revision(rs: k8s.Obj) -> tuple:
        rev = (k8s.meta(rs, "annotations", {}) or {}).get("deployment.kubernetes.io/revision", "")
        return (int(rev) if str(rev).isdigit() else 0, k8s.meta(rs, "creationTimestamp"), k8s.name_of(rs))

    newest = max(active, key=revision)

    def link(pod: k8s.Obj) -> Link | None:
        owner = (k8s.controller_ref(pod) or {}).get("name")
        rs = next((r for r in active if k8s.name_of(r) == owner), None)
        if rs is None:
            return None
        status = rs.get("status") or {}
        which = "new" if rs is newest else "old"
        state = f"{status.get('readyReplicas', 0) or 0}/{(rs.get('spec') or {}).get('replicas', '?')} ready"
        return Link(f"replicaset/{ns}/{owner}", f"ReplicaSet {owner} ({which} revision of the rollout) has {state}",
                    [ev(f"replicaset/{ns}/{owner}/status", f"{which} revision, {state}")])
    return link


def _selector(obj: k8s.Obj) -> str:
    labels = ((obj.get("spec") or {}).get("selector") or {})
    labels = labels.get("matchLabels", labels) if isinstance(labels, dict) else {}
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()) if isinstance(v, str))


def _workload(ctx: Ctx) -> list[Finding]:
    facts, t = ctx.facts, ctx.target
    ns = t.namespace
    obj = facts.workloads.get((t.kind, ns, t.name))
    if obj is None:
        return []
    status, spec = obj.get("status") or {}, obj.get("spec") or {}
    if t.kind == "daemonset":
        desired, ready = status.get("desiredNumberScheduled", 0) or 0, status.get("numberReady", 0) or 0
    elif t.kind == "job":
        desired, ready = spec.get("completions", 1) or 1, status.get("succeeded", 0) or 0
    else:
        desired, ready = spec.get("replicas", 1), status.get("readyReplicas", 0) or 0
    keys = facts.workload_pods.get((t.kind, ns, t.name), [])
    selector = _selector(obj)
    if not keys and desired and selector:  # the owner link is missing from the data: find the pods by selector
        if (ns, selector) in facts.selected_pods:
            keys = facts.selected_pods[(ns, selector)]
        else:
            ctx.want(call("list_pods", "no pod is linked to the workload: find its pods by selector", namespace=ns,
                          label_selector=selector))
    pods = [facts.pods[k] for k in keys if k in facts.pods]
    what = t.kind_name
    if t.kind == "job":
        failed = status.get("failed", 0) or 0
        state = f"{ready}/{desired} completions, {failed} failed pods, {status.get('active', 0) or 0} active"
    else:
        state = f"{ready}/{desired} replicas ready"
    cond = next((c for c in status.get("conditions") or [] if c.get("status") == ("False" if c.get("type") in
                 ("Available", "Progressing") else "True") and c.get("type") in ("Available", "Progressing", "Failed",
                                                                                "ReplicaFailure")), None)
    link = Link(f"{t.kind}/{ns}/{t.name}", f"{what} {ns}/{t.name} has {state}"
                + (f" ({cond.get('reason', '')})" if cond else ""),
                [ev(f"{t.kind}/{ns}/{t.name}/status", state + (f"; {cond.get('type')}={cond.get('status')} "
                                                              f"{cond.get('reason', '')}: {cond.get('message', '')}" if cond else ""))])
    unhealthy = worst_first(pods)
    if t.kind == "job" or len(pods) < (desired or 0) or ready < (desired or 0):
        # missing pods are explained by events on the controller (FailedCreate: quota, webhook, PSA, service account)
        ctx.want(call("list_events", "why pods are missing or failing: controller events", namespace=ns),
                 PATH if len(pods) < (desired or 0) or not unhealthy else SUPPORT)
    findings = controller_findings(ctx, t, link)
    findings += _explain_pods(ctx, pods, link, via=_revision_links(ctx, t.name, ns) if t.kind == "deployment" else None)
    if t.kind in ("deployment", "statefulset"):
        if ns not in facts.hpas:
            ctx.want(call("list_hpas", "is an autoscaler limiting this workload", namespace=ns),
                     PATH if not unhealthy and len(pods) >= (desired or 0) else SPECULATIVE)
        for hpa in facts.hpas.get(ns, []):
            ref = (hpa.get("spec") or {}).get("scaleTargetRef") or {}
            if ref.get("name") == t.name and ref.get("kind", "").lower() == t.kind:
                findings += [under(link, f) for f in hpa_findings(facts, hpa)]
    return findings


def _service(ctx: Ctx) -> list[Finding]:
    facts, t = ctx.facts, ctx.target
    ns = t.namespace
    info = facts.services.get((ns, t.name)) or {}
    service = info.get("service")
    if service is None:
        return []
    matching = info.get("matching_pods") or []
    if (service.get("spec") or {}).get("selector") and not matching and ns not in facts.namespace_pods:
        ctx.want(call("list_pods", "the selector matches no pod: which labels do the pods have", namespace=ns))
    findings = service_findings(facts, ns, t.name)
    ready, not_ready = k8s.endpoints_ready(info.get("endpoints")), k8s.endpoints_not_ready(info.get("endpoints"))
    link = Link(f"service/{ns}/{t.name}", f"Service {ns}/{t.name} has {ready} ready endpoints ({not_ready} not ready)",
                [ev(f"endpoints/{ns}/{t.name}", f"{ready} ready addresses, {not_ready} not ready")])
    return findings + _explain_pods(ctx, matching, link)


def _pvc(ctx: Ctx) -> list[Finding]:
    facts, t = ctx.facts, ctx.target
    ns = t.namespace
    findings = pvc_findings(ctx, ns, t.name)
    info = facts.pvcs.get((ns, t.name)) or {}
    if findings or info.get("pvc") is None:
        return findings
    # bound: is a pod that mounts it failing (a full volume, a mount error)?
    keys = facts.namespace_pods.get(ns)
    if keys is None:
        ctx.want(call("list_pods", "the claim is bound: which pods mount it, and are they failing", namespace=ns))
        return findings
    users = [facts.pods[k] for k in keys if k in facts.pods and t.name in k8s.pvc_names(facts.pods[k])]
    pvc = info["pvc"]
    size = ((pvc.get("status") or {}).get("capacity") or {}).get("storage", "?")
    link = Link(f"pvc/{ns}/{t.name}", f"claim {ns}/{t.name} ({size}) is bound and used by "
                + (", ".join(k8s.name_of(p) for p in users[:3]) or "no pod"),
                [ev(f"pvc/{ns}/{t.name}/status", f"phase=Bound capacity={size}; mounted by "
                    + (", ".join(k8s.name_of(p) for p in users[:3]) or "no pod"))])
    return findings + _explain_pods(ctx, users, link)


def _hpa(ctx: Ctx) -> list[Finding]:
    facts, t = ctx.facts, ctx.target
    ns = t.namespace
    hpa = (facts.hpa.get((ns, t.name)) or {}).get("hpa")
    if not hpa:
        return []
    findings = hpa_findings(facts, hpa)
    spec, status = hpa.get("spec") or {}, hpa.get("status") or {}
    active = k8s.condition(hpa, "ScalingActive")
    link = Link(f"hpa/{ns}/{t.name}", f"HPA {ns}/{t.name} has {status.get('currentReplicas', '?')} replicas, wants "
                f"{status.get('desiredReplicas', '?')} (max {spec.get('maxReplicas', '?')})"
                + (f"; ScalingActive=False {active.get('reason', '')}" if active and active.get("status") == "False" else ""),
                [ev(f"hpa/{ns}/{t.name}/status", f"currentReplicas={status.get('currentReplicas')} desiredReplicas="
                                                 f"{status.get('desiredReplicas')} maxReplicas={spec.get('maxReplicas')}")]
                + ([ev(f"hpa/{ns}/{t.name}/status.conditions[ScalingActive]",
                       f"False {active.get('reason', '')}: {active.get('message', '')}")]
                   if active and active.get("status") == "False" else []))
    message = (active or {}).get("message") or ""
    missing = patterns.search("hpa_missing_request", message)
    if active and active.get("status") == "False" and missing:
        findings += _missing_requests(t.namespace, (spec.get("scaleTargetRef") or {}), link, missing.get("resource"),
                                      missing.get("container"))
    elif active and active.get("status") == "False" and "metric" in (active.get("reason") or "").lower():
        findings += _metrics_api(ctx, link)
    ref = spec.get("scaleTargetRef") or {}
    kind = str(ref.get("kind", "")).lower()
    if not findings and kind in WORKLOAD_KINDS and ref.get("name"):
        key = (kind, ns, ref["name"])
        if key not in facts.workload_pods:
            ctx.want(call("get_workload", "the autoscaler's target: are its pods failing", namespace=ns, kind=kind,
                          name=ref["name"]))
        else:
            pods = [facts.pods[k] for k in facts.workload_pods[key] if k in facts.pods]
            findings += _explain_pods(ctx, pods, link)
    return findings


def _missing_requests(ns: str, ref: k8s.Obj, link: Link, resource: str, container: str) -> list[Finding]:
    """Utilization is usage / request: pods that request nothing give the HPA nothing to compute."""
    kind, name = str(ref.get("kind", "deployment")).lower(), ref.get("name", "<workload>")
    return [Finding(C.MISSING_CONFIG, 0.85, f"HPA {link.resource[4:]} cannot scale {ref.get('kind', '')} {name}: its pods set no "
                    f"{resource} request" + (f" (container {container})" if container else "") + ", so utilization cannot be "
                    "computed.", link.evidence,
                    [rec(f"Set a {resource} request on the workload's containers",
                         f"kubectl -n {ns} set resources {kind}/{name}" + (f" -c {container}" if container else "")
                         + f" --requests={resource}=<typical usage>", RiskLevel.MEDIUM)],
                    resource=link.resource, summary=f"{link.finding}: pods set no {resource} request")]


def _metrics_api(ctx: Ctx, link: Link) -> list[Finding]:
    """An HPA that cannot read resource metrics: is metrics-server (kube-system) up?"""
    key = ("kube-system", "metrics-server")
    info = ctx.facts.services.get(key)
    if info is None:
        ctx.want(call("get_service", "the HPA cannot read metrics: is metrics-server up", namespace=key[0], name=key[1]))
        return []
    if info.get("service") is None:
        return []
    ready = k8s.endpoints_ready(info.get("endpoints"))
    svc_link = Link("service/kube-system/metrics-server", f"Service kube-system/metrics-server has {ready} ready endpoints",
                    [ev("endpoints/kube-system/metrics-server", f"{ready} ready addresses")])
    if ready:
        return []
    bad = worst_first(info.get("matching_pods") or [])
    deeper = choose(explain_pod(ctx, bad[0], 1, role="metrics-server")) if bad else None
    recs = [rec("Check the metrics API", "kubectl get apiservice v1beta1.metrics.k8s.io")]
    description = ("The autoscaler cannot scale: it cannot read resource metrics because metrics-server has no ready "
                   "endpoint" + (f"; {deeper.description}" if deeper else "."))
    if deeper is not None:
        return [through([link, svc_link], deeper, category=C.DEPENDENCY_FAILURE, confidence=0.85,
                        description=description, recommendations=recs)]
    chain = [link, svc_link]
    return [Finding(C.DEPENDENCY_FAILURE, 0.8, description, flatten(chain), recs, resource=link.resource, chain=chain)]


def _node(ctx: Ctx) -> list[Finding]:
    facts, t = ctx.facts, ctx.target
    if t.name in facts.nodes:
        return node_findings(facts, t.name)
    if k8s.is_ip(t.name):  # node-exporter's instance is an address: find the node that has it
        if not facts.nodes_listed:
            ctx.want(call("list_nodes", "the alert names the node by address: find it"))
            return []
        for name, node in facts.nodes.items():
            if any(a.get("address") == t.name for a in (node.get("status") or {}).get("addresses") or []):
                return node_findings(facts, name)
    return []


def _namespace(ctx: Ctx) -> list[Finding]:
    facts, t = ctx.facts, ctx.target
    ns = t.namespace
    findings: list[Finding] = []
    if "quota" in t.alertname.lower():
        if ns not in facts.quotas:
            ctx.want(call("list_resource_quotas", "a quota alert: the namespace's quotas", namespace=ns))
        findings += namespace_quota_findings(facts, ns)
    ctx.want(call("list_events", "recent events of the namespace", namespace=ns), SUPPORT)
    pods = [facts.pods[k] for k in facts.namespace_pods.get(ns, []) if k in facts.pods]
    link = Link(f"namespace/{ns}", f"namespace {ns}: {len(worst_first(pods))} of {len(pods)} pods unhealthy",
                [ev(f"namespace/{ns}/pods", f"{len(worst_first(pods))} of {len(pods)} pods unhealthy")])
    return findings + _explain_pods(ctx, pods, link)

