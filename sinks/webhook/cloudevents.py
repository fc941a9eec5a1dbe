"""A webhook batch as CloudEvents 1.0 in structured JSON mode (``application/cloudevents-batch+json``): the
format receivers' own tooling reads (Knative, Azure Event Grid, the CloudEvents SDKs). Pure.

Each delivery is one event: ``id`` the hub's event id (a receiver deduplicates on it), ``source`` the feed,
``type`` ``pobi.delivery.<dataset>``, ``time`` the change's time, ``subject`` the entity key as the contract
masks it, ``dataschema`` the feed's schema on pobi's registry (the subject's version is the contract version),
and the delivery record as ``data``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

__all__ = ["CONTENT_TYPE", "cloud_events"]

CONTENT_TYPE = "application/cloudevents-batch+json; charset=utf-8"


def _rfc3339(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def cloud_events(deliveries: list[dict[str, Any]], feed_topic: str, registry_url: str) -> list[dict[str, Any]]:
    """``deliveries`` (decoded records of the feed ``feed_topic``) as CloudEvents."""
    schema_base = f"{registry_url.rstrip('/')}/subjects/{feed_topic}-value/versions"
    return [{
        "specversion": "1.0", "id": record["event_id"], "source": f"/pobi/feeds/{feed_topic}",
        "type": f"pobi.delivery.{record['dataset']}", "time": _rfc3339(int(record["ts_ms"])),
        "subject": record["entity_key"], "datacontenttype": "application/json",
        "dataschema": f"{schema_base}/{record['contract_version']}", "data": record,
    } for record in deliveries]
