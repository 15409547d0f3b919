"""LLM reasoning: function calling over the read-only tools with any OpenAI-compatible endpoint.

`start()` / `turn()` / `record_tool_result()` for the one event-sourced step loop (state: `Conversation`).
"""

from agents.llm.answer import AnswerError, LLMAnswer, parse_answer
from agents.llm.client import LLMNotConfigured, make_client
from agents.llm.conversation import Conversation, PendingCall, Phase, record_tool_result, unresolved
from agents.llm.engine import EngineOptions, Fallback, LLMEngine, TurnResult
from agents.llm.pricing import Price, cost_usd, price_for
from agents.llm.tools import ToolSpec, builtin_specs, function_definitions, specs_from_registry

__all__ = [
    "AnswerError", "Conversation", "EngineOptions", "Fallback", "LLMAnswer", "LLMEngine",
    "LLMNotConfigured", "PendingCall", "Phase", "Price", "ToolSpec", "TurnResult", "builtin_specs", "cost_usd",
    "function_definitions", "make_client", "parse_answer", "price_for", "record_tool_result",
    "specs_from_registry", "unresolved",
]
