"""Report sinks settings (`Settings.sinks`, env `AETHERIUS_SINKS__...`).

    sinks:
      destinations:
        oncall-slack: {type: slack, url: "https://hooks.slack.com/services/T/B/X"}
        audit-hook:   {type: webhook, url: "https://ops.example/aetherius", secret: "..."}
        ops-teams:    {type: teams, url: "https://example.webhook.office.com/..."}
      routes:        # first matching rule wins unless it says continue: true
        - {clusters: ["prod-*"], priorities: [P0, P1], destinations: [oncall-slack, ops-teams]}
        - {namespaces: [payment], destinations: [audit-hook], continue: true}
      default: [oncall-slack]
      slack_signing_secret: "..."   # verifies Slack's interactivity requests
      security_alerts:              # SRS §5.8.5: every security.* audit event goes to the SOC
        destinations: [soc-hook]    # webhook or slack destinations from the list above
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from schemas.signal import Priority


class Destination(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["slack", "webhook", "teams"]
    url: SecretStr  # webhook URLs are credentials (Slack's and Teams' embed a token)
    secret: SecretStr | None = None  # webhook: the HMAC-SHA256 signing key (required for type webhook)
    enabled: bool = True
    max_recommendations: int = Field(default=3, ge=0, le=10)

    @model_validator(mode="after")
    def _webhook_signs(self) -> "Destination":
        if self.type == "webhook" and not self.secret:
            raise ValueError("a webhook destination needs a 'secret' to sign its requests")
        return self


class RouteRule(BaseModel):
    """Empty match lists mean "any"; values are shell-style globs (`prod-*`)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    clusters: list[str] = Field(default_factory=list)
    namespaces: list[str] = Field(default_factory=list)
    priorities: list[Priority] = Field(default_factory=list)
    destinations: list[str] = Field(min_length=1)
    continue_: bool = Field(default=False, alias="continue")


class RetryPolicy(BaseModel):
    max_attempts: int = Field(default=6, ge=1, le=50)
    base_delay_seconds: float = Field(default=1.0, ge=0)
    max_delay_seconds: float = Field(default=60.0, ge=0)
    jitter: float = Field(default=0.2, ge=0, le=1)  # +- fraction of each delay
    timeout_seconds: float = Field(default=10.0, gt=0)  # per HTTP attempt


class SecurityAlertSettings(BaseModel):
    """Where the sink role sends a SOC alert for every `security.*` audit event (sinks/security_alerts.py)."""

    model_config = ConfigDict(extra="forbid")

    destinations: list[str] = Field(default_factory=list)  # names from sinks.destinations; webhook or slack
    # Events older than this are counted and skipped, not alerted: a first start reads the audit topic from
    # its beginning (so nothing raised before the sink role ran is missed) without paging the SOC for last month.
    max_age_seconds: float = Field(default=24 * 3600, gt=0)


class SinksSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    destinations: dict[str, Destination] = Field(default_factory=dict)
    routes: list[RouteRule] = Field(default_factory=list)
    default: list[str] = Field(default_factory=list)
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    slack_signing_secret: SecretStr | None = None
    public_url: str = ""  # where report links point (the API), optional
    security_alerts: SecurityAlertSettings = Field(default_factory=SecurityAlertSettings)

    @model_validator(mode="after")
    def _routes_name_destinations(self) -> "SinksSettings":
        known = set(self.destinations)
        for where, names in [("default", self.default), ("security_alerts.destinations", self.security_alerts.destinations)] \
                + [(f"routes[{i}]", r.destinations) for i, r in enumerate(self.routes)]:
            unknown = sorted(set(names) - known)
            if unknown:
                raise ValueError(f"sinks.{where} names unknown destination(s) {unknown}; known: {sorted(known)}")
        teams = sorted(n for n in self.security_alerts.destinations if self.destinations[n].type == "teams")
        if teams:
            raise ValueError(f"sinks.security_alerts.destinations: {teams} are Teams destinations; "
                             "security alerts go to webhook or slack destinations")
        return self
