"""Settings of the web console (`Settings.console`, env `AETHERIUS_CONSOLE__...`): where it listens, which roles'
APIs it asks on the signed-in person's behalf, and how its session cookie and live streams behave."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ConsoleSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(default=8090, ge=1, le=65535)
    # Base URLs of the roles the console asks with the person's own credential; "" derives them from the
    # worker/analytics/knowledge settings of this same file (a wildcard host becomes 127.0.0.1).
    worker_url: str = Field(default="", pattern=r"^(https?://.+)?$")  # Task API (tasks, cancel)
    sink_url: str = Field(default="", pattern=r"^(https?://.+)?$")  # analytics: costs, budget, audit logs
    knowledge_url: str = Field(default="", pattern=r"^(https?://.+)?$")  # knowledge base and feedback (the worker)
    # The session cookie is `Secure` (sent over HTTPS only). Turn it off only for plain-HTTP use on one machine
    # (the demo does, on 127.0.0.1).
    cookie_secure: bool = True
    session_seconds: int = Field(default=8 * 3600, ge=60)  # a sign-in lasts at most this long
    idle_seconds: int = Field(default=3600, ge=60)  # and ends after this long without a request
    max_sessions: int = Field(default=10_000, ge=1)
    # The live view holds the newest tasks (by creation) up to this many; older ones stay in the history.
    max_tasks: int = Field(default=20_000, ge=100)
    max_streams: int = Field(default=2_000, ge=1)  # live (SSE) connections held at once
    heartbeat_seconds: float = Field(default=15.0, gt=0)
    upstream_timeout_seconds: float = Field(default=15.0, gt=0)
