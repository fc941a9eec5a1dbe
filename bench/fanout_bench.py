"""Fan-out throughput with 1 and with 10 contracts over the same clean events, beside a plain
confluent-kafka consume→produce baseline over the same topic, all in one run.

    .venv/bin/python bench/fanout_bench.py [--events 50000] [--json bench/results/fanout.json]

The events are clean ``person`` events (60 % of them in Fuzhou, the rest elsewhere in Fujian). Each contract
is a copy of the shipped ``fuzhou-city`` contract (filter on division code, hash / partial / redact masks),
so with 10 contracts every Fuzhou event becomes 10 deliveries and 10 delivery-log entries. The figure is
input events per second through the stage (`pobi worker --stage fanout`, one process), counted from the
first batch to the last acknowledgement.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from confluent_kafka.admin import NewTopic

from foundation.clock import CST
from foundation.settings import Settings, load_settings
from pobi.demo.traffic import valid_id_number
from schemas.codec import Codec
from schemas.registry import default_registry
from streams.fanout.stage import FanoutStage
from streams.normalize.event import normalize_event
from streams.normalize.fields import RuleClock
from topics.admin import admin_client
from topics.subscriptions import CONTRACTS_DIR, apply_contracts, load_contracts

sys.path.insert(0, str(Path(__file__).parent))
from common import add_ratios, consume_produce_baseline, remove_topics, send_encoded, time_stage, write_report

BATCH = 5000


def clean_people(events: int) -> list[tuple[bytes, bytes]]:
    from datetime import datetime

    codec = Codec()
    schema = default_registry().latest("person")
    clean_schema = codec.registry.latest("person.clean")
    clock = RuleClock(datetime.now(CST).date(), int(time.time() * 1000))
    counties = ["350102", "350104", "350181", "350203", "350503", "350802"]
    out = []
    for n in range(events):
        county = counties[n % 5] if n % 5 < 3 else counties[3 + n % 3]
        born = date(1950, 1, 1) + timedelta(days=n % 20000)
        row = {"id_number": valid_id_number(county, born, n % 1000), "name": "陈志明", "gender": None,
               "birth_date": None, "division_code": county, "address": "福州市鼓楼区五四路100号",
               "phone": "13905910001"}
        event = {"event_id": f"f-{n}", "dataset": "person", "op": "u", "ts_ms": 1, "before": None, "after": row,
                 "source": {"department": "public-security", "system": "hukou", "position": str(n)}}
        clean = normalize_event(schema, event, clock, {"topic": "t", "partition": 0, "offset": n, "ts_ms": 1})
        out.append((clean["entity"]["id"].encode(), codec.encode_with(clean_schema, clean)))
    return out


def setup(run: str, contracts: int, records: list[tuple[bytes, bytes]], secrets: Path) -> Settings:
    settings = load_settings(namespace=f"{run}c{contracts}", secrets_dir=secrets)
    subscribers = [f"city-{n:02d}" for n in range(contracts)]
    names = [settings.topics.named(t) for t in ("norm.person", "audit.delivery", "dlq.delivery", "baseline.out",
                                         *(f"out.{s}" for s in subscribers))]
    admin = admin_client(settings)
    futures = admin.create_topics([NewTopic(t, 6, 1) for t in names] + [
        NewTopic(t, 1, 1) for t in (settings.topics.subscriptions, settings.topics.schemas)])
    for fut in futures.values():
        fut.result(timeout=15)
    template = (CONTRACTS_DIR / "fuzhou-city.yaml").read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory() as tmp:
        for subscriber in subscribers:
            Path(tmp, f"{subscriber}.yaml").write_text(template.replace("subscriber: fuzhou-city",
                                                                        f"subscriber: {subscriber}"))
        from datetime import datetime

        found, problems = load_contracts(Path(tmp), default_registry(), datetime.now(CST).date())
        assert not problems, problems
        apply_contracts(settings, found, default_registry())
    send_encoded(settings, settings.topics.norm("person"), records)
    return settings


def fanout(settings: Settings, events: int) -> float:
    return time_stage(settings, FanoutStage(settings, datasets=["person"]), events, BATCH)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--json", type=Path, default=Path("bench/results/fanout.json"))
    args = parser.parse_args()
    run = f"fbench{int(time.time())}"
    records = clean_people(args.events)
    created: list[Settings] = []
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as secrets:
        try:
            one = setup(run, 1, records, Path(secrets))
            created.append(one)
            results["baseline: plain consume→produce"] = {"seconds": consume_produce_baseline(
                one, one.topics.norm("person"), one.topics.named("baseline.out"), args.events)}
            results["fan-out, 1 contract"] = {"seconds": fanout(one, args.events), "deliveries_per_event": 0.6}
            ten = setup(run, 10, records, Path(secrets))
            created.append(ten)
            results["fan-out, 10 contracts"] = {"seconds": fanout(ten, args.events), "deliveries_per_event": 6.0}
        finally:
            remove_topics(load_settings(), run)
    for r in results.values():
        r["events_per_second"] = round(args.events / r["seconds"])
        r["seconds"] = round(r["seconds"], 3)
    add_ratios(results, "baseline: plain consume→produce")
    write_report(args.json, {"events": args.events, "results": results})
    print(f"| run ({args.events:,} clean person events) | events/s in | deliveries/s | vs baseline |")
    print("|---|---:|---:|---:|")
    for name, r in results.items():
        per = r.get("deliveries_per_event")
        deliveries = f"{round(r['events_per_second'] * per):,}" if per else "—"
        print(f"| {name} | {r['events_per_second']:,} | {deliveries} | {r['ratio_to_baseline']} |")


if __name__ == "__main__":
    main()
