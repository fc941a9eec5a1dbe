"""Sources on Kafka Connect: the Debezium connector a source definition becomes, and Connect's REST API.

A connector is named ``pobi-<source>`` (so ``pobi sources apply`` removes only connectors it made), writes
to ``cdc.<source>.<schema>.<table>``, and reads the department's password through Connect's
DirectoryConfigProvider: its stored config names the file, never the password.
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, KafkaException, TopicPartition

from foundation.errors import PobiError
from foundation.kafka import client_config
from foundation.settings import Settings
from topics.admin import admin_client, apply_catalogue
from topics.catalogue import Catalogue, TopicSpec, load_catalogue
from topics.producer import Publisher
from topics.sources import SourceDefinition, SourceError, source_document

__all__ = ["CONNECTOR_PREFIX", "ConnectApi", "SourceStatus", "apply_sources", "connector_config",
           "connector_name", "remove_connector", "source_status", "wait_running"]

CONNECTOR_PREFIX = "pobi-"


def connector_name(settings: Settings, source: str) -> str:
    return settings.topics.named(f"{CONNECTOR_PREFIX}{source}")


def _slot(settings: Settings, source: str) -> str:
    """A replication slot (and publication) name: lower case, digits and underscores, at most 63."""
    return re.sub(r"[^a-z0-9_]", "_", settings.topics.named(f"pobi_{source}").lower())[:63]


def _replication(settings: Settings) -> int:
    """The replication factor of pobi's own topics, as the deployment says (Debezium's topics follow it)."""
    catalogue = load_catalogue().replicated(settings.kafka_replication)
    return next(t.replication for t in catalogue.topics if t.name == "pobi.sources")


def source_topics(settings: Settings, source: SourceDefinition) -> Catalogue:
    """The topics Debezium writes for ``source``: one per table, its transaction markers, its heartbeats.
    Created before the connector, so the CDC stage (which reads ``cdc.*`` by pattern) already follows them
    when the first change arrives, instead of finding a new topic at its next metadata refresh."""
    prefix = settings.topics.cdc_prefix(source.source)
    replication = _replication(settings)
    names = [*(f"{prefix}.{table}" for table in source.tables), f"{prefix}.transaction",
             f"{settings.topics.cdc_heartbeats}.{prefix}"]
    return Catalogue({}, [TopicSpec(n, 3, replication, description=f"Debezium: {source.source}") for n in names])


def connector_config(settings: Settings, source: SourceDefinition) -> dict[str, str]:
    """Debezium's PostgreSQL connector for ``source`` (which must have a connection)."""
    connection = source.connection
    if connection is None:
        raise SourceError(f"source {source.source} has no connection: it can map files, not feed a connector")
    password = connection.password_path(settings)
    replication = str(_replication(settings))
    return {
        "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
        "tasks.max": "1",
        "plugin.name": "pgoutput",
        "database.hostname": connection.host,
        "database.port": str(connection.port),
        "database.user": connection.user,
        "database.password": f"${{dir:{password.parent}:{password.name}}}",
        "database.dbname": connection.database,
        "topic.prefix": settings.topics.cdc_prefix(source.source),
        "table.include.list": ",".join(re.escape(table) for table in source.tables),
        "slot.name": _slot(settings, source.source),
        "publication.name": _slot(settings, source.source),
        "publication.autocreate.mode": "filtered",
        "snapshot.mode": "initial",
        "provide.transaction.metadata": "true",
        "heartbeat.interval.ms": "10000",
        # Debezium waits this long to fill a batch (500 ms by default: half of the commit-to-Kafka time)
        "poll.interval.ms": "100",
        "topic.heartbeat.prefix": settings.topics.cdc_heartbeats,
        "decimal.handling.mode": "string",
        "tombstones.on.delete": "true",
        "topic.creation.default.replication.factor": replication,
        "topic.creation.default.partitions": "3",
        "topic.creation.default.cleanup.policy": "delete",
        "topic.creation.default.retention.ms": str(168 * 3_600_000),
    }


class ConnectApi:
    """Kafka Connect's REST API; PobiError in one line when Connect does not answer or refuses."""

    def __init__(self, url: str, timeout_s: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.url}{path}", data=data, method=method,
                                         headers={"Content-Type": "application/json", "Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                text = response.read()
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            try:
                detail = json.loads(exc.read()).get("message", "")
            except (ValueError, AttributeError):
                detail = ""
            raise PobiError(f"Kafka Connect refused {method} {path}: HTTP {exc.code} {str(detail)[:300]}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise PobiError(f"Kafka Connect does not answer at {self.url} ({reason}); `pobi stack up` "
                            "starts it") from None
        return json.loads(text) if text else None

    def connectors(self) -> list[str]:
        return list(self._call("GET", "/connectors") or [])

    def config(self, name: str) -> dict[str, str] | None:
        found = self._call("GET", f"/connectors/{name}/config")
        return None if found is None else {k: v for k, v in found.items() if k != "name"}

    def put_config(self, name: str, config: dict[str, str]) -> None:
        self._call("PUT", f"/connectors/{name}/config", config)

    def delete(self, name: str, timeout_s: float = 30.0) -> None:
        """Remove a connector and wait until Connect no longer lists it. Just after Connect (re)started, or
        during a rebalance, a DELETE can be refused (409) or not yet find the connector (404): asked again."""
        deadline = time.monotonic() + timeout_s
        while name in self.connectors():
            try:
                self._call("DELETE", f"/connectors/{name}")
            except PobiError:
                if time.monotonic() > deadline:
                    raise
            if time.monotonic() > deadline:
                raise PobiError(f"Kafka Connect still lists connector {name} after {timeout_s:.0f}s")
            time.sleep(0.5)

    def status(self, name: str) -> dict[str, Any] | None:
        found = self._call("GET", f"/connectors/{name}/status")
        return found if isinstance(found, dict) else None


def _password_of(reference: str) -> str:
    """The password a ``${dir:<folder>:<file>}`` reference in a connector's config names."""
    folder, _, name = reference.removeprefix("${dir:").removesuffix("}").rpartition(":")
    return (Path(folder) / name).read_text().strip()


def remove_connector(settings: Settings, name: str, timeout_s: float = 30.0) -> None:
    """Delete a connector and then its replication slot and publication in the source database: a slot that
    nobody reads any more makes the department's database keep its write-ahead log for ever."""
    import psycopg

    api = ConnectApi(settings.connect_url)
    config = api.config(name)
    api.delete(name)
    if not config or "slot.name" not in config:
        return
    slot, publication = config["slot.name"], config.get("publication.name", "")
    try:
        with psycopg.connect(host=config["database.hostname"], port=int(config["database.port"]),
                             user=config["database.user"], password=_password_of(config["database.password"]),
                             dbname=config["database.dbname"], connect_timeout=3, autocommit=True) as conn:
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline:  # the deleted task lets go of the slot within a moment
                row = conn.execute("SELECT active FROM pg_replication_slots WHERE slot_name = %s",
                                   (slot,)).fetchone()
                if row is None or not row[0]:
                    break
                time.sleep(0.5)
            if row is not None:
                conn.execute("SELECT pg_drop_replication_slot(%s)", (slot,))
            if publication:
                conn.execute(psycopg.sql.SQL("DROP PUBLICATION IF EXISTS {}").format(
                    psycopg.sql.Identifier(publication)))
    except (psycopg.Error, OSError, KeyError, ValueError) as exc:
        raise PobiError(f"connector {name} removed, but its replication slot {slot} could not be dropped "
                        f"({str(exc).splitlines()[0][:200]}); drop it in the source database") from None


@dataclass
class SourcesApplied:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # pobi's connectors whose source is not in the folder


def apply_sources(settings: Settings, sources: list[SourceDefinition], *, remove_missing: bool = True,
                  dry_run: bool = False) -> SourcesApplied:
    """Publish each source's mapping to ``pobi.sources`` (first, so the CDC stage knows a table before its
    first change arrives), then create or update its connector; remove pobi's connectors and mappings of
    sources no longer given. ``dry_run`` says what would change and changes nothing."""
    api = ConnectApi(settings.connect_url)
    existing = {name for name in api.connectors() if name.startswith(connector_name(settings, ""))}
    result = SourcesApplied()
    wanted = {connector_name(settings, s.source): s for s in sources}
    if not remove_missing:
        result.kept = [name[len(connector_name(settings, "")):] for name in sorted(existing - set(wanted))]
    with Publisher(settings) as publisher:
        for name, source in wanted.items():
            config = connector_config(settings, source)
            current = api.config(name) if name in existing else None
            bucket = result.created if current is None else result.updated if current != config else result.unchanged
            bucket.append(source.source)
            if dry_run:
                continue
            publisher.produce(settings.topics.sources, source.source.encode(),
                              json.dumps(source_document(source), ensure_ascii=False).encode())
            publisher.flush()
            if current != config:
                apply_catalogue(admin_client(settings), source_topics(settings, source))
                api.put_config(name, config)
        if remove_missing:
            for name in sorted(existing - set(wanted)):
                source_name = name[len(connector_name(settings, "")):]
                result.removed.append(source_name)
                if not dry_run:
                    remove_connector(settings, name)
                    publisher.produce(settings.topics.sources, source_name.encode(), None)  # type: ignore[arg-type]
    return result


@dataclass(frozen=True)
class SourceStatus:
    source: str
    connector: str
    state: str  # RUNNING, PAUSED, FAILED, UNASSIGNED, or MISSING (no connector)
    tasks: list[str]
    error: str
    last_change_ts_ms: int | None  # when the last change Kafka holds was committed in the database
    topics: dict[str, int]  # table topic → records on it
    slot_lag_bytes: int | None  # WAL the database keeps for the connector, not yet confirmed

    def as_dict(self) -> dict[str, object]:
        return {"source": self.source, "connector": self.connector, "state": self.state, "tasks": self.tasks,
                "error": self.error, "last_change_ts_ms": self.last_change_ts_ms, "topics": self.topics,
                "slot_lag_bytes": self.slot_lag_bytes}


def _last_changes(settings: Settings, topics: list[str]) -> tuple[dict[str, int], int | None]:
    """Records per topic, and the newest ``source.ts_ms`` among each partition's last records."""
    consumer = Consumer(client_config(settings, **{"group.id": settings.topics.group("sources-status"),
                                                   "enable.auto.commit": False}))
    counts: dict[str, int] = {}
    newest: int | None = None
    try:
        metadata = consumer.list_topics(timeout=10).topics
        for topic in topics:
            if topic not in metadata:
                continue
            counts[topic] = 0
            for partition in metadata[topic].partitions:
                low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=5)
                counts[topic] += max(0, high - low)
                if high <= low:
                    continue
                # the last few records: the very last may be a tombstone after a delete
                consumer.assign([TopicPartition(topic, partition, max(low, high - 5))])
                for message in consumer.consume(min(5, high - low), 5):
                    if message.error() or message.value() is None:
                        continue
                    try:
                        payload = json.loads(message.value() or b"{}").get("payload") or {}
                        committed = (payload.get("source") or {}).get("ts_ms")
                    except (ValueError, AttributeError):
                        continue
                    if isinstance(committed, int):
                        newest = committed if newest is None else max(newest, committed)
    except KafkaException as exc:
        raise PobiError(f"cannot read the CDC topics: {exc.args[0].str()}") from None
    finally:
        consumer.close()
    return counts, newest


def _slot_lag(settings: Settings, source: SourceDefinition) -> int | None:
    """Bytes of WAL the source database keeps for the connector's slot; None if it cannot be asked."""
    import psycopg

    connection = source.connection
    if connection is None:
        return None
    try:
        password = connection.password_path(settings).read_text().strip()
        with psycopg.connect(host=connection.host, port=connection.port, user=connection.user, password=password,
                             dbname=connection.database, connect_timeout=3) as conn:
            row = conn.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint "
                               "FROM pg_replication_slots WHERE slot_name = %s",
                               (_slot(settings, source.source),)).fetchone()
    except (psycopg.Error, OSError):
        return None
    return int(row[0]) if row and row[0] is not None else None


def source_status(settings: Settings, source: SourceDefinition) -> SourceStatus:
    api = ConnectApi(settings.connect_url)
    name = connector_name(settings, source.source)
    found = api.status(name)
    state, tasks, error = "MISSING", [], ""
    if found is not None:
        state = str((found.get("connector") or {}).get("state", "UNKNOWN"))
        for task in found.get("tasks") or []:
            tasks.append(str(task.get("state")))
            if task.get("trace") and not error:
                error = str(task["trace"]).splitlines()[0][:300]
    prefix = settings.topics.cdc_prefix(source.source)
    counts, newest = _last_changes(settings, [f"{prefix}.{table}" for table in source.tables])
    return SourceStatus(source.source, name, state, tasks, error, newest, counts, _slot_lag(settings, source))


def wait_running(settings: Settings, source: SourceDefinition, timeout_s: float = 60.0) -> SourceStatus:
    """The source's status once its connector and task run (or the timeout passes)."""
    deadline = time.monotonic() + timeout_s
    while True:
        status = source_status(settings, source)
        if (status.state == "RUNNING" and status.tasks and all(t == "RUNNING" for t in status.tasks)) \
                or time.monotonic() > deadline:
            return status
        time.sleep(1)
