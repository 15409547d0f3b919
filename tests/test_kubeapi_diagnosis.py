"""Live diagnosis on a real kube-apiserver gives the same answer as the dump diagnosis, scenario by scenario.

Each dump scenario of the corpus (tests/test_rules_categories.py) is built once; the dump is diagnosed offline, and
the same objects are seeded into the real API server (tests/kubeseed.py: status through the status subresource,
owner references to real uids) and diagnosed through the same step loop, gateway and rule engine with a LiveReader
authenticated as the Helm chart's service account (its rendered ClusterRole installed, its token from the
TokenRequest API). Pod logs come through the API server from the test kubelet, which serves the scenario's dump.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agents.cluster.dump import DumpReader
from agents.cluster.live import LiveReader
from agents.diagnose import diagnose_offline_run, diagnose_run
from schemas.alertmanager import AlertmanagerPayload
from schemas.result import DiagnosticResult
from schemas.step import StepStatus
from tests.dumpkit import DumpBuilder, alert_payload
from tests.kubeapi import KubeAPIServer
from tests.kubechart import ChartIdentity, install_chart_rbac
from tests.kubeseed import FakeKubelet, seed_objects, unseed
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


def in_api_order(b: DumpBuilder) -> None:
    """Lists in the order the API server returns them (by namespace, then name), as `kubectl cluster-info dump`
    writes them; a scenario adds objects in any order, and a rule citing "the first nodes" would cite others."""
    for items in [*b.cluster_objects.values(), *(i for kinds in b.ns_objects.values() for i in kinds.values())]:
        items.sort(key=lambda o: o["metadata"]["name"])


def build(tmp_path: Path, scenario: Scenario) -> tuple[DumpBuilder, AlertmanagerPayload]:
    b = DumpBuilder(tmp_path / "dump")
    labels = scenario(b)
    in_api_order(b)
    b.write()
    return b, AlertmanagerPayload.model_validate(alert_payload(labels, alertname=labels.pop("alertname", "TestAlert")))


async def diagnose_live(server: KubeAPIServer, kubelet: FakeKubelet, token: str, b: DumpBuilder,
                        payload: AlertmanagerPayload) -> DiagnosticResult:
    async with server.admin() as kube:
        seeded = await seed_objects(kube, b, kubelet.port)
        kubelet.source = DumpReader(b.root)
        try:
            async with LiveReader(server.api_client(token), CLUSTER) as reader:
                return (await diagnose_run(reader, payload, engine="rules")).report
        finally:
            kubelet.source = None
            await unseed(kube, seeded)


@pytest.mark.parametrize("scenario", [s[1] for s in SCENARIOS], ids=[s[0] for s in SCENARIOS])
def test_live_diagnosis_equals_the_dump_diagnosis(kube_api: KubeAPIServer, kubelet: FakeKubelet,
                                                  chart_identity: ChartIdentity, tmp_path: Path,
                                                  scenario: Scenario) -> None:
    b, payload = build(tmp_path, scenario)
    dump = asyncio.run(diagnose_offline_run(b.root, payload, engine="rules", cluster_id=CLUSTER)).report
    live = asyncio.run(diagnose_live(kube_api, kubelet, chart_identity.token, b, payload))
    assert verdict(live) == as_the_chart_sees_it(verdict(dump))
    for step in live.steps:
        if step.status is StepStatus.FAILED:
            assert step.tool_id == "list_configmaps" and "HTTP 403" in step.output.stderr, step
