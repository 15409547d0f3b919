"""Run a real Alertmanager (Debian's prometheus-alertmanager) against a real webhook bridge on the test broker:
post alerts to Alertmanager's API and return what its webhook delivery put on the raw-alerts topic."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from schemas.alertmanager import RawAlert
from schemas.settings import Settings
from schemas.topics import topic_name
from streams.producer import Producer
from streams.webhook import create_app

ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")


def deliver(settings: Settings, config: Path, bridge_port: int, am_port: int, sent: list[dict[str, str]],
            tmp_path: Path) -> list[RawAlert]:
    """Start the bridge on `bridge_port` and Alertmanager with `config` on `am_port`, post `sent`, and wait for
    every alert on the topic (Alertmanager's group_wait should be ~1 s in `config`)."""
    from tests.test_webhook import create_topic, read_topic

    bootstrap = settings.kafka.bootstrap
    topic = topic_name(settings.kafka.topic_prefix, "alerts.raw")

    async def main() -> list[RawAlert]:
        await create_topic(bootstrap, topic)
        producer = Producer(bootstrap)
        await producer.start()
        runner = web.AppRunner(create_app(settings, producer, manage_producer=False), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", bridge_port).start()
        log = open(tmp_path / "am.log", "wb")
        am = subprocess.Popen([ALERTMANAGER, f"--config.file={config}", f"--storage.path={tmp_path / 'data'}",
                               "--cluster.listen-address=", f"--web.listen-address=127.0.0.1:{am_port}"],
                              stdout=subprocess.DEVNULL, stderr=log)
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
            for _ in range(150):  # allow for a slow shared machine
                records = await read_topic(bootstrap, topic)
                if len(records) >= len(sent):
                    return [RawAlert.from_bytes(r.value) for r in records]
                await asyncio.sleep(0.2)
            pytest.fail(f"no delivery from Alertmanager: {(tmp_path / 'am.log').read_text()[-2000:]}")
        finally:
            am.terminate()
            am.wait(10)
            log.close()
            await runner.cleanup()
            await producer.stop()

    return asyncio.run(main())
