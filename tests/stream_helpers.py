"""Helpers for stream tests on the real stack: a private namespace of topics and Redis keys per test, and a
stage running in a thread. ``wait_until_idle`` (from ``streams.ledger``) waits until the stage caught up."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from foundation.settings import Settings, load_settings
from schemas.registry import SchemaRegistry
from streams.ledger import wait_until_idle
from streams.normalize.stage import NormalizeStage
from streams.runner import BatchStage, StageRunner
from tests.kafka_helpers import create_topics, read_all
from topics.dead_letters import DLQ_STAGES


def namespaced(unique: str, base: Settings | None = None, **overrides: object) -> Settings:
    """Settings whose topics, consumer groups and Redis keys belong to this test alone (on ``base``'s stack
    when given: the secure one)."""
    if base is not None:
        return base.model_copy(update={"namespace": f"t{unique}", **overrides})
    return load_settings(namespace=f"t{unique}", **overrides)


def create_stream_topics(settings: Settings, datasets: list[str], partitions: int = 3) -> None:
    names = [settings.topics.named(f"{family}.{d}") for family in ("ingest", "norm") for d in datasets]
    create_topics(settings, *names, *(settings.topics.dlq(s) for s in DLQ_STAGES), partitions=partitions)
    create_topics(settings, settings.topics.schemas, partitions=1)  # the feeds' schema ids
    create_topics(settings, settings.topics.audit_read)  # the object services' read log (the sink reads it)


@contextmanager
def running_registry(settings: Settings, schemas: SchemaRegistry | None = None) -> Iterator[str]:
    """pobi's registry for this namespace on a free port; its URL."""
    from foundation.asgi import BackgroundServer
    from pobi.registry.app import registry_app

    with BackgroundServer(registry_app(settings, schemas), "127.0.0.1", 0) as server:
        yield f"http://127.0.0.1:{server.port}"


def feed_records(settings: Settings, subscriber: str,
                 documents: dict[str, dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """A subscriber's whole feed, decoded in whatever format its contract chose with the ids on
    ``pobi.schemas`` (what the registry serves) and the delivery schemas on ``pobi.subscriptions`` (or in
    ``documents``, read before a contract was withdrawn)."""
    from schemas.feeds import FeedDecoder
    from topics.schema_ids import SchemaIds
    from topics.subscriptions import read_documents

    ids = SchemaIds(settings)
    try:
        ids.load()
        document = (documents if documents is not None else read_documents(settings)).get(subscriber, {})
        single = list(document.get("schemas", {}).values())
        decoder = FeedDecoder(lambda i: str(ids.schema_of(i)), single)
        return [decoder.decode(m.value(), m.headers()) for m in read_all(settings, settings.topics.out(subscriber))]
    finally:
        ids.close()


@contextmanager
def running_stage(settings: Settings, datasets: list[str], stage: BatchStage | None = None,
                  batch_size: int = 2000) -> Iterator[StageRunner]:
    runner = StageRunner(settings, stage or NormalizeStage(settings, datasets=datasets), batch_size=batch_size)
    stop, failures = threading.Event(), []

    def run() -> None:
        try:
            runner.run(stop)
        except Exception as exc:  # surfaced by the assert below, in the test's own thread
            failures.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield runner
    finally:
        stop.set()
        thread.join(60)
    assert not failures, f"the stage failed: {failures[0]!r}"


__all__ = ["create_stream_topics", "feed_records", "namespaced", "running_registry", "running_stage", "wait_for_group",
           "wait_until_idle"]


def wait_for_group(settings: Settings, group: str, topics: list[str], timeout_s: float = 60.0) -> None:
    """Until ``group`` (in the settings' namespace) has committed every record on ``topics``."""
    from topics.admin import wait_for_group as wait

    wait(settings, settings.topics.named(group), topics, timeout_s)


def whole_hub(unique: str, secrets: object, datasets: list[str],
              base: Settings | None = None) -> tuple[Settings, object]:
    """A namespace with every topic of the pipeline, the fuzhou-city contract applied and the ClickHouse
    migrations run in a database of its own; returns the (administrator's) settings and a ClickHouse writer.
    On the secure stack (``base``) the namespace's users and ACLs are applied too, as `pobi access apply`
    does, and the stack's own secrets folder (its passwords and hub key) is kept."""
    from datetime import datetime

    from foundation.clock import CST
    from schemas.registry import default_registry
    from sinks.clickhouse.migrate import apply_migrations
    from sinks.clickhouse.writer import ClickHouseWriter
    from topics.subscriptions import CONTRACTS_DIR, apply_contracts, load_contracts

    if base is not None and base.secure:
        settings = namespaced(unique, base, clickhouse_database=f"t{unique}")
    else:
        settings = namespaced(unique, base, clickhouse_database=f"t{unique}", secrets_dir=secrets)
    create_stream_topics(settings, datasets)
    create_topics(settings, settings.topics.out("fuzhou-city"), settings.topics.audit_delivery)
    create_topics(settings, settings.topics.subscriptions, partitions=1)
    found, _ = load_contracts(CONTRACTS_DIR, default_registry(), datetime.now(CST).date())
    apply_contracts(settings, [c for c in found if c.subscriber == "fuzhou-city"], default_registry())
    if settings.secure:
        from topics.access_admin import apply_access
        from topics.admin import admin_client
        from topics.catalogue import load_catalogue

        apply_access(admin_client(settings), settings, load_catalogue(), ["fuzhou-city"])
    writer = ClickHouseWriter(settings, wait=False)
    apply_migrations(lambda q: writer.execute(q), settings.clickhouse_database)
    return settings, writer
