"""Fix commands as text (never executed): where to aim them and how to spell them."""

from __future__ import annotations

import json
import re

from agents.rules import k8s
from agents.rules.facts import Facts
from schemas.result import Recommendation, RiskLevel

_POD_TEMPLATE_HASH = re.compile(r"^(.+)-[a-z0-9]{5,10}$")


def owner_of(facts: Facts, pod: k8s.Obj) -> str:
    """'deployment/x', 'statefulset/y', … for a pod; 'pod/name' when it has no controller."""
    ns = k8s.meta(pod, "namespace") or "default"
    ref = k8s.controller_ref(pod)
    if not ref:
        return f"pod/{k8s.name_of(pod)}"
    kind, name = ref.get("kind", "").lower(), ref.get("name", "")
    if kind == "replicaset":
        rs = facts.workloads.get(("replicaset", ns, name))
        owner = k8s.controller_ref(rs) if rs else None
        if owner and owner.get("kind") == "Deployment":
            return f"deployment/{owner.get('name')}"
        m = _POD_TEMPLATE_HASH.match(name)  # pod-template-hash naming: <deployment>-<hash>
        if rs is None and m:
            return f"deployment/{m.group(1)}"
        return f"replicaset/{name}"
    if kind == "job":
        job = facts.workloads.get(("job", ns, name))
        owner = k8s.controller_ref(job) if job else None
        if owner and owner.get("kind") == "CronJob":
            return f"cronjob/{owner.get('name')}"
    return f"{kind}/{name}"


def rec(action: str, command: str, risk: RiskLevel = RiskLevel.LOW, description: str = "",
        priority: int = 1) -> Recommendation:
    return Recommendation(priority=priority, action=action, command=command, risk=risk, description=description)


def template_patch(namespace: str, owner: str, pod_spec_patch: dict) -> str:
    """A strategic-merge patch of the pod template of `owner` (or of the pod itself when bare)."""
    body = pod_spec_patch if owner.startswith("pod/") else {"spec": {"template": {"spec": pod_spec_patch}}}
    return f"kubectl -n {namespace} patch {owner} -p '{json.dumps(body, separators=(',', ':'))}'"
