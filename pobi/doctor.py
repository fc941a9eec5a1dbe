"""`pobi doctor`: is this deployment able to run, as the operator's settings see it? One check per line, each
OK or what is wrong and what to do. Every check runs even when an earlier one failed (a broken Redis does
not hide a missing migration), and none changes anything.
"""

from __future__ import annotations

import stat
import time
from collections.abc import Callable
from dataclasses import dataclass

from foundation.errors import PobiError
from foundation.settings import Settings

__all__ = ["Check", "run_checks"]

CLOCK_SKEW_MAX_S = 2.0  # ClickHouse's clock is read in whole seconds


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str  # what was found, or what is wrong and what to do

    def as_dict(self) -> dict[str, object]:
        return {"check": self.name, "ok": self.ok, "detail": self.detail}


def _kafka(settings: Settings) -> str:
    from foundation.kafka import require_kafka

    require_kafka(settings)
    return f"reachable at {settings.kafka_bootstrap}"


def _topics(settings: Settings) -> str:
    from topics.admin import admin_client, compare_catalogue
    from topics.subscriptions import deployment_catalogue

    states = [s for s in compare_catalogue(admin_client(settings), deployment_catalogue(settings)) if s.in_catalogue]
    missing = [s.name for s in states if s.state == "missing"]
    drifted = [f"{s.name} ({s.drift[0]})" for s in states if s.drift]
    if missing:
        raise PobiError(f"{len(missing)} missing ({', '.join(missing[:3])}…): run `pobi topics apply`")
    if drifted:
        raise PobiError(f"{len(drifted)} differ from the catalogue: {'; '.join(drifted[:3])}")
    return f"all {len(states)} catalogue topics present with their settings"


def _clickhouse(settings: Settings) -> str:
    from sinks.clickhouse.migrate import load_migrations
    from sinks.clickhouse.writer import ClickHouseWriter

    writer = ClickHouseWriter(settings, wait=False, query=True)
    db = settings.clickhouse_database
    applied: set[int] = set()
    if writer.execute(f"EXISTS TABLE {db}.schema_migrations")[0][0]:
        applied = {row[0] for row in writer.execute(f"SELECT version FROM {db}.schema_migrations")}
    wanted = {m.version for m in load_migrations()}
    if wanted - applied:
        raise PobiError(f"database {db} lacks migration(s) {', '.join(map(str, sorted(wanted - applied)))}: "
                        "run `pobi views migrate`")
    skew = abs(writer.execute("SELECT toUnixTimestamp(now())")[0][0] - time.time())  # seconds: 18.16 has no now64
    if skew > CLOCK_SKEW_MAX_S:
        raise PobiError(f"ClickHouse's clock is {skew:.1f}s away from this machine's: sync the clocks (NTP)")
    return f"database {db}: {len(applied)} migrations applied; clock within {skew:.2f}s"


def _redis(settings: Settings) -> str:
    import redis

    from foundation.connect import redis_client

    client = redis_client(settings, socket_timeout=3, socket_connect_timeout=3)
    try:
        persistence = client.info("persistence")
    except redis.RedisError as exc:
        raise PobiError(f"cannot reach Redis at {settings.redis_host}:{settings.redis_port} ({exc}); is it "
                        "running? (`pobi stack up`)") from None
    if not persistence.get("aof_enabled"):
        raise PobiError("append-only file is off: a restart would forget dedup state and the ledger "
                        "(redis-server --appendonly yes)")
    return f"reachable at {settings.redis_host}:{settings.redis_port}, append-only file on"


def _hub_key(settings: Settings) -> str:
    path = settings.secrets_path / "hub.key"
    if not path.exists():
        raise PobiError(f"{path} does not exist: `pobi subscriptions apply` makes it (or restore it)")
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise PobiError(f"{path} is readable by others (mode {mode:o}): chmod 600 {path}")
    return f"{path}, owner-only"


def _contracts(settings: Settings) -> str:
    from topics.subscriptions import ContractBook

    book = ContractBook(settings)
    try:
        book.load(5)
        valid = book.contracts()
        refused = sorted(set(book.documents) - {c.subscriber for c in valid})
    finally:
        book.close()
    if refused:
        raise PobiError(f"refused on the hub: {', '.join(refused)} (see the worker's log); fix and "
                        "`pobi subscriptions apply`")
    return f"{len(valid)} in force" if valid else "none in force (no feed is delivered)"


def _sources(settings: Settings) -> str:
    from pobi.sources import ConnectApi, connector_name
    from topics.sources import SourceBook

    book = SourceBook(settings)
    try:
        book.load(5)
        names = sorted(book.documents)
    finally:
        book.close()
    if not names:
        return "none applied"
    api = ConnectApi(settings.connect_url, timeout_s=5)
    states = {name: (api.status(connector_name(settings, name)) or {}) for name in names}
    broken = [f"{n} {(s.get('connector') or {}).get('state', 'MISSING')}" for n, s in states.items()
              if (s.get("connector") or {}).get("state") != "RUNNING"
              or any(t.get("state") != "RUNNING" for t in s.get("tasks") or [])]
    if broken:
        raise PobiError(f"not running: {', '.join(broken)}; see `pobi sources status`")
    return f"{len(names)} applied, connectors running"


def _ports(settings: Settings) -> str:
    """The ports pobi's own processes listen on: free, or held by pobi itself; held by another program, pobi
    would not start there."""
    import socket
    import ssl
    import urllib.request

    wanted = [("metrics", settings.metrics_port, "/metrics", b"pobi_"),
              ("gateway", settings.gateway_port, "/healthz", b'"ok"')]
    if settings.api_port:
        wanted.insert(1, ("object API", settings.api_port, "/health", b'"ok"'))
    tls = ssl.create_default_context(cafile=str(settings.ca_path)) if settings.secure else None
    said: list[str] = []
    foreign: list[str] = []
    for name, port, path, mark in wanted:
        with socket.socket() as probe:
            probe.settimeout(1)
            if probe.connect_ex((settings.bind_host if settings.bind_host != "0.0.0.0" else "127.0.0.1", port)):
                said.append(f"{name} {port} free")
                continue
        scheme = "https" if settings.secure else "http"
        try:
            with urllib.request.urlopen(f"{scheme}://127.0.0.1:{port}{path}", timeout=2, context=tls) as answer:
                ours = mark in answer.read(65536)
        except Exception as exc:  # 401 from a secure pobi API is still pobi
            ours = getattr(exc, "code", None) == 401
        (said if ours else foreign).append(f"{name} {port} {'held by pobi' if ours else 'held by another program'}")
    if foreign:
        raise PobiError(f"{'; '.join(foreign)}: pobi could not listen there; stop it or choose another port "
                        "(POBI_METRICS_PORT, POBI_API_PORT, POBI_GATEWAY_PORT)")
    return ", ".join(said)


# (name, check, the check it needs): a check whose dependency failed is reported as not run, not waited on
CHECKS: tuple[tuple[str, Callable[[Settings], str], str | None], ...] = (
    ("kafka", _kafka, None), ("topics", _topics, "kafka"), ("clickhouse", _clickhouse, None),
    ("redis", _redis, None), ("hub key", _hub_key, None), ("contracts", _contracts, "kafka"),
    ("sources", _sources, "kafka"), ("ports", _ports, None),
)


def run_checks(settings: Settings) -> list[Check]:
    results: list[Check] = []
    for name, check, needs in CHECKS:
        if needs is not None and not next(r.ok for r in results if r.name == needs):
            results.append(Check(name, False, f"not checked: {needs} is not reachable"))
            continue
        try:
            results.append(Check(name, True, check(settings)))
        except PobiError as exc:
            results.append(Check(name, False, str(exc)))
        except Exception as exc:  # a driver's own error: named, one line, never a traceback
            results.append(Check(name, False, f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
                                 if str(exc) else type(exc).__name__))
    return results
