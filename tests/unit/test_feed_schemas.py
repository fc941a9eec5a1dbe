"""A subscriber's feed schema, derived from its contract, and the decoder its own client would use: masked
fields travel as strings, granted ones keep their type; anything that is not such a delivery — other bytes,
an unknown schema, a truncated body — is a DecodeError with a reason, never a crash."""

from __future__ import annotations

import pytest

from foundation.errors import DecodeError
from schemas.codec import MAGIC, Codec
from schemas.projection import DeliveryDecoder, delivery_schema, delivery_wire_schema
from schemas.registry import default_registry

FIELDS = ["id_number", "name", "gender", "birth_date"]
MASKS = {"id_number": "hash", "name": "partial", "gender": "clear", "birth_date": "clear"}


def record() -> dict:
    return {"event_id": "e-1", "dataset": "person", "op": "c", "ts_ms": 1, "department": "d", "entity_type": "person",
            "entity_key": "9f" * 16, "row": {"id_number": "9f" * 16, "name": "陈**", "gender": "1",
                                             "birth_date": "1990-03-07"},
            "contract_version": 2, "delivered_ts_ms": 2}


def test_masked_fields_are_strings_and_only_granted_fields_are_there() -> None:
    schema = delivery_schema("fuzhou-city", 2, "person", FIELDS, MASKS, default_registry())
    row = next(f for f in schema["fields"] if f["name"] == "row")
    row_fields = {f["name"]: f["type"] for f in (row["type"][1] if isinstance(row["type"], list) else row["type"])[
        "fields"]}
    assert set(row_fields) == set(FIELDS)
    assert row_fields["id_number"] == ["null", "string"] and "[hash]" in str(schema)
    assert schema["namespace"] == "pobi.out.fuzhou_city"


def test_a_feed_round_trips_through_the_subscriber_s_decoder() -> None:
    wire = delivery_wire_schema("fuzhou-city", 2, "person", FIELDS, MASKS, default_registry())
    decoder = DeliveryDecoder([wire.schema])
    assert decoder.decode(Codec.encode_with(wire, record())) == record()


@pytest.mark.parametrize(("data", "reason"), [
    (b"", "decode.not_avro"),
    (b"not a delivery at all", "decode.not_avro"),
    (MAGIC + b"\x00" * 8 + b"body", "decode.unknown_schema"),
])
def test_what_is_not_a_delivery_is_refused_with_a_reason(data: bytes, reason: str) -> None:
    wire = delivery_wire_schema("fuzhou-city", 2, "person", FIELDS, MASKS, default_registry())
    with pytest.raises(DecodeError) as err:
        DeliveryDecoder([wire.schema]).decode(data)
    assert err.value.reason == reason


def test_a_truncated_delivery_is_a_decode_error_not_a_crash() -> None:
    wire = delivery_wire_schema("fuzhou-city", 2, "person", FIELDS, MASKS, default_registry())
    data = Codec.encode_with(wire, record())
    for cut in (11, len(data) // 2, len(data) - 1):
        with pytest.raises(DecodeError) as err:
            DeliveryDecoder([wire.schema]).decode(data[:cut])
        assert err.value.reason == "decode.corrupt"
