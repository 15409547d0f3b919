"""Settings of the Kubernetes Events watchers (`aetherius watch`); wired into `Settings.watch`.

The reasons to publish stay in `PipelineSettings.watch_reasons` (one list for the whole pipeline).
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class WatchSettings(BaseModel):
    # The server ends each watch after this long (timeoutSeconds); we resume from the last resourceVersion.
    timeout_seconds: int = Field(default=120, ge=1)
    # A stream silent for timeout_seconds + this grace is stalled (aiohttp sock_read): reconnect.
    read_grace_seconds: float = Field(default=15.0, gt=0)
    connect_timeout_seconds: float = Field(default=10.0, gt=0)
    list_timeout_seconds: float = Field(default=60.0, gt=0)
    list_page_size: int = Field(default=500, ge=1)
    backoff_base_seconds: float = Field(default=0.5, gt=0)
    backoff_cap_seconds: float = Field(default=60.0, gt=0)
    # uid -> count remembered so a re-list does not publish again; bounded (oldest forgotten first).
    dedup_max_entries: int = Field(default=100_000, ge=100)
    # Reasons published whatever their type: the node controller records NodeNotReady as a Normal event.
    any_type_reasons: list[str] = Field(default_factory=lambda: ["NodeNotReady"])
    # How often the cluster registry file (`clusters_file`) is checked for changes (hot reload).
    registry_poll_seconds: float = Field(default=2.0, gt=0)
    # Serve /health/live, /health/ready (with per-cluster watcher state) and /metrics here; off when port is unset.
    host: str = "127.0.0.1"
    port: int | None = Field(default=None, ge=1, le=65535)
