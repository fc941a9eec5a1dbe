-- The search index: every name (sinks/clickhouse/search.py says which attributes) under each of its characters
-- and each pair of neighbouring characters, so a one- or two-character fragment reads one key range instead
-- of every attribute row. Rows carry the name and its source time; a replayed batch collapses by the key.
-- ClickHouse derives the tokens from every insert into attributes (the materialized view, in the same INSERT);
-- the backfill derives them from the names written before. Same tokens as search.name_tokens (first 32
-- characters, ASCII folded to lower case; a test holds them equal) and as `pobi views rebuild` (rebuild.py;
-- a test holds the SQL equal).

CREATE TABLE IF NOT EXISTS {db}.search_tokens (
    token String, entity_type String, entity_id String, attribute String, value String, source_ts_ms UInt64
) ENGINE = ReplacingMergeTree(source_ts_ms)
ORDER BY (token, entity_type, entity_id, attribute, value);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.search_tokens_writer TO {db}.search_tokens AS
SELECT token, entity_type, entity_id, attribute, value, source_ts_ms
FROM {db}.attributes
ARRAY JOIN arrayConcat(arraySlice(extractAll(lower(value), '.'), 1, 32),
                       arrayMap((a, b) -> concat(a, b), arrayPopBack(arraySlice(extractAll(lower(value), '.'), 1, 32)),
                                arrayPopFront(arraySlice(extractAll(lower(value), '.'), 1, 32)))) AS token
WHERE attribute IN ('name', 'legal_rep_name', 'holder_name', 'licence_name', 'item_name');

INSERT INTO {db}.search_tokens
SELECT token, entity_type, entity_id, attribute, value, source_ts_ms
FROM {db}.attributes
ARRAY JOIN arrayConcat(arraySlice(extractAll(lower(value), '.'), 1, 32),
                       arrayMap((a, b) -> concat(a, b), arrayPopBack(arraySlice(extractAll(lower(value), '.'), 1, 32)),
                                arrayPopFront(arraySlice(extractAll(lower(value), '.'), 1, 32)))) AS token
WHERE attribute IN ('name', 'legal_rep_name', 'holder_name', 'licence_name', 'item_name');
