"""Prometheus from Debian's ``prometheus`` package, scraping pobi's own metrics port."""

from __future__ import annotations

import shutil
import urllib.request

from monitoring.prometheus_config import ALERT_RULES, render_prometheus_config
from pobi.stack.service import Service

__all__ = ["PrometheusService"]


class PrometheusService(Service):
    name = "prometheus"

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def ports(self) -> list[int]:
        return [self.settings.prometheus_port]

    def missing_packages(self) -> list[str]:
        return [] if shutil.which("prometheus") else ["prometheus"]

    def prepare(self) -> None:
        (self.home / "prometheus.yml").write_text(
            render_prometheus_config(pobi_targets=[f"127.0.0.1:{self.settings.metrics_port}"],
                                     gateway_targets=[f"127.0.0.1:{self.settings.gateway_port}"],
                                     self_target=self.address, rules=str(ALERT_RULES))
        )

    def command(self) -> list[str]:
        return [
            "prometheus", f"--config.file={self.home / 'prometheus.yml'}",
            f"--storage.tsdb.path={self.home / 'data'}",
            f"--web.listen-address={self.host}:{self.settings.prometheus_port}",
            "--web.enable-lifecycle", "--storage.tsdb.retention.time=2d",
        ]

    def is_ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://{self.address}/-/ready", timeout=2) as resp:
                return bool(resp.status == 200)
        except OSError:
            return False
