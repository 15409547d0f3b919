"""Prometheus metrics of the LLM engine: calls by outcome, tokens, dollars, fallbacks, call latency."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from aetherius.metrics import REGISTRY

LLM_CALLS = Counter("aetherius_llm_calls_total", "LLM chat-completion calls by outcome",
                    ["model", "outcome"], registry=REGISTRY)  # outcome: tool_calls|answer|invalid|error
LLM_TOKENS = Counter("aetherius_llm_tokens_total", "Tokens used by LLM calls", ["model", "kind"], registry=REGISTRY)
LLM_COST = Counter("aetherius_llm_cost_usd_total", "Dollars spent on LLM calls (price table)", ["model"],
                   registry=REGISTRY)
LLM_FALLBACKS = Counter("aetherius_llm_fallbacks_total", "LLM diagnoses answered by the rule engine, by reason",
                        ["reason"], registry=REGISTRY)
LLM_CALL_SECONDS = Histogram("aetherius_llm_call_seconds", "LLM call latency", ["model"], registry=REGISTRY,
                             buckets=(0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120))
