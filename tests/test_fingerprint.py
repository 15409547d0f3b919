"""Fingerprints must equal Alertmanager's own, byte for byte.

The REAL_* payloads below were captured from a real Alertmanager 0.25.0 (Debian `prometheus-alertmanager`)
posting to a local webhook receiver; alerts were pushed through its /api/v2/alerts API.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from schemas.alertmanager import Alert, AlertmanagerPayload
from streams.fingerprint import (FNV_OFFSET_64, alert_fingerprint, fnv1a_64, is_fingerprint, labels_fingerprint,
                                 record_id)

REAL_FIRING = json.loads(r'''{"receiver": "hook", "status": "firing", "alerts": [{"status": "firing", "labels": {"alertname": "KubePodCrashLooping"}, "annotations": {}, "startsAt": "2026-11-25T13:06:09.343030741Z", "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "", "fingerprint": "477ba8ef86d54987"}, {"status": "firing", "labels": {"alertname": "KubePodCrashLooping", "cluster": "eu-1", "namespace": "prod", "pod": "api-7d9f", "severity": "critical"}, "annotations": {"summary": "crash"}, "startsAt": "2026-11-25T13:06:09.343030741Z", "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "", "fingerprint": "21a30b23f6e445b9"}], "groupLabels": {"alertname": "KubePodCrashLooping"}, "commonLabels": {"alertname": "KubePodCrashLooping"}, "commonAnnotations": {}, "externalURL": "http://vm:19932", "version": "4", "groupKey": "{}:{alertname=\"KubePodCrashLooping\"}", "truncatedAlerts": 0}''')  # noqa: E501
REAL_NON_ASCII = json.loads(r'''{"receiver": "hook", "status": "firing", "alerts": [{"status": "firing", "labels": {"alertname": "NodeDiskPressure", "cluster_id": "us-2", "instance": "10.0.0.1:9100", "node": "n\u00f6de-\u00fc", "severity": "warning"}, "annotations": {}, "startsAt": "2026-11-25T13:06:20.132164086Z", "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "http://prom/graph?g0.expr=x", "fingerprint": "6946b7a61a7dcd6f"}], "groupLabels": {"alertname": "NodeDiskPressure"}, "commonLabels": {"alertname": "NodeDiskPressure", "cluster_id": "us-2", "instance": "10.0.0.1:9100", "node": "n\u00f6de-\u00fc", "severity": "warning"}, "commonAnnotations": {}, "externalURL": "http://vm:19932", "version": "4", "groupKey": "{}:{alertname=\"NodeDiskPressure\"}", "truncatedAlerts": 0}''')  # noqa: E501


def test_fnv1a_64_reference_vectors() -> None:
    # Published FNV-1a 64 test vectors (Fowler/Noll/Vo): "" -> offset basis, "a", "foobar".
    assert fnv1a_64(b"") == FNV_OFFSET_64 == 0xCBF29CE484222325
    assert fnv1a_64(b"a") == 0xAF63DC4C8601EC8C
    assert fnv1a_64(b"foobar") == 0x85944171F73967E8


def test_every_real_alertmanager_fingerprint_is_reproduced() -> None:
    alerts = REAL_FIRING["alerts"] + REAL_NON_ASCII["alerts"]
    assert len(alerts) == 3
    for alert in alerts:
        assert labels_fingerprint(alert["labels"]) == alert["fingerprint"]


def test_label_order_does_not_matter_but_every_byte_does() -> None:
    labels = {"alertname": "X", "namespace": "prod", "pod": "p"}
    assert labels_fingerprint(labels) == labels_fingerprint(dict(reversed(list(labels.items()))))
    assert labels_fingerprint(labels) != labels_fingerprint({**labels, "pod": "q"})
    # The 0xff separator keeps a boundary shift from colliding: {"ab": "c"} vs {"a": "bc"}.
    assert labels_fingerprint({"ab": "c"}) != labels_fingerprint({"a": "bc"})


def test_empty_label_set_is_the_offset_basis() -> None:
    assert labels_fingerprint({}) == "cbf29ce484222325"


def test_incoming_fingerprint_is_kept_and_absent_one_computed() -> None:
    payload = AlertmanagerPayload.model_validate(REAL_FIRING)
    sent = payload.alerts[1]
    assert alert_fingerprint(sent) == "21a30b23f6e445b9"
    # Alertmanager is the authority for its own alerts: a sent value wins even if it differs from ours.
    odd = sent.model_copy(update={"fingerprint": "ABCDEF0123456789"})
    assert alert_fingerprint(odd) == "abcdef0123456789"
    bare = Alert(labels=dict(sent.labels))
    assert bare.fingerprint == ""
    assert alert_fingerprint(bare) == "21a30b23f6e445b9"


def test_is_fingerprint() -> None:
    assert is_fingerprint("21a30b23f6e445b9")
    assert not is_fingerprint("21A30B23F6E445B9")
    assert not is_fingerprint("21a30b23f6e445b")
    assert not is_fingerprint("")


def test_record_id_is_deterministic_and_offset_independent() -> None:
    utc = datetime(2026, 11, 25, 13, 6, 9, 343030, tzinfo=timezone.utc)
    same_instant = utc.astimezone(timezone(timedelta(hours=8)))
    assert record_id("21a30b23f6e445b9", utc) == record_id("21a30b23f6e445b9", same_instant)
    assert record_id("21a30b23f6e445b9", utc) == "21a30b23f6e445b9:1795611969343"
    assert record_id("21a30b23f6e445b9", utc) != record_id("21a30b23f6e445b9", utc + timedelta(milliseconds=1))
    assert record_id("21a30b23f6e445b9", None) == "21a30b23f6e445b9:0"
    # A naive timestamp is read as UTC rather than the machine's local zone.
    assert record_id("f", utc.replace(tzinfo=None)) == record_id("f", utc)


def test_real_payload_start_time_gives_record_id() -> None:
    alert = AlertmanagerPayload.model_validate(REAL_FIRING).alerts[1]
    # Alertmanager sends nanoseconds; ids use milliseconds so a re-sent alert maps to the same id.
    assert record_id(alert_fingerprint(alert), alert.startsAt) == "21a30b23f6e445b9:1795611969343"
