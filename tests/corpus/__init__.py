"""The rule engine's incident corpus: realistic cluster dumps + Alertmanager payloads generated from code.

`build(root)` writes every incident of the corpus (tests/corpus/families_*.py) under `root` and returns
them; `build(root, heldout=True)` writes the held-out set (tests/corpus/heldout.py), written after the
rules and never tuned on. Each `Incident` states what a correct diagnosis must say: the category, the
deepest resource the causal chain must reach, and the evidence it must cite.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from schemas.result import DiagnosticResult, ProblemCategory
from tests.corpus.kit import STACKS, Cluster, Ctr, Stack

C = ProblemCategory


@dataclass
class Expect:
    """What a scenario function returns: the alert it fires and what a correct answer contains."""

    payload: dict[str, Any]
    category: ProblemCategory
    deepest: str  # a resource reference the evidence must reach, e.g. "pod/data/sessions-db-0"
    cites: list[str] = field(default_factory=list)  # substrings of "source | detail" that must be cited
    mentions: list[str] = field(default_factory=list)  # substrings the description must contain
    multi_hop: bool = False  # the cause is two or more hops from the alerted resource
    red_herring: bool = False  # the dump holds a deliberate decoy that must not win


@dataclass
class Incident:
    id: str
    family: str
    stack: str
    root: Path
    expect: Expect

    def check(self, result: DiagnosticResult) -> list[str]:
        """Why `result` is wrong ([] when it is right): category, evidence cited, deepest cause reached."""
        rc = result.root_cause
        if rc is None:
            return ["no root cause"]
        problems = []
        if rc.category is not self.expect.category:
            problems.append(f"category {rc.category.value} != {self.expect.category.value}")
        cited = [f"{e.source} | {e.detail}" for e in rc.evidence]
        for want in self.expect.cites:
            if not any(want.lower() in c.lower() for c in cited):
                problems.append(f"evidence does not cite {want!r}")
        if self.expect.deepest and not any(_reaches(self.expect.deepest, e.source) for e in rc.evidence):
            problems.append(f"evidence does not reach {self.expect.deepest}")
        for want in self.expect.mentions:
            if want not in rc.description:
                problems.append(f"description does not mention {want!r}")
        if self.expect.multi_hop and "Causal chain:" not in rc.description:
            problems.append("multi-hop incident without a causal chain in the report")
        if len(result.steps) > 10:
            problems.append(f"{len(result.steps)} tool calls > 10")
        return problems


def _reaches(ref: str, source: str) -> bool:
    """Evidence about `ref` (pod/ns/name…): its fields, or its events (event/ns/Pod/name)."""
    if ref in source:
        return True
    kind, _, rest = ref.partition("/")
    ns, _, name = rest.partition("/")
    kinds = {"pod": "Pod", "node": "Node", "pvc": "PersistentVolumeClaim", "service": "Service"}
    return kind in kinds and bool(name) and f"event/{ns}/{kinds[kind]}/{name}" in source


Scenario = Callable[[Cluster, dict], Expect]
FAMILIES: list[tuple[str, Scenario, list[dict]]] = []


def family(*variants: dict, into: list | None = None) -> Callable[[Scenario], Scenario]:
    """Register a scenario function with its variants (each a dict of names/wordings it reads)."""
    def register(fn: Scenario) -> Scenario:
        (FAMILIES if into is None else into).append((fn.__name__, fn, list(variants)))
        return fn
    return register


def crashloop(name: str, code: int = 1, reason: str = "Error", restarts: int = 6, **kw: Any) -> Ctr:
    return Ctr(name, state="waiting", reason="CrashLoopBackOff",
               message=f"back-off 5m0s restarting failed container={name}", ready=False, restarts=restarts,
               last={"reason": reason, "exitCode": code}, **kw)


def pick_stack(fam_index: int, var_index: int, variant: dict, stacks: tuple[Stack, ...] = STACKS) -> Stack:
    wanted = variant.get("stack")
    if wanted:
        return next(s for s in stacks if s.name == wanted)
    return stacks[(fam_index * 3 + var_index) % len(stacks)]


def build(root: Path, *, heldout: bool = False, only: str | None = None) -> list[Incident]:
    """Write the incidents (all, or `only` one family or one incident id) under `root`."""
    stacks = STACKS
    if heldout:
        from tests.corpus import heldout as held  # registers into HELDOUT
        families, stacks = HELDOUT, held.STACKS
    else:
        from tests.corpus import families_deps, families_infra, families_pod  # noqa: F401
        families = FAMILIES
    incidents = []
    for fi, (name, fn, variants) in enumerate(families):
        for vi, variant in enumerate(variants):
            iid = f"{name}-{vi + 1}"
            if only and only not in (iid, name):
                continue
            stack = pick_stack(fi, vi, variant, stacks)
            seed = int(hashlib.sha256(iid.encode()).hexdigest()[:8], 16)
            cluster = Cluster(root / iid, stack, seed, nodes=variant.get("nodes", 3))
            expect = fn(cluster, variant)
            cluster.write()
            incidents.append(Incident(iid, name, stack.name, cluster.b.root, expect))
    return incidents


HELDOUT: list[tuple[str, Scenario, list[dict]]] = []


def heldout_family(*variants: dict) -> Callable[[Scenario], Scenario]:
    return family(*variants, into=HELDOUT)
