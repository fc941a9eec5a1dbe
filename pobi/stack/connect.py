"""Kafka Connect in distributed mode with Debezium's PostgreSQL connector, from Maven Central's jars.

Distributed mode keeps connector configs, source offsets and statuses in Kafka (``pobi.connect.*``, in the
topic catalogue), so a Connect restarted after SIGKILL resumes from the last offset it committed — and
re-sends what it had sent after it, which the CDC stage recognises by the source position.

Converter: Connect's JSON converter with ``schemas.enable=true``. Each record carries the Connect schema of
its row, so the CDC stage turns a ``DATE`` (days since 1970), a ``TIMESTAMP`` (µs) or a ``NUMERIC`` into
pobi's values by the type's logical name rather than by guessing from a bare number; the envelope costs a
few hundred bytes per record on topics that live a week. Avro would need a schema registry in the stack
before pobi serves one.

Secrets: the worker resolves ``${dir:<folder>:<file>}`` references with Kafka's DirectoryConfigProvider, so a
connector's config (stored in ``pobi.connect.configs`` and shown by the REST API) names the department's
password file, never the password.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

from pobi.stack.install import fetch_jars, require_java
from pobi.stack.service import Service

__all__ = ["CONNECT_TOPICS", "ConnectService"]

# internal topic → partitions; the catalogue declares the same (Connect creates them if they are missing)
CONNECT_TOPICS = {"pobi.connect.configs": 1, "pobi.connect.offsets": 5, "pobi.connect.status": 1}

_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>pobi.local</groupId>
  <artifactId>connect-runtime</artifactId>
  <version>1</version>
  <!-- only used to copy Kafka Connect, its JSON converter, Debezium's PostgreSQL connector and a logging
       backend into libs/ -->
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>connect-runtime</artifactId>
      <version>{connect}</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>connect-json</artifactId>
      <version>{connect}</version></dependency>
    <dependency><groupId>io.debezium</groupId><artifactId>debezium-connector-postgres</artifactId>
      <version>{debezium}</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-api</artifactId><version>2.0.16</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j2-impl</artifactId>
      <version>2.24.3</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId>
      <version>2.24.3</version></dependency>
  </dependencies>
</project>
"""

_LOG4J2 = """rootLogger.level=INFO
rootLogger.appenderRef.file.ref=file
appender.file.type=RollingFile
appender.file.name=file
appender.file.fileName={log}
appender.file.filePattern={log}.%i
appender.file.layout.type=PatternLayout
appender.file.layout.pattern=[%d] %p %m (%c)%n
appender.file.policies.type=Policies
appender.file.policies.size.type=SizeBasedTriggeringPolicy
appender.file.policies.size.size=20MB
appender.file.strategy.type=DefaultRolloverStrategy
appender.file.strategy.max=2
logger.reflections.name=org.reflections
logger.reflections.level=ERROR
"""


class ConnectService(Service):
    name = "connect"
    in_secure_profile = False  # its SASL/TLS client settings are not written yet: plaintext profile only

    @property
    def host(self) -> str:
        return self.settings.connect_host

    @property
    def ports(self) -> list[int]:
        return [self.settings.connect_port]

    def missing_packages(self) -> list[str]:
        return []  # Java is checked in prepare(); Maven is installed on demand by fetch_jars

    @property
    def libs(self) -> Path:
        return self.home / f"libs-{self.settings.connect_version}-{self.settings.debezium_version}"

    def _worker_properties(self) -> str:
        s = self.settings
        partitions = CONNECT_TOPICS
        replicas = s.kafka_replication or 1
        return "\n".join([
            f"bootstrap.servers={s.kafka_bootstrap}",
            "group.id=pobi-connect",
            "config.storage.topic=pobi.connect.configs",
            "offset.storage.topic=pobi.connect.offsets",
            "status.storage.topic=pobi.connect.status",
            f"config.storage.replication.factor={replicas}",
            f"offset.storage.replication.factor={replicas}",
            f"status.storage.replication.factor={replicas}",
            f"offset.storage.partitions={partitions['pobi.connect.offsets']}",
            f"status.storage.partitions={partitions['pobi.connect.status']}",
            "key.converter=org.apache.kafka.connect.json.JsonConverter",
            "value.converter=org.apache.kafka.connect.json.JsonConverter",
            "key.converter.schemas.enable=true",
            "value.converter.schemas.enable=true",
            f"listeners=http://{self.host}:{s.connect_port}",
            f"rest.advertised.host.name={self.host}",
            f"rest.advertised.port={s.connect_port}",
            # source offsets every second: after a crash Connect re-sends at most about a second of changes
            "offset.flush.interval.ms=1000",
            "plugin.discovery=only_scan",
            "config.providers=dir",
            "config.providers.dir.class=org.apache.kafka.common.config.provider.DirectoryConfigProvider",
            "topic.creation.enable=true",
            # one worker locally: do not wait five minutes for a departed worker's tasks after a restart
            "scheduled.rebalance.max.delay.ms=5000",
            "",
        ])

    def prepare(self) -> None:
        self._java_bin = require_java()
        fetch_jars(f"Kafka Connect {self.settings.connect_version} with Debezium {self.settings.debezium_version}",
                   _POM.format(connect=self.settings.connect_version, debezium=self.settings.debezium_version),
                   self.home, self.libs, f"debezium-connector-postgres-{self.settings.debezium_version}.jar")
        (self.home / "worker.properties").write_text(self._worker_properties())
        (self.home / "log4j2.properties").write_text(_LOG4J2.format(log=self.home / "connect.log"))

    def command(self) -> list[str]:
        return [self._java_bin, "-Xms128m", "-Xmx512m", "-XX:+UseG1GC", "-Djava.awt.headless=true",
                f"-Dlog4j2.configurationFile={self.home / 'log4j2.properties'}",
                "-cp", f"{self.libs}/*", "org.apache.kafka.connect.cli.ConnectDistributed",
                str(self.home / "worker.properties")]

    def is_ready(self) -> bool:
        """Connect answers ``/connectors`` only once it has joined its group and read its config topic."""
        try:
            with urllib.request.urlopen(f"{self.settings.connect_url}/connectors", timeout=5) as response:
                return response.status == 200 and isinstance(json.load(response), list)
        except (urllib.error.URLError, OSError, ValueError):
            return False
