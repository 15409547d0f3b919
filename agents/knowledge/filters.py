"""Which entries a search may return: one pure predicate, translated for each engine.

Scoping rule: an entry with no clusters/environments/k8s versions applies everywhere; an entry that
lists some applies only to those. Disabled entries are never returned unless asked for.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict

_VERSION = re.compile(r"v?(\d+)\.(\d+)")


def k8s_minor(version: str) -> str:
    """'v1.29.3' -> '1.29': knowledge is scoped by minor version, not by patch."""
    m = _VERSION.match(version.strip())
    return f"{m.group(1)}.{m.group(2)}" if m else version.strip()


class EntryFilter(BaseModel):
    model_config = ConfigDict(frozen=True)

    cluster_id: str | None = None
    environment: str | None = None
    k8s_version: str | None = None
    problem_category: str | None = None
    include_disabled: bool = False

    @property
    def is_trivial(self) -> bool:
        """Only the enabled check: the over-fetch path needs no fallback for it in practice."""
        return not (self.cluster_id or self.environment or self.k8s_version or self.problem_category)

    def scoped(self) -> list[tuple[str, str]]:
        out = []
        if self.cluster_id:
            out.append(("cluster_ids", self.cluster_id))
        if self.environment:
            out.append(("environments", self.environment))
        if self.k8s_version:
            out.append(("k8s_minors", k8s_minor(self.k8s_version)))
        return out

    def matches(self, payload: dict[str, Any]) -> bool:
        if not self.include_disabled and not payload.get("enabled", True):
            return False
        if self.problem_category and payload.get("problem_category") != self.problem_category:
            return False
        for key, value in self.scoped():
            values = payload.get(key) or []
            if values and value not in values:
                return False
        return True


def derived_payload(entry_payload: dict[str, Any]) -> dict[str, Any]:
    """Fields stored beside the entry only so that engines can filter on them natively."""
    return {
        "status": "enabled" if entry_payload.get("enabled", True) else "disabled",
        "k8s_minors": sorted({k8s_minor(v) for v in entry_payload.get("k8s_versions") or []}),
    }


def to_qdrant_client_filter(f: EntryFilter):  # noqa: ANN201 - qdrant_client.models.Filter | None
    from qdrant_client import models as m

    must: list[Any] = []
    if not f.include_disabled:
        must.append(m.FieldCondition(key="status", match=m.MatchValue(value="enabled")))
    if f.problem_category:
        must.append(m.FieldCondition(key="problem_category", match=m.MatchValue(value=f.problem_category)))
    for key, value in f.scoped():
        must.append(m.Filter(should=[m.IsEmptyCondition(is_empty=m.PayloadField(key=key)),
                                     m.FieldCondition(key=key, match=m.MatchValue(value=value))]))
    return m.Filter(must=must) if must else None


def to_edge_filter(f: EntryFilter):  # noqa: ANN201 - qdrant_edge.Filter | None
    import qdrant_edge as e

    must: list[Any] = []
    # A keyword "status", not the bool "enabled": qdrant-edge-py 0.9.0 matched 0 points on an indexed
    # bool field with MatchValue(True) when we measured it.
    if not f.include_disabled:
        must.append(e.FieldCondition("status", match=e.MatchValue("enabled")))
    if f.problem_category:
        must.append(e.FieldCondition("problem_category", match=e.MatchValue(f.problem_category)))
    for key, value in f.scoped():
        must.append(e.Filter(should=[e.IsEmptyCondition(key), e.FieldCondition(key, match=e.MatchValue(value))]))
    return e.Filter(must=must) if must else None
