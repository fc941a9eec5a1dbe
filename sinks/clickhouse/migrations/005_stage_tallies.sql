-- The dashboards' counts per minute, written by the sink (sinks/clickhouse/tallies.py says how a replayed
-- batch is not counted twice): a dashboard reads minutes, never the events themselves. tally_cover holds the
-- highest Kafka offset counted per partition, filled by a materialized view in the same INSERT; another keeps
-- the same counts per day.
-- The backfill below counts what the tables hold now; stop the worker while migrating (a batch written but not
-- yet committed at that moment would otherwise be counted again when it is replayed).

CREATE TABLE IF NOT EXISTS {db}.stage_tallies (
    minute DateTime, kind String, dataset String, party String, dlq_stage String, reason String, events UInt64,
    topic String, partition Int32, last_offset UInt64
) ENGINE = SummingMergeTree((events))
ORDER BY (minute, kind, dataset, party, dlq_stage, reason);

CREATE TABLE IF NOT EXISTS {db}.tally_cover (
    topic String, partition Int32, last_offset UInt64
) ENGINE = ReplacingMergeTree(last_offset)
ORDER BY (topic, partition);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.tally_cover_writer TO {db}.tally_cover AS
SELECT topic, partition, last_offset FROM {db}.stage_tallies;

-- the same counts per day, for all-time totals (a year is 365 rows per group, not 525,600)
CREATE TABLE IF NOT EXISTS {db}.stage_tallies_daily (
    day Date, kind String, dataset String, party String, dlq_stage String, reason String, events UInt64
) ENGINE = SummingMergeTree((events))
ORDER BY (kind, dataset, party, dlq_stage, reason, day);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.stage_tallies_daily_writer TO {db}.stage_tallies_daily AS
SELECT toDate(minute) AS day, kind, dataset, party, dlq_stage, reason, events FROM {db}.stage_tallies;

INSERT INTO {db}.stage_tallies
SELECT toStartOfMinute(ingest_time), 'in', dataset, department, '', '', count(), '', 0, 0
FROM {db}.arrivals FINAL GROUP BY toStartOfMinute(ingest_time), dataset, department;

INSERT INTO {db}.stage_tallies
SELECT toStartOfMinute(ingest_time), 'clean', dataset, department, '', '', count(), '', 0, 0
FROM {db}.events FINAL GROUP BY toStartOfMinute(ingest_time), dataset, department;

INSERT INTO {db}.stage_tallies
SELECT toStartOfMinute(dead_at), 'dlq', dataset, department, stage, reason, count(), '', 0, 0
FROM {db}.dead_letters FINAL GROUP BY toStartOfMinute(dead_at), dataset, department, stage, reason;

INSERT INTO {db}.stage_tallies
SELECT toStartOfMinute(delivered_at), 'delivered', dataset, subscriber, '', '', count(), '', 0, 0
FROM {db}.deliveries FINAL GROUP BY toStartOfMinute(delivered_at), dataset, subscriber;

DROP TABLE IF EXISTS {db}.throughput_per_minute;
