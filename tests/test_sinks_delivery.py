"""Delivery to local receivers speaking Slack's and Teams' webhook protocols: retries, back-off,
idempotency per report id, dead letters; and the pure routing/back-off rules."""

from __future__ import annotations

import asyncio
import base64
import json

from schemas.deadletter import DeadLetter
from schemas.signal import Priority
from schemas.sinks_settings import RetryPolicy, RouteRule, SinksSettings
from sinks.delivery import backoff_delay, classify
from sinks.routing import ReportDispatcher, RouteKey, route, route_key
from tests.fake_slack import FakeHooks
from tests.test_report import sample_result


class Recorder:
    def __init__(self) -> None:
        self.dead: list[DeadLetter] = []
        self.sleeps: list[float] = []

    async def dead_letter(self, d: DeadLetter) -> None:
        self.dead.append(d)

    async def sleep(self, s: float) -> None:  # back-off is asserted by value, not by waiting
        self.sleeps.append(s)


def settings(hooks: FakeHooks, **retry) -> SinksSettings:
    return SinksSettings.model_validate({
        "destinations": {
            "slack": {"type": "slack", "url": hooks.slack.url},
            "teams": {"type": "teams", "url": hooks.teams.url},
            "hook": {"type": "webhook", "url": hooks.webhook.url, "secret": "s3cret"},
        },
        "routes": [{"clusters": ["prod-*"], "destinations": ["slack", "teams"], "continue": True},
                   {"clusters": ["prod-*"], "namespaces": ["pay"], "destinations": ["hook"]}],
        "default": ["slack"],
        "retry": {"max_attempts": 4, "base_delay_seconds": 1, "max_delay_seconds": 8, "jitter": 0, **retry},
    })


def run(coro):
    return asyncio.run(coro)


def test_a_report_reaches_slack_teams_and_the_webhook():
    async def go():
        async with FakeHooks() as hooks:
            rec = Recorder()
            d = ReportDispatcher(settings(hooks), dead_letter=rec.dead_letter, sleep=rec.sleep)
            outcome = await d.dispatch(sample_result())
            return hooks, outcome, rec
    hooks, outcome, rec = run(go())
    assert outcome == {"slack": "delivered", "teams": "delivered", "hook": "delivered"}
    assert len(hooks.slack.received) == len(hooks.teams.received) == len(hooks.webhook.received) == 1
    assert not rec.dead


def test_slack_down_is_retried_with_exponential_backoff_then_delivered():
    async def go():
        async with FakeHooks() as hooks:
            hooks.slack.fail_next(3, 503)
            rec = Recorder()
            d = ReportDispatcher(settings(hooks), dead_letter=rec.dead_letter, sleep=rec.sleep)
            out = await d.dispatch(sample_result(cluster_id="dev"))
            return hooks, out, rec
    hooks, out, rec = run(go())
    assert out == {"slack": "delivered"} and hooks.slack.attempts == 4
    assert rec.sleeps == [1.0, 2.0, 4.0] and not rec.dead


def test_slack_that_stays_down_ends_in_a_dead_letter_with_the_report():
    async def go():
        async with FakeHooks() as hooks:
            hooks.slack.fail_next(10, 500)
            rec = Recorder()
            d = ReportDispatcher(settings(hooks), dead_letter=rec.dead_letter, sleep=rec.sleep)
            result = sample_result(cluster_id="dev")
            out = await d.dispatch(result, result.to_bytes())
            again = await d.dispatch(result, result.to_bytes())  # redelivery of the same report
            return hooks, out, again, rec, result
    hooks, out, again, rec, result = run(go())
    assert out == {"slack": "dead-lettered"} and again == {"slack": "duplicate"}
    assert hooks.slack.attempts == 4 and len(rec.dead) == 1
    dl = rec.dead[0]
    assert dl.stage == "sink:slack" and "HTTP 500" in dl.error and "after 4 attempts" in dl.error
    assert base64.b64decode(dl.value_b64) == result.to_bytes()  # the report itself is kept
    assert base64.b64decode(dl.key_b64) == b"task-42"


def test_a_permanent_error_is_not_retried():
    async def go():
        async with FakeHooks() as hooks:
            hooks.slack.fail_next(1, 404)
            rec = Recorder()
            d = ReportDispatcher(settings(hooks), dead_letter=rec.dead_letter, sleep=rec.sleep)
            return hooks, await d.dispatch(sample_result(cluster_id="dev")), rec
    hooks, out, rec = run(go())
    assert out == {"slack": "dead-lettered"} and hooks.slack.attempts == 1 and "no_service" in rec.dead[0].error


def test_rate_limit_honours_retry_after():
    async def go():
        async with FakeHooks() as hooks:
            hooks.slack.fail_next(1, 429)
            rec = Recorder()
            d = ReportDispatcher(settings(hooks, base_delay_seconds=0.1), dead_letter=rec.dead_letter, sleep=rec.sleep)
            return await d.dispatch(sample_result(cluster_id="dev")), rec
    out, rec = run(go())
    assert out == {"slack": "delivered"} and rec.sleeps == [1.0]


def test_delivery_is_idempotent_per_report_id():
    async def go():
        async with FakeHooks() as hooks:
            rec = Recorder()
            d = ReportDispatcher(settings(hooks), dead_letter=rec.dead_letter, sleep=rec.sleep)
            first = await d.dispatch(sample_result("t-1", cluster_id="dev"))
            second = await d.dispatch(sample_result("t-1", cluster_id="dev"))
            other = await d.dispatch(sample_result("t-2", cluster_id="dev"))
            return hooks, first, second, other
    hooks, first, second, other = run(go())
    assert first == {"slack": "delivered"} and second == {"slack": "duplicate"} and other == {"slack": "delivered"}
    assert len(hooks.slack.received) == 2


def test_unreachable_destination_is_retried_then_dead_lettered():
    async def go():
        rec = Recorder()
        s = SinksSettings.model_validate({"destinations": {"slack": {"type": "slack", "url": "http://127.0.0.1:9/x"}},
                                          "default": ["slack"], "retry": {"max_attempts": 2, "jitter": 0}})
        out = await ReportDispatcher(s, dead_letter=rec.dead_letter, sleep=rec.sleep).dispatch(sample_result())
        return out, rec
    out, rec = run(go())
    assert out == {"slack": "dead-lettered"} and len(rec.sleeps) == 1 and "ClientConnectorError" in rec.dead[0].error


def test_routing_rules():
    rules = [RouteRule(clusters=["prod-*"], priorities=[Priority.P0, Priority.P1], destinations=["pager"]),
             RouteRule(namespaces=["pay*"], destinations=["payteam"], **{"continue": True}),
             RouteRule(clusters=["prod-*"], destinations=["ops"])]
    assert route(RouteKey(cluster="prod-eu", priority=Priority.P0), rules, ["default"]) == ["pager"]
    assert route(RouteKey(cluster="prod-eu", namespace="payments", priority=Priority.P2), rules, ["d"]) == ["payteam", "ops"]
    assert route(RouteKey(cluster="dev", namespace="web"), rules, ["d"]) == ["d"]
    assert route(RouteKey(cluster="dev", priority=None), [RouteRule(priorities=[Priority.P0], destinations=["x"])], []) == []


def test_route_key_takes_the_namespace_from_the_steps():
    assert route_key(sample_result()) == RouteKey(cluster="prod-eu", namespace="pay", priority=None)


def test_backoff_and_classification_rules():
    p = RetryPolicy(base_delay_seconds=1, max_delay_seconds=10, jitter=0.5)
    assert [backoff_delay(n, p, rand=lambda: 0.5) for n in range(1, 6)] == [1, 2, 4, 8, 10]
    assert backoff_delay(1, p, rand=lambda: 0.0) == 0.5 and backoff_delay(1, p, rand=lambda: 1.0) == 1.5
    assert backoff_delay(1, p, retry_after=30, rand=lambda: 0.5) == 10  # capped
    assert [classify(s) for s in (200, 204, 400, 403, 404, 408, 429, 500, 503)] == \
        ["ok", "ok", "fail", "fail", "fail", "retry", "retry", "retry", "retry"]


def test_unknown_destination_in_settings_is_refused():
    import pytest
    with pytest.raises(ValueError, match="unknown destination"):
        SinksSettings.model_validate({"destinations": {}, "default": ["nope"]})
    with pytest.raises(ValueError, match="needs a 'secret'"):
        SinksSettings.model_validate({"destinations": {"h": {"type": "webhook", "url": "http://x"}}})


def test_messages_have_the_vendor_shapes():
    async def go():
        async with FakeHooks() as hooks:
            rec = Recorder()
            await ReportDispatcher(settings(hooks), dead_letter=rec.dead_letter, sleep=rec.sleep).dispatch(sample_result())
            return hooks.slack.messages()[0], hooks.teams.messages()[0]
    slack, teams = run(go())
    actions = [b for b in slack["blocks"] if b["type"] == "actions"][0]
    assert [json.loads(e["value"]) for e in actions["elements"]] == [{"task_id": "task-42", "vote": "up"},
                                                                     {"task_id": "task-42", "vote": "down"}]
    text = json.dumps(slack)
    assert "Raise the memory limit" in text and "Roll back" in text and "ghp_" not in text
    card = teams["attachments"][0]["content"]
    assert card["type"] == "AdaptiveCard" and "Raise the memory limit" in json.dumps(card)
