"""`aetherius record`: copy a topic's records into a JSONL file (keys, headers, timestamps kept) for replay."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("record", help="record a topic to a JSONL file (see `aetherius replay`)",
                       description="Stops at --max records, after --timeout seconds without a new record, or on "
                                   "Ctrl-C. With --from-beginning and neither limit it stops at the end offsets "
                                   "seen at start: a snapshot of the topic.")
    p.add_argument("--topic", required=True, help="full topic name, e.g. aetherius.alerts.raw")
    p.add_argument("--out", required=True, help="JSONL file to write (overwritten)")
    p.add_argument("--from-beginning", action="store_true", help="start at the earliest offset, not the end")
    p.add_argument("--max", type=int, default=None, metavar="N", help="stop after N records")
    p.add_argument("--timeout", type=float, default=None, metavar="S", help="stop after S seconds without a record")
    p.add_argument("--bootstrap", default=None, help="Kafka bootstrap (default: settings kafka.bootstrap)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import asyncio
    import sys
    from pathlib import Path

    from aetherius.cli import CliError
    from schemas.settings import load_settings
    from streams.record_replay import TopicMissing, record

    if args.max is not None and args.max < 1:
        raise CliError("--max must be at least 1")
    if args.timeout is not None and args.timeout <= 0:
        raise CliError("--timeout must be positive")
    bootstrap = args.bootstrap or load_settings().kafka.bootstrap
    snapshot = args.from_beginning and args.max is None and args.timeout is None
    out = Path(args.out)
    try:
        with out.open("w", encoding="utf-8") as fh:
            written = asyncio.run(record(bootstrap, args.topic, fh, from_beginning=args.from_beginning,
                                         max_records=args.max, idle_timeout=args.timeout, snapshot=snapshot))
    except TopicMissing as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:
        raise CliError(f"{out}: {exc.strerror or exc}") from None
    except Exception as exc:  # aiokafka connection errors
        raise CliError(f"kafka at {bootstrap}: {type(exc).__name__}: {exc}") from None
    print(f"recorded {written} record(s) from {args.topic} to {out}", file=sys.stderr)
    return 0
