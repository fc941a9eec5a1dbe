-- links_in is derived by ClickHouse from every insert into links (in the same INSERT), as the search index and
-- readings_by_minute are, instead of being written a second time by the sink. Links written before are
-- there already (003 and the sinks before this migration wrote them).

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.links_in_writer TO {db}.links_in AS
SELECT from_type, from_id, role, to_type, to_id, department, source_ts_ms, event_id
FROM {db}.links;
