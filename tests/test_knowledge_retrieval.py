"""Retrieval quality with the real offline model: each runbook is found by 3 paraphrased questions.

The queries are written the way an on-call engineer or an alert would phrase the problem, without
copying the runbook's headings.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from agents.knowledge.embeddings import LocalMiniLMEmbedder
from agents.knowledge.factory import open_knowledge_base
from schemas.knowledge_settings import KnowledgeSettings
from schemas.result import ProblemCategory

RUNBOOKS = Path(__file__).resolve().parent.parent / "deploy" / "knowledge" / "runbooks"

QUERIES: dict[str, list[str]] = {
    "oom_killed": ["container killed with exit code 137 memory limit reached",
                   "java service keeps getting killed because it uses too much RAM",
                   "pod restarted by the kernel after exceeding its memory"],
    "application_crash": ["service crashes on startup with a stack trace and restarts repeatedly",
                          "after the new release the process exits with code 1 in a loop",
                          "python traceback then container goes into back-off"],
    "missing_config": ["pod cannot start because configmap app-settings not found",
                       "CreateContainerConfigError key DB_PASSWORD missing in secret",
                       "environment variable refers to a config object that does not exist"],
    "image_pull_failure": ["kubelet cannot download the container image from the registry",
                           "ImagePullBackOff unauthorized authentication required",
                           "deployment uses an image tag that does not exist"],
    "invalid_command": ["container fails to start: executable file not found in $PATH",
                        "exec format error when starting the container on arm nodes",
                        "entrypoint override points to a binary that is not in the image"],
    "security_context_violation": ["pod rejected because it violates the restricted pod security standard",
                                   "container has runAsNonRoot and image will run as root",
                                   "process gets permission denied writing to a read-only root filesystem"],
    "insufficient_resources": ["pod pending: 0/3 nodes available, insufficient cpu",
                               "not enough memory on any node to schedule the new replicas",
                               "cluster is full and new pods stay pending"],
    "scheduling_constraint": ["pod pending because no node matches its node selector",
                              "node had untolerated taint so the pod cannot be placed",
                              "pod anti-affinity rules prevent scheduling"],
    "quota_exceeded": ["replicaset cannot create pods: exceeded quota in the namespace",
                       "forbidden: requested memory exceeds the namespace resource quota",
                       "namespace has used up its allowed number of pods"],
    "volume_mount_failure": ["pod stuck in ContainerCreating waiting to mount its persistent volume",
                             "Multi-Attach error: volume already attached to another node",
                             "persistent volume claim stays pending, storage class not found"],
    "node_not_ready": ["a worker node went NotReady and kubelet stopped posting status",
                       "node unreachable, its pods are stuck terminating",
                       "kubelet down on one machine of the cluster"],
    "node_pressure_eviction": ["pods were evicted because the node was low on ephemeral storage",
                               "DiskPressure condition on the node and pods evicted",
                               "kubelet evicting workloads due to memory pressure on the host"],
    "liveness_probe_failure": ["container restarted because the liveness check failed",
                               "health check endpoint times out and kubelet kills the app",
                               "slow starting application killed by its liveness probe before it is up"],
    "readiness_probe_failure": ["pods running but never become ready, readiness check returns 503",
                                "service has no ready endpoints because the readiness probe fails",
                                "rollout stuck waiting for pods to become ready"],
    "service_selector_mismatch": ["service has no endpoints although the pods are healthy",
                                  "label selector of the service does not match the deployment labels",
                                  "traffic to the service fails after renaming pod labels"],
    "dependency_failure": ["application cannot connect to its database, connection refused",
                           "upstream API timing out causes errors in several services",
                           "redis cache unreachable from the backend pods"],
    "dns_failure": ["pods cannot resolve service names, no such host",
                    "coredns is failing and lookups time out",
                    "temporary failure in name resolution inside the cluster"],
    "autoscaler_at_max": ["HPA reached its maximum replicas and CPU is still high",
                          "horizontal pod autoscaler cannot scale further under load",
                          "autoscaling limited, too many replicas requested"],
    "admission_webhook_failure": ["failed calling webhook: context deadline exceeded when creating pods",
                                  "validating admission webhook denied the request",
                                  "istio sidecar injector down so no pods can be created"],
}


def test_there_is_one_runbook_per_category_except_unknown():
    categories = {c.value for c in ProblemCategory} - {"unknown"}
    assert {p.stem for p in RUNBOOKS.glob("*.md")} == categories
    assert set(QUERIES) == categories


@pytest.fixture(scope="module")
def ranked(tmp_path_factory) -> dict[str, list[list[str]]]:
    """For every category, the source runbooks of the top-3 hits of each of its queries."""
    async def run() -> dict[str, list[list[str]]]:
        settings = KnowledgeSettings(path=tmp_path_factory.mktemp("kb"))
        kb = open_knowledge_base(settings, embedder=LocalMiniLMEmbedder())
        try:
            await kb.ingest_files(sorted(RUNBOOKS.glob("*.md")))
            out: dict[str, list[list[str]]] = {}
            for category, queries in QUERIES.items():
                out[category] = []
                for q in queries:
                    hits = await kb.search(q, top_k=3)
                    out[category].append([Path(h.entry.source.reference).stem for h in hits])
            return out
        finally:
            await kb.close()
    return asyncio.run(run())


@pytest.mark.parametrize("category", sorted(QUERIES))
def test_paraphrased_queries_find_the_runbook_in_top_3(ranked, category):
    misses = [(q, got) for q, got in zip(QUERIES[category], ranked[category]) if category not in got]
    assert not misses, f"{category}: not in top 3 for {misses}"
