"""Sanity checks on a built held-out set, without the engine: the alert's subject and the expected deepest
resource exist (unless the incident says they must not), every evidence fragment is citable (present somewhere
in the dump), and the project's DumpReader parses every file.

    python -m tests.heldout.check OUTDIR/b1
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from agents.cluster.dump import DumpReader

PLURAL = {"pod": "pods", "service": "services", "deployment": "deployments", "replicaset": "replicasets", "statefulset": "statefulsets",
          "daemonset": "daemonsets", "job": "jobs", "node": "nodes", "persistentvolumeclaim": "persistentvolumeclaims",
          "persistentvolume": "persistentvolumes", "horizontalpodautoscaler": "horizontalpodautoscalers", "networkpolicy": "networkpolicies",
          "resourcequota": "resourcequotas", "limitrange": "limitranges", "endpoints": "endpoints",
          "validatingwebhookconfiguration": "validatingwebhookconfigurations", "mutatingwebhookconfiguration": "mutatingwebhookconfigurations"}


async def exists(reader: DumpReader, ref: str) -> bool:
    parts = ref.split("/")
    kind = parts[0]
    if len(parts) == 2:
        return await reader.get(PLURAL[kind], parts[1]) is not None
    return await reader.get(PLURAL[kind], parts[2], parts[1]) is not None


async def check(d: Path) -> list[str]:
    problems = []
    exp = json.loads((d / "expected.json").read_text())
    alert = json.loads((d / "alert.json").read_text())
    reader = DumpReader(d / "dump")
    for plural in ("pods", "events", "services", "endpoints", "deployments", "replicasets", "statefulsets", "daemonsets", "jobs",
                   "persistentvolumeclaims", "horizontalpodautoscalers", "networkpolicies", "resourcequotas", "limitranges", "configmaps", "secrets"):
        await reader.list(plural)
    for plural in ("nodes", "persistentvolumes", "storageclasses", "validatingwebhookconfigurations", "mutatingwebhookconfigurations"):
        await reader.list(plural)
    text = "\n".join(p.read_text() for p in (d / "dump").rglob("*") if p.is_file()).lower()
    text = text.replace('\\"', '"')
    for frag in exp["evidence"]:
        if not any(f.lower() in text for f in frag):
            problems.append(f"evidence {frag} not present in the dump")
    for ref in [exp["deepest"]] + exp["alt_deepest"]:
        if ref and not await exists(reader, ref):
            problems.append(f"expected resource {ref} does not exist")
    lab = alert["alerts"][0]["labels"]
    ns = lab.get("namespace")
    for key, plural in (("deployment", "deployments"), ("statefulset", "statefulsets"), ("daemonset", "daemonsets"), ("job_name", "jobs"),
                        ("horizontalpodautoscaler", "horizontalpodautoscalers")):
        if key in lab and await reader.get(plural, lab[key], ns) is None:
            problems.append(f"alert subject {key}={lab[key]} does not exist")
    if "node" in lab and lab.get("job") != "kubelet" and await reader.get("nodes", lab["node"]) is None:
        problems.append(f"alert node {lab['node']} does not exist")
    pod_alert = lab["alertname"] in ("KubePodCrashLooping", "KubePodNotReady", "KubeContainerWaiting", "CPUThrottlingHigh")
    if pod_alert and exp["category"] != "unknown" and await reader.get("pods", lab["pod"], ns) is None:
        problems.append(f"alert pod {lab['pod']} does not exist")
    return problems


def main() -> int:
    root = Path(sys.argv[1])
    bad = 0
    for d in sorted(p for p in root.iterdir() if p.is_dir()):
        probs = asyncio.run(check(d))
        for pr in probs:
            print(f"{d.name}: {pr}")
        bad += bool(probs)
    print(f"{bad} incident(s) with problems")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
