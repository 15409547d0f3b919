"""The one configuration model: defaults < YAML file (`AETHERIUS_CONFIG`) < `AETHERIUS_*` env vars.

Nested fields take env vars with a double underscore: `AETHERIUS_PIPELINE__DEDUP_WINDOW_SECONDS=300`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from schemas.analytics_settings import AnalyticsSettings
from schemas.console_settings import ConsoleSettings
from schemas.gateway_settings import GatewaySettings
from schemas.knowledge_settings import KnowledgeSettings
from schemas.security_settings import SecuritySettings, VaultSettings
from schemas.sinks_settings import SinksSettings
from schemas.watch_settings import WatchSettings


class KafkaSettings(BaseModel):
    bootstrap: str = "127.0.0.1:9092"  # AETHERIUS_KAFKA__BOOTSTRAP; the local runner sets it for you
    topic_prefix: str = "aetherius"
    partitions: int = Field(default=4, ge=1)
    replication_factor: int = Field(default=1, ge=1)


class WebhookSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 8080
    max_body_bytes: int = 10 * 1024 * 1024
    bearer_token: SecretStr | None = None
    basic_user: str | None = None
    basic_password: SecretStr | None = None
    # Alertmanager's own rate limit at the bridge. None: not limited - Alertmanager already groups and paces its
    # notifications, and the per-key API limit (10/s) would turn an alert storm into 429s and late or lost
    # notifications exactly when they matter. Set it to cap a misbehaving sender.
    rate_per_second: float | None = Field(default=None, gt=0)
    burst: int | None = Field(default=None, ge=1)


class PipelineSettings(BaseModel):
    default_cluster: str = "default"
    dedup_window_seconds: float = 600.0
    correlation_window_seconds: float = 600.0
    correlation_min_clusters: int = 3
    frequency_bump_per_hour: int = 3  # more than this many repeats in an hour raises priority
    system_namespaces: list[str] = Field(default_factory=lambda: ["kube-system", "istio-system"])
    # Business impact 0-10 by "namespace" or "namespace/service"; the most specific match wins.
    business_impact: dict[str, int] = Field(default_factory=dict)
    default_business_impact: int = 5
    queue_limit: int = 100
    running_limits: dict[str, int] = Field(default_factory=lambda: {"P1": 20, "P2": 30, "P3": 50})
    per_cluster_limit: int = 10
    total_limit: int = 50
    watch_reasons: list[str] = Field(default_factory=lambda: [
        "BackOff", "Failed", "FailedScheduling", "Unhealthy", "OOMKilling", "FailedMount",
        "FailedAttachVolume", "Evicted", "NodeNotReady", "FailedCreate", "ProvisioningFailed",
        "FailedCreatePodSandBox", "ErrImagePull", "ImagePullBackOff",
    ])


class TaskDefaults(BaseModel):
    max_steps: int = Field(default=10, ge=1, le=20)
    timeout_seconds: float = 600.0
    budget_usd: float = 0.50
    daily_budget_usd: float = 1000.0
    monthly_budget_usd: float = 25000.0
    # The role the tool calls of alert- and event-triggered tasks run with (gateway safety layer 4). No person
    # asked for those, so no person's role applies; what an automatic diagnosis may read is this one operator
    # decision. Manual requests run with the requester's own role (schemas/requester.py).
    service_role: Literal["sre", "developer", "admin", "auditor"] = "sre"


class WorkerSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 6066
    app_id: str = "aetherius"
    data_dir: Path = Path("var/worker")
    step_loop: bool = True  # run diagnoses in this worker (off: the pipeline only)
    # How long the worker's producer waits to fill a batch. Every agent forwards records and writes
    # changelogs; with 0 each one leaves as its own request (a syscall and a broker round trip each),
    # which was most of the scheduler's cost in an alert storm. 5 ms adds at most 5 ms per hop.
    producer_linger_ms: int = Field(default=5, ge=0, le=1000)


class LLMSettings(BaseModel):
    base_url: str | None = None  # OPENAI_BASE_URL is honoured too
    api_key: SecretStr | None = None  # OPENAI_API_KEY is honoured too
    cheap_model: str = "gpt-4o-mini"
    strong_model: str = "gpt-4o"
    timeout_seconds: float = 60.0
    # USD per 1M tokens: {model: [input, output]}
    prices: dict[str, tuple[float, float]] = Field(default_factory=lambda: {
        "gpt-4o-mini": (0.15, 0.60), "gpt-4o": (2.50, 10.0),
    })

    @property
    def configured(self) -> bool:
        return bool(self.effective_api_key or self.effective_base_url)

    @property
    def effective_api_key(self) -> str | None:
        if self.api_key:
            return self.api_key.get_secret_value()
        return os.environ.get("OPENAI_API_KEY") or None

    @property
    def effective_base_url(self) -> str | None:
        return self.base_url or os.environ.get("OPENAI_BASE_URL") or None


class ClusterSource(BaseModel):
    """Where the read-only reader of one cluster looks: a `kubectl cluster-info dump` directory, or a
    kubeconfig (context optional; neither set = in-cluster service account)."""

    dump: Path | None = None
    kubeconfig: Path | None = None
    context: str | None = None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AETHERIUS_", env_nested_delimiter="__", extra="forbid")

    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    webhook: WebhookSettings = Field(default_factory=WebhookSettings)
    pipeline: PipelineSettings = Field(default_factory=PipelineSettings)
    tasks: TaskDefaults = Field(default_factory=TaskDefaults)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    watch: WatchSettings = Field(default_factory=WatchSettings)
    security: SecuritySettings = Field(default_factory=SecuritySettings)
    vault: VaultSettings | None = None  # optional: without it, clusters are read with their own kubeconfig/dump
    analytics: AnalyticsSettings = Field(default_factory=AnalyticsSettings)
    knowledge: KnowledgeSettings = Field(default_factory=KnowledgeSettings)
    sinks: SinksSettings = Field(default_factory=SinksSettings)
    gateway: GatewaySettings = Field(default_factory=GatewaySettings)
    console: ConsoleSettings = Field(default_factory=ConsoleSettings)
    clusters_file: Path | None = None
    # How to read each cluster, by cluster id. AETHERIUS_CLUSTERS='{"prod": {"dump": "/dumps/prod"}}'
    clusters: dict[str, ClusterSource] = Field(default_factory=dict)
    log_level: str = "INFO"

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _YamlFileSource(settings_cls))


class _YamlFileSource(PydanticBaseSettingsSource):
    """Reads the file named by AETHERIUS_CONFIG; a missing or malformed file is an error, not a silent default."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:  # pragma: no cover - unused
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        path = os.environ.get("AETHERIUS_CONFIG")
        if not path:
            return {}
        text = Path(path).read_text()
        data = yaml.safe_load(text) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{path}: the config file must be a YAML mapping")
        return data


class SettingsError(ValueError):
    """The configuration (file or environment) is not valid; the message names every field that is wrong."""


def load_settings(**overrides: Any) -> Settings:
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = [f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}" for e in exc.errors()]
        raise SettingsError("bad configuration: " + "; ".join(problems)) from None
    except (OSError, ValueError, yaml.YAMLError) as exc:  # the file named by AETHERIUS_CONFIG
        raise SettingsError("bad configuration: " + " ".join(str(exc).split())) from None
