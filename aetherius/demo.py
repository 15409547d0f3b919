"""`aetherius demo`: the whole system on embedded defaults, on one machine, with nothing to configure.

It starts a local Kafka (or uses AETHERIUS_KAFKA__BOOTSTRAP), ingests the starter runbooks into the
embedded knowledge base, starts the real roles as processes (worker, sink, webhook bridge), posts a bundled
incident through the bridge exactly as Alertmanager would (alerts from three clusters, each cluster read
from a `kubectl cluster-info dump`), and prints what happened: tasks with priorities, the cross-cluster
incident, every report, costs and stats. Then it keeps running until Ctrl-C (or exits with --once).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from aetherius.localkafka import REPO_ROOT, free_port, kafka_bootstrap

DEMO_DIR = REPO_ROOT / "deploy" / "demo"
RUNBOOKS = REPO_ROOT / "deploy" / "knowledge" / "runbooks"
EXPECTED_TASKS = 6  # see deploy/demo/generate.py: 7 payloads, one duplicate, one incident over three clusters


class DemoError(RuntimeError):
    pass


class Progress:
    """One line per step with its duration: what a person waiting at a terminal wants to see."""

    def __init__(self, out=sys.stderr) -> None:
        self.out = out
        self.started = time.monotonic()
        self.step = 0

    def __call__(self, message: str) -> None:
        self.step += 1
        print(f"\033[1m[{time.monotonic() - self.started:6.1f}s]\033[0m {message}", file=self.out, flush=True)


@dataclass
class Role:
    name: str
    argv: list[str]
    port: int
    log: Path
    process: subprocess.Popen | None = None


@dataclass
class Demo:
    work_dir: Path
    progress: Callable[[str], None] = field(default_factory=Progress)
    api_key: str = ""
    webhook_token: str = ""
    roles: dict[str, Role] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)

    # -- set-up -----------------------------------------------------------------------------------
    def configure(self, bootstrap: str) -> None:
        from aetherius.http.auth import generate_api_key, hash_api_key

        self.api_key, self.webhook_token = generate_api_key(), uuid.uuid4().hex
        clusters = {p.name: {"dump": str(p)} for p in sorted((DEMO_DIR / "clusters").iterdir()) if p.is_dir()}
        prefix = f"demo{int(time.time())}"
        self.env = {
            **os.environ,
            "AETHERIUS_KAFKA__BOOTSTRAP": bootstrap,
            "AETHERIUS_KAFKA__TOPIC_PREFIX": prefix,
            "AETHERIUS_WORKER__APP_ID": prefix,
            "AETHERIUS_WORKER__DATA_DIR": str(self.work_dir / "worker"),
            "AETHERIUS_ANALYTICS__CHDB_PATH": str(self.work_dir / "clickhouse"),
            "AETHERIUS_KNOWLEDGE__PATH": str(self.work_dir / "knowledge"),
            "AETHERIUS_CLUSTERS": json.dumps(clusters),
            "AETHERIUS_PIPELINE__BUSINESS_IMPACT": json.dumps({"ecommerce": 9, "shop": 5}),
            "AETHERIUS_SECURITY__API_KEYS": json.dumps([{"name": "demo", "role": "admin",
                                                          "hash": hash_api_key(self.api_key)}]),
            "AETHERIUS_WEBHOOK__BEARER_TOKEN": self.webhook_token,
            "AETHERIUS_LOG_LEVEL": "WARNING",
        }
        self.env.pop("AETHERIUS_CONFIG", None)
        logs = self.work_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        cli = [sys.executable, "-m", "aetherius.cli"]
        for name, port_var in (("worker", "AETHERIUS_WORKER__PORT"), ("sink", "AETHERIUS_ANALYTICS__API_PORT"),
                               ("webhook", "AETHERIUS_WEBHOOK__PORT")):
            port = free_port()
            self.env[port_var] = str(port)
            self.roles[name] = Role(name, cli + [name], port, logs / f"{name}.log")

    def ingest_runbooks(self) -> None:
        if not RUNBOOKS.is_dir():
            self.progress("no starter runbooks found; skipping the knowledge base")
            return
        self.progress("loading the embedding model and ingesting the starter runbooks into the knowledge base")
        proc = subprocess.run([sys.executable, "-m", "aetherius.cli", "kb", "ingest", str(RUNBOOKS)], env=self.env,
                              capture_output=True, text=True, timeout=600)
        if proc.returncode != 0:
            raise DemoError(f"kb ingest failed: {proc.stderr.strip()[-500:]}")
        self.progress(f"knowledge base ready: {proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else 'ok'}")

    def start_roles(self) -> None:
        for role in self.roles.values():
            log = open(role.log, "ab")
            role.process = subprocess.Popen(role.argv, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                            cwd=REPO_ROOT, start_new_session=True)
            log.close()
        for role in self.roles.values():
            self._wait_ready(role)
            self.progress(f"{role.name:8} ready on http://127.0.0.1:{role.port}  (log: {role.log})")

    def _wait_ready(self, role: Role, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert role.process is not None
            if role.process.poll() is not None:
                raise DemoError(f"{role.name} exited with {role.process.returncode}; see {role.log}:\n"
                                + role.log.read_text()[-1500:])
            try:
                if self.http("GET", role, "/health/ready")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.3)
        raise DemoError(f"{role.name} was not ready in {timeout:.0f}s; see {role.log}")

    def stop(self) -> None:
        for role in self.roles.values():
            if role.process is not None and role.process.poll() is None:
                os.killpg(role.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for role in self.roles.values():
            if role.process is None:
                continue
            try:
                role.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:  # Faust can hang on shutdown; the demo must not
                os.killpg(role.process.pid, signal.SIGKILL)
                role.process.wait(5)

    # -- HTTP -------------------------------------------------------------------------------------
    def http(self, method: str, role: Role, path: str, body: Any = None,
             headers: dict[str, str] | None = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        hdrs = {"Content-Type": "application/json", **(headers or {"X-API-Key": self.api_key})}
        request = urllib.request.Request(f"http://127.0.0.1:{role.port}{path}", data=data, method=method, headers=hdrs)
        try:
            with urllib.request.urlopen(request, timeout=30) as resp:
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"null")

    def curl_example(self) -> str:
        payload = (DEMO_DIR / "alerts" / "06-staging-KubePodNotReady.json").resolve()
        return (f"curl -sS -X POST http://127.0.0.1:{self.roles['webhook'].port}/api/v1/webhook/alertmanager \\\n"
                f"  -H 'Authorization: Bearer {self.webhook_token}' -H 'Content-Type: application/json' \\\n"
                f"  --data @{payload}")

    # -- the incident -----------------------------------------------------------------------------
    def post_alerts(self) -> int:
        files = sorted((DEMO_DIR / "alerts").glob("*.json"))
        webhook = self.roles["webhook"]
        for path in files:
            status, answer = self.http("POST", webhook, "/api/v1/webhook/alertmanager", json.loads(path.read_text()),
                                       headers={"Authorization": f"Bearer {self.webhook_token}"})
            if status != 200:
                raise DemoError(f"the bridge refused {path.name}: {status} {answer}")
        self.progress(f"posted {len(files)} Alertmanager payloads from 3 clusters through the webhook bridge")
        return len(files)

    def wait_for_tasks(self, timeout: float = 180.0) -> list[dict[str, Any]]:
        worker = self.roles["worker"]
        deadline = time.monotonic() + timeout
        tasks: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            status, body = self.http("GET", worker, "/api/v1/tasks?limit=100")
            if status != 200:
                raise DemoError(f"the Task API answered {status}: {body}")
            tasks = body["tasks"]
            finished = [t for t in tasks if t["status"] in ("completed", "failed", "timeout", "cancelled")]
            if len(tasks) >= EXPECTED_TASKS and len(finished) == len(tasks):
                return tasks
            time.sleep(0.5)
        seen = ", ".join(f"{t['context']['alertname']}@{t['cluster_id']}={t['status']}" for t in tasks) or "none"
        raise DemoError(f"{len(tasks)} tasks after {timeout:.0f}s, expected {EXPECTED_TASKS} finished ({seen}); "
                        f"see the logs in {self.work_dir / 'logs'}")

    def reports(self) -> list[Any]:
        """Every report on the reports topic (one per task; the latest wins if a crash ever doubled one)."""
        import asyncio

        from schemas.result import DiagnosticResult
        from schemas.topics import topic_name
        from streams.record_replay import consume

        topic = topic_name(self.env["AETHERIUS_KAFKA__TOPIC_PREFIX"], "reports")

        async def read() -> dict[str, DiagnosticResult]:
            out: dict[str, DiagnosticResult] = {}
            async for record in consume(self.env["AETHERIUS_KAFKA__BOOTSTRAP"], topic, snapshot=True):
                result = DiagnosticResult.from_bytes(record.value)
                out[result.task_id] = result
            return out

        return list(asyncio.run(read()).values())

    def analytics(self, path: str, ready: Callable[[dict[str, Any]], bool] = lambda _b: True,
                  timeout: float = 30.0) -> dict[str, Any]:
        """Ask the sink's API, waiting until `ready(answer)`: the sink writes in batches, a second or so behind."""
        deadline = time.monotonic() + timeout
        while True:
            status, body = self.http("GET", self.roles["sink"], path)
            if status != 200:
                raise DemoError(f"analytics API {path} answered {status}: {body}")
            if ready(body) or time.monotonic() > deadline:
                return body
            time.sleep(0.5)


def _all_landed(count: int) -> Callable[[dict[str, Any]], bool]:
    def ready(stats: dict[str, Any]) -> bool:
        done = sum(int(r.get("tasks") or 0) for r in stats.get("by_status", []) if r.get("status") == "completed")
        reported = sum(int(r.get("reports") or 0) for r in stats.get("by_category", []))
        return done >= count and reported >= count
    return ready


def print_tasks(tasks: list[dict[str, Any]], out=sys.stdout) -> None:
    from sinks.clickhouse.terminal import table

    rows = [{"task": t["id"][:8], "cluster": t["cluster_id"], "alert": t["context"]["alertname"],
             "target": f"{t['resource']['kind'].lower()}/{t['namespace']}/{t['resource']['name']}",
             "priority": t["priority"], "status": t["status"],
             "cross-cluster": ",".join(t["context"]["clusters"]) if t["context"].get("incident_id") else ""}
            for t in sorted(tasks, key=lambda t: (t["priority"], t["cluster_id"]))]
    print(table(rows, ["task", "priority", "cluster", "alert", "target", "status", "cross-cluster"],
                title="Diagnostic tasks"), file=out)


def run_demo(once: bool, work_dir: Path | None = None, out=sys.stdout) -> int:
    from sinks.clickhouse.terminal import table
    from sinks.report import render_markdown

    progress = Progress()
    work_dir = work_dir or REPO_ROOT / "var" / "demo" / time.strftime("%Y%m%d-%H%M%S")
    work_dir.mkdir(parents=True, exist_ok=True)
    demo = Demo(work_dir=work_dir, progress=progress)
    with ExitStack() as stack:
        progress("starting Kafka (single node, KRaft; the first run downloads the jars)")
        bootstrap = stack.enter_context(kafka_bootstrap(progress))
        progress(f"Kafka ready at {bootstrap}")
        demo.configure(bootstrap)
        demo.ingest_runbooks()
        stack.callback(demo.stop)
        progress("starting the roles: worker (pipeline + step loop), sink (reports + ClickHouse), webhook bridge")
        demo.start_roles()
        demo.post_alerts()
        progress("waiting for the pipeline: dedup -> priority -> correlation -> tasks -> diagnosis steps -> reports")
        tasks = demo.wait_for_tasks()
        print_tasks(tasks, out)
        incidents = {t["context"]["incident_id"] for t in tasks if t["context"].get("incident_id")}
        print(f"\n{len(tasks)} tasks from 7 alerts (1 duplicate suppressed); {len(incidents)} cross-cluster incident\n",
              file=out)
        reports = sorted(demo.reports(), key=lambda r: r.cluster_id)
        for result in reports:
            print(render_markdown(result), file=out)
            print("-" * 100, file=out)
        stats = demo.analytics("/api/v1/stats", ready=_all_landed(len(tasks)))
        costs = demo.analytics("/api/v1/costs?group_by=model")
        print(table(stats.get("by_category", []), ["category", "reports", "avg_confidence"],
                    title="Stats: root causes (from ClickHouse)"), file=out)
        print(table(stats.get("by_status", []), ["status", "tasks"], title="Stats: task status"), file=out)
        print(table(costs.get("rows", []) or [costs.get("totals", {})], ["model", "tokens", "cost_usd"],
                    title="Costs (the rule engine is free; set OPENAI_API_KEY to use an LLM)"), file=out)
        progress(f"done: {len(reports)} reports. Logs and data: {work_dir}")
        if once:
            return 0 if len(reports) == len(tasks) else 1
        print("\nThe bridge and workers keep running. Post another alert with:\n\n" + demo.curl_example()
              + f"\n\nTask API: curl -H 'X-API-Key: {demo.api_key}' "
              f"http://127.0.0.1:{demo.roles['worker'].port}/api/v1/tasks\nCtrl-C stops everything.", file=out)
        try:
            while all(r.process is not None and r.process.poll() is None for r in demo.roles.values()):
                time.sleep(1)
            raise DemoError("a role stopped unexpectedly; see the logs in " + str(work_dir / "logs"))
        except KeyboardInterrupt:
            progress("stopping")
    return 0
