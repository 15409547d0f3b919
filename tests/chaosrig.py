"""The whole stack as real processes, for kill tests, the chaos soak and its benchmark.

    Alertmanager (Debian's, real) --webhook--> `aetherius webhook` --> Kafka (own broker, restartable)
    --> N x `aetherius worker` (kill -9 any of them) --> reports --> `aetherius sink` (ClickHouse, chdb)

Every role is a subprocess started with `sys.executable -m aetherius.cli`, so SIGKILL means SIGKILL. The rig
owns its broker (`LocalKafka` in a work dir it keeps, so `restart()` brings the same cluster back) and stops
everything it started by PID. `Census` reads what users see: reports on the topic (deduplicated by report
id), tasks from the Task API, rows in ClickHouse (through the sink's analytics API), scheduler gauges.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from aetherius.localkafka import LocalKafka, free_port
from tests.workerproc import DEFAULT_KEY, WorkerProcess, api_keys_env, wait_for

ALERTMANAGER_BIN = "/usr/bin/prometheus-alertmanager"
BRIDGE_TOKEN = "chaos-am-token"

AM_CONFIG = """
global:
  resolve_timeout: 1h
route:
  receiver: bridge
  group_by: ['alertname', 'cluster_id']
  group_wait: 1s
  group_interval: 2s
  repeat_interval: {repeat}
receivers:
- name: bridge
  webhook_configs:
  - url: http://127.0.0.1:{port}/api/v1/webhook/alertmanager
    send_resolved: false
    max_alerts: 0
    http_config:
      authorization:
        credentials: {token}
"""


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (MB), from /proc."""
    total = 0
    for p in [pid, *_children(pid)]:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def _children(pid: int) -> list[int]:
    try:
        kids = [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []
    return kids + [g for k in kids for g in _children(k)]


@dataclass
class Role:
    """One role process; its output goes to `log` (appended across restarts, so log bytes add up)."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen | None = None
    starts: int = 0
    rss_start: float = 0.0

    def start(self) -> "Role":
        out = open(self.log, "ab")
        self.proc = subprocess.Popen(self.argv, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        out.close()
        self.starts += 1
        return self

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.alive:
            assert self.proc is not None
            os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)

    def rss(self) -> float:
        return rss_mb(self.proc.pid) if self.alive and self.proc is not None else 0.0

    def log_bytes(self) -> int:
        return self.log.stat().st_size if self.log.exists() else 0


def http_json(url: str, body: Any = None, key: str | None = DEFAULT_KEY, timeout: float = 10.0,
              headers: dict[str, str] | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    h = {**({"X-API-Key": key} if key else {}), **({"Content-Type": "application/json"} if data else {}),
         **(headers or {})}
    req = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET", headers=h)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read()
            return resp.status, json.loads(raw) if raw.strip() else None
    except urllib.error.HTTPError as err:
        raw = err.read()
        try:
            return err.code, json.loads(raw)
        except ValueError:
            return err.code, raw.decode(errors="replace")[:300]


@dataclass
class Stack:
    work: Path
    partitions: int = 8
    workers: int = 1
    prefix: str = "chaos"
    worker_env: dict[str, str] = field(default_factory=dict)
    with_sink: bool = False
    with_alertmanager: bool = True
    log_level: str = "INFO"
    static_membership: bool = True
    am_repeat_interval: str = "1h"  # Alertmanager re-sends every firing group this often (repeats, and recovery)
    external_bootstrap: str | None = None  # use this broker instead of starting one (no broker restarts then)
    kafka: LocalKafka | None = None
    bridge: Role | None = None
    am: Role | None = None
    sink: Role | None = None
    worker_roles: list[WorkerProcess] = field(default_factory=list)
    bridge_port: int = 0
    am_port: int = 0
    sink_port: int = 0
    kills: int = 0
    broker_restarts: int = 0

    # -- environment ---------------------------------------------------------------------------
    def base_env(self) -> dict[str, str]:
        assert self.kafka is not None
        return {**os.environ,
                "AETHERIUS_KAFKA__BOOTSTRAP": self.kafka.bootstrap,
                "AETHERIUS_KAFKA__TOPIC_PREFIX": self.prefix,
                "AETHERIUS_KAFKA__PARTITIONS": str(self.partitions),
                "AETHERIUS_WORKER__APP_ID": self.prefix,
                "AETHERIUS_SECURITY__API_KEYS": api_keys_env(),
                "AETHERIUS_LOG_LEVEL": self.log_level,
                "AETHERIUS_ANALYTICS__CHDB_PATH": str(self.work / "chdb"),
                "AETHERIUS_KNOWLEDGE__PATH": str(self.work / "knowledge"),
                **self.worker_env}

    # -- start / stop --------------------------------------------------------------------------
    def start(self) -> "Stack":
        self.work.mkdir(parents=True, exist_ok=True)
        if self.external_bootstrap:
            host, port = self.external_bootstrap.rsplit(":", 1)
            self.kafka = LocalKafka(port=int(port))  # not started: only its address is used
        else:
            self.kafka = LocalKafka(work_dir=self.work / "kafka", heap="768m").start()
        py = [sys.executable, "-m", "aetherius.cli"]
        self.bridge_port = free_port()
        self.bridge = Role("webhook", py + ["webhook", "--port", str(self.bridge_port)],
                           {**self.base_env(), "AETHERIUS_WEBHOOK__BEARER_TOKEN": BRIDGE_TOKEN},
                           self.work / "webhook.log").start()
        wait_for(lambda: self._ready(f"http://127.0.0.1:{self.bridge_port}/health/ready"), timeout=60,
                 what="the webhook bridge")
        for i in range(self.workers):
            self.worker_roles.append(self._worker(i).start(timeout=180))
        if self.with_sink:
            self.sink_port = free_port()
            self.sink = Role("sink", py + ["sink", "--port", str(self.sink_port)], self.base_env(),
                             self.work / "sink.log").start()
            wait_for(lambda: self._ready(f"http://127.0.0.1:{self.sink_port}/health/ready"), timeout=120,
                     what="the sink")
        if self.with_alertmanager:
            self.am_port = free_port()
            (self.work / "am.yml").write_text(AM_CONFIG.format(port=self.bridge_port, token=BRIDGE_TOKEN,
                                                               repeat=self.am_repeat_interval))
            self.am = Role("alertmanager", [ALERTMANAGER_BIN, f"--config.file={self.work / 'am.yml'}",
                                            f"--storage.path={self.work / 'am-data'}", "--cluster.listen-address=",
                                            f"--web.listen-address=127.0.0.1:{self.am_port}", "--log.level=warn"],
                           dict(os.environ), self.work / "alertmanager.log").start()
            wait_for(lambda: self._ready(f"http://127.0.0.1:{self.am_port}/-/ready"), timeout=30,
                     what="Alertmanager")
        for role in self.roles():
            role.rss_start = role.rss()
        return self

    def _worker(self, i: int) -> WorkerProcess:
        env = {k: v for k, v in self.base_env().items() if k.startswith("AETHERIUS_")}
        env.pop("AETHERIUS_WORKER__PORT", None)
        env["AETHERIUS_WORKER__DATA_DIR"] = str(self.work / f"worker{i}")
        env["AETHERIUS_KNOWLEDGE__PATH"] = str(self.work / f"knowledge{i}")
        if self.static_membership:
            env["AETHERIUS_WORKER__INSTANCE_ID"] = f"{self.prefix}-worker{i}"  # as a StatefulSet pod name
        return WorkerProcess(self.kafka.bootstrap, self.prefix, self.work, env_extra=env,  # type: ignore[union-attr]
                             name=f"worker{i}")

    @staticmethod
    def _ready(url: str) -> bool:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                return resp.status == 200
        except (OSError, urllib.error.HTTPError):
            return False

    def roles(self) -> list[Any]:
        return [r for r in (self.bridge, self.sink, self.am) if r is not None] + self.worker_roles

    def stop(self) -> None:
        for w in self.worker_roles:
            w.stop(kill=True)
        for role in (self.am, self.sink, self.bridge):
            if role is not None:
                role.kill(signal.SIGTERM)
        if self.kafka is not None and not self.external_bootstrap:
            self.kafka.stop(keep_data=True)

    # -- chaos ---------------------------------------------------------------------------------
    def kill_worker(self, i: int | None = None, down_seconds: float = 2.0, rng: random.Random | None = None) -> int:
        """kill -9 one worker (random if `i` is None), wait, start it again on the same port and data dir."""
        i = (rng or random).randrange(len(self.worker_roles)) if i is None else i
        w = self.worker_roles[i]
        w.stop(kill=True)
        self.kills += 1
        time.sleep(down_seconds)
        w.start(timeout=180)
        return i

    def restart_broker(self, down_seconds: float = 5.0) -> None:
        assert self.kafka is not None and not self.external_bootstrap
        self.kafka.restart(down_seconds=down_seconds)
        self.broker_restarts += 1

    # -- input ---------------------------------------------------------------------------------
    def post_alerts(self, alerts: list[dict[str, dict[str, str]]]) -> None:
        """Alerts (each {"labels": .., "annotations": ..}) to Alertmanager's API, as Prometheus would."""
        status, body = http_json(f"http://127.0.0.1:{self.am_port}/api/v2/alerts", alerts, key=None)
        assert status == 200, (status, body)

    def post_bridge(self, payload: dict[str, Any]) -> tuple[int, Any]:
        """A webhook payload straight to the bridge, as Alertmanager sends it."""
        return http_json(f"http://127.0.0.1:{self.bridge_port}/api/v1/webhook/alertmanager", payload, key=None,
                         headers={"Authorization": f"Bearer {BRIDGE_TOKEN}"}, timeout=30)


def am_payload(alerts: list[dict[str, Any]], receiver: str = "bridge") -> dict[str, Any]:
    """An Alertmanager version-4 webhook body around `alerts` (each with labels/annotations)."""
    return {"version": "4", "groupKey": "{}:{}", "status": "firing", "receiver": receiver, "truncatedAlerts": 0,
            "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://am",
            "alerts": [{"status": "firing", "labels": a["labels"], "annotations": a.get("annotations", {}),
                        "startsAt": "2026-01-01T00:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
                        "generatorURL": "", "fingerprint": ""} for a in alerts]}


# ------------------------------------------------------------------------------------------------ reading
async def read_topic(bootstrap: str, topic: str) -> list[tuple[bytes | None, bytes]]:
    from streams.record_replay import consume

    return [(r.key, r.value) async for r in consume(bootstrap, topic, snapshot=True)]


@dataclass
class Census:
    """What users see, counted."""

    tasks: dict[str, dict]  # id -> task (Task API)
    report_records: int  # records on the reports topic
    reports: dict[str, dict]  # report id -> report (deduplicated)
    deadletters: list[dict]
    gauges: dict[str, float]

    @property
    def duplicate_reports(self) -> int:
        return self.report_records - len(self.reports)

    def status_counts(self) -> Counter:
        return Counter(t["status"] for t in self.tasks.values())


def metric(text: str, name: str) -> float | None:
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return None


def census(stack: Stack) -> Census:
    assert stack.kafka is not None
    boot = stack.kafka.bootstrap
    reports_raw = asyncio.run(read_topic(boot, f"{stack.prefix}.reports"))
    reports = {}
    for _k, v in reports_raw:
        body = json.loads(v)
        reports.setdefault(body["task_id"], body)
    dead = [json.loads(v) for _k, v in asyncio.run(read_topic(boot, f"{stack.prefix}.deadletter"))]
    tasks: dict[str, dict] = {}
    for w in stack.worker_roles:
        try:
            status, body = w.get("/api/v1/tasks?limit=1000")
        except OSError:  # restarting
            continue
        if status == 200:
            for t in body["tasks"]:
                tasks[t["id"]] = t
    gauges: dict[str, float] = {}
    for w in stack.worker_roles:
        try:
            with urllib.request.urlopen(w.url + "/metrics", timeout=5) as resp:
                text = resp.read().decode()
        except OSError:
            continue
        for name in ("aetherius_tasks_running", "aetherius_queue_depth"):
            value = metric(text, name)
            if value is not None and value > gauges.get(name, -1):  # the scheduler's owner reports them
                gauges[name] = value
    return Census(tasks=tasks, report_records=len(reports_raw), reports=reports, deadletters=dead, gauges=gauges)


def until(predicate: Callable[[], Any], timeout: float, interval: float = 2.0) -> Any:
    """wait_for that returns the last value instead of raising (the caller reports what it saw)."""
    return wait_for(predicate, timeout=timeout, interval=interval, fail=False)


# ------------------------------------------------------------------------------------------------ workload
def cluster_dumps(root: Path, n: int, picked: tuple[str, ...] = ("oom-deployment", "crash-panic", "crash-init",
                                                                  "oom-sidecar")) -> dict[str, tuple[Path, dict, str]]:
    """n clusters, each a cluster-info dump of one fault: cluster id -> (dump dir, alert labels, category)."""
    from tests.dumpkit import DumpBuilder
    from tests.test_rules_categories import SCENARIOS

    by_id = {s[0]: s for s in SCENARIOS}
    out = {}
    for i in range(n):
        sid, scenario, category, *_ = by_id[picked[i % len(picked)]]
        builder = DumpBuilder(root / f"dump-{i}")
        labels = scenario(builder)
        builder.write()
        labels.pop("alertname", None)
        out[f"c{i}"] = (builder.root, labels, category.value)
    return out


def clusters_env(clusters: dict[str, tuple[Path, dict, str]]) -> str:
    return json.dumps({c: {"dump": str(d)} for c, (d, _l, _cat) in clusters.items()})


def distinct_alert(clusters: dict[str, tuple[Path, dict, str]], n: int, tag: str = "Chaos") -> dict[str, Any]:
    """The n-th distinct alert of a workload, cycling over the clusters."""
    cluster = sorted(clusters)[n % len(clusters)]
    labels = {**clusters[cluster][1], "alertname": f"{tag}{n}", "cluster_id": cluster, "severity": "warning"}
    return {"labels": labels, "annotations": {"summary": f"{tag} alert {n}"}}
