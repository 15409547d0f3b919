"""Generic HTTP webhook: the JSON report, POSTed and signed so the receiver can verify it.

Receivers verify like this (the same maths as `verify_webhook_signature`):
  - header X-Aetherius-Timestamp: Unix seconds when the request was signed;
  - header X-Aetherius-Signature: "v1=" + hex(HMAC-SHA256(shared secret, f"{timestamp}." + raw body));
  - compute it over the raw body bytes, compare in constant time, and refuse timestamps more than
    5 minutes away from your clock (replays);
  - header X-Aetherius-Report-Id: the report id (the task id): use it to ignore redeliveries.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time

from schemas.result import DiagnosticResult
from sinks.delivery import HttpRequest
from sinks.signing import check_timestamped
from sinks.report import render_json

SIGNATURE_HEADER = "X-Aetherius-Signature"
TIMESTAMP_HEADER = "X-Aetherius-Timestamp"
REPORT_ID_HEADER = "X-Aetherius-Report-Id"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    return "v1=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def verify_webhook_signature(secret: str, timestamp: str | None, signature: str | None, body: bytes,
                             now: float | None = None) -> str | None:
    """None when valid, else why not."""
    return check_timestamped(timestamp, signature, lambda ts: sign(secret, ts, body), now=now,
                             missing=f"missing {TIMESTAMP_HEADER} or {SIGNATURE_HEADER}")


def webhook_request(url: str, secret: str, result: DiagnosticResult, now: float | None = None) -> HttpRequest:
    """Signed at build time; a retry re-sends the same bytes and signature (receivers allow 5 minutes)."""
    body = json.dumps(render_json(result), separators=(",", ":")).encode()
    ts = str(int(time.time() if now is None else now))
    return HttpRequest(kind="webhook", url=url, body=body, headers={
        "Content-Type": "application/json", TIMESTAMP_HEADER: ts, SIGNATURE_HEADER: sign(secret, ts, body),
        REPORT_ID_HEADER: result.report_id, "User-Agent": "Aetherius-Webhook/1"})
