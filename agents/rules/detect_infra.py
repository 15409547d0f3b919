"""Rules about what pods depend on: scheduling and nodes, claims → volumes → storage classes, controllers that
cannot create pods (quotas, LimitRanges, Pod Security, admission webhooks → their backends), Services,
NetworkPolicies and HPAs."""

from __future__ import annotations

import re

from agents.rules import k8s, patterns
from agents.rules.context import PATH, Ctx
from agents.rules.facts import Facts
from agents.rules.finding import Finding, Link, choose, ev, through
from agents.rules.fixes import owner_of, rec, template_patch
from agents.rules.observations import call
from agents.rules.target import Target
from schemas.result import ProblemCategory as C, RiskLevel

_SEGMENTS = re.compile(r"are available:\s*(.*?)(?:\.\s*preemption:|\.\s*$|$)", re.S)
_SCHED_GROUPS: tuple[tuple[str, C], ...] = (
    ("sched_volume", C.VOLUME_MOUNT_FAILURE), ("sched_node_down", C.NODE_NOT_READY),
    ("sched_resources", C.INSUFFICIENT_RESOURCES), ("sched_constraint", C.SCHEDULING_CONSTRAINT),
)
_TIE_ORDER = (C.VOLUME_MOUNT_FAILURE, C.NODE_NOT_READY, C.INSUFFICIENT_RESOURCES, C.SCHEDULING_CONSTRAINT)


# --- scheduling -------------------------------------------------------------------------------------------

def classify_scheduling(message: str) -> tuple[C | None, list[str]]:
    """Which category a FailedScheduling message points at: the reason that rules out most nodes wins.

    The message is split into its "N node(s) reason" parts (every scheduler version since 1.17 writes
    that shape); each part is classified by the pattern table. Control-plane taints are ignored when other
    reasons exist (every cluster has them). Ties go to the more specific category.
    """
    m = _SEGMENTS.search(message)
    segments = [s.strip() for s in re.split(r",\s*(?=\d+ )", m.group(1))] if m else [message]
    counted: list[tuple[int, str]] = []
    for seg in segments:
        sm = re.match(r"^(\d+)\s+(.*)$", seg)
        counted.append((int(sm.group(1)), sm.group(2)) if sm else (1, seg))
    relevant = [(n, s) for n, s in counted if not patterns.search("sched_ignore", s)] or counted
    scores: dict[C, int] = {}
    for n, s in relevant:
        for group, cat in _SCHED_GROUPS:
            if patterns.search(group, s):
                scores[cat] = scores.get(cat, 0) + n
                break
    if not scores:
        return None, [s for _, s in relevant]
    best = max(scores, key=lambda c: (scores[c], -_TIE_ORDER.index(c)))
    return best, [s for _, s in relevant]


def _requests(pod: k8s.Obj) -> str:
    parts = []
    for c in (pod.get("spec") or {}).get("containers") or []:
        res = c.get("resources") or {}
        req = {**(res.get("limits") or {}), **(res.get("requests") or {})}
        if req:
            parts.append(f"{c.get('name')}: " + ", ".join(f"{k}={v}" for k, v in sorted(req.items())))
    return "; ".join(parts) or "no requests"


def scheduling_findings(ctx: Ctx, pod: k8s.Obj, src: str, event: k8s.Obj, has_volume_finding: bool,
                        source: str | None = None) -> list[Finding]:
    facts = ctx.facts
    ns, name = k8s.meta(pod, "namespace") or "default", k8s.name_of(pod)
    message = event.get("message") or event.get("note") or ""
    category, reasons = classify_scheduling(message)
    if category is None or (category is C.VOLUME_MOUNT_FAILURE and has_volume_finding):
        return []
    sched_ev = ev(source or k8s.event_source(event), k8s.event_line(event), "field" if source else "event")
    pod_link = Link(src, f"pod {ns}/{name} is Pending: {'; '.join(reasons)[:200]}", [sched_ev])
    owner = owner_of(facts, pod)
    spec = pod.get("spec") or {}
    nodes = list(facts.nodes.values())
    if category is C.INSUFFICIENT_RESOURCES:
        wanted = sorted({h.get("resource") for seg in reasons for h in [patterns.search("sched_resources", seg)]
                         if h and h.get("resource")}) or ["pods"]
        pod_link.evidence.append(ev(f"{src}/spec.containers[*].resources.requests", _requests(pod)))
        node_ev = [ev(f"node/{k8s.name_of(n)}/status.allocatable",
                      ", ".join(f"{r}={((n.get('status') or {}).get('allocatable') or {}).get(r, 'none')}"
                                for r in (["cpu", "memory"] + [w for w in wanted if w not in ("cpu", "memory")])))
                   for n in nodes[:4]]
        links = [pod_link]
        extended = [w for w in wanted if "/" in w]
        missing = [w for w in extended if nodes and not any(((n.get("status") or {}).get("allocatable") or {}).get(w)
                                                              not in (None, "0") for n in nodes)]
        what = ", ".join(wanted)
        description = (f"Pod {ns}/{name} cannot be scheduled: no node has enough free {what} for its requests "
                       f"({_requests(pod)}).")
        if missing:
            links.append(Link("nodes", f"no node advertises {', '.join(missing)} (allocatable)", node_ev))
            description = (f"Pod {ns}/{name} cannot be scheduled: it requests {', '.join(missing)} and no node "
                           f"advertises any ({_requests(pod)}).")
            labelled = [n for n in nodes if any(patterns.search("accelerator_label", k) for k in (k8s.meta(n, "labels", {}) or {}))]
            if labelled:  # nodes that should have the device but do not advertise it: its device plugin
                plugin = _device_plugin_link(ctx, labelled)
                if plugin:
                    links.append(plugin)
                    description += (f" Nodes {', '.join(k8s.name_of(n) for n in labelled[:3])} are labelled for it, "
                                    f"but {plugin.finding}.")
        elif nodes:
            links.append(Link("nodes", f"{len(nodes)} nodes: allocatable " + "; ".join(e.detail for e in node_ev[:2]),
                              node_ev))
        recs = [rec("See what is allocated on each node", "kubectl describe nodes"),
                rec("Lower the requests to what the app really uses",
                    f"kubectl -n {ns} set resources {owner} --requests=cpu=<lower>,memory=<lower>",
                    RiskLevel.MEDIUM, priority=2),
                rec("Or add capacity (scale the node pool / let the cluster autoscaler add a node)",
                    "kubectl get nodes -o wide", priority=3)]
        if missing:
            recs.insert(0, rec(f"Check the device plugin that advertises {missing[0]} on the nodes",
                               "kubectl -n kube-system get pods -o wide | grep -i device-plugin"))
        return [Finding(C.INSUFFICIENT_RESOURCES, 0.9, description, [e for link in links for e in link.evidence], recs,
                        resource=src, chain=links)]
    if category is C.NODE_NOT_READY:
        down = [n for n in nodes if (k8s.condition(n, "Ready") or {}).get("status") != "True"]
        links = [pod_link]
        if down:
            links.append(Link("nodes", f"{len(down)} of {len(nodes)} nodes are NotReady ("
                              + ", ".join(k8s.name_of(n) for n in down[:3]) + ")",
                              [ev(f"node/{k8s.name_of(n)}/status.conditions[Ready]",
                                  f"Ready={(k8s.condition(n, 'Ready') or {}).get('status')} "
                                  f"{(k8s.condition(n, 'Ready') or {}).get('reason', '')}") for n in down[:3]]))
        return [Finding(C.NODE_NOT_READY, 0.85, f"Pod {ns}/{name} cannot be scheduled: the nodes it could run on are "
                        f"NotReady or unreachable ({'; '.join(reasons)[:200]}).",
                        [e for link in links for e in link.evidence],
                        node_not_ready_recs(k8s.name_of(down[0]) if down else "<node>"), resource=src, chain=links)]
    if category is C.SCHEDULING_CONSTRAINT:
        evidence = [sched_ev]
        if spec.get("nodeSelector"):
            evidence.append(ev(f"{src}/spec.nodeSelector", str(spec["nodeSelector"])))
        if spec.get("affinity"):
            evidence.append(ev(f"{src}/spec.affinity", str(spec["affinity"])[:300]))
        evidence.append(ev(f"{src}/spec.tolerations", str(spec.get("tolerations") or [])[:300]))
        node_ev = [ev(f"node/{k8s.name_of(n)}/spec.taints",
                      ", ".join(f"{t.get('key')}={t.get('value', '')}:{t.get('effect')}"
                                for t in (n.get("spec") or {}).get("taints") or []) or "none") for n in nodes[:3]]
        if spec.get("nodeSelector"):
            node_ev += [ev(f"node/{k8s.name_of(n)}/metadata.labels",
                           ", ".join(f"{k}={(k8s.meta(n, 'labels', {}) or {}).get(k, '<none>')}" for k in spec["nodeSelector"]))
                        for n in nodes[:3]]
        recs = [rec("Compare node labels and taints with the pod's selector, affinity and tolerations",
                    "kubectl get nodes --show-labels")]
        if spec.get("nodeSelector"):
            k, v = next(iter(spec["nodeSelector"].items()))
            recs.append(rec("Label a suitable node (or drop the selector)", f"kubectl label node <node> {k}={v}",
                            RiskLevel.MEDIUM, priority=2))
        taint = re.search(r"untolerated taint \{([^:}]+):\s*([^}]*)\}", message) or re.search(r"taint \{([^:}]+):\s*([^}]*)\}", message)
        if taint:
            recs.append(rec("Tolerate the taint if the pod belongs on those nodes",
                            template_patch(ns, owner, {"tolerations": [{"key": taint.group(1), "operator": "Exists"}]}),
                            RiskLevel.MEDIUM, priority=2))
        pod_link.evidence[:] = evidence
        links = [pod_link] + ([Link("nodes", "nodes' taints and labels: " + "; ".join(e.detail for e in node_ev[:3])[:200],
                                    node_ev)] if node_ev else [])
        return [Finding(C.SCHEDULING_CONSTRAINT, 0.85,
                        f"Pod {ns}/{name} cannot be scheduled: no node satisfies its constraints ({'; '.join(reasons)[:240]}).",
                        [e for link in links for e in link.evidence], recs, resource=src, chain=links)]
    claims = k8s.pvc_names(pod)
    zone_links, zone_nodes = _pv_zone_links(ctx, ns, claims, message)
    links = [pod_link] + zone_links
    recs = [rec("Inspect the claims", f"kubectl -n {ns} describe pvc {' '.join(claims) or '<claim>'}")]
    for n in zone_nodes:
        if (n.get("spec") or {}).get("unschedulable"):
            recs.insert(0, rec(f"Uncordon {k8s.name_of(n)}, the only place the volume can be attached (if it was cordoned "
                               "by mistake or its maintenance is over)", f"kubectl uncordon {k8s.name_of(n)}", RiskLevel.MEDIUM))
        elif (k8s.condition(n, "Ready") or {}).get("status") != "True":
            recs.insert(0, rec(f"Bring node {k8s.name_of(n)} back: the volume can only be attached there",
                               f"kubectl describe node {k8s.name_of(n)}"))
    return [Finding(C.VOLUME_MOUNT_FAILURE, 0.85,
                    f"Pod {ns}/{name} cannot be scheduled because of its volumes ({'; '.join(reasons)[:200]})"
                    + (f": {links[-1].finding}." if len(links) > 1 else "."),
                    [e for link in links for e in link.evidence], recs, resource=src, chain=links)]


def _device_plugin_link(ctx: Ctx, labelled: list[k8s.Obj]) -> Link | None:
    pods = ctx.facts.namespace_pods.get("kube-system")
    if pods is None:
        ctx.want(call("list_pods", "GPU nodes advertise no GPUs: is the device plugin running",
                      namespace="kube-system"), PATH)
        return None
    plugins = [ctx.facts.pods[k] for k in pods if k in ctx.facts.pods and "device-plugin" in k[1]]
    bad = [p for p in plugins if k8s.pod_unhealthy(p)]
    if not plugins:
        return Link("pods/kube-system?device-plugin", "no device plugin pod runs in kube-system",
                    [ev("pods/kube-system", "no pod named *device-plugin*")])
    if not bad:
        return None
    p = sorted(bad, key=k8s.badness)[0]
    views = [c for c in k8s.containers(p) if c.waiting or c.last_terminated]
    detail = ", ".join(f"{c.name}: {c.waiting.get('reason') or c.last_terminated.get('reason')}" for c in views) or k8s.pod_phase(p)
    return Link(f"pod/kube-system/{k8s.name_of(p)}", f"device plugin pod kube-system/{k8s.name_of(p)} is unhealthy ({detail})",
                [ev(f"pod/kube-system/{k8s.name_of(p)}/status", f"phase={k8s.pod_phase(p)} {detail}")])


def _pv_zone_links(ctx: Ctx, ns: str, claims: list[str], message: str) -> tuple[list[Link], list[k8s.Obj]]:
    """'volume node affinity conflict': the PV is pinned to nodes (a zone) where the pod cannot go; returns the
    link and the nodes there."""
    if "affinity conflict" not in message:
        return [], []
    for claim in claims:
        info = ctx.facts.pvcs.get((ns, claim))
        if info is None:
            ctx.want(call("get_pvc", "volume node affinity conflict: where is the claim's volume", namespace=ns, name=claim))
            continue
        pv = info.get("pv") or {}
        terms = (((pv.get("spec") or {}).get("nodeAffinity") or {}).get("required") or {}).get("nodeSelectorTerms") or []
        exprs = [e for t in terms for e in t.get("matchExpressions") or []]
        if not exprs:
            continue
        if not ctx.facts.nodes_listed:
            ctx.want(call("list_nodes", "the claim's volume is pinned to a zone: which nodes are there"))
        where = ", ".join(f"{e.get('key')} in {e.get('values')}" for e in exprs)
        nodes = [n for n in ctx.facts.nodes.values()
                 if all((k8s.meta(n, "labels", {}) or {}).get(e.get("key")) in (e.get("values") or []) for e in exprs)]
        there = ", ".join(f"{k8s.name_of(n)} Ready={(k8s.condition(n, 'Ready') or {}).get('status')}"
                          f"{' unschedulable' if (n.get('spec') or {}).get('unschedulable') else ''}" for n in nodes) \
            or "no node"
        return [Link(f"pv/{k8s.name_of(pv)}", f"volume {k8s.name_of(pv)} of claim {claim} is pinned to {where}; "
                                              f"nodes there: {there}",
                     [ev(f"pv/{k8s.name_of(pv)}/spec.nodeAffinity", where), ev("nodes", f"matching nodes: {there}")])], nodes
    return [], []


# --- claims -----------------------------------------------------------------------------------------------

def pvc_findings(ctx: Ctx, ns: str, claim: str, pod: k8s.Obj | None = None) -> list[Finding]:
    facts = ctx.facts
    info = facts.pvcs.get((ns, claim))
    if info is None:
        return []
    src = f"pvc/{ns}/{claim}"
    pvc = info.get("pvc")
    links: list[Link] = []
    if pod is not None:
        links.append(Link(f"pod/{ns}/{k8s.name_of(pod)}", f"pod {ns}/{k8s.name_of(pod)} waits for claim {claim}",
                          [ev(f"pod/{ns}/{k8s.name_of(pod)}/spec.volumes", f"mounts claim {claim}")]))
    if pvc is None:
        links.append(Link(src, f"claim {ns}/{claim} does not exist", [ev(src, "not found")]))
        return [Finding(C.VOLUME_MOUNT_FAILURE, 0.95, f"PersistentVolumeClaim {ns}/{claim} does not exist.",
                        [e for link in links for e in link.evidence],
                        [rec("Create the claim (or fix its name in the pod spec)", f"kubectl -n {ns} get pvc")],
                        resource=links[0].resource, chain=links)]
    phase = (pvc.get("status") or {}).get("phase", "")
    if phase == "Bound":
        return []
    spec = pvc.get("spec") or {}
    class_name = spec.get("storageClassName")
    events = k8s.recent(info.get("events") or [], facts.now)
    warnings = [e for e in events if e.get("type") == "Warning"]
    pvc_ev = [ev(f"{src}/status.phase", f"phase={phase or '?'} storageClassName={class_name!r} "
                                        f"request={((spec.get('resources') or {}).get('requests') or {}).get('storage', '?')}")]
    pvc_ev += [ev(k8s.event_source(e), k8s.event_line(e), "event") for e in (warnings or events)[-2:]]
    if any(patterns.search("pvc_waits_for_pod", e.get("message") or "") for e in events) and not warnings:
        return []  # WaitForFirstConsumer: binding waits for the pod's scheduling, not the other way round
    sc = info.get("storageclass")
    recs = [rec("Inspect the claim and its events", f"kubectl -n {ns} describe pvc {claim}"),
            rec("List storage classes and free volumes", "kubectl get storageclass,pv", priority=2)]
    detail = (warnings[-1].get("message") or "") if warnings else ""
    links.append(Link(src, f"claim {ns}/{claim} is {phase or 'not bound'}" + (f": {detail[:140]}" if detail else ""), pvc_ev))
    if class_name and sc is None:
        links.append(Link(f"storageclass/{class_name}", f"StorageClass {class_name} does not exist",
                          [ev(f"storageclass/{class_name}", "not found")]))
        recs.append(rec("Recreate the claim with an existing storage class (the class of a claim cannot be changed)",
                        f"kubectl -n {ns} get pvc {claim} -o yaml > {claim}.yaml  # set storageClassName, delete and re-apply",
                        RiskLevel.HIGH, priority=3))
        return [Finding(C.VOLUME_MOUNT_FAILURE, 0.95, f"PersistentVolumeClaim {ns}/{claim} is {phase}: its storage "
                        f"class {class_name!r} does not exist, so no volume can be provisioned.",
                        [e for link in links for e in link.evidence], recs, resource=links[0].resource, chain=links)]
    if sc is not None:
        links.append(Link(f"storageclass/{k8s.name_of(sc)}", f"StorageClass {k8s.name_of(sc)} (provisioner "
                          f"{sc.get('provisioner', '?')}) does not provision it",
                          [ev(f"storageclass/{k8s.name_of(sc)}", f"provisioner={sc.get('provisioner', '?')}")]))
    elif class_name is None and not warnings:
        links.append(Link("storageclass/<default>", "no default StorageClass exists for a claim without a class",
                          [ev(f"{src}/spec.storageClassName", "unset, and no StorageClass is marked default")]))
    return [Finding(C.VOLUME_MOUNT_FAILURE, 0.9 if (warnings or phase == "Lost" or class_name is None) else 0.8,
                    f"PersistentVolumeClaim {ns}/{claim} is {phase or 'not bound'}"
                    + (f": {detail[:200]}" if detail else "") + "; pods using it cannot start.",
                    [e for link in links for e in link.evidence], recs, resource=links[0].resource, chain=links)]


# --- nodes ------------------------------------------------------------------------------------------------

def node_not_ready_recs(node: str) -> list:
    return [rec("Read the node's conditions and recent events", f"kubectl describe node {node}"),
            rec("On the node: check the kubelet and container runtime", "journalctl -u kubelet --since -1h", priority=2),
            rec("Move workloads off the node if it does not recover",
                f"kubectl drain {node} --ignore-daemonsets --delete-emptydir-data", RiskLevel.HIGH, priority=3)]


def node_findings(facts: Facts, name: str) -> list[Finding]:
    node = facts.nodes.get(name)
    if node is None:
        return []
    src = f"node/{name}"
    findings: list[Finding] = []
    ready = k8s.condition(node, "Ready")
    if ready is not None and ready.get("status") != "True":
        findings.append(Finding(C.NODE_NOT_READY, 0.95,
                                f"Node {name} is NotReady ({ready.get('reason') or 'Ready=' + str(ready.get('status'))}): "
                                f"{ready.get('message', '')}".strip(),
                                [ev(f"{src}/status.conditions[Ready]", f"Ready={ready.get('status')} reason={ready.get('reason', '')}"
                                                                       f" since {ready.get('lastTransitionTime', '?')}: {ready.get('message', '')}")],
                                node_not_ready_recs(name), resource=src,
                                summary=f"node {name} is NotReady ({ready.get('reason') or ready.get('status')})"))
    pressures = [c for c in (node.get("status") or {}).get("conditions") or []
                 if c.get("type", "").endswith("Pressure") and c.get("status") == "True"]
    events = [e for e in k8s.recent(k8s.events_for(facts.events, "Node", name), facts.now)
              if e.get("reason") in ("EvictionThresholdMet", "NodeHasInsufficientMemory", "NodeHasDiskPressure",
                                     "FreeDiskSpaceFailed", "ImageGCFailed", "SystemOOM", "NodeHasInsufficientPID")]
    if pressures or events:
        evidence = [ev(f"{src}/status.conditions[{c['type']}]", f"{c['type']}=True: {c.get('message', '')}") for c in pressures]
        evidence += [ev(k8s.event_source(e), k8s.event_line(e), "event") for e in events[-2:]]
        kinds = ", ".join(c["type"] for c in pressures) or "resource pressure"
        findings.append(Finding(C.NODE_PRESSURE_EVICTION, 0.9 if pressures and events else 0.85 if pressures else 0.7,
                                f"Node {name} reports {kinds}; the kubelet evicts pods to reclaim resources.", evidence,
                                [rec("See the node's pressure and which pods use the most", f"kubectl describe node {name}"),
                                 rec("Find the largest consumers", "kubectl top pod -A --sort-by=memory", priority=2),
                                 rec("Stop new pods landing there while it recovers", f"kubectl cordon {name}",
                                     RiskLevel.MEDIUM, priority=3)], resource=src, summary=f"node {name} reports {kinds}"))
    return findings


# --- controllers that cannot create pods --------------------------------------------------------------------

def controller_findings(ctx: Ctx, target: Target, wl_link: Link | None = None) -> list[Finding]:
    facts = ctx.facts
    ns = target.namespace
    names = {(target.kind, target.name)}
    for (kind, wns, wname), obj in facts.workloads.items():
        ref = k8s.controller_ref(obj)
        if wns == ns and ref and ref.get("name") == target.name and ref.get("kind", "").lower() == target.kind:
            names.add((kind, wname))
    mine = [e for e in k8s.recent(facts.events, facts.now)
            if (k8s.involved(e).get("kind", "").lower(), k8s.involved(e).get("name")) in names]
    created = {}  # a FailedCreate followed by a SuccessfulCreate of the same controller is resolved
    for e in mine:
        if e.get("reason") == "SuccessfulCreate":
            key, t = k8s.involved(e).get("name"), k8s.event_time(e)
            if t and (key not in created or t > created[key]):
                created[key] = t
    events = [e for e in mine if e.get("reason") in ("FailedCreate", "FailedCreatePod", "FailedCreatePodSandBox")
              and not (k8s.involved(e).get("name") in created and k8s.event_time(e)
                       and k8s.event_time(e) < created[k8s.involved(e).get("name")])]
    messages = [(k8s.event_source(e), k8s.event_line(e), e.get("message") or e.get("note") or "", "event") for e in events]
    workload = facts.workloads.get((target.kind, ns, target.name))
    failure = k8s.condition(workload, "ReplicaFailure")
    if failure and failure.get("status") == "True":
        messages.append((f"{target.kind}/{ns}/{target.name}/status.conditions[ReplicaFailure]",
                         f"{failure.get('reason', '')}: {failure.get('message', '')}", failure.get("message") or "", "field"))
    findings: list[Finding] = []
    head = [wl_link] if wl_link else []
    what = f"{target.kind_name} {ns}/{target.name}"
    for source, line, message, kind in messages[::-1]:
        create_link = Link(source, f"{what} cannot create pods: {message[:160]}", [ev(source, line, kind)])
        chain = head + [create_link]
        if patterns.search("webhook_denied", message) or patterns.search("webhook_unreachable", message):
            findings.append(_webhook_finding(ctx, target, message, chain))
        elif patterns.search("quota", message):
            findings.append(_quota_finding(ctx, ns, message, chain))
        elif patterns.search("limit_range", message):
            findings.append(_limit_range_finding(ctx, ns, message, chain))
        elif patterns.search("security_refusal", message):
            findings.append(Finding(C.SECURITY_CONTEXT_VIOLATION, 0.95,
                                    f"{what} cannot create pods: the pod spec violates the namespace's security policy "
                                    f"({message[:200]}).", [e for link in chain for e in link.evidence],
                                    [rec("Make the pod spec meet the policy (runAsNonRoot, drop capabilities, no privilege escalation, seccomp RuntimeDefault)",
                                         f"kubectl -n {ns} get {target.kind} {target.name} -o yaml", RiskLevel.LOW),
                                     rec("Or relax the namespace's Pod Security level (weakens isolation)",
                                         f"kubectl label namespace {ns} pod-security.kubernetes.io/enforce=baseline --overwrite",
                                         RiskLevel.HIGH, priority=3)], resource=chain[0].resource, chain=chain))
        elif (hit := patterns.search("missing_config", message)) is not None:
            kind_, obj = (hit.get("kind") or "object").lower(), hit.get("object")
            findings.append(Finding(C.MISSING_CONFIG, 0.95, f"{what} cannot create pods: {kind_} {obj} does not exist "
                                    f"({message[:200]}).", [e for link in chain for e in link.evidence],
                                    [rec(f"Create the {kind_} {obj} (or fix the name in the pod template)",
                                         f"kubectl -n {ns} create {kind_} {obj}" if kind_ == "serviceaccount"
                                         else f"kubectl -n {ns} get {kind_}s", RiskLevel.MEDIUM)],
                                    resource=chain[0].resource, chain=chain))
    return findings


def _webhook_finding(ctx: Ctx, target: Target, message: str, chain: list[Link]) -> Finding:
    from agents.rules.detect_pod import explain_pod, worst_first

    facts = ctx.facts
    hit = patterns.search("webhook_denied", message) or patterns.search("webhook_unreachable", message)
    hook = hit.get("hook") if hit else ""
    calling = hit is not None and hit.group == "webhook_unreachable"
    if facts.webhooks is None:
        ctx.want(call("list_admission_webhooks", "creation refused by an admission webhook: its configuration"))
    config_name, kind, policy, svc_ref = "", "validatingwebhookconfiguration", "", None
    links = list(chain)
    for kind_key, kind_name in (("validating", "validatingwebhookconfiguration"), ("mutating", "mutatingwebhookconfiguration")):
        for cfg in (facts.webhooks or {}).get(kind_key, []):
            for wh in cfg.get("webhooks") or []:
                if wh.get("name") == hook:
                    config_name, kind, policy = k8s.name_of(cfg), kind_name, wh.get("failurePolicy", "Fail")
                    svc = (wh.get("clientConfig") or {}).get("service") or {}
                    if svc.get("name"):
                        svc_ref = (svc.get("namespace") or "default", svc["name"])
                    links.append(Link(f"{kind_name}/{config_name}", f"webhook {hook} (failurePolicy={policy}) is served by "
                                      f"{svc_ref[0] + '/' + svc_ref[1] if svc_ref else 'a URL'}",
                                      [ev(f"{kind_name}/{config_name}/webhooks[{hook}]",
                                          f"failurePolicy={policy} service={svc.get('namespace', '')}/{svc.get('name', '')}")]))
    deeper = None
    if calling and svc_ref:
        info = facts.services.get(svc_ref)
        if info is None:
            ctx.want(call("get_service", "the webhook cannot be called: does its service have ready endpoints",
                          namespace=svc_ref[0], name=svc_ref[1]))
        elif info.get("service") is None:
            links.append(Link(f"service/{svc_ref[0]}/{svc_ref[1]}", f"webhook Service {svc_ref[0]}/{svc_ref[1]} does not exist",
                              [ev(f"service/{svc_ref[0]}/{svc_ref[1]}", "not found")]))
        else:
            ready = k8s.endpoints_ready(info.get("endpoints"))
            links.append(Link(f"service/{svc_ref[0]}/{svc_ref[1]}", f"webhook Service {svc_ref[0]}/{svc_ref[1]} has {ready} "
                              "ready endpoints", [ev(f"endpoints/{svc_ref[0]}/{svc_ref[1]}", f"{ready} ready addresses")]))
            bad = worst_first(info.get("matching_pods") or [])
            if ready == 0 and bad:
                deeper = choose(explain_pod(ctx, bad[0], 1, role="webhook backend"))
    what = "the webhook could not be reached" if calling else "the webhook denied the pod"
    recs = [rec("Read the webhook configuration", f"kubectl get {kind} {config_name or '<name>'} -o yaml")]
    if calling:
        recs.append(rec("Check the webhook's backing service has ready endpoints",
                        f"kubectl -n {svc_ref[0]} get endpoints {svc_ref[1]}" if svc_ref else
                        "kubectl get endpoints -A | grep -i webhook", priority=2))
        recs.append(rec("Temporarily let requests through while the webhook is down (weakens policy)",
                        f"kubectl patch {kind} {config_name or '<name>'} --type=json "
                        "-p '[{\"op\":\"replace\",\"path\":\"/webhooks/0/failurePolicy\",\"value\":\"Ignore\"}]'",
                        RiskLevel.HIGH, priority=3))
    else:
        recs.append(rec("Change the pod spec to satisfy the policy the webhook enforces (its message says which)",
                        f"kubectl -n {target.namespace} get {target.kind} {target.name} -o yaml", RiskLevel.LOW, priority=2))
    description = (f"{target.kind_name} {target.namespace}/{target.name} cannot create pods: {what}"
                   + (f" (webhook {hook})" if hook else "") + f": {message[:200]}")
    if deeper is not None and deeper.confidence >= 0.5:
        description += f". The webhook's backend is down: {deeper.description}"
        return through(links, deeper, category=C.ADMISSION_WEBHOOK_FAILURE, confidence=0.95,
                       description=description, recommendations=recs)
    return Finding(C.ADMISSION_WEBHOOK_FAILURE, 0.95, description, [e for link in links for e in link.evidence], recs,
                   resource=links[0].resource, chain=links)


def _quota_finding(ctx: Ctx, ns: str, message: str, chain: list[Link]) -> Finding:
    facts = ctx.facts
    hit = patterns.search("quota", message)
    quota = hit.get("quota") if hit else ""
    resource = hit.get("resource") if hit else ""
    if ns not in facts.quotas:
        ctx.want(call("list_resource_quotas", "creation refused by a quota: its usage", namespace=ns))
    links = list(chain)
    for q in facts.quotas.get(ns, []):
        if k8s.name_of(q) == quota or not quota:
            status = q.get("status") or {}
            hard, used = status.get("hard") or {}, status.get("used") or {}
            keys = [resource] if resource and resource in hard else sorted(hard)[:4]
            detail = ", ".join(f"{k}: used {used.get(k, '?')} of {hard.get(k, '?')}" for k in keys)
            links.append(Link(f"resourcequota/{ns}/{k8s.name_of(q)}", f"ResourceQuota {ns}/{k8s.name_of(q)} is exhausted ({detail})",
                              [ev(f"resourcequota/{ns}/{k8s.name_of(q)}/status", detail)]))
    res = resource or "<resource>"
    return Finding(C.QUOTA_EXCEEDED, 0.95,
                   f"Pods cannot be created in namespace {ns}: resource quota {quota or '?'} is exhausted ({message[:200]}).",
                   [e for link in links for e in link.evidence],
                   [rec("See the quota's usage", f"kubectl -n {ns} describe resourcequota {quota or ''}".strip()),
                    rec("Raise the quota (or free capacity in the namespace)",
                        f"kubectl -n {ns} patch resourcequota {quota or '<quota>'} --type=merge -p "
                        f"'{{\"spec\":{{\"hard\":{{\"{res}\":\"<higher>\"}}}}}}'", RiskLevel.MEDIUM, priority=2)],
                   resource=links[0].resource, chain=links)


def _limit_range_finding(ctx: Ctx, ns: str, message: str, chain: list[Link]) -> Finding:
    facts = ctx.facts
    hit = patterns.search("limit_range", message)
    resource = hit.get("resource") if hit else ""
    if ns not in facts.limitranges:
        ctx.want(call("list_limit_ranges", "creation refused by a LimitRange: its bounds", namespace=ns))
    links = list(chain)
    for lr in facts.limitranges.get(ns, []):
        items = (lr.get("spec") or {}).get("limits") or []
        detail = "; ".join(f"{i.get('type', '?')}: " + ", ".join(
            f"{bound}.{r}={q}" for bound in ("max", "min", "default") for r, q in sorted((i.get(bound) or {}).items()))
            for i in items)
        links.append(Link(f"limitrange/{ns}/{k8s.name_of(lr)}", f"LimitRange {ns}/{k8s.name_of(lr)} bounds pods: {detail[:160]}",
                          [ev(f"limitrange/{ns}/{k8s.name_of(lr)}/spec.limits", detail)]))
    return Finding(C.QUOTA_EXCEEDED, 0.9,
                   f"Pods cannot be created in namespace {ns}: their {resource or 'resources'} fall outside the namespace's "
                   f"LimitRange ({message[:200]}).", [e for link in links for e in link.evidence],
                   [rec("Read the LimitRange", f"kubectl -n {ns} describe limitrange"),
                    rec("Set the workload's requests/limits inside the LimitRange's bounds",
                        f"kubectl -n {ns} set resources <workload> --limits={resource or 'memory'}=<within max>",
                        RiskLevel.MEDIUM, priority=2)],
                   resource=links[0].resource, chain=links)


def namespace_quota_findings(facts: Facts, ns: str) -> list[Finding]:
    """A quota that is fully used (KubeQuotaFullyUsed/Exceeded): new pods in the namespace will be refused."""
    out = []
    for q in facts.quotas.get(ns, []):
        status = q.get("status") or {}
        hard, used = status.get("hard") or {}, status.get("used") or {}
        full = [k for k in hard if (k8s.parse_quantity(used.get(k)) or 0) >= (k8s.parse_quantity(hard[k]) or float("inf"))]
        if full:
            detail = ", ".join(f"{k}: used {used.get(k)} of {hard[k]}" for k in full)
            out.append(Finding(C.QUOTA_EXCEEDED, 0.8, f"ResourceQuota {ns}/{k8s.name_of(q)} is fully used ({detail}); "
                               "new pods in the namespace will be refused.",
                               [ev(f"resourcequota/{ns}/{k8s.name_of(q)}/status", detail)],
                               [rec("See the quota's usage", f"kubectl -n {ns} describe resourcequota {k8s.name_of(q)}")],
                               resource=f"resourcequota/{ns}/{k8s.name_of(q)}"))
    return out


# --- network policies ----------------------------------------------------------------------------------------

def selector_matches(selector: k8s.Obj | None, labels: dict[str, str]) -> bool:
    """A LabelSelector (matchLabels + matchExpressions); an empty selector matches everything."""
    selector = selector or {}
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for e in selector.get("matchExpressions") or []:
        key, op, values = e.get("key"), e.get("operator"), e.get("values") or []
        if op == "In" and labels.get(key) not in values or op == "NotIn" and labels.get(key) in values \
                or op == "Exists" and key not in labels or op == "DoesNotExist" and key in labels:
            return False
    return True


def _port_allowed(ports: list[k8s.Obj] | None, port: int | None) -> bool:
    if not ports or port is None:
        return True
    return any(p.get("port") in (port, None) or isinstance(p.get("port"), str) for p in ports)


def _peer_allows(peers: list[k8s.Obj] | None, policy_ns: str, peer_ns: str, peer_labels: dict[str, str]) -> bool:
    if not peers:
        return True
    for peer in peers:
        if "ipBlock" in peer:
            return True  # addresses we cannot map: do not claim a block
        ns_sel, pod_sel = peer.get("namespaceSelector"), peer.get("podSelector")
        if ns_sel is not None:
            if selector_matches(ns_sel, {"kubernetes.io/metadata.name": peer_ns}) and \
                    (pod_sel is None or not peer_labels or selector_matches(pod_sel, peer_labels)):
                return True
        elif pod_sel is not None and peer_ns == policy_ns and (not peer_labels or selector_matches(pod_sel, peer_labels)):
            return True
    return False


def netpol_blocking(policies: list[k8s.Obj], pods: list[k8s.Obj], peer_labels: dict[str, str], peer_ns: str,
                    port: int | None, direction: str) -> tuple[str, str, str] | None:
    """(namespace, policy, why) when the policies that select `pods` let no rule through to/from the peer."""
    selecting = []
    for p in policies:
        spec = p.get("spec") or {}
        types = spec.get("policyTypes") or (["Ingress"] + (["Egress"] if "egress" in spec else []))
        if direction.capitalize() not in types:
            continue
        if any(selector_matches(spec.get("podSelector"), k8s.meta(pod, "labels", {}) or {}) for pod in pods):
            selecting.append(p)
    if not selecting:
        return None
    for p in selecting:
        spec = p.get("spec") or {}
        policy_ns = k8s.meta(p, "namespace") or ""
        for rule in spec.get(direction) or []:
            peers = rule.get("from" if direction == "ingress" else "to")
            if _port_allowed(rule.get("ports"), port) and _peer_allows(peers, policy_ns, peer_ns, peer_labels):
                return None
    p = selecting[0]
    rules = (p.get("spec") or {}).get(direction) or []
    if direction == "egress":
        why = (f"denies this pod's egress to {peer_ns} port {port}" + (" (it has no egress rule at all)" if not rules
                                                                       else f" ({len(rules)} egress rules, none matches)"))
    else:
        why = (f"admits no ingress from this client to port {port}"
               + (" (no ingress rule)" if not rules else
                  f" (allowed: {'; '.join(str(r.get('from')) for r in rules)[:160]})"))
    return k8s.meta(p, "namespace") or "", k8s.name_of(p), why


# --- services -----------------------------------------------------------------------------------------------

def service_findings(facts: Facts, ns: str, name: str) -> list[Finding]:
    info = facts.services.get((ns, name)) or {}
    service = info.get("service")
    if service is None:
        return []
    src = f"service/{ns}/{name}"
    selector = (service.get("spec") or {}).get("selector") or {}
    if not selector or info.get("matching_pods"):
        return []
    sel = ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
    evidence = [ev(f"{src}/spec.selector", f"selector {sel} matches no pod"),
                ev(f"endpoints/{ns}/{name}", f"{k8s.endpoints_ready(info.get('endpoints'))} ready addresses")]
    candidates = [facts.pods[k] for k in facts.namespace_pods.get(ns, []) if k in facts.pods]
    scored = sorted(candidates, key=lambda p: -_closeness(selector, k8s.meta(p, "labels", {}) or {}))
    close = [p for p in scored if _meant_for(name, selector, p)][:3]
    for p in close:
        labels = k8s.meta(p, "labels", {}) or {}
        evidence.append(ev(f"pod/{ns}/{k8s.name_of(p)}/metadata.labels",
                           ", ".join(f"{k}={labels.get(k, '<none>')}" for k in sorted(selector))))
    recs = [rec("Compare the selector with the pods' labels", f"kubectl -n {ns} get pods --show-labels")]
    if close:
        labels = k8s.meta(close[0], "labels", {}) or {}
        fixed = {k: labels.get(k, v) for k, v in selector.items() if k in labels}
        body = '{"spec":{"selector":' + str(fixed).replace("'", '"') + "}}"
        recs.append(rec("Point the selector at the pods' actual labels", f"kubectl -n {ns} patch service {name} -p '{body}'",
                        RiskLevel.MEDIUM, priority=2))
    confidence = 0.9 if close else 0.75 if candidates else 0.6
    return [Finding(C.SERVICE_SELECTOR_MISMATCH, confidence,
                    f"Service {ns}/{name} selects pods with {sel}, but no pod has those labels"
                    + (f" (closest: {k8s.name_of(close[0])})" if close else "") + "; it has no endpoints.", evidence, recs,
                    resource=src, summary=f"Service {ns}/{name} selects {sel}, which matches no pod"
                    + (f" (pods have {evidence[2].detail})" if close else ""))]


def _meant_for(service: str, selector: dict[str, str], pod: k8s.Obj) -> bool:
    """Pods the Service was evidently meant to select: they share a selector pair exactly, or carry a similar
    value for a selector key AND are named for the Service (its name is a label value or their owner's name).
    A pod that merely shares a key (`app=frontend` for `app=postgres`) is not."""
    labels = k8s.meta(pod, "labels", {}) or {}
    score = _closeness(selector, labels)
    if score >= 1:
        return True
    if score < 0.9:
        return False
    ref = k8s.controller_ref(pod) or {}
    owner = ref.get("name", "")
    if ref.get("kind") == "ReplicaSet":
        owner = owner.rsplit("-", 1)[0]
    return service in labels.values() or owner == service


def _closeness(selector: dict[str, str], labels: dict[str, str]) -> float:
    """How nearly a pod's labels fit a selector: 1 per identical pair, 0.9 per same key with a similar value
    (payment-svc / payment-service, v1 / v2); pods sharing a key with an unrelated value are not close."""
    from difflib import SequenceMatcher

    score = 0.0
    for k, v in selector.items():
        other = labels.get(k)
        if other == v:
            score += 1
        elif other is not None and (SequenceMatcher(None, v, other).ratio() >= 0.6 or v in other or other in v):
            score += 0.9
    return score


# --- autoscalers ----------------------------------------------------------------------------------------------

def hpa_findings(facts: Facts, hpa: k8s.Obj) -> list[Finding]:
    ns, name = k8s.meta(hpa, "namespace") or "default", k8s.name_of(hpa)
    spec, status = hpa.get("spec") or {}, hpa.get("status") or {}
    max_r, current = spec.get("maxReplicas"), status.get("currentReplicas", 0)
    if not max_r or current < max_r:
        return []
    src = f"hpa/{ns}/{name}"
    evidence = [ev(f"{src}/status.currentReplicas", f"currentReplicas={current} maxReplicas={max_r} "
                                                    f"desiredReplicas={status.get('desiredReplicas', '?')}")]
    over = []
    for target, cur, label in _utilizations(spec, status):
        evidence.append(ev(f"{src}/status.currentMetrics[{label}]", f"{label} utilization {cur}% (target {target}%)"))
        if cur is not None and target is not None and cur >= target:
            over.append(label)
    limited = k8s.condition(hpa, "ScalingLimited")
    if limited and limited.get("status") == "True":
        evidence.append(ev(f"{src}/status.conditions[ScalingLimited]", f"{limited.get('reason', '')}: {limited.get('message', '')}"))
    confidence = 0.9 if over else 0.7 if limited and limited.get("status") == "True" else 0.55
    ref = spec.get("scaleTargetRef") or {}
    return [Finding(C.AUTOSCALER_AT_MAX, confidence,
                    f"HorizontalPodAutoscaler {ns}/{name} runs {ref.get('kind', '')} {ref.get('name', '')} at its maximum of "
                    f"{max_r} replicas" + (f" while {', '.join(over)} utilization is still above target" if over else "")
                    + "; it cannot add capacity.", evidence,
                    [rec("Raise the autoscaler's ceiling (check the cluster has room for the pods)",
                         f"kubectl -n {ns} patch hpa {name} --type=merge -p '{{\"spec\":{{\"maxReplicas\":{max_r * 2}}}}}'",
                         RiskLevel.MEDIUM),
                     rec("See per-pod usage to decide between more replicas and bigger ones",
                         f"kubectl -n {ns} top pods", priority=2)],
                    resource=src, summary=f"HPA {ns}/{name} is at maxReplicas={max_r}"
                    + (f" with {', '.join(over)} above target" if over else ""))]


def _utilizations(spec: k8s.Obj, status: k8s.Obj) -> list[tuple[int | None, int | None, str]]:
    out = []
    if "targetCPUUtilizationPercentage" in spec:  # autoscaling/v1
        out.append((spec.get("targetCPUUtilizationPercentage"), status.get("currentCPUUtilizationPercentage"), "cpu"))
    current = {((m.get("resource") or {}).get("name")): ((m.get("resource") or {}).get("current") or {}).get("averageUtilization")
               for m in status.get("currentMetrics") or [] if m.get("type") == "Resource"}
    for m in spec.get("metrics") or []:
        if m.get("type") == "Resource":
            res = m.get("resource") or {}
            out.append(((res.get("target") or {}).get("averageUtilization"), current.get(res.get("name")), res.get("name", "?")))
    return out
