"""Alert fingerprints and deterministic record ids. Pure: no I/O.

The fingerprint is Alertmanager's own (prometheus/common `model.LabelSet.Fingerprint`): FNV-1a 64 over
the labels sorted by name, each name and each value followed by the separator byte 0xff, printed as 16
lowercase hex digits. Computing the same value Alertmanager sends means an alert keeps one identity
whether it arrives with a fingerprint, without one (a hand-written payload), or from our own producers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone

from schemas.alertmanager import Alert

FNV_OFFSET_64 = 0xCBF29CE484222325
FNV_PRIME_64 = 0x100000001B3
_MASK_64 = 0xFFFFFFFFFFFFFFFF
SEPARATOR = b"\xff"  # model.SeparatorByte: never valid UTF-8, so "a"+"bc" and "ab"+"c" cannot collide
_FINGERPRINT_RE = re.compile(r"^[0-9a-f]{16}$")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def fnv1a_64(data: bytes, h: int = FNV_OFFSET_64) -> int:
    for byte in data:
        h = ((h ^ byte) * FNV_PRIME_64) & _MASK_64
    return h


def labels_fingerprint(labels: Mapping[str, str]) -> str:
    """Alertmanager's fingerprint of a label set (an empty set hashes to the FNV offset basis)."""
    h = FNV_OFFSET_64
    for name in sorted(labels):
        h = fnv1a_64(name.encode() + SEPARATOR + labels[name].encode() + SEPARATOR, h)
    return f"{h:016x}"


def is_fingerprint(value: str) -> bool:
    return bool(_FINGERPRINT_RE.match(value))


def alert_fingerprint(alert: Alert) -> str:
    """Keep the fingerprint Alertmanager sent; compute it when absent.

    An incoming value is trusted as sent (lower-cased): Alertmanager is the authority for its own
    alerts, and recomputing would split one alert into two identities if it ever changed its hash.
    """
    sent = alert.fingerprint.strip().lower()
    return sent if sent else labels_fingerprint(alert.labels)


def record_id(fingerprint: str, starts_at: datetime | None) -> str:
    """The deterministic id of one occurrence of an alert: the same (fingerprint, startsAt) always gives
    the same id, so a redelivered webhook or a replayed record is recognised as already applied.

    startsAt is normalised to UTC milliseconds, so the same instant written with another offset or
    precision maps to the same id. A missing startsAt gives "<fingerprint>:0".
    """
    if starts_at is None:
        millis = 0
    else:
        aware = starts_at if starts_at.tzinfo else starts_at.replace(tzinfo=timezone.utc)
        millis = (aware - _EPOCH) // timedelta(milliseconds=1)  # integer maths: no float rounding
    return f"{fingerprint}:{millis}"
