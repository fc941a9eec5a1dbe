"""The pure parts of `pobi ledger rebuild`: which positions belong to the dataset's own ingest topic, and
records that are not pobi's are passed over rather than stopping the rebuild."""

from __future__ import annotations

from schemas.codec import Codec
from streams.rebuild import _decoded, _ingest_positions
from topics.dead_letters import DeadLetter


def test_only_the_namespace_s_own_ingest_positions_count() -> None:
    positions = {"t1.ingest.person|0|5", "t1.ingest.person|3|0", "t2.ingest.person|0|5", "ingest.person|1|1",
                 "t1.ingest.person.extra|0|1"}
    assert _ingest_positions("t1.ingest.person", positions) == {"t1.ingest.person|0|5", "t1.ingest.person|3|0"}


def test_records_that_are_not_pobi_s_are_passed_over() -> None:
    codec = Codec()
    letter = DeadLetter("normalize", "decode.corrupt", "m", b"x").record()
    assert _decoded(codec, codec.encode("dead_letter", letter))["reason"] == "decode.corrupt"  # type: ignore[index]
    assert _decoded(codec, b"garbage") is None and _decoded(codec, None) is None
