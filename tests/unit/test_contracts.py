"""Subscription contracts: the shipped examples are accepted; every kind of bad contract is refused with
the file, the line and the problem."""

from datetime import date
from pathlib import Path

import pytest

from schemas.registry import default_registry
from topics.contract import ContractError, load_contract
from topics.subscriptions import CONTRACTS_DIR, load_contracts

TODAY = date(2026, 11, 26)
GOOD = (CONTRACTS_DIR / "fuzhou-city.yaml").read_text(encoding="utf-8")


def test_the_shipped_contracts_are_valid() -> None:
    contracts, problems = load_contracts(CONTRACTS_DIR, default_registry(), TODAY)
    assert problems == []
    assert {c.subscriber for c in contracts} == {"fuzhou-city", "credit-system", "environment-bureau"}


def refused(tmp_path: Path, text: str, name: str = "fuzhou-city") -> str:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ContractError) as err:
        load_contract(path, default_registry(), TODAY)
    return str(err.value)


def line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


@pytest.mark.parametrize(("change", "needle", "words"), [
    (("fields: [id_number, name,", "fields: [id_number, nickname, name,"), "fields:", "has no field 'nickname'"),
    (("  person:", "  pets:"), "pets:", "unknown dataset 'pets'"),
    (("      phone: partial\n", "      phone: clear\n"), "phone: clear",
     "phone is personal: `clear` needs it listed under consent_clear"),
    (("      address: redact\n", ""), "fields:", "address is personal: give it a mask"),
    (("valid_until: 2027-12-31", "valid_until: 2026-01-31"), "valid_until", "expired on 2026-01-31"),
    (("division_code: {prefix: \"3501\"}", "hukou_status: {prefix: \"3501\"}"), "hukou_status",
     "no field 'hukou_status' to filter on"),
    (("division_code: {prefix: \"3501\"}", "division_code: {startswith: \"3501\"}"), "startswith",
     "Extra inputs are not permitted"),
    (("version: 1", "version: 0"), "version:", "greater than or equal to 1"),
    (("delivery: kafka", "delivery: webhook"), "delivery:", "add a webhook section with its url"),
    (("      id_number: hash", "      id_number: scramble"), "id_number: scramble", "Input should be"),
    # a partial ID number beside the clear birth date gives the whole number back
    (("      id_number: hash", "      id_number: partial"), "birth_date: clear",
     "birth_date delivered `clear` beside id_number masked `partial` rebuilds the whole id_number"),
    # a second filter, as YAML would silently take it, widening "Fuzhou only" to the whole province
    (("    fields: [id_number", "    filter: {}\n    fields: [id_number"), "filter: {}",
     "key 'filter' is given twice (first on line 12)"),
    (("purpose: 一网通办", "purpose: " + "很" * 3000 + "一网通办"), "purpose:", "at most 2000 characters"),
])
def test_bad_contracts_are_refused_naming_file_line_and_problem(tmp_path: Path, change: tuple[str, str],
                                                                needle: str, words: str) -> None:
    assert change[0] in GOOD
    text = GOOD.replace(*change)
    message = refused(tmp_path, text)
    assert message.startswith(f"{tmp_path / 'fuzhou-city.yaml'}:{line_of(text, needle)}: ")
    assert words in message


def test_malformed_yaml_and_a_misnamed_file(tmp_path: Path) -> None:
    message = refused(tmp_path, GOOD.replace("datasets:\n", "datasets: [\n"))
    # the parser notices one line after the opening bracket
    assert f"fuzhou-city.yaml:{line_of(GOOD, 'datasets:') + 2}: not valid YAML: expected ',' or ']'" in message
    assert "must be named after its subscriber" in refused(tmp_path, GOOD, name="fuzhou")
    assert "a contract is a mapping" in refused(tmp_path, "- just\n- a list\n")


def test_partial_id_with_birth_date_hashed_is_accepted(tmp_path: Path) -> None:
    text = GOOD.replace("      id_number: hash", "      id_number: partial").replace(
        "      birth_date: clear", "      birth_date: hash").replace("consent_clear: [gender, birth_date]",
                                                                      "consent_clear: [gender]")
    path = tmp_path / "fuzhou-city.yaml"
    path.write_text(text, encoding="utf-8")
    assert load_contract(path, default_registry(), TODAY).datasets["person"].masks["id_number"] == "partial"


def test_aliases_and_oversized_documents_are_refused_before_they_are_expanded(tmp_path: Path) -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
        f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n" for i in range(9))
    assert "fuzhou-city.yaml:1: anchors and aliases (&, *) are not allowed" in refused(tmp_path, bomb)
    big = GOOD + "# " + "x" * 70_000 + "\n"
    assert "larger than 64 KiB" in refused(tmp_path, big)
