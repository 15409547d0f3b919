"""What the entry points (the webhook bridge, POST /api/v1/tasks, `aetherius trigger`) let in: pure functions.

Three jobs, done once, where text enters, so that nothing downstream (topics, changelogs, the Task API,
ClickHouse, prompts, reports, logs) ever holds more than this:

1. **Names** that name a Kubernetes object follow the Kubernetes rules for their kind (DNS-1123 label for a
   namespace, DNS-1035 label for a service, DNS-1123 subdomain for the rest; a manual request's cluster id is a
   DNS-1123 label, as in the cluster registry - an alert's `cluster` label is only size-bounded, since
   Prometheus setups name clusters freely and an unknown one falls back to the default cluster). A bad one is a
   400 naming the field.
2. **Sizes**: every field has a budget (the table `LIMITS`, documented in docs/security.md), measured as the
   field's JSON-escaped size - what it costs in a record - so 13,000 emoji cannot pass as "13,000 characters".
   Over budget is a 400 (413 for the whole alert) naming the field, never a record a worker cannot carry.
3. **Redaction**: alert labels, annotations, URLs and a manual request's reason go through the one redaction
   module (agents/redaction.py) before they become a record.

A manual request whose name is not a name is also judged as the gateway judges a tool parameter
(`agents.tools.safety.judge_value`): a write command, an escalation or shell syntax there is the person's own
attempt - a security event - while a typo is just a 400.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from schemas.alertmanager import Alert

DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
DNS1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


@dataclass(frozen=True)
class NameRule:
    what: str
    pattern: re.Pattern[str]
    max_length: int

    def problem(self, value: str) -> str:
        if len(value) > self.max_length:
            return f"is {len(value)} characters; a {self.what} has at most {self.max_length}"
        if not self.pattern.fullmatch(value):
            return (f"{_show(value)} is not a valid {self.what} (lower-case letters, digits and '-'"
                    f"{', dots between parts' if self.pattern is DNS1123_SUBDOMAIN else ''}; "
                    f"starting {'with a letter' if self.pattern is DNS1035_LABEL else 'and ending with a letter or digit'})")
        return ""


LABEL_RULE = NameRule("DNS-1123 label", DNS1123_LABEL, 63)
SUBDOMAIN_RULE = NameRule("DNS-1123 subdomain", DNS1123_SUBDOMAIN, 253)
SERVICE_RULE = NameRule("DNS-1035 label (a service name)", DNS1035_LABEL, 63)
CLUSTER_RULE = NameRule("cluster id (DNS-1123 label)", DNS1123_LABEL, 63)

# The alert labels that name a Kubernetes object (streams/normalize.RESOURCE_LABELS plus the namespace), by rule.
RESOURCE_LABEL_RULES: dict[str, NameRule] = {
    "namespace": LABEL_RULE, "pod": SUBDOMAIN_RULE, "deployment": SUBDOMAIN_RULE, "statefulset": SUBDOMAIN_RULE,
    "daemonset": SUBDOMAIN_RULE, "job_name": SUBDOMAIN_RULE, "horizontalpodautoscaler": SUBDOMAIN_RULE,
    "persistentvolumeclaim": SUBDOMAIN_RULE, "service": SERVICE_RULE, "node": SUBDOMAIN_RULE,
}
# A manual request's `kind` -> the rule for its `name`.
KIND_RULES: dict[str, NameRule] = {
    "pod": SUBDOMAIN_RULE, "deployment": SUBDOMAIN_RULE, "statefulset": SUBDOMAIN_RULE, "daemonset": SUBDOMAIN_RULE,
    "job": SUBDOMAIN_RULE, "hpa": SUBDOMAIN_RULE, "horizontalpodautoscaler": SUBDOMAIN_RULE, "pvc": SUBDOMAIN_RULE,
    "persistentvolumeclaim": SUBDOMAIN_RULE, "service": SERVICE_RULE, "node": SUBDOMAIN_RULE,
}

# Budgets in bytes of the JSON-escaped value (ensure_ascii: a non-ASCII character costs 6 or 12 bytes).
LIMITS: dict[str, int] = {
    "labels": 64,                 # labels per alert
    "annotations": 32,            # annotations per alert
    "label_name": 128,            # bytes per label or annotation name
    "label_value": 1024,          # bytes per label value that does not name an object
    "annotation_value": 8192,     # bytes per annotation value (descriptions, runbook text)
    "url": 2048,                  # generatorURL, externalURL
    "receiver": 256,
    "group_key": 4096,
    "alert": 65536,               # one alert, serialised, all fields together
    "reason": 4096,               # a manual request's reason
    "alerts": 1000,               # alerts per webhook payload
}


class AdmissionError(ValueError):
    """A field that may not enter: `field` names it (e.g. `alerts[2].labels.pod`), `status` is 400 or 413,
    `attempt` is (security event kind, what) when the value reads as an attempt rather than a mistake."""

    def __init__(self, field: str, message: str, status: int = 400,
                 attempt: tuple[str, str] | None = None) -> None:
        super().__init__(message)
        self.field, self.message, self.status, self.attempt = field, message, status, attempt


def cost(value: Any) -> int:
    """What a value costs in a record: its JSON-escaped size in bytes (ASCII-escaped, the worst case)."""
    return len(json.dumps(value))


def check_alert(alert: Alert, field: str) -> None:
    """Raise AdmissionError for the first field of `alert` over budget or naming an object badly."""
    if len(alert.labels) > LIMITS["labels"]:
        raise AdmissionError(f"{field}.labels", f"{len(alert.labels)} labels; at most {LIMITS['labels']}")
    if len(alert.annotations) > LIMITS["annotations"]:
        raise AdmissionError(f"{field}.annotations",
                             f"{len(alert.annotations)} annotations; at most {LIMITS['annotations']}")
    for where, items, budget in (("labels", alert.labels, "label_value"),
                                 ("annotations", alert.annotations, "annotation_value")):
        for name, value in items.items():
            if cost(name) > LIMITS["label_name"]:
                raise AdmissionError(f"{field}.{where}", f"a name of {cost(name)} bytes; at most {LIMITS['label_name']}")
            rule = RESOURCE_LABEL_RULES.get(name) if where == "labels" else None
            if rule is not None:
                problem = rule.problem(value) if value else ""
                if problem:
                    raise AdmissionError(f"{field}.{where}.{name}", f"label {name} {problem}")
            elif cost(value) > LIMITS[budget]:
                raise AdmissionError(f"{field}.{where}.{name}",
                                     f"{where[:-1]} {name} is {cost(value)} bytes; at most {LIMITS[budget]}")
    if cost(alert.generatorURL) > LIMITS["url"]:
        raise AdmissionError(f"{field}.generatorURL", f"{cost(alert.generatorURL)} bytes; at most {LIMITS['url']}")
    size = cost(alert.model_dump(mode="json"))
    if size > LIMITS["alert"]:
        raise AdmissionError(field, f"alert is {size} bytes serialised; at most {LIMITS['alert']}", status=413)


def check_payload_fields(receiver: str, external_url: str, group_key: str, alerts: int) -> None:
    for field, value, budget in (("receiver", receiver, "receiver"), ("externalURL", external_url, "url"),
                                 ("groupKey", group_key, "group_key")):
        if cost(value) > LIMITS[budget]:
            raise AdmissionError(field, f"{cost(value)} bytes; at most {LIMITS[budget]}")
    if alerts > LIMITS["alerts"]:
        raise AdmissionError("alerts", f"{alerts} alerts in one payload; at most {LIMITS['alerts']}", status=413)


def redacted_alert(alert: Alert) -> Alert:
    """The alert as it may be stored: labels, annotations and the generator URL through the one redaction."""
    from agents.redaction import redact_obj, redact_text

    return alert.model_copy(update={"labels": redact_obj(alert.labels), "annotations": redact_obj(alert.annotations),
                                    "generatorURL": redact_text(alert.generatorURL)})


def check_manual(cluster_id: str, namespace: str, kind: str, name: str, reason: str) -> None:
    """The names of a manual request (kind already known to be one of KIND_RULES) and its reason's budget."""
    for field, value, rule in (("cluster_id", cluster_id, CLUSTER_RULE), ("namespace", namespace, LABEL_RULE),
                               ("name", name, KIND_RULES[kind])):
        if field == "namespace" and not value:
            continue
        problem = rule.problem(value)
        if problem:
            raise AdmissionError(field, f"{field} {problem}", attempt=_attempt(value))
    if cost(reason) > LIMITS["reason"]:
        raise AdmissionError("reason", f"reason is {cost(reason)} bytes; at most {LIMITS['reason']}")


def _attempt(value: str) -> tuple[str, str] | None:
    from agents.tools.safety import judge_value

    judged = judge_value(value)
    return (judged[0].value, judged[1]) if judged is not None else None


def _show(value: str) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
