"""What fan-out and webhook stages accept from ``pobi.subscriptions``: the same checks as `validate`, so a
document written there by other means — malformed, leaking, aimed at the hub, named for someone else —
delivers nothing; and `validate`'s own refusal of a webhook aimed at the hub, unless allow-listed."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from foundation.egress import parse_networks
from schemas.registry import default_registry
from tests.doubles import FakeBook
from tests.integration.test_webhook import CONTRACT
from topics.contract import ContractError, load_contract
from topics.subscriptions import CONTRACTS_DIR, contract_document

TODAY = date(2026, 11, 26)


def fuzhou() -> dict[str, Any]:
    contract = load_contract(CONTRACTS_DIR / "fuzhou-city.yaml", default_registry(), TODAY)
    return contract_document(contract, default_registry())


def with_contract(document: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return document | {"contract": document["contract"] | changes}


@pytest.mark.parametrize(("document", "subscriber"), [
    ({}, "fuzhou-city"),  # what a malformed JSON value becomes
    ({"contract": "not a mapping"}, "fuzhou-city"),
    (with_contract(fuzhou(), version=0), "fuzhou-city"),
    (with_contract(fuzhou(), datasets={"person": {"fields": ["id_number", "birth_date"],
                                                  "masks": {"id_number": "partial", "birth_date": "clear"},
                                                  "consent_clear": ["birth_date"]}}), "fuzhou-city"),
    (fuzhou(), "someone-else"),  # a document filed under another subscriber's key
])
def test_a_document_that_fails_validate_delivers_nothing(document: dict[str, Any], subscriber: str) -> None:
    book = FakeBook({subscriber: document})
    assert book.contracts(default_registry()) == [] and book.contract(subscriber) is None


def test_a_valid_document_is_in_force() -> None:
    [contract] = FakeBook({"fuzhou-city": fuzhou()}).contracts(default_registry())
    assert contract.subscriber == "fuzhou-city"


def test_an_expired_contract_is_left_to_the_stage_to_stop() -> None:
    expired = with_contract(fuzhou(), valid_until="2020-01-01")
    [contract] = FakeBook({"fuzhou-city": expired}).contracts(default_registry())
    assert not contract.active_on(TODAY)


@pytest.mark.parametrize("host", ["127.0.0.1", "2130706433", "169.254.169.254", "10.0.0.5", "[::1]"])
def test_validate_refuses_a_webhook_aimed_at_the_hub_unless_allowed(tmp_path: Path, host: str) -> None:
    text = CONTRACT.format(name="env-hook", port=8123, attempts=1).replace("127.0.0.1:8123", f"{host}:8123")
    path = tmp_path / "env-hook.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ContractError, match="webhooks may not reach the hub's own network"):
        load_contract(path, default_registry(), TODAY)
    address = host.strip("[]") if not host.isdigit() else "127.0.0.1"
    allowed = load_contract(path, default_registry(), TODAY, parse_networks(f"{address}/32" if ":" not in address
                                                                             else f"{address}/128"))
    assert allowed.webhook is not None and host in allowed.webhook.url
    assert yaml.safe_load(text)["webhook"]["url"] == allowed.webhook.url
