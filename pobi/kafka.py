"""One place that builds confluent-kafka client configs, so every client (publisher, admin, consumers)
connects the same way and librdkafka's own chatter goes to Python logging instead of stderr."""

from __future__ import annotations

import logging
from typing import Any

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from pobi.errors import PobiError

__all__ = ["client_config", "require_kafka"]

# librdkafka logs every refused connection (twenty a second); pobi reports unreachable brokers itself.
# Set POBI_LOG_LEVEL=DEBUG to see them.
librdkafka_logger = logging.getLogger("pobi.librdkafka")


def client_config(bootstrap: str, **extra: Any) -> dict[str, Any]:
    return {"bootstrap.servers": bootstrap, "logger": librdkafka_logger, **extra}


def require_kafka(bootstrap: str, timeout_s: float = 5.0) -> None:
    """Fail fast, in one line, when no broker answers, instead of retrying quietly for minutes."""
    try:
        metadata = AdminClient(client_config(bootstrap)).list_topics(timeout=timeout_s)
    except KafkaException as exc:
        raise PobiError(f"cannot reach Kafka at {bootstrap} ({exc.args[0].str()}); "
                        "is it running? (`pobi stack up`)") from None
    if not metadata.brokers:
        raise PobiError(f"Kafka at {bootstrap} answered without brokers; is it still starting?")
