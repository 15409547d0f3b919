"""`aetherius demo`: the whole system on embedded defaults, on one machine, with nothing to configure.

It starts a local Kafka (or uses the cluster named by AETHERIUS_KAFKA_BOOTSTRAP or AETHERIUS_KAFKA__BOOTSTRAP),
makes the embedded knowledge base from the starter runbooks (ingested once per content, then copied from the
cache: aetherius/starter_kb.py), starts the real roles as processes (worker, sink, webhook bridge), posts a
bundled incident through the bridge exactly as Alertmanager would (alerts from three clusters, each cluster read
from a `kubectl cluster-info dump`), and prints what happened: each report as its diagnosis ends, the tasks with
priorities and the cross-cluster incident, stats and costs, and a "try next" block of commands that work as
printed. While it runs, its context file (aetherius/context.py) lets every `aetherius` command find it.
Ctrl-C, SIGTERM and SIGHUP stop everything it started (roles, Kafka and Kafka's data); --once exits after the
reports.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from aetherius.localkafka import REPO_ROOT, LocalKafka, external_bootstrap, free_port

DEMO_DIR = REPO_ROOT / "deploy" / "demo"
RUNBOOKS = REPO_ROOT / "deploy" / "knowledge" / "runbooks"
EXPECTED_TASKS = 6  # see deploy/demo/generate.py: 7 payloads, one duplicate, one incident over three clusters
TERMINAL = ("completed", "failed", "timeout", "cancelled")
# The "try next" alert: a new alertname on a pod the bundled incident alerts on, so it is a new task.
TRY_ALERT = ["--cluster", "prod-eu", "--namespace", "ecommerce", "--pod", "payment-service-7d8f9b456-xyz12",
             "--alertname", "KubePodNotReady"]


class DemoError(RuntimeError):
    pass


class Stopped(KeyboardInterrupt):
    """SIGTERM or SIGHUP: unwinds like Ctrl-C, so everything started is stopped on the way out."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def interactive() -> bool:
    """Progress bars only when a person watches both streams; logs, pipes and CI get plain lines."""
    return sys.stdout.isatty() and sys.stderr.isatty() and os.environ.get("TERM") != "dumb"


class Progress:
    """One line per step with its time since start; bars (rich) for the long steps when on a terminal."""

    def __init__(self, out=None, bars: bool | None = None) -> None:  # noqa: ANN001 - None: sys.stderr when printing
        self._out = out
        self.started = time.monotonic()
        self.bars = interactive() if bars is None else bars
        self._bar: Any = None

    @property
    def out(self):  # noqa: ANN201 - looked up at each print, so a live progress bar's redirect catches the line
        return self._out or sys.stderr

    def __call__(self, message: str) -> None:
        stamp = f"[{time.monotonic() - self.started:6.1f}s]"
        if self.bars:
            stamp = f"\033[1m{stamp}\033[0m"
        print(f"{stamp} {message}", file=self.out, flush=True)

    def bar(self, description: str, total: int | None):  # noqa: ANN201
        """A context manager yielding (advance(n), set_total(n)); a no-op pair when not on a terminal."""
        from contextlib import contextmanager

        @contextmanager
        def run():  # noqa: ANN202
            if not self.bars:
                yield (lambda _n=1: None), (lambda _t: None)
                return
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress as Bars, TextColumn, TimeElapsedColumn

            with Bars(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=Console(file=self.out), transient=True) as bars:
                task = bars.add_task(description, total=total)
                yield (lambda n=1: bars.advance(task, n)), (lambda t: bars.update(task, total=t))

        return run()


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
    kafka: LocalKafka | None = None  # the broker the demo started (None: it uses one named in the environment)

    # -- set-up -----------------------------------------------------------------------------------
    def configure(self, bootstrap: str) -> None:
        from aetherius.http.auth import generate_api_key, hash_api_key

        self.api_key, self.webhook_token = generate_api_key(), uuid.uuid4().hex
        clusters = {p.name: {"dump": str(p)} for p in sorted((DEMO_DIR / "clusters").iterdir()) if p.is_dir()}
        prefix = f"demo{int(time.time())}"
        self.env = {
            **os.environ,
            "AETHERIUS_CONTEXT": "none",  # the roles are the stack; they never follow another context
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
        self.env["AETHERIUS_CONSOLE__COOKIE_SECURE"] = "false"  # the console is plain HTTP on 127.0.0.1 here
        for name, port_var in (("worker", "AETHERIUS_WORKER__PORT"), ("sink", "AETHERIUS_ANALYTICS__API_PORT"),
                               ("webhook", "AETHERIUS_WEBHOOK__PORT"), ("console", "AETHERIUS_CONSOLE__PORT")):
            port = free_port()
            self.env[port_var] = str(port)
            self.roles[name] = Role(name, cli + [name], port, logs / f"{name}.log")

    def ingest_runbooks(self) -> None:
        """The starter runbooks into the embedded knowledge base: copied from the cache when it holds this
        content, else ingested here with a progress bar (and cached for the next demo)."""
        from aetherius import starter_kb
        from schemas.knowledge_settings import KnowledgeSettings

        if not RUNBOOKS.is_dir():
            self.progress("no starter runbooks found; skipping the knowledge base")
            return
        progress = self.progress
        with progress.bar("embedding runbook sections", None) if isinstance(progress, Progress) else \
                _no_bar() as (advance, set_total):
            try:
                ready = starter_kb.prepare(self.work_dir / "knowledge", KnowledgeSettings(),
                                           on_phase=lambda m: progress(f"knowledge base: {m} and ingesting the "
                                                                       "starter runbooks (once; later demos reuse it)"),
                                           on_total=set_total, on_done=advance)
            except Exception as exc:  # noqa: BLE001 - any failure here is the demo's to explain
                raise DemoError(f"the knowledge base could not be built: {type(exc).__name__}: {exc}") from exc
        how = f"copied from the cache {starter_kb.cache_root()}" if ready.cached else "ingested and cached"
        progress(f"knowledge base ready: {ready.sections} sections from {ready.documents} runbooks, version "
                 f"{ready.version} ({how})")

    def launch_roles(self, names: tuple[str, ...] | None = None) -> None:
        """Start role processes without waiting (`start_roles` waits until every one is ready)."""
        for name in names or tuple(self.roles):
            role = self.roles[name]
            if role.process is not None:
                continue
            log = open(role.log, "ab")
            role.process = subprocess.Popen(role.argv, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                            cwd=REPO_ROOT, start_new_session=True)
            log.close()

    def start_roles(self) -> None:
        self.launch_roles()
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

    def url(self, role: str) -> str:
        return f"http://127.0.0.1:{self.roles[role].port}"

    def context(self) -> Any:
        from aetherius.context import StackContext

        return StackContext(
            name="demo", pid=os.getpid(), apis={r: self.url(r) for r in self.roles if r != "console"},
            api_key=self.api_key, console=f"{self.url('console')}/ui/" if "console" in self.roles else "",
            webhook_token=self.webhook_token, kafka_bootstrap=self.env["AETHERIUS_KAFKA__BOOTSTRAP"],
            topic_prefix=self.env["AETHERIUS_KAFKA__TOPIC_PREFIX"],
            data_dirs={"work": str(self.work_dir), "knowledge": str(self.work_dir / "knowledge"),
                       "clickhouse": str(self.work_dir / "clickhouse"), "worker": str(self.work_dir / "worker"),
                       "logs": str(self.work_dir / "logs"),
                       **({"kafka": str(self.kafka.work_dir)} if self.kafka and self.kafka.work_dir else {})},
            processes={**{r: role.process.pid for r, role in self.roles.items() if role.process is not None},
                       **({"kafka": self.kafka.process.pid} if self.kafka and self.kafka.process else {})},
            written_at=time.time())

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

    def tasks(self) -> list[dict[str, Any]]:
        status, body = self.http("GET", self.roles["worker"], "/api/v1/tasks?limit=100")
        if status != 200:
            raise DemoError(f"the Task API answered {status}: {body}")
        return body["tasks"]

    def wait_for_tasks(self, timeout: float = 180.0,
                       on_finished: Callable[[list[dict[str, Any]]], None] = lambda _t: None) -> list[dict[str, Any]]:
        """Every expected task, once all have ended; `on_finished(tasks)` is called with each newly ended batch."""
        deadline = time.monotonic() + timeout
        tasks: list[dict[str, Any]] = []
        seen: set[str] = set()
        while time.monotonic() < deadline:
            tasks = self.tasks()
            ended = [t for t in tasks if t["status"] in TERMINAL and t["id"] not in seen]
            if ended:
                seen.update(t["id"] for t in ended)
                on_finished(ended)
            if len(tasks) >= EXPECTED_TASKS and len(seen) == len(tasks):
                return tasks
            time.sleep(0.3)
        seen = ", ".join(f"{t['context']['alertname']}@{t['cluster_id']}={t['status']}" for t in tasks) or "none"
        raise DemoError(f"{len(tasks)} tasks after {timeout:.0f}s, expected {EXPECTED_TASKS} finished ({seen}); "
                        f"see the logs in {self.work_dir / 'logs'}")

    def reports(self, task_ids: set[str], timeout: float = 30.0) -> dict[str, Any]:
        """The reports of `task_ids` from the reports topic; the step loop sends a report just before the task's
        final snapshot, so a task the Task API shows as ended has its report there (retried briefly for lag)."""
        from aetherius.reportfeed import read_reports

        deadline = time.monotonic() + timeout
        while True:
            found = read_reports(self.env["AETHERIUS_KAFKA__BOOTSTRAP"], self.env["AETHERIUS_KAFKA__TOPIC_PREFIX"],
                                 task_ids)
            if set(found) >= task_ids or time.monotonic() > deadline:
                return found
            time.sleep(0.3)

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


def print_tasks(tasks: list[dict[str, Any]], out=None) -> None:  # noqa: ANN001
    from sinks.clickhouse.terminal import table

    rows = [{"task": t["id"][:8], "cluster": t["cluster_id"], "alert": t["context"]["alertname"],
             "target": f"{t['resource']['kind'].lower()}/{t['namespace']}/{t['resource']['name']}",
             "priority": t["priority"], "status": t["status"],
             "incident": t["context"]["incident_id"][:8] if t["context"].get("incident_id") else "",
             "cross-cluster": ",".join(t["context"]["clusters"]) if t["context"].get("incident_id") else ""}
            for t in sorted(tasks, key=lambda t: (t["priority"], t["cluster_id"]))]
    print(table(rows, ["task", "priority", "cluster", "alert", "target", "status", "incident", "cross-cluster"],
                title="Diagnostic tasks"), file=out or sys.stdout)


def program() -> str:
    """How the person who started the demo runs `aetherius` again, for commands printed to be pasted as they are."""
    argv0 = Path(sys.argv[0])
    if argv0.name == "aetherius":  # the console script: as typed, unless `aetherius` alone finds the same one
        found = shutil.which("aetherius")
        if found and Path(found).resolve() == argv0.resolve():
            return "aetherius"
        return str(argv0) if not argv0.is_absolute() or len(str(argv0)) < 60 else str(argv0)
    return f"{sys.executable} -m aetherius.cli"


def try_next(demo: Demo, tasks: list[dict[str, Any]], context_path: Path | None) -> list[tuple[str, str]]:
    """(command, what it shows): every command works as printed against the running demo (tests/test_demo.py
    runs them)."""
    import shlex

    prog = program()
    first = sorted(tasks, key=lambda t: (t["priority"], t["cluster_id"]))[0]["id"][:8] if tasks else "TASK"
    return [
        (f"{prog} alert {' '.join(TRY_ALERT)}", "a new alert through the bridge -> a new task -> its report"),
        (f"{prog} tasks list", "every task, newest first"),
        (f"{prog} tasks show {first}", "one task (by id prefix) and its report"),
        (f"{prog} tasks cancel {first}", "stops a pending or running task; one that already ended stays as it ended"),
        (f"{prog} kb search {shlex.quote('pod killed for memory')}", "the knowledge base the worker searches"),
        (f"{prog} stats", "diagnosis statistics from ClickHouse"),
        (f"{prog} costs --group-by model", "LLM spend (the rule engine is free) and the budget"),
    ]


def print_try_next(demo: Demo, tasks: list[dict[str, Any]], context_path: Path | None, once: bool,
                   out=None) -> None:  # noqa: ANN001
    out = out or sys.stdout
    where = f"the context in {context_path}" if context_path else "no context file (AETHERIUS_CONTEXT=none)"
    lines = ["", "Try next, in another terminal (no flags needed: the commands find this demo through "
             f"{where}):", ""]
    for command, what in try_next(demo, tasks, context_path):
        lines += [f"  # {what}", f"  {command}"]
    lines += ["", f"Web console: {demo.url('console')}/ui/ - sign in with the demo's admin API key "
              f"(`{program()} context --show-key` prints it; it is also in the context file). Tasks and their steps "
              "live, reports, feedback, stop, incidents, audit log, costs, knowledge."]
    if once:
        lines.append("(--once: the demo stops now, so these commands need `make demo` or `aetherius demo` running.)")
    else:
        lines.append(f"Ctrl-C (or kill {os.getpid()}) stops everything this demo started.")
    print("\n".join(lines), file=out, flush=True)


def _stop_kafka(kafka: LocalKafka, starting: Any) -> None:
    """Stop the demo's broker once its start has returned (it may still be starting when a signal lands)."""
    try:
        starting.result(timeout=120)
    except BaseException:  # noqa: BLE001 - a failed start has nothing more to stop than what stop() handles
        pass
    kafka.stop()


def _install_stop_signals() -> dict[int, Any]:
    """SIGTERM and SIGHUP unwind like Ctrl-C (a service manager or a closed terminal sends them)."""
    def stop(signum: int, _frame: Any) -> None:
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):  # the clean-up is bounded; let it finish
            signal.signal(sig, signal.SIG_IGN)
        raise Stopped(signum)

    return {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGHUP)}


def run_demo(once: bool, work_dir: Path | None = None, out=None) -> int:  # noqa: ANN001
    from aetherius.context import remove_context, write_context
    from sinks.clickhouse.terminal import table
    from sinks.report import render_markdown

    previous = _install_stop_signals()
    progress = Progress()
    work_dir = work_dir or REPO_ROOT / "var" / "demo" / time.strftime("%Y%m%d-%H%M%S")
    work_dir.mkdir(parents=True, exist_ok=True)
    demo = Demo(work_dir=work_dir, progress=progress)
    try:
        with ExitStack() as stack:
            bootstrap = external_bootstrap()
            starting = None
            if bootstrap is None:  # the broker starts (a JVM: seconds) while the knowledge base is made
                progress("starting Kafka (single node, KRaft; the first run downloads the jars)")
                demo.kafka = LocalKafka()
                starting = stack.enter_context(ThreadPoolExecutor(1)).submit(demo.kafka.start, progress=progress)
                stack.callback(_stop_kafka, demo.kafka, starting)  # also when a signal lands mid-start
            else:
                progress(f"using the Kafka named in the environment: {bootstrap}")
            demo.ingest_runbooks()
            if starting is not None:
                starting.result()
                bootstrap = demo.kafka.bootstrap
                progress(f"Kafka ready at {bootstrap} (data in {demo.kafka.work_dir}, removed when the demo stops)")
            demo.configure(bootstrap)
            stack.callback(demo.stop)
            progress("starting the roles: worker (pipeline + step loop), sink (reports + ClickHouse), webhook bridge, "
                     "web console")
            demo.start_roles()
            context_path = write_context(demo.context())
            stack.callback(remove_context, os.getpid(), context_path)
            demo.post_alerts()
            progress("waiting for the pipeline: dedup -> priority -> correlation -> tasks -> diagnosis steps -> reports")
            shown: dict[str, Any] = {}
            with progress.bar("diagnoses", EXPECTED_TASKS) as (advance, _total):
                def on_finished(ended: list[dict[str, Any]]) -> None:
                    found = demo.reports({t["id"] for t in ended})
                    for task in sorted(ended, key=lambda t: (t["priority"], t["cluster_id"])):
                        result = found.get(task["id"])
                        if result is not None:
                            print(render_markdown(result, task=task), file=out or sys.stdout)
                            print("-" * 100, file=out or sys.stdout, flush=True)
                            shown[task["id"]] = result
                        advance(1)
                    progress(f"{len(shown)} of {EXPECTED_TASKS} reports")

                tasks = demo.wait_for_tasks(on_finished=on_finished)
            missing = {t["id"] for t in tasks} - set(shown)
            if missing:  # a report the topic did not have at the first look: show it now
                for task_id, result in demo.reports(missing).items():
                    print(render_markdown(result, task=next(t for t in tasks if t["id"] == task_id)),
                          file=out or sys.stdout)
                    shown[task_id] = result
            tasks = demo.tasks()  # the latest view: incidents formed while members ran are on every member now
            print_tasks(tasks, out)
            incidents = {t["context"]["incident_id"] for t in tasks if t["context"].get("incident_id")}
            print(f"\n{len(tasks)} tasks from 7 alerts (1 duplicate suppressed); {len(incidents)} cross-cluster "
                  "incident\n", file=out or sys.stdout)
            stats = demo.analytics("/api/v1/stats", ready=_all_landed(len(tasks)))
            costs = demo.analytics("/api/v1/costs?group_by=model")
            o = out or sys.stdout
            print(table(stats.get("by_category", []), ["category", "reports", "avg_confidence"],
                        title="Stats: root causes (from ClickHouse)"), file=o)
            print(table(stats.get("by_status", []), ["status", "tasks"], title="Stats: task status"), file=o)
            print(table(costs.get("rows", []) or [costs.get("totals", {})], ["model", "tokens", "cost_usd"],
                        title="Costs (the rule engine is free; set OPENAI_API_KEY to use an LLM)"), file=o)
            progress(f"done: {len(shown)} reports. Logs and data: {work_dir}")
            print_try_next(demo, tasks, context_path, once, out)
            if once:
                return 0 if len(shown) == len(tasks) else 1
            while all(r.process is not None and r.process.poll() is None for r in demo.roles.values()):
                time.sleep(1)
            raise DemoError("a role stopped unexpectedly; see the logs in " + str(work_dir / "logs"))
    except Stopped as stop:
        progress(f"{stop}: stopped everything the demo started")
        return 128 + stop.signum
    except KeyboardInterrupt:
        progress("stopped everything the demo started")
        return 130
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class _no_bar:
    def __enter__(self):  # noqa: ANN204
        return (lambda _n=1: None), (lambda _t: None)

    def __exit__(self, *exc: object) -> None:
        return None
