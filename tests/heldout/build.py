"""Build a held-out set's incidents as dump directories, and freeze/verify them by digest.

    python -m tests.heldout.build b1 OUTDIR            write OUTDIR/<id>/{dump/, alert.json, expected.json}
    python -m tests.heldout.build b1 OUTDIR --freeze   ... and record every incident's digest in tests/heldout/MANIFEST.json
    python -m tests.heldout.build b1 OUTDIR --verify   ... and fail if any digest differs from the frozen one

The generators are deterministic, so a digest mismatch means an incident changed after it was frozen.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path

from tests.heldout.kit import build_set, digest_dir

MANIFEST = Path(__file__).with_name("MANIFEST.json")


def build(set_name: str, out: Path) -> tuple[list[dict], dict[str, str]]:
    reg = importlib.import_module(f"tests.heldout.{set_name}").R
    records = build_set(reg, out)
    digests = {r["id"]: digest_dir(out / r["id"]) for r in records}
    return records, digests


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("set", choices=["b1", "b2"])
    ap.add_argument("out", type=Path)
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--freeze", action="store_true")
    g.add_argument("--verify", action="store_true")
    a = ap.parse_args(argv)
    records, digests = build(a.set, a.out)
    manifest = json.loads(MANIFEST.read_text()) if MANIFEST.exists() else {}
    if a.freeze:
        manifest[a.set] = digests
        MANIFEST.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    if a.verify:
        frozen = manifest.get(a.set, {})
        bad = [i for i in digests if frozen.get(i) != digests[i]] + [i for i in frozen if i not in digests]
        if bad:
            print(f"set {a.set}: {len(bad)} incident(s) differ from the frozen manifest: {', '.join(sorted(bad))}", file=sys.stderr)
            return 1
    print(f"set {a.set}: {len(records)} incidents written to {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
