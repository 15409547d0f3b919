"""SRS §5.9.3 safety checks: every layer, in order, and injection attempts in every parameter of every tool."""

from __future__ import annotations

import pytest

from agents.tools.registry import ToolDefinition, ToolRegistry, load_registry
from agents.tools.safety import MAX_VALUE_BYTES, Layer, SecurityEvent, check_call

REGISTRY = load_registry()
OK_ARGS = {
    "namespace": "payments", "name": "payment-service-7d9f8b6c5d-x2k4j", "container": "api", "previous": True,
    "tail_lines": 50, "kind": "deployment", "label_selector": "app=payment,tier=backend",
}


def ok_args(tool: ToolDefinition) -> dict:
    args = {p.name: OK_ARGS[p.name] for p in tool.parameters}
    if tool.id == "list_events":
        args["kind"] = "Pod"
    if tool.id == "get_node":
        args["name"] = "ip-10-0-3-17.eu-west-1.compute.internal"
    return args


# What an attacker or a confused model might put into any parameter.
ATTACKS: dict[str, str | int | bool | None | list] = {
    "shell separator": "; rm -rf /",
    "command substitution": "$(id)",
    "backticks": "`id`",
    "variable": "${HOME}",
    "pipe": "web | sh",
    "and-chain": "web && curl evil.example",
    "redirect": "web>/etc/passwd",
    "path traversal": "../../etc/passwd",
    "path traversal bare": "..",
    "newline": "web\nkubectl delete pod web",
    "carriage return": "web\r\nx",
    "nul": "web\x00",
    "bidi override": "web\u202eexe.sh",
    "zero width": "we\u200bb",
    "cyrillic homoglyph": "w\u0435b",
    "fullwidth semicolon": "web\uff1brm",
    "tab": "web\tx",
    "10 KB value": "a" * (10 * 1024 + 1),
    "1 MB value": "b" * (1024 * 1024),
    "sudo": "sudo cat /etc/shadow",
    "su": "su - root",
    "force flag": "--force",
    "short force flag": "-f",
    "privileged flag": "--privileged",
    "impersonation": "web --as=system:admin",
    "write verb": "delete pod web",
    "exec": "exec -it web -- sh",
    "space": "web pod",
    "upper case": "WEB",
    "wrong type list": ["web"],
    "wrong type null": None,
}


def _cases():
    for tool in REGISTRY.tools:
        for param in tool.parameters:
            for attack in ATTACKS:
                yield pytest.param(tool.id, param.name, attack, id=f"{tool.id}.{param.name}.{attack}")


@pytest.mark.parametrize("tool_id,param,attack", list(_cases()))
def test_injection_in_every_parameter_of_every_tool_is_rejected(tool_id: str, param: str, attack: str) -> None:
    tool = REGISTRY.get(tool_id)
    args = ok_args(tool)
    args[param] = ATTACKS[attack]
    if attack == "upper case" and tool.parameter(param).type == "string" and not tool.parameter(param).problem("WEB"):
        pytest.skip("not applicable: this parameter takes upper case (a kind such as 'Pod')")
    decision = check_call(REGISTRY, tool_id, args, "sre", "prod")
    assert not decision.allowed
    assert decision.layer in (Layer.READ_ONLY, Layer.PARAMETERS), decision
    assert decision.parameter == param


def test_every_tool_accepts_its_legitimate_arguments() -> None:
    for tool in REGISTRY.tools:
        decision = check_call(REGISTRY, tool.id, ok_args(tool), "sre", "prod")
        assert decision.allowed, (tool.id, decision.reason)
        assert decision.layer is None and decision.security_event is None


def test_defaults_are_filled_and_values_normalised() -> None:
    decision = check_call(REGISTRY, "pod_logs", {"namespace": "a", "name": "b", "tail_lines": "100"}, "sre", "c")
    assert decision.allowed
    assert decision.parameters == {"namespace": "a", "name": "b", "container": "", "previous": False, "tail_lines": 100}


@pytest.mark.parametrize("value", [
    "delete-old-pods-job", "drop-worker-0", "su-batch", "app-f", "exec-runner", "rm-cache", "force-sync",
    "sudo", "su", "delete", "exec", "label", "drain", "nsenter",
])
def test_valid_names_are_data_whatever_they_spell(value: str) -> None:
    """A pod legitimately named `sudo` or `su` is a pod (issue 14): a valid value is never an attempt."""
    assert check_call(REGISTRY, "get_pod", {"namespace": "default", "name": value}, "sre", "c").allowed
    assert check_call(REGISTRY, "pod_logs", {"namespace": value, "name": "b", "container": value}, "sre", "c").allowed


@pytest.mark.parametrize("value", [
    "Kubernetes namespace (DNS-1123 label).", "my label", "Object name (DNS-1123 subdomain).", "<namespace>",
    "$NAMESPACE", "{{ .Values.namespace }}", "payments namespace", "app=web&tier=db", "kubectl get pods",
    "C:\\temp", "pod-1\n", "ns\u200b", "w\u0435b", "a" * (MAX_VALUE_BYTES + 1), "the label app=web",
    "set to the pod name", "update-me please",
])
def test_a_models_mistake_is_a_failed_step_not_a_security_event(value: str) -> None:
    """Issue 21: a malformed value (a copied description, a placeholder, prose) is rejected with a clear
    message for the model, and raises no security event - nobody is suspended for it."""
    for args in ({"namespace": value, "name": "x"}, {"namespace": "a", "name": value}):
        decision = check_call(REGISTRY, "get_pod", args, "sre", "prod-eu")
        assert not decision.allowed and decision.layer is Layer.PARAMETERS
        assert decision.security_event is None, decision.reason
        assert decision.parameter in args and decision.reason.startswith(f"parameter {decision.parameter!r}: ")


def test_issue_21_repro() -> None:
    decision = check_call(load_registry(), "get_pod", {"namespace": "Kubernetes namespace (DNS-1123 label).",
                                                       "name": "x"}, "sre", "prod-eu")
    assert decision.security_event is None and "does not match the pattern" in decision.reason


# -- layer 1 -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("tool_id", ["kubectl", "exec_pod", "shell", "", "GET_POD", "get_pod ", None, 5, ["get_pod"]])
def test_layer1_unregistered_tools(tool_id) -> None:
    decision = check_call(REGISTRY, tool_id, {}, "sre", "c")
    assert not decision.allowed and decision.layer is Layer.REGISTERED
    assert "not registered" in decision.reason


def test_layer1_unregistered_write_tool_is_a_security_event() -> None:
    decision = check_call(REGISTRY, "delete_pod", {"namespace": "a", "name": "b"}, "admin", "c")
    assert decision.layer is Layer.REGISTERED
    assert decision.security_event is SecurityEvent.DESTRUCTIVE_OPERATION


# -- layer 2 -------------------------------------------------------------------------------------------------
def _registry_with(**changes) -> ToolRegistry:
    base = REGISTRY.get("get_pod")
    return ToolRegistry.model_construct(version=1, tools=[base.model_copy(update=changes)])


def test_layer2_a_tool_that_is_not_read_only_never_runs() -> None:
    """Even if a non-read-only entry got into memory around the loader, the check refuses it."""
    registry = _registry_with(readonly=False)
    decision = check_call(registry, "get_pod", {"namespace": "a", "name": "b"}, "sre", "c")
    assert decision.layer is Layer.READ_ONLY and decision.security_event is SecurityEvent.DESTRUCTIVE_OPERATION


@pytest.mark.parametrize("tool_id", ["delete_pod", "scale_deployment", "patch_node", "cordon_node", "exec_in_pod"])
def test_layer2_write_verbs_in_a_registered_tool_id(tool_id: str) -> None:
    registry = _registry_with(id=tool_id)
    decision = check_call(registry, tool_id, {"namespace": "a", "name": "b"}, "admin", "c")
    assert decision.layer is Layer.READ_ONLY and decision.security_event is SecurityEvent.DESTRUCTIVE_OPERATION


@pytest.mark.parametrize("value", ["delete pod web", "; rm -rf /", "x && kubectl drain node-1", "DROP TABLE x;",
                                   "kubectl patch deploy web", "truncate -s0 /var/log/x"])
def test_layer2_write_commands_in_values_are_security_events(value: str) -> None:
    decision = check_call(REGISTRY, "get_pod", {"namespace": "a", "name": value}, "sre", "c")
    assert decision.layer is Layer.READ_ONLY
    assert decision.security_event is SecurityEvent.DESTRUCTIVE_OPERATION
    assert decision.parameter == "name"


# -- layer 3 -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("value,expected", [
    ("sudo cat /etc/shadow", "sudo"), ("su - root", "su"), ("--force", "--force"), ("-f", "-f"), ("--privileged", "--privileged"),
    ("web --as=system:admin", "--as"), ("nsenter -t 1", "nsenter"),
])
def test_layer3_privilege_escalation_is_flagged(value: str, expected: str) -> None:
    decision = check_call(REGISTRY, "pod_logs", {"namespace": "a", "name": "b", "container": value}, "sre", "c")
    assert decision.layer is Layer.PARAMETERS
    assert decision.security_event is SecurityEvent.PRIVILEGE_ESCALATION
    assert expected in decision.reason


@pytest.mark.parametrize("value,reason", [
    ("$(id)", "command substitution"), ("`id`", "backtick"), ("../../etc", "path traversal"), ("..", "path traversal"),
    ("a\x00b", "NUL"), ("a\u202eb", "bidirectional"), ("${HOME}", "variable expansion"), ("web | grep x", "pipe"),
    ("web>/etc/passwd", "redirection"), ("a; b", "command separator"), ("a || b", "command chaining"),
])
def test_layer3_injection_reasons_are_exact(value: str, reason: str) -> None:
    decision = check_call(REGISTRY, "get_pod", {"namespace": "a", "name": value}, "sre", "c")
    assert decision.layer is Layer.PARAMETERS
    assert reason in decision.reason
    assert decision.security_event is SecurityEvent.INJECTION_ATTEMPT


@pytest.mark.parametrize("value,reason", [
    ("a\nb", "line break"), ("a\u200bb", "invisible"), ("p\u043ed", "non-ASCII"),
    ("a" * (MAX_VALUE_BYTES + 1), "larger than 10240 bytes"), ("a\x1bb", "control character"),
    ("<pod-name>", "does not match the pattern"), ("$POD", "does not match the pattern"),
])
def test_layer3_malformed_values_are_named_but_not_attacks(value: str, reason: str) -> None:
    decision = check_call(REGISTRY, "get_pod", {"namespace": "a", "name": value}, "sre", "c")
    assert decision.layer is Layer.PARAMETERS and reason in decision.reason
    assert decision.security_event is None


@pytest.mark.parametrize("args,reason", [
    ({"namespace": "a"}, "'name': is required"),
    ({"namespace": "a", "name": "b", "force": True}, "unexpected parameter 'force'"),
    ({"namespace": "a", "name": "b", "name; rm": "x"}, "unexpected parameter"),
    ({"namespace": "a", "name": "b", 7: "x"}, "unexpected parameter"),
    ({"namespace": "a", "name": "b", "tail_lines": 0}, "must be at least 1"),
    ({"namespace": "a", "name": "b", "tail_lines": 10**9}, "must be at most 5000"),
    ({"namespace": "a", "name": "b", "tail_lines": True}, "must be an integer"),
    ({"namespace": "a", "name": "b", "tail_lines": "lots"}, "must be an integer"),
    ({"namespace": "a", "name": "b", "previous": "yes"}, "must be true or false"),
    ({"namespace": "A", "name": "b"}, "does not match the pattern"),
    ({"namespace": "a" * 64, "name": "b"}, "longer than the limit of 63"),
])
def test_layer3_parameter_validation(args: dict, reason: str) -> None:
    decision = check_call(REGISTRY, "pod_logs", args, "sre", "c")
    assert decision.layer is Layer.PARAMETERS
    assert reason in decision.reason, decision.reason
    assert decision.security_event is None  # a model's mistake, not an attack


def test_layer3_enum_and_selector() -> None:
    bad = check_call(REGISTRY, "get_workload", {"namespace": "a", "kind": "secret", "name": "b"}, "sre", "c")
    assert bad.layer is Layer.PARAMETERS and "kind" in bad.reason
    assert check_call(REGISTRY, "list_pods", {"namespace": "a", "label_selector": "app.kubernetes.io/name=web"},
                      "sre", "c").allowed
    assert not check_call(REGISTRY, "list_pods", {"namespace": "a", "label_selector": "app in (a,b)"}, "sre", "c").allowed


def test_parameters_must_be_an_object() -> None:
    decision = check_call(REGISTRY, "get_pod", ["a", "b"], "sre", "c")
    assert decision.layer is Layer.PARAMETERS


# -- layers 4 and 5 ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("role", ["auditor", "root", "", None, "SRE", 1])
def test_layer4_role(role) -> None:
    decision = check_call(REGISTRY, "get_pod", {"namespace": "a", "name": "b"}, role, "c")
    assert decision.layer is Layer.ROLE
    assert decision.security_event is SecurityEvent.UNAUTHORIZED_ACCESS


@pytest.mark.parametrize("role", ["sre", "admin", "developer"])
def test_layer4_allowed_roles(role: str) -> None:
    assert check_call(REGISTRY, "get_pod", {"namespace": "a", "name": "b"}, role, "c").allowed


def test_layer5_cluster() -> None:
    registry = _registry_with(clusters=["prod-eu"])
    args = {"namespace": "a", "name": "b"}
    assert check_call(registry, "get_pod", args, "sre", "prod-eu").allowed
    for cluster in ("dev", "", None):
        decision = check_call(registry, "get_pod", args, "sre", cluster)
        assert decision.layer is Layer.CLUSTER and decision.security_event is None


# -- order ---------------------------------------------------------------------------------------------------
def test_first_failing_layer_decides() -> None:
    registry = _registry_with(clusters=["prod-eu"])
    assert check_call(registry, "nope", {"name": "$(id)"}, "root", "dev").layer is Layer.REGISTERED
    assert check_call(registry, "get_pod", {"namespace": "a", "name": "rm -rf x"}, "root", "dev").layer is Layer.READ_ONLY
    assert check_call(registry, "get_pod", {"namespace": "a", "name": "$(id)"}, "root", "dev").layer is Layer.PARAMETERS
    assert check_call(registry, "get_pod", {"namespace": "a", "name": "b"}, "root", "dev").layer is Layer.ROLE
    assert check_call(registry, "get_pod", {"namespace": "a", "name": "b"}, "sre", "dev").layer is Layer.CLUSTER


def test_check_is_pure() -> None:
    args = {"namespace": "a", "name": "b"}
    first = check_call(REGISTRY, "get_pod", args, "sre", "c")
    assert args == {"namespace": "a", "name": "b"}
    assert check_call(REGISTRY, "get_pod", args, "sre", "c") == first


def test_an_html_entity_is_judged_as_the_character_it_stands_for() -> None:
    """A small model writes `&#34;` for a quote: that `;` is no command separator. An encoded separator is."""
    from agents.tools.safety import judge_value

    assert judge_value('Kubernetes namespace (DNS-1123 label).&#34;, &#34;namespace&#34') is None
    encoded = judge_value("web&#59; rm -rf /")
    assert encoded is not None and encoded[0].value in ("destructive_operation", "injection_attempt")
