"""The chaos soak, longer (issue 13): a steady alert stream through a real Alertmanager into 3 workers on 8
partitions while a random worker is killed with SIGKILL every ~20 s, the broker is restarted, and a poison record
and an oversize alert arrive. Prints what users see at the end (tests/chaossoak.py says what is counted); the
suite runs a few-minute version with assertions (tests/test_chaos_soak.py).

    python benchmarks/bench_chaos.py [--minutes 10] [--rate 2] [--workers 3] [--partitions 8] [--kill-every 20]
                                     [--broker-restarts 2]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.chaossoak import SoakConfig, run_soak  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10.0, help="length of the chaos window")
    ap.add_argument("--rate", type=float, default=2.0, help="new distinct alerts per second")
    ap.add_argument("--workers", type=int, default=3)
    ap.add_argument("--partitions", type=int, default=8)
    ap.add_argument("--clusters", type=int, default=6)
    ap.add_argument("--kill-every", type=float, default=20.0, help="seconds between worker kills (+-30%%)")
    ap.add_argument("--broker-restarts", type=int, default=2)
    ap.add_argument("--seed", type=int, default=13)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-chaos-"))
    started = time.monotonic()
    result = run_soak(SoakConfig(work=work, seconds=args.minutes * 60, rate=args.rate, workers=args.workers,
                                 partitions=args.partitions, clusters=args.clusters, kill_every=args.kill_every,
                                 broker_restarts=args.broker_restarts, seed=args.seed, settle_timeout=600.0),
                      progress=lambda m: print(m, flush=True))
    print()
    print(result.table())
    print(f"{'wall time (s)'.ljust(32)}  {time.monotonic() - started:.0f}")
    ok = (not result.missing and result.tasks == result.alerts_in == result.reports_unique and result.stuck == 0
          and result.running_slots == 0 and result.deaths == 0)
    print("result:", "every alert one task, one report, nothing stuck" if ok else "FAILED: see the counts above",
          f"(data in {work})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
