"""Metrics of the ClickHouse sink, on the one registry. Prefixed `aetherius_clickhouse_` so no other sink's
metric names can collide with them (deploy/prometheus/rules.yml alerts on both families)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from aetherius.metrics import REGISTRY

RECORDS = Counter("aetherius_clickhouse_records_total", "Records the ClickHouse sink consumed, by outcome",
                  ["topic", "outcome"], registry=REGISTRY)  # outcome: ok | invalid
ROWS_WRITTEN = Counter("aetherius_clickhouse_rows_written_total", "Rows inserted into ClickHouse", ["table"],
                       registry=REGISTRY)
INSERT_FAILURES = Counter("aetherius_clickhouse_insert_failures_total", "Failed INSERT attempts (each retry counts)",
                          ["table"], registry=REGISTRY)
ROWS_REJECTED = Counter("aetherius_clickhouse_rows_rejected_total",
                        "Rows a healthy store refused even one by one (their records are dead-lettered)", ["table"],
                        registry=REGISTRY)
DEAD_LETTERS = Counter("aetherius_clickhouse_dead_letters_total",
                       "Records the ClickHouse sink could not store, sent to the dead-letter topic with the reason",
                       ["topic"], registry=REGISTRY)
INSERT_SECONDS = Histogram("aetherius_clickhouse_insert_duration_seconds", "Time per batch INSERT", ["table"],
                           buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5), registry=REGISTRY)
STORE_UP = Gauge("aetherius_clickhouse_up", "1 when the last store probe or insert succeeded", registry=REGISTRY)
QUERY_SECONDS = Histogram("aetherius_clickhouse_query_duration_seconds", "Analytics API query time", ["endpoint"],
                          buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5), registry=REGISTRY)
