"""Apache Kafka in KRaft mode, run from Maven Central's jars on Java 17: one node, or a cluster of three
(``pobi stack up --brokers 3``), each node both broker and controller so that any one may fail.

Node ``n`` of a cluster listens on the first node's ports plus ``100·(n-1)`` (9092/9093, 9192/9193,
9292/9293 by default) and keeps its own folder (``kafka-<n>``). A cluster's internal topics are replicated
three times with ``min.insync.replicas=2``; pobi's own topics follow ``POBI_KAFKA_REPLICATION``.

In the secure profile clients reach it only over SASL_SSL (SCRAM-SHA-512), the controller listener takes
mutual TLS, and KRaft's StandardAuthorizer denies whatever no ACL allows. It keeps its data apart
(``data-secure``), so switching profiles never mixes a plaintext log with a secure one."""

from __future__ import annotations

import base64
import subprocess
import uuid
from pathlib import Path

from confluent_kafka.admin import AdminClient

from foundation.errors import StackError
from foundation.kafka import client_config
from foundation.secrets import ensure_password, replace_private
from foundation.settings import Settings
from pobi.stack.install import fetch_kafka_jars, require_java
from pobi.stack.profile import KAFKA_ADMIN, as_stack_admin
from pobi.stack.service import Service
from pobi.stack.tls import BROKER_PRINCIPAL, ensure_certificates

__all__ = ["NODE_PORT_STEP", "KafkaService", "cluster_bootstrap"]

NODE_PORT_STEP = 100  # node n listens on the first node's ports + 100·(n-1)

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


def cluster_bootstrap(settings: Settings, nodes: int) -> str:
    """The bootstrap list of a local cluster of ``nodes`` whose first node is ``settings``' first server."""
    step = NODE_PORT_STEP
    return ",".join(f"{settings.kafka_host}:{settings.kafka_port + step * n}" for n in range(nodes))


class KafkaService(Service):
    name = "kafka"
    quorum = "kafka"  # the nodes of a cluster start together: none answers before a majority of them runs

    def __init__(self, settings: Settings, node: int = 1, nodes: int = 1) -> None:
        self.node, self.nodes = node, nodes
        self.name = "kafka" if nodes == 1 else f"kafka-{node}"
        super().__init__(settings)

    @property
    def host(self) -> str:
        return self.settings.kafka_host

    def _port(self, first: int, node: int | None = None) -> int:
        return first + NODE_PORT_STEP * ((node or self.node) - 1)

    @property
    def ports(self) -> list[int]:
        return [self._port(self.settings.kafka_port), self._port(self.settings.kafka_controller_port)]

    @property
    def broker_port(self) -> int:
        return self.ports[0]

    @property
    def controller_port(self) -> int:
        return self.ports[1]

    def missing_packages(self) -> list[str]:
        return []  # Java is checked in prepare(); Maven is installed on demand by fetch_kafka_jars

    @property
    def _jars_home(self) -> Path:
        """Where the jars are fetched: the node's folder, or the first node's for every node of a cluster."""
        return self.home if self.nodes == 1 else self.settings.stack_path / "kafka-1"

    @property
    def libs(self) -> Path:
        return self._jars_home / f"libs-{self.settings.kafka_version}"

    @property
    def data(self) -> Path:
        return self.home / ("data-secure" if self.settings.secure else "data")

    def _server_properties(self) -> str:
        s = self.settings
        voters = ",".join(f"{n}@{self.host}:{self._port(s.kafka_controller_port, n)}"
                          for n in range(1, self.nodes + 1))
        replicas, min_isr = min(self.nodes, 3), min(self.nodes, 2)
        return "\n".join([
            "process.roles=broker,controller",
            f"node.id={self.node}",
            f"controller.quorum.voters={voters}",
            "controller.listener.names=CONTROLLER",
            *(self._secure_listeners() if s.secure else self._plain_listeners()),
            f"log.dirs={self.data}",
            "num.partitions=3",
            f"default.replication.factor={replicas}",
            f"min.insync.replicas={min_isr}",
            f"offsets.topic.replication.factor={replicas}",
            "offsets.topic.num.partitions=10",
            f"transaction.state.log.replication.factor={replicas}",
            f"transaction.state.log.min.isr={min_isr}",
            # a cluster that lost a broker must not elect a replica that missed acknowledged writes
            "unclean.leader.election.enable=false",
            # tests and the demo should not wait three seconds for every new consumer group
            "group.initial.rebalance.delay.ms=0",
            # topics come from the catalogue (`pobi topics apply`), never from a typo in a producer
            "auto.create.topics.enable=false",
            "log.retention.hours=168",
            "",
        ])

    def _plain_listeners(self) -> list[str]:
        return [
            f"listeners=PLAINTEXT://{self.host}:{self.broker_port},CONTROLLER://{self.host}:{self.controller_port}",
            f"advertised.listeners=PLAINTEXT://{self.host}:{self.broker_port}",
            "inter.broker.listener.name=PLAINTEXT",
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        ]

    def _secure_listeners(self) -> list[str]:
        s = self.settings
        tls = ensure_certificates(s)
        ensure_password(s, "kafka", KAFKA_ADMIN)

        def inline(path: Path) -> str:  # PEM inside a properties value: one line, newlines escaped
            return path.read_text().strip().replace("\n", "\\n")

        def from_file(path: Path) -> str:  # read by the broker at start: no secret is copied into this file
            return f"${{dir:{path.parent}:{path.name}}}"

        return [
            f"listeners=SASL_SSL://{self.host}:{self.broker_port},CONTROLLER://{self.host}:{self.controller_port}",
            f"advertised.listeners=SASL_SSL://{self.host}:{self.broker_port}",
            "inter.broker.listener.name=SASL_SSL",
            "listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:SSL",
            "sasl.enabled.mechanisms=SCRAM-SHA-512",
            "sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512",
            "config.providers=dir",
            "config.providers.dir.class=org.apache.kafka.common.config.provider.DirectoryConfigProvider",
            "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config="
            + _scram_login(KAFKA_ADMIN, password_ref=from_file(s.password_path("kafka", KAFKA_ADMIN))),
            "listener.name.controller.ssl.client.auth=required",
            "ssl.keystore.type=PEM",
            f"ssl.keystore.certificate.chain={inline(tls.server_cert)}",
            f"ssl.keystore.key={from_file(tls.server_key)}",
            "ssl.truststore.type=PEM",
            f"ssl.truststore.certificates={inline(tls.ca_cert)}",
            "ssl.enabled.protocols=TLSv1.3,TLSv1.2",
            "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "allow.everyone.if.no.acl.found=false",
            f"super.users=User:{KAFKA_ADMIN};{BROKER_PRINCIPAL}",
        ]

    def _java(self, main: str, *args: str) -> list[str]:
        heap = "1g" if self.nodes == 1 else "512m"  # three of them share this machine with everything else
        return [
            self._java_bin, "-Xms256m", f"-Xmx{heap}", "-XX:+UseG1GC", "-Djava.awt.headless=true",
            f"-Dlog4j.configuration=file:{self.home / 'log4j.properties'}",
            "-cp", f"{self.libs}/*", main, *args,
        ]

    def prepare(self) -> None:
        self._java_bin = require_java()
        fetch_kafka_jars(self.settings.kafka_version, self._jars_home)
        # owner-only all the same: it names where the administrator's password and the server's key are
        replace_private(self.home / "server.properties", self._server_properties().encode())
        (self.home / "log4j.properties").write_text(_LOG4J.format(log=self.home / "server.log"))
        if not (self.data / "meta.properties").exists():
            cluster_id = self._cluster_id()
            scram = []
            if self.settings.secure:  # the administrator must exist before the broker can authenticate anyone
                password = ensure_password(self.settings, "kafka", KAFKA_ADMIN)
                scram = ["--add-scram", f"SCRAM-SHA-512=[name={KAFKA_ADMIN},password={password}]"]
            result = subprocess.run(
                self._java("kafka.tools.StorageTool", "format", f"--cluster-id={cluster_id}",
                           "-c", str(self.home / "server.properties"), *scram),
                capture_output=True, text=True, check=False,
            )
            if result.returncode != 0:
                message = (result.stderr or result.stdout)[:300]
                for secret in scram[1:]:
                    message = message.replace(secret, "[the --add-scram argument]")
                raise StackError(f"formatting Kafka's storage failed: {message}")

    def _cluster_id(self) -> str:
        """One id for every node of the cluster: the first node to be formatted draws it, the others read it."""
        shared = self.settings.stack_path / f"kafka-cluster-{self.nodes}.id"
        if self.nodes > 1 and shared.exists():
            return shared.read_text().strip()
        cluster_id = _new_cluster_id()
        if self.nodes > 1:
            shared.write_text(cluster_id)
        return cluster_id

    def command(self) -> list[str]:
        return self._java("kafka.Kafka", str(self.home / "server.properties"))

    def is_ready(self) -> bool:
        """This node answers metadata as a broker of the cluster (asked on its own address alone)."""
        settings = as_stack_admin(self.settings) if self.settings.secure else self.settings
        own = settings.model_copy(update={"kafka_bootstrap": f"{self.host}:{self.broker_port}"})
        admin = AdminClient(client_config(own))
        try:
            metadata = admin.list_topics(timeout=2)
        except Exception:
            return False
        return self.node in metadata.brokers


def _new_cluster_id() -> str:
    """A Kafka cluster id; like Kafka's own Uuid.randomUuid, never one starting with '-', which the storage
    tool's argument parser would take for an option."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):
            return cluster_id


def _scram_login(username: str, *, password_ref: str) -> str:
    """The broker's SCRAM JAAS line. ``password_ref`` is a config-provider reference the broker resolves from
    the owner-only password file at start, never the password itself."""
    options = {"username": username, "password": password_ref}
    quoted = " ".join(f'{name}="{value}"' for name, value in options.items())
    return f"org.apache.kafka.common.security.scram.ScramLoginModule required {quoted};"
