"""PostgreSQL from Debian's packages: the example department database that change data capture reads.

It runs with ``wal_level=logical`` so Debezium can decode its write-ahead log, listens on TCP only (no Unix
socket in a folder another user would have to own), and holds one department database, ``public_security``,
whose table ``hukou.residents`` uses the column names a household register really uses. Its user
``dept_public_security`` may log in and replicate; its password is an owner-only file under the secrets
folder, as every other password of the stack.

PostgreSQL refuses to run as root. Started by root (as in CI), the server runs as the ``postgres`` user that
Debian's package creates, owning only its data folder; it keeps the one capability it needs to reach that
folder inside the state folder (``CAP_DAC_READ_SEARCH``: traverse and read), so the state stays where the
operator put it rather than moving under ``/var/lib``.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from pathlib import Path

import psycopg
from psycopg import sql

from foundation.errors import StackError
from foundation.secrets import ensure_password
from pobi.stack.service import Service

__all__ = ["DEPARTMENT_DATABASE", "DEPARTMENT_USER", "PostgresService", "admin_connection", "department_dsn"]

ADMIN = "postgres"
DEPARTMENT_DATABASE = "public_security"
DEPARTMENT_USER = "dept_public_security"
_SERVER_USER = "postgres"

# 公民身份号码, 姓名, 性别代码 (GB/T 2261.1), 出生日期, 行政区划代码, 住址, 联系电话, 更新时间
_DEPARTMENT_SCHEMA = """
CREATE SCHEMA IF NOT EXISTS hukou;
CREATE TABLE IF NOT EXISTS hukou.residents (
    gmsfhm  varchar(18) PRIMARY KEY,
    xm      varchar(50),
    xbdm    char(1),
    csrq    date,
    xzqh    char(6),
    zz      varchar(200),
    lxdh    varchar(20),
    gxsj    timestamp NOT NULL DEFAULT now()
);
COMMENT ON TABLE hukou.residents IS '常住人口 (example household register for pobi''s change data capture)';
"""


def _server_bin() -> Path | None:
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"),
                      key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
    return versions[-1].parent if versions else None


def admin_connection(settings_host: str, port: int, password: str, dbname: str = "postgres") -> psycopg.Connection:
    return psycopg.connect(host=settings_host, port=port, user=ADMIN, password=password, dbname=dbname,
                           connect_timeout=3, autocommit=True)


def department_dsn(host: str, port: int, password: str) -> str:
    return psycopg.conninfo.make_conninfo(host=host, port=port, user=DEPARTMENT_USER, password=password,
                                          dbname=DEPARTMENT_DATABASE, connect_timeout=3)


class PostgresService(Service):
    name = "postgres"
    in_secure_profile = False  # the department database feeds Connect, which runs in the plaintext profile only

    @property
    def host(self) -> str:
        return self.settings.postgres_host

    @property
    def ports(self) -> list[int]:
        return [self.settings.postgres_port]

    def missing_packages(self) -> list[str]:
        return [] if _server_bin() else ["postgresql"]

    @property
    def data(self) -> Path:
        return self.home / "data"

    def _as_server_user(self) -> list[str]:
        """The prefix that runs a command as the ``postgres`` user when we are root, else nothing."""
        if os.geteuid() != 0:
            return []
        try:
            pwd.getpwnam(_SERVER_USER)
        except KeyError:
            raise StackError("PostgreSQL will not run as root and there is no `postgres` user; "
                             "apt-get install postgresql creates it") from None
        return ["setpriv", f"--reuid={_SERVER_USER}", f"--regid={_SERVER_USER}", "--init-groups",
                "--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search", "--"]

    def prepare(self) -> None:
        binary = _server_bin()
        if binary is None:
            raise StackError("PostgreSQL's server is not installed: apt-get install postgresql")
        self._bin = binary
        ensure_password(self.settings, "postgres", ADMIN)
        ensure_password(self.settings, "postgres", DEPARTMENT_USER)
        if (self.data / "PG_VERSION").exists():
            return
        self.data.mkdir(parents=True, exist_ok=True, mode=0o700)
        if os.geteuid() == 0:
            shutil.chown(self.data, _SERVER_USER, _SERVER_USER)
        result = subprocess.run(
            [*self._as_server_user(), str(binary / "initdb"), "-D", str(self.data), "-U", ADMIN,
             "--auth=scram-sha-256", f"--pwfile={self.settings.password_path('postgres', ADMIN)}",
             "-E", "UTF8", "--locale=C.UTF-8"],
            capture_output=True, text=True, check=False, cwd=self.home,
        )
        if result.returncode != 0:
            shutil.rmtree(self.data, ignore_errors=True)
            raise StackError(f"initdb failed: {(result.stderr or result.stdout).strip()[:300]}")

    def command(self) -> list[str]:
        return [*self._as_server_user(), str(self._bin / "postgres"), "-D", str(self.data),
                "-c", f"listen_addresses={self.host}", "-c", f"port={self.settings.postgres_port}",
                "-c", "unix_socket_directories=", "-c", "wal_level=logical",
                "-c", "max_replication_slots=10", "-c", "max_wal_senders=10",
                "-c", "shared_buffers=128MB", "-c", "logging_collector=off"]

    def is_ready(self) -> bool:
        try:
            password = ensure_password(self.settings, "postgres", ADMIN)
            with admin_connection(self.host, self.settings.postgres_port, password) as conn:
                conn.execute("SELECT 1")
        except (psycopg.Error, OSError):
            return False
        return True

    def when_ready(self) -> None:
        """The department's user, database and table; idempotent, so a restart changes nothing."""
        admin_password = ensure_password(self.settings, "postgres", ADMIN)
        dept_password = ensure_password(self.settings, "postgres", DEPARTMENT_USER)
        port = self.settings.postgres_port
        try:
            with admin_connection(self.host, port, admin_password) as conn:
                exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (DEPARTMENT_USER,)).fetchone()
                verb = "ALTER" if exists else "CREATE"
                conn.execute(sql.SQL("{} ROLE {} LOGIN REPLICATION PASSWORD {}").format(
                    sql.SQL(verb), sql.Identifier(DEPARTMENT_USER),
                    sql.Literal(dept_password)))
                if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                    (DEPARTMENT_DATABASE,)).fetchone():
                    conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(
                        sql.Identifier(DEPARTMENT_DATABASE), sql.Identifier(DEPARTMENT_USER)))
            with psycopg.connect(department_dsn(self.host, port, dept_password), autocommit=True) as conn:
                conn.execute(_DEPARTMENT_SCHEMA)
        except psycopg.Error as exc:
            self.stop()
            raise StackError(f"creating the example department database failed: {exc}".splitlines()[0]) from None
