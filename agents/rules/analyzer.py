"""The rule engine's ANALYZER: from a target and the tool outputs seen, the root cause and its evidence.

Pure: `analyze(target, observations) -> RuleAnalysis`. Every rule proposes `Finding`s; `finding.choose`
picks the most specific one with enough confidence (docs/rule-engine.md has the precedence and why).
"""

from __future__ import annotations

from datetime import datetime, timezone

from pydantic import BaseModel, Field

from agents.rules import k8s
from agents.rules.detect_infra import (controller_findings, hpa_findings, node_findings, pvc_findings,
                                       service_findings)
from agents.rules.detect_pod import pod_findings
from agents.rules.facts import Facts, collect
from agents.rules.finding import Finding, choose, ev
from agents.rules.observations import Observations
from agents.rules.target import WORKLOAD_KINDS, Target
from schemas.result import Evidence, ProblemCategory as C, Recommendation, Severity, TimelineEvent

SEVERITY: dict[C, Severity] = {
    C.NODE_NOT_READY: Severity.CRITICAL, C.NODE_PRESSURE_EVICTION: Severity.HIGH, C.OOM_KILLED: Severity.HIGH,
    C.APPLICATION_CRASH: Severity.HIGH, C.MISSING_CONFIG: Severity.HIGH, C.IMAGE_PULL_FAILURE: Severity.HIGH,
    C.INVALID_COMMAND: Severity.HIGH, C.SECURITY_CONTEXT_VIOLATION: Severity.HIGH,
    C.INSUFFICIENT_RESOURCES: Severity.HIGH, C.SCHEDULING_CONSTRAINT: Severity.MEDIUM,
    C.QUOTA_EXCEEDED: Severity.HIGH, C.VOLUME_MOUNT_FAILURE: Severity.HIGH, C.LIVENESS_PROBE_FAILURE: Severity.HIGH,
    C.READINESS_PROBE_FAILURE: Severity.MEDIUM, C.SERVICE_SELECTOR_MISMATCH: Severity.HIGH,
    C.DEPENDENCY_FAILURE: Severity.HIGH, C.DNS_FAILURE: Severity.HIGH, C.AUTOSCALER_AT_MAX: Severity.MEDIUM,
    C.ADMISSION_WEBHOOK_FAILURE: Severity.HIGH, C.UNKNOWN: Severity.LOW,
}
MAX_TIMELINE = 15
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


class RuleAnalysis(BaseModel):
    category: C
    description: str
    severity: Severity
    confidence: float = Field(ge=0.0, le=1.0)
    impact: str
    evidence: list[Evidence]
    recommendations: list[Recommendation]
    timeline: list[TimelineEvent] = Field(default_factory=list)
    also_observed: list[str] = Field(default_factory=list)  # weaker or downstream findings, one line each


def analyze(target: Target, obs: Observations) -> RuleAnalysis:
    facts = collect(obs)
    if _target_ref(target) in facts.missing:
        return RuleAnalysis(category=C.UNKNOWN, severity=Severity.LOW, confidence=0.3,
                            description=f"{target.ref} was not found in the cluster; it may have been deleted or "
                                        f"replaced since the alert fired.",
                            impact=f"The alerted resource {target.ref} does not exist (any more).",
                            evidence=[ev(target.ref, "not found")],
                            recommendations=[_rec_list(target)])
    findings = _findings(target, facts)
    primary = choose(findings, target.container)
    timeline = _timeline(facts)
    impact = _impact(target, facts)
    if primary is None:
        return RuleAnalysis(category=C.UNKNOWN, severity=Severity.LOW, confidence=0.2,
                            description=f"No rule matched the state of {target.ref}; nothing checked points at a cause.",
                            impact=impact, evidence=_checked(target, facts), recommendations=[_rec_list(target)],
                            timeline=timeline)
    others = [f"{f.category.value} ({f.confidence:.2f}): {f.description}" for f in findings
              if f is not primary and f.category is not primary.category][:5]
    return RuleAnalysis(category=primary.category, severity=SEVERITY[primary.category],
                        confidence=round(primary.confidence, 2), description=primary.description, impact=impact,
                        evidence=primary.evidence, recommendations=primary.recommendations, timeline=timeline,
                        also_observed=others)


def _target_ref(target: Target) -> str:
    return target.ref


def _findings(target: Target, facts: Facts) -> list[Finding]:
    ns = target.namespace
    findings: list[Finding] = []
    described = [facts.pods[k] for k in sorted(facts.described) if k in facts.pods]
    if target.kind == "pod":
        pod = facts.pod(ns, target.name)
        return pod_findings(facts, pod) if pod else []
    if target.kind in WORKLOAD_KINDS:
        findings += controller_findings(facts, target)
        for pod in described:
            findings += pod_findings(facts, pod)
        for hpa in facts.hpas.get(ns, []):
            ref = (hpa.get("spec") or {}).get("scaleTargetRef") or {}
            if ref.get("name") == target.name and ref.get("kind", "").lower() == target.kind:
                findings += hpa_findings(facts, hpa)
    elif target.kind == "service":
        findings += service_findings(facts, ns, target.name)
        for pod in described:
            findings += pod_findings(facts, pod)
    elif target.kind == "pvc":
        findings += pvc_findings(facts, ns, target.name)
    elif target.kind == "hpa":
        hpa = (facts.hpa.get((ns, target.name)) or {}).get("hpa")
        findings += hpa_findings(facts, hpa) if hpa else []
    elif target.kind == "node":
        findings += node_findings(facts, target.name)
    else:
        for pod in described:
            findings += pod_findings(facts, pod)
    return findings


def _impact(target: Target, facts: Facts) -> str:
    ns = target.namespace
    if target.kind == "pod":
        pod = facts.pod(ns, target.name) or {}
        app = [c for c in k8s.containers(pod) if not c.init]
        restarts = sum(c.restarts for c in app)
        waiting = sorted({c.waiting.get("reason") for c in app if c.waiting.get("reason")})
        return (f"Pod {ns}/{target.name} is {k8s.pod_phase(pod) or 'in an unknown phase'}"
                f"{' (' + ', '.join(waiting) + ')' if waiting else ''} with {sum(c.ready for c in app)}/{len(app)} "
                f"containers ready and {restarts} restarts"
                + ("; while it is not ready it serves no traffic." if k8s.pod_unhealthy(pod) else "."))
    if target.kind in WORKLOAD_KINDS:
        obj = facts.workloads.get((target.kind, ns, target.name)) or {}
        status, spec = obj.get("status") or {}, obj.get("spec") or {}
        if target.kind == "job":
            return (f"Job {ns}/{target.name}: {status.get('succeeded', 0)} succeeded, {status.get('failed', 0)} failed, "
                    f"{status.get('active', 0)} active; its work is not done.")
        desired = spec.get("replicas", 1) if target.kind != "daemonset" else status.get("desiredNumberScheduled", 0)
        ready = status.get("readyReplicas", status.get("numberReady", 0)) or 0
        return (f"{target.kind.capitalize()} {ns}/{target.name} has {ready}/{desired} replicas ready; "
                f"{'it is fully down' if ready == 0 and desired else 'capacity is reduced' if ready < (desired or 0) else 'replicas are up'}.")
    if target.kind == "service":
        info = facts.services.get((ns, target.name)) or {}
        n = k8s.endpoints_ready(info.get("endpoints"))
        return (f"Service {ns}/{target.name} has {n} ready endpoints"
                + ("; every request to it fails." if n == 0 else "."))
    if target.kind == "pvc":
        return f"Pods that mount claim {ns}/{target.name} cannot start until it is bound."
    if target.kind == "hpa":
        hpa = (facts.hpa.get((ns, target.name)) or {}).get("hpa") or {}
        ref = (hpa.get("spec") or {}).get("scaleTargetRef") or {}
        return (f"{ref.get('kind', 'The workload')} {ref.get('name', '')} cannot scale beyond "
                f"{(hpa.get('spec') or {}).get('maxReplicas', '?')} replicas; extra load raises latency and errors.")
    if target.kind == "node":
        return f"Pods on node {target.name} may be evicted, unreachable or rescheduled elsewhere."
    return f"Namespace {ns}: see the pods named in the evidence."


def _timeline(facts: Facts) -> list[TimelineEvent]:
    items: list[tuple] = []
    for e in k8s.recent(facts.events, facts.now):
        t = k8s.event_time(e)
        inv = k8s.involved(e)
        items.append((t, f"{inv.get('kind', '?')}/{inv.get('name', '?')}: {k8s.event_line(e)}"))
    for (ns, name), pod in facts.pods.items():
        if (ns, name) not in facts.described:
            continue
        for c in k8s.containers(pod):
            t = c.last_terminated
            if t.get("finishedAt"):
                items.append((k8s.parse_time(t["finishedAt"]), f"Pod/{name}: container {c.name} terminated "
                                                                 f"{t.get('reason', '')} exitCode={t.get('exitCode')}"))
    items.sort(key=lambda i: i[0] or _EPOCH)
    return [TimelineEvent(at=t, event=text) for t, text in items[-MAX_TIMELINE:]]


def _checked(target: Target, facts: Facts) -> list[Evidence]:
    out: list[Evidence] = []
    for (ns, name), pod in sorted(facts.pods.items())[:5]:
        app = [c for c in k8s.containers(pod) if not c.init]
        out.append(ev(f"pod/{ns}/{name}/status", f"phase={k8s.pod_phase(pod)} ready={sum(c.ready for c in app)}/{len(app)} "
                                                  f"restarts={sum(c.restarts for c in app)}"))
    for name, node in list(facts.nodes.items())[:3]:
        ready = k8s.condition(node, "Ready") or {}
        out.append(ev(f"node/{name}/status.conditions[Ready]", f"Ready={ready.get('status', '?')}"))
    for (ns, name), info in facts.pvcs.items():
        out.append(ev(f"pvc/{ns}/{name}/status.phase", f"phase={((info.get('pvc') or {}).get('status') or {}).get('phase', '?')}"))
    for (ns, name), info in facts.services.items():
        out.append(ev(f"endpoints/{ns}/{name}", f"{k8s.endpoints_ready(info.get('endpoints'))} ready addresses"))
    return out or [ev(target.ref, "no abnormal state found")]


def _rec_list(target: Target) -> Recommendation:
    from agents.rules.fixes import rec

    if target.kind == "node":
        return rec("Look at the node yourself", f"kubectl describe node {target.name}")
    return rec("Look at the namespace's recent events", f"kubectl -n {target.namespace} get events --sort-by=.lastTimestamp")
