"""`Requester`: the authenticated person who asked for a diagnosis, carried from the request to every tool call.

    POST /api/v1/tasks or `aetherius trigger` (a Principal)  -> RawAlert.requested_by
      -> Signal.requested_by (streams/normalize) -> DiagnosticTask.requested_by (streams/pipeline._new_task)
      -> the step loop calls the gateway with this role (safety layer 4) and this subject (the audit actor)

Alert- and event-triggered tasks have no requester (`None`): they run with the configured service role
(`tasks.service_role`, see agents/runtime.tool_caller). Records written before this field existed parse as `None`.

Deduplication: a manual request is fingerprinted by its resource, not by who asked, so two people asking for the
same resource inside the dedup window get ONE task, and it carries the requester of the FIRST request (the later
one is counted as a repeat and dropped before a task exists). If a developer asks first and an SRE second, the
task runs with the developer's role; the SRE can ask again once the window (`pipeline.dedup_window_seconds`) ends.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.security_settings import Role


class Requester(BaseModel):
    """Who asked: `subject` is the API key's name or the OIDC subject (the audit actor); `role` is the
    principal's role - for a credential with several roles the most privileged one, the role its API request
    was audited with; `via` is the channel (the HTTP API or the CLI)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    subject: str = Field(min_length=1, max_length=200)  # the gateway keeps 200 characters of an audit actor
    role: Role
    via: Literal["api", "cli"] = "api"
