"""The redaction corpus: no secret survives, no evidence is lost (tests/data/secrets_corpus.*)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from agents.redaction import is_sensitive_key, redact_obj, redact_text

DATA = Path(__file__).parent / "data"
CASES = yaml.safe_load((DATA / "secrets_corpus.yaml").read_text())["cases"]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_corpus_case(case: dict) -> None:
    out = redact_text(case["text"])
    for secret in case["secrets"]:
        assert secret not in out, f"secret {secret!r} survived: {out}"
    for evidence in case["keep"]:
        assert evidence in out, f"evidence {evidence!r} lost: {out}"
    if case.get("unchanged"):
        assert out == case["text"]
    elif case["secrets"]:
        assert "[REDACTED:" in out


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_redaction_is_idempotent(case: dict) -> None:
    once = redact_text(case["text"])
    assert redact_text(once) == once


def test_whole_corpus_as_one_text() -> None:
    """Secrets next to each other in one blob (a log file) are all caught."""
    blob = "\n".join(c["text"] for c in CASES)
    out = redact_text(blob)
    for case in CASES:
        for secret in case["secrets"]:
            assert secret not in out
        for evidence in case["keep"]:
            assert evidence in out


def test_corpus_as_json_string_values() -> None:
    """The same texts JSON-encoded (a tool answer serialised) lose their secrets too."""
    text = json.dumps({"logs": [c["text"] for c in CASES]})
    out = redact_text(text)
    for case in CASES:
        for secret in case["secrets"]:
            assert json.dumps(secret)[1:-1] not in out, secret


def _k8s_corpus() -> dict:
    return json.loads((DATA / "secrets_corpus_k8s.json").read_text())


def test_k8s_objects_redacted_structurally() -> None:
    corpus = _k8s_corpus()
    out = json.dumps(redact_obj(corpus["items"]))
    for secret in corpus["secrets"]:
        assert secret not in out, secret
    for evidence in corpus["keep"]:
        assert evidence in out, evidence


def test_k8s_objects_redacted_as_text() -> None:
    """kubectl-style JSON text (no structure available) is cleaned by redact_text alone."""
    corpus = _k8s_corpus()
    for indent in (None, 2):
        out = redact_text(json.dumps(corpus["items"], indent=indent))
        for secret in corpus["secrets"]:
            assert secret not in out, (indent, secret)


def test_redact_obj_is_pure_and_keeps_shape() -> None:
    corpus = _k8s_corpus()
    before = json.dumps(corpus["items"])
    out = redact_obj(corpus["items"])
    assert json.dumps(corpus["items"]) == before  # input untouched
    secret = out[1]
    assert set(secret["data"]) == {"username", "password"}
    assert secret["data"]["password"] == "[REDACTED:secret_data]"
    env = {e["name"]: e.get("value") for e in out[0]["spec"]["containers"][0]["env"]}
    assert env["DB_HOST"] == "pg.db" and env["MAX_CONNECTIONS"] == "100"
    assert env["DB_PASSWORD"] == "[REDACTED:env_secret]"
    assert out[0]["status"]["containerStatuses"][0]["lastState"]["terminated"] == {"exitCode": 137, "reason": "OOMKilled"}


def test_redact_obj_values_under_secret_keys() -> None:
    out = redact_obj({"config": {"password": "x1", "apiKey": "x2", "client_secret": "x3", "token": 12345,
                                 "secretName": "keep-me", "enabled": True, "tokens": ["a"], "secret": None},
                      "tuple": ("postgres://u:pw123456@h/db",)})
    cfg = out["config"]
    assert cfg["password"].startswith("[REDACTED:") and cfg["apiKey"].startswith("[REDACTED:")
    assert cfg["client_secret"].startswith("[REDACTED:") and cfg["token"].startswith("[REDACTED:")
    assert cfg["secretName"] == "keep-me" and cfg["enabled"] is True and cfg["secret"] is None
    assert "pw123456" not in out["tuple"][0] and "u:" in out["tuple"][0]


@pytest.mark.parametrize("name,expected", [
    ("DB_PASSWORD", True), ("password", True), ("clientSecret", True), ("X-Api-Key", True), ("GITHUB_TOKEN", True),
    ("private_key", True), ("client-key-data", True), ("auth", True), ("AccountKey", True),
    ("secretName", False), ("secretKeyRef", False), ("tokenExpirationSeconds", False), ("key", False),
    ("automountServiceAccountToken", False), ("username", False), ("DB_HOST", False), ("reason", False),
])
def test_sensitive_key_names(name: str, expected: bool) -> None:
    assert is_sensitive_key(name) is expected


def test_empty_and_non_string() -> None:
    assert redact_text("") == ""
    assert redact_text(123) == "123"  # type: ignore[arg-type]
    assert redact_obj(None) is None and redact_obj(5) == 5


def test_large_text_keeps_every_secret_out() -> None:
    """A 10 MB log with secrets sprinkled through it: all redacted (speed is in benchmarks/redaction.py)."""
    line = "2024-05-01T10:00:00Z INFO GET /api/v1/orders/12345 200 12ms pod=orders-6f7d8c9b5-abcde node=worker-3\n"
    secret_line = "2024-05-01T10:00:01Z ERROR connect postgres://svc:Leak3dPw@db:5432/x token=tok-leaked-123\n"
    text = (line * 999 + secret_line) * (10_000_000 // (len(line) * 1000))
    out = redact_text(text)
    assert "Leak3dPw" not in out and "tok-leaked-123" not in out
    assert out.count("orders-6f7d8c9b5-abcde") == text.count("orders-6f7d8c9b5-abcde")


@pytest.mark.parametrize("text", [
    'I/O error on GET request for "http://auth-service:8080/v1/token": Connection refused',
    "dial tcp token-svc:9000: connect: connection refused",
    "keycloak-auth:8443 unreachable",
    "GET https://sso.example.com/oauth/token: 503",
])
def test_a_host_and_port_or_a_url_path_is_not_a_setting(text: str) -> None:
    """Host names and URL paths that contain `auth`, `token` or `key` are evidence (which dependency failed)."""
    assert redact_text(text) == text


def test_llm_token_counts_are_not_secrets() -> None:
    usage = {"token_usage": {"model": "m", "prompt_tokens": 812, "completion_tokens": 40, "cost_usd": 0.0},
             "limits": {"budget_tokens": 200000}, "max_tokens": 1024, "access_token": "ya29.a0AfH6SMBxyz"}
    out = redact_obj(usage)
    assert out["token_usage"] == usage["token_usage"] and out["limits"] == usage["limits"] and out["max_tokens"] == 1024
    assert out["access_token"].startswith("[REDACTED")
