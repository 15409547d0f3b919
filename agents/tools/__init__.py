"""Read-only diagnostic tools: the registry (data), the built-in implementations, the gateway."""
