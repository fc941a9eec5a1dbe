"""The normalise and fan-out stages' own behaviour, on in-memory doubles: a case's history carries across
batches (days to decision), repeats are counted not re-sent, a conflicting repeat waits in the DLQ; fan-out
delivers only what a contract selects, masked, with a delivery-log entry per delivery."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from foundation.secrets import hub_key
from foundation.settings import Settings, load_settings
from schemas.codec import Codec
from schemas.envelope import SourceRef, build_envelope
from schemas.feeds import FeedDecoder
from schemas.registry import default_registry
from streams.fanout.deliver import subscriber_key
from streams.fanout.masking import pseudonym
from streams.fanout.stage import FanoutStage
from streams.normalize.event import normalize_event
from streams.normalize.fields import RuleClock
from streams.normalize.stage import NormalizeStage
from tests.doubles import FakeBook, FakeMessage, FakePublisher, FakeSchemaIds, FakeSeenEvents
from tests.samples import SAMPLE_ROWS
from topics.contract import load_contract
from topics.subscriptions import CONTRACTS_DIR, contract_document

CODEC = Codec()
NOW = int(time.time() * 1000)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    s = load_settings(stack_dir=tmp_path / "state")
    hub_key(s, create=True)
    return s


def change(dataset: str, event_id: str, row: dict[str, Any], department: str = "service-hall") -> bytes:
    schema = default_registry().latest(dataset)
    return CODEC.encode_with(schema, build_envelope(schema, event_id=event_id, op="u",
                                                    source=SourceRef(department, "wsbs"), position=event_id,
                                                    ts_ms=NOW, before=None, after=row))


def normalise(settings: Settings, batches: list[list[FakeMessage]]) -> tuple[FakePublisher, FakeSeenEvents]:
    publisher, seen = FakePublisher(), FakeSeenEvents()
    stage = NormalizeStage(settings, seen=seen, publisher=publisher)  # type: ignore[arg-type]
    stage.setup()
    for batch in batches:
        stage.handle(batch).result()  # type: ignore[arg-type]
    stage.close()
    return publisher, seen


def clean_events(publisher: FakePublisher, topic: str) -> list[dict[str, Any]]:
    return [CODEC.decode(value)[1] for t, _key, value in publisher.records if t == topic]


def test_a_case_s_history_carries_across_batches(settings: Settings) -> None:
    case = SAMPLE_ROWS["approval_case"]
    applied = FakeMessage("ingest.approval_case", 0, 0, change("approval_case", "c-1", case | {
        "stage": "applied", "stage_time": "2026-11-02T09:00:00+08:00"}))
    decided = FakeMessage("ingest.approval_case", 0, 1, change("approval_case", "c-2", case | {
        "stage": "approved", "stage_time": "2026-11-10T09:00:00+08:00"}))
    publisher, seen = normalise(settings, [[applied], [decided]])
    approved = clean_events(publisher, "norm.approval_case")[1]
    assert approved["enrichment"]["case.days_to_decision"] == "8.00"
    assert {f["code"] for f in approved["quality_flags"]} >= {"case.over_promised_limit", "case.stage_skipped"}
    assert {w.field for w in seen.state} == {"applied", "approved"}


def test_repeats_are_counted_and_a_conflicting_one_waits_in_the_dlq(settings: Settings) -> None:
    row = SAMPLE_ROWS["person"]
    first = FakeMessage("ingest.person", 0, 0, change("person", "p-1", row, "public-security"))
    again = FakeMessage("ingest.person", 0, 1, change("person", "p-1", row, "public-security"))
    other = FakeMessage("ingest.person", 0, 2, change("person", "p-1", row | {"name": "冒名"}, "public-security"))
    elsewhere = FakeMessage("ingest.person", 0, 3, change("person", "p-1", row | {"name": "陈志"}, "civil-affairs"))
    publisher, seen = normalise(settings, [[first], [again, other, elsewhere]])
    assert [e["source"]["department"] for e in clean_events(publisher, "norm.person")] == [
        "public-security", "civil-affairs"]
    assert [letter.reason for _t, letter in publisher.letters] == ["event.id_conflict"]
    assert seen.ledger[("normalize:person", "duplicate")] == 1
    assert seen.ledger[("normalize:person", "in")] == 4


def clean(n: int, division: str) -> bytes:
    from pobi.demo.traffic import valid_id_number

    row = SAMPLE_ROWS["person"] | {"id_number": valid_id_number(division, date(1980, 1, 1), 2 * n + 1),
                                   "division_code": division, "birth_date": "1980-01-01"}
    schema = default_registry().latest("person")
    event = build_envelope(schema, event_id=f"p-{n}", op="c", source=SourceRef("public-security", "hukou"),
                           position=str(n), ts_ms=NOW, before=None, after=row)
    clean_event = normalize_event(schema, event, RuleClock(date.today(), NOW),  # noqa: DTZ011
                                  {"topic": "ingest.person", "partition": 0, "offset": n, "ts_ms": NOW})
    return CODEC.encode_with(default_registry().latest("person.clean"), clean_event)


def test_fanout_delivers_what_the_contract_selects_masked_and_logged(settings: Settings) -> None:
    contract = load_contract(CONTRACTS_DIR / "fuzhou-city.yaml", default_registry(), date(2026, 11, 26))
    document = contract_document(contract, default_registry())
    publisher, ids = FakePublisher(), FakeSchemaIds()
    stage = FanoutStage(settings, datasets=["person"], publisher=publisher, ids=ids,  # type: ignore[arg-type]
                        book=FakeBook({"fuzhou-city": document}))  # type: ignore[arg-type]
    stage.setup()
    stage.handle([FakeMessage("norm.person", 0, 0, clean(0, "350102")),  # type: ignore[list-item]
                  FakeMessage("norm.person", 0, 1, clean(1, "350203"))]).result()  # Xiamen: not selected
    feed = [(key, value) for topic, key, value in publisher.records if topic == "out.fuzhou-city"]
    audit = [CODEC.decode(value)[1] for topic, _key, value in publisher.records if topic == "audit.delivery"]
    assert len(feed) == 1 and len(audit) == 1
    assert feed[0][1][:1] == b"\x00"  # Confluent's wire format, fuzhou-city's contract giving no other
    delivery = FeedDecoder(ids.schemas.__getitem__).decode(feed[0][1])
    raw_id = audit[0]["entity_id"]
    key = subscriber_key(hub_key(settings), "fuzhou-city")
    assert delivery["row"]["id_number"] == pseudonym(raw_id, key) and raw_id not in str(delivery)
    assert feed[0][0] == pseudonym(raw_id, key).encode()  # the Kafka key is masked too
    assert delivery["row"]["address"] is None and delivery["row"]["name"].endswith("*")
    assert audit[0]["subscriber"] == "fuzhou-city" and "id_number" in audit[0]["fields"]


def test_a_bug_in_the_case_rules_sends_that_record_to_the_dlq_only(settings: Settings,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import streams.normalize.stage as stage_module

    def broken(stage: str, *args: Any, **kwargs: Any) -> Any:
        if stage == "approved":
            raise ZeroDivisionError("a rule's bug")
        return ()

    monkeypatch.setattr(stage_module, "check_case_stage", broken)
    case = SAMPLE_ROWS["approval_case"]
    batch = [FakeMessage("ingest.approval_case", 0, n, change("approval_case", f"c-{n}", case | {
        "case_id": f"FJ{n}", "stage": stage, "stage_time": "2026-11-02T09:00:00+08:00"}))
        for n, stage in enumerate(["applied", "approved", "applied"])]
    publisher, seen = normalise(settings, [batch])
    assert [e["after"]["case_id"] for e in clean_events(publisher, "norm.approval_case")] == ["FJ0", "FJ2"]
    [(_topic, letter)] = publisher.letters
    assert (letter.reason, letter.source_offset) == ("normalize.unexpected_error", 1)
    assert "ZeroDivisionError" in letter.message
    assert {w.key for w in seen.state} == {settings.redis_key("case", "FJ0"), settings.redis_key("case", "FJ2")}


def test_a_bug_in_fanout_dead_letters_the_record_and_counts_toward_the_limit(settings: Settings,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from streams.fanout.deliver import Grant
    from topics.dead_letters import DeadLetterFlood

    contract = load_contract(CONTRACTS_DIR / "fuzhou-city.yaml", default_registry(), date(2026, 11, 26))
    publisher = FakePublisher()
    limited = settings.model_copy(update={"dlq_limit": 0.5, "dlq_limit_window": 4})
    stage = FanoutStage(limited, datasets=["person"], publisher=publisher, ids=FakeSchemaIds(),  # type: ignore[arg-type]
                        book=FakeBook({"fuzhou-city": contract_document(contract, default_registry())}))  # type: ignore[arg-type]
    stage.setup()

    def broken(self: Grant, event: dict[str, Any], now_ms: int) -> Any:
        raise KeyError("a bad deploy")

    monkeypatch.setattr(Grant, "delivery", broken)
    stage.handle([FakeMessage("norm.person", 0, 0, clean(0, "350102")),  # type: ignore[list-item]
                  FakeMessage("norm.person", 0, 1, clean(1, "350203"))]).result()  # not selected: no bug met
    assert [letter.reason for _t, letter in publisher.letters] == ["fanout.unexpected_error"]
    with pytest.raises(DeadLetterFlood, match="fanout"):
        stage.handle([FakeMessage("norm.person", 0, n, clean(n, "350102"))  # type: ignore[misc]
                      for n in range(2, 5)])


def test_a_replayed_dead_letter_is_judged_again_and_a_replayed_clean_event_is_not(settings: Settings) -> None:
    from topics.dead_letters import REPLAY_HEADER

    bad = change("person", "p-9", SAMPLE_ROWS["person"] | {"id_number": "350102199003071235"}, "public-security")
    good = change("person", "p-8", SAMPLE_ROWS["person"], "public-security")
    replayed = [(REPLAY_HEADER, b"dlq.normalize/0/0")]
    publisher, seen = normalise(settings, [
        [FakeMessage("ingest.person", 0, 0, bad), FakeMessage("ingest.person", 0, 1, good)],
        [FakeMessage("ingest.person", 0, 2, bad, headers_=replayed),  # judged again: the rule still refuses it
         FakeMessage("ingest.person", 0, 3, good, headers_=replayed)],  # already clean: a duplicate
    ])
    assert [letter.reason for _t, letter in publisher.letters] == ["id_number.checksum", "id_number.checksum"]
    assert len(clean_events(publisher, "norm.person")) == 1
    assert seen.ledger[("normalize:person", "duplicate")] == 1 and seen.ledger[("normalize:person", "dlq")] == 2
