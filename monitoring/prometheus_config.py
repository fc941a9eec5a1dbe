"""The Prometheus configuration pobi runs with, rendered for the local stack or for docker-compose."""

from __future__ import annotations

import yaml

__all__ = ["render_prometheus_config"]


def render_prometheus_config(pobi_targets: list[str], self_target: str = "localhost:9090",
                             scrape_interval: str = "5s") -> str:
    """A config that scrapes pobi's workers at ``pobi_targets`` and Prometheus itself."""
    config = {
        "global": {"scrape_interval": scrape_interval, "evaluation_interval": scrape_interval},
        "scrape_configs": [
            {"job_name": "pobi", "static_configs": [{"targets": pobi_targets}]},
            {"job_name": "prometheus", "static_configs": [{"targets": [self_target]}]},
        ],
    }
    return yaml.safe_dump(config, sort_keys=False)
