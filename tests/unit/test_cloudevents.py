"""A webhook batch as CloudEvents 1.0: the attributes a receiver's CloudEvents tooling requires, and the
verification a receiver runs (the README's snippet) refusing a replayed delivery."""

from __future__ import annotations

import json
import time

from sinks.webhook.cloudevents import cloud_events
from sinks.webhook.stage import sign, verify

RECORD = {"event_id": "e-1", "dataset": "person", "op": "u", "ts_ms": 1764547200123, "department": "public-security",
          "entity_type": "person", "entity_key": "a1b2", "row": {"name": "陈*"}, "contract_version": 3,
          "delivered_ts_ms": 1764547201000}


def test_each_delivery_is_a_cloud_event_pointing_at_its_schema() -> None:
    [event] = cloud_events([RECORD], "out.fuzhou-city", "https://registry.example/")
    assert event == {
        "specversion": "1.0", "id": "e-1", "source": "/pobi/feeds/out.fuzhou-city", "type": "pobi.delivery.person",
        "time": "2025-12-01T00:00:00.123Z", "subject": "a1b2", "datacontenttype": "application/json",
        "dataschema": "https://registry.example/subjects/out.fuzhou-city-value/versions/3", "data": RECORD}


def test_a_receiver_refuses_a_replayed_or_altered_batch() -> None:
    body = json.dumps(cloud_events([RECORD], "out.fuzhou-city", "http://127.0.0.1:8081")).encode()
    now = time.time()
    stamp = int(now)
    signature = sign("k3y", body, stamp)
    assert verify("k3y", body, str(stamp), signature, now)
    assert not verify("k3y", body, str(stamp), signature, now + 301)  # captured and sent again later
    assert not verify("k3y", body.replace(b"e-1", b"e-2"), str(stamp), signature, now)
    assert not verify("k3y", body, str(stamp + 1), signature, now)  # a newer timestamp on an old signature


def test_the_readme_s_receiver_snippet_accepts_once_and_refuses_a_replay() -> None:
    from tests.readme import readme_function

    accept = readme_function("accept")  # the receiver's code exactly as a subscriber would copy it
    body = json.dumps(cloud_events([RECORD], "out.fuzhou-city", "http://127.0.0.1:8081")).encode()
    stamp = int(time.time())
    headers = {"X-Pobi-Timestamp": str(stamp), "X-Pobi-Signature": sign("k3y", body, stamp), "X-Pobi-Batch-Id": "b1"}
    seen: set[str] = set()
    assert accept("k3y", body, headers, seen) is True  # type: ignore[operator]
    assert accept("k3y", body, headers, seen) is False  # type: ignore[operator]  # the same batch again
    old = int(time.time()) - 600
    stale = {**headers, "X-Pobi-Timestamp": str(old), "X-Pobi-Signature": sign("k3y", body, old),
             "X-Pobi-Batch-Id": "b2"}
    assert accept("k3y", body, stale, set()) is False  # type: ignore[operator]  # captured and replayed later
