"""`aetherius kafka`: run the local single-node Kafka in the foreground (for the demo and benchmarks)."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from aetherius.localkafka import KafkaUnavailable, LocalKafka


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("kafka", help="run a local single-node Kafka (KRaft) until Ctrl-C")
    p.add_argument("--port", type=int, default=9092)
    p.add_argument("--data-dir", default=None, help="keep data here (default: a temp dir removed on stop)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from aetherius.cli import CliError

    kafka = LocalKafka(port=args.port, work_dir=Path(args.data_dir) if args.data_dir else None)
    try:
        kafka.start(progress=lambda m: print(m, file=sys.stderr))
    except KafkaUnavailable as exc:
        raise CliError(str(exc)) from exc
    print(f"Kafka ready: AETHERIUS_KAFKA__BOOTSTRAP={kafka.bootstrap}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        kafka.stop()
    return 0
