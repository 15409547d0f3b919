"""The tool registry: the shipped file is complete and read-only; bad files fail with errors naming tool and field."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest
import yaml

from agents.tools.builtin import BUILTIN_TOOLS
from agents.tools.registry import (
    DEFAULT_REGISTRY_PATH,
    RegistryError,
    load_registry,
    parse_registry,
    to_mcp_input_schema,
)
from agents.tools.safety import WRITE_VERBS

GOOD_TOOL = {
    "id": "get_pod", "name": "Get pod", "description": "One pod.", "category": "kubectl",
    "parameters": [
        {"name": "namespace", "type": "string", "required": True, "pattern": "^[a-z0-9-]+$", "max_length": 63},
        {"name": "name", "type": "string", "required": True, "pattern": "^[a-z0-9.-]+$", "max_length": 253},
    ],
    "timeout_seconds": 10, "readonly": True, "clusters": "*", "allowed_roles": ["sre"],
}


def _yaml(*tools: dict) -> str:
    return yaml.safe_dump({"version": 1, "tools": list(tools)})


def _tool(**changes) -> dict:
    tool = {**GOOD_TOOL, **changes}
    return {k: v for k, v in tool.items() if v is not _DROP}


_DROP = object()


def test_shipped_registry_covers_every_builtin_tool_exactly() -> None:
    registry = load_registry()
    assert sorted(registry.ids) == sorted(BUILTIN_TOOLS)
    assert DEFAULT_REGISTRY_PATH == Path(__file__).resolve().parents[1] / "deploy" / "tools" / "registry.yaml"


def test_shipped_registry_is_read_only_and_bounded() -> None:
    for tool in load_registry().tools:
        assert tool.readonly is True
        assert not set(re.split(r"[^a-z0-9]+", tool.id)) & WRITE_VERBS, tool.id
        assert tool.allowed_roles and "auditor" not in tool.allowed_roles
        for p in tool.parameters:
            if p.type == "string":
                assert p.pattern and p.pattern.startswith("^") and p.pattern.endswith("$"), (tool.id, p.name)
                assert p.max_length and p.max_length <= 1024, (tool.id, p.name)


def test_parameters_match_implementation_signatures() -> None:
    for tool in load_registry().tools:
        sig = list(inspect.signature(BUILTIN_TOOLS[tool.id]).parameters.values())[1:]
        assert [p.name for p in sig] == [p.name for p in tool.parameters], tool.id
        for declared, actual in zip(tool.parameters, sig):
            if actual.default is inspect.Parameter.empty:
                assert declared.required
            else:
                assert declared.default == actual.default, (tool.id, declared.name)


def test_json_schema_per_tool() -> None:
    registry = load_registry()
    schema = to_mcp_input_schema(registry.get("pod_logs"))
    assert schema["type"] == "object" and schema["additionalProperties"] is False
    assert schema["required"] == ["namespace", "name"]
    assert schema["properties"]["tail_lines"] == {
        "type": "integer", "description": "Number of lines from the end of the log.",
        "minimum": 1, "maximum": 5000, "default": 200}
    assert schema["properties"]["namespace"]["maxLength"] == 63
    assert "required" not in to_mcp_input_schema(registry.get("list_nodes"))
    assert registry.get("get_workload").json_schema()["properties"]["kind"]["enum"] == [
        "deployment", "replicaset", "statefulset", "daemonset", "job"]


def test_registry_feeds_llm_function_specs() -> None:
    from agents.llm.tools import function_definitions, specs_from_registry

    defs = function_definitions(specs_from_registry(load_registry().tools))
    assert len(defs) == len(BUILTIN_TOOLS)
    by_name = {d["function"]["name"]: d["function"] for d in defs}
    assert by_name["get_pod"]["parameters"]["required"] == ["namespace", "name"]


def test_a_good_minimal_file_loads() -> None:
    registry = parse_registry(_yaml(_tool()))
    assert registry.ids == ["get_pod"] and "get_pod" in registry and "nope" not in registry


@pytest.mark.parametrize("text,expected", [
    ("tools: [", "not valid YAML"),
    ("- just\n- a list\n", "expected a mapping with a `tools:` list"),
    ("tools: {}", "expected a mapping with a `tools:` list"),
    (_yaml(_tool(readonly=False)), "tool 'get_pod' (#1) field readonly: must be true"),
    (_yaml(_tool(id="delete_pod")), "tool 'delete_pod': no built-in implementation"),
    (_yaml(_tool(id="Get Pod")), "tool 'Get Pod' (#1) field id: String should match pattern"),
    (_yaml(_tool(), _tool()), "duplicate tool ids: get_pod"),
    (_yaml(_tool(category="shell")), "tool 'get_pod' (#1) field category: Input should be"),
    (_yaml(_tool(allowed_roles=["root"])), "tool 'get_pod' (#1) field allowed_roles[0]: Input should be 'sre'"),
    (_yaml(_tool(allowed_roles=[])), "tool 'get_pod' (#1) field allowed_roles"),
    (_yaml(_tool(clusters=[])), "tool 'get_pod' (#1) field clusters: must be \"*\" or a non-empty list"),
    (_yaml(_tool(timeout_seconds=0)), "tool 'get_pod' (#1) field timeout_seconds: Input should be greater than 0"),
    (_yaml(_tool(timeout_seconds=_DROP)), "tool 'get_pod' (#1) field timeout_seconds: Field required"),
    (_yaml(_tool(command="kubectl get pods")), "tool 'get_pod' (#1) field command: Extra inputs are not permitted"),
    (_yaml(_tool(parameters=[{**GOOD_TOOL["parameters"][0], "pattern": "^[a-z+("}, GOOD_TOOL["parameters"][1]])),
     "tool 'get_pod' (#1) field parameters[0].pattern (namespace): is not a valid regular expression"),
    (_yaml(_tool(parameters=[{**GOOD_TOOL["parameters"][0], "type": "shell"}, GOOD_TOOL["parameters"][1]])),
     "field parameters[0].type (namespace): Input should be 'string', 'integer' or 'boolean'"),
    (_yaml(_tool(parameters=[{k: v for k, v in GOOD_TOOL["parameters"][0].items() if k != "pattern"},
                             GOOD_TOOL["parameters"][1]])),
     "field parameters[0] (namespace): a string parameter needs both `pattern` and `max_length`"),
    (_yaml(_tool(parameters=[{**GOOD_TOOL["parameters"][0], "max_length": 100000}, GOOD_TOOL["parameters"][1]])),
     "field parameters[0].max_length (namespace): Input should be less than or equal to 10240"),
    (_yaml(_tool(parameters=[GOOD_TOOL["parameters"][0]])), "tool 'get_pod': the implementation needs parameters ['name']"),
    (_yaml(_tool(parameters=[*GOOD_TOOL["parameters"], {"name": "force", "type": "boolean", "default": False}])),
     "tool 'get_pod': parameters ['force'] are not taken by the implementation"),
    (_yaml(_tool(parameters=[GOOD_TOOL["parameters"][0], GOOD_TOOL["parameters"][0]])),
     "field parameters: duplicate parameter names: namespace"),
    (_yaml(_tool(id="pod_logs", parameters=[*GOOD_TOOL["parameters"],
                                            {"name": "tail_lines", "type": "integer", "default": 0, "minimum": 1}])),
     "default 0 is invalid: must be at least 1"),
    (_yaml(_tool(id="pod_logs", parameters=[*GOOD_TOOL["parameters"], {"name": "tail_lines", "type": "integer"}])),
     "an optional parameter needs a `default`"),
])
def test_bad_registry_files_are_refused_with_a_clear_error(text: str, expected: str) -> None:
    with pytest.raises(RegistryError) as info:
        parse_registry(text, source="reg.yaml")
    message = str(info.value)
    assert message.startswith("reg.yaml: ")
    assert expected in message, message


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match=r"missing\.yaml: cannot read the tool registry"):
        load_registry(tmp_path / "missing.yaml")


def test_registry_can_only_narrow(tmp_path: Path) -> None:
    """Editing the file may restrict roles and clusters and tighten patterns, never add a tool."""
    path = tmp_path / "r.yaml"
    path.write_text(_yaml(_tool(clusters=["prod-eu"], allowed_roles=["admin"])))
    registry = load_registry(path)
    tool = registry.get("get_pod")
    assert tool.allows_cluster("prod-eu") and not tool.allows_cluster("dev")
    assert tool.allowed_roles == ["admin"]
