"""`Finding`: one candidate root cause a rule found, its causal chain, and the precedence that picks among them.

A finding is a chain of links from the resource the rules were looking at down to the deepest abnormal
thing found (`cart crash-loops → sessions-db:5432 refused → Service sessions-db has 0 ready endpoints → pod
sessions-db-0 crash-loops: No space left on device`). Each link names a resource and carries its own
evidence; a rule that explains a crash by something deeper builds its links and appends the deeper
finding's chain (`through`). The category is decided by the rule that crosses the boundary of the
alerted workload (a dead dependency is `dependency_failure`, dead cluster DNS is `dns_failure`), and the
deepest link's recommendations come first: that is where the fix goes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from schemas.result import CausalLink, Evidence, ProblemCategory as C, Recommendation

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
    C.SERVICE_SELECTOR_MISMATCH,
    C.DEPENDENCY_FAILURE,
    C.DNS_FAILURE,
    C.LIVENESS_PROBE_FAILURE,
    C.OOM_KILLED,
    C.APPLICATION_CRASH,
    C.READINESS_PROBE_FAILURE,
    C.AUTOSCALER_AT_MAX,
    C.UNKNOWN,
)
assert set(PRECEDENCE) == set(C), "every category has exactly one place in the precedence"
MIN_CONFIDENCE = 0.6  # a weaker finding only wins when nothing reaches this
CONFIDENT = 0.85  # SRS §5.9.4: a root cause this sure ends the search (agents/rules/engine.py says the same)
MAX_EVIDENCE = 14


@dataclass
class Link:
    """One hop of a causal chain: a resource, what is wrong with it, and the evidence for that."""

    resource: str  # pod/ns/name, service/ns/name, node/name, pvc/ns/name, connection/host:port, …
    finding: str  # a short sentence that reads well between arrows
    evidence: list[Evidence] = field(default_factory=list)

    def schema(self) -> CausalLink:
        return CausalLink(resource=self.resource, finding=self.finding, evidence=list(self.evidence))


@dataclass
class Finding:
    category: C
    confidence: float
    description: str
    evidence: list[Evidence]
    recommendations: list[Recommendation] = field(default_factory=list)
    container: str | None = None  # the container it is about, when it is about one
    resource: str = ""  # the resource this finding's own link is about
    summary: str = ""  # that link's short text (defaults to the description)
    chain: list[Link] = field(default_factory=list)  # explicit chain; empty = one link (resource, summary, evidence)

    def links(self) -> list[Link]:
        if self.chain:
            return self.chain
        return [Link(self.resource or "?", self.summary or self.description, list(self.evidence))]

    @property
    def deepest(self) -> Link:
        return self.links()[-1]



def through(links: list[Link], deeper: Finding, *, category: C, confidence: float, description: str,
            recommendations: list[Recommendation] | None = None, container: str | None = None) -> Finding:
    """A finding whose cause is `deeper`, reached through `links`: the chain is links + deeper's chain; the
    deepest link's fixes come first, then `recommendations` (this hop's own)."""
    chain = list(links) + deeper.links()
    recs = renumber(list(deeper.recommendations) + list(recommendations or []))
    return Finding(category, confidence, description, flatten(chain), recs, container,
                   resource=links[0].resource if links else deeper.resource, chain=chain)


def flatten(chain: list[Link]) -> list[Evidence]:
    """Every link's evidence in chain order, without repeats, capped (the deepest link's is kept whole)."""
    seen: set[tuple[str, str]] = set()
    out: list[Evidence] = []
    for link in chain:
        for e in link.evidence:
            if (e.source, e.detail) not in seen:
                seen.add((e.source, e.detail))
                out.append(e)
    if len(out) > MAX_EVIDENCE:
        deepest = [e for e in chain[-1].evidence]
        head = [e for e in out if e not in deepest][:MAX_EVIDENCE - len(deepest)]
        out = head + deepest
    return out


def renumber(recs: list[Recommendation]) -> list[Recommendation]:
    """Keep order, make priorities non-decreasing 1..5 so the first fix is the deepest link's."""
    out = []
    for i, r in enumerate(recs):
        out.append(r.model_copy(update={"priority": min(5, max(r.priority, 1 if i == 0 else out[-1].priority))}))
    return out


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
