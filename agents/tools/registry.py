"""The tool registry (SRS §5.4.1) as data: pydantic models, the YAML loader, JSON schemas per tool.

The registry is the gateway's whitelist (safety layer 1) and the source of every tool description the
LLM sees. It can only *narrow* what exists: each entry must name a built-in implementation, must be
`readonly: true`, and must declare exactly the parameters that implementation takes - so editing the
YAML can hide a tool, tighten a pattern or restrict roles and clusters, never add a capability.
"""

from __future__ import annotations

import functools

import inspect
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

DEFAULT_REGISTRY_PATH = Path(__file__).resolve().parents[2] / "deploy" / "tools" / "registry.yaml"

ROLES: tuple[str, ...] = ("sre", "developer", "admin", "auditor")  # SRS §2.3.1
Role = Literal["sre", "developer", "admin", "auditor"]
Category = Literal["kubectl", "system", "network", "storage", "custom"]
ParamType = Literal["string", "integer", "boolean"]

MAX_STRING_LENGTH = 10 * 1024  # no declared max_length may exceed the gateway's hard value limit
_JSON_TYPE = {"string": "string", "integer": "integer", "boolean": "boolean"}


class RegistryError(ValueError):
    """The registry file is unusable; the message names the file, the tool and the field."""


class ToolParameter(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    type: ParamType
    required: bool = False
    pattern: str | None = None  # full-match regular expression
    max_length: int | None = Field(default=None, ge=1, le=MAX_STRING_LENGTH)
    minimum: int | None = None
    maximum: int | None = None
    enum: list[str | int | bool] | None = None
    default: str | int | bool | None = None
    description: str = ""

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"is not a valid regular expression: {exc}") from exc
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ToolParameter:
        if self.type == "string" and (self.pattern is None or self.max_length is None):
            raise ValueError("a string parameter needs both `pattern` and `max_length` (unbounded text is not accepted)")
        if self.type != "string" and (self.pattern is not None or self.max_length is not None):
            raise ValueError(f"`pattern`/`max_length` only apply to strings, not {self.type}")
        if self.type != "integer" and (self.minimum is not None or self.maximum is not None):
            raise ValueError(f"`minimum`/`maximum` only apply to integers, not {self.type}")
        if self.minimum is not None and self.maximum is not None and self.minimum > self.maximum:
            raise ValueError("`minimum` is greater than `maximum`")
        if self.required and self.default is not None:
            raise ValueError("a required parameter cannot have a default")
        if not self.required and self.default is None:
            raise ValueError("an optional parameter needs a `default`")
        if self.default is not None:
            problem = self.problem(self.default)
            if problem:
                raise ValueError(f"default {self.default!r} is invalid: {problem}")
        return self

    def problem(self, value: Any) -> str:
        """Why `value` does not satisfy this declaration ('' when it does). Type, bounds, pattern, enum."""
        if self.type == "string":
            if not isinstance(value, str):
                return f"must be a string, got {type(value).__name__}"
            if self.max_length is not None and len(value) > self.max_length:
                return f"is {len(value)} characters, longer than the limit of {self.max_length}"
            if self.pattern is not None and re.fullmatch(self.pattern, value) is None:
                return f"does not match the pattern {self.pattern}"
        elif self.type == "integer":
            if isinstance(value, bool) or not isinstance(value, int):
                return f"must be an integer, got {type(value).__name__}"
            if self.minimum is not None and value < self.minimum:
                return f"must be at least {self.minimum}"
            if self.maximum is not None and value > self.maximum:
                return f"must be at most {self.maximum}"
        elif not isinstance(value, bool):
            return f"must be true or false, got {type(value).__name__}"
        if self.enum is not None and value not in self.enum:
            return f"must be one of {', '.join(map(str, self.enum))}"
        return ""

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": _JSON_TYPE[self.type]}
        if self.description:
            schema["description"] = self.description
        for key, value in (("pattern", self.pattern), ("maxLength", self.max_length), ("minimum", self.minimum),
                           ("maximum", self.maximum), ("enum", self.enum)):
            if value is not None:
                schema[key] = value
        if not self.required:
            schema["default"] = self.default
        return schema


class ToolDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    name: str = Field(min_length=1, max_length=100)
    description: str = Field(min_length=1, max_length=1000)
    category: Category
    parameters: list[ToolParameter] = Field(default_factory=list)
    timeout_seconds: float = Field(gt=0, le=300)
    readonly: bool
    clusters: Literal["*"] | list[str] = "*"
    allowed_roles: list[Role] = Field(min_length=1)
    max_output_bytes: int | None = Field(default=None, ge=1024)  # overrides the gateway default for this tool

    @field_validator("readonly")
    @classmethod
    def _read_only(cls, value: bool) -> bool:
        if value is not True:
            raise ValueError("must be true: the gateway runs read-only tools only")
        return value

    @field_validator("clusters")
    @classmethod
    def _clusters(cls, value: Any) -> Any:
        if isinstance(value, list) and not value:
            raise ValueError('must be "*" or a non-empty list of cluster ids')
        return value

    @field_validator("parameters")
    @classmethod
    def _unique_params(cls, value: list[ToolParameter]) -> list[ToolParameter]:
        _refuse_duplicates([p.name for p in value], "parameter names")
        return value

    def parameter(self, name: str) -> ToolParameter | None:
        return next((p for p in self.parameters if p.name == name), None)

    def allows_cluster(self, cluster_id: str) -> bool:
        return self.clusters == "*" or cluster_id in self.clusters

    def json_schema(self) -> dict[str, Any]:
        """JSON Schema of the arguments: the MCP `inputSchema` and the LLM function `parameters`."""
        schema: dict[str, Any] = {
            "type": "object",
            "properties": {p.name: p.json_schema() for p in self.parameters},
            "additionalProperties": False,
        }
        required = [p.name for p in self.parameters if p.required]
        if required:
            schema["required"] = required
        return schema


def _refuse_duplicates(names: list[str], what: str) -> None:
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"duplicate {what}: {', '.join(dupes)}")


def to_mcp_input_schema(tool: ToolDefinition) -> dict[str, Any]:
    return tool.json_schema()


class ToolRegistry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = 1
    tools: list[ToolDefinition]

    @field_validator("tools")
    @classmethod
    def _unique_ids(cls, value: list[ToolDefinition]) -> list[ToolDefinition]:
        _refuse_duplicates([t.id for t in value], "tool ids")
        return value

    def get(self, tool_id: str) -> ToolDefinition | None:
        return next((t for t in self.tools if t.id == tool_id), None)

    def __contains__(self, tool_id: object) -> bool:
        return isinstance(tool_id, str) and self.get(tool_id) is not None

    @property
    def ids(self) -> list[str]:
        return [t.id for t in self.tools]


# --------------------------------------------------------------------------------------------
# Loading

def load_registry(path: str | Path | None = None,
                  implementations: Mapping[str, Callable[..., Any]] | None = None) -> ToolRegistry:
    """Read, validate and cross-check a registry file (default: deploy/tools/registry.yaml).

    `implementations` defaults to `agents.tools.builtin.BUILTIN_TOOLS`; every tool must be one of them
    and declare exactly the parameters its function takes. Raises `RegistryError` naming what is wrong.
    """
    path = Path(path) if path is not None else DEFAULT_REGISTRY_PATH
    try:
        text = path.read_text()
    except OSError as exc:
        raise RegistryError(f"{path}: cannot read the tool registry: {exc.strerror or exc}") from exc
    if implementations is not None:
        return parse_registry(text, source=str(path), implementations=implementations)
    return _parsed(text, str(path))


@functools.lru_cache(maxsize=8)
def _parsed(text: str, source: str) -> ToolRegistry:
    """A registry is immutable: the same text parses to the same registry, once per process (every offline
    diagnosis builds a gateway; parsing the YAML each time was most of a rule-engine diagnosis' time)."""
    return parse_registry(text, source=source)


def parse_registry(text: str, *, source: str = "<registry>",
                   implementations: Mapping[str, Callable[..., Any]] | None = None) -> ToolRegistry:
    try:
        data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # libyaml when built with it
    except yaml.YAMLError as exc:
        raise RegistryError(f"{source}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("tools"), list):
        raise RegistryError(f"{source}: expected a mapping with a `tools:` list")
    data = {k: v for k, v in data.items() if not str(k).startswith("x-")}  # `x-*`: anchors for reuse
    try:
        registry = ToolRegistry.model_validate(data)
    except ValidationError as exc:
        raise RegistryError(f"{source}: " + "; ".join(_describe(err, data) for err in exc.errors())) from exc
    if implementations is None:
        from agents.tools.builtin import BUILTIN_TOOLS
        implementations = BUILTIN_TOOLS
    problems = [p for tool in registry.tools for p in _check_implementation(tool, implementations)]
    if problems:
        raise RegistryError(f"{source}: " + "; ".join(problems))
    return registry


def _describe(err: Any, data: dict[str, Any]) -> str:
    """'tool 'get_pod' (#1) field parameters[0].pattern: <message>' from a pydantic error location."""
    loc = list(err.get("loc", ()))
    where = ""
    if len(loc) >= 2 and loc[0] == "tools" and isinstance(loc[1], int):
        entry = data["tools"][loc[1]] if loc[1] < len(data["tools"]) else None
        tool_id = entry.get("id") if isinstance(entry, dict) else None
        where = f"tool {tool_id!r} (#{loc[1] + 1})" if tool_id else f"tool #{loc[1] + 1}"
        loc = loc[2:]
    field = ""
    for part in loc:
        if isinstance(part, int):
            field += f"[{part}]"
        elif part in ("literal['*']", "list[str]") or str(part).startswith(("literal[", "list[")):
            continue  # union branch names add nothing for the reader
        else:
            field += f".{part}" if field else str(part)
    if loc and loc[0] == "parameters" and len(loc) > 1 and isinstance(loc[1], int):
        params = (data["tools"][err["loc"][1]] or {}).get("parameters") or []
        if loc[1] < len(params) and isinstance(params[loc[1]], dict) and params[loc[1]].get("name"):
            field += f" ({params[loc[1]]['name']})"
    msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
    parts = [p for p in (where, f"field {field}" if field else "") if p]
    return f"{' '.join(parts)}: {msg}" if parts else msg


def _check_implementation(tool: ToolDefinition, implementations: Mapping[str, Callable[..., Any]]) -> list[str]:
    fn = implementations.get(tool.id)
    if fn is None:
        return [f"tool {tool.id!r}: no built-in implementation with that id (the registry cannot add tools)"]
    try:
        params = list(inspect.signature(fn).parameters.values())[1:]  # the first one is the ClusterReader
    except (TypeError, ValueError):
        return []
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return []
    accepted = {p.name for p in params}
    needed = {p.name for p in params if p.default is inspect.Parameter.empty}
    declared = {p.name for p in tool.parameters}
    problems = []
    if declared - accepted:
        problems.append(f"tool {tool.id!r}: parameters {sorted(declared - accepted)} are not taken by the implementation")
    if needed - declared:
        problems.append(f"tool {tool.id!r}: the implementation needs parameters {sorted(needed - declared)}")
    return problems
