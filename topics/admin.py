"""Applying the topic catalogue to a Kafka cluster with confluent-kafka's AdminClient.

``apply`` only ever adds: it creates missing topics and reports drift (another partition count, other
configs). Raising partitions reshuffles keys across partitions and breaks per-entity ordering, and deleting
loses data, so both stay an operator's decision.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from confluent_kafka import Consumer, ConsumerGroupState, KafkaError, KafkaException, Message, TopicPartition
from confluent_kafka.admin import (  # type: ignore[attr-defined]  # the stubs do not re-export these
    AdminClient,
    ConfigResource,
    NewTopic,
    ResourceType,
)

from foundation.errors import TopicError
from foundation.kafka import client_config, origin
from foundation.settings import Settings
from topics.catalogue import Catalogue, TopicSpec

__all__ = ["ApplyReport", "TopicState", "admin_client", "apply_catalogue", "compare_catalogue", "group_progress",
           "record_counts", "records_to_end", "wait_for_group", "wait_for_members", "watermarks"]

_TIMEOUT_S = 15.0


@dataclass(frozen=True)
class TopicState:
    name: str
    in_catalogue: bool
    on_cluster: bool
    partitions_wanted: int | None
    partitions_found: int | None
    drift: tuple[str, ...] = ()

    @property
    def state(self) -> str:
        if not self.on_cluster:
            return "missing"
        if not self.in_catalogue:
            return "unmanaged"
        return "drift" if self.drift else "ok"


@dataclass
class ApplyReport:
    created: list[str] = field(default_factory=list)
    states: list[TopicState] = field(default_factory=list)

    @property
    def drifted(self) -> list[TopicState]:
        return [s for s in self.states if s.drift]


def admin_client(settings: Settings, extra: dict[str, object] | None = None) -> AdminClient:
    return AdminClient(client_config(settings, **(extra or {})))


def _cluster_topics(admin: AdminClient) -> dict[str, int]:
    try:
        metadata = admin.list_topics(timeout=_TIMEOUT_S)
    except KafkaException as exc:
        raise TopicError(f"cannot reach Kafka to list topics: {exc.args[0]}") from exc
    return {name: len(t.partitions) for name, t in metadata.topics.items() if not name.startswith("__")}


def _cluster_configs(admin: AdminClient, names: list[str]) -> dict[str, dict[str, str]]:
    """Each topic's configuration. On a cluster, a topic created a moment ago may still be unknown to the broker
    that answers (its metadata has not reached it): asked again for up to ``_TIMEOUT_S``."""
    found: dict[str, dict[str, str]] = {}
    deadline = time.monotonic() + _TIMEOUT_S
    while names:
        futures = admin.describe_configs([ConfigResource(ResourceType.TOPIC, n) for n in names])
        names = []
        for resource, fut in futures.items():
            try:
                entries = fut.result(timeout=_TIMEOUT_S)
            except KafkaException as exc:
                error = exc.args[0]
                if error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART and time.monotonic() < deadline:
                    names.append(resource.name)
                    continue
                raise TopicError(f"cannot read the configs of topic {resource.name}: {error}") from exc
            found[resource.name] = {k: v.value for k, v in entries.items()}
        if names:
            time.sleep(0.2)
    return found


def _drift(spec: TopicSpec, partitions: int, configs: dict[str, str]) -> tuple[str, ...]:
    problems = []
    if partitions != spec.partitions:
        problems.append(f"has {partitions} partitions, the catalogue says {spec.partitions}")
    for key, wanted in spec.configs().items():
        actual = configs.get(key)
        if actual != wanted:
            problems.append(f"{key} is {actual}, the catalogue says {wanted}")
    return tuple(problems)


def compare_catalogue(admin: AdminClient, catalogue: Catalogue) -> list[TopicState]:
    """Catalogue against cluster: every catalogue topic, and every cluster topic the catalogue lacks."""
    cluster = _cluster_topics(admin)
    wanted = {t.name: t for t in catalogue.topics}
    configs = _cluster_configs(admin, [n for n in wanted if n in cluster])
    states = []
    for name, spec in wanted.items():
        if name in cluster:
            drift = _drift(spec, cluster[name], configs.get(name, {}))
            states.append(TopicState(name, True, True, spec.partitions, cluster[name], drift))
        else:
            states.append(TopicState(name, True, False, spec.partitions, None))
    for name in sorted(set(cluster) - set(wanted)):
        states.append(TopicState(name, False, True, None, cluster[name]))
    return states


def apply_catalogue(admin: AdminClient, catalogue: Catalogue) -> ApplyReport:
    """Create the catalogue's missing topics; report the drift of the ones that exist."""
    missing = [s.name for s in compare_catalogue(admin, catalogue) if s.state == "missing"]
    report = ApplyReport()
    if missing:
        specs = [catalogue.get(n) for n in missing]
        futures = admin.create_topics(
            [NewTopic(s.name, num_partitions=s.partitions, replication_factor=s.replication,
                      config=s.configs()) for s in specs],
            operation_timeout=_TIMEOUT_S, request_timeout=_TIMEOUT_S,
        )
        for name, fut in futures.items():
            try:
                fut.result()
            except KafkaException as exc:
                err = exc.args[0]
                if err.code() != err.TOPIC_ALREADY_EXISTS:
                    raise TopicError(f"Kafka refused to create topic {name}: {err.str()}") from exc
                continue  # created meanwhile (by another applier, or not yet in our metadata): not ours
            report.created.append(name)
    report.states = compare_catalogue(admin, catalogue)
    return report


def record_counts(settings: Settings, names: list[str]) -> dict[str, int]:
    """Records each topic holds (end minus start offsets over its partitions); absent topics count 0."""
    consumer = Consumer(client_config(settings, **{"group.id": settings.topics.group("record-counts"),
                                                   "enable.auto.commit": False, **_WHOLE_LOG}))
    try:
        metadata = consumer.list_topics(timeout=_TIMEOUT_S)
        counts = {}
        for name in names:
            topic = metadata.topics.get(name)
            total = 0
            for partition in (topic.partitions if topic and not topic.error else {}):
                low, high = watermarks(consumer, TopicPartition(name, partition))
                total += high - low
            counts[name] = total
        return counts
    finally:
        consumer.close()


def group_progress(settings: Settings, group: str, names: list[str]) -> dict[str, tuple[int, int]]:
    """Per topic, (records ever written = sum of end offsets, records the group has committed past).
    Absent topics give (0, 0)."""
    consumer = Consumer(client_config(settings, **{"group.id": group, "enable.auto.commit": False, **_WHOLE_LOG}))
    try:
        metadata = consumer.list_topics(timeout=_TIMEOUT_S)
        progress = {}
        for name in names:
            topic = metadata.topics.get(name)
            partitions = [TopicPartition(name, p) for p in (topic.partitions if topic and not topic.error else {})]
            ends = sum(watermarks(consumer, tp)[1] for tp in partitions)
            committed = _committed(consumer, partitions) if partitions else []
            progress[name] = (ends, sum(max(tp.offset, 0) for tp in committed))
        return progress
    finally:
        consumer.close()


# what a partition created a moment ago answers until its leader has settled
_LEADER_NOT_READY = (KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE,
                     KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._UNKNOWN_PARTITION, KafkaError._UNKNOWN_TOPIC)


# End offsets are the log's end (the high watermark), not the last stable offset a read_committed client is told:
# a transaction left open by a stage that was cut off must not make a group look caught up early.
_WHOLE_LOG = {"isolation.level": "read_uncommitted"}


def watermarks(consumer: Consumer, partition: TopicPartition) -> tuple[int, int]:
    """(low, high) offsets of a partition, waiting out a leader that is still being elected (a topic made a
    moment ago answers NOT_LEADER_FOR_PARTITION for a while)."""
    deadline = time.monotonic() + _TIMEOUT_S
    while True:
        try:
            low, high = consumer.get_watermark_offsets(partition, timeout=_TIMEOUT_S)
            return low, high
        except KafkaException as exc:
            if exc.args[0].code() not in _LEADER_NOT_READY or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


_COORDINATOR_NOT_READY = (KafkaError.NOT_COORDINATOR, KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
                          KafkaError.COORDINATOR_NOT_AVAILABLE, KafkaError._WAIT_COORD, KafkaError._TIMED_OUT)


def _committed(consumer: Consumer, partitions: list[TopicPartition]) -> list[TopicPartition]:
    """Committed offsets, waiting out a group coordinator that is still loading (a fresh broker creates
    ``__consumer_offsets`` on first use and answers NOT_COORDINATOR meanwhile)."""
    deadline = time.monotonic() + _TIMEOUT_S
    while True:
        try:
            return consumer.committed(partitions, timeout=_TIMEOUT_S)
        except KafkaException as exc:
            if exc.args[0].code() not in _COORDINATOR_NOT_READY or time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def wait_for_group(settings: Settings, group: str, topics: list[str], timeout_s: float = 60.0) -> None:
    """Until ``group`` has committed every record on ``topics``; TopicError saying how far it got otherwise."""
    deadline = time.monotonic() + timeout_s
    while True:
        progress = group_progress(settings, group, topics)
        if all(committed >= ends for ends, committed in progress.values()):
            return
        if time.monotonic() > deadline:
            behind = ", ".join(f"{t} {c}/{e}" for t, (e, c) in progress.items() if c < e)
            raise TopicError(f"{group} did not catch up within {timeout_s:.0f}s ({behind})")
        time.sleep(0.3)


def wait_for_members(settings: Settings, members: Mapping[str, int], timeout_s: float = 120.0) -> None:
    """Until each consumer group in ``members`` is stable with exactly its number of members (the copies
    joined and the partitions are shared); TopicError saying what was last seen otherwise. A new cluster's
    group coordinators move and load for a while: describing is retried meanwhile."""
    admin = admin_client(settings)
    deadline, seen = time.monotonic() + timeout_s, "no group described"
    while time.monotonic() < deadline:
        try:
            described = {g: f.result(timeout=10) for g, f in admin.describe_consumer_groups(list(members)).items()}
        except KafkaException as exc:
            if exc.args[0].code() not in _COORDINATOR_NOT_READY:
                raise
            seen = exc.args[0].str()
        else:
            if all(d.state == ConsumerGroupState.STABLE and len(d.members) == members[g]
                   for g, d in described.items()):
                return
            seen = ", ".join(f"{g} {d.state.name.lower()} with {len(d.members)}/{members[g]}"
                             for g, d in described.items())
        time.sleep(0.5)
    raise TopicError(f"the groups did not reach their members within {timeout_s:.0f}s ({seen})")


def records_to_end(consumer: Consumer, name: str, since_ms: int | None = None) -> Iterator[Message]:
    """Every record of topic ``name`` from its start (or, with ``since_ms``, from the first record written at
    or after that time: a seek by the broker's time index, not a read of what came before) to the end offsets
    it has now (none if it does not exist), read with ``consumer`` by assignment; unassigned afterwards."""
    topic = consumer.list_topics(name, timeout=_TIMEOUT_S).topics.get(name)
    if topic is None or topic.error:
        return
    remaining = {}
    for p in topic.partitions:
        low, high = watermarks(consumer, TopicPartition(name, p))
        if high > low:
            remaining[p] = high
    if not remaining:
        return
    starts = {p: 0 for p in remaining}
    if since_ms is not None:
        found = consumer.offsets_for_times([TopicPartition(name, p, since_ms) for p in remaining],
                                           timeout=_TIMEOUT_S)
        for tp in found:
            if tp.offset < 0:  # nothing written there since then
                del remaining[tp.partition]
            else:
                starts[tp.partition] = tp.offset
        if not remaining:
            return
    consumer.assign([TopicPartition(name, p, starts[p]) for p in remaining])
    try:
        while remaining:
            for message in consumer.consume(1000, 2.0):
                if message.error():
                    continue
                _topic, p, offset = origin(message)
                if offset >= remaining.get(p, 0):
                    continue
                if offset + 1 >= remaining[p]:
                    del remaining[p]
                yield message
            # a partition can end in transaction markers (the fenced stages write them), which no record
            # carries: the consumer's position passes them
            for tp in consumer.position([TopicPartition(name, p) for p in remaining]):
                if tp.offset >= remaining.get(tp.partition, 0):
                    remaining.pop(tp.partition, None)
    finally:
        consumer.unassign()
