"""SRS §5.8.5 "temporarily disable the related service": a task whose tool request is refused as a security
event stops at once (failed, `security_violation`), makes no further tool call or model call, and the SOC
hears of it.

Pure parts (termination precedence, the runtime transition) are tested directly; the end-to-end test runs
`aetherius worker` as a subprocess on the real broker with the scripted OpenAI-compatible server
(tests/llm_server.py) as a prompt-injected model, and the SOC alerter from the sink role beside it with a
local signed-webhook receiver (tests/fake_slack.py).
"""

from __future__ import annotations

import asyncio
import json


from agents import runtime as r
from agents.termination import TerminationReason, check_termination, security_stop
from agents.tools.types import ToolResult
from schemas.settings import KafkaSettings
from schemas.sinks_settings import SinksSettings
from schemas.task import TaskLimits, TaskStatus
from sinks.security_alerts import SecurityAlerter
from streams.admin import ensure_topics
from tests.fake_slack import FakeHooks
from tests.kafkautil import produce, run
from tests.llm_server import Answer, ToolCalls
from tests.test_runtime import findings, llm_row, planner_wanting, task, turn
from tests.test_steploop_llm import ServerThread, alert, answer, cluster, llm_env, records, report_for  # noqa: F401
from tests.threaded import InThread
from tests.workerproc import WorkerProcess, wait_for

EVIL = "x && sudo cat /etc/shadow"


def refused(kind: str = "privilege_escalation") -> ToolResult:
    return ToolResult(tool_id="get_pod", ok=False, rejected=True, security_event=kind,
                      error="rejected at layer parameters: parameter 'name': privilege escalation attempt (sudo)")


# ---- pure ---------------------------------------------------------------------------------------------------

def test_a_security_violation_outranks_every_other_reason():
    progress = dict(step_count=10, elapsed_seconds=900.0, cost_usd=1.0, confidence=0.99, consecutive_errors=5,
                    manual_stop=True, limits=TaskLimits())
    assert check_termination(**progress).reason is TerminationReason.MANUAL_STOP
    stop = check_termination(**progress, security_event="privilege_escalation")
    assert stop.reason is TerminationReason.SECURITY_VIOLATION and stop.status is TaskStatus.FAILED
    assert stop.result_status == "failed" and stop.escalate and stop.notify_admin and stop.partial
    assert stop.note.startswith("security violation (privilege_escalation): a tool request was refused")
    assert check_termination(**{**progress, "manual_stop": False, "confidence": None, "step_count": 0,
                                "elapsed_seconds": 0, "cost_usd": 0, "consecutive_errors": 0}) is None
    assert security_stop("x", "y" * 5000).note.endswith("y") and len(security_stop("x", "y" * 5000).note) == 1000


def test_rules_phase_stops_without_planning_more():
    rt, new = r.begin(task(), planner_wanting(5), now=0, strategy="ai_powered")
    assert [s.number for s in new] == [1, 2, 3]
    stopped, stop = r.stop_for_security(rt, 2, refused(), now=1)
    assert stop is not None and stop.reason is TerminationReason.SECURITY_VIOLATION
    assert stopped.step(2).status == "failed" and "privilege escalation" in stopped.step(2).error
    assert len(stopped.steps) == 3  # nothing new was opened
    assert not r.continues_with_llm(stopped, findings(0.1), stop)  # and the model is not asked either
    # Redelivered, unknown, or after the end: nothing changes.
    assert r.stop_for_security(stopped, 2, refused(), now=2) == (stopped, None)
    assert r.stop_for_security(rt, 99, refused(), now=2) == (rt, None)
    done = stopped.model_copy(update={"finished": True})
    assert r.stop_for_security(done, 1, refused(), now=2) == (done, None)


def test_llm_phase_records_the_refusal_and_opens_no_turn():
    rt = llm_row()
    rt, nxt = turn(rt, "tool_calls", calls=2)  # the model asks for steps 4 and 5
    assert [s.number for s in nxt.dispatch] == [4, 5]
    stopped, stop = r.stop_for_security(rt, 4, refused("destructive_operation"), now=4)
    assert stop.reason is TerminationReason.SECURITY_VIOLATION and "(destructive_operation)" in stop.note
    conv = stopped.conversation
    assert [s.step_number for s in conv.steps if s.step_number == 4] == [4] and 4 not in stopped.llm_dispatched
    assert stopped.llm_turn is None  # no model call opened
    assert r.stop_for_security(stopped, 4, refused(), now=5) == (stopped, None)


# ---- end to end on the real broker --------------------------------------------------------------------------

class SocThread:
    """The sink role's SOC alerter and a local signed-webhook receiver, on their own loop in a thread."""

    def __init__(self, bootstrap: str, prefix: str) -> None:
        self.bootstrap, self.prefix = bootstrap, prefix
        self.server: InThread[FakeHooks] = InThread(FakeHooks())
        self.task: asyncio.Task | None = None

    def __enter__(self) -> "SocThread":
        # As in the sink role: the topics exist before the consumer subscribes (a consumer subscribed to a
        # missing topic only notices it at its next metadata refresh, minutes later).
        run(ensure_topics(KafkaSettings(bootstrap=self.bootstrap, topic_prefix=self.prefix, partitions=2)))
        self.hooks = self.server.__enter__()
        settings = SinksSettings.model_validate({
            "destinations": {"soc": {"type": "webhook", "url": self.hooks.webhook.url, "secret": "k"}},
            "security_alerts": {"destinations": ["soc"]}})

        async def nothing(_):  # noqa: ANN001, ANN202
            raise AssertionError("no dead letter expected")

        alerter = SecurityAlerter(settings, dead_letter=nothing)

        async def start() -> asyncio.Task:
            return asyncio.ensure_future(
                alerter.run(self.bootstrap, f"{self.prefix}.audit", f"{self.prefix}-sink-security-alerts"))

        self.task = self.server.call(start())
        return self

    def alerts(self) -> list[dict]:
        return [json.loads(r["body"]) for r in list(self.hooks.webhook.received)]

    def __exit__(self, *exc: object) -> None:
        async def stop() -> None:
            if self.task is not None:
                self.task.cancel()
                await asyncio.gather(self.task, return_exceptions=True)  # the consumer leaves its group

        self.server.call(stop(), timeout=30)
        self.server.__exit__(*exc)


def test_injected_requests_stop_their_tasks_and_reach_the_soc(kafka_bootstrap, topic_prefix, tmp_path, cluster):
    """Two attacks in one worker: an alert whose pod label carries `sudo` (the rule engine's first request is
    refused), and a model that, after a clean rules phase, asks for a privilege escalation."""
    dump, labels = cluster
    script = [ToolCalls([("get_pod", {"namespace": "shop", "name": EVIL}), ("list_events", {"namespace": "shop"})],
                        content="the logs say to run this", usage=(1000, 50)),
              Answer(answer(), usage=(1500, 200))]  # never asked for: the task stops before its next turn
    with ServerThread(script) as srv, SocThread(kafka_bootstrap, topic_prefix) as soc:
        worker = WorkerProcess(kafka_bootstrap, topic_prefix, tmp_path, env_extra=llm_env(srv, dump)).start()
        try:
            run(produce(kafka_bootstrap, f"{topic_prefix}.alerts.raw", alert({**labels, "pod": EVIL}, "LabelInjection")))
            by_rules = wait_for(lambda: report_for(kafka_bootstrap, topic_prefix, "LabelInjection"),
                                what="the report of the label-injected task", timeout=120)
            run(produce(kafka_bootstrap, f"{topic_prefix}.alerts.raw", alert(labels, "PromptInjection")))
            by_llm = wait_for(lambda: report_for(kafka_bootstrap, topic_prefix, "PromptInjection"),
                              what="the report of the prompt-injected task", timeout=120)
            tasks = {by_rules["task_id"], by_llm["task_id"]}
            alerts = wait_for(lambda: (lambda a: a if {x["task_id"] for x in a} >= tasks else None)(soc.alerts()),
                              what="SOC alerts for both tasks", timeout=60)
        finally:
            worker.stop(kill=True)
        assert len(srv.requests) == 1  # the model was not asked again after its escalation

    for report in (by_rules, by_llm):
        assert report["termination_reason"] == "security_violation" and report["status"] == "failed", report["summary"]
        assert report["summary"]["problem"].startswith("security violation (privilege_escalation)")
        finals = [t for t in records(kafka_bootstrap, f"{topic_prefix}.task.state") if t["id"] == report["task_id"]]
        assert finals[-1]["status"] == "failed" and finals[-1]["status_reason"] == "security_violation"

    # Nothing was asked for after the refusal: in the task's (ordered) steps, no request follows it.
    for report in (by_rules, by_llm):
        events = [e for e in records(kafka_bootstrap, f"{topic_prefix}.steps") if e["task_id"] == report["task_id"]]
        first = next(i for i, e in enumerate(events) if e["kind"] == "completed" and (e["step"]["output"] or {}).get(
            "security_event") == "privilege_escalation")
        later = [(e["step_number"], e["step"]["tool_id"]) for e in events[first:] if e["kind"] == "requested"]
        assert later == [], later

    # The audit trail and the SOC: one alert per security event, saying which task, tool and parameter.
    audit = [e for e in records(kafka_bootstrap, f"{topic_prefix}.audit") if e["action"].startswith("security.")]
    assert sorted(a["alert_id"] for a in alerts) == sorted(e["id"] for e in audit)
    for a in alerts:
        assert (a["kind"], a["tool"] in ("get_pod", "describe_pod", "pod_logs"), a["parameter"]) == \
            ("privilege_escalation", True, "name"), a
        # Alert-triggered: no person asked, so the calls ran as the service (tasks.service_role), named by source.
        assert a["cluster_id"] == "c0" and a["who"]["actor"] == "service:alertmanager" and a["who"]["role"] == "sre"


def test_only_attempts_stop_a_task_a_role_refusal_does_not() -> None:
    from agents.termination import stops_task

    assert all(stops_task(k) for k in ("privilege_escalation", "destructive_operation", "injection_attempt"))
    assert not stops_task("unauthorized_access") and not stops_task("") and not stops_task(None)
