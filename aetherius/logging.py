"""The one logging set-up: JSON lines on stderr, with task_id/cluster_id when a record carries them.

Use `log = logging.getLogger(__name__)` and pass context as `extra={"task_id": ..., "cluster_id": ...}`.
Text passes through the redaction module before it is written, so a secret in a message never reaches a log.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone

CONTEXT_FIELDS = ("task_id", "cluster_id", "fingerprint", "topic", "stage", "priority")

_redact = None


def _redactor():  # imported lazily: the redaction module sits in agents/ and must not be a start-up cost
    global _redact
    if _redact is None:
        try:
            from agents.redaction import redact_text
            _redact = redact_text
        except ImportError:  # pragma: no cover - only before the module exists
            _redact = lambda s: s  # noqa: E731
    return _redact


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": _redactor()(record.getMessage()),
        }
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                out[name] = value
        if record.exc_info:
            out["exc"] = _redactor()(self.formatException(record.exc_info))
        return json.dumps(out, default=str)


def setup_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLines())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiokafka", "faust", "mode", "kafka"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
