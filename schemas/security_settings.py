"""Security settings: API keys (hashed), OIDC, rate limits, TLS. The lead wires `SecuritySettings` into `Settings.security`.

Nothing secret is stored in clear: API keys are kept as hashes (`sha256:<hex>` or `scrypt:...`, see
`aetherius.http.auth.hash_api_key`); Alertmanager's bearer/basic credentials live in `Settings.webhook` as SecretStr.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from schemas.suspension_settings import SuspensionSettings

Role = Literal["sre", "developer", "admin", "auditor", "alertmanager"]
"""The SRS roles (§2.3.1) plus `alertmanager`, the service role of the webhook credential (it may only ingest)."""

HUMAN_ROLES: tuple[str, ...] = ("sre", "developer", "admin", "auditor")

_SHA256 = re.compile(r"^sha256:[0-9a-f]{64}$")
_SCRYPT = re.compile(r"^scrypt:\d+:\d+:\d+:[A-Za-z0-9+/=_-]+:[A-Za-z0-9+/=_-]+$")


class ApiKeyEntry(BaseModel):
    """One API key: a name (the audit actor), a role, and the key's hash - never the key itself."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.@:-]+$")
    role: Role
    hash: str
    rate_per_second: float | None = Field(default=None, gt=0)  # overrides RateLimitSettings for this key
    burst: int | None = Field(default=None, ge=1)

    @field_validator("hash")
    @classmethod
    def _hash_format(cls, value: str) -> str:
        if not (_SHA256.match(value) or _SCRYPT.match(value)):
            raise ValueError("must be 'sha256:<64 hex>' or 'scrypt:<n>:<r>:<p>:<salt>:<hash>' "
                             "(use `aetherius.http.auth.hash_api_key`); a clear-text key is refused")
        return value


class OIDCSettings(BaseModel):
    """Bearer JWTs from an OIDC provider, checked against its JWKS (URL or file)."""

    model_config = ConfigDict(extra="forbid")
    issuer: str = Field(min_length=1)
    audience: str = Field(min_length=1)
    jwks_url: str | None = None
    jwks_file: Path | None = None
    algorithms: list[str] = Field(default_factory=lambda: ["RS256"])
    name_claim: str = "sub"  # e.g. "preferred_username" or "email"
    roles_claim: str = "roles"  # a string or a list of strings in the token
    # IdP group/role value -> our role; values that already are our role names pass through.
    role_map: dict[str, Role] = Field(default_factory=dict)
    leeway_seconds: float = Field(default=30.0, ge=0, le=300)
    jwks_cache_seconds: float = Field(default=300.0, gt=0)
    jwks_min_refresh_seconds: float = Field(default=10.0, ge=0)  # an unknown kid cannot make us fetch more often
    fetch_timeout_seconds: float = Field(default=5.0, gt=0)

    @field_validator("algorithms")
    @classmethod
    def _no_symmetric(cls, value: list[str]) -> list[str]:
        bad = [a for a in value if a.lower() == "none" or a.upper().startswith("HS")]
        if bad:
            raise ValueError(f"algorithms {bad} are refused: only asymmetric algorithms verify against a JWKS")
        if not value:
            raise ValueError("at least one algorithm is required")
        return value

    @model_validator(mode="after")
    def _one_key_source(self) -> "OIDCSettings":
        if bool(self.jwks_url) == bool(self.jwks_file):
            raise ValueError("exactly one of jwks_url or jwks_file must be set")
        return self


class RateLimitSettings(BaseModel):
    """Token bucket per principal (API key name / OIDC subject): `rate_per_second` refill, `burst` capacity."""

    model_config = ConfigDict(extra="forbid")
    enabled: bool = True
    rate_per_second: float = Field(default=10.0, gt=0)
    burst: int = Field(default=40, ge=1)
    max_tracked_keys: int = Field(default=10_000, ge=1)  # idle buckets beyond this are evicted


class TLSSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    cert_file: Path | None = None
    key_file: Path | None = None

    @model_validator(mode="after")
    def _both_or_none(self) -> "TLSSettings":
        if bool(self.cert_file) != bool(self.key_file):
            raise ValueError("tls.cert_file and tls.key_file must be set together")
        return self

    @property
    def enabled(self) -> bool:
        return self.cert_file is not None


class SecuritySettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    api_keys: list[ApiKeyEntry] = Field(default_factory=list)
    oidc: OIDCSettings | None = None
    # Routes reachable without credentials. Only probes and the scrape endpoint belong here.
    public_paths: list[str] = Field(default_factory=lambda: ["/health/live", "/health/ready", "/metrics"])
    # Routes where Settings.webhook's bearer token / basic auth is accepted (as role `alertmanager`).
    webhook_paths: list[str] = Field(default_factory=lambda: ["/api/v1/webhook/alertmanager"])
    rate_limit: RateLimitSettings = Field(default_factory=RateLimitSettings)
    tls: TLSSettings = Field(default_factory=TLSSettings)
    # A person whose diagnosis raised a security event is refused by every API for this long (docs/security.md).
    suspensions: SuspensionSettings = Field(default_factory=SuspensionSettings)

    @field_validator("api_keys")
    @classmethod
    def _unique_names(cls, value: list[ApiKeyEntry]) -> list[ApiKeyEntry]:
        seen: set[str] = set()
        for entry in value:
            if entry.name in seen:
                raise ValueError(f"api key name {entry.name!r} appears twice; names are the audit actor and must be unique")
            seen.add(entry.name)
        return value


class VaultSettings(BaseModel):
    """How Aetherius reaches Vault/OpenBao for cluster credentials. The lead wires it as `Settings.vault`.

    Secrets here (token, AppRole secret_id) are SecretStr; prefer AETHERIUS_VAULT__TOKEN / a mounted file over YAML."""

    model_config = ConfigDict(extra="forbid")
    url: str = Field(default="http://127.0.0.1:8200", pattern=r"^https?://")
    auth_method: Literal["token", "approle", "kubernetes"] = "token"
    token: SecretStr | None = None
    approle_role_id: str | None = None
    approle_secret_id: SecretStr | None = None
    approle_mount: str = "approle"
    kubernetes_role: str | None = None
    kubernetes_mount: str = "kubernetes"
    kubernetes_jwt_path: Path = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")
    namespace: str | None = None  # Vault Enterprise / OpenBao namespace
    ca_cert: Path | None = None  # verify Vault's TLS with this CA bundle
    timeout_seconds: float = Field(default=5.0, gt=0)
    renew_margin_seconds: float = Field(default=30.0, ge=0)  # renew/refetch this long before expiry
    kv_cache_seconds: float = Field(default=300.0, gt=0)  # KV v2 secrets carry no lease: re-read this often
    kubernetes_token_ttl: str = Field(default="10m", pattern=r"^\d+[smh]?$")

    @model_validator(mode="after")
    def _method_needs(self) -> "VaultSettings":
        if self.auth_method == "token" and self.token is None:
            raise ValueError("vault.token is required with auth_method 'token'")
        if self.auth_method == "approle" and not (self.approle_role_id and self.approle_secret_id):
            raise ValueError("vault.approle_role_id and vault.approle_secret_id are required with auth_method 'approle'")
        if self.auth_method == "kubernetes" and not self.kubernetes_role:
            raise ValueError("vault.kubernetes_role is required with auth_method 'kubernetes'")
        return self
