"""Knowledge attached to a report matches its category (issue 21): an OOM diagnosis must not carry (and so let
feedback train) `application_crash#fix`. The rule, then the one loop in memory over a real dump, with the lookups
the worker plugs in (entries made here: retrieval quality itself is measured by benchmarks/bench_knowledge.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from agents.cluster.dump import DumpReader
from agents.engine import RulesEngine
from agents.gateway.inprocess import in_process_executor
from agents.inmemory import MemoryTopics, run_task
from agents.knowledge.attach import attachable, attachment_note
from agents.steploop import StepLoop
from schemas.knowledge import KnowledgeEntry
from schemas.result import ProblemCategory
from schemas.signal import Priority
from schemas.task import DiagnosticTask, ResourceInfo, TaskContext
from tests.dumpkit import DumpBuilder
from tests.test_rules_categories import NS, oom_deployment


def entry(entry_id: str, category: str = "") -> KnowledgeEntry:
    return KnowledgeEntry(id=entry_id, title=entry_id, content=f"about {category or 'anything'}",
                          problem_category=category)


CRASH, DEP, WEBHOOK = entry("application_crash#fix", "application_crash"), entry("dependency_failure#fix",
                                                                                   "dependency_failure"), \
    entry("admission_webhook_failure#fix", "admission_webhook_failure")
OOM, GENERAL = entry("oom_killed#fix", "oom_killed"), entry("on-call#escalation")


def test_only_entries_about_the_reports_category_or_none_are_kept():
    kept, dropped = attachable([CRASH, OOM, GENERAL, DEP], "oom_killed")
    assert kept == [OOM, GENERAL] and dropped == [CRASH, DEP]
    assert attachable([CRASH, GENERAL], "unknown") == ([GENERAL], [CRASH])
    note = attachment_note("oom_killed", kept, [], dropped)
    assert "application_crash#fix (application_crash)" in note and "does not train them" in note


def diagnose(tmp_path: Path, found_at_admission: list[KnowledgeEntry], by_category: dict[str, list[KnowledgeEntry]]):
    b = DumpBuilder(tmp_path / "dump")
    labels = oom_deployment(b)
    b.write()
    asked: list[str] = []

    async def lookup(task):
        return 0.67, list(found_at_admission)

    async def for_category(task, category):
        asked.append(category)
        return list(by_category.get(category, []))

    async def go():
        executor = in_process_executor({"c": DumpReader(b.root, cluster_id="c")})
        topics = MemoryTopics()
        loop = StepLoop(topics=topics, table={}, engine=RulesEngine(), executor=executor, knowledge_lookup=lookup,
                        knowledge_for_category=for_category)
        task = DiagnosticTask(id="kb-1", cluster_id="c", namespace=NS, priority=Priority.P2,
                              resource=ResourceInfo(kind="deployment", name="cart", namespace=NS),
                              context=TaskContext(alertname="KubePodCrashLooping", labels={**labels}))
        try:
            return await run_task(loop, topics, task, idle_seconds=0.2), loop
        finally:
            await executor.aclose()

    out, loop = asyncio.run(go())
    return out.report, loop.table["kb-1"], asked


def test_an_oom_report_drops_the_crash_entries_and_looks_up_its_own(tmp_path):
    """The issue's case: an OOM task got application_crash#fix, dependency_failure#fix and
    admission_webhook_failure#fix from its alert's lookup."""
    report, row, asked = diagnose(tmp_path, [CRASH, DEP, WEBHOOK], {"oom_killed": [OOM, CRASH]})
    assert report.root_cause.category is ProblemCategory.OOM_KILLED
    assert asked == ["oom_killed"]
    assert [k["id"] for k in row["knowledge"]] == ["oom_killed#fix"]  # what feedback on this report trains
    assert row["task"]["metadata"]["knowledge_ids"] == ["oom_killed#fix"]
    note = next(a.content for a in report.artifacts if a.name == "knowledge")
    assert "attached (looked up for category oom_killed): oom_killed#fix" in note
    assert "application_crash#fix (application_crash)" in note and "admission_webhook_failure#fix" in note


def test_matching_entries_from_the_alert_are_kept_without_a_second_lookup(tmp_path):
    report, row, asked = diagnose(tmp_path, [OOM, CRASH, GENERAL], {})
    assert asked == []
    assert [k["id"] for k in row["knowledge"]] == ["oom_killed#fix", "on-call#escalation"]
    note = next(a.content for a in report.artifacts if a.name == "knowledge")
    assert "oom_killed#fix, on-call#escalation" in note and "application_crash#fix (application_crash)" in note


def test_nothing_about_the_category_says_so(tmp_path):
    report, row, _ = diagnose(tmp_path, [CRASH], {})
    assert row["knowledge"] == []
    assert "no knowledge about oom_killed was found" in next(a.content for a in report.artifacts if a.name == "knowledge")
