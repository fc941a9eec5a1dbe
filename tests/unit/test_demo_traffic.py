"""The demo's traffic is what it says it is: clean rows pass every rule, dirty ones pass after cleaning,
invalid ones are refused — in the shares asked for — so the demo's ledger shows all three outcomes."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime

from foundation.clock import CST
from pobi.demo.traffic import DemoTraffic, valid_id_number, valid_uscc
from schemas.envelope import SourceRef, build_envelope
from schemas.registry import default_registry
from streams.normalize.event import normalize_event
from streams.normalize.fields import RuleClock
from streams.rules.credit_code import normalize_uscc
from streams.rules.identity import normalize_id_number
from streams.rules.outcome import RuleViolation

NOW = datetime(2026, 11, 26, 10, 30, tzinfo=CST)
CLOCK = RuleClock(NOW.date(), int(NOW.timestamp() * 1000))


def outcome(dataset: str, row: dict) -> str:
    schema = default_registry().latest(dataset)
    event = build_envelope(schema, event_id="e", op="c", source=SourceRef("d", "s"), position="1",
                           ts_ms=CLOCK.now_ms, before=None, after=row)
    try:
        normalize_event(schema, event, CLOCK, {"topic": "t", "partition": 0, "offset": 0, "ts_ms": 1})
    except RuleViolation as exc:
        return exc.code
    return "clean"


def test_the_generated_identifiers_pass_their_checks() -> None:
    for n in range(200):
        number = valid_id_number("350102", date(1950, 1, 1).replace(year=1950 + n % 70), 2 * n + 1)
        assert normalize_id_number(number, today=NOW.date()).value == number
        code = valid_uscc("350100", n)
        assert normalize_uscc(code).value == code


def test_people_come_in_the_shares_asked_for() -> None:
    traffic = DemoTraffic(seed=3, dirty_share=0.1, invalid_share=0.05)
    outcomes = Counter(outcome("person", traffic.person()) for _ in range(2000))
    clean_share = outcomes["clean"] / 2000
    assert 0.9 <= clean_share <= 0.99, outcomes
    assert sum(n for code, n in outcomes.items() if code != "clean") > 40  # the invalid ones are refused
    one, other = DemoTraffic(seed=3), DemoTraffic(seed=3)
    assert [one.person() for _ in range(5)] == [other.person() for _ in range(5)]  # a seed is a replayable day


def test_enterprises_and_licences_are_mostly_clean() -> None:
    traffic = DemoTraffic(seed=5)
    assert Counter(outcome("enterprise", traffic.enterprise()) for _ in range(300))["clean"] >= 270
    assert Counter(outcome("licence", traffic.licence()) for _ in range(300))["clean"] >= 270
