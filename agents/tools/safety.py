"""The SRS §5.9.3 command safety check as one pure function: may this tool call run?

Five layers, in the SRS's order; the first that fails decides, and the decision names it:

1. registered  - the tool id is in the registry (the whitelist).
2. read_only   - the tool is read-only - security alert.
3. parameters  - only declared parameters; each value within 10 KB, printable ASCII, and matching its
                 declared type, bounds and full-match pattern. A value that fails is a plain rejection
                 (a failed step the model can correct) unless it reads as an *attempt* (`judge_value`):
                 a write verb as a command's action (layer 2's destructive_operation), a privilege
                 escalation (sudo, su -, nsenter, --as, --token ...), or shell syntax that would run
                 something (`;` `|` `&&` `$(` backticks `${` redirections `../` NUL, bidi controls) -
                 a security alert. A valid value is data: a pod named `sudo` is a pod.
4. role        - the caller's role is in the tool's allowed_roles.
5. cluster     - the tool may run on the target cluster.

No I/O: the gateway does the auditing and alerting the decision asks for.
"""

from __future__ import annotations

import html
import re
import unicodedata
from enum import Enum
from typing import Any

from pydantic import BaseModel, Field

from agents.tools.registry import ToolDefinition, ToolRegistry

MAX_VALUE_BYTES = 10 * 1024  # no parameter value may be larger, whatever its declaration says
MAX_PARAMETERS = 32


class Layer(str, Enum):
    REGISTERED = "registered"
    READ_ONLY = "read_only"
    PARAMETERS = "parameters"
    ROLE = "role"
    CLUSTER = "cluster"


class SecurityEvent(str, Enum):
    """Rejections worth a security alert (SRS §5.8.5), not just an audit line."""
    DESTRUCTIVE_OPERATION = "destructive_operation"
    PRIVILEGE_ESCALATION = "privilege_escalation"
    INJECTION_ATTEMPT = "injection_attempt"
    UNAUTHORIZED_ACCESS = "unauthorized_access"


class Decision(BaseModel):
    allowed: bool
    layer: Layer | None = None  # the failing layer; None when allowed
    reason: str = ""
    security_event: SecurityEvent | None = None
    parameter: str = ""  # the offending parameter, when layer 3 or 2 names one
    parameters: dict[str, Any] = Field(default_factory=dict)  # validated values with defaults filled in
    tool: ToolDefinition | None = None

    @classmethod
    def reject(cls, layer: Layer, reason: str, *, event: SecurityEvent | None = None, parameter: str = "",
               tool: ToolDefinition | None = None) -> Decision:
        return cls(allowed=False, layer=layer, reason=reason, security_event=event, parameter=parameter, tool=tool)


# Verbs that change a cluster or a host, as kubectl/shell/SQL commands spell them. A request that uses
# one as a word of a command (or a tool whose id is built from one) is refused at layer 2.
WRITE_VERBS: frozenset[str] = frozenset({
    "delete", "del", "rm", "rmdir", "unlink", "destroy", "drop", "truncate", "patch", "apply", "create",
    "replace", "scale", "autoscale", "edit", "exec", "attach", "cp", "mv", "cordon", "uncordon", "drain",
    "taint", "label", "annotate", "set", "rollout", "restart", "kill", "pkill", "killall", "evict",
    "update", "upsert", "insert", "put", "post", "remove", "write", "chmod", "chown", "shutdown", "reboot",
    "halt", "poweroff", "mkfs", "dd", "format", "wipe", "purge", "expose", "run", "debug", "proxy",
    "portforward", "port-forward", "approve", "deny", "certificate", "uninstall", "install", "upgrade",
    "rollback", "reset", "flush", "alter", "grant", "revoke", "shred", "sh", "bash", "eval", "curl", "wget",
})
ESCALATION_WORDS: frozenset[str] = frozenset({
    "sudo", "su", "doas", "pkexec", "runuser", "nsenter", "chroot", "setuid", "setcap", "capsh", "unshare",
})
ESCALATION_FLAGS: tuple[str, ...] = (
    "--force", "-f", "--privileged", "--as", "--as-group", "--as-uid", "--grace-period", "--now",
    "--kubeconfig", "--token", "--insecure-skip-tls-verify", "--user", "--cascade",
)
_ESCALATION_FLAG_RE = re.compile(r"(?:^|[\s=,;|&])(" + "|".join(re.escape(f) for f in ESCALATION_FLAGS) + r")(?=$|[\s=,;|&])")
_WORD_RE = re.compile(r"[a-z0-9][a-z0-9-]*")
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
_INVISIBLE = frozenset("\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e")


def check_call(registry: ToolRegistry, tool_id: Any, parameters: Any, role: Any, cluster_id: Any) -> Decision:
    """Decide whether `tool_id(**parameters)` may run for `role` on `cluster_id` (SRS §5.9.3, in order).

    Parameters are validated before anyone is accused: a value that satisfies its declaration (a pod named
    `sudo`, `su` or `delete`) is data. A value that does not is a failed step with a clear message (the model
    gets it back and corrects itself), unless it reads as an attempt - a write verb as the action, exec, a
    privilege escalation, or injection syntax that a shell would run: only that is a security event.
    """
    # Layer 1: the whitelist.
    if not isinstance(tool_id, str) or tool_id not in registry:
        shown = tool_id if isinstance(tool_id, str) and len(tool_id) <= 80 else f"<{type(tool_id).__name__}>"
        event = SecurityEvent.DESTRUCTIVE_OPERATION if isinstance(tool_id, str) and _write_words(tool_id) else None
        return Decision.reject(Layer.REGISTERED, f"tool {shown!r} is not registered", event=event)
    tool = registry.get(tool_id)
    assert tool is not None

    # Layer 2: read-only - the tool itself (a value's write command is judged with the parameters below).
    verbs = _write_words(tool.id) | _write_words(tool.name.lower())
    if not tool.readonly or verbs:
        return Decision.reject(Layer.READ_ONLY, f"tool {tool.id!r} is not read-only ({', '.join(sorted(verbs)) or 'readonly: false'})",
                               event=SecurityEvent.DESTRUCTIVE_OPERATION, tool=tool)
    if not isinstance(parameters, dict):
        return Decision.reject(Layer.PARAMETERS, f"parameters must be an object, got {type(parameters).__name__}", tool=tool)

    # Layer 3 (and layer 2 for a write command in a value): parameters.
    decision = _check_parameters(tool, parameters)
    if decision is not None:
        return decision
    values = {p.name: parameters.get(p.name, p.default) for p in tool.parameters if p.name in parameters or not p.required}
    values = {k: _coerce(tool.parameter(k).type, v) for k, v in values.items()}  # type: ignore[union-attr]

    # Layer 4: role.
    if not isinstance(role, str) or role not in tool.allowed_roles:
        return Decision.reject(Layer.ROLE, f"role {_show(role)} may not call {tool.id} (allowed: {', '.join(tool.allowed_roles)})",
                               event=SecurityEvent.UNAUTHORIZED_ACCESS, tool=tool)

    # Layer 5: cluster.
    if not isinstance(cluster_id, str) or not cluster_id or not tool.allows_cluster(cluster_id):
        return Decision.reject(Layer.CLUSTER, f"tool {tool.id} may not run on cluster {_show(cluster_id)}", tool=tool)

    return Decision(allowed=True, parameters=values, tool=tool)


def _check_parameters(tool: ToolDefinition, parameters: dict[Any, Any]) -> Decision | None:
    def reject(name: str, reason: str) -> Decision:
        return Decision.reject(Layer.PARAMETERS, f"parameter {_show(name)}: {reason}", parameter=name, tool=tool)

    if len(parameters) > MAX_PARAMETERS:
        return Decision.reject(Layer.PARAMETERS, f"too many parameters ({len(parameters)})", tool=tool)
    for name in parameters:
        if not isinstance(name, str) or tool.parameter(name) is None:
            declared = ", ".join(p.name for p in tool.parameters) or "none"
            return Decision.reject(Layer.PARAMETERS, f"unexpected parameter {_show(name)} for {tool.id} (declared: {declared})",
                                   parameter=str(name)[:80], tool=tool)
    for p in tool.parameters:
        if p.name not in parameters:
            if p.required:
                return reject(p.name, "is required")
            continue
        value = parameters[p.name]
        problem = ""
        if isinstance(value, str):
            problem = _string_problem(value)
        if not problem:
            problem = p.problem(_coerce(p.type, value))
        if isinstance(value, str) and (problem or p.pattern is None):
            attempt = judge_value(value)  # only a value that is not a valid one is judged
            if attempt is not None:
                event, what = attempt
                layer = Layer.READ_ONLY if event is SecurityEvent.DESTRUCTIVE_OPERATION else Layer.PARAMETERS
                return Decision.reject(layer, f"parameter {_show(p.name)} {what}", event=event, parameter=p.name,
                                       tool=tool)
        if problem:
            return reject(p.name, problem)
    return None


def _string_problem(value: str) -> str:
    """Size and character set: what no Kubernetes name, selector or container name can contain."""
    if len(value.encode("utf-8", "surrogatepass")) > MAX_VALUE_BYTES:
        return f"value is larger than {MAX_VALUE_BYTES} bytes"
    for ch in value:
        if " " <= ch <= "~":
            continue
        if ch == "\x00":
            return "contains a NUL byte"
        if ch in "\r\n":
            return "contains a line break"
        if ch in _BIDI:
            return f"contains a bidirectional control character U+{ord(ch):04X}"
        if ch in _INVISIBLE:
            return f"contains an invisible character U+{ord(ch):04X}"
        if unicodedata.category(ch).startswith("C"):
            return f"contains a control character U+{ord(ch):04X}"
        folded = unicodedata.normalize("NFKC", ch)
        hint = f" (looks like {folded!r})" if folded != ch and folded.isascii() else ""
        return f"contains the non-ASCII character U+{ord(ch):04X}{hint}; Kubernetes names are ASCII"
    return ""


# Programs that take a command as their next word: `kubectl delete`, `sudo rm`, `xargs kill`.
LAUNCHERS: frozenset[str] = frozenset({
    "kubectl", "k", "oc", "helm", "docker", "podman", "crictl", "ctr", "nerdctl", "xargs", "env", "nohup",
    "time", "command", "builtin", "busybox", "psql", "mysql", "redis-cli", "etcdctl", "systemctl", "service",
})
# Where a new command starts in shell text (the value as a whole is the first one).
_COMMAND_BREAK = re.compile(r"\$\(|`|;|&&|\|\||\||\n|\r")
# Shell syntax that runs something: each is an attempt wherever it appears in a value that is not valid.
# Not here, because a model produces them by mistake and no shell could run them: `$VAR`/`<placeholder>`
# template spellings, a single `&` (a query string), backslashes, and `(` `)` in copied prose.
_INJECTION: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\$\("), "command substitution `$(`"), (re.compile(r"`"), "backtick command substitution"),
    (re.compile(r"\$\{"), "variable expansion `${`"), (re.compile(r";"), "command separator `;`"),
    (re.compile(r"&&"), "command chaining `&&`"), (re.compile(r"\|\|"), "command chaining `||`"),
    (re.compile(r"\|"), "pipe `|`"),
    (re.compile(r"(?:^|[\s\w])(?:\d?>>?|&>)\s*[/~&\w.-]|<\s*/"), "redirection"),
    (re.compile(r"(?:^|[/\\])\.\.(?:[/\\]|$)"), "path traversal `..`"),
    (re.compile(r"\x00"), "NUL byte"),
    (re.compile("[" + "".join(sorted(_BIDI)) + "]"), "bidirectional control character (trojan source)"),
)


def judge_value(value: str) -> tuple[SecurityEvent, str] | None:
    """Whether a (not otherwise valid) value is an attempt, and which: None for a plain mistake.

    Reads the value as shell text would be read: split into commands at `;`, `&&`, `||`, `|`, `$(`, backticks
    and line breaks; a command whose action (its first word, or the word after a launcher such as kubectl or
    xargs) is a write verb is a destructive operation, one that starts with sudo/su/nsenter... or carries an
    impersonation/force flag is an escalation; shell syntax that would run something is an injection. A
    description copied into a parameter ("Kubernetes namespace (DNS-1123 label).") is none of these.
    """
    # Judged as meant, not as encoded: a model that writes `&#34;` (an HTML entity) has not typed a `;`, and
    # `&#59; rm -rf /` is judged as the `; rm -rf /` it stands for.
    value = html.unescape(value)
    lowered = value.lower()
    commands = [c.split() for c in _COMMAND_BREAK.split(lowered)]
    writes: list[str] = []
    escalations: list[str] = []
    for words in commands:
        if not words:
            continue
        i = 0
        while i < len(words) - 1 and words[i] in LAUNCHERS:
            i += 1
        action = words[i].strip("'\"()")
        if action in ESCALATION_WORDS and (len(words) > 1 or len(commands) > 1):
            escalations.append(action)
        elif action in WRITE_VERBS and (i > 0 or len(commands) > 1 or _names_a_target(words[i + 1:])):
            writes.append(action)
    if writes:
        return SecurityEvent.DESTRUCTIVE_OPERATION, f"carries a write/destructive command ({', '.join(sorted(set(writes)))})"
    flags = sorted(set(_ESCALATION_FLAG_RE.findall(lowered))) if _looks_like_command(value) else []
    if escalations or flags:
        return (SecurityEvent.PRIVILEGE_ESCALATION,
                f"carries a privilege escalation attempt ({', '.join(sorted(set(escalations)) + flags)})")
    for pattern, what in _INJECTION:
        if pattern.search(value):
            return SecurityEvent.INJECTION_ATTEMPT, f"contains {what}"
    return None


# What follows a write verb when it is a command ("delete pod web", "drop table x") rather than prose
# ("set to the pod name", "delete the old pods"): a resource type, a flag, a path or a key=value.
_TARGET_WORDS: frozenset[str] = frozenset({
    "pod", "pods", "po", "deployment", "deployments", "deploy", "statefulset", "statefulsets", "sts", "daemonset",
    "daemonsets", "ds", "replicaset", "replicasets", "rs", "job", "jobs", "cronjob", "cronjobs", "cj", "service",
    "services", "svc", "node", "nodes", "no", "namespace", "namespaces", "ns", "secret", "secrets", "configmap",
    "configmaps", "cm", "pvc", "pv", "persistentvolumeclaim", "persistentvolume", "ingress", "ing", "hpa", "role",
    "rolebinding", "clusterrole", "clusterrolebinding", "sa", "serviceaccount", "crd", "all", "image", "env",
    "table", "database", "schema", "index", "user", "from", "into", "key", "keys", "container", "volume",
})


def _names_a_target(rest: list[str]) -> bool:
    if not rest:
        return False
    nxt = rest[0].strip("'\"")
    return nxt in _TARGET_WORDS or nxt.startswith(("-", "/", "~")) or "/" in nxt or "=" in nxt


def _looks_like_command(value: str) -> bool:
    """A value a Kubernetes name or selector could never be: whitespace or shell punctuation."""
    return any(ch.isspace() or ch in ";|&$`<>()'\"\\*?!#{}" for ch in value) or value.startswith("-")


def _write_words(text: str) -> set[str]:
    """Write verbs appearing as whole words (split on anything that is not a letter or digit)."""
    tokens = set(re.split(r"[^a-z0-9]+", text.lower()))
    return tokens & WRITE_VERBS


def _coerce(kind: str, value: Any) -> Any:
    """Forgive the JSON-ish spellings an LLM produces ("200", "true"); anything else stays as given."""
    if kind == "integer" and isinstance(value, str) and re.fullmatch(r"-?\d{1,9}", value):
        return int(value)
    if kind == "boolean" and isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return value


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
