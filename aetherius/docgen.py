"""Reference docs generated from the code, so they cannot drift: every setting (from the Settings model),
every CLI command (from the argparse tree) and every HTTP route (from the OpenAPI catalogue).

`aetherius docs` writes docs/reference/*.md; `aetherius docs --check` (and a test) fails when they differ.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, Iterator

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from aetherius.localkafka import REPO_ROOT

REFERENCE_DIR = REPO_ROOT / "docs" / "reference"


def _default(field: FieldInfo) -> str:
    if field.is_required():  # no default: the section needs it set (shown as such, not as PydanticUndefined)
        return "(required)"
    if field.default_factory is not None:
        try:
            value = field.default_factory()  # type: ignore[call-arg]
        except TypeError:
            return "(computed)"
    else:
        value = field.default
    if isinstance(value, BaseModel):
        return "(section)"
    if hasattr(value, "get_secret_value"):
        return "(secret)"
    text = json.dumps(value, default=str) if not isinstance(value, str) else value
    return text if len(text) <= 60 else text[:57] + "..."


def _type(annotation: Any) -> str:
    text = getattr(annotation, "__name__", None) or str(annotation)
    return text.replace("typing.", "").replace("pathlib.", "").replace("pydantic.types.", "")


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return None


def settings_rows(model: type[BaseModel], path: tuple[str, ...] = ()) -> Iterator[tuple[str, str, str, str]]:
    """(dotted key, env var, type, default) for every leaf setting."""
    for name, field in model.model_fields.items():
        keys = (*path, name)
        sub = _model_of(field.annotation)
        if sub is not None:
            container = getattr(field.annotation, "__origin__", None)
            if container in (list, dict):
                yield ".".join(keys), _env(keys), _type(field.annotation), _default(field)
                continue
            yield from settings_rows(sub, keys)
            continue
        yield ".".join(keys), _env(keys), _type(field.annotation), _default(field)


def _env(keys: tuple[str, ...]) -> str:
    return "AETHERIUS_" + "__".join(k.upper() for k in keys)


def render_config() -> str:
    from schemas.settings import Settings

    lines = ["# Configuration reference", "",
             "Generated from `schemas/settings.py` by `aetherius docs`; do not edit by hand.", "",
             "Precedence: defaults < the YAML file named by `AETHERIUS_CONFIG` < environment variables. Nested keys",
             "use `__` in env vars; lists and maps take JSON (`AETHERIUS_CLUSTERS='{\"prod\": {\"dump\": \"/d\"}}'`).",
             "`OPENAI_API_KEY` and `OPENAI_BASE_URL` are honoured for the LLM. `(required)`: no default; it must be",
             "set when its (optional) section is used.", "",
             "| key | env var | type | default |", "|---|---|---|---|"]
    for key, env, typ, default in settings_rows(Settings):
        lines.append(f"| `{key}` | `{env}` | {typ.replace('|', '&#124;')} | `{default.replace('|', '&#124;')}` |")
    return "\n".join(lines) + "\n"


def render_cli() -> str:
    from aetherius.cli import build_parser

    parser = build_parser()
    lines = ["# CLI reference", "", "Generated from the argparse tree by `aetherius docs`; do not edit by hand.", "",
             "Exit status: 0 on success, 2 with one line on stderr for bad input, 1 for a failure at run time.", ""]
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    helps = {a.dest: a.help for a in sub._choices_actions}
    for name, cmd in sorted(sub.choices.items()):
        lines += [f"## `aetherius {name}`", "", helps.get(name) or "", "", "```", cmd.format_usage().strip(), "```", ""]
        for action in cmd._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            flags = ", ".join(action.option_strings) or action.dest
            default = "" if action.default in (None, argparse.SUPPRESS, False) else f" (default: {action.default})"
            lines.append(f"- `{flags}`: {action.help or ''}{default}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def render_api() -> str:
    try:
        from aetherius.http.openapi import render_markdown
    except ImportError:  # pragma: no cover - until the catalogue exists
        return "# HTTP API reference\n\n(not generated yet)\n"
    return "# HTTP API reference\n\nGenerated from the route catalogue (aetherius/http/openapi.py); " \
           "each role serves its part as `/api/v1/openapi.json`.\n\n" + render_markdown()


def documents() -> dict[Path, str]:
    return {REFERENCE_DIR / "config.md": render_config(), REFERENCE_DIR / "cli.md": render_cli(),
            REFERENCE_DIR / "api.md": render_api()}


def stale() -> list[Path]:
    return [path for path, text in documents().items() if not path.exists() or path.read_text() != text]


def write() -> list[Path]:
    REFERENCE_DIR.mkdir(parents=True, exist_ok=True)
    changed = stale()
    for path, text in documents().items():
        if path in changed:
            path.write_text(text)
    return changed
