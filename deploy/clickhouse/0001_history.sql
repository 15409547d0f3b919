-- Aetherius analytics schema, version 1.
-- Every table is a ReplacingMergeTree whose sorting key holds the record's deterministic id, so a record
-- redelivered by Kafka (at-least-once) collapses into one row; queries read with FINAL (or argMax) and so
-- never double-count, even before background merges run. Partitions are monthly on a time that a record
-- keeps on redelivery. TTLs here are the defaults; the start-up retention step adjusts them from settings.

-- One row per task status change (a DiagnosticTask snapshot from task.state).
CREATE TABLE IF NOT EXISTS tasks
(
    task_id          String,
    status           LowCardinality(String),
    event_time       DateTime64(3, 'UTC'),
    created_at       DateTime64(3, 'UTC'),
    started_at       Nullable(DateTime64(3, 'UTC')),
    completed_at     Nullable(DateTime64(3, 'UTC')),
    duration_seconds Nullable(Float64),
    alert_id         String,
    cluster_id       LowCardinality(String),
    namespace        LowCardinality(String),
    resource_kind    LowCardinality(String),
    resource_name    String,
    priority         LowCardinality(String),
    alertname        LowCardinality(String),
    severity         LowCardinality(String),
    incident_id      String,
    status_reason    String,
    max_steps        UInt8,
    timeout_seconds  Float64,
    budget_usd       Float64,
    inserted_at      DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(created_at)
ORDER BY (cluster_id, toDate(created_at), task_id, status)
TTL toDateTime(created_at) + INTERVAL 365 DAY;

-- One row per step-loop event (requested / completed) from the steps topic.
CREATE TABLE IF NOT EXISTS steps
(
    task_id           String,
    step_number       UInt16,
    kind              LowCardinality(String),
    step_type         LowCardinality(String),
    tool_id           LowCardinality(String),
    status            LowCardinality(String),
    started_at        DateTime64(3, 'UTC'),
    completed_at      Nullable(DateTime64(3, 'UTC')),
    duration_ms       Float64,
    exit_code         Int32,
    truncated         Bool,
    model             LowCardinality(String),
    prompt_tokens     UInt32,
    completion_tokens UInt32,
    cost_usd          Float64,
    emitted_at        DateTime64(3, 'UTC'),
    inserted_at       DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(started_at)
ORDER BY (toDate(started_at), task_id, step_number, kind)
TTL toDateTime(started_at) + INTERVAL 365 DAY;

-- One row per final report (DiagnosticResult); the task id is the report id.
CREATE TABLE IF NOT EXISTS reports
(
    task_id            String,
    cluster_id         LowCardinality(String),
    category           LowCardinality(String),
    severity           LowCardinality(String),
    confidence         Float32,
    engine             LowCardinality(String),
    status             LowCardinality(String),
    termination_reason LowCardinality(String),
    problem            String,
    root_cause         String,
    duration_seconds   Float64,
    steps_count        UInt16,
    recommendations    UInt16,
    model              LowCardinality(String),
    prompt_tokens      UInt32,
    completion_tokens  UInt32,
    cost_usd           Float64,
    generated_at       DateTime64(3, 'UTC'),
    inserted_at        DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(generated_at)
ORDER BY (cluster_id, toDate(generated_at), task_id)
TTL toDateTime(generated_at) + INTERVAL 365 DAY;

-- One row per LLM call (CostRecord).
CREATE TABLE IF NOT EXISTS costs
(
    id                String,
    task_id           String,
    cluster_id        LowCardinality(String),
    priority          LowCardinality(String),
    model             LowCardinality(String),
    task_type         LowCardinality(String),
    prompt_tokens     UInt32,
    completion_tokens UInt32,
    cost_usd          Float64,
    at                DateTime64(3, 'UTC'),
    inserted_at       DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (toDate(at), cluster_id, id)
TTL toDateTime(at) + INTERVAL 365 DAY;

-- One row per vote; a user's later vote on the same task (same id) replaces the earlier one: read with argMax.
CREATE TABLE IF NOT EXISTS feedback
(
    id          String,
    task_id     String,
    user_id     String,
    rating      UInt8,
    helpful     Bool,
    comments    String,
    corrections UInt16,
    status      LowCardinality(String),
    timestamp   DateTime64(3, 'UTC'),
    inserted_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(timestamp)
PARTITION BY toYYYYMM(timestamp)
ORDER BY (id)
TTL toDateTime(timestamp) + INTERVAL 365 DAY;

-- Knowledge-base changes, from audit events whose action starts with "knowledge.".
CREATE TABLE IF NOT EXISTS knowledge_changes
(
    id                String,
    at                DateTime64(3, 'UTC'),
    entry_id          String,
    change            LowCardinality(String),
    actor             LowCardinality(String),
    version           UInt32,
    confidence_before Nullable(Float32),
    confidence_after  Nullable(Float32),
    enabled           Nullable(Bool),
    reason            String,
    inserted_at       DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (toDate(at), id)
TTL toDateTime(at) + INTERVAL 365 DAY;

-- Every AuditEvent. Retention per SRS §3.6.1 (default 1 year, may be kept forever): see settings.
CREATE TABLE IF NOT EXISTS audit
(
    id          String,
    at          DateTime64(3, 'UTC'),
    actor       LowCardinality(String),
    role        LowCardinality(String),
    action      LowCardinality(String),
    resource    String,
    cluster_id  LowCardinality(String),
    result      LowCardinality(String),
    reason      String,
    duration_ms Float64,
    source_ip   String,
    details     String,
    inserted_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (action, result, toDate(at), id)
TTL toDateTime(at) + INTERVAL 365 DAY;

-- Alerts and tasks that were shed (load shedding) or rejected (webhook, validation) instead of diagnosed.
CREATE TABLE IF NOT EXISTS alerts_dropped
(
    id          String,
    at          DateTime64(3, 'UTC'),
    kind        LowCardinality(String),
    source      LowCardinality(String),
    cluster_id  LowCardinality(String),
    namespace   LowCardinality(String),
    priority    LowCardinality(String),
    alertname   LowCardinality(String),
    reason      String,
    inserted_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (kind, toDate(at), id)
TTL toDateTime(at) + INTERVAL 365 DAY;

-- Records some stage could not process (the deadletter topic); the payload itself is not copied here.
CREATE TABLE IF NOT EXISTS deadletters
(
    id           String,
    at           DateTime64(3, 'UTC'),
    source_topic LowCardinality(String),
    stage        LowCardinality(String),
    error        String,
    partition    Int32,
    offset       Int64,
    value_bytes  UInt32,
    inserted_at  DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (toDate(at), id)
TTL toDateTime(at) + INTERVAL 365 DAY;
