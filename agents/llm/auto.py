"""One whole diagnosis in one process, engine chosen per SRS §5.9.2 - for the offline CLI and tests.

The rule engine always runs first: its result is the LLM's starting evidence, the input to the
complexity score (hence the model), and the answer whenever the LLM is not used or fails - reused,
not recomputed, so a fallback costs nothing.
"""

from __future__ import annotations

from typing import Literal

from openai import AsyncOpenAI
from pydantic import BaseModel, Field

from agents.budget import Admission, DegradationState
from agents.llm.client import LLMNotConfigured
from agents.llm.engine import EngineOptions, Fallback, LLMEngine
from agents.strategy import Strategy, StrategyDecision, alert_complexity, choose_strategy, decide_for_task
from agents.tools.types import ToolExecutor
from schemas.audit import CostRecord
from schemas.knowledge import KnowledgeEntry
from schemas.result import DiagnosticResult, ResultArtifact
from schemas.settings import LLMSettings
from schemas.task import DiagnosticTask

EngineChoice = Literal["auto", "llm", "rules"]


class AutoDiagnosis(BaseModel):
    result: DiagnosticResult
    decision: StrategyDecision
    costs: list[CostRecord] = Field(default_factory=list)


async def diagnose_auto(task: DiagnosticTask, executor: ToolExecutor, *, llm: LLMSettings, rules: Fallback,
                        engine: EngineChoice = "auto", knowledge: list[KnowledgeEntry] | None = None,
                        knowledge_match: float = 0.0, admission: Admission | None = None,
                        degradation: DegradationState | None = None, client: AsyncOpenAI | None = None,
                        options: EngineOptions | None = None) -> AutoDiagnosis:
    """`engine="llm"` forces the LLM (raises `LLMNotConfigured` without one), `"rules"` the rule engine."""
    if engine == "llm" and not llm.configured and client is None:
        raise LLMNotConfigured("engine 'llm' needs an LLM: set llm.base_url / llm.api_key or OPENAI_BASE_URL / OPENAI_API_KEY")
    findings = await rules(task)
    if engine == "rules":
        decision = StrategyDecision(strategy=Strategy.RULE_BASED, reason="rule engine requested",
                                    complexity=alert_complexity(task, findings).score)
    elif engine == "llm":
        complexity = alert_complexity(task, findings).score
        decision = choose_strategy(knowledge_match=0.0, llm_configured=True, ai_available=True,
                                   budget_remaining_pct=100.0, complexity=complexity,
                                   cheap_model=llm.cheap_model, strong_model=llm.strong_model)
    else:
        decision = decide_for_task(task, llm, knowledge_match=knowledge_match, rule_finding=findings,
                                   admission=admission, degradation=degradation)

    if decision.strategy is Strategy.RULE_BASED:
        return AutoDiagnosis(result=findings, decision=decision)
    if decision.strategy is Strategy.KNOWLEDGE_BASED:
        # The knowledge base's solution, on top of the cluster evidence the rules just collected.
        notes = [ResultArtifact(name=f"knowledge:{k.id}", content=f"{k.title}\n\n{k.content}") for k in (knowledge or [])[:3]]
        return AutoDiagnosis(result=findings.model_copy(update={"engine": "knowledge",
                                                                "artifacts": findings.artifacts + notes}),
                             decision=decision)

    async def cached(_: DiagnosticTask) -> DiagnosticResult:
        return findings

    llm_engine = LLMEngine(llm, client=client, options=options)
    out = await llm_engine.diagnose(task, executor, fallback=cached, model=decision.model, findings=findings,
                                    knowledge=knowledge)
    return AutoDiagnosis(result=out.result, decision=decision, costs=out.costs)
