-- Links sorted by their target, so "who points at this entity" (a person as an enterprise's legal
-- representative, an enterprise as a licence's holder) reads a key range instead of the whole links table.
-- The sink writes every link to both tables; this fills the new one with the links written before it.

CREATE TABLE IF NOT EXISTS {db}.links_in (
    from_type String, from_id String, role String, to_type String, to_id String,
    department String, source_ts_ms UInt64, event_id String
) ENGINE = ReplacingMergeTree(source_ts_ms)
ORDER BY (to_type, to_id, role, from_type, from_id);

INSERT INTO {db}.links_in
SELECT from_type, from_id, role, to_type, to_id, department, source_ts_ms, event_id FROM {db}.links;
