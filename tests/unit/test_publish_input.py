"""`pobi publish`'s whole path over a file, with the real Publisher on an offline producer: every line
ends as an event or a dead letter naming its line, ids are the same when the same file is published again,
and one bad record never stops the rest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from pobi.publish.files import PublishOptions, publish_input
from schemas.codec import Codec
from schemas.envelope import SourceRef
from tests.samples import SAMPLE_ROWS
from topics.producer import DeliveryStats, Publisher

CODEC = Codec()


class OfflineProducer:
    """confluent-kafka's Producer as the publisher uses it, keeping what it was given."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes | None, bytes]] = []

    def produce(self, topic: str, value: bytes, key: bytes | None, headers: Any, on_delivery: Any) -> None:
        self.sent.append((topic, key, value))

    def poll(self, _timeout: float) -> int:
        return 0

    def flush(self, _timeout: float) -> int:
        return 0


def offline_publisher() -> tuple[Publisher, OfflineProducer]:
    publisher = Publisher.__new__(Publisher)
    producer = OfflineProducer()
    publisher.codec, publisher.stats, publisher._producer, publisher._unpolled = CODEC, DeliveryStats(), producer, 0
    publisher._commit_with, publisher._in_transaction = None, False  # a publisher of files is not fenced
    return publisher, producer


OPTIONS = PublishOptions("person", "jsonl", SourceRef("public-security", "hukou"), topic="t.ingest.person",
                         dlq_topic="t.dlq.ingest")


def publish(path: Path, options: PublishOptions = OPTIONS) -> tuple[Any, list[tuple[str, dict[str, Any]]]]:
    publisher, producer = offline_publisher()
    summary = publish_input(publisher, path, options, show_progress=False)
    return summary, [(topic, CODEC.decode(value)[1]) for topic, _key, value in producer.sent]


def test_every_line_ends_as_an_event_or_a_letter_naming_it(tmp_path: Path) -> None:
    person = SAMPLE_ROWS["person"]
    lines = [orjson.dumps(person), b"{not json", orjson.dumps(person | {"id_number": None}),
             orjson.dumps(person | {"address": "福" * 400_000}),
             orjson.dumps({"op": "c", "ts_ms": -5, "after": person}), orjson.dumps(person | {"name": "陈二"})]
    path = tmp_path / "people.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    summary, sent = publish(path)
    assert (summary.sent, summary.rejected) == (2, 4)
    events = [record for topic, record in sent if topic == "t.ingest.person"]
    letters = [record for topic, record in sent if topic == "t.dlq.ingest"]
    assert [e["after"]["name"] for e in events] == ["陈志明", "陈二"]
    assert [(x["context"]["line"], x["reason"]) for x in letters] == [
        ("2", "json.malformed"), ("3", "row.missing_key"), ("4", "record.too_large"), ("5", "event.ts_out_of_range")]
    assert all(x["context"]["input"] == "people.jsonl" and x["context"]["department"] == "public-security"
               for x in letters)


def test_the_same_file_published_twice_gives_the_same_event_ids(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    header = ",".join(SAMPLE_ROWS["person"])
    rows = [",".join(str(v) for v in (SAMPLE_ROWS["person"] | {"name": f"陈{n}"}).values()) for n in range(3)]
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    options = PublishOptions("person", "csv", SourceRef("public-security", "hukou"), topic="t.ingest.person",
                             dlq_topic="t.dlq.ingest")
    first = [e["event_id"] for _t, e in publish(path, options)[1]]
    second = [e["event_id"] for _t, e in publish(path, options)[1]]
    assert first == second and len(set(first)) == 3
    other = tmp_path / "other.csv"
    other.write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    assert not set(first) & {e["event_id"] for _t, e in publish(other, options)[1]}  # another file, other ids
