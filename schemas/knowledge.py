"""`KnowledgeEntry` (SRS §6.3): a runbook section or a learned case."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

from pydantic import BaseModel, Field

from schemas.base import Record, utcnow


class KnowledgeCategory(str, Enum):
    RUNBOOK = "runbook"
    TROUBLESHOOT = "troubleshoot"
    BEST_PRACTICE = "best_practice"
    INCIDENT = "incident"


class KnowledgeSource(BaseModel):
    type: str = "manual"  # manual | feedback | incident | external
    author: str = ""
    reference: str = ""


class KnowledgeFeedback(BaseModel):
    helpful: int = 0
    unhelpful: int = 0
    score: float = 0.0


class KnowledgeEntry(Record):
    id: str
    title: str
    content: str
    category: KnowledgeCategory = KnowledgeCategory.RUNBOOK
    problem_category: str = ""  # the rule-engine category it addresses, when known
    tags: list[str] = Field(default_factory=list)
    source: KnowledgeSource = Field(default_factory=KnowledgeSource)
    confidence: float = Field(default=0.6, ge=0.0, le=1.0)
    usage_count: int = 0
    feedback: KnowledgeFeedback = Field(default_factory=KnowledgeFeedback)
    enabled: bool = True
    needs_improvement: bool = False
    content_hash: str = ""
    cluster_ids: list[str] = Field(default_factory=list)
    environments: list[str] = Field(default_factory=list)
    k8s_versions: list[str] = Field(default_factory=list)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    version: int = 1
