"""One local service of the stack: how it is installed, started, probed and stopped.

A service owns a folder under the stack directory with its config, data, log and a ``pid`` file. Only
processes whose pid file we wrote are ever stopped, so ``stack down`` never touches a foreign process.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

from foundation.errors import StackError
from foundation.settings import Settings

__all__ = ["Service", "ServiceStatus", "port_is_open"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    state: str  # running | stopped | foreign (port held by a process we did not start) | unhealthy
    address: str
    pid: int | None
    log: str

    def as_dict(self) -> dict[str, object]:
        return {"name": self.name, "state": self.state, "address": self.address, "pid": self.pid,
                "log": self.log}


def port_is_open(host: str, port: int, timeout: float = 0.3) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        return sock.connect_ex((host, port)) == 0


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie still answers kill(0); it is not running
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return False
    return True


class Service(ABC):
    """A server process that the stack starts from a Debian package or downloaded jars."""

    name: str
    in_secure_profile = True  # whether `stack up --secure` runs it
    quorum: str | None = None  # services of one quorum are launched together, then awaited (Kafka's nodes)

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.home = settings.stack_path / self.name

    # -- what each service says about itself ---------------------------------------------------------
    @property
    @abstractmethod
    def host(self) -> str: ...

    @property
    @abstractmethod
    def ports(self) -> list[int]:
        """Every port the service listens on; the first is its address."""

    @abstractmethod
    def missing_packages(self) -> list[str]:
        """Debian packages that must be installed before the service can start."""

    def prepare(self) -> None:  # noqa: B027 - optional hook
        """Write config, download jars, format storage: anything needed before the first start."""

    @abstractmethod
    def command(self) -> list[str]: ...

    def environment(self) -> dict[str, str] | None:
        """The process's environment; None: this one's."""
        return None

    @abstractmethod
    def is_ready(self) -> bool:
        """A real request to the service (metadata, SELECT 1, PING, /-/ready) that succeeds."""

    def when_ready(self) -> None:  # noqa: B027 - optional hook
        """What to do once the service answers, each time it starts (create a database's users); raise
        StackError, having stopped the service, if that fails."""

    # -- shared behaviour ----------------------------------------------------------------------------
    @property
    def address(self) -> str:
        return f"{self.host}:{self.ports[0]}"

    @property
    def log_path(self) -> Path:
        return self.home / "service.log"

    @property
    def pid_path(self) -> Path:
        return self.home / "pid"

    def our_pid(self) -> int | None:
        """The pid of the process we started, if it is still alive."""
        try:
            pid = int(self.pid_path.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        return pid if _process_alive(pid) else None

    def status(self) -> ServiceStatus:
        pid = self.our_pid()
        if pid is not None:
            state = "running" if self.is_ready() else "unhealthy"
        elif any(port_is_open(self.host, p) for p in self.ports):
            state = "foreign"
        else:
            state = "stopped"
        return ServiceStatus(self.name, state, self.address, pid, str(self.log_path))

    def refuse_foreign_ports(self) -> None:
        """StackError when a port of this service is held by a process pobi did not start."""
        taken = [p for p in self.ports if port_is_open(self.host, p)]
        if taken:
            raise StackError(
                f"{self.name}: {self.host}:{taken[0]} is already in use by a process pobi did not start; "
                "stop it or choose another port in the POBI_ settings"
            )

    def start(self) -> int:
        """Start the process and wait until it answers; on failure stop it and raise StackError."""
        return self.await_ready(self.launch())

    def launch(self) -> subprocess.Popen[bytes]:
        """Start the process without waiting for it to answer."""
        self.refuse_foreign_ports()
        self.home.mkdir(parents=True, exist_ok=True)
        self.prepare()
        with self.log_path.open("ab") as log:
            proc = subprocess.Popen(
                self.command(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                cwd=self.home, start_new_session=True, env=self.environment(),
            )
        self.pid_path.write_text(str(proc.pid))
        return proc

    def await_ready(self, proc: subprocess.Popen[bytes]) -> int:
        """Wait until the launched process answers; on failure stop it and raise StackError."""
        deadline = time.monotonic() + self.settings.ready_timeout_s
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                self._forget()
                raise StackError(
                    f"{self.name} exited with code {proc.returncode} while starting; see {self.log_path}"
                )
            if self.is_ready():
                self.when_ready()
                return proc.pid
            time.sleep(0.5)
        self.stop()
        raise StackError(
            f"{self.name} did not answer within {self.settings.ready_timeout_s:.0f}s; see {self.log_path}"
        )

    def stop(self, timeout_s: float = 30.0) -> bool:
        """Stop the process we started (SIGTERM, then SIGKILL). Returns whether one was running."""
        pid = self.our_pid()
        if pid is None:
            self._forget()
            return False
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and _process_alive(pid):
            time.sleep(0.2)
        if _process_alive(pid):
            logger.warning("%s did not stop in %.0fs; killing it", self.name, timeout_s)
        # whatever is left of the process group (helpers the server forked) goes too
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
        # reap the child if this process is its parent (stack up and down in one process, as tests do)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        # a process whose main thread is gone may still hold its ports while its other threads exit (a JVM)
        deadline = time.monotonic() + 10
        while any(port_is_open(self.host, p) for p in self.ports) and time.monotonic() < deadline:
            time.sleep(0.1)
        self._forget()
        return True

    def _forget(self) -> None:
        self.pid_path.unlink(missing_ok=True)
