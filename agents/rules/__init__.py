"""The deterministic rule engine: a pure planner and a pure analyzer (no LLM); the step loop drives them."""

from agents.rules.analyzer import RuleAnalysis, analyze
from agents.rules.observations import Observations
from agents.rules.planner import next_calls
from agents.rules.target import Target

__all__ = ["Observations", "RuleAnalysis", "Target", "analyze", "next_calls"]
