"""Rule-engine diagnosis on the frozen held-out sets (tests/heldout), through the path users get.

Each incident of set b1 or b2 is built from its frozen generator. Its digest is checked against
tests/heldout/MANIFEST.json, so a changed incident is refused. The incident is then diagnosed once with
`agents.diagnose.diagnose_offline(dump, payload, engine="rules")`, with the defaults `aetherius diagnose` uses
(max 10 steps).

Printed:
- per incident: expected vs got category, deepest resource reached, evidence cited, tool calls, latency;
- per-category accuracy and a confusion summary;
- totals: strict category accuracy, lenient accuracy (counting an incident's documented alternative
  categories), deepest-cause accuracy, evidence-cited rate, a fully right rate, tool calls median/p95,
  latency p50/p95.

"Deepest reached": the last link of the report's causal chain names the expected resource, or one of its
documented alternatives. Kinds are compared through their aliases (pvc = persistentvolumeclaim, ...), and
namespaces only when both sides give one. "Evidence cited": each expected fact (any of its spellings) appears,
case-insensitively, in the report's summary, root-cause description, evidence, causal chain or timeline.
"Fully right": category right (strict), deepest reached, and evidence cited.
The `unknown` incidents have no deepest resource or evidence, so they count only in the category figures.

Usage: python benchmarks/bench_heldout.py b1|b2 [--save DIR] [--only ID]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents.diagnose import diagnose_offline
from schemas.alertmanager import AlertmanagerPayload
from schemas.result import DiagnosticResult
from schemas.settings import Settings
from tests.heldout.build import MANIFEST, build

SETTINGS = Settings(llm={})  # the rule engine alone, whatever the environment says
KIND_ALIAS = {"po": "pod", "pods": "pod", "svc": "service", "services": "service", "ep": "endpoints", "endpoint": "endpoints",
              "pvc": "persistentvolumeclaim", "persistentvolumeclaims": "persistentvolumeclaim", "pv": "persistentvolume",
              "persistentvolumes": "persistentvolume", "deploy": "deployment", "deployments": "deployment", "rs": "replicaset",
              "replicasets": "replicaset", "sts": "statefulset", "statefulsets": "statefulset", "ds": "daemonset", "daemonsets": "daemonset",
              "hpa": "horizontalpodautoscaler", "horizontalpodautoscalers": "horizontalpodautoscaler", "netpol": "networkpolicy",
              "networkpolicies": "networkpolicy", "quota": "resourcequota", "resourcequotas": "resourcequota", "limits": "limitrange",
              "limitranges": "limitrange", "no": "node", "nodes": "node", "jobs": "job", "sc": "storageclass",
              "validatingwebhookconfigurations": "validatingwebhookconfiguration", "mutatingwebhookconfigurations": "mutatingwebhookconfiguration"}
SHORT = {"oom_killed": "OOM", "application_crash": "CRSH", "missing_config": "CFG", "image_pull_failure": "PULL", "invalid_command": "CMD",
         "security_context_violation": "SEC", "insufficient_resources": "RES", "scheduling_constraint": "SCHD", "quota_exceeded": "QUOT",
         "volume_mount_failure": "VOL", "node_not_ready": "NODE", "node_pressure_eviction": "EVIC", "liveness_probe_failure": "LIVE",
         "readiness_probe_failure": "READ", "service_selector_mismatch": "SEL", "dependency_failure": "DEP", "dns_failure": "DNS",
         "autoscaler_at_max": "HPA", "admission_webhook_failure": "HOOK", "unknown": "UNK"}


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))] if values else 0.0


CLUSTER_SCOPED = {"node", "persistentvolume", "storageclass", "validatingwebhookconfiguration", "mutatingwebhookconfiguration"}


def parse_ref(ref: str) -> tuple[str, str, str]:
    """'pod/ns/name' | 'node/name' | 'Pod ns/name' | 'deployment/ns/name/status.conditions[X]' → (kind, namespace, name),
    lower-case; a trailing field path is not part of the resource."""
    parts = [p for p in re.split(r"[/\s]+", ref.strip().lower()) if p]
    if not parts:
        return "", "", ""
    kind = KIND_ALIAS.get(parts[0], parts[0])
    if kind in CLUSTER_SCOPED and len(parts) >= 2:
        return kind, "", parts[1]
    if len(parts) >= 3:
        return kind, parts[1], parts[2]
    if len(parts) == 2:
        return kind, "", parts[1]
    return "", "", parts[0]


def same_resource(got: str, want: str) -> bool:
    gk, gns, gn = parse_ref(got)
    wk, wns, wn = parse_ref(want)
    if not gn or gn != wn:
        return False
    if gk and wk and gk != wk:
        return False
    return not (gns and wns and gns != wns)


def report_text(r: DiagnosticResult) -> str:
    rc = r.root_cause
    bits = [r.summary.problem, r.summary.impact, r.summary.resolution]
    if rc:
        bits.append(rc.description)
        bits += [f"{e.source} {e.detail}" for e in rc.evidence]
        for link in rc.causal_chain:
            bits.append(f"{link.resource} {link.finding}")
            bits += [f"{e.source} {e.detail}" for e in link.evidence]
        bits += [t.event for t in rc.timeline]
    bits += [f"{x.action} {x.description} {x.command}" for x in r.recommendations]
    return " ".join(b for b in bits if b).lower().replace('\\"', '"')


def tool_calls(r: DiagnosticResult) -> int:
    return sum(1 for s in r.steps if s.tool_id)


def judge(exp: dict, r: DiagnosticResult) -> dict:
    got = r.root_cause.category.value if r.root_cause else "unknown"
    chain = r.root_cause.causal_chain if r.root_cause else []
    last = chain[-1].resource if chain else ""
    wants = [exp["deepest"]] + exp["alt_deepest"] if exp["deepest"] else []
    text = report_text(r)
    cited = [any(f.lower() in text for f in group) for group in exp["evidence"]]
    before_last = chain[-2].resource if len(chain) >= 2 else ""
    out = {"id": exp["id"], "expected": exp["category"], "got": got, "cat_ok": got == exp["category"],
           "cat_ok_lenient": got == exp["category"] or got in exp["alt_categories"],
           "deepest_want": exp["deepest"], "deepest_got": last, "chain_len": len(chain),
           "deepest_ok": (any(same_resource(last, w) for w in wants) if wants else None),
           "deepest_named": (any(parse_ref(w)[2] in text for w in wants) if wants else None),
           # a closing aggregate link ("nodes": the cluster's capacity/taints) right after the expected pending pod
           "deepest_ok_lenient": (any(same_resource(last, w) or (last.strip().lower().split("/")[0] in ("nodes", "node") and same_resource(before_last, w))
                                      for w in wants) if wants else None),
           "evidence_ok": (all(cited) if exp["evidence"] else None), "evidence_missing": [g for g, c in zip(exp["evidence"], cited) if not c],
           "calls": tool_calls(r), "steps": len(r.steps), "termination": r.termination_reason, "confidence": r.confidence,
           "multi_hop": exp["multi_hop"], "red_herrings": bool(exp["red_herrings"])}
    out["fully_right"] = out["cat_ok"] and out["deepest_ok"] is not False and out["evidence_ok"] is not False
    return out


async def diagnose(d: Path) -> tuple[DiagnosticResult, float]:
    payload = AlertmanagerPayload.model_validate(json.loads((d / "alert.json").read_text()))
    t0 = time.perf_counter()
    r = await diagnose_offline(d / "dump", payload, engine="rules", settings=SETTINGS)
    return r, (time.perf_counter() - t0) * 1000


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("set", choices=["b1", "b2"])
    ap.add_argument("--save", type=Path, help="write every report and verdict as JSON under this directory")
    ap.add_argument("--only", help="one incident id")
    ap.add_argument("--rejudge", type=Path, help="re-judge the reports saved by an earlier --save run (no engine run)")
    ap.add_argument("--counterfactual-previous-logs", action="store_true",
                    help="NOT the frozen measurement: also write every pod's logs.txt as logs-previous.txt (which a real "
                         "`kubectl cluster-info dump` never writes), to measure how much depends on previous logs")
    a = ap.parse_args()
    if a.rejudge:
        return rejudge(a.set, a.rejudge)
    frozen = json.loads(MANIFEST.read_text()).get(a.set, {})
    rows: list[dict] = []
    times: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        records, digests = build(a.set, Path(tmp))
        changed = sorted(i for i in digests if frozen.get(i) != digests[i])
        if changed:
            print(f"refusing to run: {len(changed)} incident(s) differ from the frozen manifest: {', '.join(changed)}", file=sys.stderr)
            return 2
        if a.counterfactual_previous_logs:
            for logs in Path(tmp).rglob("logs.txt"):
                logs.with_name("logs-previous.txt").write_text(logs.read_text())
        for exp in records:
            if a.only and exp["id"] != a.only:
                continue
            r, ms = asyncio.run(diagnose(Path(tmp) / exp["id"]))
            row = judge(exp, r)
            row["ms"] = round(ms, 1)
            rows.append(row)
            times.append(ms)
            if a.save:
                a.save.mkdir(parents=True, exist_ok=True)
                (a.save / f"{exp['id']}.json").write_text(json.dumps({"verdict": row, "report": json.loads(r.model_dump_json())}, indent=1))
    how = "frozen digests verified, engine=rules, one run each"
    if a.counterfactual_previous_logs:
        how = "COUNTERFACTUAL (logs.txt copied to logs-previous.txt), engine=rules, one run each"
    return report(a.set, rows, times, how)


def rejudge(set_name: str, saved: Path) -> int:
    """Judge again the reports an earlier run saved (e.g. after a fix to this script's judging), without the engine."""
    import importlib
    items = {i.id: i for i in importlib.import_module(f"tests.heldout.{set_name}").R.items}
    rows, times = [], []
    for f in sorted(saved.glob(f"{set_name}-*.json")):
        data = json.loads(f.read_text())
        inc = items[data["verdict"]["id"]]
        exp = {k: v for k, v in inc.__dict__.items() if k != "build"}
        row = judge(exp, DiagnosticResult.model_validate(data["report"]))
        row["ms"] = data["verdict"].get("ms", 0.0)
        rows.append(row)
        times.append(row["ms"])
    order = [i.id for i in importlib.import_module(f"tests.heldout.{set_name}").R.items]
    rows.sort(key=lambda r: order.index(r["id"]))
    return report(set_name, rows, times, f"re-judged from {saved} (saved reports, no engine run)")


def report(set_name: str, rows: list[dict], times: list[float], how: str) -> int:
    n = len(rows)
    yn = lambda v: "-" if v is None else ("yes" if v else "NO")
    print(f"held-out set {set_name}: {n} incidents, {how}\n")
    print(f"{'incident':<7} {'expected':<26} {'got':<26} {'cat':<4} {'deepest':<7} {'evid':<5} {'calls':>5} {'ms':>6}  chain→last link")
    for r in rows:
        mark = "ok" if r["cat_ok"] else ("ok~" if r["cat_ok_lenient"] else "NO")
        print(f"{r['id']:<7} {r['expected']:<26} {r['got']:<26} {mark:<4} {yn(r['deepest_ok']):<7} {yn(r['evidence_ok']):<5} "
              f"{r['calls']:>5} {r['ms']:>6.0f}  {r['chain_len']}→{r['deepest_got'][:60]}")
    print(f"\n{'category':<28} {'n':>3} {'right':>5} {'acc':>6}")
    per = defaultdict(list)
    for r in rows:
        per[r["expected"]].append(r)
    for cat in sorted(per):
        k = sum(x["cat_ok"] for x in per[cat])
        print(f"{cat:<28} {len(per[cat]):>3} {k:>5} {k / len(per[cat]):>6.0%}")
    conf = Counter((r["expected"], r["got"]) for r in rows if not r["cat_ok"])
    print("\nconfusion (misses only, expected → got):")
    for (e, g), k in conf.most_common():
        print(f"  {SHORT[e]:>4} → {SHORT.get(g, g):<4} x{k}   ({e} → {g})")
    if not conf:
        print("  none")

    def rate(key: str, sub: list[dict]) -> str:
        vals = [x[key] for x in sub if x[key] is not None]
        return f"{sum(vals)}/{len(vals)} = {sum(vals) / len(vals):.1%}" if vals else "-"
    mh = [r for r in rows if r["multi_hop"]]
    rh = [r for r in rows if r["red_herrings"]]
    calls = [r["calls"] for r in rows]
    print(f"\ncategory accuracy (strict)          {rate('cat_ok', rows)}")
    print(f"category accuracy (lenient)         {rate('cat_ok_lenient', rows)}")
    print(f"deepest cause reached (last link)   {rate('deepest_ok', rows)}")
    print(f"  … or closing 'nodes' link after it {rate('deepest_ok_lenient', rows)}")
    print(f"deepest resource named anywhere     {rate('deepest_named', rows)}")
    print(f"evidence cited                      {rate('evidence_ok', rows)}")
    print(f"fully right (cat+deepest+evidence)  {rate('fully_right', rows)}")
    print(f"multi-hop: category {rate('cat_ok', mh)}, deepest {rate('deepest_ok', mh)}")
    print(f"with red herrings: category {rate('cat_ok', rh)}")
    print(f"tool calls per diagnosis  median {statistics.median(calls):.0f}  p95 {pct(calls, .95):.0f}  max {max(calls)}")
    print(f"latency per diagnosis     p50 {pct(times, .5):.0f} ms  p95 {pct(times, .95):.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
