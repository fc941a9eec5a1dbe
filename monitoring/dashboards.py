"""pobi's Grafana dashboards, defined here and written as JSON under ``monitoring/grafana/dashboards/``
(``python -m monitoring.dashboards`` rewrites them; a test checks the files match and runs every query on the
real services). Operations reads Prometheus; Business reads ClickHouse through the views.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sinks.clickhouse.queries import VIEW_QUERIES

__all__ = ["BUSINESS_PANELS", "DASHBOARD_DIR", "DATABASE_VARIABLE", "OPERATIONS_PANELS", "dashboards",
           "write_dashboards"]

DASHBOARD_DIR = Path(__file__).parent / "grafana" / "dashboards"
# The business panels read the database of the dashboard's `database` variable: `pobi` (what docker-compose's
# ClickHouse holds) unless the operator picks another, such as a namespace's `pobi_<namespace>`.
DATABASE_VARIABLE = "${database}"

# (title, PromQL expressions (one line each), unit)
OPERATIONS_PANELS: list[tuple[str, tuple[str, ...], str]] = [
    ("Workers and gateways up (1) or down (0)", ('up{job=~"pobi|pobi-gateway"}',), "short"),
    ("Alerts firing", ('sum by (alertname, severity) (ALERTS{alertstate="firing"}) or on() vector(0)',), "short"),
    ("Throughput by stage and outcome (events/s)", ("sum by (stage, outcome) (rate(pobi_events_total[1m]))",),
     "ops"),
    ("Consumer lag by stage group and topic (records)",
     ("sum by (group, topic) (pobi_consumer_lag_records)",), "short"),
    ("Dead letters by stage and reason (per s)", ("sum by (stage, reason) (rate(pobi_dlq_total[5m]))",), "ops"),
    ("Normalise latency from ingest, p50 and p99 (s)", tuple(
        f"histogram_quantile({q}, sum by (le, dataset) (rate(pobi_stage_latency_seconds_bucket"
        "{stage=\"normalize\", origin=\"ingest\"}[5m])))" for q in ("0.5", "0.99")), "s"),
    ("Freshness: seconds since each department's newest event arrived, per dataset",
     ("time() - max by (dataset, department) (pobi_source_last_event_timestamp_seconds)",), "s"),
    ("Sink: rows per second by table", ("sum by (table) (rate(pobi_sink_batch_rows_sum[1m]))",), "ops"),
    ("Sink: insert duration p50 and p99 by table (s)", tuple(
        f"histogram_quantile({q}, sum by (le, table) (rate(pobi_sink_insert_seconds_bucket[5m])))"
        for q in ("0.5", "0.99")), "s"),
    ("Deliveries per subscriber (per s)", ("sum by (subscriber, mode) (rate(pobi_deliveries_total[1m]))",), "ops"),
    ("Delivery latency p50 and p99 per subscriber (s)", tuple(
        f"histogram_quantile({q}, sum by (le, subscriber) (rate(pobi_delivery_latency_seconds_bucket[5m])))"
        for q in ("0.5", "0.99")), "s"),
    ("Waiting for Redis or ClickHouse (s/s)",
     ("sum by (service) (rate(pobi_dependency_wait_seconds_total[5m]))",), "s"),
    ("Gateway requests by status (per s)", ("sum by (dataset, status) (rate(pobi_gateway_requests_total[1m]))",),
     "ops"),
]

# (title, query name in sinks.clickhouse.queries.VIEW_QUERIES)
BUSINESS_PANELS: list[tuple[str, str]] = [
    ("Clean events per dataset", "event_counts"),
    ("Throughput per minute (in, clean, dlq, delivered)", "throughput"),
    ("Approval timeliness per item and department", "case_timeliness"),
    ("Licences: issued, valid, expiring within 30 days", "licence_status"),
    ("Sensor readings per minute", "sensor_minutes"),
    ("Deliveries per subscriber", "deliveries_per_subscriber"),
    ("Dead letters by reason", "dead_letters_by_reason"),
]


def _panel(index: int, title: str, targets: list[dict[str, Any]], kind: str, unit: str = "short") -> dict[str, Any]:
    return {"id": index + 1, "title": title, "type": kind, "datasource": targets[0]["datasource"],
            "gridPos": {"x": (index % 2) * 12, "y": (index // 2) * 8, "w": 12, "h": 8},
            "fieldConfig": {"defaults": {"unit": unit}, "overrides": []}, "targets": targets}


def dashboards() -> dict[str, dict[str, Any]]:
    prometheus = {"type": "prometheus", "uid": "prometheus"}
    clickhouse = {"type": "grafana-clickhouse-datasource", "uid": "clickhouse"}
    operations = [_panel(i, title, [{"datasource": prometheus, "expr": expr, "refId": "ABCD"[n]}
                                    for n, expr in enumerate(exprs)], "timeseries", unit)
                  for i, (title, exprs, unit) in enumerate(OPERATIONS_PANELS)]
    business = [_panel(i, title, [{"datasource": clickhouse, "format": 1, "queryType": "sql", "refId": "A",
                                   "rawSql": " ".join(VIEW_QUERIES[name].replace("{db}", DATABASE_VARIABLE)
                                                      .split())}], "table")
                for i, (title, name) in enumerate(BUSINESS_PANELS)]
    database = {"name": "database", "label": "ClickHouse database", "type": "query", "datasource": clickhouse,
                "query": "SELECT name FROM system.databases WHERE name = 'pobi' OR startsWith(name, 'pobi_')",
                "definition": "pobi's databases", "refresh": 1, "current": {"text": "pobi", "value": "pobi"},
                "options": [], "includeAll": False, "multi": False}
    common = {"schemaVersion": 39, "version": 1, "editable": True, "refresh": "10s",
              "time": {"from": "now-1h", "to": "now"}, "tags": ["pobi"]}
    return {"pobi-operations.json": {**common, "uid": "pobi-operations", "title": "pobi · operations",
                                     "panels": operations},
            "pobi-business.json": {**common, "uid": "pobi-business", "title": "pobi · business",
                                   "templating": {"list": [database]}, "panels": business}}


def write_dashboards(folder: Path = DASHBOARD_DIR) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, board in dashboards().items():
        path = folder / name
        path.write_text(json.dumps(board, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write_dashboards():
        print(f"wrote {path}")
