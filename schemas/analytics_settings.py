"""Settings of the analytics store (ClickHouse): where it lives, how the sink batches, how long data is kept.

Wired into `Settings` as `analytics`, so env vars read `AETHERIUS_ANALYTICS__CLICKHOUSE_URL=clickhouse://…`.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field


class AnalyticsSettings(BaseModel):
    # Empty: the embedded chdb engine at `chdb_path`, owned by the sink process (see sinks/clickhouse/README.md).
    # clickhouse://user:pass@host:8123/db (clickhouses:// for TLS): a ClickHouse server any role may reach.
    clickhouse_url: str = ""
    chdb_path: Path = Path("var/clickhouse")
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8081, ge=1, le=65535)
    batch_size: int = Field(default=500, ge=1, le=100_000)
    batch_seconds: float = Field(default=1.0, gt=0)
    insert_retries: int = Field(default=5, ge=0)  # then: probe the store; healthy -> row by row, down -> keep waiting
    retry_base_seconds: float = Field(default=0.5, gt=0)
    retry_max_seconds: float = Field(default=30.0, gt=0)
    # SRS §3.6.1: history 1 year (max 3), audit 1 year by default and may be kept forever (0).
    history_retention_days: int = Field(default=365, ge=1, le=3 * 366)
    audit_retention_days: int = Field(default=365, ge=0)
