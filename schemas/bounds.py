"""Size budgets for text that travels in records: cut with a visible marker, measured as it is serialised.

Every record has a budget (streams.emit.RECORD_BUDGET, under the broker's 1 MB). A value that enters long (a
label, an annotation, a tool's output) keeps one bounded copy; text copied from it elsewhere is cut shorter.
Sizes are JSON bytes with ASCII escaping - what the worst serialiser here writes: a non-ASCII character can
take 6 bytes ("\\u00e9") and one outside the BMP 12 (an emoji is a surrogate pair), so 13,000 emoji are
156 KB in a table row although they are 52 KB of UTF-8.
"""

from __future__ import annotations

import json
from typing import Any, Mapping

MARKER = "…[cut {n} chars]"
# Key + value bytes of one record or table row. The producer refuses requests over 1,000,000 bytes (Faust's
# producer_max_request_size); headers and batch framing need the rest.
RECORD_BUDGET = 900_000


def json_size(value: Any) -> int:
    """Bytes `value` takes in JSON with ASCII escaping."""
    return len(json.dumps(value, default=str))


def clip(text: str, max_bytes: int) -> str:
    """`text` if it fits in `max_bytes` (as a JSON string, quotes excluded); else its longest prefix that fits
    with the marker saying how many characters were cut."""
    if len(text) * 12 <= max_bytes or json_size(text) - 2 <= max_bytes:
        return text
    lo, hi = 0, len(text)
    while lo < hi:  # the longest prefix whose clipped form fits
        mid = (lo + hi + 1) // 2
        if json_size(text[:mid] + MARKER.format(n=len(text) - mid)) - 2 <= max_bytes:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo] + MARKER.format(n=len(text) - lo)


def clip_map(values: Mapping[str, str], per_value: int, total: int, max_key: int = 256) -> dict[str, str]:
    """A str -> str map within budget: each key and value clipped, and once `total` is spent the remaining
    entries cut to a marker (in the map's order, so the first - usually identifying - entries survive)."""
    out: dict[str, str] = {}
    spent = 0
    for key, value in values.items():
        key = clip(str(key), max_key)
        room = max(0, min(per_value, total - spent))
        value = clip(str(value), room) if room > 0 else MARKER.format(n=len(str(value)))
        out[key] = value
        spent += json_size(key) + json_size(value)
    return out
