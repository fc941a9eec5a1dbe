"""The stage contract (``streams.runner.BatchStage``), held by every stage with in-memory doubles and
the real runner: construction does no I/O; a batch's offsets are stored only after its effects; an effect
that fails leaves the offsets unstored; a poison record reaches the stage's DLQ with its origin; closing
releases what setup opened."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pytest

from foundation.egress import HttpAnswer, parse_networks
from foundation.errors import PublishError
from foundation.secrets import hub_key
from foundation.settings import Settings, load_settings
from schemas.codec import Codec
from schemas.envelope import SourceRef, build_envelope
from schemas.registry import default_registry
from sinks.clickhouse.stage import SinkStage
from sinks.webhook.stage import WebhookStage
from streams.cdc.stage import CdcStage
from streams.fanout.stage import FanoutStage
from streams.normalize.event import normalize_event
from streams.normalize.fields import RuleClock
from streams.normalize.stage import NormalizeStage
from streams.runner import StageRunner
from tests.doubles import (
    FakeBook,
    FakeConsumer,
    FakeMessage,
    FakePublisher,
    FakeSchemaIds,
    FakeSeenEvents,
    FakeWriter,
    tick,
)
from tests.integration.test_webhook import CONTRACT
from tests.samples import SAMPLE_ROWS
from topics.contract import load_contract
from topics.dead_letters import DeadLetterFlood
from topics.sources import SOURCES_DIR, SourceDefinition, load_source
from topics.subscriptions import CONTRACTS_DIR, contract_document

CODEC = Codec()
NOW = int(time.time() * 1000)


def clean_person(n: int) -> dict[str, Any]:
    row = SAMPLE_ROWS["person"] | {"name": f"陈{n}"}
    event = build_envelope(default_registry().latest("person"), event_id=f"p-{n}", op="c",
                           source=SourceRef("public-security", "hukou"), position=str(n), ts_ms=NOW, before=None,
                           after=row)
    return normalize_event(default_registry().latest("person"), event, RuleClock(date.today(), NOW),  # noqa: DTZ011
                           {"topic": "ingest.person", "partition": 0, "offset": n, "ts_ms": NOW})


@dataclass
class Case:
    """One stage, built on doubles, with a valid batch and a poison record for it."""

    stage: Any
    publisher: FakePublisher
    good: list[FakeMessage]
    poison: FakeMessage
    dlq: str
    effects_at: Callable[[], list[int]]  # when the stage's durable effects happened (ticks)
    released: Callable[[], bool]


def normalize_case(settings: Settings) -> Case:
    publisher, seen = FakePublisher(), FakeSeenEvents()
    schema = default_registry().latest("person")
    good = [FakeMessage("ingest.person", 0, n, CODEC.encode_with(schema, build_envelope(
        schema, event_id=f"e-{n}", op="c", source=SourceRef("public-security", "hukou"), position=str(n), ts_ms=NOW,
        before=None, after=SAMPLE_ROWS["person"]))) for n in range(3)]
    stage = NormalizeStage(settings, datasets=["person"], seen=seen, publisher=publisher)  # type: ignore[arg-type]
    return Case(stage, publisher, good, FakeMessage("ingest.person", 1, 7, b"garbage"), "dlq.normalize",
                lambda: publisher.flushed_at + seen.confirmed_at, lambda: stage._redis._shutdown)


def fanout_case(settings: Settings) -> Case:
    publisher = FakePublisher()
    contract = load_contract(CONTRACTS_DIR / "fuzhou-city.yaml", default_registry(), date(2026, 11, 26))
    book = FakeBook({"fuzhou-city": contract_document(contract, default_registry())})
    schema = default_registry().latest("person.clean")
    good = [FakeMessage("norm.person", 0, n, CODEC.encode_with(schema, clean_person(n))) for n in range(3)]
    stage = FanoutStage(settings, datasets=["person"], publisher=publisher, book=book,  # type: ignore[arg-type]
                        ids=FakeSchemaIds())  # type: ignore[arg-type]
    return Case(stage, publisher, good, FakeMessage("norm.person", 2, 9, None), "dlq.delivery",
                lambda: publisher.flushed_at, lambda: True)  # a given book is the caller's to close


def sink_case(settings: Settings) -> Case:
    publisher, writer = FakePublisher(), FakeWriter()
    schema = default_registry().latest("person.clean")
    good = [FakeMessage("norm.person", 0, n, CODEC.encode_with(schema, clean_person(n))) for n in range(3)]
    stage = SinkStage(settings, datasets=["person"], writer=writer, publisher=publisher)  # type: ignore[arg-type]
    return Case(stage, publisher, good, FakeMessage("norm.person", 1, 4, b"\xc3\x01garbage-garbage"), "dlq.sink",
                lambda: writer.inserted_at, lambda: writer.client.disconnected > 0)


def webhook_case(settings: Settings) -> Case:
    publisher = FakePublisher()
    path = Path(settings.secrets_path.parent) / "env-hook.yaml"
    path.write_text(CONTRACT.format(name="env-hook", port=8443, attempts=1), encoding="utf-8")
    contract = load_contract(path, default_registry(), date(2026, 11, 26), parse_networks("127.0.0.1/32"))
    document = contract_document(contract, default_registry())
    book = FakeBook({"env-hook": document}, allow=parse_networks("127.0.0.1/32"))
    from schemas.projection import delivery_wire_schema

    wire = delivery_wire_schema("env-hook", 1, "sensor_reading", contract.datasets["sensor_reading"].fields, {},
                                default_registry())
    record = {"event_id": "r-1", "dataset": "sensor_reading", "op": "c", "ts_ms": NOW, "department": "env",
              "entity_type": "sensor", "entity_key": "S-1", "row": {"sensor_id": "S-1", "metric": "pm25",
                                                                   "value": 1.0, "unit": "μg/m³",
                                                                   "measured_at": "2026-11-26"},
              "contract_version": 1, "delivered_ts_ms": NOW}
    good = [FakeMessage("out.env-hook", 0, n, CODEC.encode_with(wire, record | {"event_id": f"r-{n}"}))
            for n in range(3)]

    posted: list[int] = []

    def post(url: str, body: bytes, headers: dict[str, str], **_: object) -> HttpAnswer:
        posted.append(tick())
        return HttpAnswer(204, "No Content")

    stage = WebhookStage(settings, post=post, publisher=publisher, book=book,  # type: ignore[arg-type]
                         redis_client_=_NullRedis(), sleep=lambda _s: None)  # type: ignore[arg-type]
    stage.wait = lambda call: call()  # type: ignore[assignment,method-assign]
    return Case(stage, publisher, good, FakeMessage("out.env-hook", 1, 5, b"not a delivery"), "dlq.delivery",
                lambda: posted, lambda: True)


class _SourceBook:
    """The example source in force, as ``pobi.sources`` would hold it."""

    def __init__(self) -> None:
        self._source = load_source(SOURCES_DIR / "public_security.yaml", default_registry())

    def refresh(self) -> list[str]:
        return []

    def source(self, name: str) -> SourceDefinition | None:
        return self._source if name == self._source.source else None


def cdc_case(settings: Settings) -> Case:
    publisher = FakePublisher()

    def change(n: int) -> bytes:
        row = {"gmsfhm": SAMPLE_ROWS["person"]["id_number"], "xm": f"陈{n}", "xbdm": "1", "csrq": 7370,
               "xzqh": "350102", "zz": None, "lxdh": None, "gxsj": 0}
        return orjson.dumps({"before": None, "after": row, "op": "c", "source": {
            "connector": "postgresql", "db": "public_security", "schema": "hukou", "table": "residents",
            "lsn": 100 + n, "txId": 7, "ts_ms": NOW}})

    topic = "cdc.public_security.hukou.residents"
    good = [FakeMessage(topic, 0, n, change(n)) for n in range(3)]
    stage = CdcStage(settings, datasets=["person"], publisher=publisher, book=_SourceBook())  # type: ignore[arg-type]
    return Case(stage, publisher, good, FakeMessage(topic, 1, 8, b"{not json"), "dlq.ingest",
                lambda: publisher.flushed_at, lambda: True)


class _NullRedis:
    def pipeline(self) -> _NullRedis:
        return self

    def hset(self, *_args: object, **_kwargs: object) -> None:
        pass

    def hincrby(self, *_args: object) -> None:
        pass

    def execute(self) -> list[object]:
        return []


CASES = {"cdc": cdc_case, "normalize": normalize_case, "fanout": fanout_case, "sink": sink_case,
         "webhook": webhook_case}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # nothing listens on port 1: a stage that connected while being built would fail here
    s = load_settings(kafka_bootstrap="127.0.0.1:1", redis_port=1, clickhouse_port=1, stack_dir=tmp_path / "state")
    hub_key(s, create=True)
    return s


def run(case: Case, batches: list[list[FakeMessage]]) -> FakeConsumer:
    stop = threading.Event()
    consumer = FakeConsumer(batches, stop, case.stage.topics())
    runner = StageRunner(load_settings(kafka_bootstrap="127.0.0.1:1"), case.stage, group="g",
                         consumer_factory=lambda _config: consumer)  # type: ignore[arg-type,return-value]
    runner.run(stop)
    return consumer


@pytest.mark.parametrize("kind", CASES)
def test_building_a_stage_does_no_io(settings: Settings, kind: str) -> None:
    started = time.monotonic()
    stage = {"cdc": CdcStage, "normalize": NormalizeStage, "fanout": FanoutStage, "sink": SinkStage,
             "webhook": WebhookStage}[kind](
        settings)
    assert stage.topics() and time.monotonic() - started < 1.0
    stage.close()  # before setup: nothing to release, and no error


@pytest.mark.parametrize("kind", CASES)
def test_offsets_are_stored_only_after_the_batch_s_effects(settings: Settings, kind: str) -> None:
    case = CASES[kind](settings)
    consumer = run(case, [case.good[:2], case.good[2:]])
    assert [offsets for _at, offsets in consumer.stored] == [
        [(case.good[1].topic(), 0, 2)], [(case.good[2].topic(), 0, 3)]]
    effects = case.effects_at()
    assert effects, "the stage had no effect"
    for stored_at, _offsets in consumer.stored:
        assert any(at < stored_at for at in effects)
    assert max(effects) < consumer.stored[-1][0]
    assert case.released() and consumer.closed_at is not None


@pytest.mark.parametrize("kind", ["normalize", "fanout", "sink"])
def test_a_failed_effect_leaves_the_offsets_unstored(settings: Settings, kind: str) -> None:
    case = CASES[kind](settings)
    case.publisher.failing = True
    batch = [*case.good, case.poison]  # the poison makes the sink produce too
    with pytest.raises(PublishError):
        run(case, [batch])
    case.publisher.failing = False
    assert case.released()


@pytest.mark.parametrize("kind", CASES)
def test_a_poison_record_reaches_the_dlq_with_its_origin_and_the_rest_passes(settings: Settings, kind: str) -> None:
    case = CASES[kind](settings)
    consumer = run(case, [[case.good[0], case.poison, case.good[1]]])
    [(topic, letter)] = case.publisher.letters
    assert topic == case.dlq
    poison = case.poison
    assert (letter.source_topic, letter.source_partition, letter.source_offset) == (
        poison.topic(), poison.partition(), poison.offset())
    if kind == "cdc":  # what Debezium's topics carry enters the hub: refused as ingest refuses it
        assert (letter.reason, letter.stage) == ("json.malformed", "ingest")
    else:
        assert letter.reason.startswith("decode.") and letter.stage in (kind, "delivery")
    assert consumer.stored, "the batch with the poison record was settled"


def test_a_broken_deploy_stops_the_stage_but_bad_data_never_does(settings: Settings,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The DLQ limit (POBI_DLQ_LIMIT, half of a 1,000-record window by default) counts only bug reasons."""
    garbage = [FakeMessage("ingest.person", 0, n, b"garbage") for n in range(1500)]
    case = normalize_case(settings)
    run(case, [garbage[:750], garbage[750:]])  # every record bad, but as data: the stage goes on
    assert len(case.publisher.letters) == 1500

    import streams.normalize.stage as normalize

    def broken(*_args: object) -> None:
        raise KeyError("a rule that a bad deploy broke")

    monkeypatch.setattr(normalize, "normalize_event", broken)
    case = normalize_case(settings)
    schema = default_registry().latest("person")
    events = [FakeMessage("ingest.person", 0, n, CODEC.encode_with(schema, build_envelope(
        schema, event_id=f"e-{n}", op="c", source=SourceRef("public-security", "hukou"), position=str(n), ts_ms=NOW,
        before=None, after=SAMPLE_ROWS["person"]))) for n in range(1500)]
    stop = threading.Event()
    consumer = FakeConsumer([events[:750], events[750:]], stop, case.stage.topics())
    with pytest.raises(DeadLetterFlood, match=r"normalize\.unexpected_error"):
        StageRunner(settings, case.stage, group="g",
                    consumer_factory=lambda _config: consumer).run(stop)  # type: ignore[arg-type,return-value]
    stored = [offset for _at, offsets in consumer.stored for _t, _p, offset in offsets]
    assert all(offset <= 750 for offset in stored), "the batch that crossed the limit was not committed"
