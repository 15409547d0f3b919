"""`aetherius demo`: run the whole system on embedded defaults with a bundled multi-cluster incident."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run everything locally and replay a bundled incident (no API key needed)")
    p.add_argument("--once", action="store_true", help="exit after printing the reports instead of serving on")
    p.add_argument("--work-dir", type=Path, default=None, help="where logs and embedded data go (default var/demo/<time>)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from aetherius.cli import CliError
    from aetherius.demo import DemoError, run_demo
    from aetherius.localkafka import KafkaUnavailable

    try:
        return run_demo(once=args.once, work_dir=args.work_dir)
    except (DemoError, KafkaUnavailable) as exc:
        raise CliError(str(exc)) from None
