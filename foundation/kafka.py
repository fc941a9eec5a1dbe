"""One place that builds confluent-kafka client configs, so every client (publisher, admin, consumers)
connects the same way and librdkafka's own chatter goes to Python logging instead of stderr."""

from __future__ import annotations

import logging
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message
from confluent_kafka.admin import AdminClient

from foundation.connect import kafka_security
from foundation.errors import PobiError
from foundation.settings import Settings

__all__ = ["client_config", "origin", "require_kafka"]

# librdkafka logs every refused connection (twenty a second); pobi reports unreachable brokers itself.
# Set POBI_LOG_LEVEL=DEBUG to see them.
librdkafka_logger = logging.getLogger("pobi.librdkafka")


def client_config(settings: Settings, **extra: Any) -> dict[str, Any]:
    """A client of ``settings.kafka_bootstrap``, with TLS and SASL when the settings ask for them."""
    return {"bootstrap.servers": settings.kafka_bootstrap, "logger": librdkafka_logger,
            **kafka_security(settings), **extra}


def require_kafka(settings: Settings, timeout_s: float = 5.0, *, topics: tuple[str, ...] = ()) -> None:
    """Fail fast, in one line, when no broker answers (or one of ``topics`` is not there), instead of retrying
    quietly for minutes."""
    bootstrap = settings.kafka_bootstrap
    admin = AdminClient(client_config(settings))
    try:
        metadata = admin.list_topics(timeout=timeout_s)
    except KafkaException as exc:
        hint = ("check POBI_KAFKA_USER, its password file and the CA" if settings.secure
                else "is it running? (`pobi stack up`)")
        raise PobiError(f"cannot reach Kafka at {bootstrap} ({exc.args[0].str()}); {hint}") from None
    if not metadata.brokers:
        raise PobiError(f"Kafka at {bootstrap} answered without brokers; is it still starting?")
    # a topic the user may not describe is left out of the list as well: ask for it by name, and report only
    # those the broker does not know (a refusal is the producer's to report, in the broker's words)
    missing = [name for name in topics if name not in metadata.topics and _unknown(admin, name, timeout_s)]
    if missing:
        raise PobiError(f"no topic {', '.join(missing)} on Kafka at {bootstrap}; `pobi topics apply` creates "
                        "pobi's topics")


def _unknown(admin: AdminClient, topic: str, timeout_s: float) -> bool:
    found = admin.list_topics(topic=topic, timeout=timeout_s).topics.get(topic)
    return found is None or (found.error is not None and found.error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART)


def origin(message: Message) -> tuple[str, int, int]:
    """(topic, partition, offset) of a record a consumer returned: a consumed record always has all three,
    so their absence is a bug, not a case to handle."""
    topic, partition, offset = message.topic(), message.partition(), message.offset()
    assert topic is not None and partition is not None and offset is not None
    return topic, partition, offset
