"""The local stack as a whole: bring every service up, report on it, take it down again."""

from __future__ import annotations

import logging
from collections.abc import Callable

from foundation.errors import StackError
from foundation.settings import Settings
from pobi.stack.clickhouse import ClickHouseService
from pobi.stack.connect import ConnectService
from pobi.stack.install import apt_install
from pobi.stack.kafka import KafkaService
from pobi.stack.postgres import PostgresService
from pobi.stack.profile import as_stack_admin, write_env_file
from pobi.stack.prometheus import PrometheusService
from pobi.stack.redis import RedisService
from pobi.stack.registry import RegistryService
from pobi.stack.service import Service, ServiceStatus

__all__ = ["Stack"]

logger = logging.getLogger(__name__)
SERVICES: tuple[type[Service], ...] = (KafkaService, ClickHouseService, RedisService, PrometheusService,
                                       PostgresService, ConnectService, RegistryService)


class Stack:
    """Kafka, ClickHouse, Redis, Prometheus, PostgreSQL (a department's database), Kafka Connect with Debezium
    and pobi's schema registry as local processes under ``settings.stack_dir``.

    ``secure`` (or POBI_SECURITY=secure) asks for the secure profile. Without either, a stack that is running
    is inspected in the profile it was started in (``<stack_dir>/profile``)."""

    def __init__(self, settings: Settings, *, secure: bool = False) -> None:
        self.requested = "secure" if secure or settings.secure else "plaintext"
        self.running_profile = self._recorded_profile(settings)
        inspect_secure = self.requested == "secure" or self.running_profile == "secure"
        if inspect_secure:
            settings = as_stack_admin(settings)
        self.settings = settings
        self.services: list[Service] = [kind(settings) for kind in SERVICES
                                        if kind.in_secure_profile or not inspect_secure]

    @staticmethod
    def _recorded_profile(settings: Settings) -> str | None:
        """The profile of the stack that is running, if one is."""
        path = settings.stack_path / "profile"
        if not path.exists() or not any(kind(settings).pid_path.exists() for kind in SERVICES):
            return None
        return path.read_text().strip() or None

    def service(self, name: str) -> Service:
        for svc in self.services:
            if svc.name == name:
                return svc
        raise StackError(f"unknown service {name!r}; the stack has {', '.join(s.name for s in self.services)}")

    def status(self) -> list[ServiceStatus]:
        return [svc.status() for svc in self.services]

    def up(self, report: Callable[[str], object] = print) -> list[ServiceStatus]:
        """Start what is not running. Idempotent; if one service fails, the ones this call started stop."""
        if self.running_profile not in (None, self.requested):
            raise StackError(f"the local stack is running in the {self.running_profile} profile; "
                             f"`pobi stack down` before starting it {self.requested}")
        self.settings.stack_path.mkdir(parents=True, exist_ok=True)
        (self.settings.stack_path / "profile").write_text(self.requested)
        for svc in self.services:  # before anything is installed or started
            if svc.our_pid() is None:
                svc.refuse_foreign_ports()
        missing = sorted({pkg for svc in self.services if svc.our_pid() is None
                          for pkg in svc.missing_packages()})
        apt_install(missing, self.settings.stack_path / "install.log")
        started: list[Service] = []
        try:
            for svc in self.services:
                current = svc.status()
                if current.state == "running":
                    report(f"{svc.name:<11} already running at {svc.address} (pid {current.pid})")
                    continue
                if current.state == "unhealthy":
                    svc.stop()
                pid = svc.start()
                started.append(svc)
                report(f"{svc.name:<11} started at {svc.address} (pid {pid})")
        except BaseException:
            for svc in reversed(started):
                svc.stop()
            raise
        if self.requested == "secure":
            report(f"secure profile: TLS everywhere, plaintext ports closed; administrator settings in "
                   f"{write_env_file(self.settings)} (user names and file locations, no passwords)")
        return self.status()

    def down(self, report: Callable[[str], object] = print) -> None:
        for svc in reversed(self.services):
            if svc.stop():
                report(f"{svc.name:<11} stopped")
            else:
                report(f"{svc.name:<11} was not running")
