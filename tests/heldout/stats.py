"""Composition of a held-out set (categories, multi-hop, red herrings, unknowns, stacks, platforms, sources).

    python -m tests.heldout.stats b1 b2
"""

from __future__ import annotations

import importlib
import sys
from collections import Counter


def describe(set_name: str) -> str:
    items = importlib.import_module(f"tests.heldout.{set_name}").R.items
    n = len(items)
    cats = Counter(i.category for i in items)
    mh = sum(i.multi_hop for i in items)
    rh = sum(bool(i.red_herrings) for i in items)
    public = sum("http" in i.source for i in items)
    lines = [(f"set {set_name}: {n} incidents; multi-hop {mh} ({mh / n:.0%}); with red herrings {rh} ({rh / n:.0%}); "
              f"unknown {cats['unknown']}; public source cited {public} ({public / n:.0%})"),
             "  categories: " + ", ".join(f"{k} {v}" for k, v in sorted(cats.items())),
             "  platforms: " + ", ".join(f"{k} {v}" for k, v in sorted(Counter(i.platform.split(' (')[0] for i in items).items())),
             "  stacks: " + ", ".join(sorted({i.stack for i in items}))]
    return "\n".join(lines)


if __name__ == "__main__":
    for s in sys.argv[1:] or ["b1", "b2"]:
        print(describe(s))
