"""pobi's settings: one frozen object, read from the environment (prefix ``POBI_``) and, when
``POBI_ENV_FILE`` names one, an env file — never a ``.env`` that happens to lie in the current directory.

All state (jars, data, logs, the hub key, passwords) lives in one folder, ``POBI_STACK_DIR``: by default
``$XDG_STATE_HOME/pobi`` (``~/.local/state/pobi``), whichever folder a command runs in; a relative path is
refused, so two commands started in different folders can never disagree about where the hub key is.

Every variable is documented in the README's settings table. A bad value stops the program with one line
that names the variable, instead of a traceback deep inside a client library.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from foundation.errors import ConfigError
from foundation.topic_names import Topics

if TYPE_CHECKING:
    from foundation.egress import Network

__all__ = ["Settings", "default_state_dir", "get_settings", "load_settings"]

Port = int


class Settings(BaseSettings):
    """Where pobi finds its services and keeps its local state."""

    model_config = SettingsConfigDict(
        env_prefix="POBI_", env_file=None, env_file_encoding="utf-8", frozen=True, extra="ignore"
    )

    kafka_bootstrap: str = Field("127.0.0.1:9092", description="Kafka bootstrap servers, host:port[,…]")
    kafka_controller_port: Port = Field(9093, ge=1, le=65535, description="KRaft controller port (local stack)")
    kafka_replication: int = Field(0, ge=0, le=5, description="replicas of each of pobi's topics (0: the "
                                   "catalogue's); min.insync.replicas follows as a majority of them")
    kafka_version: str = Field("3.9.2", pattern=r"^3\.9\.\d+$", description="Apache Kafka version to run")
    clickhouse_host: str = "127.0.0.1"
    clickhouse_port: Port = Field(9000, ge=1, le=65535, description="ClickHouse native protocol port")
    clickhouse_http_port: Port = Field(8123, ge=1, le=65535)
    clickhouse_database: str = Field("", pattern=r"^([A-Za-z_][A-Za-z0-9_]*)?$",
                                     description="ClickHouse database (default: pobi, or pobi_<namespace>)")
    redis_host: str = "127.0.0.1"
    redis_port: Port = Field(6379, ge=1, le=65535)
    prometheus_port: Port = Field(9090, ge=1, le=65535)
    postgres_host: str = Field("127.0.0.1", description="the example department database (local stack)")
    postgres_port: Port = Field(5432, ge=1, le=65535)
    connect_url: str = Field("http://127.0.0.1:8083", pattern=r"^https?://[^/\s]+$",
                             description="Kafka Connect's REST API (where `pobi sources` creates connectors)")
    connect_version: str = Field("4.3.0", pattern=r"^4\.\d+\.\d+$",
                                 description="Apache Kafka Connect version the local stack runs")
    debezium_version: str = Field("3.6.1.Final", pattern=r"^3\.\d+\.\d+\.Final$",
                                  description="Debezium version the local stack's Connect runs")
    metrics_port: Port = Field(9464, ge=1, le=65535, description="port of pobi's own /metrics")
    bind_host: str = Field("127.0.0.1", description="where the worker's /metrics and API listen (0.0.0.0 in a "
                           "container; never published beyond loopback by docker-compose)")
    api_port: Port = Field(9465, ge=0, le=65535, description="the worker's object-services HTTP API (0: off)")
    registry_port: Port = Field(8081, ge=1, le=65535, description="pobi's Schema Registry API (`pobi registry`)")
    registry_url: str = Field("http://127.0.0.1:8081", pattern=r"^https?://\S+$",
                              description="where subscribers reach that registry (webhooks' dataschema)")
    gateway_port: Port = Field(9466, ge=1, le=65535, description="the HTTP ingest gateway (`pobi gateway`)")
    gateway_max_body_mb: int = Field(16, ge=1, le=1024, description="the largest request the gateway reads (413)")
    gateway_max_records: int = Field(20_000, ge=1, le=1_000_000, description="records in one request (413 beyond)")
    gateway_max_in_flight: int = Field(200_000, ge=100, description="records waiting for Kafka before 429")
    gateway_delivery_timeout_s: float = Field(15.0, ge=1, le=300,
                                              description="how long a request waits for Kafka's acknowledgement")
    stack_dir: Path = Field(default_factory=lambda: default_state_dir(),
                            description="the state folder: the local stack's binaries, data and logs, the secrets")
    ready_timeout_s: float = Field(90.0, gt=0, description="how long `stack up` waits for each service")
    secrets_dir: Path | None = Field(None, description="the hub key and subscriber credentials (0700; default: "
                                     "<stack_dir>/secrets)")
    namespace: str = Field("", pattern=r"^[a-z0-9_-]*$",
                           description="prefix of topics, consumer groups and Redis keys (isolates tests)")
    dedup_ttl_hours: int = Field(168, ge=1, description="how long an event id is remembered (≥ ingest retention)")
    worker_batch: int = Field(5000, ge=1, le=100_000, description="records a worker stage handles at a time")
    # the secure profile: settings hold who connects and where its password file is, never a password
    security: Literal["plaintext", "secure"] = Field(
        "plaintext", description="secure: TLS to Kafka, ClickHouse and Redis, SASL/SCRAM to Kafka, passwords")
    tls_ca_file: Path | None = Field(None, description="CA certificate clients trust (default: the local "
                                     "stack's <stack_dir>/tls/ca.crt)")
    kafka_user: str = Field("", pattern=r"^[A-Za-z0-9_.-]*$", description="SCRAM user this process connects as")
    kafka_password_file: Path | None = Field(None, description="its password (default: "
                                             "<secrets_dir>/kafka/<user>.password)")
    clickhouse_user: str = Field("default", pattern=r"^[A-Za-z0-9_]+$", description="ClickHouse user that writes")
    clickhouse_query_user: str = Field("", pattern=r"^[A-Za-z0-9_]*$",
                                       description="ClickHouse user for queries (default: clickhouse_user)")
    redis_user: str = Field("", pattern=r"^[A-Za-z0-9_-]*$", description="Redis ACL user (secure)")
    dlq_limit: float = Field(0.5, ge=0, le=1, description="a stage stops when more than this share of a window "
                             "of records went to its DLQ for a bug (*.unexpected_error); 0: never")
    dlq_limit_window: int = Field(1000, ge=1, description="records per window of the DLQ limit")
    webhook_allow: str = Field("", description="networks webhooks may reach although private or loopback "
                               "(comma-separated CIDRs; empty: none)")

    @field_validator("kafka_bootstrap")
    @classmethod
    def _bootstrap_has_ports(cls, value: str) -> str:
        for server in value.split(","):
            host, _, port = server.strip().rpartition(":")
            if not host or not port.isdigit():
                raise ValueError(f"expected host:port, got {server!r}")
        return value

    @field_validator("stack_dir", "secrets_dir", "tls_ca_file", "kafka_password_file")
    @classmethod
    def _absolute(cls, value: Path | None) -> Path | None:
        if value is not None and not value.expanduser().is_absolute():
            raise ValueError("must be an absolute path (state never depends on the folder a command runs in)")
        return value

    @model_validator(mode="after")
    def _database_of_the_namespace(self) -> Settings:
        """A namespace isolates ClickHouse too: its tables live in a database of its own unless one is named."""
        if not self.clickhouse_database:
            name = f"pobi_{self.namespace.replace('-', '_')}" if self.namespace else "pobi"
            object.__setattr__(self, "clickhouse_database", name)  # frozen: set once, while validating
        return self

    @field_validator("webhook_allow")
    @classmethod
    def _networks(cls, value: str) -> str:
        from foundation.egress import parse_networks

        parse_networks(value)  # ValueError names the bad network
        return value

    @property
    def webhook_networks(self) -> list[Network]:
        from foundation.egress import parse_networks

        return parse_networks(self.webhook_allow)

    @property
    def kafka_host(self) -> str:
        return self.kafka_bootstrap.split(",")[0].rpartition(":")[0]

    @property
    def kafka_port(self) -> int:
        return int(self.kafka_bootstrap.split(",")[0].rpartition(":")[2])

    @property
    def connect_port(self) -> int:
        return int(self.connect_url.rpartition(":")[2])

    @property
    def connect_host(self) -> str:
        return self.connect_url.split("://", 1)[1].rpartition(":")[0]

    @property
    def stack_path(self) -> Path:
        return self.stack_dir.expanduser().resolve()

    @property
    def secrets_path(self) -> Path:
        return (self.secrets_dir or self.stack_path / "secrets").expanduser().resolve()

    @property
    def secure(self) -> bool:
        return self.security == "secure"

    @property
    def ca_path(self) -> Path:
        return (self.tls_ca_file or self.stack_path / "tls" / "ca.crt").expanduser().resolve()

    def password_path(self, service: str, user: str) -> Path:
        """Where ``user``'s password for ``service`` (kafka, clickhouse, redis) is kept: an explicit
        POBI_KAFKA_PASSWORD_FILE for Kafka, else ``<secrets_dir>/<service>/<user>.password``."""
        if service == "kafka" and self.kafka_password_file is not None:
            return self.kafka_password_file.expanduser().resolve()
        return self.secrets_path / service / f"{user}.password"

    @property
    def topics(self) -> Topics:
        """Every topic and group name of this deployment, in its namespace."""
        return Topics(self.namespace)

    def redis_key(self, *parts: str) -> str:
        return ":".join(("pobi", self.namespace or "-", *parts))

    def as_environment(self) -> dict[str, str]:
        """These settings as POBI_ variables for a child process: names, ports and paths, never a password
        (passwords live in files that the settings only point at)."""
        return {f"POBI_{name.upper()}": str(value) for name, value in self.model_dump().items() if value is not None}


def default_state_dir() -> Path:
    """``$XDG_STATE_HOME/pobi``, or ``~/.local/state/pobi``: absolute, the same from every folder."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base).expanduser().resolve() / "pobi"


def load_settings(**overrides: object) -> Settings:
    """Read the settings (and the env file ``POBI_ENV_FILE`` names, if any); a bad value becomes a
    ConfigError naming the variable."""
    env_file = os.environ.get("POBI_ENV_FILE") or None
    if env_file is not None and not Path(env_file).is_file():
        raise ConfigError(f"POBI_ENV_FILE={env_file} is not a file")
    try:
        return Settings(_env_file=env_file, **overrides)  # type: ignore[call-arg,arg-type]  # validated here
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "?"
        value = first.get("input")
        raise ConfigError(
            f"setting POBI_{field.upper()}={value!r} is not valid: {first['msg']}"
        ) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
