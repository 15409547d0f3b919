"""Token usage to dollars, from the price table in `LLMSettings.prices` (USD per 1M tokens, [input, output]).

Providers answer with dated model names ("gpt-4o-2024-08-06") while the table holds the family
name, so lookup tries the exact names, then the longest table key the name starts with. A model the
table does not know is charged at the most expensive known price: under-charging would let a task
slip past its budget, over-charging only stops it early (and the price is flagged as assumed).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict

# When the table is empty or unusable: gpt-4o list price, a conservative ceiling for most endpoints.
FALLBACK_PRICE = (2.50, 10.0)


class Price(BaseModel):
    model_config = ConfigDict(frozen=True)

    input_per_m: float
    output_per_m: float
    matched: str  # the table key used, or "" when assumed
    assumed: bool = False


def price_for(prices: Mapping[str, tuple[float, float]], *names: str) -> Price:
    for name in names:
        if name and name in prices:
            return Price(input_per_m=prices[name][0], output_per_m=prices[name][1], matched=name)
    for name in names:
        prefixes = [key for key in prices if name and name.startswith(key)]
        if prefixes:
            key = max(prefixes, key=len)
            return Price(input_per_m=prices[key][0], output_per_m=prices[key][1], matched=key)
    valid = [p for p in prices.values() if all(math.isfinite(x) and x >= 0 for x in p)]
    worst = max(valid, key=lambda p: p[0] + p[1], default=FALLBACK_PRICE)
    return Price(input_per_m=worst[0], output_per_m=worst[1], matched="", assumed=True)


def cost_usd(price: Price, prompt_tokens: int, completion_tokens: int) -> float:
    if prompt_tokens < 0 or completion_tokens < 0:
        raise ValueError(f"token counts must be >= 0, got {prompt_tokens}/{completion_tokens}")
    return round((prompt_tokens * price.input_per_m + completion_tokens * price.output_per_m) / 1_000_000, 8)
