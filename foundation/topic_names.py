"""Every topic and consumer-group name of a deployment, always in its namespace (``POBI_NAMESPACE``): the one
place names are built, so no call site can forget the namespace."""

from __future__ import annotations

import re

__all__ = ["Topics"]


class Topics:
    def __init__(self, namespace: str) -> None:
        self._prefix = f"{namespace}." if namespace else ""

    def named(self, name: str) -> str:
        """A catalogue name (``ingest.person``) as this deployment calls it (``t1.ingest.person``)."""
        return self._prefix + name

    def ingest(self, dataset: str) -> str:
        return self.named(f"ingest.{dataset}")

    def norm(self, dataset: str) -> str:
        return self.named(f"norm.{dataset}")

    def dlq(self, stage: str) -> str:
        return self.named(f"dlq.{stage}")

    def out(self, subscriber: str) -> str:
        return self.named(f"out.{subscriber}")

    @property
    def audit_delivery(self) -> str:
        return self.named("audit.delivery")

    @property
    def audit_read(self) -> str:
        return self.named("audit.read")

    @property
    def subscriptions(self) -> str:
        return self.named("pobi.subscriptions")

    @property
    def sources(self) -> str:
        return self.named("pobi.sources")

    @property
    def schemas(self) -> str:
        return self.named("pobi.schemas")

    def cdc_prefix(self, source: str) -> str:
        """Debezium's ``topic.prefix`` for a source: its tables' topics are ``<prefix>.<schema>.<table>``."""
        return self.named(f"cdc.{source}")

    @property
    def cdc_heartbeats(self) -> str:
        """Debezium's ``topic.heartbeat.prefix``: heartbeats go to ``<this>.<topic prefix>``."""
        return self.named("cdc.heartbeat")

    @property
    def cdc_pattern(self) -> str:
        """Every topic Debezium writes for pobi's sources (a regular expression, as consumers subscribe)."""
        return "^" + re.escape(self.named("cdc.")) + ".*"

    def group(self, name: str) -> str:
        """The consumer group of a pobi stage or tool (``pobi-normalize``)."""
        return self.named(f"pobi-{name}")
