"""A second, private stack on other ports: up is idempotent, down leaves nothing, a taken port is refused."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from foundation.errors import StackError
from foundation.settings import Settings, load_settings
from pobi.stack.manager import Stack
from pobi.stack.service import _process_alive, port_is_open

pytestmark = pytest.mark.stack


@pytest.fixture
def private_settings(tmp_path: Path, settings: Settings) -> Settings:
    return load_settings(
        stack_dir=tmp_path / "stack", kafka_bootstrap="127.0.0.1:19192", kafka_controller_port=19193,
        clickhouse_port=19100, clickhouse_http_port=18223, redis_port=16479, prometheus_port=19190,
        metrics_port=19464, postgres_port=15532, connect_url="http://127.0.0.1:18083",
        registry_port=18081,
    )


@pytest.fixture
def private_stack(private_settings: Settings) -> Iterator[Stack]:
    stack = Stack(private_settings)
    yield stack
    stack.down(report=lambda _m: None)


def test_up_twice_is_a_no_op_and_down_leaves_no_process(private_stack: Stack) -> None:
    said: list[str] = []
    first = private_stack.up(report=said.append)
    assert [s.state for s in first] == ["running"] * 7
    assert all("started" in line for line in said)
    pids = [s.pid for s in first]

    said.clear()
    second = private_stack.up(report=said.append)
    assert [s.pid for s in second] == pids
    assert all("already running" in line for line in said)

    private_stack.down(report=lambda _m: None)
    assert not any(_process_alive(pid) for pid in pids if pid)
    assert [s.state for s in private_stack.status()] == ["stopped"] * 7
    ports = [p for svc in private_stack.services for p in svc.ports]
    assert not any(port_is_open("127.0.0.1", p) for p in ports)


def test_a_port_held_by_a_foreign_process_is_refused_and_nothing_is_left(private_stack: Stack,
                                                                        private_settings: Settings) -> None:
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", private_settings.redis_port))
        squatter.listen()
        with pytest.raises(StackError) as err:
            private_stack.up(report=lambda _m: None)
    assert f"127.0.0.1:{private_settings.redis_port} is already in use by a process pobi did not start" in str(
        err.value)
    assert all(s.pid is None for s in private_stack.status())


def test_a_service_that_dies_while_starting_stops_the_ones_started_before(private_stack: Stack,
                                                                          private_settings: Settings) -> None:
    # a Prometheus config it cannot parse makes Prometheus exit during start-up, after Kafka and others
    prom = private_stack.service("prometheus")
    prom.prepare = lambda: (prom.home / "prometheus.yml").write_text("scrape_configs: [oops")  # type: ignore[method-assign]
    with pytest.raises(StackError, match=r"prometheus exited with code \d+ while starting; see .*service.log"):
        private_stack.up(report=lambda _m: None)
    assert all(s.state == "stopped" for s in private_stack.status())
