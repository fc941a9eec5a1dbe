"""How the catalogue is held against a cluster, with an admin double: missing topics, drift in partitions or
managed configs, topics the catalogue lacks — reported, never changed."""

from __future__ import annotations

from typing import Any

from topics import admin as topics_admin
from topics.admin import compare_catalogue
from topics.catalogue import load_catalogue


def test_missing_drifted_and_unknown_topics(monkeypatch: Any) -> None:
    catalogue = load_catalogue()
    person, norm = "ingest.person", "norm.person"
    wanted = {t.name: t for t in catalogue.topics}
    cluster = {person: wanted[person].partitions, norm: 1, "someone.elses": 3}
    configs = {person: wanted[person].configs(), norm: {**wanted[norm].configs(), "retention.ms": "1"}}
    monkeypatch.setattr(topics_admin, "_cluster_topics", lambda _admin: cluster)
    monkeypatch.setattr(topics_admin, "_cluster_configs", lambda _admin, names: {n: configs[n] for n in names})
    states = {s.name: s for s in compare_catalogue(object(), catalogue)}  # type: ignore[arg-type]
    assert states[person].on_cluster and states[person].drift == ()
    assert states[norm].drift == (f"has 1 partitions, the catalogue says {wanted[norm].partitions}",
                                  f"retention.ms is 1, the catalogue says {wanted[norm].configs()['retention.ms']}")
    assert not states["ingest.licence"].on_cluster and states["ingest.licence"].state == "missing"
    assert not states["someone.elses"].in_catalogue
    assert len(states) == len(wanted) + 1
