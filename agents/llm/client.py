"""The `openai.AsyncOpenAI` client for any OpenAI-compatible endpoint, built from `LLMSettings`."""

from __future__ import annotations

from openai import AsyncOpenAI

from schemas.settings import LLMSettings

# Local OpenAI-compatible servers (llama.cpp, vLLM, Ollama) accept any key, but the client insists on one.
PLACEHOLDER_KEY = "not-needed"


class LLMNotConfigured(ValueError):
    pass


def make_client(settings: LLMSettings, *, max_retries: int = 1) -> AsyncOpenAI:
    """Base URL and key come from the settings, else OPENAI_BASE_URL / OPENAI_API_KEY.

    `max_retries` is the client's own retry of connection errors, 408/409/429 and 5xx with backoff;
    anything still failing comes back to the engine, which hands the task to the rule engine.
    """
    if not settings.configured:
        raise LLMNotConfigured("no LLM configured: set llm.base_url / llm.api_key or OPENAI_BASE_URL / OPENAI_API_KEY")
    base_url = settings.effective_base_url
    api_key = settings.effective_api_key or PLACEHOLDER_KEY
    return AsyncOpenAI(api_key=api_key, base_url=base_url, timeout=settings.timeout_seconds, max_retries=max_retries)
