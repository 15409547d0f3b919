"""`aetherius context`: which running stack the other commands talk to by default (aetherius/context.py), and why."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("context", help="show the current context: the running stack commands use by default")
    p.add_argument("--json", action="store_true", help="print JSON (the API key and bridge token stay hidden)")
    p.add_argument("--show-key", action="store_true",
                   help="print only the stack's API key (to sign in to the web console; it is yours: mode 0600)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from aetherius.cli import CliError
    from aetherius.context import context_path, load_context

    found = load_context()
    if found.context is None:
        raise CliError(f"no current context: {found.why_none}")
    if args.show_key:
        if not found.context.api_key:
            raise CliError("the current context holds no API key")
        print(found.context.api_key)
        return 0
    ctx = asdict(found.context)
    for secret in ("api_key", "webhook_token"):
        ctx[secret] = "(set)" if ctx[secret] else ""
    if args.json:
        print(json.dumps({"path": str(context_path()), **ctx}, indent=2))
        return 0
    lines = [f"context {ctx['name']} in {context_path()} (pid {ctx['pid']}, running)"]
    lines += [f"  {role:8} {url}" for role, url in ctx["apis"].items()]
    lines += [f"  kafka    {ctx['kafka_bootstrap']} (topics {ctx['topic_prefix']}.*)",
              f"  console  {ctx['console'] or 'none'} (sign in with: aetherius context --show-key)",
              f"  api key  {ctx['api_key'] or 'none'} (in the file, mode 0600)"]
    lines += [f"  {name:8} {path}" for name, path in ctx["data_dirs"].items()]
    print("\n".join(lines))
    return 0
