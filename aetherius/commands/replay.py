"""`aetherius replay`: send a recording made by `aetherius record` back to Kafka, timing scaled by --speed."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("replay", help="replay a JSONL recording to Kafka (keys, headers, timestamps kept)")
    p.add_argument("file", help="JSONL file written by `aetherius record`")
    p.add_argument("--topic", default=None, help="send everything here (default: each record's own topic)")
    p.add_argument("--speed", default="1x", help="1x keeps the recorded gaps, 10x is ten times faster, max: no gaps")
    p.add_argument("--bootstrap", default=None, help="Kafka bootstrap (default: settings kafka.bootstrap)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import asyncio
    import sys
    from pathlib import Path

    from aetherius.cli import CliError
    from schemas.settings import load_settings
    from streams.producer import ProduceError, Producer
    from streams.record_replay import BadRecording, load, parse_speed, replay

    try:
        speed = parse_speed(args.speed)
    except ValueError as exc:
        raise CliError(f"--speed: {exc}") from None
    path = Path(args.file)
    try:
        messages = load(path)  # every line is validated before anything is sent
    except BadRecording as exc:
        raise CliError(f"{path}: {exc}") from None
    except OSError as exc:
        raise CliError(f"{path}: {exc.strerror or exc}") from None
    bootstrap = args.bootstrap or load_settings().kafka.bootstrap

    async def main() -> int:
        producer = Producer(bootstrap, client_id="aetherius-replay")
        await producer.start()
        try:
            return await replay(producer, messages, topic=args.topic, speed=speed)
        finally:
            await producer.stop()

    try:
        sent = asyncio.run(main())
    except ProduceError as exc:
        raise CliError(f"kafka at {bootstrap} did not take the replay: {exc}") from None
    except Exception as exc:  # aiokafka connection errors
        raise CliError(f"kafka at {bootstrap}: {type(exc).__name__}: {exc}") from None
    print(f"replayed {sent} record(s) from {path}", file=sys.stderr)
    return 0
