"""The rule engine's PLANNER: which read-only tool calls to make next, from what has been seen so far.

Pure: `next_calls(target, observations)` runs the same causal walk as the analyzer (agents/rules/investigate.py)
and returns the calls the rules said they would need that were not made yet. Only the best priority class
pending is returned, so the budget (10 calls by default) goes depth-first along the evidence: the target →
its worst pod → that pod's crash log → the Service the log names → that Service's worst pod → its log …
Context (owner chain, a second pod) comes next; looking around (autoscalers, namespace events) only when
nothing points anywhere yet. Returns [] when nothing more would change the analysis.
"""

from __future__ import annotations

from agents.rules.context import SPECULATIVE, Ctx
from agents.rules.facts import collect
from agents.rules.finding import CONFIDENT, choose
from agents.rules.investigate import investigate
from agents.rules.observations import Observations, call, call_key
from agents.rules.target import WORKLOAD_KINDS, Target
from agents.tools.types import ToolCall


def target_call(target: Target) -> ToolCall:
    ns, name = target.namespace, target.name
    if target.kind == "pod":
        return call("describe_pod", "the alert's pod: its status and events", namespace=ns, name=name)
    if target.kind in WORKLOAD_KINDS:
        return call("get_workload", f"the alert's {target.kind}, its owners and pods", namespace=ns,
                    kind=target.kind, name=name)
    if target.kind == "hpa":
        return call("get_hpa", "the alert's autoscaler and what it scales", namespace=ns, name=name)
    if target.kind == "pvc":
        return call("get_pvc", "the alert's claim, its volume and storage class", namespace=ns, name=name)
    if target.kind == "service":
        return call("get_service", "the alert's service, its endpoints and selected pods", namespace=ns, name=name)
    if target.kind == "node":
        return call("get_node", "the alert's node and its conditions", name=name)
    return call("list_pods", "no single resource named: look at every pod of the namespace", namespace=ns)


def next_calls(target: Target, obs: Observations) -> list[ToolCall]:
    """The next calls along the evidence: the best priority class still pending (see agents/rules/context.py),
    most important first; [] when nothing pending would change the analysis."""
    first = target_call(target)
    if not obs.has(first):
        return [first]
    facts = collect(obs)
    ctx = Ctx(target, facts, planning=True)
    findings = investigate(ctx)
    pending: dict[str, tuple[int, int, ToolCall]] = {}
    for priority, seq, c in ctx.wants:
        if obs.has(c):
            continue
        key = call_key(c.tool_id, c.parameters)
        if key not in pending or priority < pending[key][0]:
            pending[key] = (priority, pending[key][1] if key in pending else seq, c)
    if not pending:
        return []
    best = min(p for p, _, _ in pending.values())
    if best >= SPECULATIVE:
        primary = choose(findings, target.container)
        if primary is not None and primary.confidence >= CONFIDENT:
            return []  # a direct cause is established; looking around would only spend the budget
    return [c for p, _, c in sorted(pending.values(), key=lambda x: (x[0], x[1])) if p == best]
