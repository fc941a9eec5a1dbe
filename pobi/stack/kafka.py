"""Apache Kafka, one KRaft node (broker and controller), run from Maven Central's jars on Java 17."""

from __future__ import annotations

import base64
import subprocess
import uuid
from pathlib import Path

from confluent_kafka.admin import AdminClient

from pobi.errors import StackError
from pobi.kafka import client_config
from pobi.stack.install import fetch_kafka_jars, require_java
from pobi.stack.service import Service

__all__ = ["KafkaService"]

_LOG4J = """log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.RollingFileAppender
log4j.appender.file.File={log}
log4j.appender.file.MaxFileSize=20MB
log4j.appender.file.MaxBackupIndex=2
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
"""


class KafkaService(Service):
    name = "kafka"

    @property
    def host(self) -> str:
        return self.settings.kafka_host

    @property
    def ports(self) -> list[int]:
        return [self.settings.kafka_port, self.settings.kafka_controller_port]

    def missing_packages(self) -> list[str]:
        return []  # Java is checked in prepare(); Maven is installed on demand by fetch_kafka_jars

    @property
    def libs(self) -> Path:
        return self.home / f"libs-{self.settings.kafka_version}"

    def _server_properties(self) -> str:
        s = self.settings
        return "\n".join([
            "process.roles=broker,controller",
            "node.id=1",
            f"controller.quorum.voters=1@{self.host}:{s.kafka_controller_port}",
            f"listeners=PLAINTEXT://{self.host}:{s.kafka_port},CONTROLLER://{self.host}:{s.kafka_controller_port}",
            f"advertised.listeners=PLAINTEXT://{self.host}:{s.kafka_port}",
            "controller.listener.names=CONTROLLER",
            "inter.broker.listener.name=PLAINTEXT",
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            f"log.dirs={self.home / 'data'}",
            "num.partitions=3",
            "offsets.topic.replication.factor=1",
            "offsets.topic.num.partitions=10",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            # tests and the demo should not wait three seconds for every new consumer group
            "group.initial.rebalance.delay.ms=0",
            # topics come from the catalogue (`pobi topics apply`), never from a typo in a producer
            "auto.create.topics.enable=false",
            "log.retention.hours=168",
            "",
        ])

    def _java(self, main: str, *args: str) -> list[str]:
        return [
            self._java_bin, "-Xms256m", "-Xmx1g", "-XX:+UseG1GC", "-Djava.awt.headless=true",
            f"-Dlog4j.configuration=file:{self.home / 'log4j.properties'}",
            "-cp", f"{self.libs}/*", main, *args,
        ]

    def prepare(self) -> None:
        self._java_bin = require_java()
        fetch_kafka_jars(self.settings.kafka_version, self.home)
        (self.home / "server.properties").write_text(self._server_properties())
        (self.home / "log4j.properties").write_text(_LOG4J.format(log=self.home / "server.log"))
        if not (self.home / "data" / "meta.properties").exists():
            cluster_id = _new_cluster_id()
            result = subprocess.run(
                self._java("kafka.tools.StorageTool", "format", f"--cluster-id={cluster_id}",
                           "-c", str(self.home / "server.properties")),
                capture_output=True, text=True, check=False,
            )
            if result.returncode != 0:
                raise StackError(f"formatting Kafka's storage failed: {(result.stderr or result.stdout)[:300]}")

    def command(self) -> list[str]:
        return self._java("kafka.Kafka", str(self.home / "server.properties"))

    def is_ready(self) -> bool:
        admin = AdminClient(client_config(self.settings))
        try:
            metadata = admin.list_topics(timeout=2)
        except Exception:
            return False
        return bool(metadata.brokers)


def _new_cluster_id() -> str:
    """A Kafka cluster id; like Kafka's own Uuid.randomUuid, never one starting with '-', which the storage
    tool's argument parser would take for an option."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):
            return cluster_id
