"""The object services' assembly of answers, over an in-memory store: what the 360° view shows of an entity's
attributes and relations, how a deletion shows, what a search needs, who received the data and why — and
that every query is the parameterised one for the resolved id, never the text the caller typed."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from foundation.errors import PobiError
from pobi.objects import ObjectService
from sinks.clickhouse.queries import OBJECT_QUERIES

PERSON = "350102199003071234"


class Store:
    def __init__(self, answers: dict[str, list[tuple[Any, ...]]]) -> None:
        self.answers = answers
        self.asked: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, query: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        name = next(n for n, sql in OBJECT_QUERIES.items() if sql.replace("{db}", "pobi") == query)
        self.asked.append((name, params))
        return self.answers.get(name, [])


def service(answers: dict[str, list[tuple[Any, ...]]]) -> tuple[ObjectService, Store]:
    store = Store(answers)
    return ObjectService(store, "pobi", lambda: date(2026, 11, 26),
                         lambda: {"fuzhou-city": "一网通办"}), store


def test_the_360_view_splits_attributes_derived_values_and_relations() -> None:
    objects, store = service({
        "attributes": [("name", "public-security", "陈志民", 1), ("name", "civil-affairs", "陈志明", 2),
                       ("name", "health", "陈志明", 1),
                       ("phone", "civil-affairs", "13905910002", 2),
                       ("division_code.city", "public-security", "福州市", 1),
                       ("__deleted", "civil-affairs", "0", 2)],
        "links": [("in", "legal_representative", "enterprise", "91350100M000100Y43", "market-regulation", 5)]})
    view = objects.object("３５０１０２１９９００３０７１２３４")
    assert view["entity_id"] == PERSON and view["deleted"] is False
    # the newest word is current; a department that says something else is shown beside it, one that agrees
    # is only among the sources
    assert view["attributes"]["name"] == {
        "value": "陈志明", "department": "civil-affairs", "source_ts_ms": 2,
        "sources": ["civil-affairs", "health", "public-security"],
        "others": [{"department": "public-security", "value": "陈志民", "source_ts_ms": 1}]}
    assert view["derived"] == {"division_code.city": "福州市"} and "__deleted" not in view["attributes"]
    assert view["related"][0]["role"] == "legal_representative"
    assert all(params["entity_id"] == PERSON for _name, params in store.asked)


def test_an_entity_never_seen_is_said_so_and_a_deleted_one_shows_it() -> None:
    with pytest.raises(PobiError, match=f"no person {PERSON} has passed through pobi"):
        service({})[0].object(PERSON)
    deleted = service({"attributes": [("__deleted", "public-security", "1", 9)]})[0]
    assert deleted.object(PERSON)["deleted"] is True


def test_search_needs_a_fragment_and_compacts_an_id_prefix() -> None:
    objects, store = service({"search_ids": [("person", PERSON, "陈志明")],
                              "search_names": [("person", PERSON, "陈志明", "name", 5),
                                               ("enterprise", "E1", "陈志明", "legal_rep_name", 4)]})
    with pytest.raises(PobiError, match="search needs a name fragment"):
        objects.search("3")
    assert objects.search(" 3501 02 ") == [
        {"entity_type": "person", "entity_id": PERSON, "label": "陈志明", "matched": "id"},
        {"entity_type": "enterprise", "entity_id": "E1", "label": "陈志明", "matched": "legal_rep_name"}]
    assert store.asked[0] == ("search_ids", {"prefix": "350102%", "limit": 20})
    assert objects.search(" 3501 02 ", limit=1) == [
        {"entity_type": "person", "entity_id": PERSON, "label": "陈志明", "matched": "id"}]


def test_a_name_fragment_reads_the_index_under_its_first_pair_and_never_the_id_path() -> None:
    objects, store = service({"search_names": [("person", PERSON, "陈志明", "name", 5)]})
    assert objects.search("陈志明")[0]["matched"] == "name"
    assert store.asked == [("search_names", {"token": "陈志", "text": "陈志明", "limit": 20})]
    objects.search("ABC科技%_")
    assert store.asked[-1][1] == {"token": "ab", "text": "abc科技%_", "limit": 20}


def test_the_tracker_names_each_delivery_s_purpose() -> None:
    objects, _store = service({"tracker": [("fuzhou-city", 1, "person", "e-1", ["name"], "kafka", 7),
                                           ("gone-system", 3, "person", "e-2", ["id_number"], "webhook", 8)]})
    deliveries = objects.tracker(PERSON)["deliveries"]
    assert [(d["subscriber"], d["purpose"]) for d in deliveries] == [("fuzhou-city", "一网通办"), ("gone-system", "")]


def test_field_labels_are_the_schemas_chinese_names_per_entity_type() -> None:
    from pobi.objects import field_labels
    from schemas.registry import default_registry

    labels = field_labels(default_registry())
    assert labels["person"]["name"] == "姓名" and labels["enterprise"]["name"] == "企业名称"
    assert labels["person"]["id_number"] == "公民身份号码" and labels["case"]["item_name"] == "事项名称"
    assert all(label and " " not in label for fields in labels.values() for label in fields.values())
