"""The one logging set-up: JSON lines on stderr, with task_id/cluster_id when a record carries them.

Use `log = logging.getLogger(__name__)` and pass context as `extra={"task_id": ..., "cluster_id": ...}`.
Text passes through the redaction module before it is written, so a secret in a message never reaches a log.

Logs stay bounded while a dependency is down (issue 13: a 4.7-minute broker outage made one worker write 1.38 M
lines, 209 MB, nearly all aiokafka's "Unable connect to node" / "Unable to update metadata" once per retry):
- `Repeats`: a message (same logger, level, text with its numbers masked, and context) is written the first
  time; its repeats are counted, and one summary line per `SUMMARY_SECONDS` says how many there were. When it
  stops repeating, one line says so - one line per state change, not one per retry.
- `StartupRetries`: what a healthy start always logs while the broker elects its coordinators
  (GroupCoordinatorNotAvailable, NotLeaderForPartition, ...) is info, not error, for the first
  `STARTUP_GRACE_SECONDS`; later it keeps its level (and is still collapsed by `Repeats`).
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timezone

CONTEXT_FIELDS = ("task_id", "cluster_id", "fingerprint", "topic", "stage", "priority")
SUMMARY_SECONDS = 60.0
STARTUP_GRACE_SECONDS = 60.0
MAX_KEYS = 2000
_NUMBERS = re.compile(r"\d+")
# Retriable errors a broker answers with while it starts, elects a leader or coordinator, or moves one.
STARTUP_RETRIES = re.compile(
    r"GroupCoordinatorNotAvailable|NotCoordinatorForGroup|CoordinatorLoadInProgress|NotLeaderForPartition|"
    r"LeaderNotAvailable|UnknownTopicOrPartition|Unable connect to node|Unable to update metadata|"
    r"RebalanceInProgress|Heartbeat failed")

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


class StartupRetries(logging.Filter):
    """Known start-up retries logged as info during the first seconds of the process (see the module docstring)."""

    def __init__(self, grace_seconds: float = STARTUP_GRACE_SECONDS, clock=time.monotonic) -> None:  # noqa: ANN001
        super().__init__()
        self.clock = clock
        self.until = clock() + grace_seconds

    def filter(self, record: logging.LogRecord) -> bool:
        if (record.levelno > logging.INFO and self.clock() < self.until
                and STARTUP_RETRIES.search(_text(record))):
            record.levelno, record.levelname = logging.INFO, "INFO"
            return logging.getLogger().isEnabledFor(logging.INFO)
        return True


@dataclass
class _Seen:
    record: logging.LogRecord
    last: float
    suppressed: int = 0  # repeats since the last line written for it
    total: int = 0


class Repeats(logging.Filter):
    """One line per state change plus a periodic summary, not one per repeat (see the module docstring)."""

    def __init__(self, summary_seconds: float = SUMMARY_SECONDS, clock=time.monotonic) -> None:  # noqa: ANN001
        super().__init__()
        self.summary_seconds = summary_seconds
        self.clock = clock
        self._seen: OrderedDict[tuple, _Seen] = OrderedDict()
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_aetherius_summary", False):
            return True
        key = (record.name, record.levelno, _NUMBERS.sub("#", _text(record))[:300],
               *(getattr(record, f, None) for f in CONTEXT_FIELDS))
        now = self.clock()
        with self._lock:
            seen = self._seen.get(key)
            if seen is None:
                self._seen[key] = _Seen(record, now)
                while len(self._seen) > MAX_KEYS:
                    self._seen.popitem(last=False)
                return True
            seen.last, seen.record = now, record
            seen.suppressed += 1
            seen.total += 1
            self._seen.move_to_end(key)
            return False

    def summaries(self) -> list[logging.LogRecord]:
        """Lines to write now: how often each message repeated since its last line, and those that stopped."""
        now = self.clock()
        out: list[logging.LogRecord] = []
        with self._lock:
            for key, seen in list(self._seen.items()):
                if seen.suppressed:
                    out.append(_summary(seen.record, f"repeated {seen.suppressed} more times in the last "
                                                     f"{self.summary_seconds:.0f}s"))
                    seen.suppressed = 0
                elif now - seen.last >= self.summary_seconds:
                    if seen.total:
                        out.append(_summary(seen.record, f"stopped repeating ({seen.total + 1} times in all)",
                                            level=logging.INFO))
                    del self._seen[key]
        return out


def _text(record: logging.LogRecord) -> str:
    try:
        return record.getMessage()
    except Exception:  # noqa: BLE001 - a bad format string must not break logging
        return str(record.msg)


def _summary(record: logging.LogRecord, what: str, level: int | None = None) -> logging.LogRecord:
    level = record.levelno if level is None else level
    out = logging.LogRecord(record.name, level, record.pathname, record.lineno, "%s: %s",
                            (what, _text(record)[:500]), None)
    for name in CONTEXT_FIELDS:
        if hasattr(record, name):
            setattr(out, name, getattr(record, name))
    out._aetherius_summary = True  # type: ignore[attr-defined]
    return out


_summarizer: threading.Thread | None = None


def _summarize_forever(handler: logging.Handler, repeats: Repeats) -> None:
    while True:
        time.sleep(repeats.summary_seconds)
        if handler not in logging.getLogger().handlers:
            return  # set up again: a newer thread serves the new handler
        for record in repeats.summaries():
            handler.handle(record)


def setup_logging(level: str = "INFO") -> None:
    global _summarizer
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLines())
    repeats = Repeats()
    handler.addFilter(StartupRetries())
    handler.addFilter(repeats)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiokafka", "faust", "mode", "kafka"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    _summarizer = threading.Thread(target=_summarize_forever, args=(handler, repeats), name="log-summaries",
                                   daemon=True)
    _summarizer.start()
