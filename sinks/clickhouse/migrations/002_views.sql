-- Derived views, computed when read. They are plain views rather than materialized ones on purpose: a
-- materialized view aggregates at insert time, so on a non-replicated server (18.16 has no insert
-- deduplication there) a replayed batch would count twice; over the ReplacingMergeTree tables read with
-- FINAL, every count stays exact.

CREATE VIEW IF NOT EXISTS {db}.entity_current AS
SELECT entity_type, entity_id, attribute,
       argMax(value, source_ts_ms) AS current_value,
       argMax(department, source_ts_ms) AS last_department,
       max(source_ts_ms) AS last_ts_ms,
       groupUniqArray(department) AS sources
FROM {db}.attributes FINAL
GROUP BY entity_type, entity_id, attribute;

CREATE VIEW IF NOT EXISTS {db}.throughput_per_minute AS
SELECT minute, dataset, department, stage, count() AS events
FROM (
    SELECT toStartOfMinute(ingest_time) AS minute, dataset, department, 'in' AS stage
    FROM {db}.arrivals FINAL
    UNION ALL
    SELECT toStartOfMinute(ingest_time) AS minute, dataset, department, 'clean' AS stage
    FROM {db}.events FINAL
    UNION ALL
    SELECT toStartOfMinute(dead_at) AS minute, dataset, department, 'dlq' AS stage
    FROM {db}.dead_letters FINAL WHERE stage = 'normalize'
    UNION ALL
    SELECT toStartOfMinute(delivered_at) AS minute, dataset, subscriber AS department, 'delivered' AS stage
    FROM {db}.deliveries FINAL
)
GROUP BY minute, dataset, department, stage;

CREATE VIEW IF NOT EXISTS {db}.sensor_minutes AS
SELECT toStartOfMinute(measured_at) AS minute, sensor_id, metric,
       count() AS readings, min(value) AS min_value, max(value) AS max_value, avg(value) AS avg_value
FROM {db}.readings FINAL
GROUP BY minute, sensor_id, metric;

CREATE VIEW IF NOT EXISTS {db}.case_timeliness AS
SELECT case_id, any(item_code) AS item_code, any(item_name) AS item_name, any(department) AS department,
       minIf(stage_ms, stage = 'applied') AS applied_ms,
       minIf(stage_ms, stage IN ('approved', 'rejected')) AS decided_ms,
       any(statutory_limit_days) AS statutory_limit_days, any(promised_limit_days) AS promised_limit_days,
       max(trips) AS trips,
       countIf(stage = 'applied') > 0 AND countIf(stage IN ('approved', 'rejected')) > 0 AS decided
FROM {db}.case_stages FINAL
GROUP BY case_id;

CREATE VIEW IF NOT EXISTS {db}.case_timeliness_by_item AS
SELECT item_code, any(item_name) AS item_name, department,
       count() AS decided_cases,
       avg((decided_ms - applied_ms) / 86400000) AS avg_days,
       avg((decided_ms - applied_ms) / 86400000 <= promised_limit_days) AS share_within_promised,
       avg((decided_ms - applied_ms) / 86400000 <= statutory_limit_days) AS share_within_statutory,
       avg((decided_ms - applied_ms) / 86400000 <= statutory_limit_days / 2) AS share_within_half_statutory,
       avg(trips) AS avg_trips
FROM {db}.case_timeliness
WHERE decided
GROUP BY item_code, department;

CREATE VIEW IF NOT EXISTS {db}.licence_status AS
SELECT licence_type, any(licence_name) AS licence_name, issuer,
       count() AS issued,
       countIf(op != 'd' AND status IN ('有效', 'valid') AND (valid_to IS NULL OR valid_to >= today())) AS valid,
       countIf(op != 'd' AND status IN ('有效', 'valid') AND valid_to >= today()
               AND valid_to < today() + 30) AS expiring_30_days
FROM {db}.licences FINAL
GROUP BY licence_type, issuer;
