"""Versioned DDL migrations (deploy/clickhouse/NNNN_name.sql), applied at start-up, recorded in schema_migrations.

A migration file is immutable once applied: its checksum is recorded, and a changed file (or a database newer
than the code) stops start-up with a clear error instead of silently diverging. Statements use IF NOT EXISTS,
so two processes racing on a ClickHouse server both succeed. Retention (TTL) is not a migration: it follows
settings and is re-applied at every start-up only when it differs (SRS §3.6.1: adjustable).
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sinks.clickhouse.store import Store

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "deploy" / "clickhouse"
_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")

BOOTSTRAP = """CREATE TABLE IF NOT EXISTS schema_migrations
(
    version    UInt32,
    name       String,
    checksum   String,
    applied_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree ORDER BY version"""

# table -> the time column its TTL counts from; audit has its own retention setting.
HISTORY_TTL = {"tasks": "created_at", "steps": "started_at", "reports": "generated_at", "costs": "at",
               "feedback": "timestamp", "knowledge_changes": "at", "alerts_dropped": "at", "deadletters": "at"}
AUDIT_TTL = {"audit": "at"}


class MigrationError(Exception):
    pass


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()

    def statements(self) -> list[str]:
        return split_statements(self.sql)


def split_statements(sql: str) -> list[str]:
    """Statements of a file: `--` comment lines dropped, split at a `;` that ends a line."""
    lines = [line for line in sql.splitlines() if not line.lstrip().startswith("--")]
    parts = re.split(r";\s*$", "\n".join(lines), flags=re.MULTILINE)
    return [p.strip() for p in parts if p.strip()]


def load_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    found: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        m = _FILE.match(path.name)
        if not m:
            raise MigrationError(f"{path}: migration files are named NNNN_name.sql")
        version = int(m.group(1))
        if version in found:
            raise MigrationError(f"{path}: version {version} is used twice")
        found[version] = Migration(version, m.group(2), path.read_text())
    if not found:
        raise MigrationError(f"no migrations in {directory}")
    return [found[v] for v in sorted(found)]


def plan(available: list[Migration], applied: dict[int, str]) -> list[Migration]:
    """The migrations still to apply, in order; refuses an edited or unknown applied migration."""
    by_version = {m.version: m for m in available}
    for version, checksum in applied.items():
        if version not in by_version:
            raise MigrationError(f"the database has migration {version}, which this code does not know: "
                                 "it was migrated by a newer version")
        if by_version[version].checksum != checksum:
            raise MigrationError(f"migration {version} ({by_version[version].name}) changed after it was applied; "
                                 "add a new migration instead of editing an applied one")
    return [m for m in available if m.version not in applied]


def migrate(store: Store, directory: Path = MIGRATIONS_DIR) -> list[int]:
    """Apply pending migrations; returns the versions applied (empty when up to date)."""
    store.command(BOOTSTRAP)
    rows = store.query("SELECT version, argMax(checksum, applied_at) AS checksum FROM schema_migrations GROUP BY version")
    todo = plan(load_migrations(directory), {int(r["version"]): r["checksum"] for r in rows})
    for migration in todo:
        for statement in migration.statements():
            store.command(statement)
        store.insert("schema_migrations", ("version", "name", "checksum"),
                     [(migration.version, migration.name, migration.checksum)])
        log.info("applied ClickHouse migration %04d_%s", migration.version, migration.name)
    return [m.version for m in todo]


def ttl_clause(column: str, days: int) -> str:
    """How ClickHouse prints our TTL in system.tables.engine_full ('' = kept forever)."""
    return f"TTL toDateTime({column}) + toIntervalDay({days})" if days > 0 else ""


def retention_statements(analytics: Any, engine_full: dict[str, str]) -> list[str]:
    """ALTERs that bring every table's TTL to the configured retention; none when already there. Pure."""
    wanted = {t: (c, analytics.history_retention_days) for t, c in HISTORY_TTL.items()}
    wanted.update({t: (c, analytics.audit_retention_days) for t, c in AUDIT_TTL.items()})
    out = []
    for table, (column, days) in wanted.items():
        current = engine_full.get(table, "")
        clause = ttl_clause(column, days)
        if clause and clause not in current:
            out.append(f"ALTER TABLE {table} MODIFY TTL toDateTime({column}) + INTERVAL {int(days)} DAY")
        elif not clause and " TTL " in current:
            out.append(f"ALTER TABLE {table} REMOVE TTL")
    return out


def apply_retention(store: Store, analytics: Any) -> list[str]:
    rows = store.query("SELECT name, engine_full FROM system.tables WHERE database = currentDatabase()")
    statements = retention_statements(analytics, {r["name"]: r["engine_full"] for r in rows})
    for statement in statements:
        store.command(statement)
        log.info("retention changed: %s", statement)
    return statements


def prepare(store: Store, analytics: Any, directory: Path = MIGRATIONS_DIR) -> list[int]:
    """Start-up: migrate, then align retention with settings."""
    applied = migrate(store, directory)
    apply_retention(store, analytics)
    return applied
