"""The chaos soak (issue 13): the whole stack as processes under a steady alert stream while workers are killed,
the broker is restarted, and a poison record and an oversize alert arrive - then exact counts of what users see.

    3 workers, 8 partitions, a sink (ClickHouse), the bridge, a real Alertmanager in front
    traffic: new distinct alerts at `rate`/s from `clusters` clusters (one alert name in two clusters each
             time, no correlation), Alertmanager re-sending every firing group (repeats)
    chaos:   kill -9 a random worker every ~`kill_every` s (back 2 s later); restart the broker `broker_restarts`
             times; one poison record on alerts.raw and one oversize alert through the bridge, mid-run
    the rig acts as Kubernetes: a worker whose /health/live fails 3 times in a row is killed and restarted
             (a stall detected and recovered); a worker that exits by itself is restarted too (and counted)

At the end every distinct alert must be one task, every task one report as users see it (Task API, reports
topic deduplicated by id, ClickHouse history), nothing stuck, no slot leaked, no worker dead, and exactly one
dead letter: the poison record. `run_soak` returns the numbers; `SoakResult.table()` prints them. Used by
tests/test_chaos_soak.py (a few minutes, asserted) and benchmarks/bench_chaos.py (longer, printed).
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from tests.chaosrig import (Stack, am_payload, census, cluster_dumps, clusters_env, http_json, metric, until)
from tests.kafkautil import produce
from tests.workerproc import DEFAULT_KEY

POISON = (b"poison-key", b"{not json at all")
def largest_accepted_alert(labels: dict[str, str]) -> dict:
    """The biggest alert the bridge's door lets in (streams.admission.LIMITS): every label and annotation slot
    filled near its budget with emoji, which JSON escapes to 12 bytes each, up to the whole-alert budget."""
    from streams.admission import LIMITS, cost

    alert = {"labels": dict(labels), "annotations": {}}
    label_fill = "\U0001F525" * (LIMITS["label_value"] // 12 - 1)
    note_fill = "\U0001F525" * (LIMITS["annotation_value"] // 12 - 1)
    for field, budget, fill in (("annotations", "annotations", note_fill), ("labels", "labels", label_fill)):
        for i in range(LIMITS[budget] - len(alert[field])):
            candidate = {**alert, field: {**alert[field], f"x{i}": fill}}
            if cost(candidate) > LIMITS["alert"] - 2048:
                break
            alert = candidate
    return alert


@dataclass
class SoakConfig:
    work: Path
    seconds: float = 150.0  # the chaos window (traffic and faults); settling comes after
    rate: float = 1.0  # new distinct alerts per second
    workers: int = 3
    partitions: int = 8
    clusters: int = 6
    kill_every: float = 20.0
    broker_restarts: int = 2
    settle_timeout: float = 300.0
    seed: int = 13


@dataclass
class SoakResult:
    seconds: float
    alerts_in: int = 0  # distinct alerts sent (the oversize one included)
    posts: int = 0  # alert posts to Alertmanager (repeats included)
    tasks: int = 0
    task_statuses: Counter = field(default_factory=Counter)
    reports_unique: int = 0
    report_records: int = 0
    clickhouse_tasks: int = 0
    clickhouse_reports: int = 0
    stuck: int = 0
    running_slots: float = -1
    queue_depth: float = -1
    deadletters: list[dict] = field(default_factory=list)
    kills: int = 0
    broker_restarts: int = 0
    stalls_recovered: int = 0
    deaths: int = 0  # workers that exited by themselves
    max_lag: float = 0.0
    log_bytes: dict[str, int] = field(default_factory=dict)
    rss_start: dict[str, float] = field(default_factory=dict)
    rss_end: dict[str, float] = field(default_factory=dict)
    expected_alertnames: set[str] = field(default_factory=set)
    missing: list[str] = field(default_factory=list)
    settled_after: float = 0.0

    @property
    def duplicate_records(self) -> int:
        return self.report_records - self.reports_unique

    def table(self) -> str:
        rows = [
            ("chaos window (s)", f"{self.seconds:.0f}"),
            ("alerts in (distinct / posts)", f"{self.alerts_in} / {self.posts}"),
            ("tasks (Task API)", f"{self.tasks} {dict(self.task_statuses)}"),
            ("reports (topic, by id)", f"{self.reports_unique}"),
            ("report records (duplicates)", f"{self.report_records} ({self.duplicate_records})"),
            ("ClickHouse tasks / with report", f"{self.clickhouse_tasks} / {self.clickhouse_reports}"),
            ("stuck tasks", f"{self.stuck}"),
            ("slots held / queued at end", f"{self.running_slots:.0f} / {self.queue_depth:.0f}"),
            ("dead letters", f"{len(self.deadletters)} {[d['stage'] for d in self.deadletters]}"),
            ("worker kills (kill -9)", f"{self.kills}"),
            ("broker restarts", f"{self.broker_restarts}"),
            ("stalls detected and recovered", f"{self.stalls_recovered}"),
            ("workers that died by themselves", f"{self.deaths}"),
            ("max lag (records)", f"{self.max_lag:.0f}"),
            ("settled after the window (s)", f"{self.settled_after:.0f}"),
        ]
        rows += [(f"log bytes {name}", f"{n:,}") for name, n in sorted(self.log_bytes.items())]
        rows += [(f"RSS MB {name} start -> end", f"{self.rss_start.get(name, 0):.0f} -> {self.rss_end.get(name, 0):.0f}")
                 for name in sorted(self.rss_end)]
        width = max(len(k) for k, _ in rows)
        return "\n".join(f"{k.ljust(width)}  {v}" for k, v in rows)


class Kubelet(threading.Thread):
    """Restarts a worker whose /health/live fails 3 times in a row, or that exited by itself, as Kubernetes would;
    samples the total consumer lag the workers report. Paused while the soak itself kills or restarts things."""

    def __init__(self, stack: Stack, result: SoakResult) -> None:
        super().__init__(daemon=True, name="kubelet")
        self.stack, self.result = stack, result
        self.lock = threading.Lock()  # held by the soak around its own kills
        self.stop_event = threading.Event()
        self.failures: Counter = Counter()

    def run(self) -> None:
        while not self.stop_event.wait(5.0):
            with self.lock:
                lag = 0.0
                for i, w in enumerate(self.stack.worker_roles):
                    if not w.alive:
                        self.result.deaths += 1
                        w.start(timeout=300)
                        continue
                    status, text = _get(w.url + "/health/live"), _text(w.url + "/metrics")
                    lag += sum(_samples(text, "aetherius_partition_lag"))
                    self.failures[i] = self.failures[i] + 1 if status == 503 else 0
                    if self.failures[i] >= 3:
                        self.failures[i] = 0
                        self.result.stalls_recovered += 1
                        w.stop(kill=True)
                        time.sleep(2)
                        w.start(timeout=300)
                self.result.max_lag = max(self.result.max_lag, lag)


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status
    except urllib.error.HTTPError as err:
        return err.code
    except OSError:
        return 0


def _text(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.read().decode()
    except OSError:
        return ""


def _samples(text: str, name: str) -> list[float]:
    return [float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name + "{")]


def _alert(clusters: dict, n: int) -> dict[str, Any]:
    """The n-th distinct alert: cluster c(n mod k); every other alert name also fires in a second cluster."""
    names = sorted(clusters)
    cluster = names[(n + n % 2) % len(names)]  # n odd: the same alert name as n - 1, two clusters on: two tasks
    labels = {**clusters[cluster][1], "alertname": f"Soak{n // 2}", "cluster_id": cluster, "severity": "warning"}
    return {"labels": labels, "annotations": {"summary": f"soak alert {n}"}}


def run_soak(cfg: SoakConfig, progress=print) -> SoakResult:  # noqa: ANN001
    rng = random.Random(cfg.seed)
    clusters = cluster_dumps(cfg.work / "dumps", cfg.clusters)
    stack = Stack(cfg.work, partitions=cfg.partitions, workers=cfg.workers, with_sink=True, am_repeat_interval="30s",
                  worker_env={"AETHERIUS_CLUSTERS": clusters_env(clusters),
                              "AETHERIUS_PIPELINE__DEDUP_WINDOW_SECONDS": "7200",
                              "AETHERIUS_WORKER__STALL_SECONDS": "90"})
    result = SoakResult(seconds=cfg.seconds)
    stack.start()
    result.rss_start = {r.name: r.rss() for r in stack.roles()}
    kubelet = Kubelet(stack, result)
    kubelet.start()
    sent: list[dict] = []
    try:
        t0 = time.monotonic()
        next_kill = t0 + cfg.kill_every * rng.uniform(0.7, 1.3)
        restarts_at = [t0 + cfg.seconds * (k + 1) / (cfg.broker_restarts + 1) for k in range(cfg.broker_restarts)]
        poison_at, oversize_at = t0 + cfg.seconds * 0.4, t0 + cfg.seconds * 0.6
        n = 0
        while (now := time.monotonic()) < t0 + cfg.seconds:
            due = int((now - t0) * cfg.rate) + 1
            batch = [_alert(clusters, i) for i in range(n, due)]
            n = due
            if batch:
                sent += batch
                repeats = rng.sample(sent, min(len(sent), 3))  # Prometheus re-evaluates: alerts arrive again
                _post(stack, batch + repeats)
                result.posts += len(batch) + len(repeats)
            if now >= next_kill:
                with kubelet.lock:
                    i = stack.kill_worker(rng=rng)
                progress(f"[{now - t0:5.0f}s] killed worker{i} (kill -9) and restarted it")
                next_kill = time.monotonic() + cfg.kill_every * rng.uniform(0.7, 1.3)
            if restarts_at and now >= restarts_at[0]:
                restarts_at.pop(0)
                with kubelet.lock:
                    stack.restart_broker(down_seconds=5.0)
                progress(f"[{now - t0:5.0f}s] restarted the broker")
            if poison_at and now >= poison_at:
                poison_at = 0.0
                asyncio.run(produce(stack.kafka.bootstrap, f"{stack.prefix}.alerts.raw", [POISON]))  # type: ignore[union-attr]
                progress(f"[{now - t0:5.0f}s] injected a poison record")
            if oversize_at and now >= oversize_at:
                oversize_at = 0.0
                big = largest_accepted_alert({**clusters["c0"][1], "alertname": "SoakOversize", "cluster_id": "c0"})
                status, body = stack.post_bridge(am_payload([big]))
                assert status == 200, (status, body)
                sent.append(big)
                progress(f"[{now - t0:5.0f}s] sent the largest alert the bridge accepts ({len(json.dumps(big))} bytes)")
            time.sleep(0.5)
        result.kills, result.broker_restarts = stack.kills, stack.broker_restarts
        result.expected_alertnames = {a["labels"]["alertname"] + "@" + a["labels"]["cluster_id"] for a in sent}
        result.alerts_in = len(result.expected_alertnames)
        progress(f"[{time.monotonic() - t0:5.0f}s] chaos over: {result.alerts_in} distinct alerts; settling")
        window_end = time.monotonic()
        settled = until(lambda: _settled(stack, result), cfg.settle_timeout, 5.0)
        result.settled_after = time.monotonic() - window_end
        _final_counts(stack, result)
        if not settled:
            progress(f"did not settle: {dict(result.task_statuses)} slots {result.running_slots} queue "
                     f"{result.queue_depth} reports {result.reports_unique} missing {result.missing[:5]}")
    finally:
        kubelet.stop_event.set()
        kubelet.join(30)
        result.rss_end = {r.name: r.rss() for r in stack.roles()}
        result.log_bytes = {r.name: r.log_bytes() for r in stack.roles()}
        stack.stop()
    return result


def _post(stack: Stack, alerts: list[dict]) -> None:
    for _ in range(20):  # Alertmanager itself answers throughout; retry only a refused connection
        try:
            stack.post_alerts(alerts)
            return
        except OSError:
            time.sleep(0.5)


def _settled(stack: Stack, result: SoakResult) -> bool:
    c = census(stack)
    keys = {t["context"]["alertname"] + "@" + t["cluster_id"] for t in c.tasks.values()}
    done = all(t["status"] in ("completed", "failed", "timeout", "cancelled") for t in c.tasks.values())
    return keys >= result.expected_alertnames and done and set(c.reports) >= set(c.tasks) \
        and c.gauges.get("aetherius_tasks_running", 1) == 0


def _final_counts(stack: Stack, result: SoakResult) -> None:
    c = census(stack)
    result.tasks = len(c.tasks)
    result.task_statuses = c.status_counts()
    result.reports_unique = len({r for r in c.reports if r in c.tasks})
    result.report_records = c.report_records
    result.stuck = sum(t["status"] in ("pending", "running") for t in c.tasks.values())
    result.running_slots = c.gauges.get("aetherius_tasks_running", -1)
    result.queue_depth = c.gauges.get("aetherius_queue_depth", -1)
    result.deadletters = c.deadletters
    keys = {t["context"]["alertname"] + "@" + t["cluster_id"] for t in c.tasks.values()}
    result.missing = sorted(result.expected_alertnames - keys)
    items: list[dict] = []
    since = (datetime.now(timezone.utc) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    for offset in range(0, 10_000, 500):
        status, body = http_json(f"http://127.0.0.1:{stack.sink_port}/api/v1/history?limit=500&offset={offset}"
                                 f"&from={since}", key=DEFAULT_KEY)
        if status != 200 or not body.get("items"):
            break
        items += body["items"]
    result.clickhouse_tasks = len({i["task_id"] for i in items})
    result.clickhouse_reports = len({i["task_id"] for i in items if i.get("engine")})
