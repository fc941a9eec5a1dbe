"""The secure profile's fixed users, and the settings the stack itself uses to reach its own services.

``pobi stack up --secure`` writes ``<stack_dir>/secure.env``: the administrator's settings (user names and the
locations of files; never a password) for an operator to load with ``set -a; . ~/.local/state/pobi/secure.env; set +a``.
"""

from __future__ import annotations

from pathlib import Path

from foundation.settings import Settings

__all__ = ["CLICKHOUSE_READER", "CLICKHOUSE_WRITER", "KAFKA_ADMIN", "REDIS_USER", "as_stack_admin", "write_cluster_env",
           "write_env_file"]

KAFKA_ADMIN = "admin"
CLICKHOUSE_WRITER = "pobi_writer"
CLICKHOUSE_READER = "pobi_reader"
REDIS_USER = "pobi"


def as_stack_admin(settings: Settings) -> Settings:
    """The settings of the secure stack's administrator (Kafka super user, ClickHouse writer and reader)."""
    return settings.model_copy(update={
        "security": "secure", "kafka_user": KAFKA_ADMIN, "kafka_password_file": None,
        "clickhouse_user": CLICKHOUSE_WRITER, "clickhouse_query_user": CLICKHOUSE_READER, "redis_user": REDIS_USER,
    })


def write_env_file(settings: Settings) -> Path:
    path = settings.stack_path / "secure.env"
    lines = [
        "# pobi's secure local stack, as its administrator: user names and file locations only;",
        "# every password stays in its owner-only file under POBI_SECRETS_DIR.",
        "POBI_SECURITY=secure",
        f"POBI_TLS_CA_FILE={settings.ca_path}",
        f"POBI_SECRETS_DIR={settings.secrets_path}",
        f"POBI_KAFKA_USER={KAFKA_ADMIN}",
        f"POBI_CLICKHOUSE_USER={CLICKHOUSE_WRITER}",
        f"POBI_CLICKHOUSE_QUERY_USER={CLICKHOUSE_READER}",
        f"POBI_REDIS_USER={REDIS_USER}",
        "",
    ]
    path.write_text("\n".join(lines))
    return path


def write_cluster_env(settings: Settings) -> Path:
    """``<stack_dir>/cluster.env``: how other commands reach a local cluster and replicate pobi's topics."""
    path = settings.stack_path / "cluster.env"
    path.write_text("\n".join([
        "# pobi's local Kafka cluster: load with  set -a; . <this file>; set +a",
        f"POBI_KAFKA_BOOTSTRAP={settings.kafka_bootstrap}",
        f"POBI_KAFKA_REPLICATION={settings.kafka_replication}",
        "",
    ]))
    return path
