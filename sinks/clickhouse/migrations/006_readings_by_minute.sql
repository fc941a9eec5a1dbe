-- Sensor readings sorted by the time they were measured, so the sensor panel reads the last hour's key range
-- instead of every reading ever taken. ClickHouse copies every insert into readings (the materialized view, in
-- the same INSERT); the backfill copies the readings written before.

CREATE TABLE IF NOT EXISTS {db}.readings_by_minute (
    sensor_id String, station_id String, division_code String, metric String, value Float64, unit String,
    measured_ms UInt64, measured_at DateTime, event_id String, quality_flags Array(String)
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(measured_at)
ORDER BY (measured_at, sensor_id, metric, measured_ms, event_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.readings_by_minute_writer TO {db}.readings_by_minute AS
SELECT sensor_id, station_id, division_code, metric, value, unit, measured_ms, measured_at, event_id, quality_flags
FROM {db}.readings;

INSERT INTO {db}.readings_by_minute
SELECT sensor_id, station_id, division_code, metric, value, unit, measured_ms, measured_at, event_id, quality_flags
FROM {db}.readings;
