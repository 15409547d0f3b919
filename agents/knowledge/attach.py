"""Which knowledge entries a report may carry: only those about the problem it names (issue 21).

Knowledge is looked up from the alert at admission, before anything is read, and the diagnosis may name
another cause. An entry about another problem category would then be shown beside the report and trained by
the feedback on it (SRS §5.9.5: helpful raises its confidence, unhelpful lowers it), so it is left off, and the
report says why. Pure: no knowledge base here (the step loop imports it on its hot path).
"""

from __future__ import annotations

from schemas.knowledge import KnowledgeEntry

MAX_ATTACHED = 3


def attachable(entries: list[KnowledgeEntry], category: str) -> tuple[list[KnowledgeEntry], list[KnowledgeEntry]]:
    """(kept, dropped), in their order: an entry about `category`, or about no category in particular (general
    guidance), is kept; an entry about another category is dropped (a report of category unknown keeps only
    general guidance)."""
    kept = [e for e in entries if not e.problem_category or e.problem_category == category]
    return kept, [e for e in entries if e not in kept]


def attachment_note(category: str, kept: list[KnowledgeEntry], found: list[KnowledgeEntry],
                    dropped: list[KnowledgeEntry]) -> str:
    """What the report says about its knowledge: attached, looked up for its category, and left off with why."""
    lines = []
    if kept:
        lines.append("attached (found from the alert, about " + category + " or general): "
                     + ", ".join(e.id for e in kept))
    if found:
        lines.append(f"attached (looked up for category {category}): " + ", ".join(e.id for e in found))
    if dropped:
        lines.append(f"not attached, about another problem than this report's ({category}), so feedback on this "
                     "report does not train them: " + ", ".join(f"{e.id} ({e.problem_category})" for e in dropped))
    if not kept and not found:
        lines.append(f"no knowledge about {category} was found")
    return "\n".join(lines)
