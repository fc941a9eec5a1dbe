"""The topic catalogue: what topics pobi uses and how each is configured, read from catalogue.yaml."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from foundation.errors import TopicError

__all__ = ["CATALOGUE_PATH", "Catalogue", "TopicSpec", "load_catalogue"]

CATALOGUE_PATH = Path(__file__).with_name("catalogue.yaml")
_HOUR_MS = 3_600_000


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    replication: int
    cleanup: str = "delete"
    retention_hours: int = 168
    min_insync_replicas: int = 1
    description: str = ""
    owner: str | None = None  # the department allowed to write it (ingest topics)

    def configs(self) -> dict[str, str]:
        """The topic-level configs pobi manages, as Kafka names them."""
        retention = "-1" if self.retention_hours < 0 else str(self.retention_hours * _HOUR_MS)
        return {
            "cleanup.policy": self.cleanup,
            "retention.ms": retention,
            "min.insync.replicas": str(self.min_insync_replicas),
        }


@dataclass(frozen=True)
class Catalogue:
    datasets: dict[str, str]  # dataset -> owning department
    topics: list[TopicSpec] = field(default_factory=list)

    def get(self, name: str) -> TopicSpec:
        for spec in self.topics:
            if spec.name == name:
                return spec
        raise TopicError(f"topic {name!r} is not in the catalogue")

    def in_namespace(self, topic_name: Callable[[str], str]) -> Catalogue:
        """The same catalogue with every name as the deployment calls it (``Settings.topic``)."""
        return Catalogue(self.datasets, [replace(t, name=topic_name(t.name)) for t in self.topics])

    def replicated(self, replication: int) -> Catalogue:
        """Every topic with ``replication`` replicas and a majority of them in sync for a write (3 → 2);
        0 keeps the catalogue's own. This is how the catalogue follows a deployment's cluster."""
        if replication < 1:
            return self
        min_isr = replication // 2 + 1
        return Catalogue(self.datasets, [replace(t, replication=replication, min_insync_replicas=min_isr)
                                         for t in self.topics])

    def with_subscribers(self, subscribers: list[str], partitions: int, retention_hours: int,
                         replication: int) -> Catalogue:
        feeds = [TopicSpec(f"out.{s}", partitions, replication, retention_hours=retention_hours,
                           description=f"feed of subscriber {s}") for s in subscribers]
        return Catalogue(self.datasets, [*self.topics, *feeds])


def _positive(value: object, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise TopicError(f"catalogue: {where} must be a whole number ≥ 1, got {value!r}")
    return value


def load_catalogue(path: Path = CATALOGUE_PATH, subscribers: list[str] | None = None) -> Catalogue:
    """Read the catalogue; ``subscribers`` adds one ``out.<subscriber>`` feed each."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise TopicError(f"cannot read the topic catalogue {path}: {exc}") from exc
    try:
        defaults = raw.get("defaults", {})
        replication = _positive(defaults.get("replication", 1), "defaults.replication")
        min_isr = _positive(defaults.get("min_insync_replicas", 1), "defaults.min_insync_replicas")
        datasets = {name: spec["owner"] for name, spec in raw["datasets"].items()}
        topics: list[TopicSpec] = []
        for family, fam in raw["families"].items():
            for dataset, ds in raw["datasets"].items():
                topics.append(TopicSpec(
                    f"{family}.{dataset}", _positive(ds["partitions"], f"datasets.{dataset}.partitions"),
                    replication, fam.get("cleanup", "delete"), fam.get("retention_hours", 168), min_isr,
                    fam.get("description", ""), ds["owner"] if family == "ingest" else None,
                ))
        dlq = raw["dlq"]
        for stage in dlq["stages"]:
            topics.append(TopicSpec(f"dlq.{stage}", _positive(dlq["partitions"], "dlq.partitions"),
                                    replication, "delete", dlq["retention_hours"], min_isr,
                                    f"dead letters of stage {stage}"))
        for item in raw.get("internal", []):
            topics.append(TopicSpec(item["name"], _positive(item["partitions"], item["name"]), replication,
                                    item.get("cleanup", "delete"), item.get("retention_hours", 168), min_isr,
                                    item.get("description", "")))
        catalogue = Catalogue(datasets, topics)
        if subscribers:
            feeds = raw["subscriber_feeds"]
            catalogue = catalogue.with_subscribers(subscribers, feeds["partitions"], feeds["retention_hours"],
                                                   replication)
    except (KeyError, TypeError, AttributeError) as exc:
        raise TopicError(f"the topic catalogue {path} is missing or mistypes {exc}") from exc
    names = [t.name for t in catalogue.topics]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise TopicError(f"the topic catalogue names {', '.join(dupes)} twice")
    return catalogue
