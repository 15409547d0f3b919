"""Settings of the tool gateway (to be wired into `Settings` as `gateway: GatewaySettings`).

Env: AETHERIUS_GATEWAY__MAX_OUTPUT_BYTES=..., AETHERIUS_GATEWAY__REMOTE='{"prod-eu": "http://gw-prod-eu:8765/mcp"}'.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, SecretStr


class GatewaySettings(BaseModel):
    registry_file: Path | None = None  # None: deploy/tools/registry.yaml
    max_output_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    # cluster id -> streamable-HTTP URL of a per-cluster gateway (`aetherius gateway`); clusters not
    # listed are served in process from the worker's own readers.
    remote: dict[str, str] = Field(default_factory=dict)
    token: SecretStr | None = None  # bearer token the remote gateways require
    call_timeout_seconds: float = Field(default=120.0, gt=0)  # client side, per call
