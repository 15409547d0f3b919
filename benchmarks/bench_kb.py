"""Knowledge-base search latency (p50/p95) at 10k and 100k entries, and embedding throughput.

    python benchmarks/bench_kb.py [--sizes 10000 100000] [--queries 200] [--engines local edge]

Index vectors are random unit vectors (384-d) with realistic payloads: a quarter of the entries are
scoped to one of four environments, the rest apply everywhere, 2 % are disabled. Query vectors for
the latency table are random too; the embedding rows use the real offline model. "kb path" is
`KnowledgeBase.search_vector` (engine thread hop + over-fetch/filter + pydantic entries); "native"
is the engine's own payload filter, for comparison. Prints one table; targets from issue 4:
p95 < 20 ms at 10k with a metadata filter, p95 < 50 ms at 100k.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agents.knowledge.base import KnowledgeBase, _payload  # noqa: E402
from agents.knowledge.embeddings import HashingEmbedder, LocalMiniLMEmbedder  # noqa: E402
from agents.knowledge.engines import EdgeEngine, QdrantClientEngine, StoredPoint  # noqa: E402
from agents.knowledge.filters import EntryFilter, to_qdrant_client_filter  # noqa: E402
from schemas.knowledge import KnowledgeEntry  # noqa: E402

DIM = 384
ENVS = ["prod", "staging", "dev", "test"]
ROWS: list[tuple[str, ...]] = []


def pct(samples: list[float], p: float) -> float:
    return float(np.percentile(np.array(samples), p))


def row(*cols: object) -> None:
    ROWS.append(tuple(str(c) for c in cols))
    print(" | ".join(str(c) for c in cols), flush=True)


def entries(n: int, rng: np.random.Generator):
    text = "Symptoms and fixes for a recurring failure; confirm with describe_pod and pod_logs. " * 6
    vecs = rng.standard_normal((n, DIM)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    for i in range(n):
        env = [ENVS[i % 4]] if i % 4 == 0 else []
        e = KnowledgeEntry(id=f"bench#{i}", title=f"entry {i}", content=text, problem_category=f"cat{i % 19}",
                           environments=env, enabled=(i % 50 != 0), content_hash=f"h{i}")
        yield StoredPoint(e.id, _payload(e), vecs[i].tolist())


def load(engine, n: int, rng: np.random.Generator) -> float:  # noqa: ANN001
    t = time.perf_counter()
    batch: list[StoredPoint] = []
    for p in entries(n, rng):
        batch.append(p)
        if len(batch) == 2000:
            engine.upsert(batch)
            batch = []
    engine.upsert(batch)
    engine.optimize()
    return time.perf_counter() - t


def timed(fn, queries: list[list[float]]) -> list[float]:  # noqa: ANN001
    for q in queries[:5]:  # warm-up, not measured
        fn(q)
    out = []
    for q in queries:
        t = time.perf_counter()
        fn(q)
        out.append((time.perf_counter() - t) * 1000)
    return out


def bench_engine(kind: str, n: int, nq: int, work: Path) -> None:
    rng = np.random.default_rng(n)
    path = work / f"{kind}-{n}"
    if kind == "local":
        engine = QdrantClientEngine(collection="bench", dimensions=DIM, path=path, oversample=8)
    else:
        engine = EdgeEngine(path=path, dimensions=DIM)
    secs = load(engine, n, rng)
    row(kind, n, "load (upsert + index)", f"{secs:.1f} s", "", "")
    queries = [v.tolist() for v in (lambda m: m / np.linalg.norm(m, axis=1, keepdims=True))(
        rng.standard_normal((nq, DIM)).astype(np.float32))]
    flt = EntryFilter(environment="staging")
    cases = [("unfiltered (enabled only)", lambda q: engine.search(q, 5, EntryFilter(include_disabled=True))),
             ("env filter, our search()", lambda q: engine.search(q, 5, flt))]
    if kind == "local":
        qf = to_qdrant_client_filter(flt)
        cases.append(("env filter, native qdrant filter", lambda q: engine._query(q, 5, qf)))  # noqa: SLF001
    # (edge's search() always uses its native filter: payload indexes make it fast)
    for name, fn in cases:
        qs = queries if "native" not in name or n <= 10_000 else queries[: max(10, nq // 10)]
        lat = timed(fn, qs)
        row(kind, n, name, f"{pct(lat, 50):.2f}", f"{pct(lat, 95):.2f}", len(qs))

    async def via_kb() -> list[float]:
        kb = KnowledgeBase(engine, HashingEmbedder(), path / "versions.jsonl")
        out = []
        for q in queries:
            t = time.perf_counter()
            await kb.search_vector(q, 5, flt)
            out.append((time.perf_counter() - t) * 1000)
        await kb.close()
        return out
    lat = asyncio.run(via_kb())
    row(kind, n, "env filter, kb path (async, entries)", f"{pct(lat, 50):.2f}", f"{pct(lat, 95):.2f}", len(lat))


def bench_embedding() -> None:
    emb = LocalMiniLMEmbedder()
    t = time.perf_counter()
    emb.embed_sync(["warm up"])
    row("minilm", "-", "model load", f"{time.perf_counter() - t:.2f} s", "", "")
    queries = ["pods evicted because the node ran out of disk", "container killed with exit code 137",
               "service has no endpoints after a label change", "coredns lookups time out"] * 25
    lat = timed(lambda q: emb.embed_sync([q]), queries)  # type: ignore[arg-type]
    row("minilm", "-", "query embedding (1 sentence)", f"{pct(lat, 50):.2f}", f"{pct(lat, 95):.2f}", len(lat))
    runbook = Path(__file__).resolve().parent.parent / "deploy" / "knowledge" / "runbooks"
    from agents.knowledge.runbooks import embedding_text, parse_runbook
    texts = [embedding_text(e) for p in sorted(runbook.glob("*.md")) for e in parse_runbook(p.read_text(), p.name, p.stem)]
    sentences = queries * 4
    for label, batch in (("short sentences", sentences), (f"runbook sections ({len(texts)})", texts)):
        t = time.perf_counter()
        emb.embed_sync(batch)
        dt = time.perf_counter() - t
        row("minilm", "-", f"throughput, {label}", f"{len(batch) / dt:.0f} /s", "", len(batch))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000])
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--engines", nargs="*", default=["local", "edge"])
    ap.add_argument("--skip-embedding", action="store_true")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-kb-"))
    print("engine | entries | case | p50 ms | p95 ms | n", flush=True)
    try:
        for n in args.sizes:
            for kind in args.engines:
                bench_engine(kind, n, args.queries, work)
        if not args.skip_embedding:
            bench_embedding()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("\n| engine | entries | case | p50 ms | p95 ms | n |\n|---|---|---|---|---|---|")
    for r in ROWS:
        print("| " + " | ".join(r) + " |")


if __name__ == "__main__":
    main()
