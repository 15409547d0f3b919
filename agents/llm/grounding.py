"""Is the model's answer grounded in this task's tool outputs? (issue 12: a conclusion is accepted only if the
evidence it cites was returned by this task's steps.)

The record to check against is what the model was shown of this task's reads: the tool messages of the
conversation (redacted and capped, exactly as the model saw them) and the rule engine's findings, which the
rules drew from the same task's tool outputs. Knowledge-base text, the alert itself and the instructions are not
evidence: a runbook describing OOM symptoms proves nothing about this pod.

Matching is on words, not strings, because a model cites structure in its own syntax
(`lastState.terminated.reason=OOMKilled exitCode=137` for a JSON object holding those keys and values): an
evidence item holds when nearly all of its content words (lower-cased alphanumeric runs, common English words
left out) occur in the record and at least one of them is specific (a number, or a word of 5+ letters), and its
source names something the record holds. An answer of category `unknown` may cite nothing; any other answer
must cite at least one item, and every item it cites must hold.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from agents.llm.answer import LLMAnswer
from schemas.result import Evidence, ProblemCategory

MIN_WORDS_FOUND = 0.8  # share of an item's content words that must occur in the record
_WORD = re.compile(r"[a-z0-9]+")
_COMMON = frozenset("""
a an and are as at be been being but by can could did do does due for from had has have how if in into is it its
of on or our so than that the their then there these this those to was were what when where which while who why
will with would after before because also only very more most not no yes any all some each per via
""".split())


# Words of a source that say what kind of thing was read, not which one: a source holds by the object it names.
_KINDS = frozenset("""
pod pods deployment deployments replicaset replicasets statefulset statefulsets daemonset daemonsets job jobs cronjob
node nodes service services endpoints endpointslice event events log logs status spec metadata previous current
container containers initcontainer laststate state conditions condition configmap configmaps secret secrets pvc
persistentvolumeclaim persistentvolume storageclass namespace resourcequota limitrange hpa horizontalpodautoscaler
webhook webhooks ingress field fields object describe output result results function findings rule engine
""".split())


def words(text: str) -> list[str]:
    """Content words: alphanumeric runs of 3+ characters (2+ when they hold a digit), minus common English."""
    return [w for w in _WORD.findall(text.lower())
            if w not in _COMMON and (len(w) >= 3 or (len(w) == 2 and any(c.isdigit() for c in w)))]


def _specific(word: str) -> bool:
    return any(c.isdigit() for c in word) or len(word) >= 5


def record_words(tool_outputs: Iterable[str], findings: str = "") -> frozenset[str]:
    return frozenset(w for text in [*tool_outputs, findings] for w in _WORD.findall(text.lower()))


def tool_outputs(messages: list[dict[str, Any]]) -> list[str]:
    """The tool messages of a conversation: what the model was shown of the task's reads."""
    return [str(m.get("content") or "") for m in messages if m.get("role") == "tool"]


def why_ungrounded(item: Evidence, seen: frozenset[str]) -> str:
    """'' when the item holds, else what is missing from the record (said to the model)."""
    detail = words(item.detail)
    if not detail:
        return "its detail quotes nothing that was read"
    missing = [w for w in detail if w not in seen]
    if len(detail) - len(missing) < MIN_WORDS_FOUND * len(detail):
        return f"not in any function result: {', '.join(dict.fromkeys(missing))[:200]}"
    if not any(_specific(w) and w in seen for w in detail):
        return "its detail names no specific value (a name, reason, code or number) that was read"
    source = [w for w in words(item.source) if _specific(w) and w not in _KINDS]
    if source and not any(w in seen for w in source):
        return f"its source names nothing that was read ({item.source[:100]})"
    return ""


def ungrounded(answer: LLMAnswer, seen: frozenset[str]) -> list[str]:
    """Why the answer's evidence does not hold, one line per failing item ([] when it holds)."""
    evidence = answer.root_cause.evidence
    if not evidence:
        if answer.root_cause.category is ProblemCategory.UNKNOWN:
            return []
        return ["the answer cites no evidence; cite the function results that show the cause"]
    problems = []
    for i, item in enumerate(evidence):
        why = why_ungrounded(item, seen)
        if why:
            problems.append(f"evidence[{i}] ({item.source[:80]!r}: {item.detail[:120]!r}): {why}")
    return problems
