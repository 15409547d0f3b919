"""What the step loop needs from the knowledge base: the best match and its score (SRS §5.9.2:
>= 0.8 -> knowledge-based strategy), a redacted context block for the LLM prompt, and the entries about one
problem category (`for_category`: for a report whose cause the alert's lookup missed; see agents.knowledge.attach)."""

from __future__ import annotations

from agents.knowledge.base import KnowledgeBase, SearchHit
from agents.knowledge.filters import EntryFilter
from agents.redaction import redact_text
from schemas.knowledge import KnowledgeEntry

MAX_CONTEXT_CHARS = 6000


def query_text(alertname: str, message: str = "", labels: dict[str, str] | None = None) -> str:
    """An alert phrased for retrieval: the name, the message, and the labels that describe the problem."""
    useful = {k: v for k, v in (labels or {}).items() if k in ("reason", "container", "severity", "job")}
    return " ".join([alertname, message, *(f"{k} {v}" for k, v in useful.items())]).strip()


async def retrieve(kb: KnowledgeBase, text: str, *, cluster_id: str | None = None, environment: str | None = None,
                   k8s_version: str | None = None, top_k: int = 3) -> list[SearchHit]:
    return await kb.search(text, top_k, EntryFilter(cluster_id=cluster_id, environment=environment,
                                                    k8s_version=k8s_version))


def best_score(hits: list[SearchHit]) -> float:
    """The knowledge match score for strategy selection: the top hit's cosine similarity.

    Measured with all-MiniLM-L6-v2 on our runbooks: a well-phrased problem scores 0.6-0.77 against
    the right runbook, rarely >= 0.8, so SRS's 0.8 threshold makes "knowledge-based" rare (the
    threshold is `knowledge.knowledge_match_threshold`)."""
    return max((h.score for h in hits), default=0.0)


def context_block(hits: list[SearchHit], max_chars: int = MAX_CONTEXT_CHARS) -> str:
    """Runbook excerpts for the LLM, best first, with ids so the answer can cite them."""
    parts, used = [], 0
    for h in hits:
        part = f"[{h.entry.id}] (score {h.score:.2f}, confidence {h.entry.confidence:.2f}) {h.entry.title}\n{h.entry.content}"
        if used + len(part) > max_chars:
            break
        parts.append(part)
        used += len(part)
    return redact_text("\n\n".join(parts))


async def for_category(kb: KnowledgeBase, text: str, category: str, *, cluster_id: str | None = None,
                       top_k: int = 3) -> list[KnowledgeEntry]:
    """The entries about `category` that best match `text` (for a report whose cause the alert lookup missed)."""
    hits = await kb.search(text, top_k, EntryFilter(cluster_id=cluster_id, problem_category=category))
    return [h.entry for h in hits]
