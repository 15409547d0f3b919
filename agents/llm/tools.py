"""The tools the LLM may call, as OpenAI function definitions.

Two sources. `specs_from_registry` takes the gateway's registry (agents/tools/registry.py: id,
description, a JSON schema per tool, roles, clusters) - the production source, with its patterns and
descriptions. `builtin_specs` is the fallback the engine uses when given no specs (and was the interim
adapter before the registry landed): derived from the built-in tool functions' signatures - names,
types, defaults - plus the one-line descriptions and enums below, restating the shared tool contract.
The gateway validates every call either way; specs only tell the model what exists. So the schemas sent to
the model keep only what common servers' grammar converters handle (`wire_schema`): llama.cpp's
json-schema-to-grammar fails on regular expressions such as the DNS-name patterns (`\\.`), and a server that
cannot build its grammar refuses the request. The patterns stay where they are enforced, in the gateway, whose
refusal the model reads as a failed call it can correct.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from agents.tools.builtin import BUILTIN_TOOLS, ToolFn

_DESCRIPTIONS: dict[str, str] = {
    "get_pod": "One pod object (spec and status, container states, restart counts, exit codes).",
    "list_pods": "Pods in a namespace, optionally filtered by a label selector 'k=v,k2=v2'.",
    "describe_pod": "A pod and the events whose involvedObject is that pod.",
    "pod_logs": "A container's log tail; previous=true gives the log of the last terminated instance.",
    "list_events": "Events in a namespace, optionally only those about one object (kind and name).",
    "get_workload": "A workload object, its owner chain up the ownerReferences, and the pods it owns.",
    "get_service": "A service, its endpoints, and the pods its selector matches.",
    "list_services": "Services in a namespace.",
    "get_pvc": "A PersistentVolumeClaim with its bound PV, storage class and events.",
    "list_nodes": "All nodes.",
    "get_node": "One node, its conditions and its events.",
    "list_resource_quotas": "ResourceQuotas in a namespace with used and hard amounts.",
    "list_limit_ranges": "LimitRanges in a namespace: min/max/default requests and limits pods must fit.",
    "list_network_policies": "NetworkPolicies in a namespace: the pods they select and the ingress/egress they allow.",
    "list_hpas": "HorizontalPodAutoscalers in a namespace.",
    "get_hpa": "One HorizontalPodAutoscaler and its scale target.",
    "list_admission_webhooks": "Validating and mutating admission webhook configurations.",
    "list_configmaps": "ConfigMaps in a namespace: names and keys only, never values.",
    "top_pods": "Current pod CPU/memory usage from metrics.k8s.io, when available.",
    "top_nodes": "Current node CPU/memory usage from metrics.k8s.io, when available.",
}
_PARAM_NOTES: dict[tuple[str, str], dict[str, Any]] = {
    ("get_workload", "kind"): {"enum": ["deployment", "replicaset", "statefulset", "daemonset", "job"]},
    ("pod_logs", "tail_lines"): {"minimum": 1, "maximum": 5000},
    ("list_events", "kind"): {"description": "Kubernetes kind, e.g. Pod, Node, Deployment"},
    ("list_pods", "label_selector"): {"description": "comma-separated k=v pairs"},
}
_JSON_TYPES = {str: "string", bool: "boolean", int: "integer", float: "number"}


class ToolSpec(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    description: str
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})
    allowed_roles: tuple[str, ...] | None = None  # None: any role (the built-in contract has no roles)

    def offered_to(self, role: str | None) -> bool:
        return role is None or self.allowed_roles is None or role in self.allowed_roles


def spec_from_function(tool_id: str, fn: ToolFn, description: str = "") -> ToolSpec:
    """A spec from `async def fn(reader, **params)`: every parameter after the reader becomes a property."""
    hints = typing.get_type_hints(fn)
    properties: dict[str, Any] = {}
    required: list[str] = []
    for i, (name, param) in enumerate(inspect.signature(fn).parameters.items()):
        if i == 0:  # the ClusterReader, supplied by the executor
            continue
        prop: dict[str, Any] = {"type": _JSON_TYPES.get(hints.get(name, str), "string")}
        if param.default is inspect.Parameter.empty:
            required.append(name)
        else:
            prop["default"] = param.default
        prop.update(_PARAM_NOTES.get((tool_id, name), {}))
        properties[name] = prop
    schema: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = required
    return ToolSpec(id=tool_id, description=description or _DESCRIPTIONS.get(tool_id, tool_id), parameters=schema)


def builtin_specs(tools: Mapping[str, ToolFn] | None = None) -> list[ToolSpec]:
    tools = BUILTIN_TOOLS if tools is None else tools
    return [spec_from_function(tool_id, fn) for tool_id, fn in tools.items()]


def specs_from_registry(entries: Iterable[Any], *, role: str | None = None,
                        cluster_id: str | None = None) -> list[ToolSpec]:
    """Specs from registry entries (e.g. `agents.tools.registry.load_registry().tools`): objects or
    dicts with `id`, `description` and a parameters JSON schema under `json_schema`,
    `parameters_schema` or `input_schema` (callable or value). With `role` / `cluster_id`, entries
    that `allowed_roles` / `clusters` exclude are left out, so the model is not offered a tool the
    gateway would refuse."""
    specs = []
    for entry in entries:
        get = entry.get if isinstance(entry, Mapping) else (lambda k, e=entry: getattr(e, k, None))
        roles = get("allowed_roles")
        if role is not None and roles is not None and role not in roles:
            continue
        clusters = get("clusters")
        if cluster_id is not None and clusters not in (None, "*") and cluster_id not in clusters:
            continue
        schema = next((s for s in (get("json_schema"), get("parameters_schema"), get("input_schema")) if s), None)
        if callable(schema):
            schema = schema()
        if not isinstance(schema, Mapping):
            raise ValueError(f"registry entry {get('id')!r} has no JSON schema for its parameters")
        specs.append(ToolSpec(id=str(get("id")), description=str(get("description") or get("name") or ""),
                              parameters=dict(schema), allowed_roles=tuple(roles) if roles is not None else None))
    return specs


# JSON Schema keywords every grammar converter we know of takes (OpenAI, vLLM's outlines/xgrammar, llama.cpp,
# Ollama). Anything else - pattern, format, $ref, anyOf... - is left out of what the model is shown.
_WIRE_KEYWORDS = frozenset({"type", "description", "properties", "required", "additionalProperties", "items",
                            "enum", "minimum", "maximum", "minLength", "maxLength", "default"})


def wire_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """`schema` with only `_WIRE_KEYWORDS`, recursively (property names are kept whatever they are)."""
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key not in _WIRE_KEYWORDS:
            continue
        if key == "properties" and isinstance(value, Mapping):
            out[key] = {name: wire_schema(sub) if isinstance(sub, Mapping) else sub for name, sub in value.items()}
        elif key in ("items", "additionalProperties") and isinstance(value, Mapping):
            out[key] = wire_schema(value)
        else:
            out[key] = value
    return out


def function_definitions(specs: Iterable[ToolSpec]) -> list[dict[str, Any]]:
    """The `tools=` argument of chat.completions.create."""
    return [{"type": "function", "function": {"name": s.id, "description": s.description,
                                              "parameters": wire_schema(s.parameters)}}
            for s in specs]
