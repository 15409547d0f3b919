"""A `DiagnosticResult` as Markdown and as JSON, redacted. Pure: result in, text/dict out.

Sections: problem, root cause with evidence, impact, timeline, recommendations (with risk and the
exact command as text — Aetherius never runs it), confidence, cost, steps. Every string passes
`agents.redaction` so a secret in tool output never reaches Slack, Teams or a webhook.
"""

from __future__ import annotations

from typing import Any, Mapping

from agents.redaction import redact_obj, redact_text
from schemas.result import DiagnosticResult, Recommendation
from schemas.task import DiagnosticTask

RISK_ICON = {"low": "🟢", "medium": "🟡", "high": "🔴"}
MAX_EVIDENCE = 10
MAX_STEPS = 20


def title(result: DiagnosticResult) -> str:
    where = f"[{result.cluster_id}] " if result.cluster_id else ""
    return redact_text(f"{where}{result.summary.problem}")


def root_cause_line(result: DiagnosticResult) -> str:
    rc = result.root_cause
    if rc is None:
        return "Root cause not determined"
    return redact_text(f"{rc.category.value} ({rc.severity.value}): {rc.description}")


def ordered_recommendations(result: DiagnosticResult) -> list[Recommendation]:
    return sorted(result.recommendations, key=lambda r: r.priority)


def cost_line(result: DiagnosticResult) -> str:
    u = result.token_usage
    tokens = u.prompt_tokens + u.completion_tokens
    return f"${u.cost_usd:.4f} ({tokens} tokens{', ' + u.model if u.model else ''})" if tokens or u.cost_usd else "$0 (rule engine)"


def incident_line(task: DiagnosticTask | Mapping[str, Any] | None) -> str:
    """'' unless the task belongs to a cross-cluster incident: then its id and every other cluster it fires in."""
    if task is None:
        return ""
    t = task if isinstance(task, DiagnosticTask) else DiagnosticTask.model_validate(task)
    if not t.context.incident_id:
        return ""
    others = [c for c in t.context.clusters if c != t.cluster_id]
    return (f"**Cross-cluster incident** `{t.context.incident_id}`: {t.context.alertname} also fires in "
            f"{', '.join(others) or 'no other cluster now'}")


def render_markdown(result: DiagnosticResult, task: DiagnosticTask | Mapping[str, Any] | None = None) -> str:
    """`task`, when the caller has it (the Task API's view), adds what the report alone does not know: the
    cross-cluster incident the task belongs to, which may have formed after its diagnosis started."""
    out = [f"# {title(result)}", "",
           f"**Task** `{result.task_id}` · **engine** {result.engine} · **confidence** {result.confidence:.0%} · "
           f"**cost** {cost_line(result)} · **status** {result.status}", ""]
    if incident := incident_line(task):
        out += [incident, ""]
    out += ["## Problem", result.summary.problem, ""]
    out += ["## Root cause", root_cause_line(result), ""]
    if result.root_cause and result.root_cause.evidence:
        out.append("### Evidence")
        out += [f"- `{e.source}` ({e.kind}): {e.detail}" for e in result.root_cause.evidence[:MAX_EVIDENCE]]
        out.append("")
    if result.summary.impact:
        out += ["## Impact", result.summary.impact, ""]
    if result.root_cause and result.root_cause.timeline:
        out.append("## Timeline")
        out += [f"- {t.at.isoformat() if t.at else '—'}: {t.event}" for t in result.root_cause.timeline]
        out.append("")
    if result.recommendations:
        out.append("## Recommendations")
        for i, r in enumerate(ordered_recommendations(result), 1):
            out.append(f"{i}. {RISK_ICON.get(r.risk.value, '')} **{r.action}** (risk: {r.risk.value})"
                       + (f" — {r.description}" if r.description else ""))
            if r.command:
                out += ["", "   ```", f"   {r.command}", "   ```"]
        out.append("")
    if result.summary.resolution:
        out += ["## Resolution", result.summary.resolution, ""]
    if result.summary.prevention:
        out += ["## Prevention", result.summary.prevention, ""]
    if result.steps:
        out.append("## Steps")
        for s in result.steps[:MAX_STEPS]:
            params = ", ".join(f"{k}={v}" for k, v in s.input.parameters.items())
            out.append(f"{s.step_number}. `{s.tool_id or s.input.command}`({params}) — {s.status.value}"
                       + (f": {s.output.analysis}" if s.output and s.output.analysis else ""))
        if len(result.steps) > MAX_STEPS:
            out.append(f"… {len(result.steps) - MAX_STEPS} more steps")
        out.append("")
    if result.termination_reason:
        out.append(f"_Stopped: {result.termination_reason}_")
    return redact_text("\n".join(out).rstrip() + "\n")


def render_json(result: DiagnosticResult) -> dict[str, Any]:
    """The report as a JSON-able dict (the webhook body); the full result plus rendered summaries."""
    data = result.model_dump(mode="json")
    data["report_id"] = result.report_id
    data["title"] = result.summary.problem
    data["root_cause_summary"] = root_cause_line(result)
    data["cost_summary"] = cost_line(result)
    return redact_obj(data)
