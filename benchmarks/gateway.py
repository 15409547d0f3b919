"""Gateway call latency (script, not a test): `python benchmarks/gateway.py [DUMP_DIR]`.

Prints p50/p95 per call for: Gateway.execute directly, GatewayExecutor in process (MCP, no sockets),
and GatewayExecutor over streamable HTTP on 127.0.0.1 - for a small answer (get_pod) and a rejected call.
Without DUMP_DIR it builds a small dump with tests/dumpkit.py in a temp dir.
"""

from __future__ import annotations

import asyncio
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

from agents.cluster.dump import DumpReader
from agents.gateway import Gateway, GatewayExecutor, GatewayServer, serving_http
from agents.tools.registry import load_registry
from agents.tools.types import ToolCall

N = 300
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.dumpkit when run as a script


def _dump() -> tuple[Path, str, str]:
    from tests.dumpkit import DumpBuilder

    root = Path(tempfile.mkdtemp()) / "dump"
    b = DumpBuilder(root)
    b.noise("shop")
    b.write()
    return root, "shop", "frontend-5c6d7e8f9-ax0q0"


async def _time(fn) -> tuple[float, float]:
    for _ in range(20):
        await fn()
    samples = []
    for _ in range(N):
        t0 = time.perf_counter()
        await fn()
        samples.append((time.perf_counter() - t0) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


async def main() -> None:
    if len(sys.argv) > 1:
        root, ns, pod = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    else:
        root, ns, pod = _dump()

    async def sink(event) -> None:
        return None

    logging.getLogger("agents.gateway").setLevel(logging.ERROR)  # measure the gateway, not console logging
    gateway = Gateway(load_registry(), {"c": DumpReader(root, cluster_id="c")}, audit_sink=sink)
    server = GatewayServer(gateway)
    good = ToolCall(tool_id="get_pod", parameters={"namespace": ns, "name": pod})
    bad = ToolCall(tool_id="get_pod", parameters={"namespace": ns, "name": "$(id)"})
    rows = []
    for label, c in (("get_pod", good), ("rejected", bad)):
        rows.append((f"Gateway.execute {label}",
                     await _time(lambda c=c: gateway.execute(c.tool_id, c.parameters, role="sre", cluster_id="c"))))
    async with GatewayExecutor(server) as ex:
        for label, c in (("get_pod", good), ("rejected", bad)):
            rows.append((f"in-process MCP {label}", await _time(lambda c=c: ex.call(c, task_id="b", cluster_id="c"))))
    from aetherius.http.auth import Authenticator, generate_api_key, hash_api_key
    from schemas.security_settings import SecuritySettings

    key = generate_api_key()
    callers = Authenticator(SecuritySettings(api_keys=[{"name": "bench", "role": "sre", "hash": hash_api_key(key)}]))
    async with serving_http(server, authenticator=callers) as url:
        async with GatewayExecutor(url, token=key) as ex:
            for label, c in (("get_pod", good), ("rejected", bad)):
                rows.append((f"streamable HTTP {label}", await _time(lambda c=c: ex.call(c, task_id="b", cluster_id="c"))))
    print(f"{'path':32} {'p50 ms':>8} {'p95 ms':>8}   (n={N})")
    for name, (p50, p95) in rows:
        print(f"{name:32} {p50:8.2f} {p95:8.2f}")


if __name__ == "__main__":
    asyncio.run(main())
