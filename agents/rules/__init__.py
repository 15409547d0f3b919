"""The deterministic rule engine: a pure planner, a pure analyzer and a small loop driver (no LLM)."""

from agents.rules.analyzer import RuleAnalysis, analyze
from agents.rules.engine import diagnose_with_rules
from agents.rules.observations import Observations
from agents.rules.planner import next_calls
from agents.rules.target import Target

__all__ = ["Observations", "RuleAnalysis", "Target", "analyze", "diagnose_with_rules", "next_calls"]
