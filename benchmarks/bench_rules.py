"""Rule-engine diagnosis quality and speed on the incident corpus, through the path users get.

Every incident of tests/corpus (or the held-out set, --heldout) is written as a cluster dump, optionally padded
with extra namespaces of healthy pods and events (--pad-pods, so files have realistic size), and diagnosed with
`agents.diagnose.diagnose_offline(dump, payload, engine="rules")`, --runs times (a fresh DumpReader each time,
as `aetherius diagnose` does). Prints accuracy per category, the confusion matrix, whether each answer also
cited its evidence and reached its deepest cause, tool calls per diagnosis (median/p95) and latency (p50/p95).
Targets: category accuracy >= 97% with evidence; p95 < 100 ms; median tool calls <= 12.
Usage: python benchmarks/bench_rules.py [--heldout] [--runs 5] [--pad-pods 300] [--only FAMILY]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents.diagnose import diagnose_offline  # noqa: E402
from schemas.alertmanager import AlertmanagerPayload  # noqa: E402
from schemas.result import ProblemCategory  # noqa: E402
from schemas.settings import Settings  # noqa: E402
from tests.corpus import Incident, build  # noqa: E402
from tests.dumpkit import Ctr  # noqa: E402

SHORT = {c: s for c, s in zip(ProblemCategory, ("OOM", "CRSH", "CFG", "PULL", "CMD", "SEC", "RES", "SCHD", "QUOT", "VOL",
                                                 "NODE", "EVIC", "LIVE", "READ", "SEL", "DEP", "DNS", "HPA", "HOOK", "UNK"))}


def pad(incident: Incident, pods: int) -> None:
    """Healthy pods and normal events in extra namespaces, written next to the incident's dump."""
    import json

    per_ns: dict[str, dict[str, list]] = defaultdict(lambda: {"pods": [], "events": []})
    for i in range(pods):
        ns = f"team-{i % 7}"
        c1, c2 = Ctr("app"), Ctr("sidecar")
        per_ns[ns]["pods"].append({
            "metadata": {"name": f"filler-{i}-abcde", "namespace": ns, "labels": {"app": f"filler-{i}"}},
            "spec": {"containers": [c1.spec(), c2.spec()], "nodeName": "node-1"},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
                       "containerStatuses": [c1.status(), c2.status()]}})
        per_ns[ns]["events"].append({
            "metadata": {"name": f"filler-{i}.1", "namespace": ns}, "type": "Normal", "reason": "Pulled",
            "involvedObject": {"kind": "Pod", "name": f"filler-{i}-abcde", "namespace": ns},
            "message": "Container image already present on machine"})
    for ns, kinds in per_ns.items():
        (incident.root / ns).mkdir(exist_ok=True)
        for plural, items in kinds.items():
            (incident.root / ns / f"{plural}.json").write_text(json.dumps({"kind": "List", "apiVersion": "v1", "items": items}))


SETTINGS = Settings(llm={})  # the rule engine alone, whatever the environment says


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))] if values else 0.0


async def run(incident: Incident, runs: int) -> tuple[list[float], object]:
    payload = AlertmanagerPayload.model_validate(incident.expect.payload)
    times, result = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        result = await diagnose_offline(incident.root, payload, engine="rules", settings=SETTINGS)
        times.append((time.perf_counter() - t0) * 1000)
    return times, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--heldout", action="store_true", help="the held-out set instead of the corpus")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--pad-pods", type=int, default=300)
    parser.add_argument("--only", default=None, help="one family (e.g. dependency_down) or incident id (dependency_down-1)")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every wrong answer")
    args = parser.parse_args()
    confusion: dict[ProblemCategory, Counter] = defaultdict(Counter)
    all_times: list[float] = []
    calls: list[int] = []
    right = complete = 0
    wrong: list[tuple[str, list[str], str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        incidents = build(Path(tmp), heldout=args.heldout, only=args.only)
        for incident in incidents:
            if args.pad_pods:
                pad(incident, args.pad_pods)
            times, result = asyncio.run(run(incident, args.runs))
            all_times += times
            got = result.root_cause.category
            confusion[incident.expect.category][got] += 1
            calls.append(len(result.steps))
            problems = incident.check(result)
            right += got is incident.expect.category
            complete += not problems
            if problems:
                wrong.append((incident.id, problems, result.root_cause.description[:300]))
    n = len(incidents)
    cats = [c for c in ProblemCategory if confusion.get(c)]
    print(f"{'set':<10} {'heldout' if args.heldout else 'corpus'}: {n} incidents, {args.runs} runs each, "
          f"{args.pad_pods} padding pods per dump (machine shared with other work)\n")
    print(f"{'category':<28} {'n':>3} {'right':>5} {'acc':>6}")
    for c in cats:
        total = sum(confusion[c].values())
        print(f"{c.value:<28} {total:>3} {confusion[c][c]:>5} {confusion[c][c] / total:>6.0%}")
    print(f"\nconfusion matrix (rows expected, columns got): {', '.join(f'{SHORT[c]}={c.value}' for c in cats)}")
    got_cats = [c for c in ProblemCategory if any(confusion[e][c] for e in confusion)]
    print(" " * 6 + "".join(f"{SHORT[c]:>5}" for c in got_cats))
    for c in cats:
        print(f"{SHORT[c]:<6}" + "".join(f"{(confusion[c][g] or '.'):>5}" for g in got_cats))
    print(f"\ncategory accuracy        {right}/{n} = {right / n:.1%}")
    print(f"right with evidence, deepest cause and chain  {complete}/{n} = {complete / n:.1%}")
    print(f"tool calls per diagnosis median {statistics.median(calls):.0f}  p95 {pct(calls, .95):.0f}  max {max(calls)}")
    print(f"latency per diagnosis    p50 {pct(all_times, .5):.1f} ms  p95 {pct(all_times, .95):.1f} ms  "
          f"(target p95 < 100 ms: {'met' if pct(all_times, .95) < 100 else 'NOT met'})")
    if wrong and (args.verbose or len(wrong) <= 10):
        print("\nnot fully right:")
        for iid, problems, desc in wrong:
            print(f"  {iid}: {'; '.join(problems)}\n      {desc}")


if __name__ == "__main__":
    main()
