"""A real Kubernetes API server for tests: kube-apiserver + etcd on 127.0.0.1, free ports, per-run certs and tokens.

The binaries come from deploy/tools/install-kube-apiserver.sh (built once per machine from the Go module proxy,
cached under ~/.cache/aetherius/<name>-<version>/). `require_binaries()` builds them if missing and skips the
calling test, naming why, only when they cannot be built (no Go, or the build failed).

What runs is the real thing, configured as Kubernetes' own integration test server and envtest configure it:
RBAC authorisation, static bearer tokens (an admin in system:masters and a user with no rights), service-account
tokens (TokenRequest), TLS from a CA made per run. There is no controller-manager, scheduler or kubelet, so tests
create every object they need (ReplicaSets, Pods, Endpoints, Events ...) and set status through the `status`
subresource as the admin. The server's own periodic writes to etcd (its compaction timer, its identity lease)
are switched off, so etcd's revision only moves when a client writes: a test can prove a run wrote nothing.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime
import ipaddress
import json
import os
import signal
import socket
import ssl
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

REPO = Path(__file__).resolve().parents[1]
INSTALL = REPO / "deploy" / "tools" / "install-kube-apiserver.sh"
KUBE_VERSION = "v1.37.2"
ETCD_VERSION = "v3.7.3"
ADMIN_USER = "kube-admin"
NOBODY_USER = "nobody"


class Unavailable(RuntimeError):
    """The binaries are not there and cannot be built here; the message says why."""


@dataclass(frozen=True)
class Binaries:
    kube_apiserver: Path
    kubectl: Path
    etcd: Path
    etcdctl: Path


def _cache() -> Path:
    base = os.environ.get("AETHERIUS_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "aetherius")
    return Path(base)


def find_binaries() -> Binaries | None:
    kube, etcd = _cache() / f"kube-apiserver-{KUBE_VERSION}", _cache() / f"etcd-{ETCD_VERSION}"
    bins = Binaries(kube / "kube-apiserver", kube / "kubectl", etcd / "etcd", etcd / "etcdctl")
    ok = all(os.access(p, os.X_OK) for p in vars(bins).values()) and (kube / ".build-id").is_file() \
        and (etcd / ".build-id").is_file()
    return bins if ok else None


def ensure_binaries() -> Binaries:
    """The cached binaries, building them first if needed (minutes on a cold machine); Unavailable if impossible."""
    found = find_binaries()
    if found:
        return found
    proc = subprocess.run(["bash", str(INSTALL)], capture_output=True, text=True)
    found = find_binaries()
    if found:
        return found
    tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-5:])
    raise Unavailable(f"kube-apiserver {KUBE_VERSION} / etcd {ETCD_VERSION} could not be built "
                      f"(`bash {INSTALL.relative_to(REPO)}` exited {proc.returncode}): {tail}")


def require_binaries() -> Binaries:
    import pytest

    try:
        return ensure_binaries()
    except Unavailable as exc:
        pytest.skip(str(exc))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- per-run PKI -----------------------------------------------------------------------------------------
def _pem_key(key: Any) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def make_pki(directory: Path) -> dict[str, Path]:
    """A CA, a serving certificate for 127.0.0.1/localhost signed by it, and the service-account signing key."""
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"aetherius-test-ca-{uuid.uuid4().hex[:8]}")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([
                x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost"),
                x509.DNSName("kubernetes.default.svc")]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    paths = {"ca": directory / "ca.crt", "cert": directory / "apiserver.crt", "key": directory / "apiserver.key",
             "sa": directory / "sa.key"}
    paths["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths["cert"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths["key"].write_bytes(_pem_key(key))
    paths["sa"].write_bytes(_pem_key(sa_key))
    for p in (paths["key"], paths["sa"]):
        p.chmod(0o600)
    return paths


def write_kubeconfig(path: Path, server: str, ca_file: Path, token: str, name: str = "test") -> Path:
    """A one-context kubeconfig: the server, its CA, a bearer token."""
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": name,
        "clusters": [{"name": name, "cluster": {"server": server, "certificate-authority": str(ca_file)}}],
        "users": [{"name": name, "user": {"token": token}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}]}))
    path.chmod(0o600)
    return path


# --- the server pair ---------------------------------------------------------------------------------------
@dataclass
class _Proc:
    name: str
    argv: list[str]
    log: Path
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.log, "ab") as out:
            self.popen = subprocess.Popen(self.argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                          start_new_session=True)

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def stop(self, timeout: float = 15.0) -> None:
        if not self.alive:
            self.popen = None
            return
        assert self.popen is not None
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(10)
        self.popen = None

    def rss_bytes(self) -> int:
        if not self.alive:
            return 0
        assert self.popen is not None
        for line in Path(f"/proc/{self.popen.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return 0

    def log_tail(self, n: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


@dataclass
class KubeAPIServer:
    """One etcd + kube-apiserver pair in `run_dir`. `with server.running():` or start()/stop()."""

    binaries: Binaries
    run_dir: Path
    extra_args: tuple[str, ...] = ()
    admin_token: str = field(default_factory=lambda: f"admin-{uuid.uuid4().hex}")
    nobody_token: str = field(default_factory=lambda: f"nobody-{uuid.uuid4().hex}")
    etcd_port: int = field(default_factory=free_port)
    etcd_peer_port: int = field(default_factory=free_port)
    port: int = field(default_factory=free_port)
    started_seconds: float = 0.0  # start to /readyz of the last start

    def __post_init__(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.pki = make_pki(self.run_dir / "pki")
        tokens = self.run_dir / "tokens.csv"
        tokens.write_text(f'{self.admin_token},{ADMIN_USER},uid-admin,"system:masters"\n'
                          f"{self.nobody_token},{NOBODY_USER},uid-nobody\n")
        tokens.chmod(0o600)
        self.etcd = _Proc("etcd", [
            str(self.binaries.etcd), "--name=test", f"--data-dir={self.run_dir / 'etcd'}",
            f"--listen-client-urls={self.etcd_url}", f"--advertise-client-urls={self.etcd_url}",
            f"--listen-peer-urls=http://127.0.0.1:{self.etcd_peer_port}",
            f"--initial-advertise-peer-urls=http://127.0.0.1:{self.etcd_peer_port}",
            f"--initial-cluster=test=http://127.0.0.1:{self.etcd_peer_port}",
            # Progress notifications every second (etcd's default is 10 min): the API server's watch caches then
            # follow etcd's revision while their resource is quiet, so BOOKMARKs carry a current version.
            "--watch-progress-notify-interval=1s",
            "--unsafe-no-fsync=true", "--log-level=warn"], self.run_dir / "etcd.log")
        self.apiserver = _Proc("kube-apiserver", [
            str(self.binaries.kube_apiserver), f"--etcd-servers={self.etcd_url}",
            "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", f"--secure-port={self.port}",
            f"--tls-cert-file={self.pki['cert']}", f"--tls-private-key-file={self.pki['key']}",
            f"--client-ca-file={self.pki['ca']}", f"--kubelet-certificate-authority={self.pki['ca']}",
            "--kubelet-preferred-address-types=InternalIP",
            f"--token-auth-file={tokens}", "--authorization-mode=RBAC",
            "--service-account-issuer=https://kubernetes.default.svc",
            f"--service-account-key-file={self.pki['sa']}", f"--service-account-signing-key-file={self.pki['sa']}",
            "--service-cluster-ip-range=10.96.0.0/16", "--endpoint-reconciler-type=none",
            # No controller-manager: nothing would make default ServiceAccounts or lift PVC-protection finalizers.
            # DefaultTolerationSeconds would give every seeded pod two tolerations its scenario does not have
            # (and which a scheduling diagnosis cites); a cluster may run without it.
            "--disable-admission-plugins=ServiceAccount,StorageObjectInUseProtection,DefaultTolerationSeconds",
            # Nothing but clients writes to etcd: no compaction timer, no identity lease heartbeat.
            "--etcd-compaction-interval=0", "--feature-gates=APIServerIdentity=false,UnknownVersionInteroperabilityProxy=false",
            f"--cert-dir={self.run_dir / 'certs'}", "--v=1", *self.extra_args], self.run_dir / "apiserver.log")

    # --- addresses and credentials --------------------------------------------------------------------
    @property
    def etcd_url(self) -> str:
        return f"http://127.0.0.1:{self.etcd_port}"

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def ca_file(self) -> Path:
        return self.pki["ca"]

    @property
    def ca_pem(self) -> str:
        return self.ca_file.read_text()

    def kubeconfig(self, token: str, name: str = "admin") -> Path:
        return write_kubeconfig(self.run_dir / f"kubeconfig-{name}", self.url, self.ca_file, token, name)

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))

    def api_client(self, token: str | None = None, host: str | None = None) -> Any:
        """A kubernetes-asyncio ApiClient of its own, with `token` (default: the admin's)."""
        from kubernetes_asyncio import client

        cfg = client.Configuration(host=host or self.url)
        cfg.ssl_ca_cert = str(self.ca_file)
        cfg.api_key = {"BearerToken": token or self.admin_token}
        cfg.api_key_prefix = {"BearerToken": "Bearer"}
        return client.ApiClient(configuration=cfg)

    def admin(self) -> Kube:
        return Kube(self.url, self.admin_token, self.ssl_context())

    # --- lifecycle ------------------------------------------------------------------------------------
    def start(self, timeout: float = 60.0) -> None:
        started = time.monotonic()
        if not self.etcd.alive:
            self.etcd.start()
            self._wait(lambda: self._http_ok(f"{self.etcd_url}/health"), self.etcd, timeout)
        self.start_apiserver(timeout)
        self.started_seconds = time.monotonic() - started

    def start_apiserver(self, timeout: float = 60.0) -> float:
        """Start (or restart after stop_apiserver) the API server on the same port; seconds to /readyz."""
        started = time.monotonic()
        self.apiserver.start()
        self._wait(self.ready, self.apiserver, timeout)
        return time.monotonic() - started

    def stop_apiserver(self) -> None:
        self.apiserver.stop()

    def stop(self) -> None:
        self.apiserver.stop()
        self.etcd.stop()

    @contextlib.contextmanager
    def running(self) -> Iterator[KubeAPIServer]:
        try:
            self.start()
            yield self
        finally:
            self.stop()

    def ready(self) -> bool:
        return self._http_ok(f"{self.url}/readyz", self.admin_token)

    def _http_ok(self, url: str, token: str | None = None) -> bool:
        import urllib.request

        req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
        try:
            with urllib.request.urlopen(req, timeout=2, context=self.ssl_context() if url.startswith("https") else None) as r:
                return r.status == 200
        except Exception:
            return False

    @staticmethod
    def _wait(ok: Any, proc: _Proc, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not proc.alive:
                raise RuntimeError(f"{proc.name} exited ({proc.popen.returncode if proc.popen else '?'}):\n"
                                   f"{proc.log_tail()}")
            if ok():
                return
            time.sleep(0.1)
        raise RuntimeError(f"{proc.name} not ready after {timeout}s:\n{proc.log_tail()}")

    # --- etcd -----------------------------------------------------------------------------------------
    def etcdctl(self, *args: str) -> str:
        out = subprocess.run([str(self.binaries.etcdctl), f"--endpoints={self.etcd_url}", *args],
                             capture_output=True, text=True, timeout=30)
        if out.returncode != 0:
            raise RuntimeError(f"etcdctl {' '.join(args)} failed: {out.stderr.strip()}")
        return out.stdout

    def etcd_revision(self) -> int:
        return int(json.loads(self.etcdctl("endpoint", "status", "-w", "json"))[0]["Status"]["header"]["revision"])

    def etcd_changes_since(self, revision: int) -> list[str]:
        """Every write after `revision` as "PUT key" / "DELETE key", from etcd's own history (a watch from
        revision+1, read for a moment: `etcdctl watch` never ends by itself)."""
        if self.etcd_revision() <= revision:
            return []
        argv = [str(self.binaries.etcdctl), f"--endpoints={self.etcd_url}", "watch", "--prefix", "/",
                f"--rev={revision + 1}", "-w", "json"]
        try:
            out = subprocess.run(argv, capture_output=True, text=True, timeout=2).stdout
        except subprocess.TimeoutExpired as exc:
            out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        changes = []
        for line in out.splitlines():
            with contextlib.suppress(ValueError):
                for ev in json.loads(line).get("Events") or []:
                    key = base64.b64decode(ev["kv"]["key"]).decode(errors="replace")
                    changes.append(f"{'DELETE' if ev.get('type') == 1 else 'PUT'} {key}")
        return changes

    def compact(self) -> int:
        """Compact etcd's history up to its current revision (what the server's compaction timer does)."""
        rev = self.etcd_revision()
        self.etcdctl("compaction", str(rev))
        return rev

    def rss(self) -> dict[str, int]:
        return {"kube-apiserver": self.apiserver.rss_bytes(), "etcd": self.etcd.rss_bytes()}


Obj = dict[str, Any]


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def make_event(name: str, reason: str, *, namespace: str = "default", type: str = "Warning", count: int = 1,
               kind: str = "Pod", object_name: str | None = None, message: str = "",
               component: str = "kubelet") -> Obj:
    """A core/v1 Event as the kubelet or a controller writes it."""
    ts = _now()
    return {
        "metadata": {"name": name, "namespace": namespace},
        "involvedObject": {"kind": kind, "namespace": namespace, "name": object_name or name.split(".")[0],
                           "uid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{namespace}/{kind}/{object_name or name}")),
                           "apiVersion": "v1"},
        "reason": reason, "message": message or f"{reason} happened", "type": type, "count": count,
        "source": {"component": component}, "firstTimestamp": ts, "lastTimestamp": ts,
    }


# --- an admin's REST calls (tests write as the admin; the code under test only ever reads) --------------------
class KubeError(RuntimeError):
    def __init__(self, status: int, method: str, path: str, body: str) -> None:
        self.status, self.body = status, body
        super().__init__(f"{method} {path}: HTTP {status}: {body[:500]}")


class Kube:
    """A tiny async REST client for test set-up. `async with server.admin() as kube:`."""

    def __init__(self, url: str, token: str, ssl_ctx: ssl.SSLContext, concurrency: int = 16) -> None:
        self.url, self._token, self._ssl = url, token, ssl_ctx
        self._session: aiohttp.ClientSession | None = None
        self._sem = asyncio.Semaphore(concurrency)

    async def __aenter__(self) -> Kube:
        self._session = aiohttp.ClientSession(
            headers={"Authorization": f"Bearer {self._token}", "Accept": "application/json"},
            connector=aiohttp.TCPConnector(ssl=self._ssl, limit=32))
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._session is not None
        await self._session.close()

    async def request(self, method: str, path: str, body: Any = None, ok: tuple[int, ...] = (200, 201),
                      params: dict[str, str] | None = None, content_type: str = "application/json") -> Any:
        assert self._session is not None, "use `async with`"
        async with self._sem:
            async with self._session.request(method, self.url + path, params=params,
                                              data=None if body is None else json.dumps(body),
                                              headers={"Content-Type": content_type}) as resp:
                text = await resp.text()
                if resp.status not in ok:
                    raise KubeError(resp.status, method, path, text)
                return json.loads(text) if text and resp.content_type == "application/json" else text

    async def status(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> int:
        """Only the HTTP status of a request (for proving what the server refuses)."""
        assert self._session is not None
        ctype = "application/merge-patch+json" if method == "PATCH" else "application/json"
        async with self._session.request(method, self.url + path, data=None if body is None else json.dumps(body),
                                          headers={"Content-Type": ctype, **(headers or {})}) as resp:
            await resp.read()
            return resp.status

    async def create(self, path: str, obj: dict[str, Any]) -> dict[str, Any]:
        return await self.request("POST", path, obj)

    async def ensure(self, path: str, obj: dict[str, Any]) -> dict[str, Any]:
        """Create, or leave an existing object of that name alone."""
        try:
            return await self.create(path, obj)
        except KubeError as exc:
            if exc.status != 409:
                raise
            return await self.request("GET", f"{path}/{obj['metadata']['name']}")

    async def delete(self, path: str) -> None:
        await self.request("DELETE", path, {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0},
                           ok=(200, 202, 404))

    async def token(self, namespace: str, service_account: str, seconds: int = 3600) -> str:
        """A service-account token from the TokenRequest API (what a pod's projected token is)."""
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                "spec": {"expirationSeconds": seconds}}
        got = await self.create(f"/api/v1/namespaces/{namespace}/serviceaccounts/{service_account}/token", body)
        return got["status"]["token"]
