"""Benchmark the web console against real processes on a real broker; prints a table.

  history    10,000 tasks (snapshot + report each, plus 3 step events) produced onto fresh topics; one
             `aetherius console` process reads them (time to ready), then the task list page is fetched signed in:
             unfiltered, filtered by state, by cluster + namespace (server time = loopback round trip, p50/p95)
  streams    500 live (SSE) connections held by that one process: its RSS before and after, and the time until a
             new task's row has reached all 500
  browser    the real roles (worker, sink, webhook, console; tests/consolestack.py) and Debian's chromium: an
             alert POSTed to the bridge until its row is in the open task list, N times (p50/p95)

    python benchmarks/bench_console.py [--tasks 10000] [--streams 500] [--alerts 20] [--skip browser,...]
Needs AETHERIUS_KAFKA_BOOTSTRAP (or AETHERIUS_KAFKA__BOOTSTRAP). Targets (issue 17): browser p95 < 2 s; task list
with 10,000 tasks < 500 ms server time; 500 SSE connections held (RSS growth reported).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

REPO = Path(__file__).resolve().parent.parent


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def rss_mb(pid: int) -> float:
    text = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+)", text).group(1)) / 1024


async def produce_history(bootstrap: str, prefix: str, n: int) -> None:
    from aiokafka import AIOKafkaProducer

    from schemas.result import DiagnosticResult, ResultSummary, RootCauseAnalysis
    from schemas.settings import KafkaSettings
    from schemas.step import DiagnosticStep, StepEvent, StepInput, StepOutput
    from schemas.task import DiagnosticTask, ResourceInfo, TaskContext
    from schemas.topics import topic_name
    from streams.admin import ensure_topics

    await ensure_topics(KafkaSettings(bootstrap=bootstrap, topic_prefix=prefix, partitions=4))
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, max_batch_size=1 << 20)
    await producer.start()
    now = datetime.now(timezone.utc)
    statuses = ["completed"] * 7 + ["failed", "cancelled", "running"]
    categories = ["oom_killed", "dependency_failure", "image_pull_failure", "volume_mount_failure", "dns_failure"]
    try:
        sends = []
        for i in range(n):
            tid = str(uuid.UUID(int=i))
            task = DiagnosticTask(
                id=tid, cluster_id=f"prod-{i % 5}", namespace=f"ns-{i % 40}", priority=f"P{i % 4}",
                status=statuses[i % 10], created_at=now - timedelta(seconds=30 * i),
                resource=ResourceInfo(kind="Pod", name=f"app-{i}-7d9f", namespace=f"ns-{i % 40}"),
                context=TaskContext(alertname=f"KubePodCrashLooping{i % 12}", severity="warning",
                                    labels={"alertname": "KubePodCrashLooping", "pod": f"app-{i}-7d9f", "team": "x"},
                                    annotations={"summary": "restarting " * 8}))
            key = tid.encode()
            sends.append(await producer.send(topic_name(prefix, "task.state"), task.to_bytes(), key=key))
            for n_step in (1, 2, 3):
                step = DiagnosticStep(id=f"{tid}:{n_step}", task_id=tid, step_number=n_step, tool_id="describe_pod",
                                      input=StepInput(command="describe_pod", parameters={"name": f"app-{i}"}),
                                      output=StepOutput(stdout="x" * 2000, analysis="restarted 5 times"),
                                      status="completed", duration_ms=40)
                sends.append(await producer.send(topic_name(prefix, "steps"), StepEvent(
                    kind="completed", task_id=tid, step_number=n_step, step=step).to_bytes(), key=key))
            result = DiagnosticResult(task_id=tid, summary=ResultSummary(problem="crash loop"),
                                      root_cause=RootCauseAnalysis(description="bad config",
                                                                   category=categories[i % 5]))
            sends.append(await producer.send(topic_name(prefix, "reports"), result.to_bytes(), key=key))
        await asyncio.gather(*sends)
    finally:
        await producer.stop()


def console_env(bootstrap: str, prefix: str, port: int) -> dict[str, str]:
    from tests.workerproc import api_keys_env

    env = {k: v for k, v in os.environ.items() if not k.startswith("AETHERIUS_")}
    env.update({"AETHERIUS_CONTEXT": "none", "AETHERIUS_KAFKA__BOOTSTRAP": bootstrap,
                "AETHERIUS_KAFKA__TOPIC_PREFIX": prefix, "AETHERIUS_KAFKA__PARTITIONS": "4",
                "AETHERIUS_CONSOLE__PORT": str(port), "AETHERIUS_CONSOLE__COOKIE_SECURE": "false",
                "AETHERIUS_SECURITY__API_KEYS": api_keys_env(), "AETHERIUS_LOG_LEVEL": "WARNING"})
    return env


async def sign_in(http, base: str, key: str) -> None:  # noqa: ANN001 - aiohttp.ClientSession
    page = await (await http.get(f"{base}/ui/login")).text()
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    async with http.post(f"{base}/ui/login", data={"csrf": token, "credential": key},
                         headers={"Origin": base}, allow_redirects=False) as resp:
        assert resp.status == 303, await resp.text()


async def bench_history(bootstrap: str, n: int, streams: int, rows: list[tuple[str, str, str]]) -> None:
    import aiohttp

    from aetherius.localkafka import free_port
    from schemas.task import DiagnosticTask
    from schemas.topics import topic_name
    from tests.workerproc import TEST_KEYS

    prefix = "bench-ui-" + uuid.uuid4().hex[:8]
    started = time.perf_counter()
    await produce_history(bootstrap, prefix, n)
    rows.append(("history", f"{n} tasks (+{3 * n} steps, {n} reports) produced", f"{time.perf_counter() - started:.1f} s"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = open(Path(tempfile.gettempdir()) / f"{prefix}-console.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "aetherius.cli", "console"], env=console_env(bootstrap, prefix, port),
                            cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    started = time.perf_counter()
    try:  # unsafe: aiohttp keeps no cookie of an IP-address host (127.0.0.1) otherwise
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            while True:
                try:
                    async with http.get(f"{base}/health/ready") as resp:
                        body = await resp.json()
                        if resp.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                if proc.poll() is not None or time.perf_counter() - started > 300:
                    raise RuntimeError("the console did not get ready; see " + log.name)
                await asyncio.sleep(0.2)
            rows.append(("history", f"console ready (read the topics, {body['tasks']} tasks in its view)",
                         f"{time.perf_counter() - started:.1f} s"))
            rows.append(("history", "console RSS with the view loaded", f"{rss_mb(proc.pid):.0f} MB"))
            await sign_in(http, base, TEST_KEYS["sre"])
            for label, query in (("task list, no filter", ""), ("task list, state=failed", "?status=failed"),
                                 ("task list, cluster + namespace", "?cluster=prod-1&namespace=ns-1"),
                                 ("task list, category=dns_failure", "?category=dns_failure")):
                times = []
                for _ in range(40):
                    t = time.perf_counter()
                    async with http.get(f"{base}/ui/tasks{query}") as resp:
                        html = await resp.text()
                        assert resp.status == 200 and "<tr id=\"task-" in html, resp.status
                    times.append((time.perf_counter() - t) * 1000)
                rows.append(("history", f"{label} (100 rows of {n})",
                             f"p50 {pct(times, .5):.0f} ms, p95 {pct(times, .95):.0f} ms"))

            # streams: `streams` live connections to the one process
            before = rss_mb(proc.pid)
            cookies = http.cookie_jar
            clients = [aiohttp.ClientSession(cookie_jar=cookies, timeout=aiohttp.ClientTimeout(total=None))
                       for _ in range(max(1, streams // 100))]
            responses = []
            for i in range(streams):
                resp = await clients[i % len(clients)].get(f"{base}/ui/live/tasks", headers={"Accept": "text/event-stream"})
                assert resp.status == 200, resp.status
                await resp.content.readuntil(b"\n\n")  # "retry:"
                responses.append(resp)
            await asyncio.sleep(2)
            after = rss_mb(proc.pid)
            rows.append(("streams", f"{streams} SSE connections held: console RSS",
                         f"{before:.0f} -> {after:.0f} MB (+{after - before:.0f} MB, "
                         f"{(after - before) * 1024 / streams:.0f} KB each)"))
            from aiokafka import AIOKafkaProducer

            producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
            await producer.start()
            new = DiagnosticTask(id="bench-new-task", cluster_id="prod-0", namespace="ns-0", priority="P1")
            t = time.perf_counter()
            await producer.send_and_wait(topic_name(prefix, "task.state"), new.to_bytes(), key=b"bench-new-task")
            await producer.stop()

            async def until_row(resp) -> float:  # noqa: ANN001
                while True:
                    chunk = await resp.content.readuntil(b"\n\n")
                    if b"bench-new-task" in chunk:
                        return time.perf_counter() - t

            arrivals = await asyncio.gather(*(until_row(r) for r in responses))
            rows.append(("streams", f"a new task's row reached all {streams} streams",
                         f"p50 {pct(arrivals, .5) * 1000:.0f} ms, last {max(arrivals) * 1000:.0f} ms"))
            for r in responses:
                r.close()
            for c in clients:
                await c.close()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(20)


def bench_browser(bootstrap: str, alerts: int, rows: list[tuple[str, str, str]]) -> None:
    from tests.consolestack import Stack, browser
    from tests.workerproc import TEST_KEYS

    with tempfile.TemporaryDirectory() as work:
        stack = Stack(bootstrap, Path(work)).start(knowledge=False)
        pw, chromium = browser()
        try:
            page = chromium.new_page(viewport={"width": 1280, "height": 800})
            page.goto(stack.console + "/ui/login")
            page.fill("#credential", TEST_KEYS["sre"])
            page.click("form[action='/ui/login'] button[type=submit]")
            page.wait_for_url("**/ui/tasks")
            page.locator("[data-live-status][data-state=open]").wait_for()
            times = []
            for i in range(alerts):
                pod = f"bench-{uuid.uuid4().hex[:8]}"
                t = time.perf_counter()
                stack.post_alert({"alertname": "KubePodNotReady", "cluster_id": "prod-us", "namespace": "shop",
                                  "pod": pod, "severity": "warning"})
                page.locator("#task-rows tr", has_text=pod).wait_for(timeout=30_000)
                times.append(time.perf_counter() - t)
                time.sleep(0.5)
            rows.append(("browser", f"alert POST -> row in the open list ({alerts} alerts)",
                         f"p50 {pct(times, .5):.2f} s, p95 {pct(times, .95):.2f} s, max {max(times):.2f} s"))
        finally:
            chromium.close()
            pw.stop()
            stack.stop()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=10_000)
    ap.add_argument("--streams", type=int, default=500)
    ap.add_argument("--alerts", type=int, default=20)
    ap.add_argument("--skip", default="", help="comma-separated: history, browser")
    args = ap.parse_args()
    bootstrap = os.environ.get("AETHERIUS_KAFKA_BOOTSTRAP") or os.environ.get("AETHERIUS_KAFKA__BOOTSTRAP")
    if not bootstrap:
        print("set AETHERIUS_KAFKA_BOOTSTRAP (e.g. from `aetherius kafka`)", file=sys.stderr)
        return 2
    skip = set(filter(None, args.skip.split(",")))
    rows: list[tuple[str, str, str]] = []
    if "history" not in skip:
        asyncio.run(bench_history(bootstrap, args.tasks, args.streams, rows))
    if "browser" not in skip:
        bench_browser(bootstrap, args.alerts, rows)
    width = max(len(r[1]) for r in rows)
    print(f"{'part':8}  {'measure':{width}}  result")
    print(f"{'-' * 8}  {'-' * width}  {'-' * 40}")
    for part, what, result in rows:
        print(f"{part:8}  {what:{width}}  {result}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
