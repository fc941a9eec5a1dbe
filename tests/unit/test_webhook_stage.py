"""The webhook stage's decisions, on doubles: a receiver that fails is retried with growing delays, a refusal
(4xx, a redirect, a destination the hub may not reach) is not, and every undelivered record ends in
dlq.delivery once — with the subscriber's state saying so."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from foundation.egress import EgressRefused, HttpAnswer, parse_networks
from foundation.secrets import hub_key
from foundation.settings import Settings, load_settings
from schemas.codec import Codec
from schemas.projection import delivery_wire_schema
from schemas.registry import default_registry
from sinks.webhook.stage import WebhookStage, verify
from streams.fanout.deliver import subscriber_key
from tests.doubles import FakeBook, FakeMessage, FakePublisher
from tests.integration.test_webhook import CONTRACT
from topics.contract import load_contract
from topics.subscriptions import contract_document

ALLOW = parse_networks("127.0.0.1/32")


class StateStore:
    def __init__(self) -> None:
        self.states: list[str] = []

    def pipeline(self) -> StateStore:
        return self

    def hset(self, _key: str, mapping: dict[str, Any]) -> None:
        self.states.append(mapping["state"])

    def hincrby(self, *_args: object) -> None:
        pass

    def execute(self) -> list[object]:
        return []


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    s = load_settings(stack_dir=tmp_path / "state", webhook_allow="127.0.0.1/32")
    hub_key(s, create=True)
    return s


def stage_with(settings: Settings, tmp_path: Path, answers: list[Any], attempts: int = 4) -> tuple[
        WebhookStage, FakePublisher, list[dict[str, Any]], list[float], StateStore, list[FakeMessage]]:
    path = tmp_path / "env-hook.yaml"
    path.write_text(CONTRACT.format(name="env-hook", port=8443, attempts=attempts), encoding="utf-8")
    contract = load_contract(path, default_registry(), date(2026, 11, 26), ALLOW)
    wire = delivery_wire_schema("env-hook", 1, "sensor_reading", contract.datasets["sensor_reading"].fields, {},
                                default_registry())
    record = {"event_id": "r", "dataset": "sensor_reading", "op": "c", "ts_ms": 1, "department": "env",
              "entity_type": "sensor", "entity_key": "S-1",
              "row": {"sensor_id": "S-1", "metric": "pm25", "value": 1.0, "unit": "μg/m³", "measured_at": "x"},
              "contract_version": 1, "delivered_ts_ms": 1}
    feed = [FakeMessage("out.env-hook", 0, n, Codec.encode_with(wire, record | {"event_id": f"r-{n}"}))
            for n in range(3)] + [FakeMessage("out.env-hook", 0, 3, b"truncated")]
    posts: list[dict[str, Any]] = []
    slept: list[float] = []
    store = StateStore()

    def post(url: str, body: bytes, headers: dict[str, str], **_: object) -> HttpAnswer:
        posts.append({"body": body, **headers})
        answer = answers.pop(0) if answers else HttpAnswer(204, "No Content")
        if isinstance(answer, Exception):
            raise answer
        return answer  # type: ignore[no-any-return]

    publisher = FakePublisher()
    book = FakeBook({"env-hook": contract_document(contract, default_registry())}, allow=ALLOW)
    stage = WebhookStage(settings, post=post, publisher=publisher, book=book,  # type: ignore[arg-type]
                         redis_client_=store, sleep=slept.append, clock=lambda: 1_800_000_000)  # type: ignore[arg-type]
    stage.setup()
    stage.wait = lambda call: call()  # type: ignore[assignment,method-assign]
    return stage, publisher, posts, slept, store, feed


def letters(publisher: FakePublisher) -> list[tuple[int | None, str]]:
    return sorted((letter.source_offset, letter.reason) for _t, letter in publisher.letters)


def test_a_failing_receiver_is_retried_with_growing_delays_then_delivered(settings: Settings, tmp_path: Path) -> None:
    stage, publisher, posts, slept, store, feed = stage_with(
        settings, tmp_path, [OSError("connection refused"), HttpAnswer(503, "Unavailable"), HttpAnswer(429, "Slow")])
    stage.handle(feed).result()  # type: ignore[arg-type]
    assert len(posts) == 4 and slept == [0.5, 1.0, 2.0]
    assert store.states == ["retrying", "retrying", "retrying", "ok"]
    assert letters(publisher) == [(3, "decode.not_avro")]  # only the record that was not a delivery
    key = subscriber_key(hub_key(settings), "env-hook", "webhook").hex()
    last = posts[-1]
    assert verify(key, last["body"], last["X-Pobi-Timestamp"], last["X-Pobi-Signature"], now=1_800_000_010)
    assert last["X-Pobi-Batch-Id"] == "out.env-hook/0/0-3"


@pytest.mark.parametrize(("answer", "reason"), [
    (HttpAnswer(400, "Bad Request"), "webhook.refused"),
    (HttpAnswer(302, "Found"), "webhook.refused"),
    (EgressRefused("localhost resolves to 127.0.0.1 is a loopback address"), "webhook.refused_destination"),
])
def test_a_refusal_is_not_retried_and_each_record_is_dead_lettered_once(settings: Settings, tmp_path: Path,
                                                                        answer: Any, reason: str) -> None:
    stage, publisher, posts, slept, store, feed = stage_with(settings, tmp_path, [answer])
    stage.handle(feed).result()  # type: ignore[arg-type]
    assert len(posts) == 1 and slept == [] and store.states == ["failing"]
    assert letters(publisher) == [(0, reason), (1, reason), (2, reason), (3, "decode.not_avro")]


def test_a_receiver_that_never_answers_fails_after_its_attempts(settings: Settings, tmp_path: Path) -> None:
    stage, publisher, posts, slept, store, feed = stage_with(settings, tmp_path, [OSError("down")] * 9, attempts=3)
    stage.handle(feed[:3]).result()  # type: ignore[arg-type]
    assert len(posts) == 3 and slept == [0.5, 1.0] and store.states[-1] == "failing"
    assert letters(publisher) == [(0, "webhook.failed"), (1, "webhook.failed"), (2, "webhook.failed")]


def test_a_changed_contract_is_followed_without_a_restart(settings: Settings, tmp_path: Path) -> None:
    stage, _publisher, posts, _slept, _store, feed = stage_with(settings, tmp_path, [])
    stage.handle(feed[:1]).result()  # type: ignore[arg-type]
    assert len(posts) == 1
    book: Any = stage.book
    withdrawn = dict(book.documents)
    book.documents.clear()  # the contract was withdrawn on pobi.subscriptions
    book.refresh = lambda: ["env-hook"]
    stage.handle(feed[1:2]).result()  # type: ignore[arg-type]
    assert len(posts) == 1, "a withdrawn contract gets nothing more"
    book.documents.update(withdrawn)  # and applied again
    stage.handle(feed[2:3]).result()  # type: ignore[arg-type]
    assert len(posts) == 2
