"""`aetherius docs`: regenerate docs/reference (config, CLI, API) from the code; `--check` fails on drift."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("docs", help="regenerate the reference docs from the code (--check: fail if they drifted)")
    p.add_argument("--check", action="store_true", help="only check; exit 1 when a reference doc is stale")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from aetherius import docgen

    if args.check:
        stale = docgen.stale()
        for path in stale:
            print(f"stale: {path} (run `aetherius docs`)", file=sys.stderr)
        return 1 if stale else 0
    for path in docgen.write():
        print(f"wrote {path}")
    return 0
