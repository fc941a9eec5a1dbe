"""The worker process: a Faust app hosting pobi's stages.

Faust gives the worker its life cycle: signal handling (Ctrl-C and SIGTERM stop it cleanly), logging,
supervision, and the event loop that later low-volume agents run on. Each batch stage runs on its own
thread as a Faust service (see ``streams.runner`` for why the high-volume stages are not Faust
streams), and a stage that fails stops the whole worker with a non-zero exit, never quietly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from concurrent.futures import Future

import faust
from mode import Service

from foundation.connect import faust_credentials
from foundation.errors import PobiError
from foundation.settings import Settings
from pobi.api import MAX_IN_FLIGHT, ObjectApi
from pobi.console.access import ConsoleUsers, Sessions
from pobi.console.desk import ReplayDesk
from pobi.console.readlog import ReadLog
from pobi.worker import OWN_PROCESS
from pobi.worker.spec import StageSpec, run_copies
from streams.agents.dead_letters import DeadLetterWatch

__all__ = ["Worker", "create_app"]

logger = logging.getLogger(__name__)
STOP_GRACE_S = 20.0  # how long SIGTERM waits for a stage to finish its batch


class StageService(Service):
    """Runs a stage (one copy on a thread, or in child processes: several copies, or one that needs a core of its
    own) for as long as the app runs."""

    def __init__(self, spec: StageSpec, copies: int = 1, *, own_process: bool = False, **kwargs: object) -> None:
        """``own_process``: run even a single copy in a child process (a stage whose work needs a core)."""
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.spec = spec
        self.copies = copies
        self.own_process = own_process
        self.failure: BaseException | None = None
        self._stop_requested = threading.Event()
        self._done: Future[None] | None = None

    @property
    def shortlabel(self) -> str:
        return f"stage:{self.spec.stage}"

    async def on_start(self) -> None:
        loop = asyncio.get_running_loop()
        self._done = Future()
        thread = threading.Thread(target=self._run, args=(loop,), name=self.shortlabel, daemon=True)
        thread.start()

    def _run(self, loop: asyncio.AbstractEventLoop) -> None:
        assert self._done is not None
        try:
            run_copies(self.spec, self.copies, self._stop_requested, children=self.own_process)
        except BaseException as exc:
            self.failure = exc
            logger.error("stage %s stopped: %s", self.spec.stage, exc)
            if not loop.is_closed():  # the worker may be shutting down already
                asyncio.run_coroutine_threadsafe(self.crash(exc), loop)
        finally:
            self._done.set_result(None)

    async def on_stop(self) -> None:
        """Ask the stage to stop after its batch; past the grace period (a stage waiting out an unreachable
        Redis or ClickHouse does not look up) leave it: its batch's offsets were not stored, so the next worker
        reads the batch again, and the worker exits instead of hanging on SIGTERM."""
        self._stop_requested.set()
        if self._done is not None:
            try:
                await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(self._done)), STOP_GRACE_S)
            except TimeoutError:
                logger.error("stage %s did not stop within %.0f s; the worker exits without it (its last batch "
                             "was not committed and will be read again)", self.spec.stage, STOP_GRACE_S)


class ApiService(Service):
    """The object-services HTTP API (``pobi.api``) for as long as the worker runs."""

    def __init__(self, settings: Settings, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.settings = settings
        self.api: ObjectApi | None = None
        self.reads: ReadLog | None = None

    async def on_start(self) -> None:
        from pobi.objects import object_service

        tls, token = None, None
        if self.settings.secure:  # personal data: HTTPS and a bearer token only
            from foundation.secrets import ensure_password
            from pobi.stack.tls import tls_files

            files = tls_files(self.settings)
            tls = (str(files.server_cert), str(files.server_key))
            token = ensure_password(self.settings, "api", "token")
        service = object_service(self.settings, connections=MAX_IN_FLIGHT)
        self.reads = ReadLog(self.settings)
        self.reads.setup()
        users, sessions = None, None
        if self.settings.secure:  # console users log in; a session is signed with a key from the hub key
            from foundation.secrets import hub_key

            try:
                users, sessions = ConsoleUsers(self.settings), Sessions(hub_key(self.settings))
            except PobiError as exc:  # no hub key before the first contract: programs only, until then
                logger.warning("console logins are off: %s", exc)
        self.api = ObjectApi(service, self.settings.bind_host, self.settings.api_port, tls=tls, token=token,
                             reads=self.reads, desk=ReplayDesk(self.settings), users=users, sessions=sessions)
        self.api.start()
        logger.info("object services on %s://127.0.0.1:%d/", "https" if tls else "http", self.api.port)

    async def on_stop(self) -> None:
        if self.api is not None:
            self.api.stop()
        if self.reads is not None:
            self.reads.close()


class Worker:
    """``pobi worker``: the Faust app with its stage services; ``failures`` after it returns."""

    def __init__(self, settings: Settings, stages: list[tuple[StageSpec, int]]) -> None:
        """``stages``: each stage with how many copies of it to run."""
        self.app = create_app(settings)
        self.dead_letters = DeadLetterWatch(self.app, settings)
        busy = [spec for spec, _copies in stages if spec.stage in OWN_PROCESS]
        self.services = [StageService(spec, copies, own_process=len(busy) > 1 and spec in busy, loop=None)
                         for spec, copies in stages]
        for service in self.services:
            self.app.service(service)  # type: ignore[arg-type]  # Faust accepts instances as well as classes
        if settings.api_port:
            self.app.service(ApiService(settings, loop=None))  # type: ignore[arg-type]
        self.settings = settings

    def run(self, loglevel: str = "warn") -> list[BaseException]:
        if self.settings.metrics_port:
            serve_metrics(self.settings.bind_host, self.settings.metrics_port, self.settings.namespace)
        worker = faust.Worker(self.app, loglevel=loglevel, quiet=True, redirect_stdouts=False)
        with contextlib.suppress(SystemExit):  # mode's worker always ends with SystemExit(0)
            worker.execute_from_commandline()
        failures = [s.failure for s in self.services if s.failure is not None]
        if worker.crash_reason is not None and worker.crash_reason not in failures:
            failures.append(worker.crash_reason)
        return failures


def serve_metrics(host: str, port: int, namespace: str) -> None:
    """/metrics on host:port: the sum of every process's values in multiprocess mode, or this process's, each
    sample labelled with the deployment's namespace."""
    import os

    from prometheus_client import REGISTRY, start_http_server

    from monitoring.metrics import NamespacedRegistry, multiprocess_registry

    inner = multiprocess_registry() if os.environ.get("PROMETHEUS_MULTIPROC_DIR") else REGISTRY
    try:
        start_http_server(port, addr=host, registry=NamespacedRegistry(inner, namespace).registry())
    except OSError as exc:
        raise PobiError(f"cannot serve metrics on {host}:{port}: {exc.strerror or exc}; is another pobi worker "
                        "running? (or set POBI_METRICS_PORT to a free port)") from None
    logger.info("metrics on http://%s:%d/metrics", host, port)


def create_app(settings: Settings) -> faust.App:
    return faust.App(
        settings.topics.group("worker"),
        broker=f"kafka://{settings.kafka_bootstrap}",
        broker_credentials=faust_credentials(settings),
        topic_allow_declare=False,  # topics come from the catalogue; the worker may not create any
        web_enabled=False,
        topic_disable_leader=True,  # no leader election topic: pobi's stages coordinate through Kafka groups
        datadir=str(settings.stack_path / "worker"),
        consumer_auto_offset_reset="earliest",
        # Faust's default session timeout (60 s) would hold a restarted worker that long after a crash
        broker_session_timeout=10.0,
        broker_heartbeat_interval=3.0,
    )
