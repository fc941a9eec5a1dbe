"""What `pobi publish` refuses before Kafka does, pure: ints beyond their Avro type, a CSV cell beyond the
reader's limit (that record only), ts_ms and event ids out of bounds; and the webhook signature a receiver
checks."""

from __future__ import annotations

import pytest

from pobi.publish.adapters import Draft, Rejected, read_csv, read_jsonl
from pobi.publish.events import EventRules, envelope_for
from schemas.envelope import SourceRef
from schemas.registry import default_registry
from schemas.rows import RowError, check_row
from sinks.webhook.stage import sign, verify
from tests.samples import SAMPLE_ROWS

CASE = default_registry().latest("approval_case")
PERSON = default_registry().latest("person")
RULES = EventRules(source=SourceRef("public-security", "hukou"), label="f.jsonl", default_ts=1)


@pytest.mark.parametrize("value", [2**31, -(2**31) - 1, 10**30])
def test_an_int_beyond_32_bits_is_refused(value: int) -> None:
    with pytest.raises(RowError) as err:
        check_row(CASE, SAMPLE_ROWS["approval_case"] | {"trips": value})
    assert err.value.reason == "value.out_of_range"


def test_the_largest_int_fits() -> None:
    assert check_row(CASE, SAMPLE_ROWS["approval_case"] | {"trips": 2**31 - 1})["trips"] == 2**31 - 1


@pytest.mark.parametrize(("draft", "reason"), [
    (Draft(1, b"", None, SAMPLE_ROWS["person"], op="c", ts_ms=-1), "event.ts_out_of_range"),
    (Draft(1, b"", None, SAMPLE_ROWS["person"], op="c", ts_ms=253_402_300_800_000), "event.ts_out_of_range"),
    (Draft(1, b"", None, SAMPLE_ROWS["person"], op="c", ts_ms=True), "value.type"),  # type: ignore[arg-type]
    (Draft(1, b"", None, SAMPLE_ROWS["person"], op="c", event_id="a\x00b"), "event.id_invalid"),
    (Draft(1, b"", None, SAMPLE_ROWS["person"], op="c", event_id="e" * 300), "event.id_invalid"),
])
def test_an_envelope_out_of_bounds_is_refused(draft: Draft, reason: str) -> None:
    with pytest.raises(RowError) as err:
        envelope_for(PERSON, draft, RULES)
    assert err.value.reason == reason


def test_a_cell_beyond_the_reader_s_limit_rejects_that_record_only() -> None:
    header = ",".join(SAMPLE_ROWS["person"]).encode()
    row = ",".join(str(v) for v in SAMPLE_ROWS["person"].values()).encode()
    huge = row.replace(b"\xe7\xa6\x8f\xe5\xb7\x9e", b"x" * (9 * 1024 * 1024), 1)  # the address's 福州 grows
    items = list(read_csv([header + b"\n", row + b"\n", huge + b"\n", row + b"\n"], PERSON, {}))
    assert [type(i).__name__ for i in items] == ["Draft", "Rejected", "Draft"]
    rejected = items[1]
    assert isinstance(rejected, Rejected) and rejected.reason == "csv.malformed" and len(rejected.raw) <= 256 * 1024


def test_a_json_line_is_read_whatever_its_numbers() -> None:
    [draft] = list(read_jsonl([b'{"op": "c", "ts_ms": -1, "after": {"id_number": "1"}}\n']))
    assert isinstance(draft, Draft) and draft.ts_ms == -1  # refused later, with the line, as event.ts_out_of_range


def test_a_signature_binds_the_body_to_its_time() -> None:
    body, key = b'{"deliveries": []}', "k" * 64
    signature = sign(key, body, 1_764_000_000)
    assert verify(key, body, "1764000000", signature, now=1_764_000_100)
    assert not verify(key, body, "1764000000", signature, now=1_764_000_301)  # replayed after the tolerance
    assert not verify(key, body, "1764000001", signature, now=1_764_000_100)  # another time
    assert not verify(key, body + b" ", "1764000000", signature, now=1_764_000_100)  # another body
    assert not verify(key, body, "soon", signature, now=1_764_000_100)
