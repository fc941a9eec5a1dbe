"""`pobi subscribe NAME`: a subscriber's feed, decoded as its own client would see it."""

from __future__ import annotations

import sys
import time

import orjson
import typer

from foundation.errors import PobiError
from pobi.cli.output import console, get_settings


def subscribe(name: str = typer.Argument(..., help="the subscriber"),
              from_beginning: bool = typer.Option(False, "--from-beginning", help="start at the oldest delivery"),
              max_records: int = typer.Option(0, "--max", min=0, help="stop after N deliveries (0: never)"),
              idle_s: float = typer.Option(0, "--idle", min=0, help="stop after S seconds without a delivery"),
              as_json: bool = typer.Option(False, "--json", help="one JSON object per line")) -> None:
    """Tail a subscriber's feed (out.NAME), decoded through pobi's registry as the subscriber's client would:
    Confluent's wire format, Avro single-object or JSON, whichever its contract chose.

    Example: `pobi subscribe fuzhou-city --from-beginning --max 5`
    """
    from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, Consumer, KafkaError, TopicPartition

    from foundation.kafka import client_config, require_kafka
    from pobi.registry.client import RegistryClient
    from schemas.feeds import FeedDecoder

    settings = get_settings()
    require_kafka(settings)
    topic = settings.topics.out(name)
    registry = RegistryClient(settings)
    subjects = registry.get("/subjects")
    if f"{topic}-value" not in subjects:
        raise PobiError(f"the registry has no feed {topic}-value for {name!r}: no contract for it on the hub, or "
                        f"user {settings.kafka_user!r} may not see it; `pobi subscriptions list` shows the contracts")
    # the delivery records a single-object feed may be written with: the branches of its schema's versions
    branches = [branch for union in registry.versions(f"{topic}-value") for branch in union]
    decoder = FeedDecoder(registry.schema, branches)
    consumer = Consumer(client_config(settings, **{
        # a group under the subscriber's own prefix, as its ACLs allow
        "group.id": settings.topics.named(f"{name}.pobi-subscribe"), "enable.auto.commit": False}))
    try:
        metadata = consumer.list_topics(topic, timeout=10).topics.get(topic)
        if metadata is not None and metadata.error and metadata.error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED:
            raise PobiError(f"Kafka refused: user {settings.kafka_user!r} may not read {topic}")
        if metadata is None or metadata.error:
            raise PobiError(f"{topic} does not exist; `pobi subscriptions apply` creates it")
        start = OFFSET_BEGINNING if from_beginning else OFFSET_END
        consumer.assign([TopicPartition(topic, p, start) for p in metadata.partitions])
        shown, last = 0, time.monotonic()
        while not max_records or shown < max_records:
            message = consumer.poll(0.5)
            error = message.error() if message is not None else None
            if error is not None and error.code() in (KafkaError.TOPIC_AUTHORIZATION_FAILED,
                                                      KafkaError.GROUP_AUTHORIZATION_FAILED):
                raise PobiError(f"Kafka refused: user {settings.kafka_user!r} may not read {topic} ({error.str()})")
            if message is None or message.error():
                if idle_s and time.monotonic() - last > idle_s:
                    break
                continue
            last = time.monotonic()
            record = decoder.decode(message.value(), message.headers())
            if as_json:
                sys.stdout.write(orjson.dumps(record).decode() + "\n")
                sys.stdout.flush()
            else:
                console.print(f"{record['dataset']} {record['op']} {record['entity_key'][:20]} "
                              f"v{record['contract_version']}: {record['row']}", soft_wrap=True)
            shown += 1
    except KeyboardInterrupt:
        pass
    finally:
        consumer.close()
