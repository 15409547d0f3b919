"""Knowledge retrieval precision on the scenario corpus: is the knowledge a report carries about its problem?

    python benchmarks/bench_knowledge.py [--corpus [--heldout]]

The runbooks of deploy/knowledge/runbooks are ingested with the real offline model (all-MiniLM-L6-v2) into a
temporary knowledge base. Every scenario of tests/test_rules_categories.py (SCENARIOS; with --corpus every
incident of tests/corpus, or its held-out set) is diagnosed by the one step loop in memory, through the gateway,
with the worker's two lookups plugged in (aetherius/compose.py WorkerKnowledge): from the alert at admission,
and by category for a report whose cause that lookup missed. A SCENARIOS entry without an alert name of its own
is alerted as `KubePodCrashLooping` (kube-prometheus-stack's most common pod alert), the way the issue's OOM
task was; corpus incidents carry their own Alertmanager payloads.

Printed per category and overall (an entry is "right" when its problem_category is the scenario's):
  alert p@3    - precision of the 3 entries found from the alert (what reports carried before issue 21)
  alert hit@3  - share of scenarios with a right entry among those 3
  attached p   - precision of the entries the report carries now (agents.knowledge.attach)
  covered      - share of scenarios whose report carries a right entry
  diagnosis    - share of scenarios diagnosed with the right category (attached entries follow it)
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents.cluster.dump import DumpReader  # noqa: E402
from agents.engine import RulesEngine  # noqa: E402
from agents.gateway.inprocess import in_process_executor  # noqa: E402
from agents.inmemory import MemoryTopics, run_task  # noqa: E402
from agents.knowledge.embeddings import LocalMiniLMEmbedder  # noqa: E402
from agents.knowledge.factory import open_knowledge_base  # noqa: E402
from agents.knowledge.retrieval import best_score, for_category, query_text, retrieve  # noqa: E402
from agents.steploop import StepLoop  # noqa: E402
from schemas.knowledge_settings import KnowledgeSettings  # noqa: E402
from schemas.signal import Priority  # noqa: E402
from schemas.task import DiagnosticTask, ResourceInfo, TaskContext  # noqa: E402
from tests.dumpkit import DumpBuilder  # noqa: E402
from tests.test_rules_categories import SCENARIOS  # noqa: E402

RUNBOOKS = Path(__file__).resolve().parents[1] / "deploy" / "knowledge" / "runbooks"
DEFAULT_ALERT = "KubePodCrashLooping"
_KINDS = ("pod", "deployment", "statefulset", "daemonset", "job_name", "horizontalpodautoscaler",
          "persistentvolumeclaim", "service", "node")


def scenarios(work: Path):
    """(id, expected category, dump dir, task) for each SCENARIOS entry."""
    for sid, scenario, category, _source, _detail in SCENARIOS:
        b = DumpBuilder(work / sid / "dump")
        labels = scenario(b)
        b.write()
        alertname = labels.pop("alertname", DEFAULT_ALERT)
        kind = next((k for k in _KINDS if labels.get(k)), "namespace")
        yield sid, category.value, b.root, DiagnosticTask(
            id=f"bench-{sid}", cluster_id="c", namespace=labels.get("namespace", "default"), priority=Priority.P2,
            resource=ResourceInfo(kind=kind, name=labels.get(kind, ""), namespace=labels.get("namespace", "")),
            context=TaskContext(alertname=alertname, labels={**labels, "alertname": alertname}))


def corpus(work: Path, heldout: bool):
    """The same for each incident of tests/corpus (its own alert payload, made into a task as offline does)."""
    from agents.diagnose import target_from_alert, task_from_alert
    from schemas.alertmanager import AlertmanagerPayload
    from schemas.task import TaskLimits
    from tests.corpus import build

    for incident in build(work / "corpus", heldout=heldout):
        alert = AlertmanagerPayload.model_validate(incident.expect.payload).alerts[0]
        yield incident.id, incident.expect.category.value, incident.root, task_from_alert(
            alert, target_from_alert(alert), "c", TaskLimits())


async def measure(kb, cases) -> dict[str, list[dict]]:
    rows: dict[str, list[dict]] = defaultdict(list)
    for _id, category, root, task in cases:
        admission: list = []

        async def lookup(task):
            ctx = task.context
            hits = await retrieve(kb, query_text(ctx.alertname, ctx.annotations.get("summary", ""), ctx.labels),
                                  cluster_id=task.cluster_id)
            admission.extend(h.entry for h in hits)
            return best_score(hits), [h.entry for h in hits]

        async def by_category(task, cat):
            ctx = task.context
            text = f"{cat.replace('_', ' ')} {query_text(ctx.alertname, ctx.annotations.get('summary', ''), ctx.labels)}"
            return await for_category(kb, text, cat, cluster_id=task.cluster_id)

        executor = in_process_executor({"c": DumpReader(root, cluster_id="c")})
        topics = MemoryTopics()
        loop = StepLoop(topics=topics, table={}, engine=RulesEngine(), executor=executor, knowledge_lookup=lookup,
                        knowledge_for_category=by_category)
        try:
            out = await run_task(loop, topics, task, idle_seconds=0.2)
        finally:
            await executor.aclose()
        attached = loop.table[task.id]["knowledge"]
        rows[category].append({
            "alert_right": sum(e.problem_category == category for e in admission[:3]),
            "alert_n": len(admission[:3]),
            "attached_right": sum(k["problem_category"] == category for k in attached),
            "attached_n": len(attached),
            "diagnosed": out.report.root_cause is not None and out.report.root_cause.category.value == category,
        })
    return rows


async def run(work: Path, use_corpus: bool, heldout: bool) -> dict[str, list[dict]]:
    kb = open_knowledge_base(KnowledgeSettings(path=work / "kb"), embedder=LocalMiniLMEmbedder())
    try:
        await kb.ingest_files(sorted(RUNBOOKS.glob("*.md")))
        return await measure(kb, corpus(work, heldout) if use_corpus else scenarios(work))
    finally:
        await kb.close()


def table(rows: dict[str, list[dict]]) -> None:
    def line(name: str, rs: list[dict]) -> str:
        alert_n = sum(r["alert_n"] for r in rs) or 1
        att_n = sum(r["attached_n"] for r in rs)
        return " | ".join([
            f"{name:<28}", f"{len(rs):>3}",
            f"{sum(r['alert_right'] for r in rs) / alert_n:>10.2f}",
            f"{sum(r['alert_right'] > 0 for r in rs) / len(rs):>11.2f}",
            f"{(sum(r['attached_right'] for r in rs) / att_n) if att_n else float('nan'):>10.2f}",
            f"{sum(r['attached_right'] > 0 for r in rs) / len(rs):>7.2f}",
            f"{sum(r['diagnosed'] for r in rs) / len(rs):>9.2f}"])

    print(" | ".join([f"{'category':<28}", "  n", "alert p@3 ", "alert hit@3", "attached p", "covered", "diagnosis"]))
    for category in sorted(rows):
        print(line(category, rows[category]))
    print(line("ALL", [r for rs in rows.values() for r in rs]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", action="store_true", help="tests/corpus instead of the category scenarios")
    parser.add_argument("--heldout", action="store_true", help="with --corpus: its held-out set")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        table(asyncio.run(run(Path(tmp), args.corpus, args.heldout)))


if __name__ == "__main__":
    main()
