"""The local stack as a whole: bring every service up, report on it, take it down again."""

from __future__ import annotations

import logging

from pobi.errors import StackError
from pobi.settings import Settings
from pobi.stack.clickhouse import ClickHouseService
from pobi.stack.install import apt_install
from pobi.stack.kafka import KafkaService
from pobi.stack.prometheus import PrometheusService
from pobi.stack.redis import RedisService
from pobi.stack.service import Service, ServiceStatus

__all__ = ["Stack"]

logger = logging.getLogger(__name__)


class Stack:
    """Kafka, ClickHouse, Redis and Prometheus as local processes under ``settings.stack_dir``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.services: list[Service] = [
            KafkaService(settings), ClickHouseService(settings), RedisService(settings),
            PrometheusService(settings),
        ]

    def service(self, name: str) -> Service:
        for svc in self.services:
            if svc.name == name:
                return svc
        raise StackError(f"unknown service {name!r}; the stack has {', '.join(s.name for s in self.services)}")

    def status(self) -> list[ServiceStatus]:
        return [svc.status() for svc in self.services]

    def up(self, report=print) -> list[ServiceStatus]:
        """Start what is not running. Idempotent; if one service fails, the ones this call started stop."""
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
        return self.status()

    def down(self, report=print) -> None:
        for svc in reversed(self.services):
            if svc.stop():
                report(f"{svc.name:<11} stopped")
            else:
                report(f"{svc.name:<11} was not running")
