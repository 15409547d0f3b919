"""The one redaction module: every piece of text that leaves the system passes through here.

Used by the gateway (tool output), logging (every log line), and whoever writes LLM prompts,
reports, Slack messages and ClickHouse rows. Secrets become `[REDACTED:<kind>]`; everything an
operator needs as evidence (pod and node names, reasons, exit codes, hostnames, images, UIDs,
Secret *names* and *keys*) stays, because a redactor that eats evidence gets switched off.

Design:
- Every pattern is anchored on something a secret cannot avoid (a vendor prefix, a PEM armour line,
  a `user:password@` URL, a key called password/token/...), never on "looks random": entropy
  heuristics destroy image digests, UIDs and pod hashes.
- Speed: Python's `re` scans slowly for patterns that do not start with a literal (`\\b`, classes,
  IGNORECASE), ~0.2 s per pattern per 10 MB. So each rule names literal *triggers*; `str.find` (C
  speed) locates them, and the precompiled pattern is only `match`ed at the few positions where a
  secret could start relative to a trigger. Text without trigger words costs a few substring scans.
- Pure functions, no I/O; idempotent (redacting redacted text changes nothing).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

__all__ = ["redact_text", "redact_obj", "is_sensitive_key", "looks_secret", "marker"]


def marker(kind: str) -> str:
    return f"[REDACTED:{kind}]"


# --------------------------------------------------------------------------------------------
# Key names whose values are secrets: the ONE list, used by redact_obj for dict keys and env-var names
# and by the key=value text rules. A name is split into words (separators and camelCase), so
# `DB_PASS`, `dbPass`, `REDIS_PASSWORD`, `clientSecret`, `X-Api-Key`, `GITHUB_TOKEN_VALUE`,
# `aws_credentials`, `LICENSE_KEY` all count - but a name whose LAST word says it names or describes
# a secret (`secretName`, `secretKeyRef`, `DB_PASSWORD_FILE`, `tokenExpirationSeconds`, `TOKEN_TTL`)
# does not: those values are evidence (which Secret is missing, which file is mounted).
#
#   contains      *PASSW*  *SECRET*  *TOKEN*  *CREDENTIAL*  *CREDS*  *APIKEY*  *PRIVATEKEY*  *COOKIE*
#   word          *_PASS  *_PWD  *_PASSPHRASE  *_AUTH (exact `auth`)  *_DSN  *_SIG (exact `sig`)
#   last word     *_KEY   (but not PRIMARY_KEY, SORT_KEY, PARTITION_KEY, PUBLIC_KEY, ... nor `key` alone)
_SENSITIVE_SUFFIXES: tuple[str, ...] = (
    "password", "passwd", "pwd", "passphrase", "secret", "token", "apikey", "privatekey", "privatekeyid",
    "secretkey", "secretaccesskey", "accountkey", "sharedaccesskey", "clientkeydata", "authorization",
    "connectionstring", "credential", "credentials", "sessionkey", "signingkey", "encryptionkey",
    "masterkey", "accesskey", "cookie", "dockerconfigjson", "dockercfg",
)
_SENSITIVE_EXACT: frozenset[str] = frozenset({"auth", "pass", "sig", "xapikey", "dsn"})
_SENSITIVE_CONTAINS: tuple[str, ...] = ("passw", "secret", "token", "credential", "apikey", "privatekey", "cookie")
_SENSITIVE_WORDS: frozenset[str] = frozenset({"pass", "pwd", "passphrase", "creds", "dsn", "auth"})
# Names that contain a secret word but name or configure one instead (evidence for missing_config diagnoses).
_NOT_SENSITIVE: frozenset[str] = frozenset({
    "secretname", "secretref", "secretkeyref", "tokenexpirationseconds", "serviceaccounttoken",
    "automountserviceaccounttoken", "tokenrequests", "key", "keys", "monkey", "turkey", "tokenizer",
    "secretproviderclass", "secretstore", "clustersecretstore", "externalsecret", "sealedsecret",
})
# A last word that says the value names, locates or describes a secret rather than holding it.
_DESCRIBING_WORDS: frozenset[str] = frozenset({
    "name", "names", "ref", "refs", "file", "files", "path", "paths", "dir", "mount", "length", "len", "seconds",
    "ttl", "expiry", "expiration", "expires", "enabled", "required", "type", "policy", "mode", "count", "size",
    "version", "header", "field", "selector", "namespace", "kind", "rotation", "endpoint", "issuer", "audience",
    "algorithm", "format", "source", "provider", "store", "class", "template", "env", "var", "location", "lifetime",
    "tokens", "usage", "used", "limit", "budget",  # LLM token counts (prompt_tokens, token_usage, budget_tokens)
})
# `*_KEY` names that are not credentials.
_PLAIN_KEY_KINDS: frozenset[str] = frozenset({
    "primary", "foreign", "sort", "partition", "routing", "cache", "hash", "idempotency", "shard", "lookup",
    "public", "label", "annotation", "map", "dedup", "dedupe", "group", "row", "composite", "unique", "index",
    "cluster", "object", "s3", "bucket", "message", "record", "node", "topology", "match", "config", "feature",
})
_NORMALISE = str.maketrans("", "", "-_. ")
_WORDS = re.compile(r"[A-Z]{2,}(?=[A-Z][a-z]|[^A-Za-z]|$)|[A-Z]?[a-z]+|[A-Z]+|\d+")


def key_words(name: str) -> list[str]:
    """`DB_PASSWORD_FILE` -> [db, password, file]; `clientSecretName` -> [client, secret, name]."""
    return [w.lower() for w in _WORDS.findall(name)]


@lru_cache(maxsize=8192)
def is_sensitive_key(name: str) -> bool:
    """True when a value stored under `name` (dict key, env-var name, `key=` in text) must not be shown."""
    n = name.lower().translate(_NORMALISE)
    if n in _SENSITIVE_EXACT:
        return True
    if n in _NOT_SENSITIVE or not n:
        return False
    words = key_words(name)
    if words and words[-1] in _DESCRIBING_WORDS:
        return False
    if n.endswith(_SENSITIVE_SUFFIXES) or any(c in n for c in _SENSITIVE_CONTAINS):
        return True
    if any(w in _SENSITIVE_WORDS for w in words):
        return True
    return len(words) > 1 and words[-1] == "key" and words[-2] not in _PLAIN_KEY_KINDS


# --------------------------------------------------------------------------------------------
# The engine: a rule is a pattern tried only where one of its literal triggers occurs.

Starts = Callable[[str, int, int], Iterable[int]]  # (text, trigger position, trigger length) -> match starts


Trigger = str | re.Pattern[str]  # a literal for str.find, or a regex with a literal prefix (fast in `re`)


@dataclass(frozen=True)
class _Rule:
    kind: str
    pattern: re.Pattern[str]
    triggers: tuple[Trigger, ...]
    fold: bool  # triggers are lower-case and searched in the lower-cased text
    starts: Starts
    repl: Callable[[re.Match[str]], str]


def _at(*offsets: int) -> Starts:
    """The match starts `offset` characters before the trigger (0 = at the trigger)."""
    return lambda text, i, n: (i - o for o in offsets if i - o >= 0)


def _positions(hay: str, trigger: Trigger, cache: dict[Any, list[int]]) -> list[int]:
    """Where `trigger` occurs in `hay`; cached because several rules share a trigger."""
    hit = cache.get(trigger)
    if hit is None:
        if isinstance(trigger, str):
            hit = list(_find_all(hay, trigger))
        else:
            hit = [m.start() for m in trigger.finditer(hay)]
        cache[trigger] = hit
    return hit


def _find_all(text: str, needle: str) -> Iterable[int]:
    i = text.find(needle)
    while i != -1:
        yield i
        i = text.find(needle, i + 1)


def _scan(rule: _Rule, text: str, hay: str, cache: dict[Any, list[int]] | None = None) -> str:
    """`rule.pattern.sub(rule.repl, text)`, but only trying matches near the rule's triggers."""
    cache = {} if cache is None else cache
    positions: set[int] = set()
    for trig in rule.triggers:
        positions.update(_positions(hay, trig, cache))
    if not positions:
        return text
    out: list[str] = []
    last = 0
    for i in sorted(positions):
        if i < last:
            continue
        for p in sorted(set(rule.starts(text, i, len(hay)))):
            if p < last:
                continue
            m = rule.pattern.match(text, p)
            if m is None or m.end() == m.start():
                continue
            replacement = rule.repl(m)
            if replacement != m.group(0):
                out.append(text[last:m.start()])
                out.append(replacement)
                last = m.end()
            break
    if not out:
        return text
    out.append(text[last:])
    return "".join(out)


_RULES: list[_Rule] = []


def _rule(kind: str, pattern: str, triggers: tuple[str, ...], *, fold: bool = False, starts: Starts = _at(0),
          repl: Callable[[re.Match[str]], str] | None = None) -> None:
    """Register a rule; by default the whole match becomes the marker, else `repl` decides.

    `fold=True` makes the pattern case-insensitive and its triggers match in any case.
    """
    _RULES.append(_Rule(kind, re.compile(pattern, re.IGNORECASE if fold else 0),
                        tuple(t.lower() if fold and isinstance(t, str) else t for t in triggers), fold, starts,
                        repl or (lambda m, k=kind: marker(k))))


def _keep_prefix(kind: str, group: int = 1) -> Callable[[re.Match[str]], str]:
    """Keep group `group` (the key, header name, scheme...) and replace the rest of the match."""
    return lambda m: m.group(group) + marker(kind)


_WORD_START = r"(?<![A-Za-z0-9_])"  # a \b that only looks backwards (the trigger sits at the start)

# Order matters: whole-block rules (PEM) first, then vendor tokens, then generic key=value rules.
# PEM private keys (RSA/EC/OPENSSH/ENCRYPTED/plain PKCS#8), also with JSON-escaped newlines;
# an armour without its END line (cut-off output) is redacted to the end of the base64 run.
_rule("private_key",
      r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
      r"(?:[\s\S]*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
      r"|(?:[A-Za-z-]+: [^\n\\]*(?:\r?\n|(?:\\+r)?\\+n))*(?:[A-Za-z0-9+/=]*(?:\r?\n|(?:\\+r)?\\+n))*[A-Za-z0-9+/=]*)",
      ("-----BEGIN ",))
# JWTs (also inside Authorization headers, kubeconfigs, service-account tokens).
_rule("jwt", r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*", ("eyJ",))
# Authorization / Proxy-Authorization headers: keep the header and scheme, drop the credentials.
_rule("authorization",
      r"(authorization[\"']?\s*[:=]\s*[\"']?(?:bearer|basic|token|digest|negotiate|ntlm|apikey|aws4-hmac-sha256|sharedkey)?\s*)"
      r"(?!\[REDACTED|(?:bearer|basic|token|digest|negotiate|ntlm)\b)[^\s\"',;\\]{4,}(?:[ \t]*,[ \t]*[A-Za-z]+=[^\s\"',\\]+)*",
      ("authorization",), fold=True, repl=_keep_prefix("authorization"))
# Bare bearer tokens elsewhere (curl -H lines are caught above; this is for prose and logs).
_rule("bearer_token", _WORD_START + r"(bearer\s+)(?!\[REDACTED)[A-Za-z0-9._~+/-]{16,}=*", ("bearer",), fold=True,
      repl=_keep_prefix("bearer_token"))


def _basic_repl(m: re.Match[str]) -> str:
    """`Basic <b64>` only when the base64 decodes to `user:password` - "Basic authentication" stays."""
    try:
        decoded = base64.b64decode(m.group(2) + "=" * (-len(m.group(2)) % 4), validate=True)
    except (binascii.Error, ValueError):
        return m.group(0)
    return m.group(1) + marker("basic_auth") if b":" in decoded else m.group(0)


_rule("basic_auth", _WORD_START + r"(basic\s+)([A-Za-z0-9+/]{8,}={0,2})", ("basic",), fold=True, repl=_basic_repl)
# Cloud and vendor credentials with unmistakable shapes.
_AWS_PREFIXES = ("AKIA", "ASIA", "ABIA", "ACCA", "AGPA", "AIDA", "AIPA", "ANPA", "ANVA", "AROA", "APKA", "ASCA")
_rule("aws_access_key", _WORD_START + r"(?:" + "|".join(_AWS_PREFIXES) + r")[A-Z0-9]{16}(?![A-Za-z0-9])",
      (re.compile("A(?:" + "|".join(p[1:] for p in _AWS_PREFIXES) + ")"),))
_rule("aws_secret_key",
      r"(secret[_.-]?(?:access[_.-]?)?key[\"']?\s*[:=]\s*[\"']?)[A-Za-z0-9/+=]{40}(?![A-Za-z0-9/+=])",
      ("secret",), fold=True, repl=_keep_prefix("aws_secret_key"))
_rule("gcp_api_key", _WORD_START + r"AIza[0-9A-Za-z_-]{35}(?![A-Za-z0-9_-])", ("AIza",))
_rule("azure_key",
      r"((?:AccountKey|SharedAccessKey|SharedAccessSignature|SharedSecretValue)\s*=\s*)(?!\[REDACTED)[^;\"'\s\\]+",
      ("accountkey", re.compile(r"shared(?:access|secret)")), fold=True,
      repl=_keep_prefix("azure_key"))
_rule("azure_sas", r"(?<=[?&])(sig=)(?!\[REDACTED)[A-Za-z0-9%+/=_-]{10,}", ("sig=",), repl=_keep_prefix("azure_sas"))
_rule("github_token", _WORD_START + r"(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{22,})(?![A-Za-z0-9_])",
      (re.compile(r"g(?:h[pousr]_|ithub_pat_)"),))
_rule("gitlab_token", _WORD_START + r"gl[a-z]+-[A-Za-z0-9_-]{20,}",
      (re.compile(r"gl(?:pat|dt|rt|ptt|ft|imt|agent|oas|cbt|soat|ffct)-"),))
_rule("slack_token", _WORD_START + r"(?:xox[abposrec]-[A-Za-z0-9-]{10,}|xapp-\d-[A-Za-z0-9-]{10,})",
      (re.compile(r"x(?:ox|app-)"),))
_rule("slack_webhook", r"(hooks\.slack\.com/(?:services|workflows|triggers)/)[A-Za-z0-9_/-]+",
      ("hooks.slack.com/",), repl=_keep_prefix("slack_webhook"))
_rule("vault_token", _WORD_START + r"hv[sbr]\.[A-Za-z0-9_-]{20,}", (re.compile(r"hv[sbr]\."),))
_rule("openai_key", _WORD_START + r"sk-(?:proj-|svcacct-|admin-|ant-)?[A-Za-z0-9_-]{32,}", ("sk-",))
_rule("stripe_key", _WORD_START + r"[rs]k_(?:live|test)_[A-Za-z0-9]{16,}", (re.compile(r"k_(?:live|test)_"),),
      starts=_at(1))
# URLs and DSNs with a password: keep scheme, user and host (evidence), drop the password.
_rule("url_password", r"(://[^:/?#@\s\"'<>\\]*:)(?!\[REDACTED)[^@/\s\"'<>\\]+(?=@)", ("://",),
      repl=_keep_prefix("url_password"))
# Kubeconfig private keys (YAML `client-key-data: <b64>`); `token:` is left to the key=value rules.
_rule("kubeconfig_key", r"(client-key-data\s*:\s*[\"']?)(?!\[REDACTED)[A-Za-z0-9+/=]{16,}",
      ("client-key-data",), repl=_keep_prefix("kubeconfig_key"))

# Vendor token shapes maintained by Yelp's detect-secrets (its plugins' `denylist` patterns, not its
# line scanner: that one costs ~10 s per MB and its entropy plugins flag image digests, UIDs and every
# plain word - measured, see docs/security.md). Only patterns with a literal anchor are taken (so they
# run at C speed behind a trigger), wrapped in word guards so they never cut into a longer name.
# The ones the rules above already cover more broadly (AWS, GitHub, Slack, Stripe, JWT, OpenAI, Azure,
# private keys, basic auth) stay ours; high-entropy, keyword and public-IP plugins are not used.
_LIB_DELIMITED_START, _LIB_DELIMITED_END = r'(?:\s|=|:|"|^)', r'(?:\s|"|$)'


def _library_rule(kind: str, detector: type, triggers: tuple[Trigger, ...], *, starts: Starts = _at(0),
                  only: str = "") -> None:
    for pattern in detector.denylist:
        if only and only not in pattern.pattern:
            continue
        core = pattern.pattern.removeprefix(_LIB_DELIMITED_START).removesuffix(_LIB_DELIMITED_END)  # our guards instead
        tail = "" if core.endswith("(?!\\w)") else r"(?![A-Za-z0-9])"
        _RULES.append(_Rule(kind, re.compile(_WORD_START + "(?:" + core + ")" + tail, pattern.flags),
                            triggers, False, starts, lambda m, k=kind: marker(k)))


def _register_library_rules() -> None:
    from detect_secrets.plugins.artifactory import ArtifactoryDetector
    from detect_secrets.plugins.gitlab_token import GitLabTokenDetector
    from detect_secrets.plugins.mailchimp import MailchimpDetector
    from detect_secrets.plugins.pypi_token import PypiTokenDetector
    from detect_secrets.plugins.sendgrid import SendGridDetector
    from detect_secrets.plugins.square_oauth import SquareOAuthDetector
    from detect_secrets.plugins.twilio import TwilioKeyDetector

    _library_rule("sendgrid_key", SendGridDetector, ("SG.",))
    _library_rule("square_oauth_secret", SquareOAuthDetector, ("sq0csp-",))
    _library_rule("pypi_token", PypiTokenDetector, ("pypi-",))
    _library_rule("twilio_key", TwilioKeyDetector, ("AC", "SK"))
    _library_rule("mailchimp_key", MailchimpDetector, ("-us",), starts=_at(32))
    _library_rule("artifactory_token", ArtifactoryDetector, ("AKC",), only="AKC")
    _library_rule("gitlab_token", GitLabTokenDetector,
                  (re.compile(r"gl(?:pat|dt|rt|ft|soat|cbt|imt|ptt|agent|oas)-"), "GR1348941"))


_register_library_rules()

# JSON text may be nested (a last-applied-configuration annotation inside a JSON document inside a
# log line), so a quote is any run of escaping backslashes plus `"`; values stop at the first such
# quote, which keeps the surrounding escaping intact when a value is replaced.
_Q = r'\\*"'
_VAL = r'((?:[^"\\]|\\+[^"\\])*)'


def _before_quote(back: int = 8) -> Starts:
    """Starts at the escaping backslashes and quote right before the trigger."""
    def starts(text: str, i: int, n: int) -> Iterable[int]:
        p = i - 1
        if p < 0 or text[p] != '"':
            return ()
        while p > 0 and i - p < back and text[p - 1] == "\\":
            p -= 1
        return (p,)
    return starts


# Pod spec env as JSON text: {"name": "DB_PASSWORD", "value": "hunter2"} (either order).
_ENV_NAME = _Q + r"name" + _Q + r"\s*:\s*" + _Q + r'([^"\\]{1,200})' + _Q
_ENV_VALUE = _Q + r"value" + _Q + r"\s*:\s*" + _Q + _VAL + _Q


def _env_repl(name_group: int, value_group: int) -> Callable[[re.Match[str]], str]:
    def repl(m: re.Match[str]) -> str:
        if not is_sensitive_key(m.group(name_group)) or m.group(value_group).startswith("[REDACTED"):
            return m.group(0)
        start, end = m.start(value_group) - m.start(0), m.end(value_group) - m.start(0)
        return m.group(0)[:start] + marker("env_secret") + m.group(0)[end:]
    return repl


def _name_before(text: str, i: int, n: int) -> Iterable[int]:
    """For name-first env entries the match starts at the `"name"` just before `"value"`."""
    j = text.rfind("name", max(0, i - 260), i)
    return _before_quote()(text, j, n) if j > 0 else ()


_rule("env_secret", _ENV_NAME + r"\s*,\s*" + _ENV_VALUE, ("value",), starts=_name_before, repl=_env_repl(1, 2))
_rule("env_secret", _ENV_VALUE + r"\s*,\s*" + _ENV_NAME, ("value",), starts=_before_quote(), repl=_env_repl(2, 1))

# Kubernetes Secret data in JSON text: a flat "data"/"stringData" object. When the text says it is a
# Secret (or holds a last-applied-configuration of one), every value goes; otherwise only values that
# are long base64 blobs (so a ConfigMap's `"replicas": "3"` survives).
_DATA_BLOCK = re.compile(r'(?<=")(?:data|stringData|binaryData)' + _Q + r"\s*:\s*\{([^{}]*)\}")
_DATA_ENTRY = re.compile(r"(" + _Q + r'[^"\\]*' + _Q + r"\s*:\s*" + _Q + r")" + _VAL + r'(?=\\*")')
_B64_BLOB = re.compile(r"[A-Za-z0-9+/]{16,}={0,2}|[A-Za-z0-9+/]{4,}={1,2}")
_IS_SECRET = re.compile(r"kind" + _Q + r"\s*:\s*" + _Q + r"Secret" + _Q)


def _redact_secret_data(text: str) -> str:
    whole_secret = any(_IS_SECRET.match(text, i) for i in _find_all(text, "kind"))

    def entry(m: re.Match[str]) -> str:
        value = m.group(2)
        if value and not value.startswith("[REDACTED") and (whole_secret or _B64_BLOB.fullmatch(value)):
            return m.group(1) + marker("secret_data")
        return m.group(0)

    def block(b: re.Match[str]) -> str:
        inner_start, inner_end = b.start(1) - b.start(0), b.end(1) - b.start(0)
        whole = b.group(0)
        return whole[:inner_start] + _DATA_ENTRY.sub(entry, b.group(1)) + whole[inner_end:]

    rule = _Rule("secret_data", _DATA_BLOCK, ("data", "Data"), False,
                 lambda text, i, n: (i, i - 6), block)  # "data" at i; "string"/"binary" are 6 long
    return _scan(rule, text, text)


# Generic key=value / key: value / "key": "value" for keys named like secrets. Run last, so vendor
# rules get to name their kind first. The key is found by walking back from the trigger word.
# Any key holding one of the trigger words; `is_sensitive_key` (the one list) decides whether it is a secret.
_KEY_WORDS = r"[A-Za-z0-9_.-]*(?:pass|pwd|secret|token|key|cred|auth|dsn|cookie)[A-Za-z0-9_.-]{0,60}"
_JSON_KV = re.compile(r"(" + _Q + r"(" + _KEY_WORDS + r")" + _Q + r"\s*:\s*" + _Q + r")((?:[^\"\\]|\\+[^\"\\])+)(?=\\*\")",
                      re.IGNORECASE)
# The key starts a word (or follows a JSON-escaped \n); the value stops at quotes, separators and
# JSON escapes, so a redacted value never swallows the backslash of an escaped closing quote.
_TEXT_KV = re.compile(r"(?:(?<![A-Za-z0-9_./\"\\-])|(?<=\\[nrt])|(?<=\")(?=" + _KEY_WORDS + r"(?:=|:[ \t])))((" + _KEY_WORDS + r")\\?[\"']?[ \t]*(?:=|:(?!//))"
                      r"[ \t]*\\?[\"']?)((?:[^\s\"',;&}\]\\]|\\(?![\"'\\nrt]))+)", re.IGNORECASE)
_KV_TRIGGERS = ("pass", "pwd", "secret", "token", "key", "cred", "auth", "dsn", "cookie")
_KEY_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")
_HARMLESS_VALUES = frozenset({"true", "false", "null", "none", "nil", "", "-", "{", "[", "\\"})


def _key_start(text: str, i: int) -> int:
    """Walk back from a trigger word to the first character of the key it is part of (<= 100 chars)."""
    p = i
    while p > 0 and i - p < 100 and text[p - 1] in _KEY_CHARS:
        p -= 1
    return p


def _json_key_starts(text: str, i: int, n: int) -> Iterable[int]:
    return _before_quote()(text, _key_start(text, i), n)


def _text_key_starts(text: str, i: int, n: int) -> Iterable[int]:
    p = _key_start(text, i)
    if p >= 2 and text[p - 1] == "\\" and text[p] in "nrt":  # `\npassword: x` inside JSON-escaped text
        return (p, p + 1)
    return (p,)


def _kv_repl(m: re.Match[str]) -> str:
    value = m.group(3)
    if (not is_sensitive_key(m.group(2)) or value.startswith(("[REDACTED", "<"))  # "<set to the key 'x' in secret 'y'>"
            or value.lower() in _HARMLESS_VALUES):
        return m.group(0)
    if _in_prose(m) and not looks_secret(value):
        return m.group(0)  # "registry credentials: kubectl -n shop get pod api-0" is a sentence, not a setting
    if _host_and_port(m):
        return m.group(0)  # "http://auth-service:8080/v1/token", "dial tcp keycloak:8443": a host, not a setting
    return m.group(1) + marker(_kv_kind(m.group(2)))


_HOST = re.compile(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?")  # DNS names are lower case, without `_`: unlike setting keys
_PORT = re.compile(r"\d{1,5}(?![\w.-])")


def _host_and_port(m: re.Match[str]) -> bool:
    """`name:1234` where the name is a DNS name (lower case, no `_`) and the value starts with a port number."""
    sep = m.group(1)[len(m.group(2)):]
    return sep == ":" and _HOST.fullmatch(m.group(2)) is not None and _PORT.match(m.group(3)) is not None


_PROSE_BEFORE = re.compile(r"[A-Za-z0-9)][ \t]+$")
_PROSE_AFTER = re.compile(r"[ \t]+[A-Za-z]")


def _in_prose(m: re.Match[str]) -> bool:
    """`key: value` in the middle of a sentence (a word, then the key, then `: `), not a setting: a setting is
    `key=value`, or `key: value` at the start of a line (YAML, headers) or after punctuation (`; pwd: x`)."""
    sep = m.group(1)[len(m.group(2)):]
    if "=" in sep or '"' in sep or "'" in sep:
        return False
    line_start = m.string.rfind("\n", max(0, m.start() - 200), m.start()) + 1
    if _PROSE_BEFORE.search(m.string, max(line_start, m.start() - 200), m.start()) is not None:
        return True
    return _PROSE_AFTER.match(m.string, m.end()) is not None  # "credentials: see the runbook"


_COMMAND_WORDS = frozenset({"kubectl", "helm", "oc", "docker", "curl", "run", "use", "see", "check", "ask", "contact",
                            "rotate", "expired", "invalid", "missing", "required", "rejected", "denied", "unknown"})


def looks_secret(value: str) -> bool:
    """A value in prose that reads like a credential rather than a word: 6+ characters with a digit, mixed
    case or a symbol (hunter2, Tr0ub4dor&3, xK9pQ2mZ). Words, commands and placeholders stay."""
    v = value.strip("\"'.,;:()[]{}")
    if len(v) < 6 or v.lower() in _COMMAND_WORDS or v.startswith(("[REDACTED", "<", "$")):
        return False
    return (any(c.isdigit() for c in v) or (any(c.isupper() for c in v) and any(c.islower() for c in v[1:]))
            or any(c in "!@#$%^*+/=~_?&" for c in v))


# Secrets told in prose: "the redis password is hunter2", "password for admin was Xy9!pq", "token: ..." is
# the key=value rule's. Only a value that looks like a credential (or is quoted) goes: "the password is
# incorrect" and "the token expired" stay as they are.
_PROSE = re.compile(
    r"((?:password|passwd|passphrase|pwd|secret|token|api[ _-]?key|credentials?)"
    r"(?:\s+(?:for|of)\s+[\w.@:/-]{1,80})?\s+(?:is|was|=|set\s+to|became|becomes|changed\s+to|reset\s+to)"
    r"\s+(?:now\s+|still\s+)?)(?:([\"'\u201c])([^\"'\u201d\n]{1,200})(?=[\"'\u201d])|([^\s\"'\u201d,;<>]{4,200}))",
    re.IGNORECASE)


def _prose_repl(m: re.Match[str]) -> str:
    quote, raw = (m.group(2), m.group(3)) if m.group(2) else ("", m.group(4))
    value = raw if quote else raw.rstrip(".")
    if value.startswith("[REDACTED") or not (quote or looks_secret(value)):
        return m.group(0)
    return m.group(1) + quote + marker("secret_in_prose") + raw[len(value):]


def _kv_kind(key: str) -> str:
    n = key.lower().translate(_NORMALISE)
    for word, kind in (("pass", "password"), ("pwd", "password"), ("token", "token"), ("apikey", "api_key")):
        if word in n:
            return kind
    return "secret"


_KV_RULES = (
    _Rule("json_kv", _JSON_KV, _KV_TRIGGERS, True, _json_key_starts, _kv_repl),
    _Rule("text_kv", _TEXT_KV, _KV_TRIGGERS, True, _text_key_starts, _kv_repl),
    _Rule("secret_in_prose", _PROSE, ("pass", "pwd", "secret", "token", "key", "credential"), True,
          lambda text, i, n: (i, i - 4), _prose_repl),
)


def redact_text(text: str) -> str:
    """`text` with every recognised secret replaced by `[REDACTED:<kind>]`; evidence untouched."""
    if not text:
        return text
    if not isinstance(text, str):  # be forgiving at the boundary: logs pass whatever they get
        text = str(text)
    if len(text) < _SHORT:
        return _redact_short(text)
    return _redact_long(text)


@lru_cache(maxsize=65536)
def _redact_short(text: str) -> str:
    """Short strings repeat a lot (names, reasons, images in object dumps): cached, pure."""
    if _GATE.search(text.lower()) is None:
        return text
    return _redact_long(text)


def _redact_long(text: str) -> str:
    text = _apply(_RULES, text)
    text = _redact_secret_data(text)
    return _apply(_KV_RULES, text)


def _apply(rules: Iterable[_Rule], text: str) -> str:
    lowered: str | None = None
    caches: tuple[dict[Any, list[int]], dict[Any, list[int]]] = ({}, {})  # trigger positions in text, lowered
    for rule in rules:
        if rule.fold:
            if lowered is None:
                lowered = _fold(text)
            hay, cache = lowered, caches[1]
        else:
            hay, cache = text, caches[0]
        new = _scan(rule, text, hay, cache)
        if new is not text:
            text, lowered = new, None
            caches = ({}, {})
    return text


# Every trigger of every rule, lower-cased, in one pattern run over the lower-cased text: a necessary
# condition for any redaction. Slow on megabytes (no literal prefix), cheap on short strings (~2 us;
# with re.IGNORECASE it would be ~18 us), which is what redact_obj feeds in by the hundred thousand.
_SHORT = 4096
_GATE = re.compile("|".join(
    (t.pattern if isinstance(t, re.Pattern) else re.escape(t)).lower()
    for rule in (*_RULES, *_KV_RULES) for t in rule.triggers
) + "|data")


def _fold(text: str) -> str:
    """Lower-case with positions preserved (a few Unicode letters change length when lowered:
    those are replaced by a neutral character, which no trigger contains)."""
    low = text.lower()
    if len(low) == len(text):
        return low
    return "".join(c if len(c) == 1 else "\x00" for c in (ch.lower() for ch in text))


# --------------------------------------------------------------------------------------------
# Structured redaction: JSON-like objects from tools, reports and records.

def redact_obj(obj: Any) -> Any:
    """A deep copy of `obj` (dicts, lists, tuples, scalars) with secrets redacted.

    Beyond `redact_text` on every string: values under secret-named keys, env entries
    `{"name": "DB_PASSWORD", "value": ...}`, and the `data`/`stringData` values of a
    `kind: Secret` object (keys kept, so "key X missing" stays diagnosable).
    """
    return _walk(obj)


def _walk(obj: Any) -> Any:
    if isinstance(obj, str):
        return redact_text(obj)
    if isinstance(obj, dict):
        is_secret = obj.get("kind") == "Secret"
        env_name = obj.get("name") if isinstance(obj.get("name"), str) and "value" in obj else None
        out: dict[Any, Any] = {}
        for key, value in obj.items():
            skey = key if isinstance(key, str) else str(key)
            if is_secret and skey in ("data", "stringData", "binaryData") and isinstance(value, dict):
                out[key] = {k: marker("secret_data") for k in value}
            elif skey == "value" and env_name is not None and is_sensitive_key(env_name) and _scalar(value):
                out[key] = marker("env_secret")
            elif is_sensitive_key(skey) and _scalar(value) and not isinstance(value, bool) and value is not None:
                out[key] = marker(_kv_kind(skey))
            else:
                out[key] = _walk(value)
        return out
    if isinstance(obj, list):
        return [_walk(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_walk(v) for v in obj)
    return obj


def _scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float, bytes)) and not (isinstance(value, str) and value.startswith("[REDACTED"))
