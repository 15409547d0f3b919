"""The text pattern table (patterns.yaml): loaded and validated once, then asked by group.

Rules decide on structure (reasons, exit codes, conditions, owners, endpoints); when they need to know what a
line of text *says* they ask here: `search("dns_timeout", line)`, `lines("conn_refused", log)`. Named groups
that repeat in one regex are spelled host2, port2… (Python forbids duplicates) and are merged back here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

PATH = Path(__file__).with_name("patterns.yaml")

Group = Literal[
    "dns_not_found", "dns_timeout", "conn_refused", "conn_timeout", "endpoint", "disk_full", "exec_failure",
    "security_refusal", "readonly_fs", "missing_config", "liveness_event", "readiness_event", "sched_ignore",
    "sched_volume", "sched_node_down", "sched_resources", "sched_constraint", "evicted", "webhook_denied",
    "webhook_unreachable", "quota", "limit_range", "hpa_missing_request", "wait_tcp", "wait_dns", "accelerator_label",
    "pvc_waits_for_pod", "error_line",
]
CAPTURES = frozenset({"host", "port", "server", "resource", "hook", "quota", "kind", "object", "key", "container"})
_NUMBERED = re.compile(r"^([a-z]+)\d*$")


class Example(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    text: str

    def expected(self) -> dict[str, str]:
        return {k: str(v) for k, v in (self.model_extra or {}).items()}


class Pattern(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    group: Group
    regex: str
    note: str = Field(min_length=1)
    case_sensitive: bool = False
    match: list[Example] = Field(min_length=1)
    no_match: list[str] = Field(min_length=1)

    @field_validator("match", mode="before")
    @classmethod
    def _examples(cls, value: object) -> object:
        return [{"text": v} if isinstance(v, str) else v for v in value] if isinstance(value, list) else value

    @model_validator(mode="after")
    def _compiles(self) -> "Pattern":
        try:
            compiled = re.compile(self.regex, 0 if self.case_sensitive else re.IGNORECASE)
        except re.error as exc:
            raise ValueError(f"pattern {self.id}: regex does not compile: {exc}") from exc
        unknown = {_base(n) for n in compiled.groupindex} - CAPTURES
        if unknown:
            raise ValueError(f"pattern {self.id}: unknown named groups {sorted(unknown)} (allowed: {sorted(CAPTURES)})")
        return self

    @property
    def compiled(self) -> re.Pattern[str]:
        return _compile(self.regex, self.case_sensitive)


class Table(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1]
    patterns: list[Pattern] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> "Table":
        seen: set[str] = set()
        for p in self.patterns:
            if p.id in seen:
                raise ValueError(f"pattern id {p.id!r} appears twice")
            seen.add(p.id)
        return self


def _base(name: str) -> str:
    m = _NUMBERED.match(name)
    return m.group(1) if m else name


@lru_cache(maxsize=None)
def _compile(regex: str, case_sensitive: bool) -> re.Pattern[str]:
    return re.compile(regex, 0 if case_sensitive else re.IGNORECASE)


@dataclass(frozen=True)
class Hit:
    """One match: which entry, the matched line, and its captures (host, port, …) merged across host2…"""

    id: str
    group: str
    line: str
    captures: dict[str, str]

    def get(self, name: str) -> str:
        return self.captures.get(name, "")


def load(path: Path = PATH) -> Table:
    """Parse and validate a pattern table; raises ValueError naming the bad entry."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"{path}: cannot read pattern table: {exc}") from exc
    return Table.model_validate(data)


@lru_cache(maxsize=1)
def table() -> Table:
    return load()


@lru_cache(maxsize=None)
def group(name: str) -> tuple[Pattern, ...]:
    found = tuple(p for p in table().patterns if p.group == name)
    if not found:
        raise KeyError(f"no pattern group {name!r}")
    return found


def _hit(p: Pattern, m: re.Match[str], line: str) -> Hit:
    caps: dict[str, str] = {}
    for name, value in m.groupdict().items():
        if value is not None:
            caps.setdefault(_base(name), value)
    return Hit(p.id, p.group, line.strip(), caps)


def search(name: str, text: str) -> Hit | None:
    """The first entry of the group that matches anywhere in `text` (entries in table order)."""
    for p in group(name):
        m = p.compiled.search(text)
        if m:
            return _hit(p, m, text)
    return None


def search_all(name: str, text: str) -> list[Hit]:
    """Every match of every entry of the group in `text` (for extractors such as `endpoint`)."""
    return [_hit(p, m, text) for p in group(name) for m in p.compiled.finditer(text)]


def lines(name: str, text: str, limit: int = 3) -> list[Hit]:
    """The last `limit` lines of `text` that the group matches (the latest failure is the relevant one)."""
    hits = []
    for line in text.splitlines():
        hit = search(name, line)
        if hit:
            hits.append(hit)
    return hits[-limit:]
