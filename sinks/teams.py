"""Microsoft Teams: a report as an Adaptive Card posted to an incoming webhook (or a Workflows
"post to a channel when a webhook request is received" URL, which takes the same envelope)."""

from __future__ import annotations

import json
from typing import Any

from agents.redaction import redact_text
from schemas.result import DiagnosticResult
from sinks.delivery import HttpRequest
from sinks.report import cost_line, ordered_recommendations, root_cause_line, title

_COLOR = {"low": "Good", "medium": "Warning", "high": "Attention"}


def adaptive_card(result: DiagnosticResult, max_recommendations: int = 3, public_url: str = "") -> dict[str, Any]:
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "size": "Large", "weight": "Bolder", "wrap": True, "text": title(result)},
        {"type": "TextBlock", "wrap": True, "text": redact_text(f"**Root cause:** {root_cause_line(result)}")},
        {"type": "FactSet", "facts": [
            {"title": "Confidence", "value": f"{result.confidence:.0%}"},
            {"title": "Engine", "value": result.engine},
            {"title": "Cost", "value": cost_line(result)},
            {"title": "Task", "value": result.task_id},
        ]},
    ]
    if result.summary.impact:
        body.append({"type": "TextBlock", "wrap": True, "text": redact_text(f"**Impact:** {result.summary.impact}")})
    recs = ordered_recommendations(result)[:max_recommendations]
    if recs:
        body.append({"type": "TextBlock", "weight": "Bolder", "text": "Recommendations", "spacing": "Medium"})
        for i, r in enumerate(recs, 1):
            body.append({"type": "TextBlock", "wrap": True, "color": _COLOR.get(r.risk.value, "Default"),
                         "text": redact_text(f"{i}. {r.action} (risk {r.risk.value})")})
            if r.command:
                body.append({"type": "TextBlock", "wrap": True, "fontType": "Monospace", "text": redact_text(r.command)})
    card: dict[str, Any] = {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard",
                            "version": "1.4", "body": body}
    if public_url:
        card["actions"] = [{"type": "Action.OpenUrl", "title": "Open report",
                            "url": f"{public_url.rstrip('/')}/api/v1/tasks/{result.task_id}"}]
    return card


def teams_payload(result: DiagnosticResult, max_recommendations: int = 3, public_url: str = "") -> dict[str, Any]:
    return {"type": "message", "attachments": [{
        "contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None,
        "content": adaptive_card(result, max_recommendations, public_url)}]}


def teams_request(url: str, result: DiagnosticResult, *, max_recommendations: int = 3, public_url: str = "") -> HttpRequest:
    return HttpRequest(kind="teams", url=url, body=json.dumps(teams_payload(result, max_recommendations, public_url)).encode(),
                       headers={"Content-Type": "application/json"})
