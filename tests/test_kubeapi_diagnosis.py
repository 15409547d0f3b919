"""Live diagnosis on a real kube-apiserver gives the same answer as the dump diagnosis, scenario by scenario.

Each dump scenario (tests/test_rules_categories.py, and every incident of tests/corpus where present) is written
once, as a live cluster would have it (lists in API order, happening now); the dump is diagnosed offline, and what the dump holds is seeded into the real API
server (tests/kubeseed.py: status through the status subresource,
owner references to real uids) and diagnosed through the same step loop, gateway and rule engine with a LiveReader
authenticated as the Helm chart's service account (its rendered ClusterRole installed, its token from the
TokenRequest API). Pod logs come through the API server from the test kubelet, which serves the scenario's dump.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from agents.cluster.dump import DumpReader
from agents.cluster.live import LiveReader
from agents.diagnose import diagnose_offline_run, diagnose_run
from schemas.alertmanager import AlertmanagerPayload
from schemas.result import DiagnosticResult
from schemas.step import StepStatus
from tests.dumpkit import NOW, DumpBuilder, alert_payload
from tests.kubeapi import KubeAPIServer
from tests.kubechart import ChartIdentity, install_chart_rbac
from tests.kubeseed import FakeKubelet, dump_cluster, dump_objects, seed_objects, unseed
from tests.test_rules_categories import SCENARIOS, Scenario

CLUSTER = "c1"


@pytest.fixture(scope="module")
def kubelet(kube_api: KubeAPIServer) -> Iterator[FakeKubelet]:
    with FakeKubelet(kube_api.pki["cert"], kube_api.pki["key"]) as k:
        yield k


@pytest.fixture(scope="module")
def chart_identity(kube_api: KubeAPIServer) -> ChartIdentity:
    async def install() -> ChartIdentity:
        async with kube_api.admin() as kube:
            return await install_chart_rbac(kube)
    return asyncio.run(install())


def as_the_chart_sees_it(dump: dict[str, Any]) -> dict[str, Any]:
    """The dump's verdict with what the chart's role cannot read taken out: it grants no configmaps (listing them
    returns their values), so `list_configmaps` is refused with 403 and its evidence cannot be cited."""
    return {**dump,
            "evidence": [e for e in dump["evidence"] if not e[0].startswith("configmaps/")],
            "steps": [(t, StepStatus.FAILED if t == "list_configmaps" else s) for t, s in dump["steps"]]}


def verdict(result: DiagnosticResult) -> dict[str, Any]:
    """Everything of a diagnosis that depends on what was read (not its ids or clock)."""
    rc = result.root_cause
    return {
        "category": rc.category.value if rc else None,
        "description": rc.description if rc else None,
        "evidence": [(e.source, e.detail) for e in rc.evidence] if rc else [],
        "confidence": result.confidence,
        "recommendations": [(r.action, r.command) for r in result.recommendations],
        "steps": [(s.tool_id, s.status) for s in result.steps],
        "termination": result.termination_reason,
    }


TIMESTAMP = re.compile(r"\b(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?Z")


SHIFT = datetime.now(UTC).replace(microsecond=0) - NOW  # the scenarios' clock -> the present


def now_shifted(text: str) -> str:
    def moved(m: re.Match[str]) -> str:
        if m.group(1) < "1971":  # Alertmanager's zero time (0001-01-01) for "no end": not a moment
            return m.group(0)
        t = datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC) + SHIFT
        return t.strftime("%Y-%m-%dT%H:%M:%S") + (m.group(2) or "") + "Z"
    return TIMESTAMP.sub(moved, text)


def payload_now(payload: dict[str, Any]) -> AlertmanagerPayload:
    """The scenario's alert, at the present like its dump."""
    return AlertmanagerPayload.model_validate(json.loads(now_shifted(json.dumps(payload))))


def as_a_live_cluster_has_it(root: Path) -> None:
    """Rewrite a dump as `kubectl cluster-info dump` of a live cluster would have it, in place:
    - its lists in the order the API server returns them (by name): a scenario adds objects in any order, and a
      rule citing "the first nodes" would cite others;
    - happening now: every time shifted so the scenario's clock (tests/dumpkit.NOW, in 2024) is the present. The
      real server writes events of its own (its IP allocator's repair loop warns about preset cluster IPs) at the
      real time, and the rule engine takes the newest event as "now": 2024 scenario events would all be stale."""
    for path in (p for p in root.rglob("*") if p.is_file()):
        text = now_shifted(path.read_text(errors="replace"))
        if path.suffix == ".json":
            data = json.loads(text)
            if isinstance(data, dict) and isinstance(data.get("items"), list):
                data["items"].sort(key=lambda o: (o.get("metadata") or {}).get("name") or "")
                text = json.dumps(data)
        path.write_text(text)


def build(tmp_path: Path, scenario: Scenario) -> tuple[DumpBuilder, AlertmanagerPayload]:
    b = DumpBuilder(tmp_path / "dump")
    labels = scenario(b)
    b.write()
    as_a_live_cluster_has_it(b.root)
    return b, payload_now(alert_payload(labels, alertname=labels.pop("alertname", "TestAlert")))


async def diagnose_live(server: KubeAPIServer, kubelet: FakeKubelet, token: str, root: Path,
                        payload: AlertmanagerPayload) -> tuple[DiagnosticResult, DiagnosticResult]:
    """Seed what the dump at `root` holds, diagnose it live as `token`, and diagnose a dump of the live cluster
    (what `kubectl cluster-info dump` would write of it) offline; take it all away again."""
    async with server.admin() as kube:
        seeded = await seed_objects(kube, await dump_objects(root), kubelet.port)  # what the dump reader reads
        kubelet.source = DumpReader(root)
        try:
            async with LiveReader(server.api_client(token), CLUSTER) as reader:
                live = (await diagnose_run(reader, payload, engine="rules")).report
            dumped = await dump_cluster(kube, root.parent / f"{root.name}-of-live", logs_from=root)
            of_live = (await diagnose_offline_run(dumped, payload, engine="rules", cluster_id=CLUSTER)).report
            return live, of_live
        finally:
            kubelet.source = None
            await unseed(kube, seeded)


def assert_same(live: DiagnosticResult, of_live: DiagnosticResult, scenario: DiagnosticResult) -> None:
    """The live reader and the dump reader agree on the same cluster, every detail (but what the chart's role
    cannot read); and the scenario means on a real server what it means in its own dump: the same category.
    (Not every detail: the server defaults what a scenario leaves out - a Job's pod template and selector, a
    LimitRange's defaults - sorts label maps, and derives qosClass; the planner may then take one more look.)"""
    assert verdict(live) == as_the_chart_sees_it(verdict(of_live))
    for step in live.steps:
        if step.status is StepStatus.FAILED:
            assert step.tool_id == "list_configmaps" and "HTTP 403" in step.output.stderr, step
    assert verdict(live)["category"] == verdict(scenario)["category"]


@pytest.mark.parametrize("scenario", [s[1] for s in SCENARIOS], ids=[s[0] for s in SCENARIOS])
def test_live_diagnosis_equals_the_dump_diagnosis(kube_api: KubeAPIServer, kubelet: FakeKubelet,
                                                  chart_identity: ChartIdentity, tmp_path: Path,
                                                  scenario: Scenario) -> None:
    b, payload = build(tmp_path, scenario)
    dump = asyncio.run(diagnose_offline_run(b.root, payload, engine="rules", cluster_id=CLUSTER)).report
    live, of_live = asyncio.run(diagnose_live(kube_api, kubelet, chart_identity.token, b.root, payload))
    assert_same(live, of_live, dump)


# --- the incident corpus (tests/corpus), where this branch has it ----------------------------------------------
CORPUS = Path(__file__).parent / "corpus"
if CORPUS.is_dir():
    from tests.corpus import (  # noqa: F401  (register them)
        FAMILIES,
        HELDOUT,
        families_deps,
        families_infra,
        families_pod,
        heldout,
    )
    from tests.corpus import build as build_corpus

    CORPUS_IDS = [f"{name}-{i + 1}" for name, _, variants in FAMILIES for i in range(len(variants))]
    CORPUS_IDS += [f"heldout:{name}-{i + 1}" for name, _, variants in HELDOUT for i in range(len(variants))]
else:
    CORPUS_IDS = []


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    incidents = {i.id: i for i in build_corpus(tmp_path_factory.mktemp("corpus"))}
    incidents |= {f"heldout:{i.id}": i for i in build_corpus(tmp_path_factory.mktemp("heldout"), heldout=True)}
    for incident in incidents.values():
        as_a_live_cluster_has_it(incident.root)
    return incidents


@pytest.mark.skipif(not CORPUS_IDS, reason="tests/corpus is not on this branch")
@pytest.mark.parametrize("incident_id", CORPUS_IDS or ["none"])
def test_live_diagnosis_equals_the_dump_diagnosis_on_the_corpus(kube_api: KubeAPIServer, kubelet: FakeKubelet,
                                                                chart_identity: ChartIdentity, corpus: dict[str, Any],
                                                                incident_id: str) -> None:
    incident = corpus[incident_id]
    payload = payload_now(incident.expect.payload)
    dump = asyncio.run(diagnose_offline_run(incident.root, payload, engine="rules", cluster_id=CLUSTER)).report
    live, of_live = asyncio.run(diagnose_live(kube_api, kubelet, chart_identity.token, incident.root, payload))
    assert_same(live, of_live, dump)
