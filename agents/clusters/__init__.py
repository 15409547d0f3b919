"""Multi-cluster foundations: the registry file (load, validate, hot reload) and per-cluster availability."""
