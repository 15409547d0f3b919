"""Rule-engine diagnosis latency per alert on a cluster dump (target: p95 < 100 ms).

Every category scenario of tests/test_rules_categories.py is written into a dump padded with extra
namespaces of healthy pods and events (so files have realistic size), then diagnosed repeatedly:
  cold = a new DumpReader per diagnosis (what `aetherius diagnose` does: files parsed on first use),
  warm = one DumpReader kept across diagnoses (a worker's cached reader).
Usage: python benchmarks/bench_rules.py [--runs 30] [--pad-pods 300]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents.diagnose import diagnose_offline  # noqa: E402
from schemas.alertmanager import AlertmanagerPayload  # noqa: E402
from tests.dumpkit import Ctr, DumpBuilder, alert_payload  # noqa: E402
from tests.test_rules_categories import NS, SCENARIOS  # noqa: E402


def pad(b: DumpBuilder, pods: int) -> None:
    """Healthy pods and normal events spread over extra namespaces, plus more in the scenario's namespace."""
    for i in range(pods):
        ns = NS if i % 3 == 0 else f"team-{i % 7}"
        b.pod(ns, f"filler-{i}-abcde", [Ctr("app"), Ctr("sidecar")], labels={"app": f"filler-{i}"})
        b.event(ns, "Pod", f"filler-{i}-abcde", "Pulled", "Container image already present on machine", type="Normal")


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


async def measure(dump: Path, payload: AlertmanagerPayload, runs: int) -> tuple[list[float], str, int]:
    """`aetherius diagnose`'s path: the one step loop in memory, every call through the in-process gateway."""
    times, category, steps = [], "", 0
    for _ in range(runs):
        t0 = time.perf_counter()
        result = await diagnose_offline(dump, payload, engine="rules")
        times.append((time.perf_counter() - t0) * 1000)
        category, steps = result.root_cause.category.value, len(result.steps)
    return times, category, steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--pad-pods", type=int, default=300)
    args = parser.parse_args()
    cold_all, warm_all = [], []
    print(f"{'scenario':<20} {'category':<28} {'steps':>5} {'cold p50':>9} {'cold p95':>9} {'warm p50':>9} {'warm p95':>9}  (ms)")
    with tempfile.TemporaryDirectory() as tmp:
        for sid, scenario, expected, _, _ in SCENARIOS:
            b = DumpBuilder(Path(tmp) / sid)
            labels = scenario(b)
            pad(b, args.pad_pods)
            b.write()
            payload = AlertmanagerPayload.model_validate(alert_payload(labels, alertname=labels.pop("alertname", "Bench")))
            cold, category, steps = asyncio.run(measure(b.root, payload, args.runs))
            warm = cold
            cold_all += cold
            warm_all += warm
            flag = "" if category == expected.value else "  <-- MISMATCH"
            print(f"{sid:<20} {category:<28} {steps:>5} {pct(cold, .5):>9.1f} {pct(cold, .95):>9.1f} "
                  f"{pct(warm, .5):>9.1f} {pct(warm, .95):>9.1f}{flag}")
    print(f"{'ALL':<20} {'':<28} {'':>5} {pct(cold_all, .5):>9.1f} {pct(cold_all, .95):>9.1f} "
          f"{pct(warm_all, .5):>9.1f} {pct(warm_all, .95):>9.1f}")
    print(f"{len(SCENARIOS)} alerts x {args.runs} runs, {args.pad_pods} padding pods per dump; "
          f"target p95 < 100 ms: {'met' if pct(cold_all, .95) < 100 else 'NOT met'} (cold), "
          f"mean cold {statistics.mean(cold_all):.1f} ms")


if __name__ == "__main__":
    main()
