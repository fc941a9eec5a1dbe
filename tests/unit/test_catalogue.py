from pathlib import Path

import pytest

from foundation.errors import TopicError
from topics.catalogue import load_catalogue

DATASETS = {"person", "enterprise", "licence", "approval_case", "sensor_reading"}


def test_catalogue_has_every_family_for_every_dataset() -> None:
    names = {t.name for t in load_catalogue().topics}
    for dataset in DATASETS:
        assert f"ingest.{dataset}" in names
        assert f"norm.{dataset}" in names
    assert {"dlq.ingest", "dlq.normalize", "dlq.delivery", "dlq.sink"} <= names
    assert {"pobi.subscriptions", "audit.delivery"} <= names


def test_ingest_topics_carry_their_owner_and_subscription_topic_is_compacted() -> None:
    cat = load_catalogue()
    assert cat.get("ingest.person").owner == "public-security"
    assert cat.get("norm.person").owner is None
    subs = cat.get("pobi.subscriptions")
    assert subs.configs()["cleanup.policy"] == "compact"
    assert subs.configs()["retention.ms"] == "-1"
    assert cat.get("dlq.ingest").configs()["retention.ms"] == str(720 * 3_600_000)


def test_subscriber_feeds_are_added() -> None:
    cat = load_catalogue(subscribers=["fuzhou-city"])
    assert cat.get("out.fuzhou-city").partitions == 3


def test_bad_partition_count_is_refused(tmp_path: Path) -> None:
    text = Path("topics/catalogue.yaml").read_text().replace("partitions: 6}", "partitions: 0}", 1)
    bad = tmp_path / "catalogue.yaml"
    bad.write_text(text)
    with pytest.raises(TopicError, match=r"datasets\.person\.partitions must be a whole number"):
        load_catalogue(bad)


def test_unknown_topic_lookup_names_it() -> None:
    with pytest.raises(TopicError, match=r"ingest\.nothing"):
        load_catalogue().get("ingest.nothing")
