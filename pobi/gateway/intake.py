"""A request body as records: a JSON array (or one JSON object) of rows or pobi change events, or JSON lines.

Each record keeps its index in the request (0-based, as the answer reports it) and its bytes, which take
part in its event id and go to the DLQ when it is refused. A record that parses is kept as canonical JSON
(sorted keys, no spaces), so the same record sent in an array or as a line, spaced or not, has one id.
Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

import orjson

from pobi.publish.adapters import Draft, Rejected, draft_of_json, read_jsonl

__all__ = ["records_of_body"]


def _canonical(value: object) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def records_of_body(body: bytes) -> Iterator[Draft | Rejected]:
    """Drafts and refusals, numbered from 0. A body that is one JSON value is an array of records (or a
    single record); anything else is read as JSON lines, each line judged on its own."""
    try:
        whole = orjson.loads(body)
    except orjson.JSONDecodeError:
        whole = None
    else:
        values = whole if isinstance(whole, list) else [whole]
        for index, value in enumerate(values):
            yield draft_of_json(index, _canonical(value), value)
        return
    for index, item in enumerate(read_jsonl(body.splitlines())):
        if isinstance(item, Draft):
            value = orjson.loads(item.raw)
            yield draft_of_json(index, _canonical(value), value)
        elif isinstance(item, Rejected):
            yield Rejected(index, item.raw, item.reason, item.message)
