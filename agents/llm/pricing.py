"""Token usage to dollars, from the price table in `LLMSettings.prices` (USD per 1M tokens, [input, output]).

Providers answer with dated model names ("gpt-4o-2024-08-06") while the table holds the family name, so
lookup tries the exact names, then the longest table key a name starts with (`schemas.settings.price_table_key`).
The configured models are checked at start (`LLMSettings`): an unpriced one is a configuration error unless
`llm.assumed_price` is set, and then every call charged at it is flagged `assumed`, which its report says.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict

from schemas.settings import price_table_key


class Price(BaseModel):
    model_config = ConfigDict(frozen=True)

    input_per_m: float
    output_per_m: float
    matched: str  # the table key used, or "" when assumed
    assumed: bool = False


class UnpricedModel(ValueError):
    """A model with no price and no `llm.assumed_price` (settings validation makes this rare: a server that
    answers with a model name nothing in the table starts)."""


def price_for(prices: Mapping[str, tuple[float, float]], *names: str,
              assumed: tuple[float, float] | None = None) -> Price:
    for name in names:
        key = price_table_key(dict(prices), name)
        if key is not None:
            return Price(input_per_m=prices[key][0], output_per_m=prices[key][1], matched=key)
    if assumed is None:
        raise UnpricedModel(f"no price for model {' / '.join(n for n in names if n) or '(none)'}: add it to llm.prices "
                            "or set llm.assumed_price")
    return Price(input_per_m=assumed[0], output_per_m=assumed[1], matched="", assumed=True)


def cost_usd(price: Price, prompt_tokens: int, completion_tokens: int) -> float:
    if prompt_tokens < 0 or completion_tokens < 0:
        raise ValueError(f"token counts must be >= 0, got {prompt_tokens}/{completion_tokens}")
    return round((prompt_tokens * price.input_per_m + completion_tokens * price.output_per_m) / 1_000_000, 8)
