"""Rules about what pods depend on: scheduling, claims, nodes, controllers' pod creation, services, HPAs."""

from __future__ import annotations

import re

from agents.rules import k8s
from agents.rules.facts import Facts
from agents.rules.finding import Finding, ev
from agents.rules.fixes import owner_of, rec, template_patch
from agents.rules.target import Target
from schemas.result import ProblemCategory as C, RiskLevel

_SEGMENTS = re.compile(r"are available:\s*(.*?)(?:\.\s*preemption:|\.\s*$|$)", re.S)
_VOLUME_SCHED = re.compile(r"persistentvolumeclaim|volume node affinity|persistent volumes to bind|max volume count", re.I)
_RESOURCE_SCHED = re.compile(r"Insufficient|Too many pods", re.I)
_CONSTRAINT_SCHED = re.compile(r"taint|affinity|selector|topology spread|unschedulable|didn't match|free ports", re.I)


# --- scheduling -------------------------------------------------------------------------------------------

def classify_scheduling(message: str) -> tuple[C | None, list[str]]:
    """Which category a FailedScheduling message points at: the reason that rules out most nodes wins.

    Control-plane taints are ignored when other reasons exist (every cluster has them; they are not why
    a workload pod is Pending). Ties go to the more specific category (volume, then resources).
    """
    m = _SEGMENTS.search(message)
    segments = [s.strip() for s in re.split(r",\s*(?=\d+ )", m.group(1))] if m else [message]
    counted: list[tuple[int, str]] = []
    for seg in segments:
        sm = re.match(r"^(\d+)\s+(.*)$", seg)
        counted.append((int(sm.group(1)), sm.group(2)) if sm else (1, seg))
    relevant = [(n, s) for n, s in counted if not re.search(r"control-plane|node-role.kubernetes.io/master", s)]
    relevant = relevant or counted
    scores: dict[C, int] = {}
    for n, s in relevant:
        cat = (C.VOLUME_MOUNT_FAILURE if _VOLUME_SCHED.search(s) else C.INSUFFICIENT_RESOURCES
               if _RESOURCE_SCHED.search(s) else C.SCHEDULING_CONSTRAINT if _CONSTRAINT_SCHED.search(s) else None)
        if cat:
            scores[cat] = scores.get(cat, 0) + n
    if not scores:
        return None, [s for _, s in relevant]
    order = (C.VOLUME_MOUNT_FAILURE, C.INSUFFICIENT_RESOURCES, C.SCHEDULING_CONSTRAINT)
    best = max(scores, key=lambda c: (scores[c], -order.index(c)))
    return best, [s for _, s in relevant]


def _requests(pod: k8s.Obj) -> str:
    parts = []
    for c in (pod.get("spec") or {}).get("containers") or []:
        req = (c.get("resources") or {}).get("requests") or {}
        if req:
            parts.append(f"{c.get('name')}: " + ", ".join(f"{k}={v}" for k, v in sorted(req.items())))
    return "; ".join(parts) or "no requests"


def scheduling_findings(facts: Facts, pod: k8s.Obj, src: str, event: k8s.Obj, has_volume_finding: bool,
                        source: str | None = None) -> list[Finding]:
    ns, name = k8s.meta(pod, "namespace") or "default", k8s.name_of(pod)
    message = event.get("message") or ""
    category, reasons = classify_scheduling(message)
    if category is None or (category is C.VOLUME_MOUNT_FAILURE and has_volume_finding):
        return []
    evidence = [ev(source or k8s.event_source(event), k8s.event_line(event), "field" if source else "event")]
    owner = owner_of(facts, pod)
    spec = pod.get("spec") or {}
    if category is C.INSUFFICIENT_RESOURCES:
        evidence.append(ev(f"{src}/spec.containers[*].resources.requests", _requests(pod)))
        for node in list(facts.nodes.values())[:3]:
            alloc = (node.get("status") or {}).get("allocatable") or {}
            evidence.append(ev(f"node/{k8s.name_of(node)}/status.allocatable",
                               f"cpu={alloc.get('cpu', '?')} memory={alloc.get('memory', '?')}"))
        what = ", ".join(sorted({r for r in re.findall(r"Insufficient (\S+)", message)})) or "capacity"
        return [Finding(C.INSUFFICIENT_RESOURCES, 0.9,
                        f"Pod {ns}/{name} cannot be scheduled: no node has enough free {what} for its requests "
                        f"({_requests(pod)}).", evidence,
                        [rec("See what is allocated on each node", "kubectl describe nodes"),
                         rec("Lower the requests to what the app really uses",
                             f"kubectl -n {ns} set resources {owner} --requests=cpu=<lower>,memory=<lower>",
                             RiskLevel.MEDIUM, priority=2),
                         rec("Or add capacity (scale the node pool / let the cluster autoscaler add a node)",
                             "kubectl get nodes -o wide", priority=3)])]
    if category is C.SCHEDULING_CONSTRAINT:
        if spec.get("nodeSelector"):
            evidence.append(ev(f"{src}/spec.nodeSelector", str(spec["nodeSelector"])))
        if spec.get("affinity"):
            evidence.append(ev(f"{src}/spec.affinity", str(spec["affinity"])[:300]))
        evidence.append(ev(f"{src}/spec.tolerations", str(spec.get("tolerations") or [])[:300]))
        for node in list(facts.nodes.values())[:3]:
            taints = (node.get("spec") or {}).get("taints") or []
            evidence.append(ev(f"node/{k8s.name_of(node)}/spec.taints",
                               ", ".join(f"{t.get('key')}={t.get('value', '')}:{t.get('effect')}" for t in taints) or "none"))
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
        return [Finding(C.SCHEDULING_CONSTRAINT, 0.85,
                        f"Pod {ns}/{name} cannot be scheduled: no node satisfies its constraints ({'; '.join(reasons)[:240]}).",
                        evidence, recs)]
    claims = k8s.pvc_names(pod)
    return [Finding(C.VOLUME_MOUNT_FAILURE, 0.85,
                    f"Pod {ns}/{name} cannot be scheduled because of its volumes ({'; '.join(reasons)[:200]}).", evidence,
                    [rec("Inspect the claims", f"kubectl -n {ns} describe pvc {' '.join(claims) or '<claim>'}")])]


# --- claims -----------------------------------------------------------------------------------------------

def pvc_findings(facts: Facts, ns: str, claim: str, via: str = "") -> list[Finding]:
    info = facts.pvcs.get((ns, claim))
    if info is None:
        return []
    src = f"pvc/{ns}/{claim}"
    pvc = info.get("pvc")
    pre = [ev(via, f"mounts claim {claim}")] if via else []
    if pvc is None:
        return [Finding(C.VOLUME_MOUNT_FAILURE, 0.95, f"PersistentVolumeClaim {ns}/{claim} does not exist.",
                        pre + [ev(src, "not found")],
                        [rec("Create the claim (or fix its name in the pod spec)", f"kubectl -n {ns} get pvc")])]
    phase = (pvc.get("status") or {}).get("phase", "")
    if phase == "Bound":
        return []
    spec = pvc.get("spec") or {}
    class_name = spec.get("storageClassName")
    events = k8s.recent(info.get("events") or [], facts.now)
    warnings = [e for e in events if e.get("type") == "Warning"]
    evidence = pre + [ev(f"{src}/status.phase", f"phase={phase or '?'} storageClassName={class_name!r} "
                                                f"request={((spec.get('resources') or {}).get('requests') or {}).get('storage', '?')}")]
    evidence += [ev(k8s.event_source(e), k8s.event_line(e), "event") for e in (warnings or events)[-2:]]
    if any("waiting for first consumer" in (e.get("message") or "") for e in events) and not warnings:
        return []  # WaitForFirstConsumer: binding waits for the pod's scheduling, not the other way round
    sc = info.get("storageclass")
    recs = [rec("Inspect the claim and its events", f"kubectl -n {ns} describe pvc {claim}"),
            rec("List storage classes and free volumes", "kubectl get storageclass,pv", priority=2)]
    if class_name and sc is None:
        evidence.append(ev(f"storageclass/{class_name}", "not found"))
        recs.append(rec(f"Recreate the claim with an existing storage class (the class of a claim cannot be changed)",
                        f"kubectl -n {ns} get pvc {claim} -o yaml > {claim}.yaml  # set storageClassName, delete and re-apply",
                        RiskLevel.HIGH, priority=3))
        return [Finding(C.VOLUME_MOUNT_FAILURE, 0.95, f"PersistentVolumeClaim {ns}/{claim} is {phase}: its storage "
                        f"class {class_name!r} does not exist, so no volume can be provisioned.", evidence, recs)]
    if sc is not None:
        evidence.append(ev(f"storageclass/{k8s.name_of(sc)}", f"provisioner={sc.get('provisioner', '?')}"))
    detail = (warnings[-1].get("message") or "") if warnings else ""
    return [Finding(C.VOLUME_MOUNT_FAILURE, 0.9 if (warnings or phase == "Lost") else 0.8,
                    f"PersistentVolumeClaim {ns}/{claim} is {phase or 'not bound'}"
                    + (f": {detail[:200]}" if detail else "") + "; pods using it cannot start.", evidence, recs)]


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
                                node_not_ready_recs(name)))
    pressures = [c for c in (node.get("status") or {}).get("conditions") or []
                 if c.get("type", "").endswith("Pressure") and c.get("status") == "True"]
    events = [e for e in k8s.recent(k8s.events_for(facts.events, "Node", name), facts.now)
              if e.get("reason") in ("EvictionThresholdMet", "NodeHasInsufficientMemory", "NodeHasDiskPressure",
                                     "FreeDiskSpaceFailed", "ImageGCFailed", "SystemOOM")]
    if pressures or events:
        evidence = [ev(f"{src}/status.conditions[{c['type']}]", f"{c['type']}=True: {c.get('message', '')}") for c in pressures]
        evidence += [ev(k8s.event_source(e), k8s.event_line(e), "event") for e in events[-2:]]
        kinds = ", ".join(c["type"] for c in pressures) or "resource pressure"
        findings.append(Finding(C.NODE_PRESSURE_EVICTION, 0.9 if pressures and events else 0.85 if pressures else 0.7,
                                f"Node {name} reports {kinds}; the kubelet evicts pods to reclaim resources.", evidence,
                                [rec("See the node's pressure and which pods use the most", f"kubectl describe node {name}"),
                                 rec("Find the largest consumers", "kubectl top pod -A --sort-by=memory", priority=2),
                                 rec("Stop new pods landing there while it recovers", f"kubectl cordon {name}",
                                     RiskLevel.MEDIUM, priority=3)]))
    return findings


# --- controllers that cannot create pods --------------------------------------------------------------------

def controller_findings(facts: Facts, target: Target) -> list[Finding]:
    ns = target.namespace
    names = {(target.kind, target.name)}
    for (kind, wns, wname), obj in facts.workloads.items():
        ref = k8s.controller_ref(obj)
        if wns == ns and ref and ref.get("name") == target.name and ref.get("kind", "").lower() == target.kind:
            names.add((kind, wname))
    events = [e for e in k8s.recent(facts.events, facts.now)
              if (k8s.involved(e).get("kind", "").lower(), k8s.involved(e).get("name")) in names
              and e.get("reason") in ("FailedCreate", "FailedCreatePod", "FailedCreatePodSandBox")]
    messages = [(k8s.event_source(e), k8s.event_line(e), e.get("message") or "", "event") for e in events]
    workload = facts.workloads.get((target.kind, ns, target.name))
    failure = k8s.condition(workload, "ReplicaFailure")
    if failure and failure.get("status") == "True":
        messages.append((f"{target.kind}/{ns}/{target.name}/status.conditions[ReplicaFailure]",
                         f"{failure.get('reason', '')}: {failure.get('message', '')}", failure.get("message") or "", "field"))
    findings: list[Finding] = []
    for source, line, message, kind in messages[::-1]:
        evidence = [ev(source, line, kind)]
        if "admission webhook" in message or "failed calling webhook" in message:
            findings.append(_webhook_finding(facts, target, message, evidence))
        elif "exceeded quota" in message:
            findings.append(_quota_finding(facts, ns, message, evidence))
        elif k8s.SECURITY_ERROR.search(message):
            findings.append(Finding(C.SECURITY_CONTEXT_VIOLATION, 0.95,
                                    f"{target.kind.capitalize()} {ns}/{target.name} cannot create pods: the pod spec "
                                    f"violates the namespace's security policy ({message[:200]}).", evidence,
                                    [rec("Make the pod spec meet the policy (runAsNonRoot, drop capabilities, no privilege escalation, seccomp RuntimeDefault)",
                                         f"kubectl -n {ns} get {target.kind} {target.name} -o yaml", RiskLevel.LOW),
                                     rec("Or relax the namespace's Pod Security level (weakens isolation)",
                                         f"kubectl label namespace {ns} pod-security.kubernetes.io/enforce=baseline --overwrite",
                                         RiskLevel.HIGH, priority=3)]))
    return findings


def _webhook_finding(facts: Facts, target: Target, message: str, evidence: list) -> Finding:
    m = re.search(r'admission webhook "([^"]+)"', message) or re.search(r'failed calling webhook "([^"]+)"', message)
    hook = m.group(1) if m else ""
    config_name, kind, policy = "", "validatingwebhookconfiguration", ""
    for kind_key, kind_name in (("validating", "validatingwebhookconfiguration"), ("mutating", "mutatingwebhookconfiguration")):
        for cfg in (facts.webhooks or {}).get(kind_key, []):
            for wh in cfg.get("webhooks") or []:
                if wh.get("name") == hook:
                    config_name, kind, policy = k8s.name_of(cfg), kind_name, wh.get("failurePolicy", "Fail")
                    svc = (wh.get("clientConfig") or {}).get("service") or {}
                    evidence.append(ev(f"{kind_name}/{config_name}/webhooks[{hook}]",
                                       f"failurePolicy={policy} service={svc.get('namespace', '')}/{svc.get('name', '')}"))
    calling = "failed calling webhook" in message
    what = ("the webhook could not be reached" if calling else "the webhook denied the pod")
    recs = [rec("Read the webhook configuration", f"kubectl get {kind} {config_name or '<name>'} -o yaml")]
    if calling:
        recs.append(rec("Check the webhook's backing service has ready endpoints", "kubectl get endpoints -A | grep -i webhook",
                        priority=2))
        recs.append(rec("Temporarily let requests through while the webhook is down (weakens policy)",
                        f"kubectl patch {kind} {config_name or '<name>'} --type=json "
                        "-p '[{\"op\":\"replace\",\"path\":\"/webhooks/0/failurePolicy\",\"value\":\"Ignore\"}]'",
                        RiskLevel.HIGH, priority=3))
    else:
        recs.append(rec("Change the pod spec to satisfy the policy the webhook enforces (its message says which)",
                        f"kubectl -n {target.namespace} get {target.kind} {target.name} -o yaml", RiskLevel.LOW, priority=2))
    return Finding(C.ADMISSION_WEBHOOK_FAILURE, 0.95,
                   f"{target.kind.capitalize()} {target.namespace}/{target.name} cannot create pods: {what}"
                   + (f" (webhook {hook})" if hook else "") + f": {message[:200]}", evidence, recs)


def _quota_finding(facts: Facts, ns: str, message: str, evidence: list) -> Finding:
    m = re.search(r"exceeded quota: ([^,\s]+)", message)
    quota = m.group(1) if m else ""
    resource = re.search(r"requested: ([^=,\s]+)=", message)
    for q in facts.quotas.get(ns, []):
        if k8s.name_of(q) == quota or not quota:
            status = q.get("status") or {}
            hard, used = status.get("hard") or {}, status.get("used") or {}
            keys = [resource.group(1)] if resource and resource.group(1) in hard else sorted(hard)[:4]
            evidence.append(ev(f"resourcequota/{ns}/{k8s.name_of(q)}/status",
                               ", ".join(f"{k}: used {used.get(k, '?')} of {hard.get(k, '?')}" for k in keys)))
    res = resource.group(1) if resource else "<resource>"
    return Finding(C.QUOTA_EXCEEDED, 0.95,
                   f"Pods cannot be created in namespace {ns}: resource quota {quota or '?'} is exhausted ({message[:200]}).",
                   evidence,
                   [rec("See the quota's usage", f"kubectl -n {ns} describe resourcequota {quota or ''}".strip()),
                    rec("Raise the quota (or free capacity in the namespace)",
                        f"kubectl -n {ns} patch resourcequota {quota or '<quota>'} --type=merge -p "
                        f"'{{\"spec\":{{\"hard\":{{\"{res}\":\"<higher>\"}}}}}}'", RiskLevel.MEDIUM, priority=2)])


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
    scored = sorted(candidates, key=lambda p: -sum(1 for k in selector if k in (k8s.meta(p, "labels", {}) or {})))
    close = [p for p in scored if any(k in (k8s.meta(p, "labels", {}) or {}) for k in selector)][:3]
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
                    + (f" (closest: {k8s.name_of(close[0])})" if close else "") + "; it has no endpoints.", evidence, recs)]


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
                         f"kubectl -n {ns} top pods", priority=2)])]


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
