"""The Prometheus configuration pobi runs with, rendered for the local stack or for docker-compose."""

from __future__ import annotations

from pathlib import Path

import yaml

__all__ = ["ALERT_RULES", "render_prometheus_config"]

ALERT_RULES = Path(__file__).with_name("alerts.yml")


def render_prometheus_config(pobi_targets: list[str], gateway_targets: list[str], self_target: str = "localhost:9090",
                             scrape_interval: str = "5s", rules: str = "/etc/prometheus/alerts.yml") -> str:
    """A config that scrapes pobi's workers at ``pobi_targets``, its HTTP gateways at ``gateway_targets`` (their
    own job: the worker-down alert is about workers) and Prometheus itself, with pobi's alerts."""
    config = {
        "global": {"scrape_interval": scrape_interval, "evaluation_interval": scrape_interval},
        "rule_files": [rules],
        "scrape_configs": [
            {"job_name": "pobi", "static_configs": [{"targets": pobi_targets}]},
            {"job_name": "pobi-gateway", "static_configs": [{"targets": gateway_targets}]},
            {"job_name": "prometheus", "static_configs": [{"targets": [self_target]}]},
        ],
    }
    return yaml.safe_dump(config, sort_keys=False)
