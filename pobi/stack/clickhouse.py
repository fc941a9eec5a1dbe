"""ClickHouse from Debian's ``clickhouse-server`` package, run as a plain process with its own data dir.

In the secure profile it runs from a config of its own: TLS only (native ``tcp_port_secure`` and HTTPS on the
usual ports; the plaintext ports closed), and two users with passwords instead of the passwordless
``default``: a writer for migrations and the sink, a read-only user for the object services."""

from __future__ import annotations

import base64
import hashlib
import ssl
import urllib.request
from xml.sax.saxutils import escape

from foundation.connect import read_password
from foundation.errors import PobiError
from foundation.secrets import ensure_password, replace_private
from pobi.stack.profile import CLICKHOUSE_READER, CLICKHOUSE_WRITER
from pobi.stack.service import Service
from pobi.stack.tls import ensure_certificates

__all__ = ["ClickHouseService"]

_PACKAGED_CONFIG = "/etc/clickhouse-server/config.xml"

_SECURE_CONFIG = """<yandex>
    <logger><level>warning</level><log>{home}/server.log</log><errorlog>{home}/error.log</errorlog></logger>
    <listen_host>{host}</listen_host>
    <tcp_port_secure>{tcp_port}</tcp_port_secure>
    <https_port>{http_port}</https_port>
    <openSSL>
        <server>
            <certificateFile>{cert}</certificateFile>
            <privateKeyFile>{key}</privateKeyFile>
            <verificationMode>none</verificationMode>
            <loadDefaultCAFile>false</loadDefaultCAFile>
            <cacheSessions>true</cacheSessions>
            <disableProtocols>sslv2,sslv3,tlsv1,tlsv1_1</disableProtocols>
            <preferServerCiphers>true</preferServerCiphers>
        </server>
    </openSSL>
    <max_connections>256</max_connections>
    <keep_alive_timeout>3</keep_alive_timeout>
    <mark_cache_size>1073741824</mark_cache_size>
    <path>{data}/</path>
    <tmp_path>{data}/tmp/</tmp_path>
    <user_files_path>{data}/user_files/</user_files_path>
    <format_schema_path>{data}/format_schemas/</format_schema_path>
    <users_config>{home}/secure-users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
</yandex>
"""

# Sized for the 2-core, 24 GiB machines pobi runs on beside Kafka, Redis and the worker: one query may use
# 2 GB and all of them together 6 GB, so an expensive query fails with ClickHouse's "memory limit exceeded"
# (one line from pobi) instead of the kernel killing the server.
# docker-compose's ClickHouse has the same figures (sinks/clickhouse/server/*-memory.xml).
MAX_QUERY_MEMORY, MAX_SERVER_MEMORY = 2_000_000_000, 6_000_000_000
_MEMORY_LIMITS = (f"<max_memory_usage>{MAX_QUERY_MEMORY}</max_memory_usage>"
                  f"<max_memory_usage_for_all_queries>{MAX_SERVER_MEMORY}</max_memory_usage_for_all_queries>")

_PLAIN_USERS = """<yandex>
    <profiles><default>{limits}</default></profiles>
    <users>
        <default><password></password><networks><ip>::1</ip><ip>127.0.0.1</ip></networks>
            <profile>default</profile><quota>default</quota></default>
    </users>
    <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors>
        <result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval>
    </default></quotas>
</yandex>
"""

_SECURE_USERS = """<yandex>
    <profiles>
        <default>{limits}</default>
        <read_only><readonly>1</readonly><max_execution_time>30</max_execution_time>{limits}</read_only>
    </profiles>
    <users>
        <{writer}><password_sha256_hex>{writer_hash}</password_sha256_hex><networks>{networks}</networks>
            <profile>default</profile><quota>default</quota></{writer}>
        <{reader}><password_sha256_hex>{reader_hash}</password_sha256_hex><networks>{networks}</networks>
            <profile>read_only</profile><quota>default</quota></{reader}>
    </users>
    <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors>
        <result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval>
    </default></quotas>
</yandex>
"""


class ClickHouseService(Service):
    name = "clickhouse"

    @property
    def host(self) -> str:
        return self.settings.clickhouse_host

    @property
    def ports(self) -> list[int]:
        return [self.settings.clickhouse_port, self.settings.clickhouse_http_port]

    def missing_packages(self) -> list[str]:
        from shutil import which

        return [] if which("clickhouse-server") else ["clickhouse-server"]

    def prepare(self) -> None:
        if not self.settings.secure:
            (self.home / "users.xml").write_text(_PLAIN_USERS.format(limits=_MEMORY_LIMITS), encoding="utf-8")
            return
        tls = ensure_certificates(self.settings)
        hashes = {}
        for user in (CLICKHOUSE_WRITER, CLICKHOUSE_READER):
            password = ensure_password(self.settings, "clickhouse", user)
            hashes[user] = hashlib.sha256(password.encode()).hexdigest()
        networks = "".join(f"<ip>{escape(ip)}</ip>" for ip in sorted({self.host, "127.0.0.1", "::1"}))
        replace_private(self.home / "secure-users.xml", _SECURE_USERS.format(
            limits=_MEMORY_LIMITS, writer=CLICKHOUSE_WRITER, reader=CLICKHOUSE_READER,
            writer_hash=hashes[CLICKHOUSE_WRITER],
            reader_hash=hashes[CLICKHOUSE_READER], networks=networks).encode())
        replace_private(self.home / "secure-config.xml", _SECURE_CONFIG.format(
            home=self.home, host=escape(self.host), tcp_port=self.settings.clickhouse_port,
            http_port=self.settings.clickhouse_http_port, cert=tls.server_cert, key=tls.server_key,
            data=self.home / "data").encode())

    def command(self) -> list[str]:
        if self.settings.secure:
            return ["clickhouse-server", f"--config-file={self.home / 'secure-config.xml'}"]
        data = self.home / "data"
        # the packaged config with every path and port overridden after `--`
        return [
            "clickhouse-server", f"--config-file={_PACKAGED_CONFIG}", "--",
            f"--path={data}/", f"--tmp_path={data}/tmp/", f"--user_files_path={data}/user_files/",
            f"--format_schema_path={data}/format_schemas/",
            f"--tcp_port={self.settings.clickhouse_port}", f"--http_port={self.settings.clickhouse_http_port}",
            f"--listen_host={self.host}", "--interserver_http_port=0",
            f"--logger.log={self.home / 'server.log'}", f"--logger.errorlog={self.home / 'error.log'}",
            "--logger.level=warning", f"--users_config={self.home / 'users.xml'}",
        ]

    def is_ready(self) -> bool:
        scheme, context, headers = "http", None, {}
        if self.settings.secure:
            scheme, context = "https", ssl.create_default_context(cafile=str(self.settings.ca_path))
            user = self.settings.clickhouse_query_user or self.settings.clickhouse_user
            try:
                token = f"{user}:{read_password(self.settings, 'clickhouse', user)}"
            except PobiError:
                return False
            headers["Authorization"] = "Basic " + base64.b64encode(token.encode()).decode()
        url = f"{scheme}://{self.host}:{self.settings.clickhouse_http_port}/?query=SELECT%201"
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=2,
                                        context=context) as resp:
                return bool(resp.read().strip() == b"1")
        except OSError:
            return False
