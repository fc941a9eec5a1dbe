"""The normalisation stage on the real stack: a mixed stream of valid, dirty-but-fixable, invalid, duplicate
and undecodable records gives exactly the expected clean, duplicate and dead-letter counts per reason."""

from __future__ import annotations

import time
from collections import Counter
from datetime import date, datetime, timedelta

import pytest

from foundation.settings import Settings
from pobi.demo.traffic import CST, valid_id_number, valid_uscc
from schemas.codec import Codec
from schemas.envelope import SourceRef, build_envelope
from schemas.registry import default_registry
from tests.kafka_helpers import read_all
from tests.samples import SAMPLE_ROWS
from tests.stream_helpers import create_stream_topics, namespaced, running_stage, wait_until_idle
from topics.producer import Publisher

pytestmark = pytest.mark.stack

SOURCE = SourceRef("public-security", "population-register")


def person(n: int, **changes: object) -> dict:
    born = date(1960, 1, 1) + timedelta(days=37 * n)
    number = valid_id_number("350102", born, 2 * n + 1)
    return {**SAMPLE_ROWS["person"], "id_number": number, "birth_date": born.isoformat(), "gender": "1", **changes}


def envelope(dataset: str, event_id: str, row: dict, op: str = "c") -> dict:
    return build_envelope(default_registry().latest(dataset), event_id=event_id, op=op, source=SOURCE,
                          position=event_id, ts_ms=int(time.time() * 1000), before=None, after=row)


def fullwidth(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def test_a_mixed_stream_ends_exactly_in_clean_duplicate_and_dlq(live_stack: object, unique: str) -> None:
    settings = namespaced(unique)
    datasets = ["person", "enterprise"]
    create_stream_topics(settings, datasets)
    topic = settings.topics.ingest("person")
    valid = {f"ok-{n}": person(n) for n in range(50)}
    dirty = {f"dirty-{n}": (p := person(100 + n)) | {
        "id_number": fullwidth(p["id_number"]).lower(), "name": f"\u3000{p['name']} ",
        "birth_date": datetime.fromisoformat(p["birth_date"]).strftime("%Y年%m月%d日"),
        "phone": "+86 139-0591-0001"} for n in range(10)}
    invalid = {
        "bad-check-1": person(200) | {"id_number": person(200)["id_number"][:-1] + "0"},
        "bad-check-2": person(201) | {"id_number": person(201)["id_number"][:-2] + "00"},
        "bad-check-3": person(202) | {"id_number": "350102199003071235"},
        "bad-date-1": person(203) | {"birth_date": "1990-02-30"},
        "bad-date-2": person(204) | {"birth_date": "2019年2月29日"},
        "bad-excel": person(205) | {"id_number": "3.50102E+17"},
        "bad-phone": person(206) | {"phone": "12345"},
    }
    repeats = list(valid)[:5]
    with Publisher(settings) as publisher:
        for event_id, row in {**valid, **dirty, **invalid}.items():
            publisher.send_event("person", envelope("person", event_id, row), topic=topic)
        for event_id in repeats:  # the department sends the same events again
            publisher.send_event("person", envelope("person", event_id, valid[event_id]), topic=topic)
        publisher.produce(topic, b"k", b"this is not avro")
        good = Codec().encode("person", envelope("person", "truncated", person(300)))
        publisher.produce(topic, b"k", good[:-7])
        enterprise = SAMPLE_ROWS["enterprise"] | {"uscc": valid_uscc("350102", 42)}
        publisher.send_event("enterprise", envelope("enterprise", "misrouted", enterprise), topic=topic)

    with running_stage(settings, datasets):
        rows = wait_until_idle(settings, datasets)

    ledger = rows["person"]
    assert ledger.counts == {"in": 75, "clean": 60, "duplicate": 5, "dlq": 10} | (
        {"redelivered": ledger.counts["redelivered"]} if "redelivered" in ledger.counts else {})
    assert ledger.dlq_reasons == {"id_number.checksum": 3, "date.impossible": 2,
                                  "id_number.excel_precision_loss": 1, "phone.format": 1, "decode.not_avro": 1,
                                  "decode.corrupt": 1, "event.wrong_topic": 1}
    assert ledger.status == "balanced"

    codec = Codec()
    records = read_all(settings, settings.topics.norm("person"))
    clean = [codec.decode(m.value())[1] for m in records]
    assert sorted(e["event_id"] for e in clean) == sorted([*valid, *dirty])
    by_id = {e["event_id"]: e for e in clean}
    for event_id, row in dirty.items():
        after = by_id[event_id]["after"]
        assert after["id_number"] == row["id_number"].translate({0xFF58: "X"}).upper().translate(
            {c: c - 0xFEE0 for c in range(0xFF10, 0xFF3B)})
        assert after["name"] == row["name"].strip("\u3000 ")
        assert after["phone"] == "13905910001"
        assert by_id[event_id]["entity"] == {"type": "person", "id": after["id_number"]}
    assert all(m.key() == e["entity"]["id"].encode() for m, e in zip(records, clean, strict=True))

    letters = [(m, codec.decode(m.value())[1]) for m in read_all(settings, settings.topics.dlq("normalize"))]
    assert Counter(letter["reason"] for _m, letter in letters) == Counter(ledger.dlq_reasons)
    sent = {(m.partition(), m.offset()): m.value() for m in read_all(settings, topic)}
    for _message, letter in letters:
        assert letter["stage"] == "normalize" and letter["source_topic"] == topic
        assert sent[(letter["source_partition"], letter["source_offset"])] == letter["original"]
        assert letter["message"]


def test_approval_stages_are_checked_against_the_case_history(live_stack: object, unique: str) -> None:
    settings = namespaced(unique)
    create_stream_topics(settings, ["approval_case"])
    start = datetime(2026, 11, 2, 9, 0, tzinfo=CST)
    case = SAMPLE_ROWS["approval_case"] | {"statutory_limit_days": 20, "promised_limit_days": 5}
    stages = [("applied", 0), ("accepted", 1), ("approved", 8), ("completed", 9)]
    with running_stage(settings, ["approval_case"]):
        for stage, day in stages:  # one at a time, so each is judged against the history before it
            with Publisher(settings) as publisher:
                row = case | {"stage": stage, "stage_time": (start + timedelta(days=day)).isoformat()}
                publisher.send_event("approval_case", envelope("approval_case", f"case-{stage}", row),
                                     topic=settings.topics.ingest("approval_case"))
            wait_until_idle(settings, ["approval_case"])
    codec = Codec()
    clean = {e["after"]["stage"]: e for e in
             (codec.decode(m.value())[1] for m in read_all(settings, settings.topics.norm("approval_case")))}
    assert [f["code"] for f in clean["approved"]["quality_flags"]] == ["case.over_promised_limit"]
    assert clean["approved"]["enrichment"]["case.days_to_decision"] == "8.00"
    assert all(clean[s]["quality_flags"] == [] for s in ("applied", "accepted", "completed"))
    assert clean["approved"]["related"] == [{"role": "applicant", "type": "enterprise",
                                             "id": SAMPLE_ROWS["approval_case"]["applicant_id"]}]


def test_unknown_topics_stop_the_stage_with_a_clear_error(live_stack: object, unique: str,
                                                          settings: Settings) -> None:
    from streams.normalize.stage import NormalizeStage
    from streams.runner import StageError, StageRunner

    lonely = namespaced(unique)
    runner = StageRunner(lonely, NormalizeStage(lonely, datasets=["person"]))
    import threading

    with pytest.raises(StageError, match=r"t.*ingest\.person do not exist; run `pobi topics apply`"):
        runner.run(threading.Event())
