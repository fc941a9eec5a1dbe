"""The secure stack for tests: a second local stack on its own ports and folder, started once per session
with `pobi stack up --secure`, and the settings of each party that connects to it."""

from __future__ import annotations

from pathlib import Path

from foundation.settings import Settings, load_settings
from pobi.stack.profile import as_stack_admin
from topics.access import WORKER_USER, department_user
from topics.catalogue import load_catalogue

__all__ = ["as_department", "as_party", "as_worker", "secure_settings", "settings_env"]

SECURE_PORTS = {"kafka_bootstrap": "127.0.0.1:19392", "kafka_controller_port": 19393, "clickhouse_port": 19300,
                "clickhouse_http_port": 19323, "redis_port": 19379, "prometheus_port": 19390, "metrics_port": 19464,
                "api_port": 0, "registry_port": 19381, "registry_url": "https://127.0.0.1:19381"}


def secure_settings(root: Path) -> Settings:
    """The administrator of a secure stack kept under ``root``."""
    stack = root / "stack"
    return as_stack_admin(load_settings(stack_dir=stack, secrets_dir=stack / "secrets", **SECURE_PORTS))


def as_party(settings: Settings, kafka_user: str) -> Settings:
    """The same deployment as another Kafka user; on the plaintext stack there is only one party."""
    return settings.model_copy(update={"kafka_user": kafka_user}) if settings.secure else settings


def as_worker(settings: Settings) -> Settings:
    return as_party(settings, WORKER_USER)


def as_department(settings: Settings, dataset: str) -> Settings:
    """The department the catalogue names as owner of ``dataset``."""
    [owner] = [t.owner for t in load_catalogue().topics if t.name == f"ingest.{dataset}"]
    return as_party(settings, department_user(owner))


def settings_env(settings: Settings) -> dict[str, str]:
    return settings.as_environment()
