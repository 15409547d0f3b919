"""Who asked for a diagnosis, carried from the request to every tool call (issue 6: "tool calls carry the
caller's role; the gateway's role check (layer 4) uses it").

Pure tests for the mapping principal -> RawAlert -> Signal -> DiagnosticTask -> (actor, role), and the step
loop driven in process against the real gateway (MCP server + client in process, safety checks, audit) over a
cluster dump. The Kafka path end to end is tests/test_requester_role_kafka.py.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from agents.cluster.dump import DumpReader
from agents.engine import RulesEngine
from agents.gateway import Gateway, GatewayExecutor, GatewayServer
from agents.runtime import TaskRuntime, ToolCaller, tool_caller
from agents.steploop import StepLoop
from agents.tools.registry import DEFAULT_REGISTRY_PATH, load_registry
from aetherius.cli import CliError
from aetherius.commands.trigger import authenticate
from aetherius.http.auth import hash_api_key
from aetherius.http.rbac import Principal, primary_role
from schemas.alertmanager import RawAlert
from schemas.audit import AuditEvent
from schemas.base import utcnow
from schemas.kube import KubeEvent
from schemas.requester import Requester
from schemas.security_settings import SecuritySettings
from schemas.settings import Settings
from schemas.signal import Priority, Signal
from schemas.task import DiagnosticTask
from streams import dedup
from streams.normalize import ClusterPolicy, from_alert, from_kube_event
from streams.pipeline import _new_task
from streams.webhook import ManualRequest, alertmanager_records, manual_raw_alert, parse_alertmanager, requester_of
from tests.dumpkit import DumpBuilder
from tests.test_rules_categories import crash_panic
from agents.inmemory import MemoryTopics
from agents.inmemory import run_task as run_in_memory

CLUSTERS = ClusterPolicy(default_cluster="default")
RESTRICTED_TOOL = "pod_logs"  # logs can hold what a developer should not read through us: kept for SREs here


def restricted_registry(path: Path, tool: str = RESTRICTED_TOOL, roles: tuple[str, ...] = ("sre", "admin")) -> Path:
    """The shipped registry with one tool's allowed_roles narrowed (the shipped one lets developers use every tool)."""
    doc = yaml.safe_load(DEFAULT_REGISTRY_PATH.read_text())
    doc.pop("x-params", None)
    [entry] = [t for t in doc["tools"] if t["id"] == tool]
    entry["allowed_roles"] = list(roles)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    load_registry(path)  # fail here, not in the worker, if the file is wrong
    return path


def manual(subject: str, role: str, *, name: str = "api-7d9f", cluster: str = "eu-1") -> RawAlert:
    req = ManualRequest(cluster_id=cluster, namespace="prod", kind="pod", name=name)
    return manual_raw_alert(req, utcnow(), requester_of(Principal(name=subject, role=role, method="api_key")))


def task_from(raw: RawAlert, settings: Settings | None = None) -> DiagnosticTask:
    """The pipeline's path for one record, through the wire format at every hop."""
    signal = Signal.from_bytes(from_alert(RawAlert.from_bytes(raw.to_bytes()), CLUSTERS).to_bytes())
    task = _new_task("t-1", signal, Priority.P2, settings or Settings(), {})
    return DiagnosticTask.from_bytes(task.to_bytes())


# ---------------------------------------------------------------- the mapping (pure)

def test_a_manual_request_carries_its_requester_to_the_task_and_the_tool_calls() -> None:
    raw = manual("dev-alice", "developer")
    assert raw.requested_by == Requester(subject="dev-alice", role="developer", via="api")
    task = task_from(raw)
    assert task.requested_by == raw.requested_by
    assert task.metadata["source"] == "manual"
    # The service role does not apply to a person's request, whatever it is configured to.
    assert tool_caller(task, "admin") == ToolCaller(actor="dev-alice", role="developer")
    assert tool_caller(task_from(manual("sre-bob", "sre")), "developer") == ToolCaller(actor="sre-bob", role="sre")


def test_a_multi_role_credential_carries_the_role_it_was_audited_with() -> None:
    roles = frozenset({"developer", "sre"})
    principal = Principal(name="carol", role=primary_role(roles), method="oidc", roles=roles)
    assert requester_of(principal, via="cli") == Requester(subject="carol", role="sre", via="cli")
    # Whatever an IdP puts in the name claim still makes a valid record (no 500 on the manual route).
    assert requester_of(Principal(name="x" * 500, role="sre", method="oidc")).subject == "x" * 200
    assert requester_of(Principal(name="", role="sre", method="oidc")).subject == "unnamed-oidc"


def test_alerts_and_events_run_with_the_configured_service_role() -> None:
    payload = parse_alertmanager(json.dumps({"alerts": [{"labels": {"alertname": "KubePodCrashLooping",
                                                                    "namespace": "prod", "pod": "api-1"}}]}).encode())
    [record] = alertmanager_records(payload, "p.alerts.raw", 10**6, utcnow())
    alert_task = task_from(RawAlert.from_bytes(record.value))
    assert alert_task.requested_by is None
    assert tool_caller(alert_task, Settings().tasks.service_role) == ToolCaller(actor="service:alertmanager", role="sre")
    assert tool_caller(alert_task, "auditor").role == "auditor"

    event = KubeEvent.model_validate({"cluster_id": "eu-1", "uid": "e-1", "reason": "BackOff", "message": "back-off",
                                      "involved_object": {"kind": "Pod", "name": "api-1", "namespace": "prod"}})
    signal = from_kube_event(event, CLUSTERS)
    assert signal.requested_by is None
    event_task = _new_task("t-2", signal, Priority.P2, Settings(), {})
    assert tool_caller(event_task, "developer") == ToolCaller(actor="service:kubernetes", role="developer")


def test_the_service_role_is_a_validated_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AETHERIUS_CONFIG", raising=False)
    assert Settings().tasks.service_role == "sre"
    monkeypatch.setenv("AETHERIUS_TASKS__SERVICE_ROLE", "developer")
    assert Settings().tasks.service_role == "developer"
    monkeypatch.setenv("AETHERIUS_TASKS__SERVICE_ROLE", "root")
    with pytest.raises(ValidationError, match="service_role"):
        Settings()


def test_an_alert_cannot_claim_a_requester() -> None:
    """Only the manual routes set requested_by; whatever an Alertmanager payload says is not a requester."""
    body = {"alerts": [{"labels": {"alertname": "ManualDiagnosis", "pod": "api-1", "namespace": "prod"},
                        "annotations": {"requested_by": "admin"},
                        "requested_by": {"subject": "mallory", "role": "admin"}}],
            "requested_by": {"subject": "mallory", "role": "admin"}}
    [record] = alertmanager_records(parse_alertmanager(json.dumps(body).encode()), "p.alerts.raw", 10**6, utcnow())
    task = task_from(RawAlert.from_bytes(record.value))
    assert task.requested_by is None
    assert tool_caller(task, "developer") == ToolCaller(actor="service:manual", role="developer")


def test_records_written_before_requesters_still_parse() -> None:
    """Additive and optional: schema_version stays 1, a record without the field reads as no requester."""
    raw = manual("dev-alice", "developer")
    old_raw = json.loads(raw.to_bytes())
    old_raw.pop("requested_by")
    assert RawAlert.model_validate(old_raw).requested_by is None
    task = task_from(raw)
    old_task = json.loads(task.to_bytes())
    old_task.pop("requested_by")
    assert old_task["schema_version"] == 1
    parsed = DiagnosticTask.model_validate(old_task)
    assert parsed.requested_by is None and tool_caller(parsed, "sre") == ToolCaller(actor="service:manual", role="sre")
    old_signal = json.loads(from_alert(raw, CLUSTERS).to_bytes())
    old_signal.pop("requested_by")
    assert Signal.model_validate(old_signal).requested_by is None
    # A step-loop row stored by an older worker resumes with the service role.
    row = TaskRuntime(task=parsed, started_at=0.0).model_dump(mode="json")
    assert TaskRuntime.model_validate(row).task.requested_by is None
    with pytest.raises(ValidationError):  # a requester must name someone with a known role
        Requester.model_validate({"subject": "", "role": "sre"})
    with pytest.raises(ValidationError):
        Requester.model_validate({"subject": "x", "role": "root"})


def test_two_requests_for_one_resource_inside_the_window_are_one_task_with_the_first_requester() -> None:
    """The documented dedup caveat (schemas/requester.py): the fingerprint is the resource, not the person."""
    first, second = manual("dev-alice", "developer"), manual("sre-bob", "sre")
    assert first.fingerprint == second.fingerprint
    state, decision = dedup.observe(None, now=0.0, status="firing", window_seconds=600)
    assert decision is dedup.DedupDecision.NEW  # -> the task, built from `first`
    _, decision = dedup.observe(state, now=30.0, status="firing", window_seconds=600)
    assert decision is dedup.DedupDecision.DUPLICATE  # -> dropped: no task carries sre-bob
    assert tool_caller(task_from(first), "sre").role == "developer"


# ---------------------------------------------------------------- the CLI authenticates like the API

def test_cli_trigger_needs_a_credential_allowed_to_create_tasks(tmp_path: Path) -> None:
    keys = {role: f"aek_cli_{role}_0123456789" for role in ("sre", "developer")}
    security = SecuritySettings(api_keys=[{"name": f"cli-{r}", "role": r, "hash": hash_api_key(k)} for r, k in keys.items()])
    principal = asyncio.run(authenticate(keys["sre"], security))
    assert (principal.name, principal.role) == ("cli-sre", "sre")
    with pytest.raises(CliError, match="AETHERIUS_API_KEY is not set"):
        asyncio.run(authenticate("", security))
    with pytest.raises(CliError, match="unknown API key"):
        asyncio.run(authenticate("aek_nobody", security))
    with pytest.raises(CliError, match=r"cli-developer \(role developer\) lacks the tasks:create permission"):
        asyncio.run(authenticate(keys["developer"], security))

    from tests.test_auth import KEY_A, jwk_of, mint, oidc_security

    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [jwk_of(KEY_A, "a")]}))
    oidc = oidc_security(jwks)
    principal = asyncio.run(authenticate(mint(KEY_A, "a", sub="alice", roles=["ops-team"]), oidc))
    assert (principal.name, principal.role, principal.method) == ("alice", "sre", "oidc")
    with pytest.raises(CliError, match="token expired"):
        asyncio.run(authenticate(mint(KEY_A, "a", exp=1), oidc))


def test_cli_refuses_before_touching_kafka(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    from aetherius.cli import main

    monkeypatch.delenv("AETHERIUS_CONFIG", raising=False)
    monkeypatch.delenv("AETHERIUS_API_KEY", raising=False)
    monkeypatch.setenv("AETHERIUS_KAFKA__BOOTSTRAP", "127.0.0.1:9")  # nothing listens: it must not get that far
    assert main(["trigger", "--cluster", "eu-1", "--namespace", "prod", "--kind", "pod", "--name", "api"]) == 2
    assert "AETHERIUS_API_KEY is not set" in capsys.readouterr().err


# ---------------------------------------------------------------- the step loop against the real gateway

@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str], Path]:
    tmp = tmp_path_factory.mktemp("requester")
    builder = DumpBuilder(tmp / "dump")
    labels = crash_panic(builder)  # its root cause is in the previous container log: pod_logs matters
    builder.write()
    return builder.root, labels, restricted_registry(tmp / "registry.yaml")


class Audit:
    def __init__(self) -> None:
        self.events: list[AuditEvent] = []

    async def __call__(self, event: AuditEvent) -> None:
        self.events.append(AuditEvent.from_bytes(event.to_bytes()))


async def run_task(cluster, task: DiagnosticTask, service_role: str = "sre") -> tuple[dict, list[AuditEvent]]:
    dump, _, registry = cluster
    audit = Audit()
    gateway = Gateway(load_registry(registry), {"c0": DumpReader(dump, cluster_id="c0")}, audit_sink=audit)
    async with GatewayExecutor(GatewayServer(gateway)) as executor:
        topics = MemoryTopics()
        loop = StepLoop(topics=topics, table={}, engine=RulesEngine(), executor=executor, service_role=service_role)
        run = await run_in_memory(loop, topics, task, idle_seconds=0.2)
    return json.loads(run.report.model_dump_json()), audit.events


def cluster_task(cluster, requester: Requester | None, source: str = "manual") -> DiagnosticTask:
    _, labels, _ = cluster
    raw = manual_raw_alert(ManualRequest(cluster_id="c0", namespace=labels["namespace"], kind="pod",
                                         name=labels["pod"]), utcnow(), requester or Requester(subject="x", role="sre"))
    task = task_from(raw)
    if requester is None:  # what the pipeline makes of an alert: no requester, its source in the metadata
        task = task.model_copy(update={"requested_by": None, "metadata": {**task.metadata, "source": source}})
    return task


def tool_calls(events: list[AuditEvent], tool: str | None = None) -> list[AuditEvent]:
    return [e for e in events if e.action == "tool.call" and (tool is None or e.resource == f"tool/{tool}")]


def test_a_developer_task_is_refused_the_sre_tool_at_layer_4_and_audited_as_the_developer(cluster) -> None:
    report, events = asyncio.run(run_task(cluster, cluster_task(cluster, Requester(subject="dev-alice", role="developer"))))
    logs = tool_calls(events, RESTRICTED_TOOL)
    assert logs, "the rule engine should have asked for the crashed container's log"
    assert {(e.actor, e.role, e.result, e.details["layer"]) for e in logs} == {("dev-alice", "developer", "rejected", "role")}
    assert all(e.details["task_id"] == "t-1" for e in logs)
    alerts = [e for e in events if e.action == "security.unauthorized_access"]
    assert alerts and {(e.actor, e.role, e.resource) for e in alerts} == {("dev-alice", "developer", f"tool/{RESTRICTED_TOOL}")}
    # Everything else the diagnosis read, it read as the developer - and was allowed to.
    others = [e for e in tool_calls(events) if e.resource != f"tool/{RESTRICTED_TOOL}"]
    assert others and {(e.actor, e.role, e.result) for e in others} == {("dev-alice", "developer", "allowed")}
    # The report shows the refused step; the panic in the log stayed unread.
    refused = [s for s in report["steps"] if s["tool_id"] == RESTRICTED_TOOL]
    assert refused and all(s["status"] == "failed" for s in refused)
    assert "nil pointer" not in json.dumps(report)


def test_an_sre_task_runs_the_sre_tool_and_is_audited_as_the_sre(cluster) -> None:
    report, events = asyncio.run(run_task(cluster, cluster_task(cluster, Requester(subject="sre-bob", role="sre")),
                                          service_role="developer"))
    logs = tool_calls(events, RESTRICTED_TOOL)
    assert logs and {(e.actor, e.role, e.result) for e in logs} == {("sre-bob", "sre", "allowed")}
    assert {(e.actor, e.role) for e in tool_calls(events)} == {("sre-bob", "sre")}
    assert not [e for e in events if e.action.startswith("security.")]
    assert report["root_cause"]["category"] == "application_crash" and "nil pointer" in json.dumps(report)


def test_an_alert_task_runs_with_the_service_role(cluster) -> None:
    _, events = asyncio.run(run_task(cluster, cluster_task(cluster, None, source="alertmanager"), service_role="developer"))
    assert {(e.actor, e.role) for e in tool_calls(events)} == {("service:alertmanager", "developer")}
    assert {e.result for e in tool_calls(events, RESTRICTED_TOOL)} == {"rejected"}
    _, events = asyncio.run(run_task(cluster, cluster_task(cluster, None, source="alertmanager")))  # default: sre
    assert {(e.actor, e.role, e.result) for e in tool_calls(events, RESTRICTED_TOOL)} == {("service:alertmanager", "sre", "allowed")}


def test_the_model_is_offered_only_the_tools_the_tasks_role_may_call(tmp_path: Path) -> None:
    """A developer's diagnosis is not offered a tool kept for SREs (the gateway would refuse it: a wasted step);
    the engine is built once, the offer is per conversation."""
    from agents.engine import build_llm_engine

    settings = Settings(llm={"base_url": "http://127.0.0.1:9/v1", "api_key": "x"})
    engine = build_llm_engine(settings, load_registry(restricted_registry(tmp_path / "registry.yaml")))
    assert engine is not None

    def offered(role: str | None) -> set[str]:
        return {d["function"]["name"] for d in engine.tool_definitions(role)}

    assert RESTRICTED_TOOL in offered("sre") and RESTRICTED_TOOL in offered(None)
    assert RESTRICTED_TOOL not in offered("developer") and offered("developer") == offered("sre") - {RESTRICTED_TOOL}
    task = DiagnosticTask(id="t1", cluster_id="eu-1", priority=Priority.P2,
                          requested_by=Requester(subject="dev", role="developer", via="api"))
    conv = engine.start(task, role=tool_caller(task, "sre").role)
    assert conv.role == "developer"
