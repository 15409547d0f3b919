"""The CLI's one HTTP client for the roles' APIs: JSON in and out, errors as one `CliError` line that names the
URL it tried and how to point elsewhere (aetherius.context.Target)."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from aetherius.context import ENV_API_KEY, Target


def call(target: Target, method: str, path: str, *, what: str, body: Any = None,  # noqa: ANN401
         query: dict[str, Any] | None = None, headers: dict[str, str] | None = None, timeout: float = 30.0) -> Any:
    from aetherius.cli import CliError

    query = {k: v for k, v in (query or {}).items() if v not in (None, "")}
    url = f"{target.url}{path}" + (f"?{urllib.parse.urlencode(query)}" if query else "")
    hdrs = {"Content-Type": "application/json", **({"X-API-Key": target.api_key} if target.api_key else {}),
            **(headers or {})}
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            raw = resp.read()
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            answer = json.loads(raw)
            detail = (answer.get("reason") or answer.get("message") or answer.get("error") or answer
                      if isinstance(answer, dict) else answer)
        except ValueError:
            detail = raw[:200].decode(errors="replace")
        hint = ""
        if exc.code == 401:
            hint = f" (no valid key: pass --api-key or set {ENV_API_KEY}; the key came {target.source})" \
                if target.api_key else f" (no key: pass --api-key or set {ENV_API_KEY})"
        raise CliError(f"{what} at {target.url} answered {exc.code}: {detail}{hint}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise CliError(target.unreachable(what, reason)) from None
    try:
        return json.loads(raw or b"null")
    except ValueError:
        raise CliError(f"{what} at {target.url} answered something that is not JSON: {raw[:200]!r}") from None
