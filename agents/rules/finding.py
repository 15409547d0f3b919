"""`Finding`: one candidate root cause a rule found, and the precedence that picks among candidates."""

from __future__ import annotations

from dataclasses import dataclass, field

from schemas.result import Evidence, ProblemCategory as C, Recommendation

# Most specific first (docs/rule-engine.md explains each position). A cause that explains the
# others wins: a NotReady node explains its pods' failures; a refused dependency explains a crash.
PRECEDENCE: tuple[C, ...] = (
    C.NODE_NOT_READY,
    C.NODE_PRESSURE_EVICTION,
    C.ADMISSION_WEBHOOK_FAILURE,
    C.SECURITY_CONTEXT_VIOLATION,
    C.QUOTA_EXCEEDED,
    C.VOLUME_MOUNT_FAILURE,
    C.IMAGE_PULL_FAILURE,
    C.MISSING_CONFIG,
    C.INVALID_COMMAND,
    C.INSUFFICIENT_RESOURCES,
    C.SCHEDULING_CONSTRAINT,
    C.DEPENDENCY_FAILURE,
    C.DNS_FAILURE,
    C.LIVENESS_PROBE_FAILURE,
    C.OOM_KILLED,
    C.APPLICATION_CRASH,
    C.READINESS_PROBE_FAILURE,
    C.SERVICE_SELECTOR_MISMATCH,
    C.AUTOSCALER_AT_MAX,
    C.UNKNOWN,
)
assert set(PRECEDENCE) == set(C), "every category has exactly one place in the precedence"
MIN_CONFIDENCE = 0.6  # a weaker finding only wins when nothing reaches this


@dataclass
class Finding:
    category: C
    confidence: float
    description: str
    evidence: list[Evidence]
    recommendations: list[Recommendation] = field(default_factory=list)
    container: str | None = None  # the container it is about, when it is about one


def choose(findings: list[Finding], container: str = "") -> Finding | None:
    """The most specific finding with enough confidence; findings about the alert's container first."""
    if container and any(f.container == container for f in findings):
        findings = [f for f in findings if f.container in (None, container)]
    strong = [f for f in findings if f.confidence >= MIN_CONFIDENCE]
    if strong:
        return min(strong, key=lambda f: (PRECEDENCE.index(f.category), -f.confidence))
    return max(findings, key=lambda f: f.confidence, default=None)


def ev(source: str, detail: str, kind: str = "field") -> Evidence:
    return Evidence(source=source, detail=detail[:500], kind=kind)
