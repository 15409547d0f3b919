"""Aetherius: the application shell (CLI, settings loading, logging, metrics, local Kafka).

The product logic lives in the top-level packages: `schemas` (contracts), `streams` (the Kafka
pipeline), `agents` (diagnosis), `sinks` (where results go).
"""
