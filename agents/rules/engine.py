"""The rule engine's answer: a `RuleAnalysis` turned into the `DiagnosticResult` a report is made of.

The loop that gathers the evidence is the one step loop (agents/steploop.py, in memory for the offline CLI:
agents/inmemory.py); the rule engine only plans (`planner.next_calls`) and analyses (`analyzer.analyze`).
The loop sets the steps and the termination reason of the result.
"""

from __future__ import annotations

from agents.rules.analyzer import RuleAnalysis
from agents.rules.target import Target
from schemas.result import DiagnosticResult, ProblemCategory, ResultSummary, RootCauseAnalysis


def build_result(target: Target, analysis: RuleAnalysis, task_id: str, cluster_id: str) -> DiagnosticResult:
    evidence_text = "; ".join(analysis.also_observed)
    first_fix = analysis.recommendations[0] if analysis.recommendations else None
    return DiagnosticResult(
        task_id=task_id, cluster_id=cluster_id, engine="rules", status="completed", confidence=analysis.confidence,
        summary=ResultSummary(problem=f"{target.alertname + ': ' if target.alertname else ''}{analysis.description}",
                              impact=analysis.impact,
                              resolution=(f"{first_fix.action}: {first_fix.command}" if first_fix and first_fix.command
                                          else first_fix.action if first_fix else ""),
                              prevention=_prevention(analysis.category)),
        root_cause=RootCauseAnalysis(description=analysis.description + (f" Also observed: {evidence_text}" if evidence_text else ""),
                                     category=analysis.category, severity=analysis.severity,
                                     evidence=analysis.evidence, timeline=analysis.timeline,
                                     causal_chain=analysis.chain),
        recommendations=analysis.recommendations,
    )


_PREVENTION: dict[ProblemCategory, str] = {
    ProblemCategory.OOM_KILLED: "Size memory limits from observed peaks plus headroom; alert on usage near the limit.",
    ProblemCategory.APPLICATION_CRASH: "Gate releases on canaries and keep rollback one command away.",
    ProblemCategory.MISSING_CONFIG: "Ship config with the workload (same chart/kustomization) and validate it in CI.",
    ProblemCategory.IMAGE_PULL_FAILURE: "Pin images by digest that CI has pushed; check pull secrets in CI.",
    ProblemCategory.INVALID_COMMAND: "Test the container's entrypoint in CI on the nodes' architecture.",
    ProblemCategory.SECURITY_CONTEXT_VIOLATION: "Lint manifests against the namespace's Pod Security level in CI.",
    ProblemCategory.INSUFFICIENT_RESOURCES: "Right-size requests and keep cluster autoscaling headroom.",
    ProblemCategory.SCHEDULING_CONSTRAINT: "Keep node labels/taints and workload selectors in one reviewed place.",
    ProblemCategory.QUOTA_EXCEEDED: "Alert on quota usage above 80% before it blocks rollouts.",
    ProblemCategory.VOLUME_MOUNT_FAILURE: "Use existing storage classes and watch claims stuck Pending.",
    ProblemCategory.NODE_NOT_READY: "Run workloads with replicas spread across nodes and PodDisruptionBudgets.",
    ProblemCategory.NODE_PRESSURE_EVICTION: "Set requests close to real usage; alert on node pressure conditions.",
    ProblemCategory.LIVENESS_PROBE_FAILURE: "Make liveness probes cheap and tolerant; use startup probes for slow starts.",
    ProblemCategory.READINESS_PROBE_FAILURE: "Keep readiness checks fast and independent of optional dependencies.",
    ProblemCategory.SERVICE_SELECTOR_MISMATCH: "Template service selectors and pod labels from one value.",
    ProblemCategory.DEPENDENCY_FAILURE: "Retry dependencies with backoff instead of crashing; alert on the dependency.",
    ProblemCategory.DNS_FAILURE: "Monitor cluster DNS; use fully qualified service names.",
    ProblemCategory.AUTOSCALER_AT_MAX: "Alert before the HPA reaches maxReplicas; review the ceiling with load tests.",
    ProblemCategory.ADMISSION_WEBHOOK_FAILURE: "Run webhooks highly available; scope them with namespace selectors.",
    ProblemCategory.UNKNOWN: "",
}


def _prevention(category: ProblemCategory) -> str:
    return _PREVENTION.get(category, "")
