"""Synthetic but realistic clean events for the views benchmark, in the shape the normaliser publishes: persons
with valid ID numbers and common Fujian surnames (a third also reported by a second department), enterprises
with valid credit codes and a person as legal representative, licences held by enterprises, approval cases
(applied and decided), sensor readings of the last hours, and deliveries of person events to subscribers.
Deterministic for a given size."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

from pobi.demo.traffic import COUNTIES, GIVEN, ISSUER_USCC, SURNAMES, licence_identifier, valid_id_number, valid_uscc

__all__ = ["Sizes", "deliveries", "events", "person_id"]

DAY_MS = 86_400_000
SUBSCRIBERS = ("fuzhou-city", "xiamen-city", "provincial-health", "tax-bureau")
_COUNTY_LIST = list(COUNTIES)


class Sizes:
    """Entity counts for a number of persons, in Fujian's proportions (38 M persons : 1 M enterprises :
    5.5 M licences), rounded up for the smaller sizes so every dashboard has material."""

    def __init__(self, persons: int) -> None:
        self.persons = persons
        self.enterprises = max(1, persons // 20)
        self.licences = max(1, persons // 7)
        self.cases = max(1, persons // 50)
        self.readings = max(1, persons // 20)


def person_id(n: int) -> str:
    """The n-th person's ID number: unique up to 260 million (county × birth day × sequence)."""
    county = _COUNTY_LIST[n % len(_COUNTY_LIST)]
    born = date(1940, 1, 1) + timedelta(days=(n // len(_COUNTY_LIST)) % 20_000)
    return valid_id_number(county, born, n // (len(_COUNTY_LIST) * 20_000))


def enterprise_id(n: int) -> str:
    return valid_uscc(_COUNTY_LIST[n % len(_COUNTY_LIST)], n // len(_COUNTY_LIST))


def _event(n: int, dataset: str, kind: str, entity_id: str, department: str, ts: int, row: dict[str, Any],
           related: list[dict[str, str]], enrichment: dict[str, str]) -> dict[str, Any]:
    return {"event_id": f"{dataset}-{n}-{department}", "dataset": dataset, "op": "c",
            "entity": {"type": kind, "id": entity_id}, "source": {"department": department, "system": "bench"},
            "ts_ms": ts, "ingest": {"ts_ms": ts + 150}, "normalized_ts_ms": ts + 300, "related": related,
            "quality_flags": [], "before": None, "after": row, "enrichment": enrichment}


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=rng.choice((1, 2))))


def events(sizes: Sizes, now_ms: int, seed: int = 14) -> Iterator[dict[str, Any]]:
    """Every clean event, persons first (an enterprise's legal representative exists before it)."""
    rng = random.Random(seed)
    start = now_ms - 365 * DAY_MS
    for n in range(sizes.persons):
        pid, county = person_id(n), _COUNTY_LIST[n % len(_COUNTY_LIST)]
        ts = start + rng.randrange(365 * DAY_MS)
        row = {"id_number": pid, "name": _name(rng), "gender": "1" if n % 2 else "2", "birth_date": pid[6:14],
               "division_code": county, "address": f"{''.join(COUNTIES[county])}湖东路{n % 300 + 1}号",
               "phone": f"139{n % 10**8:08d}"}
        enrichment = {"id_number.birth_date": pid[6:14], "division_code.city": COUNTIES[county][0]}
        yield _event(n, "person", "person", pid, "public-security", ts, row, [], enrichment)
        if n % 3 == 0:
            update = {**row, "phone": f"138{n % 10**8:08d}", "address": f"{COUNTIES[county][0]}五四路{n % 99}号"}
            yield _event(n, "person", "person", pid, "civil-affairs", ts + DAY_MS, update, [], enrichment)
    for n in range(sizes.enterprises):
        uscc, rep = enterprise_id(n), rng.randrange(sizes.persons)
        row = {"uscc": uscc, "name": f"{COUNTIES[_COUNTY_LIST[n % 13]][0][:2]}{_name(rng)}科技有限公司",
               "legal_rep_id": person_id(rep), "legal_rep_name": _name(rng), "status": "存续"}
        yield _event(n, "enterprise", "enterprise", uscc, "market-regulation", start + rng.randrange(365 * DAY_MS),
                     row, [{"role": "legal_representative", "type": "person", "id": person_id(rep)}], {})
    for n in range(sizes.licences):
        holder = rng.randrange(sizes.enterprises)
        issued = date(2022, 1, 1) + timedelta(days=rng.randrange(1500))
        licence = licence_identifier(ISSUER_USCC, n)
        row = {"licence_id": licence, "licence_type": f"T{n % 40:02d}", "licence_name": "建筑业企业资质证书",
               "holder_type": "001", "holder_id": enterprise_id(holder), "holder_name": "", "issuer": "住建局",
               "issued_date": issued.isoformat(), "valid_from": issued.isoformat(),
               "valid_to": (issued + timedelta(days=365 * 5)).isoformat(), "status": "有效"}
        yield _event(n, "licence", "licence", licence, "housing", start + rng.randrange(365 * DAY_MS), row,
                     [{"role": "holder", "type": "enterprise", "id": enterprise_id(holder)}],
                     {"licence_id.issuer": ISSUER_USCC})
    for n in range(sizes.cases):
        applied = start + rng.randrange(360 * DAY_MS)
        for stage, at in (("applied", applied), ("approved", applied + rng.randrange(1, 20) * DAY_MS)):
            row = {"case_id": f"FJ{n:09d}", "item_code": f"350100-XK-{n % 30:03d}", "item_name": "食品经营许可",
                   "department": "行政服务中心", "applicant_type": "enterprise",
                   "applicant_id": enterprise_id(n % sizes.enterprises), "stage": stage,
                   "statutory_limit_days": 20, "promised_limit_days": 5, "channel": "online", "trips": 0}
            yield _event(n, "approval_case", "case", row["case_id"], f"service-hall-{stage}", at, row, [],
                         {"stage_time.epoch_ms": str(at)})
    for n in range(sizes.readings):
        at = now_ms - rng.randrange(6 * 3_600_000)
        row = {"sensor_id": f"FJ-{n % 500:03d}", "station_id": f"S{n % 100}", "division_code": "350102",
               "metric": "pm25", "value": rng.uniform(5, 150), "unit": "μg/m³"}
        yield _event(n, "sensor_reading", "sensor", row["sensor_id"], "environment", at, row, [],
                     {"measured_at.epoch_ms": str(at)})


def deliveries(event: dict[str, Any]) -> list[dict[str, Any]]:
    """The delivery-log entries of a person event: one or two subscribers, as the fan-out writes them."""
    if event["dataset"] != "person":
        return []
    n = int(event["event_id"].split("-")[1])
    return [{"subscriber": s, "contract_version": 1, "dataset": "person", "event_id": event["event_id"],
             "entity_type": "person", "entity_id": event["entity"]["id"], "fields": ["name", "division_code"],
             "mode": "kafka", "ts_ms": event["ingest"]["ts_ms"] + 50} for s in SUBSCRIBERS[n % 3:n % 3 + 1 + n % 2]]
