"""A real single-node Kafka (KRaft, broker + controller) for the demo, the tests and the benchmarks.

The jars come from Maven Central through `mvn` (deploy/kafka/pom.xml) and are cached under
`~/.cache/aetherius/kafka-<version>`; the broker runs on the machine's Java 17, bound to 127.0.0.1
on free ports, with its data in a work dir that is removed on stop. When `AETHERIUS_KAFKA_BOOTSTRAP` (or the
settings' own name for it, `AETHERIUS_KAFKA__BOOTSTRAP`) is set, nothing is started and that cluster is used.

A work dir keeps the broker's identity: the cluster id it was formatted with (KRaft refuses to start on
data formatted for another id) and the ports, written to `identity.json` beside the data. A broker started
again on the same dir - `aetherius kafka --data-dir D`, or `restart()` in the chaos tests - serves the same
cluster at the same address, with its topics, offsets and changelogs.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Literal
from contextlib import contextmanager

REPO_ROOT = Path(__file__).resolve().parent.parent
POM = REPO_ROOT / "deploy" / "kafka" / "pom.xml"
LOG4J = REPO_ROOT / "deploy" / "kafka" / "log4j2.properties"
ENV_BOOTSTRAP = "AETHERIUS_KAFKA_BOOTSTRAP"
ENV_SETTINGS_BOOTSTRAP = "AETHERIUS_KAFKA__BOOTSTRAP"  # schemas.settings' env name; honoured as well


class KafkaUnavailable(RuntimeError):
    """Kafka could not be fetched or started; the message says which step failed and where the log is."""


def kafka_version() -> str:
    match = re.search(r"<kafka.version>([^<]+)</kafka.version>", POM.read_text())
    if not match:
        raise KafkaUnavailable(f"{POM} names no kafka.version")
    return match.group(1)


def cache_dir() -> Path:
    base = Path(os.environ.get("AETHERIUS_CACHE_DIR", Path.home() / ".cache" / "aetherius"))
    return base / f"kafka-{kafka_version()}"


def ensure_jars(progress: Callable[[str], None] = lambda _m: None) -> Path:
    """Fetch the broker's jars once; later calls return the cached directory at once."""
    libs = cache_dir() / "libs"
    marker = libs / ".complete"
    if marker.exists():
        return libs
    if shutil.which("mvn") is None:
        raise KafkaUnavailable("mvn is not on PATH: install Maven (apt-get install maven) or set " + ENV_BOOTSTRAP)
    progress(f"fetching Kafka {kafka_version()} jars from Maven Central (once)")
    tmp = libs.with_name("libs.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    cmd = ["mvn", "-q", "-B", "-f", str(POM), "dependency:copy-dependencies",
           f"-DoutputDirectory={tmp}", "-DincludeScope=runtime"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        raise KafkaUnavailable(f"mvn failed ({proc.returncode}): {(proc.stdout + proc.stderr)[-2000:]}")
    shutil.rmtree(libs, ignore_errors=True)
    tmp.rename(libs)
    marker.touch()
    return libs


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class LocalKafka:
    """One broker process. Use `start()`/`stop()` or the `running()` context manager."""

    work_dir: Path | None = None
    port: int = 0
    controller_port: int = 0
    extra_config: dict[str, str] = field(default_factory=dict)
    heap: str = "512m"
    # "fast-start" (tests, demo): C1 JIT only and the serial collector - the broker is up in seconds and small.
    # "steady" (benchmarks): the full JIT and G1 with short pauses - what a real broker runs, so a benchmark
    # measures Aetherius, not a broker tuned for start-up.
    jvm: Literal["fast-start", "steady"] = "fast-start"
    process: subprocess.Popen[bytes] | None = None
    _owns_work_dir: bool = False

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        assert self.work_dir is not None
        return self.work_dir / "kafka.log"

    def _properties(self) -> str:
        assert self.work_dir is not None
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(self.work_dir / "data"),
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "4",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            # Joins complete at once instead of waiting 3 s for more members: tests and the demo start faster.
            "group.initial.rebalance.delay.ms": "0",
            "num.partitions": "4",
            "auto.create.topics.enable": "false",  # every topic comes from the catalogue
            "log.retention.check.interval.ms": "60000",
        }
        props.update(self.extra_config)
        return "".join(f"{k}={v}\n" for k, v in props.items())

    def start(self, timeout: float = 90.0, progress: Callable[[str], None] = lambda _m: None) -> "LocalKafka":
        libs = ensure_jars(progress)
        java = shutil.which("java")
        if java is None:
            raise KafkaUnavailable("java is not on PATH: Kafka needs Java 17+")
        if self.work_dir is None:
            self.work_dir = Path(tempfile.mkdtemp(prefix="aetherius-kafka-"))
            self._owns_work_dir = True
        self.work_dir.mkdir(parents=True, exist_ok=True)
        cluster_id = self._identity()
        config = self.work_dir / "server.properties"
        config.write_text(self._properties())
        classpath = f"{libs}/*"
        env = {**os.environ, "KAFKA_HEAP_OPTS": f"-Xmx{self.heap}"}
        tuning = ["-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"] if self.jvm == "fast-start" else \
            ["-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-Xms1g"]
        jvm = [java, f"-Xmx{self.heap}", *tuning, f"-Dlog4j2.configurationFile={LOG4J}", "-cp", classpath]
        fmt = subprocess.run(jvm + ["kafka.tools.StorageTool", "format", f"--cluster-id={cluster_id}", "-c", str(config),
                                    "--ignore-formatted"], capture_output=True, text=True, env=env, timeout=120)
        if fmt.returncode != 0:
            raise KafkaUnavailable(f"kafka-storage format failed: {fmt.stdout[-1000:]}{fmt.stderr[-1000:]}")
        progress(f"starting Kafka {kafka_version()} on {self.bootstrap}")
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(jvm + ["kafka.Kafka", str(config)], stdout=log, stderr=subprocess.STDOUT,
                                        env=env, start_new_session=True)
        log.close()
        self._wait_ready(timeout)
        return self

    def _identity(self) -> str:
        """The work dir's cluster id and ports: the stored ones when the dir was used before, else new ones
        (stored now). An explicit port wins over the stored one; the cluster id never changes."""
        assert self.work_dir is not None
        path = self.work_dir / "identity.json"
        stored = json.loads(path.read_text()) if path.exists() else {}
        cluster_id = stored.get("cluster_id") or _formatted_cluster_id(self.work_dir / "data") or _cluster_id()
        self.port = self.port or int(stored.get("port") or 0) or free_port()
        self.controller_port = self.controller_port or int(stored.get("controller_port") or 0) or free_port()
        path.write_text(json.dumps({"cluster_id": cluster_id, "port": self.port,
                                    "controller_port": self.controller_port}))
        return cluster_id

    def restart(self, down_seconds: float = 0.0, timeout: float = 90.0) -> "LocalKafka":
        """Stop the broker (SIGTERM, as an operator would), wait, and start it again on the same data and ports."""
        self.stop(keep_data=True)
        time.sleep(down_seconds)
        return self.start(timeout=timeout)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise KafkaUnavailable(f"Kafka exited with {self.process.returncode}; see {self.log_path}")
            if _port_open(self.port) and _broker_answers(self.bootstrap):
                return
            time.sleep(0.3)
        self.stop()
        raise KafkaUnavailable(f"Kafka did not become ready in {timeout:.0f}s; see {self.log_path}")

    def stop(self, timeout: float = 20.0, keep_data: bool = False) -> None:
        """Stop the broker; its work dir goes too when this object made it (unless `keep_data`)."""
        proc, self.process = self.process, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        if self._owns_work_dir and self.work_dir is not None and not keep_data:
            shutil.rmtree(self.work_dir, ignore_errors=True)

    @contextmanager
    def running(self, **kwargs: object) -> Iterator["LocalKafka"]:
        try:
            self.start(**kwargs)  # type: ignore[arg-type]
        except BaseException:  # Ctrl-C or SIGTERM while it starts: no broker or data dir left behind
            self.stop()
            raise
        try:
            yield self
        finally:
            self.stop()


def _cluster_id() -> str:
    # KRaft wants a base64 UUID of 22 characters, which is what `kafka-storage random-uuid` prints.
    import base64

    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


def _formatted_cluster_id(log_dir: Path) -> str | None:
    """The cluster id a data dir was formatted with (its meta.properties), for dirs from before identity.json."""
    meta = log_dir / "meta.properties"
    if not meta.exists():
        return None
    for line in meta.read_text().splitlines():
        if line.startswith("cluster.id="):
            return line.split("=", 1)[1].strip() or None
    return None


def _broker_answers(bootstrap: str) -> bool:
    """True once the broker answers a metadata request (the port opens before it can serve)."""
    import asyncio

    from aiokafka.admin import AIOKafkaAdminClient

    async def probe() -> bool:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000)
        try:
            await admin.start()
            await admin.list_topics()
            return True
        except Exception:
            return False
        finally:
            await admin.close()

    return asyncio.run(probe())


def external_bootstrap() -> str | None:
    """The cluster named in the environment (`AETHERIUS_KAFKA_BOOTSTRAP`, else `AETHERIUS_KAFKA__BOOTSTRAP`), if any."""
    return os.environ.get(ENV_BOOTSTRAP) or os.environ.get(ENV_SETTINGS_BOOTSTRAP) or None


@contextmanager
def kafka_bootstrap(progress: Callable[[str], None] = lambda _m: None,
                    jvm: Literal["fast-start", "steady"] = "fast-start") -> Iterator[str]:
    """The bootstrap of the cluster to use: `AETHERIUS_KAFKA_BOOTSTRAP` (else `AETHERIUS_KAFKA__BOOTSTRAP`) if set,
    else a fresh local broker."""
    external = external_bootstrap()
    if external:
        yield external
        return
    with LocalKafka(jvm=jvm, heap="1g" if jvm == "steady" else "512m").running(progress=progress) as kafka:
        yield kafka.bootstrap
