"""Markdown runbooks -> `KnowledgeEntry`s. Pure: text in, entries out (the caller reads files).

Format: optional YAML front matter (title, category, problem_category, tags, clusters, environments,
k8s_versions, confidence, author), then Markdown. Each `##` section becomes one entry (its `###`
subsections stay inside it); text between the `#` title and the first `##` becomes an "Overview"
entry. Ids are `<doc id>#<section slug>`, so re-ingesting an edited file updates the same entries,
and `content_hash` makes re-ingesting an unchanged file a no-op.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from schemas.knowledge import KnowledgeCategory, KnowledgeEntry, KnowledgeSource

_FRONT = re.compile(r"\A---\s*\n(.*?)\n---\s*(?:\n|\Z)", re.S)
_H1 = re.compile(r"^#\s+(.+?)\s*#*\s*$")
_H2 = re.compile(r"^##\s+(.+?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
DEFAULT_RUNBOOK_CONFIDENCE = 0.8  # curated by operators; feedback-learned entries start at 0.6 (SRS §5.9.5)


class RunbookError(ValueError):
    """A runbook that cannot be ingested, with the file and the reason."""


class FrontMatter(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = ""
    id: str = ""
    category: KnowledgeCategory = KnowledgeCategory.RUNBOOK
    problem_category: str = ""
    tags: list[str] = Field(default_factory=list)
    clusters: list[str] = Field(default_factory=list)
    environments: list[str] = Field(default_factory=list)
    k8s_versions: list[str] = Field(default_factory=list)
    confidence: float = Field(default=DEFAULT_RUNBOOK_CONFIDENCE, ge=0, le=1)
    author: str = ""


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "section"


def doc_id_for(file_stem: str) -> str:
    """A document id from a file name: `oom_killed.md` -> `oom_killed` (underscores kept)."""
    return re.sub(r"[^a-z0-9_]+", "-", file_stem.lower()).strip("-") or "doc"


def content_hash(entry: KnowledgeEntry) -> str:
    """Hash of what the entry says and where it applies; not of learned fields (confidence, feedback)."""
    basis = {k: getattr(entry, k) for k in ("title", "content", "problem_category", "tags", "cluster_ids",
                                             "environments", "k8s_versions")}
    basis["category"] = entry.category.value
    return hashlib.sha256(json.dumps(basis, sort_keys=True).encode()).hexdigest()


def embedding_text(entry: KnowledgeEntry) -> str:
    """What gets embedded: the title carries the topic, so it leads (the model reads 256 tokens)."""
    tags = f" ({', '.join(entry.tags)})" if entry.tags else ""
    return f"{entry.title}{tags}. {entry.content}"


def split_front_matter(text: str, source: str) -> tuple[FrontMatter, str]:
    m = _FRONT.match(text)
    if not m:
        return FrontMatter(), text
    try:
        data: Any = yaml.safe_load(m.group(1)) or {}
    except yaml.YAMLError as exc:
        raise RunbookError(f"{source}: front matter is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise RunbookError(f"{source}: front matter must be a YAML mapping")
    try:
        return FrontMatter.model_validate(data), text[m.end():]
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise RunbookError(f"{source}: front matter: {problems}") from exc


def parse_runbook(text: str, source: str, doc_id: str) -> list[KnowledgeEntry]:
    """`source` names the file in errors and in entry.source.reference; `doc_id` prefixes entry ids."""
    front, body = split_front_matter(text, source)
    doc_id = front.id or doc_id
    title = front.title
    sections: list[tuple[str, list[str]]] = [("Overview", [])]
    in_fence = False
    seen_h1 = False
    for line in body.splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
        if not in_fence:
            if not seen_h1 and (h1 := _H1.match(line)):  # the document title; front matter's wins
                seen_h1 = True
                title = title or h1.group(1)
                continue
            if h2 := _H2.match(line):
                sections.append((h2.group(1), []))
                continue
        sections[-1][1].append(line)
    if not title:
        raise RunbookError(f"{source}: no title (front matter 'title' or a '# Title' line)")
    entries: list[KnowledgeEntry] = []
    seen: set[str] = set()
    for heading, lines in sections:
        content = "\n".join(lines).strip()
        if not content:
            continue
        entry_id = f"{doc_id}#{slug(heading)}"
        if entry_id in seen:
            raise RunbookError(f"{source}: two sections are both titled {heading!r}")
        seen.add(entry_id)
        entry = KnowledgeEntry(
            id=entry_id, title=f"{title} — {heading}", content=content, category=front.category,
            problem_category=front.problem_category, tags=front.tags,
            source=KnowledgeSource(type="manual", author=front.author, reference=source),
            confidence=front.confidence, cluster_ids=front.clusters, environments=front.environments,
            k8s_versions=front.k8s_versions,
        )
        entries.append(entry.model_copy(update={"content_hash": content_hash(entry)}))
    if not entries:
        raise RunbookError(f"{source}: no content under any heading")
    return entries
