-- Base tables. Every table is a ReplacingMergeTree whose sorting key identifies one record exactly, so a
-- batch inserted twice (a replay after a crash or a retried insert) collapses to one row; queries read with
-- FINAL. Times are UInt64 epoch milliseconds beside a DateTime (ClickHouse 18.16 has no DateTime64).

CREATE TABLE IF NOT EXISTS {db}.events (
    event_id String, dataset String, op String, entity_type String, entity_id String,
    department String, system String, event_ts_ms UInt64, ingest_ts_ms UInt64, normalized_ts_ms UInt64,
    event_time DateTime, ingest_time DateTime, quality_flags Array(String),
    related_roles Array(String), related_types Array(String), related_ids Array(String)
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(ingest_time)
ORDER BY (entity_type, entity_id, event_ts_ms, event_id);

CREATE TABLE IF NOT EXISTS {db}.attributes (
    entity_type String, entity_id String, attribute String, value String,
    department String, system String, source_ts_ms UInt64, event_id String
) ENGINE = ReplacingMergeTree
ORDER BY (entity_type, entity_id, attribute, department, source_ts_ms, event_id);

CREATE TABLE IF NOT EXISTS {db}.links (
    from_type String, from_id String, role String, to_type String, to_id String,
    department String, source_ts_ms UInt64, event_id String
) ENGINE = ReplacingMergeTree(source_ts_ms)
ORDER BY (from_type, from_id, role, to_type, to_id);

CREATE TABLE IF NOT EXISTS {db}.readings (
    sensor_id String, station_id String, division_code String, metric String, value Float64, unit String,
    measured_ms UInt64, measured_at DateTime, event_id String, quality_flags Array(String)
) ENGINE = ReplacingMergeTree
ORDER BY (sensor_id, metric, measured_ms, event_id);

CREATE TABLE IF NOT EXISTS {db}.case_stages (
    case_id String, item_code String, item_name String, department String, applicant_type String,
    applicant_id String, stage String, stage_ms UInt64, statutory_limit_days Nullable(Int32),
    promised_limit_days Nullable(Int32), channel String, trips Nullable(Int32), event_id String
) ENGINE = ReplacingMergeTree
ORDER BY (case_id, stage, stage_ms, event_id);

CREATE TABLE IF NOT EXISTS {db}.licences (
    licence_id String, licence_type String, licence_name String, holder_type String, holder_id String,
    holder_name String, issuer String, issuer_code String, issued_date Nullable(Date), valid_from Nullable(Date),
    valid_to Nullable(Date), status String, op String, source_ts_ms UInt64, event_id String
) ENGINE = ReplacingMergeTree(source_ts_ms)
ORDER BY licence_id;

CREATE TABLE IF NOT EXISTS {db}.deliveries (
    subscriber String, contract_version UInt32, dataset String, event_id String, entity_type String,
    entity_id String, fields Array(String), mode String, ts_ms UInt64, delivered_at DateTime
) ENGINE = ReplacingMergeTree
ORDER BY (entity_type, entity_id, subscriber, event_id, contract_version);

CREATE TABLE IF NOT EXISTS {db}.dead_letters (
    dlq_topic String, dlq_partition Int32, dlq_offset Int64, stage String, reason String, message String,
    dataset String, source_topic String, source_partition Int32, source_offset Int64, department String,
    event_id String, ts_ms UInt64, dead_at DateTime
) ENGINE = ReplacingMergeTree
ORDER BY (dlq_topic, dlq_partition, dlq_offset);

CREATE TABLE IF NOT EXISTS {db}.arrivals (
    topic String, partition Int32, offset Int64, dataset String, department String, event_id String,
    ingest_ts_ms UInt64, ingest_time DateTime
) ENGINE = ReplacingMergeTree
ORDER BY (topic, partition, offset);
