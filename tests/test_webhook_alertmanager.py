"""End to end with a REAL Alertmanager (Debian `prometheus-alertmanager`): it posts its own webhook, with a
bearer token from http_config, to the bridge, and the alerts land on the real Kafka topic keyed by the
fingerprints Alertmanager computed. Skipped where the binary is not installed."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from aetherius.localkafka import free_port
from schemas.alertmanager import RawAlert
from schemas.settings import Settings
from schemas.topics import topic_name
from streams.fingerprint import labels_fingerprint
from streams.producer import Producer
from streams.webhook import create_app
from tests.test_webhook import create_topic, read_topic

ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
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
    topic = topic_name(topic_prefix, "alerts.raw")
    sent = [{"alertname": "KubePodCrashLooping", "namespace": "prod", "pod": "api-7d9f", "cluster": "eu-1",
             "severity": "critical"},
            {"alertname": "KubePodCrashLooping", "namespace": "prod", "pod": "web-1", "cluster": "eu-1"}]

    async def main() -> list[RawAlert]:
        await create_topic(kafka_bootstrap, topic)
        producer = Producer(kafka_bootstrap)
        await producer.start()
        runner = web.AppRunner(create_app(settings, producer, manage_producer=False), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", bridge_port).start()
        am = subprocess.Popen([ALERTMANAGER, f"--config.file={tmp_path / 'am.yml'}",
                               f"--storage.path={tmp_path / 'data'}", "--cluster.listen-address=",
                               f"--web.listen-address=127.0.0.1:{am_port}"],
                              stdout=subprocess.DEVNULL, stderr=open(tmp_path / "am.log", "wb"))
        try:
            async with aiohttp.ClientSession() as http:
                for _ in range(100):  # Alertmanager's API comes up within a second or two
                    try:
                        async with http.post(f"http://127.0.0.1:{am_port}/api/v2/alerts",
                                             json=[{"labels": labels} for labels in sent]) as resp:
                            if resp.status == 200:
                                break
                    except aiohttp.ClientConnectionError:
                        pass
                    await asyncio.sleep(0.2)
                else:
                    pytest.fail(f"Alertmanager did not start: {(tmp_path / 'am.log').read_text()[-2000:]}")
            for _ in range(150):  # group_wait is 1 s; allow for a slow shared machine
                records = await read_topic(kafka_bootstrap, topic)
                if len(records) >= len(sent):
                    return [RawAlert.from_bytes(r.value) for r in records]
                await asyncio.sleep(0.2)
            pytest.fail(f"no delivery from Alertmanager: {(tmp_path / 'am.log').read_text()[-2000:]}")
        finally:
            am.terminate()
            am.wait(10)
            await runner.cleanup()
            await producer.stop()

    raws = asyncio.run(main())
    assert len(raws) == len(sent)
    got = {json.dumps(r.alert.labels, sort_keys=True): r for r in raws}
    for labels in sent:
        raw = got[json.dumps(labels, sort_keys=True)]
        # Alertmanager sent its own fingerprint; it equals ours, and it is the record key.
        assert raw.alert.fingerprint == raw.fingerprint == labels_fingerprint(labels)
        assert raw.receiver == "bridge"
        assert raw.alert.startsAt is not None
