"""The one configuration model: defaults < YAML file (`AETHERIUS_CONFIG`) < `AETHERIUS_*` env vars.

Nested fields take env vars with a double underscore: `AETHERIUS_PIPELINE__DEDUP_WINDOW_SECONDS=300`.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator, model_validator
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
    # Tokens (prompt + completion) one task may spend on model calls, whatever their price: what holds a local
    # model priced at 0, for which a dollar budget means nothing. 0: no model call.
    budget_tokens: int = Field(default=200_000, ge=0)
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
    # Group membership. A worker killed without leaving the group keeps its partitions until the broker gives
    # up on it: with Faust's default 60 s session timeout a restarted worker waited about a minute before it
    # processed anything. Heartbeats come from the consumer's own thread, so a busy event loop does not miss
    # them; 10 s notices a dead worker quickly without flapping on a loaded node.
    session_timeout_seconds: float = Field(default=10.0, ge=6.0, le=90.0)
    heartbeat_interval_seconds: float = Field(default=1.0, gt=0, le=10.0)  # at most a third of the session
    rebalance_timeout_seconds: float = Field(default=30.0, ge=5.0, le=300.0)
    # Static group membership (Kafka's group.instance.id): a worker that comes back under the same id (a
    # StatefulSet pod, a systemd unit) takes its partitions back without a rebalance. Unique per worker; unset
    # for a Deployment, whose pods get new names.
    instance_id: str | None = Field(default=None, max_length=200)
    # Liveness (streams/liveness.py): /health/live fails - so Kubernetes restarts the worker - when an assigned
    # partition has records waiting and none was processed for `stall_seconds`, or a recovery (rebalance) has
    # not finished after `recovery_stall_seconds`.
    stall_seconds: float = Field(default=120.0, ge=10.0)
    recovery_stall_seconds: float = Field(default=300.0, ge=30.0)


def price_table_key(prices: dict[str, tuple[float, float]], name: str) -> str | None:
    """The `llm.prices` key that prices model `name`: the exact name, else the longest key it starts with
    (providers answer with dated names, "gpt-4o-2024-08-06", the table holds "gpt-4o"). None: not priced."""
    if not name:
        return None
    if name in prices:
        return name
    return max((key for key in prices if name.startswith(key)), key=len, default=None)


class LLMSettings(BaseModel):
    base_url: str | None = None  # OPENAI_BASE_URL is honoured too
    api_key: SecretStr | None = None  # OPENAI_API_KEY is honoured too
    cheap_model: str = "gpt-4o-mini"
    strong_model: str = "gpt-4o"
    # One model call: how long to wait for the whole answer. A call that times out is not retried (the server
    # may still be generating it); connection errors, 429 and 5xx are, once.
    timeout_seconds: float = Field(default=60.0, gt=0)
    # The most tokens one call may generate; a rambling model otherwise writes to the end of its context.
    max_tokens: int = Field(default=1024, ge=16)
    # The request field `max_tokens` goes in: OpenAI's o-series models only take `max_completion_tokens`; most
    # other servers (vLLM, Ollama, llama.cpp, LiteLLM) take `max_tokens`.
    max_tokens_field: Literal["max_tokens", "max_completion_tokens"] = "max_tokens"
    # USD per 1M tokens: {model: [input, output]}. Both configured models must be priced (a local model at
    # [0, 0]: its tasks are then held by `tasks.budget_tokens`); an unpriced model is a configuration error...
    prices: dict[str, tuple[float, float]] = Field(default_factory=lambda: {
        "gpt-4o-mini": (0.15, 0.60), "gpt-4o": (2.50, 10.0),
    })
    # ...unless a price is assumed for it explicitly: then it is charged this, and its reports say "price assumed".
    assumed_price: tuple[float, float] | None = None

    @field_validator("prices")
    @classmethod
    def _prices_are_amounts(cls, value: dict[str, tuple[float, float]]) -> dict[str, tuple[float, float]]:
        bad = sorted(k for k, v in value.items() if not all(math.isfinite(x) and x >= 0 for x in v))
        if bad:
            raise ValueError(f"prices must be finite and >= 0 (USD per 1M tokens): {', '.join(bad)}")
        return value

    @field_validator("assumed_price")
    @classmethod
    def _assumed_is_an_amount(cls, value: tuple[float, float] | None) -> tuple[float, float] | None:
        if value is not None and not all(math.isfinite(x) and x >= 0 for x in value):
            raise ValueError("must be finite and >= 0 (USD per 1M tokens)")
        return value

    @model_validator(mode="after")
    def _models_are_priced(self) -> "LLMSettings":
        if self.assumed_price is None:
            unpriced = [f"{field}={name!r}" for field, name in (("cheap_model", self.cheap_model),
                                                                  ("strong_model", self.strong_model))
                        if price_table_key(self.prices, name) is None]
            if unpriced:
                raise ValueError(f"no price for {', '.join(unpriced)}: add it to llm.prices (USD per 1M tokens, "
                                 "[0, 0] for a local model) or set llm.assumed_price")
        return self

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
