"""The current stack, as kubectl's current context: where a running local stack's APIs are, a key for its user,
its Kafka and its data directories - so `aetherius tasks|kb|stats|costs|alert` work with no flags after `make demo`.

`aetherius demo` writes it when its roles are ready and removes it when it stops; a context whose writer is gone
(killed with -9) is ignored, and the command's error says so. The file holds an API key and the webhook token,
so it is created with mode 0600. Where it lives:

- `$AETHERIUS_CONTEXT` names the file (`AETHERIUS_CONTEXT=none` disables it), else
- `$XDG_CONFIG_HOME/aetherius/context.json` (default `~/.config/aetherius/context.json`).

Precedence for every command: a flag (`--api`, `--api-key`) > the environment (`AETHERIUS_API_KEY`) > this
context > the built-in default.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ENV_CONTEXT = "AETHERIUS_CONTEXT"
ENV_API_KEY = "AETHERIUS_API_KEY"
ROLES = ("worker", "sink", "webhook")


@dataclass(frozen=True)
class StackContext:
    name: str
    pid: int  # the process that owns the stack; the context is live while it runs
    apis: dict[str, str]  # role -> base URL (worker: tasks + knowledge base, sink: analytics, webhook: bridge)
    api_key: str = ""  # a key for the stack's user (the demo's: role admin)
    webhook_token: str = ""  # the bridge's bearer token, for posting Alertmanager payloads
    kafka_bootstrap: str = ""
    topic_prefix: str = ""
    data_dirs: dict[str, str] = field(default_factory=dict)  # knowledge, clickhouse, worker, logs
    console: str = ""  # the web console's URL once it exists; "" = not yet
    processes: dict[str, int] = field(default_factory=dict)  # what the stack started: name -> pid
    written_at: float = 0.0

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"


def context_path() -> Path | None:
    """The context file's path, or None when `AETHERIUS_CONTEXT=none`."""
    named = os.environ.get(ENV_CONTEXT, "").strip()
    if named.lower() == "none":
        return None
    if named:
        return Path(named).expanduser()
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "aetherius" / "context.json"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return True


def write_context(ctx: StackContext, path: Path | None = None) -> Path | None:
    """Write atomically with mode 0600 (it holds a key); returns the path, or None when contexts are disabled."""
    path = path or context_path()
    if path is None:
        return None
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=".context-", dir=path.parent)  # mkstemp creates the file 0600
    try:
        with os.fdopen(fd, "w") as f:
            f.write(ctx.to_json())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def remove_context(pid: int, path: Path | None = None) -> None:
    """Remove the context if `pid` wrote it (another stack may have written a newer one since)."""
    path = path or context_path()
    if path is None:
        return
    try:
        if json.loads(path.read_text()).get("pid") == pid:
            path.unlink()
    except (OSError, ValueError, AttributeError):
        pass


@dataclass(frozen=True)
class Lookup:
    """The live context, or None with a phrase saying why there is none (for error messages)."""

    context: StackContext | None
    why_none: str = ""


def load_context() -> Lookup:
    path = context_path()
    if path is None:
        return Lookup(None, f"{ENV_CONTEXT}=none")
    try:
        raw: Any = json.loads(path.read_text())
    except FileNotFoundError:
        return Lookup(None, f"no running stack: {path} does not exist (`make demo` writes it)")
    except (OSError, ValueError) as exc:
        return Lookup(None, f"{path} is unreadable ({exc})")
    try:
        ctx = StackContext(**{k: raw[k] for k in StackContext.__dataclass_fields__ if k in raw})
    except TypeError as exc:
        return Lookup(None, f"{path} is not a context ({exc})")
    if not isinstance(ctx.pid, int) or not _alive(ctx.pid):
        return Lookup(None, f"{path} names a stack whose process (pid {ctx.pid}) is gone")
    return Lookup(ctx)


@dataclass(frozen=True)
class Target:
    """Where one command sends its requests, and how it came to that choice (said in errors)."""

    url: str
    api_key: str | None
    source: str  # "--api", "the context in PATH", "the default (REASON)"

    def unreachable(self, what: str, exc: object) -> str:
        hint = ("start a stack with `make demo`, or point elsewhere with --api URL (key: --api-key or "
                f"{ENV_API_KEY}; another context file: {ENV_CONTEXT}=PATH)")
        return f"cannot reach the {what} at {self.url} ({self.source}): {exc}; {hint}"


def resolve(role: str, api: str | None, api_key: str | None, default_url: str | None) -> Target | None:
    """The URL and key for `role`'s API: flag > environment > live context > `default_url` (None: no default)."""
    key = api_key or os.environ.get(ENV_API_KEY) or None
    if api:
        return Target(api.rstrip("/"), key, "--api")
    found = load_context()
    if found.context is not None and found.context.apis.get(role):
        path = context_path()
        return Target(found.context.apis[role].rstrip("/"), key or found.context.api_key or None,
                      f"from the context in {path}")
    if default_url is None:
        return None
    return Target(default_url.rstrip("/"), key, f"the default; {found.why_none}")


def analytics_source_defaults(parser: Any) -> None:
    """Make `sinks.clickhouse.terminal.add_source_args`' --api default to the current context (then the built-in
    URL) instead of always the built-in URL: the parser's --api default becomes None, resolved by `apply_analytics`."""
    parser.set_defaults(api=None, api_key=None)
    for action in parser._actions:  # the help must say what the default now is
        if action.dest == "api":
            action.help = "analytics API of the sink process (default: the current context's sink, else " \
                          "http://127.0.0.1:8081)"
        elif action.dest == "api_key":
            action.help = f"API key for --api (default: ${ENV_API_KEY}, else the context's key)"


def apply_analytics(args: Any, default_url: str) -> Target | None:
    """Fill args.api / args.api_key from flag > env > context > default; None when a store was named instead."""
    if getattr(args, "chdb_path", None) or getattr(args, "clickhouse_url", None):
        return None
    target = resolve("sink", args.api, args.api_key, default_url)
    assert target is not None
    args.api, args.api_key = target.url, target.api_key
    return target


def fetch_error_message(target: Target | None, exc: BaseException) -> str:
    """A FetchError from sinks.clickhouse.terminal as the CLI's one line: unreachable -> where it tried and how to
    point elsewhere; 401 -> how to give a key; anything else as it is."""
    import urllib.error

    cause = exc.__cause__
    if target is not None and isinstance(cause, (urllib.error.URLError, OSError)) \
            and not isinstance(cause, urllib.error.HTTPError):
        return target.unreachable("analytics API", getattr(cause, "reason", cause))
    if target is not None and isinstance(cause, urllib.error.HTTPError) and cause.code == 401:
        return f"the analytics API at {target.url} answered 401: {exc} (pass --api-key or set {ENV_API_KEY})"
    return str(exc)
