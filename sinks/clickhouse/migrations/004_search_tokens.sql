-- The search index: every name (sinks/clickhouse/search.py says which attributes) under each of its characters
-- and each pair of neighbouring characters, so a one- or two-character fragment reads one key range instead
-- of every attribute row. Rows carry the name and its source time; a replayed batch collapses by the key.
-- The sink writes the tokens with each batch; this fills the index from the names written before it, with the
-- same tokens as search.name_tokens (first 32 characters, ASCII folded to lower case; a test holds them equal).

CREATE TABLE IF NOT EXISTS {db}.search_tokens (
    token String, entity_type String, entity_id String, attribute String, value String, source_ts_ms UInt64
) ENGINE = ReplacingMergeTree(source_ts_ms)
ORDER BY (token, entity_type, entity_id, attribute, value);

INSERT INTO {db}.search_tokens
SELECT token, entity_type, entity_id, attribute, value, source_ts_ms
FROM (
    SELECT entity_type, entity_id, attribute, value, source_ts_ms,
           arraySlice(extractAll(lower(value), '.'), 1, 32) AS characters
    FROM {db}.attributes
    WHERE attribute IN ('name', 'legal_rep_name', 'holder_name', 'licence_name', 'item_name')
)
ARRAY JOIN arrayConcat(characters,
                       arrayMap((a, b) -> concat(a, b), arrayPopBack(characters), arrayPopFront(characters))) AS token;
