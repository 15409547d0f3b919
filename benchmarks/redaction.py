"""Redaction throughput on 10 MB inputs (script, not a test): `python benchmarks/redaction.py`.

Prints one row per input: size, best-of-3 seconds, MB/s. Inputs: a plain application log, the same
log with a secret every 1,000 lines, kubectl-style pod JSON (text), and the same pods as objects.
"""

from __future__ import annotations

import json
import time

from agents.redaction import redact_obj, redact_text

TARGET = 10 * 1024 * 1024


def _log(with_secrets: bool) -> str:
    line = ("2024-05-01T10:00:00.123Z INFO  http GET /api/v1/orders/12345 status=200 dur=12ms "
            "pod=orders-6f7d8c9b5-abcde node=ip-10-0-3-17.eu-west-1.compute.internal trace=4bf92f3577b34da6\n")
    secret = ("2024-05-01T10:00:01.000Z ERROR db connect postgres://svc:Leak3dPw@db:5432/x failed; "
              "Authorization: Bearer abcdefghijklmnopqrstuvwxyz123456 password=hunter22\n")
    block = line * 999 + (secret if with_secrets else line)
    return block * (TARGET // len(block) + 1)


def _pods() -> list[dict]:
    pod = {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "orders-6f7d8c9b5-abcde", "namespace": "shop", "uid": "0b7c2f8e-1a2b-4c3d-9e8f-7a6b5c4d3e2f",
                     "labels": {"app": "orders", "pod-template-hash": "6f7d8c9b5"}},
        "spec": {"nodeName": "worker-3", "containers": [{
            "name": "api", "image": "registry.example.com/shop/orders:v1.2.3",
            "env": [{"name": "DB_HOST", "value": "pg"}, {"name": "DB_PASSWORD", "value": "pw"}, {"name": "LOG", "value": "info"}],
            "resources": {"limits": {"memory": "512Mi", "cpu": "500m"}}}]},
        "status": {"phase": "Running", "containerStatuses": [{"name": "api", "restartCount": 3,
                   "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}}]},
    }
    one = len(json.dumps(pod))
    pods = []
    for n in range(TARGET // one + 1):  # unique names/uids, so redact_obj's short-string cache gets no free lunch
        p = json.loads(json.dumps(pod))
        p["metadata"]["name"] = f"orders-6f7d8c9b5-{n:05d}"
        p["metadata"]["uid"] = f"0b7c2f8e-1a2b-4c3d-9e8f-{n:012d}"
        p["spec"]["containers"][0]["env"][1]["value"] = f"pw-{n}"
        pods.append(p)
    return pods


def _best(fn, arg) -> float:
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        fn(arg)
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    pods = _pods()
    rows = [
        ("plain log (redact_text)", _log(False), redact_text),
        ("log, secret per 1k lines (redact_text)", _log(True), redact_text),
        ("pod list JSON text (redact_text)", json.dumps({"items": pods}), redact_text),
        ("pod list JSON indented (redact_text)", json.dumps({"items": pods}, indent=2), redact_text),
        ("pod list objects (redact_obj)", pods, redact_obj),
    ]
    print(f"{'input':42} {'MB':>6} {'seconds':>8} {'MB/s':>7}")
    for name, data, fn in rows:
        size = len(data) if isinstance(data, str) else len(json.dumps(data))
        secs = _best(fn, data)
        print(f"{name:42} {size / 1e6:6.1f} {secs:8.3f} {size / 1e6 / secs:7.1f}")


if __name__ == "__main__":
    main()
