"""The MCP execution gateway: the only path from a planner to a cluster reader.

- `core.Gateway`: safety checks -> built-in tool -> redact -> cap -> audit (transport-free).
- `server.GatewayServer`: that pipeline as an MCP server; `server.serving_http` for streamable HTTP.
- `client.GatewayExecutor`: the `ToolExecutor` the step loop uses, as an MCP client (in process or HTTP).
"""

from agents.gateway.client import GatewayExecutor
from agents.gateway.core import DEFAULT_MAX_OUTPUT_BYTES, Gateway
from agents.gateway.server import GatewayServer, serving_http

__all__ = ["DEFAULT_MAX_OUTPUT_BYTES", "Gateway", "GatewayExecutor", "GatewayServer", "serving_http"]
