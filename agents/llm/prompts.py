"""What the model is told: the system prompt, the task with the rule engine's findings and retrieved
knowledge, and the corrective message after a malformed answer.

Every text that enters a prompt is redacted here (`agents.redaction`: structured data value by value
with `redact_obj`, then the text with `redact_text`), at the one place prompts are built, so no caller
can forget it. Tool outputs are redacted where they enter the conversation (conversation.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, Union

from agents.redaction import redact_obj, redact_text
from schemas.knowledge import KnowledgeEntry
from schemas.result import DiagnosticResult, ProblemCategory
from schemas.task import DiagnosticTask

RuleFindings = Union[DiagnosticResult, Mapping[str, Any], str, None]
Knowledge = Union[Iterable[Union[KnowledgeEntry, Mapping[str, Any], str]], str, None]

MAX_FINDINGS_CHARS = 8000
MAX_KNOWLEDGE_ENTRIES = 3
MAX_KNOWLEDGE_CHARS = 1500

_CATEGORY_HINTS: dict[ProblemCategory, str] = {
    ProblemCategory.OOM_KILLED: "container killed for exceeding its memory limit (reason OOMKilled)",
    ProblemCategory.APPLICATION_CRASH: "the application exits on its own (non-zero exit, panic, stack trace)",
    ProblemCategory.MISSING_CONFIG: "a referenced ConfigMap/Secret or key does not exist",
    ProblemCategory.IMAGE_PULL_FAILURE: "the image cannot be pulled (wrong name/tag, auth, registry down)",
    ProblemCategory.INVALID_COMMAND: "the container command/entrypoint cannot run (not found, not executable)",
    ProblemCategory.SECURITY_CONTEXT_VIOLATION: "runAsNonRoot/PSA/capability rules prevent the container",
    ProblemCategory.INSUFFICIENT_RESOURCES: "no node has enough CPU/memory for the pod's requests",
    ProblemCategory.SCHEDULING_CONSTRAINT: "affinity, taints, nodeSelector or topology rules leave no node",
    ProblemCategory.QUOTA_EXCEEDED: "a ResourceQuota forbids creating the pod or object",
    ProblemCategory.VOLUME_MOUNT_FAILURE: "a volume cannot bind, attach or mount (PVC pending, mount error)",
    ProblemCategory.NODE_NOT_READY: "the pod's node is NotReady or unreachable",
    ProblemCategory.NODE_PRESSURE_EVICTION: "evicted for node memory/disk/PID pressure",
    ProblemCategory.LIVENESS_PROBE_FAILURE: "restarted because its liveness probe fails",
    ProblemCategory.READINESS_PROBE_FAILURE: "running but never ready because its readiness probe fails",
    ProblemCategory.SERVICE_SELECTOR_MISMATCH: "a service selects no pods (labels/ports do not match)",
    ProblemCategory.DEPENDENCY_FAILURE: "fails because a service it calls is down or has no ready endpoints",
    ProblemCategory.DNS_FAILURE: "name resolution fails",
    ProblemCategory.AUTOSCALER_AT_MAX: "the HPA is pinned at maxReplicas while the load stays above target",
    ProblemCategory.ADMISSION_WEBHOOK_FAILURE: "an admission webhook rejects or times out object creation",
    ProblemCategory.UNKNOWN: "the evidence does not support any category above",
}

ANSWER_EXAMPLE = {
    "summary": {"problem": "payment-7d9 restarts: OOMKilled", "impact": "checkout fails for 30% of requests",
                "resolution": "raise the memory limit to 1Gi", "prevention": "alert on memory > 80% of limit"},
    "root_cause": {"description": "The JVM heap grows past the 512Mi limit under load.", "category": "oom_killed",
                   "severity": "high",
                   "evidence": [{"source": "pod/shop/payment-7d9 status", "detail": "lastState.terminated.reason=OOMKilled exitCode=137", "kind": "field"}]},
    "recommendations": [{"priority": 1, "action": "Raise the memory limit",
                         "command": "kubectl -n shop set resources deployment/payment --limits=memory=1Gi",
                         "risk": "medium"}],
    "confidence": 0.9,
}


def system_prompt() -> str:
    categories = "\n".join(f"- {c.value}: {hint}" for c, hint in _CATEGORY_HINTS.items())
    return f"""You are Aetherius, a Kubernetes diagnosis agent. You find the root cause of an alert.
You can only READ the cluster, through the functions you are given. You never change anything; the
commands you recommend are text for a human to review and run.

Method:
1. Start from the rule engine's findings and the knowledge provided: they are evidence already collected.
2. Call functions to confirm or refute the leading hypothesis. Ask for several independent things at
   once when you can (up to 3 calls are run in parallel). Do not repeat a call you already made.
3. Stop as soon as the evidence is conclusive, and answer.

Choose root_cause.category as exactly one of (the most specific that explains the alert):
{categories}

Your final answer is ONE JSON object and nothing else (no prose, no code fence), shaped like:
{json.dumps(ANSWER_EXAMPLE, indent=1)}
Rules for the answer: severity is critical|high|medium|low; risk is low|medium|high; priority 1-5
(1 first); every evidence item names where it was seen (object and field, event, or log line) and
quotes the value as a function result or the rule engine's findings showed it - an answer citing
anything else is refused; confidence is 0-1 and honest: >= 0.85 only when the evidence leaves no
real doubt."""


def _task_text(task: DiagnosticTask) -> str:
    ctx = task.context
    lines = [
        f"Alert: {ctx.alertname or '(none)'} severity={ctx.severity} priority={task.priority.value}",
        f"Cluster: {task.cluster_id}" + (f" (also: {', '.join(ctx.clusters)})" if len(ctx.clusters) > 1 else ""),
        f"Target: {task.resource.kind or '?'} {task.resource.namespace or task.namespace}/{task.resource.name or '?'}",
    ]
    if ctx.labels:
        lines.append("Labels: " + json.dumps(ctx.labels, sort_keys=True))
    if ctx.annotations:
        lines.append("Annotations: " + json.dumps(ctx.annotations, sort_keys=True))
    return "\n".join(lines)


def findings_text(findings: RuleFindings) -> str:
    if findings is None:
        return ""
    if isinstance(findings, DiagnosticResult):
        rc = findings.root_cause
        data: Any = {
            "category": rc.category.value if rc else "unknown",
            "description": rc.description if rc else findings.summary.problem,
            "confidence": findings.confidence,
            "evidence": [e.model_dump() for e in rc.evidence] if rc else [],
            "recommendations": [{"action": r.action, "command": r.command} for r in findings.recommendations],
        }
        text = json.dumps(redact_obj(data), indent=1, default=str)
    elif isinstance(findings, Mapping):
        text = json.dumps(redact_obj(json.loads(json.dumps(findings, default=str))), indent=1)
    else:
        text = str(findings)
    if len(text) > MAX_FINDINGS_CHARS:
        text = text[:MAX_FINDINGS_CHARS] + "\n…[findings truncated]"
    return text


def knowledge_text(knowledge: Knowledge) -> str:
    if knowledge is None:
        return ""
    if isinstance(knowledge, str):
        return knowledge[: MAX_KNOWLEDGE_CHARS * MAX_KNOWLEDGE_ENTRIES]
    parts = []
    for entry in list(knowledge)[:MAX_KNOWLEDGE_ENTRIES]:
        if isinstance(entry, KnowledgeEntry):
            title, content = entry.title, entry.content
        elif isinstance(entry, Mapping):
            title, content = str(entry.get("title", "")), str(entry.get("content", ""))
        else:
            title, content = "", str(entry)
        title, content = redact_text(title), redact_text(content)
        parts.append(f"## {title}\n{content[:MAX_KNOWLEDGE_CHARS]}" if title else content[:MAX_KNOWLEDGE_CHARS])
    return "\n\n".join(parts)


def initial_messages(task: DiagnosticTask, *, findings: RuleFindings = None,
                     knowledge: Knowledge = None) -> list[dict[str, Any]]:
    """The conversation's opening: system prompt and one user message with everything known so far."""
    sections = [_task_text(task)]
    found = findings_text(findings)
    sections.append("Rule engine findings:\n" + (found or "(none: the rule engine has not run or found nothing)"))
    known = knowledge_text(knowledge)
    if known:
        sections.append("Relevant knowledge (runbooks and past cases):\n" + known)
    sections.append("Diagnose the root cause. Call functions for evidence, then answer with the JSON object.")
    return [{"role": "system", "content": redact_text(system_prompt())},
            {"role": "user", "content": redact_text("\n\n".join(sections))}]


def correction_message(error: str) -> dict[str, Any]:
    return {"role": "user", "content": redact_text(
        "Your last reply was not a valid answer: " + error[:2000]
        + "\nReply with only the JSON object described in the instructions, nothing else.")}


def conclude_message(reason: str) -> dict[str, Any]:
    return {"role": "user", "content": redact_text(
        f"{reason} No more function calls are possible. Give your final answer now, as the JSON object, "
        "from the evidence you have; lower the confidence to match what is still unverified.")}
