"""The MCP execution gateway: in-process and streamable-HTTP calls, every rejection audited, no write path,
output cap, redaction of secrets planted in a cluster dump. Real parts: DumpReader over a dump written by
tests/dumpkit.py, the mcp SDK client and server, uvicorn on 127.0.0.1, the `aetherius gateway` command."""

from __future__ import annotations

import ast
import asyncio
import inspect
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from agents.cluster.dump import DumpReader
from agents.cluster.reader import ClusterReader, ReaderError
from agents.gateway import Gateway, GatewayExecutor, GatewayServer, serving_http
from agents.gateway.core import serialise
from agents.tools.builtin import BUILTIN_TOOLS
from agents.tools.registry import ToolRegistry, load_registry
from agents.tools.safety import WRITE_VERBS
from agents.tools.types import ToolCall
from aetherius.http.auth import Authenticator, generate_api_key, hash_api_key
from schemas.audit import AuditEvent
from schemas.security_settings import SecuritySettings
from tests.dumpkit import Ctr, DumpBuilder

REPO = Path(__file__).resolve().parents[1]
AETHERIUS = [str(Path(sys.executable).with_name("aetherius"))]  # the installed console script, as users run it
REGISTRY = load_registry()
NS = "payments"
POD = "payment-service-7d9f8b6c5d-x2k4j"
DB_PASSWORD = "pl41n-t3xt-pw-99"
LOG_TOKEN = "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"


@pytest.fixture(scope="module")
def dump(tmp_path_factory: pytest.TempPathFactory) -> Path:
    b = DumpBuilder(tmp_path_factory.mktemp("gw") / "dump")
    b.node("node-1")
    pod = b.pod(NS, POD, [Ctr("api", state="waiting", reason="CrashLoopBackOff", restarts=7,
                              last={"reason": "OOMKilled", "exitCode": 137}, limits={"memory": "512Mi"})],
                labels={"app": "payment-service"})
    pod["spec"]["containers"][0]["env"] = [{"name": "DB_HOST", "value": "pg.db"},
                                           {"name": "DB_PASSWORD", "value": DB_PASSWORD}]
    b.logs(NS, POD, f"starting payment-service\nusing token {LOG_TOKEN}\n"
                    f"connect postgres://pay:{DB_PASSWORD}@pg.db:5432/pay\nkilled: OOMKilled exit code 137\n")
    b.event(NS, "Pod", POD, "BackOff", "Back-off restarting failed container api")
    b.secret(NS, "db-creds", {"password": "aHVudGVyMg=="})
    b.configmap(NS, "payment-config", {"DB_URL": "postgres://pay:cm-secret-pw@pg.db/pay"})
    b.noise(NS)
    return b.write()


class Audit:
    def __init__(self) -> None:
        self.events: list[AuditEvent] = []

    async def __call__(self, event: AuditEvent) -> None:
        self.events.append(AuditEvent.from_bytes(event.to_bytes()))  # it must survive the wire

    def calls(self) -> list[AuditEvent]:
        return [e for e in self.events if e.action == "tool.call"]


def make(dump: Path, **kw: Any) -> tuple[Gateway, Audit]:
    audit = Audit()
    readers = kw.pop("readers", None) or {"prod": DumpReader(dump, cluster_id="prod")}
    return Gateway(kw.pop("registry", REGISTRY), readers, audit_sink=audit, **kw), audit


def call(tool_id: str, **params: Any) -> ToolCall:
    return ToolCall(tool_id=tool_id, parameters=params)


# -- in process ----------------------------------------------------------------------------------------------
def test_in_process_lists_registry_tools_as_read_only(dump: Path) -> None:
    gateway, _ = make(dump)

    async def go():
        async with GatewayExecutor(GatewayServer(gateway)) as ex:
            return await ex.list_tools()

    tools = asyncio.run(go())
    assert [t.name for t in tools] == REGISTRY.ids
    for tool in tools:
        assert tool.input_schema == REGISTRY.get(tool.name).json_schema()
        assert tool.annotations.read_only_hint is True and tool.annotations.destructive_hint is False


def test_in_process_call_redacts_secrets_and_keeps_evidence(dump: Path) -> None:
    gateway, audit = make(dump)

    async def go():
        async with GatewayExecutor(GatewayServer(gateway)) as ex:
            pod = await ex.call(call("get_pod", namespace=NS, name=POD), task_id="t-1", cluster_id="prod", role="sre")
            logs = await ex.call(call("pod_logs", namespace=NS, name=POD), task_id="t-1", cluster_id="prod")
            cms = await ex.call(call("list_configmaps", namespace=NS), task_id="t-1", cluster_id="prod")
            return pod, logs, cms

    pod, logs, cms = asyncio.run(go())
    assert pod.ok and logs.ok and cms.ok and not pod.rejected
    for result in (pod, logs, cms):
        assert DB_PASSWORD not in result.output and LOG_TOKEN not in result.output
        assert "cm-secret-pw" not in result.output
    data = json.loads(pod.output)["pod"]
    env = {e["name"]: e["value"] for e in data["spec"]["containers"][0]["env"]}
    assert env == {"DB_HOST": "pg.db", "DB_PASSWORD": "[REDACTED:env_secret]"}
    assert data["status"]["containerStatuses"][0]["lastState"]["terminated"]["reason"] == "OOMKilled"
    text = json.loads(logs.output)["logs"]
    assert "OOMKilled exit code 137" in text and "pay:[REDACTED:url_password]@pg.db:5432" in text
    assert json.loads(cms.output) == {"configmaps": [{"name": "payment-config", "keys": ["DB_URL"]}]}
    events = audit.calls()
    assert [e.result for e in events] == ["allowed"] * 3
    first = events[0]
    assert (first.actor, first.role, first.resource, first.cluster_id) == ("task:t-1", "sre", "tool/get_pod", "prod")
    assert first.details["task_id"] == "t-1" and first.details["transport"] == "inprocess"
    assert first.details["output_bytes"] == len(pod.output.encode()) and first.details["truncated"] is False


def _rejections() -> list:
    return [
        pytest.param(call("delete_pod", namespace=NS, name=POD), "sre", "prod", "registered", "destructive_operation", id="unregistered-write"),
        pytest.param(call("kubectl", args="get pods"), "sre", "prod", "registered", None, id="unregistered"),
        pytest.param(call("get_pod", namespace=NS, name="x; kubectl delete pod y"), "sre", "prod", "read_only", "destructive_operation", id="write-verb"),
        pytest.param(call("pod_logs", namespace=NS, name=POD, container="sudo cat /etc/shadow"), "sre", "prod", "parameters", "privilege_escalation", id="sudo"),
        pytest.param(call("get_pod", namespace=NS, name="$(id)"), "sre", "prod", "parameters", "injection_attempt", id="injection"),
        pytest.param(call("get_pod", namespace=NS, name="a" * 20000), "sre", "prod", "parameters", None, id="20KB"),
        pytest.param(call("get_pod", namespace=NS), "sre", "prod", "parameters", None, id="missing"),
        pytest.param(call("get_pod", namespace=NS, name=POD), "auditor", "prod", "role", "unauthorized_access", id="role"),
        pytest.param(call("get_pod", namespace=NS, name=POD), "sre", "staging", "cluster", None, id="unknown-cluster"),
    ]


@pytest.mark.parametrize("tool_call,role,cluster,layer,security", _rejections())
def test_every_rejected_path_is_audited(dump: Path, tool_call: ToolCall, role: str, cluster: str, layer: str,
                                        security: str | None) -> None:
    gateway, audit = make(dump)

    async def go():
        async with GatewayExecutor(GatewayServer(gateway)) as ex:
            return await ex.call(tool_call, task_id="t-9", cluster_id=cluster, role=role)

    result = asyncio.run(go())
    assert not result.ok and result.rejected and result.output == ""
    assert f"rejected at layer {layer}" in result.error
    [event] = audit.calls()
    assert event.result == "rejected" and event.details["layer"] == layer and event.role == role
    assert event.reason == result.error and event.details["task_id"] == "t-9"
    assert len(json.dumps(event.details)) < 4000  # a 20 KB attack is not stored whole
    security_events = [e for e in audit.events if e.action.startswith("security.")]
    if security is None:
        assert not security_events and "security_event" not in event.details
    else:
        [alert] = security_events
        assert alert.action == f"security.{security}" and event.details["security_event"] == security


def test_injection_through_mcp_in_every_parameter_of_every_tool(dump: Path) -> None:
    """The same attacks as test_safety, end to end: refused, audited, and the reader never touched."""
    touched: list[str] = []

    class Spy:
        cluster_id = "prod"

        def __getattr__(self, name: str):
            touched.append(name)
            raise AssertionError(f"reader.{name} reached")

    gateway, audit = make(dump, readers={"prod": Spy()})
    attacks = ["; rm -rf /", "$(id)", "`id`", "../../etc", "a\nb", "a\u202eb", "p\u043ed", "x" * 10241, "sudo su", "-f"]

    async def go():
        results = []
        async with GatewayExecutor(GatewayServer(gateway)) as ex:
            for tool in REGISTRY.tools:
                for param in tool.parameters:
                    for attack in attacks:
                        results.append(await ex.call(call(tool.id, **{param.name: attack}), task_id="t", cluster_id="prod"))
        return results

    results = asyncio.run(go())
    assert results and all(r.rejected and not r.ok for r in results)
    assert len(audit.calls()) == len(results) and all(e.result == "rejected" for e in audit.calls())
    assert touched == []


def test_reader_failure_timeout_and_crash_are_audited_errors(dump: Path) -> None:
    class Down:
        cluster_id = "prod"

        async def get(self, *a, **k):
            raise ReaderError("cluster prod unreachable: connection refused (token=abc123secret)")

    async def slow(reader, namespace, name):
        await asyncio.sleep(5)

    async def broken(reader, namespace):
        raise RuntimeError("internal detail with password=hunter2")

    registry = ToolRegistry(tools=[t.model_copy(update={"timeout_seconds": 0.2}) if t.id == "describe_pod" else t
                                   for t in REGISTRY.tools])
    gateway, audit = make(dump, registry=registry, readers={"prod": Down()},
                          tools={**BUILTIN_TOOLS, "describe_pod": slow, "list_services": broken})

    async def go():
        async with GatewayExecutor(GatewayServer(gateway)) as ex:
            return [await ex.call(c, task_id="t", cluster_id="prod") for c in (
                call("get_pod", namespace=NS, name=POD), call("describe_pod", namespace=NS, name=POD),
                call("list_services", namespace=NS))]

    down, timed_out, crashed = asyncio.run(go())
    assert not down.ok and not down.rejected and "unreachable" in down.error and "abc123secret" not in down.error
    assert not timed_out.ok and "timed out after 0.2s" in timed_out.error
    assert not crashed.ok and "internal error (RuntimeError)" in crashed.error and "hunter2" not in crashed.error
    assert [e.result for e in audit.calls()] == ["error", "error", "error"]


def test_audit_sink_failure_does_not_lose_the_call(dump: Path, caplog: pytest.LogCaptureFixture) -> None:
    async def broken_sink(event: AuditEvent) -> None:
        raise ConnectionError("kafka down")

    gateway = Gateway(REGISTRY, {"prod": DumpReader(dump, cluster_id="prod")}, audit_sink=broken_sink)
    result = asyncio.run(gateway.execute("get_pod", {"namespace": NS, "name": POD}, role="sre", cluster_id="prod"))
    assert result.ok
    assert any("audit sink failed" in r.getMessage() and "tool/get_pod" in r.getMessage() for r in caplog.records)


def test_single_cluster_gateway_defaults_the_cluster(dump: Path) -> None:
    gateway, audit = make(dump)
    result = asyncio.run(gateway.execute("list_nodes", {}, role="sre"))
    assert result.ok and audit.calls()[0].cluster_id == "prod"


# -- output cap ----------------------------------------------------------------------------------------------
def test_output_cap_keeps_valid_json_with_a_marker(dump: Path) -> None:
    async def huge_pods(reader, namespace, label_selector=""):
        return {"pods": [{"metadata": {"name": f"pod-{i}", "namespace": namespace}, "pad": "x" * 1000} for i in range(5000)]}

    async def huge_logs(reader, namespace, name, container="", previous=False, tail_lines=200):
        return {"logs": "".join(f"line {i} password=pw{i}\n" for i in range(200_000)) + "LAST LINE: OOMKilled\n",
                "container": "api", "previous": False}

    gateway, audit = make(dump, tools={**BUILTIN_TOOLS, "list_pods": huge_pods, "pod_logs": huge_logs},
                          max_output_bytes=1024 * 1024)

    async def go():
        async with GatewayExecutor(GatewayServer(gateway)) as ex:
            return (await ex.call(call("list_pods", namespace=NS), task_id="t", cluster_id="prod"),
                    await ex.call(call("pod_logs", namespace=NS, name=POD), task_id="t", cluster_id="prod"))

    pods, logs = asyncio.run(go())
    for result in (pods, logs):
        assert result.ok and result.truncated
        assert len(result.output.encode()) <= 1024 * 1024
        data = json.loads(result.output)
        assert data["_truncated"]["limit_bytes"] == 1024 * 1024 and data["_truncated"]["original_bytes"] > 1024 * 1024
    assert 0 < len(json.loads(pods.output)["pods"]) < 5000
    log_text = json.loads(logs.output)["logs"]
    assert log_text.endswith("LAST LINE: OOMKilled\n")  # logs keep their tail: the crash is at the end
    assert "password=pw" not in log_text.replace("password=[REDACTED", "")
    assert all(e.details["truncated"] for e in audit.calls())


def test_serialise_default_limit_is_10_mb() -> None:
    from agents.gateway import DEFAULT_MAX_OUTPUT_BYTES

    assert DEFAULT_MAX_OUTPUT_BYTES == 10 * 1024 * 1024
    text, truncated = serialise({"logs": "y" * (11 * 1024 * 1024)}, DEFAULT_MAX_OUTPUT_BYTES)
    assert truncated and len(text.encode()) <= DEFAULT_MAX_OUTPUT_BYTES and json.loads(text)["_truncated"]
    small, cut = serialise({"pod": None}, 100)
    assert (small, cut) == ('{"pod":null}', False)
    text, truncated = serialise(["a" * 5000], 2000)  # not an object: the marker alone
    assert truncated and json.loads(text) == {"_truncated": {"original_bytes": 5004, "limit_bytes": 2000}}


# -- no write path -------------------------------------------------------------------------------------------
def test_no_registry_tool_and_no_code_path_maps_to_a_write(dump: Path) -> None:
    # 1. The registry: only read-only tools, none named with a write verb, every one a built-in.
    for tool in REGISTRY.tools:
        assert tool.readonly and not set(re.split(r"[^a-z0-9]+", f"{tool.id} {tool.name}".lower())) & WRITE_VERBS
        assert tool.id in BUILTIN_TOOLS
    # 2. The only thing a tool can touch is a ClusterReader, whose protocol has no write method.
    reader_methods = {n for n, _ in inspect.getmembers(ClusterReader, inspect.isfunction) if not n.startswith("_")}
    assert reader_methods == {"list", "get", "logs", "metrics"}
    # 3. The built-in implementations and the gateway import nothing that writes, execs or shells out,
    #    and call no method named like a write (checked on the syntax tree, not the comments).
    for path in [REPO / "agents" / "tools" / "builtin.py", *(REPO / "agents" / "gateway").glob("*.py")]:
        tree = ast.parse(path.read_text())
        imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        imported |= {(node.module or "").split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        assert not imported & {"subprocess", "os", "shutil", "kubernetes_asyncio", "kubernetes", "pty"}, (path, imported)
        called = {node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                  for node in ast.walk(tree) if isinstance(node, ast.Call)}
        assert not called & {"delete", "patch", "create", "exec", "eval", "system", "popen", "write", "write_text",
                             "connect_get_namespaced_pod_exec", "replace_namespaced_deployment"}, (path, called)


def test_every_tool_only_reads_through_the_reader(dump: Path) -> None:
    """Run every registered tool; a recording proxy proves only list/get/logs/metrics were used."""
    used: set[str] = set()
    real = DumpReader(dump, cluster_id="prod")

    class Recording:
        cluster_id = "prod"

        def __getattr__(self, name: str):
            used.add(name)
            return getattr(real, name)

    gateway, audit = make(dump, readers={"prod": Recording()})
    args = {"namespace": NS, "name": POD, "kind": "deployment", "label_selector": "app=payment-service"}

    async def go():
        results = []
        for tool in REGISTRY.tools:
            params = {p.name: args[p.name] for p in tool.parameters if p.required}
            if tool.id == "get_node":
                params["name"] = "node-1"
            results.append(await gateway.execute(tool.id, params, role="sre", cluster_id="prod"))
        return results

    results = asyncio.run(go())
    assert all(r.ok for r in results), [r.error for r in results if not r.ok]
    assert used <= {"list", "get", "logs", "metrics"} and used
    assert len(audit.calls()) == len(REGISTRY.tools)


def test_a_write_tool_smuggled_into_memory_is_still_refused(dump: Path) -> None:
    """Even with an implementation and a hand-built registry entry, layer 2 refuses a non-read-only tool."""
    calls: list[str] = []

    async def scale(reader, namespace, name):
        calls.append(name)
        return {}

    entry = REGISTRY.get("get_pod").model_copy(update={"id": "scale_deployment", "readonly": False})
    registry = ToolRegistry.model_construct(version=1, tools=[entry])
    gateway, audit = make(dump, registry=registry, tools={"scale_deployment": scale})
    result = asyncio.run(gateway.execute("scale_deployment", {"namespace": NS, "name": "web"}, role="admin",
                                         cluster_id="prod"))
    assert result.rejected and "layer read_only" in result.error and calls == []
    assert [e.action for e in audit.events] == ["tool.call", "security.destructive_operation"]


# -- streamable HTTP ---------------------------------------------------------------------------------------------
GW_KEYS = {"worker-eu": ("sre", generate_api_key()), "dev-bob": ("developer", generate_api_key())}


def gw_callers() -> Authenticator:
    """The gateway's callers: the same API keys as the HTTP roles (hashes in settings, keys with the callers)."""
    return Authenticator(SecuritySettings(api_keys=[{"name": n, "role": r, "hash": hash_api_key(k)}
                                                    for n, (r, k) in GW_KEYS.items()]))


def test_streamable_http_calls_from_verified_callers(dump: Path) -> None:
    big = {"pods": [{"metadata": {"name": f"p{i}"}, "pad": "z" * 1000} for i in range(3000)]}  # ~3 MB answer

    async def big_pods(reader, namespace, label_selector=""):
        return big

    gateway, audit = make(dump, tools={**BUILTIN_TOOLS, "list_pods": big_pods})
    server = GatewayServer(gateway)
    worker_key, dev_key = GW_KEYS["worker-eu"][1], GW_KEYS["dev-bob"][1]

    async def go():
        async with serving_http(server, authenticator=gw_callers()) as url:
            assert url.startswith("http://127.0.0.1:")
            async with GatewayExecutor(url, token=worker_key) as ex:
                tools = await ex.list_tools()
                # The worker's sre key, calling for a developer's task: narrowed to developer, actor = the key.
                pod = await ex.call(call("get_pod", namespace=NS, name=POD), task_id="t-h", cluster_id="prod",
                                    role="developer", actor="alice")
                bad = await ex.call(call("get_pod", namespace=NS, name="$(id)"), task_id="t-h", cluster_id="prod")
                large = await ex.call(call("list_pods", namespace=NS), task_id="t-h", cluster_id="prod")
            async with GatewayExecutor(url, token=dev_key) as dev:  # a developer claiming admin and another name
                claimed = await dev.call(call("get_pod", namespace=NS, name=POD), task_id="t-d", cluster_id="prod",
                                         role="admin", actor="root")
            intruder = GatewayExecutor(url, token="wrong", connect_timeout_seconds=5)
            denied = await intruder.call(call("get_pod", namespace=NS, name=POD), task_id="x", cluster_id="prod")
            await intruder.aclose()
            anonymous = GatewayExecutor(url, connect_timeout_seconds=5)  # no credential, claiming admin
            denied2 = await anonymous.call(call("get_pod", namespace=NS, name=POD), task_id="x", cluster_id="prod",
                                           role="admin", actor="made-up")
            await anonymous.aclose()
        return tools, pod, bad, large, claimed, denied, denied2

    tools, pod, bad, large, claimed, denied, denied2 = asyncio.run(go())
    assert [t.name for t in tools] == REGISTRY.ids
    assert pod.ok and DB_PASSWORD not in pod.output and json.loads(pod.output)["pod"]["metadata"]["name"] == POD
    assert bad.rejected and "layer parameters" in bad.error
    assert large.ok and not large.truncated and json.loads(large.output) == big
    assert claimed.ok
    assert not denied.ok and "gateway unavailable" in denied.error
    assert not denied2.ok and "gateway unavailable" in denied2.error
    events = audit.calls()
    assert [e.result for e in events] == ["allowed", "rejected", "allowed", "allowed"]  # refused logins reach no tool
    first, *_, last = events
    assert first.details["transport"] == "streamable-http" and first.source_ip == "127.0.0.1"
    assert (first.actor, first.role, first.details["narrowed_to"], first.details["on_behalf_of"]) == \
        ("worker-eu", "developer", "developer", "alice")
    assert first.details["task_id"] == "t-h"
    # A claim never widens: the developer's key runs as developer, under its own name.
    assert (last.actor, last.role, last.details["claimed_role_refused"], last.details["on_behalf_of"]) == \
        ("dev-bob", "developer", "admin", "root")


def test_the_http_transport_has_no_unauthenticated_mode(dump: Path) -> None:
    gateway, _ = make(dump)
    with pytest.raises(ValueError, match="verified callers"):
        from agents.gateway.server import http_app
        http_app(GatewayServer(gateway), authenticator=None)


def test_executor_reconnects_after_the_gateway_restarts(dump: Path) -> None:
    gateway, _ = make(dump)
    server = GatewayServer(gateway)

    async def go():
        async with serving_http(server, authenticator=gw_callers()) as url:
            port = int(url.rsplit(":", 1)[1].split("/")[0])
            ex = GatewayExecutor(url, token=GW_KEYS["worker-eu"][1], connect_timeout_seconds=5)
            first = await ex.call(call("list_nodes"), task_id="t", cluster_id="prod")
        down = await ex.call(call("list_nodes"), task_id="t", cluster_id="prod")
        async with serving_http(server, authenticator=gw_callers(), port=port):
            again = await ex.call(call("list_nodes"), task_id="t", cluster_id="prod")
        await ex.aclose()
        return first, down, again

    first, down, again = asyncio.run(go())
    assert first.ok and not down.ok and "gateway unavailable" in down.error and again.ok


def test_concurrent_calls_share_one_session(dump: Path) -> None:
    gateway, audit = make(dump)

    async def go():
        async with GatewayExecutor(GatewayServer(gateway)) as ex:
            return await asyncio.gather(*(ex.call(call("get_pod", namespace=NS, name=POD), task_id=f"t{i}",
                                                  cluster_id="prod") for i in range(30)))

    results = asyncio.run(go())
    assert all(r.ok for r in results)
    assert sorted(e.details["task_id"] for e in audit.calls()) == sorted(f"t{i}" for i in range(30))


# -- the command ---------------------------------------------------------------------------------------------
def gw_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AETHERIUS_")}
    env.update({"PYTHONPATH": str(REPO), "AETHERIUS_KAFKA__BOOTSTRAP": os.environ.get("AETHERIUS_KAFKA_BOOTSTRAP",
                                                                                      "127.0.0.1:1"),
                "AETHERIUS_SECURITY__API_KEYS": json.dumps([{"name": n, "role": r, "hash": hash_api_key(k)}
                                                            for n, (r, k) in GW_KEYS.items()])})
    env.update(extra or {})
    return env


def test_gateway_command_serves_a_dump_to_verified_callers(dump: Path) -> None:
    """Kafka unreachable (port 1 unless a broker is given): the audit trail falls back to the log, never lost."""
    env = gw_env({"AETHERIUS_KAFKA__BOOTSTRAP": "127.0.0.1:1"})
    proc = subprocess.Popen([*AETHERIUS, "gateway", "--dump", str(dump), "--cluster", "prod",
                             "--port", "0"], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("gateway ready: http://127.0.0.1:"), (line, proc.stderr.read() if proc.poll() is not None else "")
        url = line.split()[2]

        async def go():
            async with GatewayExecutor(url, token=GW_KEYS["worker-eu"][1]) as ex:
                ok = await ex.call(call("pod_logs", namespace=NS, name=POD, tail_lines=2), task_id="t", cluster_id="prod")
            anonymous = GatewayExecutor(url, connect_timeout_seconds=5)
            refused = await anonymous.call(call("pod_logs", namespace=NS, name=POD), task_id="t", cluster_id="prod",
                                           role="admin")
            await anonymous.aclose()
            return ok, refused

        result, refused = asyncio.run(go())
        assert result.ok and "OOMKilled exit code 137" in json.loads(result.output)["logs"]
        assert not refused.ok
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    logged = [json.loads(m.split("event follows: ", 1)[1]) for m in
              (json.loads(line)["msg"] for line in err.splitlines() if line.startswith("{")) if "event follows: " in m]
    assert any((e["action"], e["resource"], e["actor"]) == ("tool.call", "tool/pod_logs", "worker-eu") for e in logged)
    assert any((e["action"], e["result"]) == ("mcp.request", "rejected") for e in logged), err


@pytest.mark.kafka
def test_gateway_command_audits_to_the_audit_topic(dump: Path, kafka_bootstrap: str, topic_prefix: str) -> None:
    """Issue 14: the standalone gateway's audit events (a call, a refused login, a security event) are on the audit
    topic like every other role's - so the sink alerts the SOC - not on stderr only."""
    from tests.kafkautil import read_all, run

    env = gw_env({"AETHERIUS_KAFKA__BOOTSTRAP": kafka_bootstrap, "AETHERIUS_KAFKA__TOPIC_PREFIX": topic_prefix})
    proc = subprocess.Popen([*AETHERIUS, "gateway", "--dump", str(dump), "--cluster", "prod", "--port", "0"],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = proc.stdout.readline().split()[2]

        async def go():
            async with GatewayExecutor(url, token=GW_KEYS["dev-bob"][1]) as ex:
                await ex.call(call("get_pod", namespace=NS, name=POD), task_id="t1", cluster_id="prod", role="admin")
                await ex.call(call("get_pod", namespace=NS, name="x && sudo cat /etc/shadow"), task_id="t2",
                              cluster_id="prod")
            anonymous = GatewayExecutor(url, connect_timeout_seconds=5)
            await anonymous.call(call("get_pod", namespace=NS, name=POD), task_id="t3", cluster_id="prod")
            await anonymous.aclose()

        asyncio.run(go())
        import time
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                events = [json.loads(v) for _, v in run(read_all(kafka_bootstrap, f"{topic_prefix}.audit"))]
            except Exception:  # noqa: BLE001 - the topic may not exist until the first event
                events = []
            if {"tool.call", "security.privilege_escalation", "mcp.request"} <= {e["action"] for e in events}:
                break
            time.sleep(0.5)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    by_action = {e["action"]: e for e in events}
    assert {"tool.call", "security.privilege_escalation", "mcp.request"} <= set(by_action), sorted(by_action)
    calls = [e for e in events if e["action"] == "tool.call"]
    assert {(e["actor"], e["role"]) for e in calls} == {("dev-bob", "developer")}
    assert by_action["security.privilege_escalation"]["actor"] == "dev-bob"
    assert by_action["mcp.request"]["result"] == "rejected" and by_action["mcp.request"]["actor"] == "anonymous"


@pytest.mark.parametrize("argv,message,env", [
    (["--dump", "/nonexistent/dir"], "does not exist", None),
    (["--dump", ".", "--port", "70000"], "is not a TCP port", None),
    (["--dump", ".", "--registry", "/nonexistent.yaml"], "cannot read the tool registry", None),
    (["--dump", "."], "no caller credentials configured", {"AETHERIUS_SECURITY__API_KEYS": "[]"}),
])
def test_gateway_command_bad_input(argv: list[str], message: str, env: dict | None) -> None:
    proc = subprocess.run([*AETHERIUS, "gateway", *argv], cwd=REPO, env=gw_env(env),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert message in proc.stderr and proc.stderr.strip().splitlines()[-1].startswith("aetherius gateway:")


def test_hostile_http_requests_at_the_gateway(dump: Path, capsys) -> None:
    """Issue 14's count for the MCP entry point: hostile HTTP requests (no/wrong credentials, claimed roles, broken
    JSON-RPC, oversized bodies) and hostile tool calls from a verified caller - a clear 4xx or a rejected result,
    never a 5xx, and no tool reached except by a verified, valid call."""
    import httpx

    gateway, audit = make(dump)
    server = GatewayServer(gateway)
    key = GW_KEYS["dev-bob"][1]
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
    accept = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    call_body = {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                 "params": {"name": "get_pod", "arguments": {"namespace": NS, "name": POD},
                            "_meta": {"aetherius.io/role": "admin", "aetherius.io/actor": "root"}}}
    unauthenticated: list[tuple[str, dict[str, str], bytes]] = [
        ("no credential", accept, json.dumps(init).encode()),
        ("wrong key", {**accept, "Authorization": "Bearer aek_wrong"}, json.dumps(init).encode()),
        ("wrong X-API-Key", {**accept, "X-API-Key": "nope"}, json.dumps(init).encode()),
        ("basic auth", {**accept, "Authorization": "Basic dXNlcjpwYXNz"}, json.dumps(init).encode()),
        ("malformed JWT", {**accept, "Authorization": "Bearer eyJhbGciOiJub25lIn0.e30."}, json.dumps(init).encode()),
        ("claimed admin, no key", accept, json.dumps(call_body).encode()),
        ("bare bearer", {**accept, "Authorization": "Bearer"}, json.dumps(init).encode()),
        ("unknown scheme", {**accept, "Authorization": "Negotiate abc"}, json.dumps(init).encode()),
    ]
    authenticated: list[tuple[str, dict[str, str], bytes]] = [
        ("not json", accept, b"{nope"), ("empty", accept, b""), ("array of junk", accept, b"[1,2,3]"),
        ("no method", accept, b'{"jsonrpc":"2.0","id":1}'), ("wrong content type", {**accept, "Content-Type": "text/plain"},
                                                               json.dumps(init).encode()),
        ("2 MB body", accept, json.dumps({**init, "pad": "x" * 2_000_000}).encode()),
        ("tools/call without a session", accept, json.dumps(call_body).encode()),
    ]

    async def go() -> dict[str, dict[str, int]]:
        counts = {"HTTP, no valid credential": {"tried": 0, "4xx": 0, "5xx": 0},
                  "HTTP, verified but malformed": {"tried": 0, "4xx": 0, "5xx": 0},
                  "MCP tool calls, verified caller": {"tried": 0, "rejected": 0, "5xx": 0}}
        async with serving_http(server, authenticator=gw_callers()) as url:
            async with httpx.AsyncClient(timeout=20) as http:
                for label, bodies, extra in (("HTTP, no valid credential", unauthenticated, {}),
                                             ("HTTP, verified but malformed", authenticated, {"Authorization": f"Bearer {key}"})):
                    for name, headers, body in bodies:
                        resp = await http.post(url, headers={**headers, **extra}, content=body)
                        counts[label]["tried"] += 1
                        assert resp.status_code < 500, (name, resp.status_code, resp.text[:200])
                        assert 400 <= resp.status_code < 500, (name, resp.status_code, resp.text[:200])
                        counts[label]["4xx"] += 1
            attacks = ["; rm -rf /", "$(id)", "`id`", "../../etc", "a\u202eb", "x && sudo cat /etc/shadow",
                       "kubectl delete pod x", "--as=system:admin", "a" * 20000, "a\x00b"]
            async with GatewayExecutor(url, token=key) as ex:
                for tool in REGISTRY.tools:
                    for param in tool.parameters:
                        for attack in attacks:
                            result = await ex.call(call(tool.id, **{param.name: attack}), task_id="h", cluster_id="prod",
                                                   role="admin", actor="root")
                            counts["MCP tool calls, verified caller"]["tried"] += 1
                            assert result.rejected and not result.ok, (tool.id, param.name, attack)
                            counts["MCP tool calls, verified caller"]["rejected"] += 1
        return counts

    counts = asyncio.run(go())
    with capsys.disabled():
        for label, tally in counts.items():
            print(f"\ngateway {label}: " + ", ".join(f"{k} {v}" for k, v in tally.items()))
    calls = audit.calls()
    assert calls and all(e.result == "rejected" for e in calls)  # no unverified or hostile call reached a tool
    assert {(e.actor, e.role) for e in calls} == {("dev-bob", "developer")}  # the claims (admin, root) changed nothing
