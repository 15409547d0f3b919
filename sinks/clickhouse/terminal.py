"""What `aetherius stats` and `aetherius costs` share: ask the API (or open the store directly) and print tables."""

from __future__ import annotations

import argparse
import json
import os
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

DEFAULT_API = "http://127.0.0.1:8081"


class FetchError(Exception):
    pass


def add_source_args(p: argparse.ArgumentParser) -> None:
    src = p.add_mutually_exclusive_group()
    src.add_argument("--api", default=DEFAULT_API, help=f"analytics API of the sink process (default {DEFAULT_API})")
    src.add_argument("--chdb-path", help="open an embedded store directly (only when no sink process owns it)")
    src.add_argument("--clickhouse-url", help="query a ClickHouse server directly: clickhouse://user:pass@host:8123/db")
    p.add_argument("--json", action="store_true", help="print the raw JSON answer")
    p.add_argument("--api-key", default=os.environ.get("AETHERIUS_API_KEY"),
                   help="API key for --api (default: $AETHERIUS_API_KEY); needs costs:read / history:read")


def fetch(args: argparse.Namespace, path: str, query: dict[str, str],
          direct: Callable[[Any, dict[str, str], datetime], dict[str, Any]]) -> dict[str, Any]:
    """The API's answer at `path`, or `direct(store, query, now)` when a store was named on the command line."""
    query = {k: v for k, v in query.items() if v not in (None, "")}
    if args.chdb_path or args.clickhouse_url:
        from sinks.clickhouse.store import StoreError, open_store

        url = args.clickhouse_url or f"chdb://{Path(args.chdb_path).resolve()}"
        try:
            store = open_store(url)
        except StoreError as exc:
            raise FetchError(f"{exc} (is the sink running? then use --api)") from exc
        try:
            return direct(store, query, datetime.now(timezone.utc))
        finally:
            store.close()
    url = f"{args.api.rstrip('/')}{path}?{urllib.parse.urlencode(query)}"
    try:
        request = urllib.request.Request(url, headers={"X-API-Key": args.api_key} if args.api_key else {})
        with urllib.request.urlopen(request, timeout=30) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        try:
            body = json.loads(exc.read())
            message = f"{body.get('param', '')}: {body.get('message', body)}".lstrip(": ")
        except Exception:
            message = str(exc)
        raise FetchError(message) from exc
    except (urllib.error.URLError, OSError) as exc:
        raise FetchError(f"cannot reach the analytics API at {args.api}: {exc}") from exc


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.4f}" if abs(value) < 100 else f"{value:,.2f}"
    return str(value)


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str], title: str = "") -> str:
    """A plain aligned text table; numbers right-aligned."""
    cells = [[_cell(r.get(c)) for c in columns] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    numeric = [all(isinstance(r.get(c), (int, float)) or r.get(c) is None for r in rows) and rows != [] for c in columns]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.rjust(w) if n else v.ljust(w) for v, w, n in zip(values, widths, numeric)).rstrip()

    out = [title] if title else []
    out += [line(columns), line(["-" * w for w in widths])]
    out += [line(row) for row in cells] or ["(none)"]
    return "\n".join(out)
