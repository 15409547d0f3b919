"""Issue 14 end to end: planted secrets never leave, look-alikes are never mangled, on every path out.

Every kind of tests/data/secrets_corpus_planted.yaml (85 kinds) is planted in a cluster dump - pod env vars, the
last-applied-configuration annotation, another annotation, previous logs, event messages, a Secret - and in an
alert (labels and annotations, through the webhook bridge) and a manual request's reason (POST /api/v1/tasks).
The whole system runs: the bridge (in process, real HTTP, real producer), `aetherius worker` and `aetherius sink`
(subprocesses, real broker), the sink delivering reports to Slack, Teams and a signed webhook (local stand-ins:
no real Slack or Teams can run here; there is no email sink). Then every record of every topic of the run
(keys, values, headers; Faust changelogs included), every row of every chdb table, every report payload, the Task
API (list and detail), and every log line (bridge, worker, sink) are searched for each secret:
0 leaks. Every look-alike (kubectl fix commands, digests, UUIDs, base64 config, names that name a secret) comes out
unchanged where it is carried: the tool output on the steps topic and the alert's text in the Task API.

The offline CLI (`aetherius diagnose --format json|markdown`) is checked on the same dump and alert file in
`test_offline_cli_never_prints_a_secret`.

Prints a table (`-s`): planted secrets tried / leaked per sink; look-alikes tried / mangled.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import signal
import subprocess
import sys
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp.test_utils import TestClient, TestServer

from aetherius.localkafka import free_port
from aetherius.logging import JsonLines
from schemas.settings import Settings
from streams.producer import Producer
from streams.webhook import create_app
from tests.dumpkit import Ctr, DumpBuilder, alert_payload
from tests.fake_slack import FakeHooks
from tests.threaded import InThread
from tests.workerproc import TEST_KEYS, WorkerProcess, api_keys_env, wait_for

pytestmark = pytest.mark.kafka

REPO = Path(__file__).resolve().parents[1]
CORPUS = yaml.safe_load((Path(__file__).parent / "data" / "secrets_corpus_planted.yaml").read_text())
KINDS: list[dict[str, str]] = CORPUS["kinds"]
LOOKALIKES: list[str] = CORPUS["lookalikes"]
NS, POD, CLUSTER = "shop", "api-7d9f8b6c5d-x2k4j", "c0"
ENV_LINE = __import__("re").compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(\S+)$")


# ---------------------------------------------------------------- what is planted, and where

def plant_dump(root: Path) -> Path:
    """A crash-looping pod whose env, annotations, logs, events and Secret carry every kind."""
    b = DumpBuilder(root)
    rs = b.deployment(NS, "api", replicas=1, ready=0)
    pod = b.pod(NS, POD, [Ctr("api", state="waiting", reason="CrashLoopBackOff", ready=False, restarts=7,
                              message="back-off 5m0s restarting failed container",
                              last={"reason": "Error", "exitCode": 1})], owner=("ReplicaSet", rs), labels={"app": "api"})
    env = [{"name": m.group(1), "value": m.group(2)} for k in KINDS if (m := ENV_LINE.match(k["text"]))]
    env += [{"name": "LOG_LEVEL", "value": "debug"}, {"name": "DB_PASSWORD_FILE", "value": "/run/secrets/db"}]
    pod["spec"]["containers"][0]["env"] = env
    last_applied = json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": POD},
                               "spec": {"containers": [{"name": "api", "env": env}]}})
    pod["metadata"]["annotations"] = {"kubectl.kubernetes.io/last-applied-configuration": last_applied,
                                      "ops.example.com/notes": "\n".join(k["text"] for k in KINDS[:40])}
    logs = "\n".join([f"2026-12-01T10:00:{i % 60:02d}Z {k['text']}" for i, k in enumerate(KINDS)] + LOOKALIKES)
    b.logs(NS, POD, logs + "\nfatal: cannot connect to the database, exiting\n", container="api", previous=True)
    b.logs(NS, POD, "\n".join(k["text"] for k in KINDS[40:]) + "\n", container="api")
    for k in KINDS:
        if "\n" not in k["text"]:
            b.event(NS, "Pod", POD, "Failed", f"container api failed: {k['text']}", count=2)
    b.secret(NS, "db-creds", {k["kind"][:60].replace("_", "-"): base64.b64encode(k["secret"].encode()).decode()
                              for k in KINDS})
    return b.write()


def alert_body() -> dict[str, Any]:
    """Every kind in the alert's annotations (within their budgets), a few in labels; look-alikes in its notes."""
    texts = [k["text"] for k in KINDS]
    quarter = len(texts) // 4 + 1
    annotations = {f"description_{i}": "\n".join(texts[i * quarter:(i + 1) * quarter]) for i in range(4)}
    annotations["summary"] = f"{POD} is crash looping"
    annotations["runbook_url"] = "https://ops:PLANTEDrunbookUrlPass@wiki.example.com/runbooks/api"
    annotations["notes"] = "\n".join(LOOKALIKES)
    labels = {"namespace": NS, "pod": POD, "cluster_id": CLUSTER, "severity": "critical",
              "db_password": "PLANTEDlabelDbPassword", "api_token": "ghp_PLANTEDlabelToken0abcdefghijklmnopqrstu"}
    body = alert_payload(labels, alertname="KubePodCrashLooping")
    body["alerts"][0]["annotations"] = annotations
    body["alerts"][0]["generatorURL"] = "https://admin:PLANTEDgeneratorPass@prometheus.example.com/graph?g0.expr=up"
    return body


EXTRA_SECRETS = ["PLANTEDrunbookUrlPass", "PLANTEDlabelDbPassword", "ghp_PLANTEDlabelToken0abcdefghijklmnopqrstu",
                 "PLANTEDgeneratorPass", "PLANTEDreasonRedis9", "PLANTEDreasonBearer0abcdef123456"]
REASON = ("checkout is down; the redis password is PLANTEDreasonRedis9 per the on-call note; "
          "curl -H 'Authorization: Bearer PLANTEDreasonBearer0abcdef123456' https://api.shop.svc/health fails; "
          "registry credentials: kubectl -n shop get pod api-0")


def secrets() -> dict[str, str]:
    out = {k["kind"]: k["secret"] for k in KINDS}
    out.update({f"extra_{i}": s for i, s in enumerate(EXTRA_SECRETS)})
    return out


def leaks(text: str) -> list[str]:
    return sorted(kind for kind, secret in secrets().items() if secret in text)


# ---------------------------------------------------------------- reading what came out

def all_topics(bootstrap: str, prefix: str) -> dict[str, str]:
    """Every record of every topic of this run (its prefix: our topics and the Faust apps' changelogs)."""
    from aiokafka.admin import AIOKafkaAdminClient

    from streams.record_replay import consume

    async def read() -> dict[str, str]:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            names = sorted(t for t in await admin.list_topics() if t.startswith(prefix))
        finally:
            await admin.close()
        out: dict[str, str] = {}
        for name in names:
            parts = []
            async for r in consume(bootstrap, name, snapshot=True):
                headers = " ".join(f"{k}={v!r}" for k, v in (getattr(r, "headers", None) or []))
                parts.append(f"{(r.key or b'').decode('utf-8', 'replace')} {(r.value or b'').decode('utf-8', 'replace')} {headers}")
            out[name] = "\n".join(parts)
        return out

    return asyncio.run(read())


def chdb_dump(path: Path) -> dict[str, str]:
    """Every row of every table of the sink's embedded store, as JSON text (read after the sink stopped)."""
    from sinks.clickhouse.store import ClickHouseStore

    store = ClickHouseStore(f"chdb://{path.resolve()}")
    try:
        tables = [r["name"] for r in store.query("SELECT name FROM system.tables WHERE database = currentDatabase()")]
        return {t: json.dumps(store.query(f"SELECT * FROM `{t}`"), default=str) for t in tables}
    finally:
        store.close()


def start_sink(bootstrap: str, prefix: str, work: Path, destinations: dict) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "AETHERIUS_KAFKA__BOOTSTRAP": bootstrap, "AETHERIUS_KAFKA__TOPIC_PREFIX": prefix,
           "AETHERIUS_KAFKA__PARTITIONS": "2", "AETHERIUS_WORKER__APP_ID": prefix,
           "AETHERIUS_WORKER__DATA_DIR": str(work / "sink"), "AETHERIUS_LOG_LEVEL": "INFO",
           "AETHERIUS_ANALYTICS__CHDB_PATH": str(work / "chdb"), "AETHERIUS_ANALYTICS__API_PORT": str(port),
           "AETHERIUS_SECURITY__API_KEYS": api_keys_env(),
           "AETHERIUS_SINKS__DESTINATIONS": json.dumps(destinations),
           "AETHERIUS_SINKS__DEFAULT": json.dumps(sorted(destinations)),
           "AETHERIUS_SINKS__RETRY__BASE_DELAY_SECONDS": "0.2"}
    with open(work / "sink.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "aetherius.cli", "sink"], cwd=REPO, env=env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    return proc, f"http://127.0.0.1:{port}"


def http_get(url: str, key: str) -> tuple[int, Any]:
    import urllib.error
    import urllib.request

    req = urllib.request.Request(url, headers={"X-API-Key": key})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as err:
        return err.code, {}
    except OSError:
        return 0, {}


# ---------------------------------------------------------------- the run

def test_planted_secrets_leave_through_no_path_and_lookalikes_stay(kafka_bootstrap, topic_prefix, tmp_path,
                                                                    capsys) -> None:
    dump = plant_dump(tmp_path / "dump")
    hooks_thread: InThread[FakeHooks] = InThread(FakeHooks())
    hooks = hooks_thread.__enter__()
    bridge_log = StringIO()
    handler = logging.StreamHandler(bridge_log)
    handler.setFormatter(JsonLines())
    logging.getLogger().addHandler(handler)
    root_level = logging.getLogger().level
    logging.getLogger().setLevel(logging.INFO)
    destinations = {"slack": {"type": "slack", "url": hooks.slack.url},
                    "teams": {"type": "teams", "url": hooks.teams.url},
                    "hook": {"type": "webhook", "url": hooks.webhook.url, "secret": "signing-key-not-a-planted-one"}}
    sink, sink_url = start_sink(kafka_bootstrap, topic_prefix, tmp_path, destinations)
    worker = WorkerProcess(kafka_bootstrap, topic_prefix, tmp_path,
                           env_extra={"AETHERIUS_CLUSTERS": json.dumps({CLUSTER: {"dump": str(dump)}}),
                                      "AETHERIUS_LOG_LEVEL": "INFO"}).start()
    settings = Settings(kafka={"bootstrap": kafka_bootstrap, "topic_prefix": topic_prefix},
                        webhook={"bearer_token": "am-e2e-token"}, security={"api_keys": json.loads(api_keys_env())})
    manual = {"cluster_id": CLUSTER, "namespace": NS, "kind": "deployment", "name": "api", "reason": REASON,
              "severity": "critical"}

    async def through_the_bridge() -> tuple[int, int]:
        producer = Producer(kafka_bootstrap)
        await producer.start()
        try:
            app = create_app(settings, producer, manage_producer=False, freeze_gc=False)
            async with TestClient(TestServer(app, host="127.0.0.1")) as bridge:
                a = await bridge.post("/api/v1/webhook/alertmanager", json=alert_body(),
                                      headers={"Authorization": "Bearer am-e2e-token"})
                m = await bridge.post("/api/v1/tasks", json=manual, headers={"X-API-Key": TEST_KEYS["sre"]})
                return a.status, m.status
        finally:
            await producer.stop()

    try:
        statuses = asyncio.run(through_the_bridge())
        assert statuses == (200, 202), statuses

        def finished() -> list[dict] | None:
            status, body = worker.get("/api/v1/tasks?limit=50", TEST_KEYS["sre"])
            tasks = body.get("tasks", []) if status == 200 else []
            done = [t for t in tasks if t["status"] in ("completed", "failed", "cancelled", "timeout")]
            return tasks if len(tasks) >= 2 and len(done) == len(tasks) else None

        tasks = wait_for(finished, timeout=240, what="both tasks finished")
        wait_for(lambda: len(hooks.slack.received) >= len(tasks) and len(hooks.teams.received) >= len(tasks)
                 and len(hooks.webhook.received) >= len(tasks), timeout=120, what="reports at Slack, Teams, webhook")
        wait_for(lambda: (lambda s, b: s == 200 and len(b.get("items", b.get("tasks", b.get("rows", [])))) >= 1)(
            *http_get(f"{sink_url}/api/v1/history?limit=50", TEST_KEYS["auditor"])), timeout=120,
            what="history rows in the sink's store")
        outputs: dict[str, str] = {}
        outputs["task api (list)"] = json.dumps(worker.get("/api/v1/tasks?limit=50", TEST_KEYS["developer"])[1])
        outputs["task api (detail)"] = "\n".join(json.dumps(worker.get(f"/api/v1/tasks/{t['id']}",
                                                                       TEST_KEYS["developer"])[1]) for t in tasks)
        outputs["history api"] = json.dumps(http_get(f"{sink_url}/api/v1/history?limit=50", TEST_KEYS["auditor"])[1])
        outputs["slack"] = "\n".join(r["body"].decode() for r in hooks.slack.received)
        outputs["teams"] = "\n".join(r["body"].decode() for r in hooks.teams.received)
        outputs["webhook"] = "\n".join(r["body"].decode() for r in hooks.webhook.received)
    finally:
        worker.stop()
        if sink.poll() is None:
            os.killpg(sink.pid, signal.SIGTERM)
        try:
            sink.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(sink.pid, signal.SIGKILL)
            sink.wait(10)
        hooks_thread.__exit__(None, None, None)
        logging.getLogger().removeHandler(handler)
        logging.getLogger().setLevel(root_level)

    topics = all_topics(kafka_bootstrap, topic_prefix)
    assert {f"{topic_prefix}.alerts.raw", f"{topic_prefix}.steps", f"{topic_prefix}.reports",
            f"{topic_prefix}.audit"} <= set(topics), sorted(topics)
    for name, text in topics.items():
        outputs[f"topic {name.removeprefix(topic_prefix)}"] = text
    for table, text in chdb_dump(tmp_path / "chdb").items():
        outputs[f"chdb {table}"] = text
    outputs["log bridge"] = bridge_log.getvalue()
    outputs["log worker"] = (tmp_path / f"worker-{worker.port}.log").read_text()
    outputs["log sink"] = (tmp_path / "sink.log").read_text()

    # The planted values did reach the system (so "0 leaks" means redaction, not absence).
    reached = all_topics_text = topics[f"{topic_prefix}.steps"]
    assert "[REDACTED:" in reached and POD in all_topics_text
    assert "markdown" in outputs["webhook"] or "summary" in outputs["webhook"]

    found = {where: leaks(text) for where, text in outputs.items()}
    steps = topics[f"{topic_prefix}.steps"]
    mangled_steps = [t for t in LOOKALIKES if t not in steps]
    task_api = outputs["task api (detail)"]
    mangled_api = [t for t in LOOKALIKES if json.dumps(t)[1:-1] not in task_api]
    fix = "registry credentials: kubectl -n shop get pod api-0"
    with capsys.disabled():
        print(f"\nplanted secrets: {len(secrets())} ({len(KINDS)} kinds + {len(EXTRA_SECRETS)} alert/request values)")
        print(f"{'where':45} {'tried':>6} {'leaked':>7}")
        for where in sorted(found):
            print(f"{where:45} {len(secrets()):6} {len(found[where]):7}")
        print(f"look-alikes: {len(LOOKALIKES)}; mangled in tool output (steps topic): {len(mangled_steps)}; "
              f"mangled in the Task API (alert notes): {len(mangled_api)}")
    assert {where: kinds for where, kinds in found.items() if kinds} == {}
    assert mangled_steps == [] and mangled_api == []
    assert fix in task_api  # the manual reason's fix command, as typed


# ---------------------------------------------------------------- the offline CLI

@pytest.mark.parametrize("fmt", ["json", "markdown"])
def test_offline_cli_never_prints_a_secret(tmp_path: Path, fmt: str) -> None:
    dump = plant_dump(tmp_path / "dump")
    alert_file = tmp_path / "alert.json"
    alert_file.write_text(json.dumps(alert_body()))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AETHERIUS_", "OPENAI_"))}
    env["PYTHONPATH"] = str(REPO)
    proc = subprocess.run([sys.executable, "-m", "aetherius.cli", "diagnose", "--dump", str(dump), "--alert",
                           str(alert_file), "--format", fmt, "--engine", "rules"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert POD in proc.stdout
    assert leaks(proc.stdout) == [] and leaks(proc.stderr) == []
