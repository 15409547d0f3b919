"""LLM reasoning: function calling over the read-only tools with any OpenAI-compatible endpoint.

`LLMEngine.diagnose()` for a whole diagnosis in one process; `start()` / `turn()` /
`record_tool_result()` for the event-sourced step loop (state: `Conversation`).
"""

from agents.llm.auto import AutoDiagnosis, diagnose_auto
from agents.llm.answer import AnswerError, LLMAnswer, parse_answer
from agents.llm.client import LLMNotConfigured, make_client
from agents.llm.conversation import Conversation, PendingCall, Phase, record_tool_result, unresolved
from agents.llm.engine import Diagnosis, EngineOptions, Fallback, LLMEngine, TurnResult, execute
from agents.llm.pricing import Price, cost_usd, price_for
from agents.llm.tools import ToolSpec, builtin_specs, function_definitions, specs_from_registry

__all__ = [
    "AnswerError", "AutoDiagnosis", "Conversation", "diagnose_auto", "Diagnosis", "EngineOptions", "Fallback", "LLMAnswer", "LLMEngine",
    "LLMNotConfigured", "PendingCall", "Phase", "Price", "ToolSpec", "TurnResult", "builtin_specs", "cost_usd",
    "execute", "function_definitions", "make_client", "parse_answer", "price_for", "record_tool_result",
    "specs_from_registry", "unresolved",
]
