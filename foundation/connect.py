"""How pobi's clients connect to Kafka, ClickHouse and Redis: plainly on the development stack; in the secure
profile (POBI_SECURITY=secure) over TLS checked against the hub's CA, as a named user with a password.

This is the one module that reads password files, so no other module holds a secret, and none is ever put in a
log line, an error message or a settings dump: settings name the user and the file, never the password.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import TYPE_CHECKING, Any

from foundation.errors import ConfigError
from foundation.settings import Settings

if TYPE_CHECKING:
    import faust
    import redis
    from clickhouse_driver import Client

__all__ = ["clickhouse_client", "faust_credentials", "kafka_security", "read_password", "redis_client", "redis_text",
           "require_owner_only"]

SCRAM_MECHANISM = "SCRAM-SHA-512"


def require_owner_only(path: Path) -> None:
    """ConfigError when a file holding a secret can be read by anyone but its owner."""
    if path.stat().st_mode & 0o077:
        raise ConfigError(f"{path} can be read by others; `chmod 600 {path}`")


def read_password(settings: Settings, service: str, user: str) -> str:
    """``user``'s password for ``service``, from its owner-only file."""
    path = settings.password_path(service, user)
    if not path.is_file():
        raise ConfigError(f"no password file for {service} user {user!r} at {path}; the secure stack and "
                          "`pobi access apply` write them (see the README's secure profile)")
    require_owner_only(path)
    password = path.read_text(encoding="utf-8").strip()
    if not password:
        raise ConfigError(f"{path} is empty")
    return password


def ca_file(settings: Settings) -> Path:
    path = settings.ca_path
    if not path.is_file():
        raise ConfigError(f"the CA certificate {path} does not exist; `pobi stack up --secure` creates it, "
                          "or set POBI_TLS_CA_FILE")
    return path


def kafka_security(settings: Settings) -> dict[str, str]:
    """The librdkafka properties that make a client authenticate and encrypt; none on the plain stack."""
    if not settings.secure:
        return {}
    if not settings.kafka_user:
        raise ConfigError("the secure profile needs POBI_KAFKA_USER: the Kafka user this process connects as")
    return {
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": SCRAM_MECHANISM,
        "sasl.username": settings.kafka_user,
        "sasl.password": read_password(settings, "kafka", settings.kafka_user),
        "ssl.ca.location": str(ca_file(settings)),
    }


def tls_context(settings: Settings) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(ca_file(settings)))


def faust_credentials(settings: Settings) -> faust.SASLCredentials | None:
    """The same identity for Faust's own (aiokafka) clients."""
    import faust

    security = kafka_security(settings)
    if not security:
        return None
    return faust.SASLCredentials(username=security["sasl.username"], password=security["sasl.password"],
                                 ssl_context=tls_context(settings), mechanism=SCRAM_MECHANISM)


def redis_client(settings: Settings, **options: Any) -> redis.Redis:
    import redis

    if settings.secure:
        if not settings.redis_user:
            raise ConfigError("the secure profile needs POBI_REDIS_USER: the Redis user this process connects as")
        options |= {"username": settings.redis_user,
                    "password": read_password(settings, "redis", settings.redis_user),
                    "ssl": True, "ssl_ca_certs": str(ca_file(settings)), "ssl_check_hostname": True}
    return redis.Redis(host=settings.redis_host, port=settings.redis_port, **options)


def clickhouse_client(settings: Settings, /, *, query: bool = False, **options: Any) -> Client:
    """A writer (migrations, the sink) or, with ``query``, the read-only user of the object services."""
    from clickhouse_driver import Client

    user = (settings.clickhouse_query_user or settings.clickhouse_user) if query else settings.clickhouse_user
    if settings.secure:
        options |= {"password": read_password(settings, "clickhouse", user), "secure": True, "verify": True,
                    "ca_certs": str(ca_file(settings))}
    return Client(host=settings.clickhouse_host, port=settings.clickhouse_port, user=user, **options)


def redis_text(value: bytes | str | None) -> str:
    """A Redis answer as text: clients answer bytes or str depending on ``decode_responses``."""
    return value.decode() if isinstance(value, bytes) else str(value)
