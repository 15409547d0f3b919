"""The rule engine's ANALYZER: from a target and the tool outputs seen, the root cause and its evidence.

Pure: `analyze(target, observations) -> RuleAnalysis`. The causal walk (investigate.py) proposes `Finding`s,
each a chain from the alerted resource to the deepest abnormal link found; `finding.choose` picks the most
specific one with enough confidence (docs/rule-engine.md has the precedence and why). The description ends
with the chain, so every report shows it; `chain` carries it structured (RootCauseAnalysis.causal_chain).
"""

from __future__ import annotations

from datetime import datetime, timezone

from pydantic import BaseModel, Field

from agents.rules import k8s
from agents.rules.context import Ctx
from agents.rules.facts import Facts, collect
from agents.rules.finding import choose, ev
from agents.rules.investigate import investigate
from agents.rules.observations import Observations
from agents.rules.target import WORKLOAD_KINDS, Target
from schemas.result import CausalLink, Evidence, ProblemCategory as C, Recommendation, Severity, TimelineEvent

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
    chain: list[CausalLink] = Field(default_factory=list)  # alerted resource first, the root cause last


def analyze(target: Target, obs: Observations) -> RuleAnalysis:
    facts = collect(obs)
    if target.ref in facts.missing and not (target.kind == "node" and k8s.is_ip(target.name)):
        return RuleAnalysis(category=C.UNKNOWN, severity=Severity.LOW, confidence=0.3,
                            description=f"{target.ref} was not found in the cluster; it may have been deleted or "
                                        f"replaced since the alert fired.",
                            impact=f"The alerted resource {target.ref} does not exist (any more).",
                            evidence=[ev(target.ref, "not found")],
                            recommendations=[_rec_list(target)])
    findings = investigate(Ctx(target, facts))
    primary = choose(findings, target.container)
    timeline = _timeline(facts)
    impact = _impact(target, facts)
    if primary is None or primary.confidence < 0.5:
        checked = _checked(target, facts)
        weak = f" Weak signals: {primary.description}" if primary is not None else ""
        return RuleAnalysis(category=C.UNKNOWN, severity=Severity.LOW, confidence=0.2,
                            description=f"No abnormal state explains the alert on {target.ref}. Checked: "
                                        + "; ".join(f"{e.source} ({e.detail})" for e in checked[:8]) + "." + weak,
                            impact=impact, evidence=checked, recommendations=[_rec_list(target)],
                            timeline=timeline)
    others = [f"{f.category.value} ({f.confidence:.2f}): {f.description}" for f in findings
              if f is not primary and f.category is not primary.category][:5]
    links = primary.links()
    description = primary.description
    if len(links) > 1:
        description += " Causal chain: " + " → ".join(link.finding for link in links) + "."
    return RuleAnalysis(category=primary.category, severity=SEVERITY[primary.category],
                        confidence=round(primary.confidence, 2), description=description, impact=impact,
                        evidence=primary.evidence, recommendations=primary.recommendations, timeline=timeline,
                        also_observed=others, chain=[link.schema() for link in links])


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
        return (f"{target.kind_name} {ns}/{target.name} has {ready}/{desired} replicas ready; "
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
    """What was looked at and found normal: the answer to "what did you check?" when nothing explains the alert."""
    out: list[Evidence] = []
    for (kind, ns, name), obj in sorted(facts.workloads.items())[:3]:
        if kind == "replicaset":
            continue
        status = obj.get("status") or {}
        out.append(ev(f"{kind}/{ns}/{name}/status", f"ready={status.get('readyReplicas', status.get('numberReady', '?'))}"
                                                    f" desired={(obj.get('spec') or {}).get('replicas', status.get('desiredNumberScheduled', '?'))}"))
    for (ns, name), pod in sorted(facts.pods.items(), key=lambda kv: (kv[0] not in facts.described, kv[0]))[:5]:
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
    for ns, hpas in facts.hpas.items():
        out.append(ev(f"hpas/{ns}", f"{len(hpas)} autoscalers, none at its maximum for this workload"))
    recent = [e for e in k8s.recent(facts.events, facts.now) if e.get("type") == "Warning"]
    if facts.events:
        out.append(ev("events", f"{len(facts.events)} events read, {len(recent)} recent warnings"
                      + (f" (latest: {k8s.event_line(recent[-1])[:120]})" if recent else "")))
    return out or [ev(target.ref, "no abnormal state found")]


def _rec_list(target: Target) -> Recommendation:
    from agents.rules.fixes import rec

    if target.kind == "node":
        return rec("Look at the node yourself", f"kubectl describe node {target.name}")
    return rec("Look at the namespace's recent events", f"kubectl -n {target.namespace} get events --sort-by=.lastTimestamp")
