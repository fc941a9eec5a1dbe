"""The three-broker profile as configuration: node ports and quorum, the catalogue's replication following the
deployment, and the stack's refusals. (The cluster itself runs in the fault harness's short test.)"""

from pathlib import Path

import pytest

from foundation.errors import StackError
from foundation.settings import load_settings
from pobi.stack.kafka import KafkaService, cluster_bootstrap
from pobi.stack.manager import Stack
from topics.catalogue import load_catalogue
from topics.subscriptions import deployment_catalogue


def test_each_node_has_its_own_ports_folder_and_the_same_quorum(tmp_path: Path) -> None:
    settings = load_settings(stack_dir=tmp_path, kafka_bootstrap="127.0.0.1:19592", kafka_controller_port=19593)
    nodes = [KafkaService(settings, n, 3) for n in (1, 2, 3)]
    assert [n.name for n in nodes] == ["kafka-1", "kafka-2", "kafka-3"]
    assert [n.ports for n in nodes] == [[19592, 19593], [19692, 19693], [19792, 19793]]
    assert len({n.home for n in nodes}) == 3
    props = [dict(line.split("=", 1) for line in n._server_properties().splitlines() if "=" in line)
             for n in nodes]
    assert {p["controller.quorum.voters"] for p in props} == {
        "1@127.0.0.1:19593,2@127.0.0.1:19693,3@127.0.0.1:19793"}
    assert [p["node.id"] for p in props] == ["1", "2", "3"]
    assert props[1]["advertised.listeners"] == "PLAINTEXT://127.0.0.1:19692"
    assert {p["offsets.topic.replication.factor"] for p in props} == {"3"}
    assert {p["min.insync.replicas"] for p in props} == {"2"}
    assert cluster_bootstrap(settings, 3) == "127.0.0.1:19592,127.0.0.1:19692,127.0.0.1:19792"


def test_a_single_node_keeps_its_name_folder_and_replication_of_one(tmp_path: Path) -> None:
    node = KafkaService(load_settings(stack_dir=tmp_path))
    props = dict(line.split("=", 1) for line in node._server_properties().splitlines() if "=" in line)
    assert (node.name, node.home.name, props["controller.quorum.voters"]) == ("kafka", "kafka", "1@127.0.0.1:9093")
    assert (props["offsets.topic.replication.factor"], props["min.insync.replicas"]) == ("1", "1")


def test_the_catalogue_follows_the_deployment_s_replication(tmp_path: Path) -> None:
    assert {(t.replication, t.min_insync_replicas) for t in load_catalogue().topics} == {(1, 1)}
    settings = load_settings(stack_dir=tmp_path, kafka_replication=3)
    specs = deployment_catalogue(settings).topics
    assert {(t.replication, t.min_insync_replicas) for t in specs} == {(3, 2)}
    assert {t.configs()["min.insync.replicas"] for t in specs} == {"2"}
    assert {t.min_insync_replicas for t in load_catalogue().replicated(5).topics} == {3}


def test_a_three_broker_stack_reaches_every_node_and_refuses_what_it_cannot_run(tmp_path: Path) -> None:
    settings = load_settings(stack_dir=tmp_path)
    stack = Stack(settings, brokers=3, only=("kafka", "redis"))
    assert [s.name for s in stack.services] == ["kafka-1", "kafka-2", "kafka-3", "redis"]
    assert stack.settings.kafka_bootstrap == "127.0.0.1:9092,127.0.0.1:9192,127.0.0.1:9292"
    assert stack.settings.kafka_replication == 3
    with pytest.raises(StackError, match="one of 1, 3"):
        Stack(settings, brokers=2)
    with pytest.raises(StackError, match="secure profile runs one broker"):
        Stack(settings, brokers=3, secure=True)
