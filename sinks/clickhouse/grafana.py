"""Grafana macro expansion as grafana-clickhouse-datasource does it (pkg/macros/macros.go of the plugin), so the
dashboards' SQL can be run outside Grafana: by tests/test_grafana_dashboards.py and benchmarks/bench_clickhouse.py.

$__timeFilter(c) -> c >= toDateTime(from) AND c <= toDateTime(to) (seconds); $__fromTime/$__toTime ->
toDateTime(epoch); the _ms variants -> fromUnixTimestamp64Milli(ms); $__timeInterval(c) ->
toStartOfInterval(toDateTime(c), INTERVAL n second); $__interval_s -> n. Template variables as Grafana formats
${var:singlequote} ('a','b') and ${var} / $var (a,b).
"""

from __future__ import annotations

import re
from datetime import datetime


def _args(text: str, start: int) -> tuple[str, int]:
    """The argument text of a macro call whose '(' is at `start` (balanced parentheses), and the end index."""
    depth = 0
    for i in range(start, len(text)):
        depth += {"(": 1, ")": -1}.get(text[i], 0)
        if depth == 0:
            return text[start + 1:i], i + 1
    raise ValueError(f"unbalanced macro call in {text!r}")


def expand(sql: str, start: datetime, end: datetime, interval_s: int, variables: dict[str, list[str]]) -> str:
    f, t = int(start.timestamp()), int(end.timestamp())
    fm, tm = int(start.timestamp() * 1000), int(end.timestamp() * 1000)
    calls = {
        "timeFilter_ms": lambda c: f"{c} >= fromUnixTimestamp64Milli({fm}) AND {c} <= fromUnixTimestamp64Milli({tm})",
        "timeFilter": lambda c: f"{c} >= toDateTime({f}) AND {c} <= toDateTime({t})",
        "dateFilter": lambda c: f"{c} >= toDate('{start:%Y-%m-%d}') AND {c} <= toDate('{end:%Y-%m-%d}')",
        "timeInterval_ms": lambda c: f"toStartOfInterval(toDateTime64({c}, 3), INTERVAL {interval_s * 1000} millisecond)",
        "timeInterval": lambda c: f"toStartOfInterval(toDateTime({c}), INTERVAL {max(interval_s, 1)} second)",
    }
    out = sql
    for name, fn in calls.items():
        token = f"$__{name}("
        while token in out:
            i = out.index(token)
            arg, j = _args(out, i + len(token) - 1)
            out = out[:i] + fn(arg.strip()) + out[j:]
    out = (out.replace("$__fromTime_ms", f"fromUnixTimestamp64Milli({fm})")
           .replace("$__toTime_ms", f"fromUnixTimestamp64Milli({tm})")
           .replace("$__fromTime", f"toDateTime({f})").replace("$__toTime", f"toDateTime({t})")
           .replace("$__interval_s", str(max(interval_s, 1))))

    def var(m: re.Match[str]) -> str:
        name, fmt = m.group(1) or m.group(3), m.group(2)
        values = variables[name]
        if fmt == "singlequote":
            return ",".join("'" + v.replace("'", "\\'") + "'" for v in values)
        return ",".join(values)
    out = re.sub(r"\$\{(\w+)(?::(\w+))?\}|\$(\w+)", var, out)
    if "$" in out:
        raise ValueError(f"unexpanded macro or variable in {out!r}")
    return out
