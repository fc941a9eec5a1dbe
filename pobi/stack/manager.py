"""The local stack as a whole: bring every service up, report on it, take it down again."""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor

from foundation.errors import StackError
from foundation.settings import Settings
from pobi.stack.clickhouse import ClickHouseService
from pobi.stack.connect import ConnectService
from pobi.stack.install import apt_install
from pobi.stack.kafka import KafkaService, cluster_bootstrap
from pobi.stack.postgres import PostgresService
from pobi.stack.profile import as_stack_admin, write_cluster_env, write_env_file
from pobi.stack.prometheus import PrometheusService
from pobi.stack.redis import RedisService
from pobi.stack.registry import RegistryService
from pobi.stack.service import Service, ServiceStatus

__all__ = ["CLUSTER_SIZES", "Stack"]

logger = logging.getLogger(__name__)
SERVICES: tuple[type[Service], ...] = (KafkaService, ClickHouseService, RedisService, PrometheusService,
                                       PostgresService, ConnectService, RegistryService)
CLUSTER_SIZES = (1, 3)  # one broker, or three: a KRaft majority that survives the loss of any one


class Stack:
    """Kafka, ClickHouse, Redis, Prometheus, PostgreSQL (a department's database), Kafka Connect with Debezium
    and pobi's schema registry as local processes under ``settings.stack_dir``.

    ``secure`` (or POBI_SECURITY=secure) asks for the secure profile. Without either, a stack that is running
    is inspected in the profile it was started in (``<stack_dir>/profile``).

    ``brokers`` (1 or 3) asks for that many Kafka nodes; without it, a running stack's own count
    (``<stack_dir>/brokers``). With three, every service of the stack reaches all three nodes and pobi's topics
    are replicated three times (``cluster.env`` says so to other commands). ``only`` names the services to run
    (``kafka`` stands for all its nodes), for a harness that needs a part of the stack."""

    def __init__(self, settings: Settings, *, secure: bool = False, brokers: int | None = None,
                 only: Collection[str] | None = None) -> None:
        self.requested = "secure" if secure or settings.secure else "plaintext"
        self.running_profile = self._recorded(settings, "profile")
        self.running_brokers = int(self._recorded(settings, "brokers") or 1)
        self.brokers = brokers or self.running_brokers
        if self.brokers not in CLUSTER_SIZES:
            raise StackError(f"--brokers must be one of {', '.join(map(str, CLUSTER_SIZES))}, not {self.brokers}")
        inspect_secure = self.requested == "secure" or self.running_profile == "secure"
        if inspect_secure and self.brokers > 1:
            raise StackError("the secure profile runs one broker for now; a secure cluster needs its SCRAM users "
                             "formatted on every node and was not tested")
        if inspect_secure:
            settings = as_stack_admin(settings)
        if self.brokers > 1:
            settings = settings.model_copy(update={"kafka_bootstrap": cluster_bootstrap(settings, self.brokers),
                                                   "kafka_replication": self.brokers})
        self.settings = settings
        self.services: list[Service] = []
        for kind in SERVICES:
            if (inspect_secure and not kind.in_secure_profile) or (only is not None and kind.name not in only):
                continue
            if kind is KafkaService:
                self.services += [KafkaService(settings, n, self.brokers) for n in range(1, self.brokers + 1)]
            else:
                self.services.append(kind(settings))

    @staticmethod
    def _recorded(settings: Settings, what: str) -> str | None:
        """What ``<stack_dir>/<what>`` says of the stack that is running (its profile, its brokers), if one is."""
        path = settings.stack_path / what
        nodes = [KafkaService(settings, n, size) for size in CLUSTER_SIZES for n in range(1, size + 1)]
        running = [kind(settings) for kind in SERVICES if kind is not KafkaService] + nodes
        if not path.exists() or not any(svc.pid_path.exists() for svc in running):
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
        if self.running_profile is not None and self.running_brokers != self.brokers:
            raise StackError(f"the local stack is running with {self.running_brokers} broker(s); "
                             f"`pobi stack down` before starting it with {self.brokers}")
        self.settings.stack_path.mkdir(parents=True, exist_ok=True)
        (self.settings.stack_path / "profile").write_text(self.requested)
        (self.settings.stack_path / "brokers").write_text(str(self.brokers))
        for svc in self.services:  # before anything is installed or started
            if svc.our_pid() is None:
                svc.refuse_foreign_ports()
        missing = sorted({pkg for svc in self.services if svc.our_pid() is None
                          for pkg in svc.missing_packages()})
        apt_install(missing, self.settings.stack_path / "install.log")
        started: list[Service] = []
        launched: dict[str, subprocess.Popen[bytes]] = {}
        try:
            for svc in self.services:
                if svc.name not in launched:
                    current = svc.status()
                    if current.state == "running":
                        report(f"{svc.name:<11} already running at {svc.address} (pid {current.pid})")
                        continue
                    if current.state == "unhealthy":
                        svc.stop()
                    for member in self._quorum_of(svc):  # none of them answers before a majority runs
                        if member is svc or member.our_pid() is None:
                            launched[member.name] = member.launch()
                            started.append(member)
                pid = svc.await_ready(launched.pop(svc.name))
                report(f"{svc.name:<11} started at {svc.address} (pid {pid})")
        except BaseException:
            for svc in reversed(started):
                svc.stop()
            raise
        if self.requested == "secure":
            report(f"secure profile: TLS everywhere, plaintext ports closed; administrator settings in "
                   f"{write_env_file(self.settings)} (user names and file locations, no passwords)")
        if self.brokers > 1:
            report(f"{self.brokers} brokers: load {write_cluster_env(self.settings)} for other commands "
                   f"(POBI_KAFKA_BOOTSTRAP lists every node, pobi's topics replicated {self.brokers} times)")
        return self.status()

    def _quorum_of(self, svc: Service) -> list[Service]:
        return [svc] if svc.quorum is None else [s for s in self.services if s.quorum == svc.quorum]

    def down(self, report: Callable[[str], object] = print) -> None:
        """Stop every service, the last started first; a quorum's members together (one by one, the last of
        them would wait for a majority that is gone)."""
        done: set[str] = set()
        for svc in reversed(self.services):
            if svc.name in done:
                continue
            members = self._quorum_of(svc)
            with ThreadPoolExecutor(len(members)) as pool:
                stopped = list(pool.map(lambda s: s.stop(), members))
            for member, was_running in zip(members, stopped, strict=True):
                done.add(member.name)
                report(f"{member.name:<11} {'stopped' if was_running else 'was not running'}")
