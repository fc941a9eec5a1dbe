"""ClickHouse from Debian's ``clickhouse-server`` package, run as a plain process with its own data dir."""

from __future__ import annotations

import urllib.request

from pobi.stack.service import Service

__all__ = ["ClickHouseService"]

_PACKAGED_CONFIG = "/etc/clickhouse-server/config.xml"


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

    def command(self) -> list[str]:
        data = self.home / "data"
        # the packaged config with every path and port overridden after `--`
        return [
            "clickhouse-server", f"--config-file={_PACKAGED_CONFIG}", "--",
            f"--path={data}/", f"--tmp_path={data}/tmp/", f"--user_files_path={data}/user_files/",
            f"--format_schema_path={data}/format_schemas/",
            f"--tcp_port={self.settings.clickhouse_port}", f"--http_port={self.settings.clickhouse_http_port}",
            f"--listen_host={self.host}", "--interserver_http_port=0",
            f"--logger.log={self.home / 'server.log'}", f"--logger.errorlog={self.home / 'error.log'}",
            "--logger.level=warning",
        ]

    def is_ready(self) -> bool:
        url = f"http://{self.host}:{self.settings.clickhouse_http_port}/?query=SELECT%201"
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                return resp.read().strip() == b"1"
        except OSError:
            return False
