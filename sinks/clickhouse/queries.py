"""Every query pobi runs on ClickHouse, in one place (a test runs each of them on current ClickHouse through
chdb as well as on the test server). Parameters use clickhouse-driver's ``%(name)s`` substitution."""

from __future__ import annotations

__all__ = ["OBJECT_QUERIES", "TALLY_COVER", "VIEW_QUERIES"]

OBJECT_QUERIES: dict[str, str] = {
    # The object services read one entity's key range, without FINAL: each answer is grouped or limited by its
    # key, so the copies a replayed batch leaves until the next merge do not show (FINAL merges every monthly
    # partition's range first: 60-70 ms instead of 10 at 200 k persons).
    # The 360° view: each attribute's value as each department said it last, and when (the service picks the
    # current one and shows the others that differ: survivorship visible) — grouped after the WHERE (18.16
    # does not push a predicate into a view: entity_current grouped it all)
    "attributes": """
        SELECT attribute, department, argMax(value, source_ts_ms) AS value, max(source_ts_ms) AS last_ts_ms
        FROM {db}.attributes
        WHERE entity_type = %(entity_type)s AND entity_id = %(entity_id)s
        GROUP BY attribute, department
        ORDER BY attribute, last_ts_ms DESC, department""",
    # an approval case's stages and its limits: one key range of case_stages
    "case_stages": """
        SELECT stage, min(stage_ms) AS first_ms, any(statutory_limit_days), any(promised_limit_days)
        FROM {db}.case_stages
        WHERE case_id = %(entity_id)s
        GROUP BY stage
        ORDER BY first_ms, stage""",
    "links": """
        SELECT 'out' AS direction, role, to_type AS other_type, to_id AS other_id,
               argMax(department, source_ts_ms) AS said_by, max(source_ts_ms) AS newest
        FROM {db}.links WHERE from_type = %(entity_type)s AND from_id = %(entity_id)s
        GROUP BY role, to_type, to_id
        UNION ALL
        SELECT 'in' AS direction, role, from_type AS other_type, from_id AS other_id,
               argMax(department, source_ts_ms) AS said_by, max(source_ts_ms) AS newest
        FROM {db}.links_in WHERE to_type = %(entity_type)s AND to_id = %(entity_id)s
        GROUP BY role, from_type, from_id""",
    "timeline": """
        SELECT event_ts_ms, dataset, op, department, system, event_id, quality_flags, ingest_ts_ms
        FROM {db}.events
        WHERE entity_type = %(entity_type)s AND entity_id = %(entity_id)s
        ORDER BY event_ts_ms, event_id
        LIMIT 1 BY event_id
        LIMIT %(limit)s""",
    # a name fragment: one key range of the search index (its first one or two characters), newest first
    "search_names": """
        SELECT entity_type, entity_id, argMax(value, source_ts_ms) AS label,
               argMax(attribute, source_ts_ms) AS matched, max(source_ts_ms) AS newest
        FROM {db}.search_tokens
        WHERE token = %(token)s AND positionUTF8(lower(value), %(text)s) > 0
        GROUP BY entity_type, entity_id
        ORDER BY newest DESC, entity_type, entity_id
        LIMIT %(limit)s""",
    # an id prefix: the first ids found in each type's key range of attributes (LIKE, not startsWith: 18.16
    # uses the primary key only for LIKE), then their names; every entity has a __deleted row
    "search_ids": """
        SELECT entity_type, entity_id, argMaxIf(value, source_ts_ms, attribute != '__deleted') AS label
        FROM {db}.attributes
        WHERE entity_type IN ('person', 'enterprise', 'licence', 'case', 'sensor') AND entity_id LIKE %(prefix)s
          AND attribute IN ('name', 'licence_name', 'item_name', '__deleted')
          AND (entity_type, entity_id) IN (
              SELECT DISTINCT entity_type, entity_id FROM {db}.attributes
              WHERE entity_type IN ('person', 'enterprise', 'licence', 'case', 'sensor')
                AND entity_id LIKE %(prefix)s AND attribute = '__deleted'
              LIMIT %(limit)s)
        GROUP BY entity_type, entity_id
        ORDER BY entity_type, entity_id""",
    # who looked at the entity through the console or the API: its key range of the read log, newest first
    "reads": """
        SELECT ts_ms, reader, role, channel, view
        FROM {db}.entity_reads
        WHERE entity_type = %(entity_type)s AND entity_id = %(entity_id)s
        ORDER BY ts_ms DESC, reader, channel, view
        LIMIT 1 BY ts_ms, reader, channel, view
        LIMIT %(limit)s""",
    # the operator's desk: the newest dead letters of one stage and reason (the DLQ is small next to the data;
    # its table is sorted by topic and offset, so this reads one stage's letters)
    "dead_letters": """
        SELECT ts_ms, stage, reason, message, dataset, source_topic, source_partition, source_offset, department,
               event_id
        FROM {db}.dead_letters
        WHERE dlq_topic = %(dlq_topic)s AND reason = %(reason)s
        ORDER BY ts_ms DESC
        LIMIT 1 BY dlq_topic, dlq_partition, dlq_offset
        LIMIT %(limit)s""",
    "tracker": """
        SELECT subscriber, contract_version, dataset, event_id, fields, mode, ts_ms
        FROM {db}.deliveries
        WHERE entity_type = %(entity_type)s AND entity_id = %(entity_id)s
        ORDER BY ts_ms DESC, subscriber, event_id, contract_version
        LIMIT 1 BY subscriber, event_id, contract_version
        LIMIT %(limit)s""",
}

VIEW_QUERIES: dict[str, str] = {
    # counts read the tallies per minute or per day (sinks/clickhouse/tallies.py), never the events
    "event_counts": """
        SELECT dataset, sum(events) AS events FROM {db}.stage_tallies_daily WHERE kind = 'clean'
        GROUP BY dataset ORDER BY dataset""",
    "throughput": """
        SELECT minute, dataset, kind AS stage, sum(events) AS events FROM {db}.stage_tallies
        WHERE minute >= toStartOfMinute(now() - 3600) AND (kind != 'dlq' OR dlq_stage = 'normalize')
        GROUP BY minute, dataset, stage ORDER BY minute, dataset, stage""",
    # the last hour's key range of the readings sorted by time; a replay's copies counted once
    "sensor_minutes": """
        SELECT toStartOfMinute(measured_at) AS minute, sensor_id, metric, count() AS readings,
               min(value) AS min_value, max(value) AS max_value, avg(value) AS avg_value
        FROM (
            SELECT measured_at, sensor_id, metric, value FROM {db}.readings_by_minute
            WHERE measured_at >= now() - 3600
            LIMIT 1 BY sensor_id, metric, measured_ms, event_id
        )
        GROUP BY minute, sensor_id, metric
        ORDER BY minute DESC, sensor_id, metric LIMIT 100""",
    "case_timeliness": """
        SELECT item_code, item_name, department, decided_cases, avg_days, share_within_promised,
               share_within_statutory, share_within_half_statutory, avg_trips
        FROM {db}.case_timeliness_by_item ORDER BY item_code, department""",
    "licence_status": """
        SELECT licence_type, licence_name, issuer, issued, valid, expiring_30_days
        FROM {db}.licence_status ORDER BY licence_type, issuer""",
    "deliveries_per_subscriber": """
        SELECT party AS subscriber, sum(events) AS deliveries, max(day) AS last_day
        FROM {db}.stage_tallies_daily WHERE kind = 'delivered' GROUP BY subscriber ORDER BY subscriber""",
    "dead_letters_by_reason": """
        SELECT dlq_stage AS stage, reason, sum(events) AS letters FROM {db}.stage_tallies_daily WHERE kind = 'dlq'
        GROUP BY stage, reason ORDER BY letters DESC, stage, reason""",
}

# the sink, before counting a batch: the highest offset already counted per partition (tallies.py)
TALLY_COVER = """
    SELECT topic, partition, max(last_offset) FROM {db}.tally_cover
    WHERE topic IN %(topics)s GROUP BY topic, partition"""
