"""Golden test: the SRS §3.4 scenario. payment-service in ecommerce crash-loops; the root cause is a memory
limit set too low (256Mi) → OOMKilled, exit 137; the fix raises the Deployment's limit to 512Mi."""

from __future__ import annotations

import asyncio
from pathlib import Path

from agents.diagnose import diagnose_offline
from schemas.alertmanager import AlertmanagerPayload
from schemas.result import ProblemCategory, RiskLevel
from tests.dumpkit import Ctr, DumpBuilder, alert_payload

POD = "payment-service-7d8f9b456-xyz12"


def build(root: Path) -> Path:
    b = DumpBuilder(root)
    b.node("node-1")
    b.node("node-2")
    rs = b.deployment("ecommerce", "payment-service", replicas=3, ready=2)
    b.pod("ecommerce", POD, [Ctr("payment-service", state="waiting", reason="CrashLoopBackOff", message="back-off 5m0s",
                                 ready=False, restarts=6, last={"reason": "OOMKilled", "exitCode": 137},
                                 limits={"memory": "256Mi", "cpu": "500m"}, requests={"memory": "256Mi"})],
          owner=("ReplicaSet", rs), labels={"app": "payment-service"})
    b.pod("ecommerce", "payment-service-7d8f9b456-abc34", [Ctr("payment-service", limits={"memory": "256Mi"})],
          owner=("ReplicaSet", rs), labels={"app": "payment-service"})
    b.event("ecommerce", "Pod", POD, "BackOff", "Back-off restarting failed container payment-service", count=12)
    b.logs("ecommerce", POD, "payment batch 1200 started\njava.lang.OutOfMemoryError: Java heap space\n",
           container="payment-service", previous=True)
    b.service("ecommerce", "payment-service", {"app": "payment-service"}, port=8080)
    b.endpoints("ecommerce", "payment-service", ready=1, not_ready=1)
    b.noise("ecommerce")
    return b.write()


def test_srs_3_4_payment_service_oom(tmp_path: Path) -> None:
    dump = build(tmp_path / "dump")
    payload = AlertmanagerPayload.model_validate(alert_payload(
        {"namespace": "ecommerce", "pod": POD, "cluster": "prod-cluster-1", "severity": "critical"},
        alertname="PodCrashLoopBackOff"))
    result = asyncio.run(diagnose_offline(dump, payload))

    rc = result.root_cause
    assert rc.category is ProblemCategory.OOM_KILLED
    assert result.confidence >= 0.85 and result.termination_reason == "root_cause_identified"
    assert [(e.source, e.detail) for e in rc.evidence] == [
        (f"pod/ecommerce/{POD}/status.containerStatuses[payment-service].lastState",
         "terminated reason=OOMKilled exitCode=137 finishedAt=2024-01-15T14:29:15Z"),
        (f"pod/ecommerce/{POD}/status.containerStatuses[payment-service].restartCount",
         "restartCount=6, waiting CrashLoopBackOff"),
        (f"pod/ecommerce/{POD}/spec.containers[payment-service].resources.limits.memory", "memory limit=256Mi"),
    ]
    first = result.recommendations[0]
    assert first.command == ("kubectl -n ecommerce set resources deployment/payment-service -c payment-service "
                             "--limits=memory=512Mi")
    assert first.risk is RiskLevel.MEDIUM
    assert "256Mi" in rc.description and "OOMKilled" in rc.description
    assert "ecommerce/payment-service-7d8f9b456-xyz12" in result.summary.impact
    assert [s.tool_id for s in result.steps] == ["describe_pod", "get_workload", "pod_logs"]
    assert result.steps[2].input.parameters == {"namespace": "ecommerce", "name": POD, "container": "payment-service",
                                                "previous": True, "tail_lines": 200}
    assert all(s.status.value == "completed" for s in result.steps)
