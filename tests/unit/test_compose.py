"""docker-compose.yml cannot run here (no Docker engine); this checks it is consistent with the code."""

from pathlib import Path

import yaml

from foundation.settings import Settings
from monitoring.prometheus_config import render_prometheus_config

COMPOSE = yaml.safe_load(Path("docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def _published(service: str) -> set[int]:
    ports = set()
    for mapping in SERVICES[service].get("ports", []):
        host_ip, host_port, container_port = mapping.split(":")
        assert host_ip == "127.0.0.1", f"{service} publishes {mapping} beyond loopback"
        assert host_port == container_port
        ports.add(int(host_port))
    return ports


def test_every_service_of_the_hub_is_there() -> None:
    assert {"kafka", "clickhouse", "redis", "prometheus", "grafana", "pobi-worker"} <= set(SERVICES)


def test_ports_match_the_default_settings() -> None:
    s = Settings()
    assert s.kafka_port in _published("kafka")
    assert {s.clickhouse_port, s.clickhouse_http_port} <= _published("clickhouse")
    assert s.redis_port in _published("redis")
    assert s.prometheus_port in _published("prometheus")
    assert s.metrics_port in _published("pobi-worker")
    assert s.gateway_port in _published("pobi-gateway") and s.registry_port in _published("pobi-registry")
    assert s.registry_url.endswith(f":{s.registry_port}")  # what webhooks name is where compose publishes it


def test_kafka_image_is_the_version_the_local_stack_runs() -> None:
    assert SERVICES["kafka"]["image"] == f"apache/kafka:{Settings().kafka_version}"
    env = SERVICES["kafka"]["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft, no ZooKeeper
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"


def test_worker_points_at_the_compose_services() -> None:
    env = SERVICES["pobi-worker"]["environment"]
    host, port = env["POBI_KAFKA_BOOTSTRAP"].split(":")
    assert host == "kafka"
    assert f"INTERNAL://:{port}" in SERVICES["kafka"]["environment"]["KAFKA_LISTENERS"]
    assert env["POBI_CLICKHOUSE_HOST"] == "clickhouse" and env["POBI_REDIS_HOST"] == "redis"
    Settings(**{k.removeprefix("POBI_").lower(): v for k, v in env.items()})  # values are valid settings


def test_named_volumes_are_declared_and_mounted_files_exist() -> None:
    declared = set(COMPOSE["volumes"])
    for name, service in SERVICES.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert Path(source).exists(), f"{name} mounts {source}, which is not in the repo"
            else:
                assert source in declared, f"{name} uses volume {source} not declared at the top level"


def test_prometheus_config_is_the_rendered_one() -> None:
    text = Path("monitoring/prometheus.yml").read_text()
    assert yaml.safe_load(text) == yaml.safe_load(render_prometheus_config(["pobi-worker:9464"], ["pobi-gateway:9466"]))


def test_no_secret_in_compose() -> None:
    password = SERVICES["grafana"]["environment"]["GF_SECURITY_ADMIN_PASSWORD"]
    assert password.startswith("${") and ":?" in password


def test_compose_s_clickhouse_has_the_local_stack_s_memory_limits() -> None:
    from xml.etree import ElementTree

    from pobi.stack.clickhouse import MAX_QUERY_MEMORY, MAX_SERVER_MEMORY

    mounted = {v.split(":")[1]: v.split(":")[0] for v in SERVICES["clickhouse"]["volumes"] if v.startswith("./")}
    config = ElementTree.parse(mounted["/etc/clickhouse-server/config.d/pobi-server-memory.xml"]).getroot()
    users = ElementTree.parse(mounted["/etc/clickhouse-server/users.d/pobi-query-memory.xml"]).getroot()
    assert int(config.findtext("max_server_memory_usage") or 0) == MAX_SERVER_MEMORY
    assert int(users.findtext("profiles/default/max_memory_usage") or 0) == MAX_QUERY_MEMORY
    assert int(SERVICES["clickhouse"]["mem_limit"].removesuffix("g")) * 10**9 > MAX_SERVER_MEMORY


def test_every_long_running_service_restarts_and_says_when_it_is_healthy() -> None:
    for name, service in SERVICES.items():
        if name == "pobi-init":  # runs once; retried until the services it needs answer
            assert service["restart"] == "on-failure" and "healthcheck" not in service
            continue
        assert service.get("restart") == "unless-stopped", f"{name} has no restart policy"
        assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"


def test_the_init_service_prepares_what_the_worker_needs_before_it_starts() -> None:
    command = " ".join(SERVICES["pobi-init"]["command"])
    steps = ["pobi topics apply", "pobi views migrate", "pobi subscriptions apply"]
    assert all(step in command for step in steps)
    assert [command.index(step) for step in steps] == sorted(command.index(step) for step in steps)
    assert "$$? -eq 3" in command  # drift (exit 3) is reported, not fatal; compose's $$ is a literal $
    for name in ("pobi-worker", "pobi-gateway", "pobi-registry"):
        assert SERVICES[name]["depends_on"]["pobi-init"] == {"condition": "service_completed_successfully"}


def test_state_lives_on_volumes() -> None:
    kafka = SERVICES["kafka"]
    assert f"kafka-data:{kafka['environment']['KAFKA_LOG_DIRS']}" in kafka["volumes"]
    for name in ("pobi-init", "pobi-worker", "pobi-gateway", "pobi-registry"):
        env = SERVICES[name]["environment"]
        assert env["POBI_STACK_DIR"] == "/var/lib/pobi" and "pobi-state:/var/lib/pobi" in SERVICES[name]["volumes"]
    dockerfile = Path("Dockerfile").read_text()
    assert "install -d -o pobi" in dockerfile and "/var/lib/pobi" in dockerfile and "USER pobi" in dockerfile


def test_grafana_s_plugin_download_can_be_turned_off() -> None:
    assert SERVICES["grafana"]["environment"]["GF_INSTALL_PLUGINS"].startswith("${GRAFANA_INSTALL_PLUGINS-")
