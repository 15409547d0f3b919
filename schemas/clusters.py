"""The cluster registry file (SRS §5.5.3): which clusters exist, where their credentials live, and their limits.

    clusters:
    - id: "prod-us-west"
      name: "Production US West"
      region: "us-west-2"
      environment: "production"
      vault_path: "kubernetes/prod-us-west"
      monitoring: {alertmanager_url: "https://...", webhook_endpoint: "/webhook/alertmanager"}
      access_control: {max_concurrent_tasks: 10, allowed_operations: [get, list, describe, logs], rate_limit: "100/hour"}

Additions to the SRS shape (all optional): `enabled`, and `credentials` saying how `vault_path` is read
(KV v2 secret, the default, or the Kubernetes secrets engine).
Deviation from the SRS example: `debug` is refused in `allowed_operations` - `kubectl debug` creates an
ephemeral container, a write, and Aetherius never writes to a cluster.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_serializer, model_validator

READ_OPERATIONS: tuple[str, ...] = ("get", "list", "watch", "describe", "logs", "events", "top")
_PERIODS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600,
            "d": 86400, "day": 86400}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*([a-z]+?)s?\s*$")


class RateSpec(BaseModel):
    """"100/hour" -> count=100, period_seconds=3600. Serialises back to the short string."""

    model_config = ConfigDict(frozen=True)
    count: int = Field(ge=1)
    period_seconds: int = Field(ge=1)

    @model_validator(mode="before")
    @classmethod
    def _parse(cls, value: object) -> object:
        if isinstance(value, str):
            match = _RATE.match(value.lower())
            if not match or match.group(2) not in _PERIODS:
                raise ValueError(f"rate {value!r} must look like '100/hour' (unit: second, minute, hour or day)")
            return {"count": int(match.group(1)), "period_seconds": _PERIODS[match.group(2)]}
        return value

    @property
    def per_second(self) -> float:
        return self.count / self.period_seconds

    @model_serializer
    def _dump(self) -> str:
        unit = {1: "second", 60: "minute", 3600: "hour", 86400: "day"}.get(self.period_seconds)
        return f"{self.count}/{unit}" if unit else f"{self.count}/{self.period_seconds}s"


class Monitoring(BaseModel):
    model_config = ConfigDict(extra="forbid")
    alertmanager_url: str | None = Field(default=None, pattern=r"^https?://")
    prometheus_url: str | None = Field(default=None, pattern=r"^https?://")
    webhook_endpoint: str = Field(default="/webhook/alertmanager", pattern=r"^/")


class AccessControl(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_concurrent_tasks: int = Field(default=10, ge=1, le=1000)
    allowed_operations: list[str] = Field(default_factory=lambda: ["get", "list", "describe", "logs"])
    rate_limit: RateSpec = Field(default_factory=lambda: RateSpec(count=100, period_seconds=3600))

    @field_validator("allowed_operations")
    @classmethod
    def _read_only(cls, value: list[str]) -> list[str]:
        bad = [op for op in value if op not in READ_OPERATIONS]
        if bad:
            raise ValueError(f"operations {bad} are not read-only; allowed: {list(READ_OPERATIONS)} "
                             "(Aetherius never changes a cluster)")
        if not value:
            raise ValueError("at least one operation is required")
        return value


MIN_TOKEN_SECONDS = 600  # kube-apiserver refuses a TokenRequest with expirationSeconds below 10 minutes


def ttl_seconds(ttl: str) -> int:
    """"90", "90s", "15m", "2h" -> seconds."""
    unit = {"s": 1, "m": 60, "h": 3600}.get(ttl[-1], 1)
    return int(ttl.rstrip("smh")) * unit


class CredentialSource(BaseModel):
    """How `vault_path` is read. `mount` defaults to the first segment of vault_path; the rest is the KV v2
    secret path, or the Kubernetes secrets engine role."""

    model_config = ConfigDict(extra="forbid")
    engine: Literal["kv2", "kubernetes"] = "kv2"
    mount: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$")
    kubernetes_namespace: str | None = None  # kubernetes engine: namespace the service-account token is for
    ttl: str | None = Field(default=None, pattern=r"^\d+[smh]?$")  # kubernetes engine: requested token TTL
    # kubernetes engine, for a role that generates the service account and binds it to a (Cluster)Role: bind it
    # cluster-wide (a ClusterRoleBinding) rather than in kubernetes_namespace only. A diagnosis reads nodes,
    # persistent volumes and webhooks, which a namespaced RoleBinding cannot grant.
    cluster_role_binding: bool = False
    # kubernetes engine: API server and CA, when not read from the engine's own config
    server: str | None = Field(default=None, pattern=r"^https?://")
    ca_cert: str | None = None

    @model_validator(mode="after")
    def _namespace_for_k8s(self) -> "CredentialSource":
        if self.engine == "kubernetes" and not self.kubernetes_namespace:
            raise ValueError("credentials.kubernetes_namespace is required with engine 'kubernetes'")
        if self.engine == "kubernetes" and self.ttl and ttl_seconds(self.ttl) < MIN_TOKEN_SECONDS:
            raise ValueError(f"credentials.ttl {self.ttl} is too short: the API server's TokenRequest issues no "
                             "service-account token shorter than 10m")
        return self


class ClusterConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
    name: str = Field(min_length=1)
    region: str = ""
    environment: str = ""
    vault_path: str = Field(pattern=r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+$")
    monitoring: Monitoring = Field(default_factory=Monitoring)
    access_control: AccessControl = Field(default_factory=AccessControl)
    credentials: CredentialSource = Field(default_factory=CredentialSource)
    enabled: bool = True

    def vault_location(self) -> tuple[str, str]:
        """(mount, path-or-role) inside Vault for this cluster."""
        mount = self.credentials.mount
        if mount:
            if not self.vault_path.startswith(mount + "/"):
                raise ValueError(f"cluster {self.id}: vault_path {self.vault_path!r} is not under mount {mount!r}")
            return mount, self.vault_path[len(mount) + 1:]
        head, _, rest = self.vault_path.partition("/")
        return head, rest


class ClusterRegistryFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    clusters: list[ClusterConfig]

    @field_validator("clusters")
    @classmethod
    def _unique_ids(cls, value: list[ClusterConfig]) -> list[ClusterConfig]:
        seen: dict[str, int] = {}
        for index, cluster in enumerate(value, start=1):
            if cluster.id in seen:
                raise ValueError(f"cluster id {cluster.id!r} appears more than once (#{seen[cluster.id]} and #{index})")
            seen[cluster.id] = index
        return value
