-- Every read of an entity through the object services (the console and the API): who looked, when, at which
-- view — the second half of the data tracker, as Estonia's shows a resident who looked at their records.
-- Sorted by entity, so one entity's reads are one key range; a replayed batch's copies collapse on the key.

CREATE TABLE IF NOT EXISTS {db}.entity_reads (
    entity_type String, entity_id String, ts_ms UInt64, reader String, role String, channel String,
    view String, day Date
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (entity_type, entity_id, ts_ms, reader, view, channel);
