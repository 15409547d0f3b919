"""The diagnosis engine seen by the step loop: `plan` the next read-only calls, `analyze` what was seen.

The rule engine is the default and needs nothing; the LLM engine (agents/llm) plugs in behind the same
two methods. Both are pure over (target, observations), so the loop can rebuild them after a crash.
"""

from __future__ import annotations

from typing import Protocol

from agents.rules.observations import Observations
from agents.rules.target import Target
from agents.tools.types import ToolCall
from schemas.alertmanager import Alert
from schemas.result import DiagnosticResult
from schemas.task import DiagnosticTask


class Engine(Protocol):
    name: str

    def plan(self, target: Target, obs: Observations) -> list[ToolCall]: ...

    def analyze(self, target: Target, obs: Observations, task: DiagnosticTask) -> DiagnosticResult: ...


class RulesEngine:
    name = "rules"

    def plan(self, target: Target, obs: Observations) -> list[ToolCall]:
        from agents.rules.planner import next_calls

        return next_calls(target, obs)

    def analyze(self, target: Target, obs: Observations, task: DiagnosticTask) -> DiagnosticResult:
        from agents.rules.analyzer import analyze
        from agents.rules.engine import build_result

        return build_result(target, analyze(target, obs), task.id, task.cluster_id)


def target_for_task(task: DiagnosticTask) -> Target:
    """The same target rules as the offline CLI: the alert's labels name the resource."""
    from agents.diagnose import target_from_alert

    labels = {**task.context.labels, "namespace": task.namespace}
    labels.setdefault("alertname", task.context.alertname or "ManualDiagnosis")
    return target_from_alert(Alert(labels=labels))


def build_llm_engine(settings, registry=None):
    """The LLM engine for the step loop and the CLI, or None when no LLM is configured.

    With the gateway's registry, each conversation is offered exactly the tools the gateway would run for the
    role its task's calls run as (`Conversation.role`); without it, the built-in tool contract."""
    from agents.llm.engine import LLMEngine
    from agents.llm.tools import specs_from_registry

    if not settings.llm.configured:
        return None
    tools = specs_from_registry(registry.tools) if registry is not None else None
    return LLMEngine(settings.llm, tools=tools)
