"""A `KEY=value` secret that opens a JSON string value (tool output is JSON text) is redacted too."""

import json

import pytest

from agents.redaction import redact_text


@pytest.mark.parametrize("line", ["DB_PASSWORD=hunter2", "API_TOKEN=abc123def", "client_secret=s3cr3t-value"])
def test_secret_at_the_start_of_a_json_string(line):
    text = json.dumps({"logs": line})
    out = redact_text(text)
    assert line.split("=", 1)[1] not in out and "[REDACTED:" in out
    assert json.loads(out)["logs"].split("=", 1)[0] == line.split("=", 1)[0]  # the key stays as evidence


def test_evidence_that_only_looks_like_a_key_stays():
    assert redact_text(json.dumps({"env": "secretName=db-credentials"})) == json.dumps({"env": "secretName=db-credentials"})
