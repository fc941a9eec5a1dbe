"""Installing what the local stack runs: Debian packages with apt, Kafka's jars with Maven."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from pathlib import Path

from foundation.errors import StackError

__all__ = ["apt_install", "fetch_jars", "fetch_kafka_jars", "require_java"]

logger = logging.getLogger(__name__)

_KAFKA_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>pobi.local</groupId>
  <artifactId>kafka-runtime</artifactId>
  <version>1</version>
  <!-- only used to copy Apache Kafka's broker jars and a logging backend into libs/ -->
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>{version}</version>
    </dependency>
    <dependency>
      <groupId>org.slf4j</groupId>
      <artifactId>slf4j-reload4j</artifactId>
      <version>1.7.36</version>
    </dependency>
  </dependencies>
</project>
"""


def _last_error_line(output: str) -> str:
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    errors = [ln for ln in lines if "ERROR" in ln or ln.startswith("E:")]
    return (errors or lines or ["(no output)"])[0][:300]


def apt_install(packages: list[str], log_path: Path) -> None:
    """Install Debian packages (as root), logging apt's output; one clear error if it fails."""
    if not packages:
        return
    if shutil.which("apt-get") is None:
        raise StackError(f"cannot install {' '.join(packages)}: apt-get is not available on this machine")
    if os.geteuid() != 0:
        raise StackError(f"cannot install {' '.join(packages)}: run as root or install them with apt-get")
    logger.info("installing Debian packages: %s", " ".join(packages))
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    log_path.parent.mkdir(parents=True, exist_ok=True)
    for cmd in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", *packages]):
        result = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
        with log_path.open("a") as log:
            log.write(f"$ {' '.join(cmd)}\n{result.stdout}{result.stderr}\n")
        if result.returncode != 0:
            raise StackError(
                f"`{' '.join(cmd)}` failed: {_last_error_line(result.stderr or result.stdout)}; see {log_path}"
            )


def require_java() -> str:
    java = shutil.which("java")
    if java is None:
        raise StackError("Kafka needs Java 17 or newer, and `java` is not on PATH: "
                         "apt-get install openjdk-17-jre-headless")
    out = subprocess.run([java, "-version"], capture_output=True, text=True, check=False).stderr
    first = out.splitlines()[0] if out else ""
    try:
        major = int(first.split('"')[1].split(".")[0])
    except (IndexError, ValueError):
        raise StackError(f"could not read the Java version from `java -version`: {first!r}") from None
    if major < 17:
        raise StackError(f"Kafka here runs on Java 17 or newer; found Java {major} at {java}")
    return java


def fetch_kafka_jars(version: str, kafka_home: Path) -> Path:
    """Apache Kafka's broker jars (and a logging backend) in ``kafka_home/libs-<version>``, fetched once."""
    return fetch_jars(f"Apache Kafka {version}", _KAFKA_POM.format(version=version),
                      kafka_home, kafka_home / f"libs-{version}", f"kafka_2.13-{version}.jar")


def fetch_jars(what: str, pom_text: str, home: Path, libs: Path, expected_jar: str) -> Path:
    """Copy the runtime dependencies of ``pom_text`` from Maven Central into ``libs`` once.

    The folder is complete only when the marker file exists, so an interrupted download is redone and a
    finished one is never downloaded again.
    """
    marker = libs / ".complete"
    if marker.exists():
        return libs
    if shutil.which("mvn") is None:
        apt_install(["maven"], home / "install.log")
    home.mkdir(parents=True, exist_ok=True)
    pom = home / "pom.xml"
    pom.write_text(pom_text)
    log_path = home / "maven.log"
    shutil.rmtree(libs, ignore_errors=True)
    logger.info("downloading %s jars with Maven", what)
    result = subprocess.run(
        ["mvn", "-B", "-q", "-f", str(pom), "dependency:copy-dependencies",
         f"-DoutputDirectory={libs}", "-DincludeScope=runtime"],
        capture_output=True, text=True, check=False,
    )
    log_path.write_text(result.stdout + result.stderr)
    if result.returncode != 0 or not (libs / expected_jar).exists():
        raise StackError(
            f"Maven could not fetch {what}: {_last_error_line(result.stdout + result.stderr)}; see {log_path}"
        )
    marker.write_text(expected_jar)
    return libs
