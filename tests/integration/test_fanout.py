"""Fan-out on the real stack: several contracts over the same events; each feed holds exactly the rows its
filter selects, no field outside its projection, masks as declared; contract changes, expiry and withdrawal
take effect while the stage runs."""

from __future__ import annotations

import time
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from foundation.clock import CST
from foundation.secrets import hub_key
from foundation.settings import Settings
from schemas.codec import Codec
from schemas.registry import default_registry
from streams.fanout.deliver import subscriber_key
from streams.fanout.masking import pseudonym
from streams.fanout.stage import FanoutStage
from streams.normalize.event import normalize_event
from streams.normalize.fields import RuleClock
from tests.kafka_helpers import create_topics, read_all
from tests.samples import SAMPLE_ROWS
from tests.stream_helpers import (
    create_stream_topics,
    feed_records,
    namespaced,
    running_registry,
    running_stage,
    wait_for_group,
)
from topics.producer import Publisher
from topics.subscriptions import CONTRACTS_DIR, apply_contracts, load_contracts, read_documents

pytestmark = pytest.mark.stack
DATASETS = ["person", "enterprise", "licence"]
TODAY = datetime.now(CST).date()
ALL_PEOPLE = """subscriber: all-people
version: 1
owner_department: 省统计局
purpose: population statistics by county
legal_basis: 《统计法》第七条
approver: 福建省大数据管理局
valid_until: {until}
datasets:
  person:
    fields: [division_code, gender]
    masks: {{gender: clear}}
    consent_clear: [gender]
"""
GULOU_DELETES = """subscriber: gulou-deletes
version: 1
owner_department: 鼓楼区政务服务中心
purpose: close residents' open cases when their registration is deleted
legal_basis: 内部规定
approver: 福州市大数据局
valid_until: {until}
datasets:
  person:
    filter: {{op: {{equals: d}}, division_code: {{equals: "350102"}}}}
    fields: [id_number]
    masks: {{id_number: partial}}
"""


def person(n: int, division: str, op: str) -> dict:
    from pobi.demo.traffic import valid_id_number

    born = date(1970, 1, 1) + timedelta(days=n * 11)
    row = {**SAMPLE_ROWS["person"], "id_number": valid_id_number(division, born, 2 * n + 1),
           "birth_date": born.isoformat(), "division_code": division, "gender": "1"}
    return envelope("person", f"p{n}-{division}-{op}", op, row)


def envelope(dataset: str, event_id: str, op: str, row: dict) -> dict:
    event = {"event_id": event_id, "dataset": dataset, "op": op, "ts_ms": 1,
             "source": {"department": "dept", "system": "s", "position": event_id},
             "before": row if op == "d" else None, "after": None if op == "d" else row}
    now = int(time.time() * 1000)
    return normalize_event(default_registry().latest(dataset), event, RuleClock(TODAY, now),
                           {"topic": "t", "partition": 0, "offset": 0, "ts_ms": now})


def wave(tag: str) -> list[dict]:
    people = [person(n, division, op) for n, (division, op) in enumerate(
        [(d, o) for d in ("350102", "350104", "350203", "350582") for o in ("c", "u", "d")])]
    enterprises = [envelope("enterprise", f"e-{op}", op, SAMPLE_ROWS["enterprise"]) for op in ("c", "u", "r")]
    licences = [envelope("licence", f"l-{t}", "c", {**SAMPLE_ROWS["licence"], "holder_type": t,
                                                     "holder_id": h}) for t, h in
                (("001", SAMPLE_ROWS["enterprise"]["uscc"]), ("111", "350102199003071234"))]
    events = people + enterprises + licences
    for event in events:
        event["event_id"] = f"{tag}:{event['event_id']}"
    return events


def publish(settings: Settings, events: list[dict]) -> None:
    codec = Codec()
    with Publisher(settings) as publisher:
        for event in events:
            schema = codec.registry.latest(f"{event['dataset']}.clean")
            publisher.produce(settings.topics.named(f"norm.{event['dataset']}"), event["entity"]["id"].encode(),
                              codec.encode_with(schema, event))


def contracts_folder(tmp_path: Path, *extra: tuple[str, str]) -> Path:
    folder = tmp_path / "contracts"
    folder.mkdir(exist_ok=True)
    for old in folder.glob("*.yaml"):
        old.unlink()
    for name in ("fuzhou-city", "credit-system"):
        (folder / f"{name}.yaml").write_text((CONTRACTS_DIR / f"{name}.yaml").read_text(encoding="utf-8"),
                                             encoding="utf-8")
    for name, text in extra:
        (folder / f"{name}.yaml").write_text(text, encoding="utf-8")
    return folder


def apply(settings: Settings, folder: Path) -> None:
    contracts, problems = load_contracts(folder, default_registry(), TODAY)
    assert problems == []
    apply_contracts(settings, contracts, default_registry())


def feed(settings: Settings, subscriber: str, documents: dict) -> list[dict]:
    return feed_records(settings, subscriber, documents)


SUBSCRIBERS = ["fuzhou-city", "credit-system", "all-people", "gulou-deletes"]


def test_each_feed_holds_what_its_contract_allows(live_stack: object, unique: str, tmp_path: Path) -> None:
    settings = namespaced(unique, secrets_dir=tmp_path / "secrets")
    create_stream_topics(settings, DATASETS)
    create_topics(settings, *(settings.topics.out(s) for s in SUBSCRIBERS), settings.topics.audit_delivery)
    create_topics(settings, settings.topics.subscriptions, partitions=1)
    folder = contracts_folder(tmp_path, ("all-people", ALL_PEOPLE.format(until=TODAY)),
                              ("gulou-deletes", GULOU_DELETES.format(until="2030-01-01")))
    apply(settings, folder)
    first = wave("w1")
    publish(settings, first)
    later = {"now": int(time.time() * 1000)}
    stage = FanoutStage(settings, datasets=DATASETS, clock=lambda: later["now"])
    norm_topics = [settings.topics.norm(d) for d in DATASETS]
    with running_stage(settings, DATASETS, stage=stage):
        wait_for_group(settings, "pobi-fanout", norm_topics)
        documents = read_documents(settings)  # withdrawn contracts take their schemas with them

        # while it runs: fuzhou-city v2 follows Xiamen instead; gulou-deletes is withdrawn; all-people expires
        v2 = (CONTRACTS_DIR / "fuzhou-city.yaml").read_text(encoding="utf-8").replace(
            "version: 1", "version: 2").replace('prefix: "3501"', 'prefix: "3502"')
        folder = contracts_folder(tmp_path, ("fuzhou-city", v2), ("all-people", ALL_PEOPLE.format(until=TODAY)))
        apply(settings, folder)
        time.sleep(1)  # contracts are re-read before each batch; give the book a moment to see them
        later["now"] += 86_400_000  # tomorrow: all-people's valid_until has passed
        publish(settings, wave("w2"))
        wait_for_group(settings, "pobi-fanout", norm_topics)

    mask_key = {s: subscriber_key(hub_key(settings), s) for s in SUBSCRIBERS}
    documents |= read_documents(settings)
    fuzhou = feed(settings, "fuzhou-city", documents)
    by_version = Counter(r["contract_version"] for r in fuzhou)
    w1_fuzhou = {e["event_id"] for e in first if e["dataset"] == "person"
                 and e[("before" if e["op"] == "d" else "after")]["division_code"].startswith("3501")}
    assert {r["event_id"] for r in fuzhou if r["contract_version"] == 1} == w1_fuzhou
    assert {r["event_id"].split(":")[0] for r in fuzhou if r["contract_version"] == 2} == {"w2"}
    assert all(r["row"]["division_code"].startswith("3502") for r in fuzhou if r["contract_version"] == 2)
    assert by_version == {1: 6, 2: 3}
    by_id = {e["event_id"]: e for e in first}
    for record in fuzhou:
        if record["contract_version"] != 1:
            continue
        source = by_id[record["event_id"]]
        raw = source["before"] if source["op"] == "d" else source["after"]
        assert set(record["row"]) == {"id_number", "name", "gender", "birth_date", "division_code", "address",
                                      "phone"}
        assert record["row"]["id_number"] == pseudonym(raw["id_number"], mask_key["fuzhou-city"])
        assert record["row"]["address"] is None and record["row"]["phone"] == "139****0001"
        assert raw["id_number"] not in str(record)

    credit = feed(settings, "credit-system", documents)
    assert sorted(r["event_id"] for r in credit) == sorted(
        f"{w}:{e}" for w in ("w1", "w2") for e in ("e-c", "e-u", "l-001"))
    granted = load_contracts(CONTRACTS_DIR, default_registry(), TODAY)[0]
    credit_terms = next(c for c in granted if c.subscriber == "credit-system")
    assert all(list(r["row"]) == credit_terms.datasets[r["dataset"]].fields for r in credit)
    assert all(r["row"]["legal_rep_id"] == pseudonym("350102199003071234", mask_key["credit-system"])
               for r in credit if r["dataset"] == "enterprise")

    people = feed(settings, "all-people", documents)
    assert {r["event_id"].split(":")[0] for r in people} == {"w1"}, "an expired contract still received events"
    assert len(people) == 12 and all(set(r["row"]) == {"division_code", "gender"} for r in people)

    deletes = feed(settings, "gulou-deletes", documents)
    assert [r["event_id"] for r in deletes] == ["w1:p2-350102-d"], "a withdrawn contract still received events"
    assert deletes[0]["row"]["id_number"].startswith("350102") and "*" in deletes[0]["row"]["id_number"]

    audit = [Codec().decode(m.value())[1] for m in read_all(settings, settings.topics.audit_delivery)]
    assert Counter(a["subscriber"] for a in audit) == Counter(
        {"fuzhou-city": len(fuzhou), "credit-system": len(credit), "all-people": len(people),
         "gulou-deletes": len(deletes)})
    assert {a["entity_id"] for a in audit if a["subscriber"] == "fuzhou-city"} >= {
        by_id[i]["entity"]["id"] for i in w1_fuzhou}


def test_pobi_subscribe_and_the_subscriptions_commands(live_stack: object, unique: str, tmp_path: Path) -> None:
    import json
    import os
    import subprocess
    import sys

    settings = namespaced(unique, secrets_dir=tmp_path / "secrets")
    create_stream_topics(settings, DATASETS)
    create_topics(settings, settings.topics.subscriptions, partitions=1)
    env = {**os.environ, "POBI_NAMESPACE": settings.namespace, "POBI_SECRETS_DIR": str(settings.secrets_dir)}
    pobi = [sys.executable, "-c", "from pobi.cli import main; main()"]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*pobi, *args], capture_output=True, text=True, env=env, timeout=120, check=False)

    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "fuzhou-city.yaml").write_text(
        (CONTRACTS_DIR / "fuzhou-city.yaml").read_text(encoding="utf-8").replace("      phone: partial\n", ""))
    refused = run("subscriptions", "apply", "--contracts", str(bad))
    assert refused.returncode == 1 and "phone is personal: give it a mask" in refused.stdout
    assert run("subscriptions", "validate", "--contracts", str(bad)).returncode == 3

    applied = run("subscriptions", "apply", "--contracts", str(contracts_folder(tmp_path)))
    assert applied.returncode == 0, applied.stderr
    assert "2 published" in applied.stdout
    publish(settings, wave("w1"))
    with running_stage(settings, DATASETS, stage=FanoutStage(settings, datasets=DATASETS)):
        wait_for_group(settings, "pobi-fanout", [settings.topics.norm(d) for d in DATASETS])
    with running_registry(settings) as url:
        env["POBI_REGISTRY_URL"] = url
        tail = run("subscribe", "fuzhou-city", "--from-beginning", "--max", "3", "--json")
        assert tail.returncode == 0, tail.stderr
        records = [json.loads(line) for line in tail.stdout.splitlines()]
        assert len(records) == 3 and all(r["row"]["name"] == "陈**" for r in records)
        missing = run("subscribe", "nobody", "--max", "1")
        assert missing.returncode == 1 and "no feed" in missing.stderr and "'nobody'" in missing.stderr
    gone = run("subscribe", "fuzhou-city", "--max", "1")  # the registry is away: one line saying so
    assert gone.returncode == 1 and "does not answer" in gone.stderr and "Traceback" not in gone.stderr
    listed = json.loads(run("subscriptions", "list", "--json").stdout)
    assert {c["subscriber"] for c in listed} == {"fuzhou-city", "credit-system"}
    key_file = tmp_path / "fuzhou.key"
    assert run("subscriptions", "secret", "fuzhou-city", "--out", str(key_file)).returncode == 0
    assert oct(key_file.stat().st_mode & 0o777) == "0o600" and key_file.read_text().strip() not in applied.stdout
    assert run("subscriptions", "secret", "fuzhou-city", "--out", str(key_file)).returncode == 1


LEAKY = """subscriber: leaky
version: 1
owner_department: 某部门
purpose: wants whole ID numbers
legal_basis: none
approver: nobody
valid_until: 2030-01-01
datasets:
  person:
    fields: [id_number, birth_date]
    masks: {id_number: partial, birth_date: clear}
    consent_clear: [birth_date]
"""


def test_fanout_trusts_neither_a_forged_contract_nor_a_record_s_claimed_dataset(live_stack: object, unique: str,
                                                                               tmp_path: Path) -> None:
    """A contract written straight onto pobi.subscriptions (past `validate`) that would rebuild ID numbers
    gets nothing; a person record on norm.person claiming to be an enterprise reaches neither the credit
    platform nor anyone else, and waits in dlq.delivery; a record that is not Avro does too."""
    import json

    import yaml

    settings = namespaced(unique, secrets_dir=tmp_path / "secrets")
    create_stream_topics(settings, DATASETS)
    create_topics(settings, *(settings.topics.out(s) for s in ("fuzhou-city", "credit-system", "leaky")),
                  settings.topics.audit_delivery)
    create_topics(settings, settings.topics.subscriptions, partitions=1)
    apply(settings, contracts_folder(tmp_path))
    with Publisher(settings) as publisher:  # someone with write access to the topic, bypassing validation
        forged = {"contract": {**yaml.safe_load(LEAKY), "valid_until": "2030-01-01"}, "schemas": {}}
        publisher.produce(settings.topics.subscriptions, b"leaky", json.dumps(forged).encode())
        publisher.produce(settings.topics.subscriptions, b"garbage", b"{not json")
    honest = person(1, "350102", "c")
    claims = person(2, "350102", "c") | {"dataset": "enterprise"}
    publish(settings, [honest])
    codec = Codec()
    with Publisher(settings) as publisher:
        publisher.produce(settings.topics.norm("person"), claims["entity"]["id"].encode(),
                          codec.encode_with(codec.registry.latest("person.clean"), claims))
        publisher.produce(settings.topics.norm("person"), b"x", b"not avro at all")
    with running_stage(settings, DATASETS, stage=FanoutStage(settings, datasets=DATASETS)):
        wait_for_group(settings, "pobi-fanout", [settings.topics.norm(d) for d in DATASETS])
    documents = read_documents(settings)
    assert [r["event_id"] for r in feed(settings, "fuzhou-city", documents)] == [honest["event_id"]]
    assert read_all(settings, settings.topics.out("credit-system")) == []
    assert read_all(settings, settings.topics.out("leaky")) == []
    letters = [Codec().decode(m.value())[1] for m in read_all(settings, settings.topics.dlq("delivery"))]
    assert Counter(x["reason"] for x in letters) == {"event.wrong_dataset": 1, "decode.not_avro": 1}


def test_a_stage_with_another_or_no_hub_key_refuses_to_start(live_stack: object, unique: str,
                                                             tmp_path: Path) -> None:
    """A worker started with another state folder than the one contracts were applied from would mint a new
    hub key, and every pseudonym and webhook signature would change; it refuses instead."""
    from foundation.errors import ConfigError
    from foundation.secrets import write_private

    settings = namespaced(unique, secrets_dir=tmp_path / "applied")
    create_stream_topics(settings, DATASETS)
    create_topics(settings, settings.topics.subscriptions, partitions=1)
    apply(settings, contracts_folder(tmp_path))
    assert (tmp_path / "applied" / "hub.key").exists()  # made with the first contract

    empty = settings.model_copy(update={"secrets_dir": tmp_path / "elsewhere"})
    with pytest.raises(ConfigError, match="does not exist"):
        FanoutStage(empty, datasets=DATASETS).setup()
    assert not (tmp_path / "elsewhere" / "hub.key").exists()
    write_private(tmp_path / "other" / "hub.key", b"k" * 32)
    other = settings.model_copy(update={"secrets_dir": tmp_path / "other"})
    with pytest.raises(ConfigError, match="another state folder"):
        FanoutStage(other, datasets=DATASETS).setup()
    with pytest.raises(ConfigError, match="another state folder"):
        apply(other, contracts_folder(tmp_path))
    right = FanoutStage(settings, datasets=DATASETS)
    right.setup()  # the right folder: it starts
    right.close()
