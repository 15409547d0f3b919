"""What the rule engine has seen so far: tool outputs keyed by the exact call that produced them.

The planner and the analyzer are pure functions of a `Target` and an `Observations`; the driver is the
only code that fills one. A call is identified by tool id + parameters (not the reason text), so a call
already made — or one that failed — is never planned again.
"""

from __future__ import annotations

import json
from typing import Any

from agents.tools.types import ToolCall


def call(tool_id: str, reason: str = "", **params: Any) -> ToolCall:
    """Build a ToolCall; the planner builds every call through here so identical calls have identical keys."""
    return ToolCall(tool_id=tool_id, parameters=params, reason=reason)


def call_key(tool_id: str, params: dict[str, Any]) -> str:
    return tool_id + json.dumps(params, sort_keys=True, separators=(",", ":"), default=str)


class Observations:
    def __init__(self) -> None:
        self._outputs: dict[str, dict[str, Any] | None] = {}
        self._errors: dict[str, str] = {}
        self._order: list[tuple[str, dict[str, Any]]] = []

    def record(self, call: ToolCall, output: dict[str, Any] | None, error: str = "") -> None:
        key = call_key(call.tool_id, call.parameters)
        if key not in self._outputs:
            self._order.append((call.tool_id, dict(call.parameters)))
        self._outputs[key] = output if not error else None
        if error:
            self._errors[key] = error

    def has(self, call: ToolCall) -> bool:
        return call_key(call.tool_id, call.parameters) in self._outputs

    def get(self, tool_id: str, **params: Any) -> dict[str, Any] | None:
        """The output of that exact call; None when it was not made or failed."""
        return self._outputs.get(call_key(tool_id, params))

    def outputs(self, tool_id: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """(parameters, output) of every successful call of `tool_id`, in the order they were made."""
        result = []
        for tid, params in self._order:
            out = self._outputs.get(call_key(tid, params))
            if tid == tool_id and out is not None:
                result.append((params, out))
        return result

    def errors(self) -> list[tuple[str, str]]:
        return list(self._errors.items())

    def __len__(self) -> int:
        return len(self._outputs)
