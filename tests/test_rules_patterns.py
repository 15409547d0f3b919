"""Every entry of agents/rules/patterns.yaml runs its own examples: each `match` example matches that entry
(with the captures it states) and each `no_match` example does not. Plus: the table rejects bad entries."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.rules import patterns

TABLE = patterns.table()


@pytest.mark.parametrize("entry", TABLE.patterns, ids=[p.id for p in TABLE.patterns])
def test_entry_matches_its_examples_and_only_them(entry: patterns.Pattern) -> None:
    for example in entry.match:
        m = entry.compiled.search(example.text)
        assert m, f"{entry.id} should match {example.text!r}"
        hit = patterns._hit(entry, m, example.text)
        for name, value in example.expected().items():
            assert m.groupdict().get(name) == value, f"{entry.id}: {name} of {example.text!r}"
            assert hit.get(patterns._base(name)) == value
    for text in entry.no_match:
        assert not entry.compiled.search(text), f"{entry.id} should not match {text!r}"


def test_every_group_has_entries() -> None:
    groups = {p.group for p in TABLE.patterns}
    assert groups == set(patterns.Group.__args__)  # type: ignore[attr-defined]


def test_search_and_lines_return_the_latest_hits() -> None:
    log = ("boot\nError: connect ECONNREFUSED 10.0.0.1:6379\nretrying\n"
           "Error: connect ECONNREFUSED redis.cache.svc.cluster.local:6379\n")
    hits = patterns.lines("conn_refused", log, limit=1)
    assert [h.line for h in hits] == ["Error: connect ECONNREFUSED redis.cache.svc.cluster.local:6379"]
    ends = patterns.search_all("endpoint", hits[0].line)
    assert [(h.get("host"), h.get("port")) for h in ends] == [("redis.cache.svc.cluster.local", "6379")]
    assert patterns.search("dns_timeout", "all good") is None


@pytest.mark.parametrize("body,error", [
    ("version: 1\npatterns: [{id: a, group: nonsense, regex: x, note: n, match: [x], no_match: [y]}]", "group"),
    ("version: 1\npatterns: [{id: a, group: disk_full, regex: '(', note: n, match: [x], no_match: [y]}]", "compile"),
    ("version: 1\npatterns: [{id: a, group: disk_full, regex: '(?P<evil>x)', note: n, match: [x], no_match: [y]}]",
     "named groups"),
    ("version: 1\npatterns: [{id: a, group: disk_full, regex: x, note: n, match: [], no_match: [y]}]", "match"),
    ("version: 1\npatterns: [{id: a, group: disk_full, regex: x, note: n, match: [x], no_match: [y]},"
     " {id: a, group: disk_full, regex: x, note: n, match: [x], no_match: [y]}]", "twice"),
])
def test_bad_tables_are_refused_with_the_reason(tmp_path: Path, body: str, error: str) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(body)
    with pytest.raises(ValueError, match=error):
        patterns.load(path)
