"""Issue 14's planted-secret corpus (tests/data/secrets_corpus_planted.yaml): every kind is caught in every
shape it takes (a log line, a blob, JSON text, a structured env entry), and no look-alike is touched."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from agents.redaction import redact_obj, redact_text

CORPUS = yaml.safe_load((Path(__file__).parent / "data" / "secrets_corpus_planted.yaml").read_text())
KINDS = CORPUS["kinds"]
LOOKALIKES = CORPUS["lookalikes"]


def test_the_corpus_is_as_wide_as_the_issue_asks() -> None:
    assert len({k["kind"] for k in KINDS}) >= 60 and len(set(LOOKALIKES)) >= 40
    for k in KINDS:
        assert not any(ch in k["secret"] for ch in '"\\<>&'), k["kind"]  # greppable in every output format


@pytest.mark.parametrize("kind", KINDS, ids=[k["kind"] for k in KINDS])
def test_each_kind_is_redacted(kind: dict) -> None:
    out = redact_text(kind["text"])
    assert kind["secret"] not in out, out
    assert "[REDACTED:" in out
    assert redact_text(out) == out  # idempotent


@pytest.mark.parametrize("text", LOOKALIKES)
def test_each_lookalike_is_untouched(text: str) -> None:
    assert redact_text(text) == text
    assert redact_text(json.dumps({"log": text})) == json.dumps({"log": text})


def test_issue_14_fix_command_is_not_mangled() -> None:
    assert redact_text("registry credentials: kubectl -n shop get pod api-0") == \
        "registry credentials: kubectl -n shop get pod api-0"


def test_all_kinds_and_lookalikes_in_one_log() -> None:
    lines = [k["text"] for k in KINDS] + LOOKALIKES
    for blob in ("\n".join(lines), json.dumps({"logs": "\n".join(lines)}), json.dumps(lines, indent=2)):
        out = redact_text(blob)
        leaked = [k["kind"] for k in KINDS if k["secret"] in out]
        assert leaked == []
    out = redact_text("\n".join(lines))
    assert [t for t in LOOKALIKES if t not in out] == []


def test_secrets_as_structured_env_and_labels() -> None:
    """The same values under sensitive names in objects (pod env, alert labels) go; plain names stay."""
    env = [{"name": name, "value": f"PLANTEDenv{i}value"} for i, name in enumerate(
        ["DB_PASS", "REDIS_PASSWD", "CLIENT_SECRET", "API_TOKEN", "PAYMENT_API_KEY", "SMTP_CREDENTIALS",
         "dbPassword", "X-Api-Key", "SENTRY_DSN", "LICENSE_KEY", "session_cookie"])]
    plain = [{"name": n, "value": v} for n, v in (("DB_PASSWORD_FILE", "/run/secrets/db"), ("PRIMARY_KEY", "id"),
                                                  ("LOG_LEVEL", "debug"), ("secretName", "tls-cert"))]
    out = json.dumps(redact_obj({"env": env + plain}))
    assert "PLANTEDenv" not in out
    for entry in plain:
        assert json.dumps(entry["value"]) in out
