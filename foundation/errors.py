"""pobi's own errors. Third-party errors are wrapped into these at the boundary, with a message that says
what went wrong in words an operator understands and, where there is one, what to do next."""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "DecodeError",
    "PobiError",
    "PublishError",
    "SchemaError",
    "StackError",
    "StoreError",
    "TopicError",
]


class PobiError(Exception):
    """Base of every error pobi raises on purpose; the CLI prints its message as one line."""


class ConfigError(PobiError):
    """A setting or a configuration file has a value pobi cannot use."""


class StackError(PobiError):
    """A local service could not be installed, started, or stopped."""


class TopicError(PobiError):
    """The topic catalogue is invalid or the cluster refused a topic operation."""


class SchemaError(PobiError):
    """A schema file is missing, malformed, or incompatible with its earlier versions."""


class DecodeError(PobiError):
    """Bytes on a topic could not be decoded as a pobi record (unknown schema, corrupt body).

    ``reason`` is the stable code a dead letter carries: decode.not_avro, decode.unknown_schema,
    decode.corrupt."""

    def __init__(self, message: str, reason: str = "decode.corrupt") -> None:
        super().__init__(message)
        self.reason = reason


class PublishError(PobiError):
    """Kafka did not acknowledge what the publisher sent."""


class StoreError(PobiError):
    """A store (ClickHouse) refused a query or could not be reached; the message may quote the server, so it
    is for operators (the CLI), not for an API's clients."""
