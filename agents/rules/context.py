"""`Ctx`: one walk over the facts serves both the planner and the analyzer.

The rules (detect_*.py) explain what they can from the facts they have and, when a fact they would need is
missing, say so with `ctx.want(call, priority)`. The analyzer ignores the wants; the planner runs the same
walk and asks for them. So the planner can never look for something no rule reads, and a rule never
depends on data the planner does not know how to fetch.

Priorities: PATH (0) follows the evidence (the target, the worst pod, its crash log, the dependency the log
names, that dependency's worst pod …), SUPPORT (1) adds context for the report (owner chain for the fix
command, a second pod that fails differently, config keys), SPECULATIVE (2) looks around when nothing
points anywhere (autoscalers, namespace events). The planner only returns the best class pending, so
the budget goes depth-first along the evidence.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from agents.rules.facts import Facts, Key
from agents.rules.target import Target
from agents.tools.types import ToolCall

PATH, SUPPORT, SPECULATIVE = 0, 1, 2
MAX_DEPTH = 3  # pods explained through other pods: subject → dependency → its dependency


@dataclass
class Ctx:
    target: Target
    facts: Facts
    planning: bool = False
    wants: list[tuple[int, int, ToolCall]] = field(default_factory=list)
    explaining: set[Key] = field(default_factory=set)  # pods on the current path (no cycles: A needs B needs A)

    def want(self, call: ToolCall, priority: int = PATH) -> None:
        if self.planning:
            self.wants.append((priority, len(self.wants), call))
