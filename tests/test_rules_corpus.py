"""The incident corpus (tests/corpus/) through the path users get: `diagnose_offline(dump, payload, engine="rules")`.

Every incident must get the right category, cite the evidence it states, reach its deepest resource, show the
causal chain when it is multi-hop, and stay within 10 tool calls. The corpus itself is held to its shape:
at least 100 incidents, every category at least 4 times, at least 30 multi-hop, 15 with red herrings, 5 true
unknowns, and alerts carrying the scrape-target labels kube-prometheus-stack really sends.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from agents.diagnose import diagnose_offline
from schemas.alertmanager import AlertmanagerPayload
from schemas.result import ProblemCategory
from tests.corpus import FAMILIES, Incident, build
from tests.corpus import families_deps, families_infra, families_pod  # noqa: F401  (register the families)

IDS = [f"{name}-{i + 1}" for name, _, variants in FAMILIES for i in range(len(variants))]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Incident]:
    return {i.id: i for i in build(tmp_path_factory.mktemp("corpus"))}


def diagnose(incident: Incident):
    payload = AlertmanagerPayload.model_validate(incident.expect.payload)
    return asyncio.run(diagnose_offline(incident.root, payload, engine="rules"))


@pytest.mark.parametrize("incident_id", IDS)
def test_incident_is_diagnosed_with_its_evidence(corpus: dict[str, Incident], incident_id: str) -> None:
    incident = corpus[incident_id]
    result = diagnose(incident)
    problems = incident.check(result)
    assert not problems, f"{problems}\n{result.root_cause.description if result.root_cause else ''}"
    assert result.recommendations and result.summary.impact
    if incident.expect.category is not ProblemCategory.UNKNOWN:
        assert result.confidence >= 0.6 and result.recommendations[0].command


def test_corpus_shape(corpus: dict[str, Incident]) -> None:
    incidents = list(corpus.values())
    per_category = Counter(i.expect.category for i in incidents)
    assert len(incidents) >= 100
    assert all(per_category[c] >= 4 for c in ProblemCategory), {c.value: per_category[c] for c in ProblemCategory}
    assert sum(i.expect.multi_hop for i in incidents) >= 30
    assert sum(i.expect.red_herring for i in incidents) >= 15
    assert per_category[ProblemCategory.UNKNOWN] >= 5
    assert len({i.stack for i in incidents}) >= 5, "several Kubernetes versions, runtimes and providers"


def test_alerts_carry_scrape_target_labels_like_kube_prometheus_stack(corpus: dict[str, Incident]) -> None:
    """Workload alerts built on kube-state-metrics carry the exporter's pod/container/service/job labels."""
    workload_alerts = [i for i in corpus.values() if i.expect.payload["alerts"][0]["labels"]["alertname"] in
                       ("KubeDeploymentReplicasMismatch", "KubeStatefulSetReplicasMismatch")]
    assert len(workload_alerts) >= 10
    for i in workload_alerts:
        labels = i.expect.payload["alerts"][0]["labels"]
        assert labels["job"] == "kube-state-metrics" and "kube-state-metrics" in labels["pod"], labels


def test_multi_hop_reports_name_the_deepest_cause_and_show_the_chain(corpus: dict[str, Incident]) -> None:
    for i in [i for i in corpus.values() if i.expect.multi_hop][:12]:
        rc = diagnose(i).root_cause
        chain = rc.description.split("Causal chain: ", 1)[1]
        assert chain.count(" → ") >= 2, (i.id, chain)


def test_every_call_the_planner_makes_passes_the_gateways_checks(corpus: dict[str, Incident]) -> None:
    """The gateway refuses calls whose parameters break the registry's patterns; the planner must never plan one.
    Every call of the one loop goes through the gateway, which audits it: none may be rejected."""
    from agents.diagnose import diagnose_offline_run

    refused = []
    for incident in corpus.values():
        payload = AlertmanagerPayload.model_validate(incident.expect.payload)
        run = asyncio.run(diagnose_offline_run(incident.root, payload, engine="rules"))
        refused += [(incident.id, a.resource, a.reason) for a in run.audit
                    if a.action == "tool.call" and a.result == "rejected"]
        assert [a for a in run.audit if a.action == "tool.call"], incident.id
    assert not refused, refused[:5]
