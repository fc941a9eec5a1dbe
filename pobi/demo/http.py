"""The demo's department without a Kafka client: the online service hall's system POSTs its approval cases
to the HTTP gateway, in batches, as any web application could — retries included."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections import Counter
from typing import Any

from foundation.asgi import BackgroundServer
from foundation.settings import Settings
from schemas.envelope import SourceRef

__all__ = ["post_over_http"]

BATCH = 100


def _post(url: str, body: bytes, source: SourceRef) -> dict[str, Any]:
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json", "X-Pobi-Department": source.department, "X-Pobi-System": source.system})
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            result: dict[str, Any] = json.loads(answer.read())
    except urllib.error.HTTPError as refused:
        result = {"status": refused.code, **json.loads(refused.read() or b"{}")}
    return result


def post_over_http(settings: Settings, dataset: str, rows: list[dict[str, Any]], source: SourceRef,
                   resend_share: float = 0.1) -> Counter[str]:
    """Send ``rows`` through a gateway served on a free loopback port for the occasion; the first
    ``resend_share`` of each batch is sent again, as a client that did not see the answer would. The counts
    of accepted, rejected and duplicate records, from the gateway's answers."""
    from pobi.gateway.app import gateway_app  # FastAPI: only when the demo reaches this step

    counts: Counter[str] = Counter()
    with BackgroundServer(gateway_app(settings), "127.0.0.1", 0) as server:
        url = f"http://127.0.0.1:{server.port}/v1/datasets/{dataset}/events"
        for start in range(0, len(rows), BATCH):
            batch = rows[start:start + BATCH]
            for attempt in (batch, batch[: max(1, int(len(batch) * resend_share))]):
                answer = _post(url, json.dumps(attempt, ensure_ascii=False).encode(), source)
                if "status" in answer:
                    counts[f"http {answer['status']}"] += len(attempt)
                    continue
                counts["accepted"] += answer["accepted"]
                counts["rejected"] += len(answer["rejected"])
                counts["duplicate"] += len(answer["duplicates"])
    return counts
