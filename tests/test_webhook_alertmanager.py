"""End to end with a REAL Alertmanager (Debian `prometheus-alertmanager`): it posts its own webhook, with a
bearer token from http_config, to the bridge, and the alerts land on the real Kafka topic keyed by the
fingerprints Alertmanager computed. Skipped where the binary is not installed."""

from __future__ import annotations

from tests.alertmanager_run import ALERTMANAGER, deliver

import json
from pathlib import Path

import pytest

from aetherius.localkafka import free_port
from schemas.settings import Settings
from streams.fingerprint import labels_fingerprint

pytestmark = pytest.mark.skipif(ALERTMANAGER is None, reason="Alertmanager not installed (apt-get install "
                                                              "prometheus-alertmanager)")

CONFIG = """
route:
  receiver: bridge
  group_by: ['alertname']
  group_wait: 1s
  group_interval: 1s
receivers:
- name: bridge
  webhook_configs:
  - url: http://127.0.0.1:{port}/api/v1/webhook/alertmanager
    http_config:
      authorization:
        credentials: {token}
"""


def test_real_alertmanager_delivers_through_the_bridge(kafka_bootstrap: str, topic_prefix: str,
                                                       tmp_path: Path) -> None:
    token = "am-secret"
    bridge_port, am_port = free_port(), free_port()
    (tmp_path / "am.yml").write_text(CONFIG.format(port=bridge_port, token=token))
    settings = Settings(kafka={"bootstrap": kafka_bootstrap, "topic_prefix": topic_prefix},
                        webhook={"bearer_token": token})
    sent = [{"alertname": "KubePodCrashLooping", "namespace": "prod", "pod": "api-7d9f", "cluster": "eu-1",
             "severity": "critical"},
            {"alertname": "KubePodCrashLooping", "namespace": "prod", "pod": "web-1", "cluster": "eu-1"}]

    raws = deliver(settings, tmp_path / "am.yml", bridge_port, am_port, sent, tmp_path)
    assert len(raws) == len(sent)
    got = {json.dumps(r.alert.labels, sort_keys=True): r for r in raws}
    for labels in sent:
        raw = got[json.dumps(labels, sort_keys=True)]
        # Alertmanager sent its own fingerprint; it equals ours, and it is the record key.
        assert raw.alert.fingerprint == raw.fingerprint == labels_fingerprint(labels)
        assert raw.receiver == "bridge"
        assert raw.alert.startsAt is not None
