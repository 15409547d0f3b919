"""The feedback applier on a real knowledge base (qdrant local mode): SRS §5.9.5 decisions carried
out, versioned, and visible through `kb show`-level reads. Hashing embedder: no quality judged."""

from __future__ import annotations

import asyncio
from pathlib import Path

from agents.feedback_rules import AdjustEntry, HoldCandidate, NoChange, PromoteCandidate
from agents.knowledge.factory import open_knowledge_base
from agents.knowledge.feedback import FeedbackApplier, FileFeedbackLedger, ledger_path
from schemas.feedback import UserFeedback
from schemas.knowledge_settings import KnowledgeSettings
from tests.test_report import sample_result

RUNBOOKS = Path(__file__).resolve().parent.parent / "deploy" / "knowledge" / "runbooks"


def fb(user: str, rating: int, comment: str = "", task: str = "task-42") -> UserFeedback:
    return UserFeedback(id=f"{task}:{user}", task_id=task, user_id=user, rating=rating, comments=comment)


def test_negative_feedback_disables_and_positive_feedback_re_enables(tmp_path):
    async def go():
        s = KnowledgeSettings(path=tmp_path, embedding={"provider": "hashing"})
        kb = open_knowledge_base(s)
        try:
            await kb.ingest_files([RUNBOOKS / "oom_killed.md", RUNBOOKS / "dns_failure.md"])
            applier = FeedbackApplier(kb, FileFeedbackLedger(ledger_path(tmp_path)), similar_threshold=0.0, max_similar=3)
            result = sample_result()
            used = ["oom_killed#fix"]
            confs = []
            for user in "abcde":
                out = await applier.apply(fb(user, 1, "the limit was not the problem"), result, used)
                assert isinstance(out.decisions[0], AdjustEntry)
                confs.append((await kb.get("oom_killed#fix")).confidence)
            assert confs == [0.64, 0.512, 0.4096, 0.32768, 0.262144]
            entry = await kb.get("oom_killed#fix")
            assert not entry.enabled and entry.needs_improvement and entry.feedback.unhelpful == 5
            out = await applier.apply(fb("f", 5), result, used)
            entry = await kb.get("oom_killed#fix")
            assert entry.enabled and entry.confidence == 0.362144 and entry.feedback.helpful == 1
            again = await applier.apply(fb("f", 5), result, used)  # the same user votes again
            assert isinstance(again.decisions[0], NoChange) and (await kb.get("oom_killed#fix")) == entry
            actions = [v.action for v in await kb.versions()]
            assert actions == ["ingest"] + ["feedback"] * 6
        finally:
            await kb.close()
    asyncio.run(go())


def test_a_new_pattern_becomes_an_entry_after_two_confirmations_and_survives_restart(tmp_path):
    async def go():
        s = KnowledgeSettings(path=tmp_path, embedding={"provider": "hashing"})
        result = sample_result("task-new")
        kb = open_knowledge_base(s)
        try:
            applier = FeedbackApplier(kb, FileFeedbackLedger(ledger_path(tmp_path)), similar_threshold=0.99)
            out = await applier.apply(fb("a", 5, task="task-new"), result)
            assert isinstance(out.decisions[0], HoldCandidate) and await kb.list() == []
        finally:
            await kb.close()
        kb = open_knowledge_base(s)  # the candidate is on disk, not in memory
        try:
            applier = FeedbackApplier(kb, FileFeedbackLedger(ledger_path(tmp_path)), similar_threshold=0.99)
            out = await applier.apply(fb("b", 4, task="task-new"), result)
            assert isinstance(out.decisions[0], PromoteCandidate)
            (entry,) = await kb.list()
            assert entry.id.startswith("learned:oom_killed:") and entry.confidence == 0.6
            assert entry.source.type == "feedback" and entry.problem_category == "oom_killed"
            assert "kubectl -n pay set resources" in entry.content
            assert "ghp_" not in entry.content and "[REDACTED" in entry.content  # evidence had a token
        finally:
            await kb.close()
    asyncio.run(go())
