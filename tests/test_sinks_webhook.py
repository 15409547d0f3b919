"""The signed generic webhook: a receiver started by the test verifies what Aetherius sends."""

from __future__ import annotations

import asyncio
import json

from schemas.sinks_settings import SinksSettings
from sinks.routing import ReportDispatcher
from sinks.webhook import (
    REPORT_ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, verify_webhook_signature, webhook_request,
)
from tests.fake_slack import FakeHooks
from tests.test_report import sample_result


def test_receiver_can_verify_the_signature_it_gets():
    async def go():
        async with FakeHooks() as hooks:
            s = SinksSettings.model_validate({"destinations": {"h": {"type": "webhook", "url": hooks.webhook.url,
                                                                     "secret": "shared-key"}}, "default": ["h"]})
            async def nothing(_):  # noqa: ANN001, ANN202
                raise AssertionError("no dead letter expected")
            out = await ReportDispatcher(s, dead_letter=nothing).dispatch(sample_result())
            return out, hooks.webhook.received[0]
    out, got = asyncio.run(go())
    assert out == {"h": "delivered"}
    h = got["headers"]
    assert verify_webhook_signature("shared-key", h[TIMESTAMP_HEADER], h[SIGNATURE_HEADER], got["body"]) is None
    assert verify_webhook_signature("other-key", h[TIMESTAMP_HEADER], h[SIGNATURE_HEADER], got["body"]) == "signature mismatch"
    assert h[REPORT_ID_HEADER] == "task-42" and h["Content-Type"] == "application/json"
    body = json.loads(got["body"])
    assert body["report_id"] == "task-42" and body["root_cause"]["category"] == "oom_killed"


def test_signature_rules():
    req = webhook_request("http://x", "k", sample_result(), now=1_700_000_000)
    ts, sig = req.headers[TIMESTAMP_HEADER], req.headers[SIGNATURE_HEADER]
    assert ts == "1700000000" and sig == sign("k", ts, req.body) and sig.startswith("v1=")
    assert verify_webhook_signature("k", ts, sig, req.body, now=1_700_000_300) is None
    assert verify_webhook_signature("k", ts, sig, req.body, now=1_700_000_301) == "timestamp outside the 5-minute window"
    assert verify_webhook_signature("k", ts, sig, req.body + b" ", now=1_700_000_000) == "signature mismatch"
    assert verify_webhook_signature("k", None, sig, req.body).startswith("missing")
