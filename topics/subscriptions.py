"""The contracts of a deployment: a folder of YAML files (``topics/contracts/`` by default), published to the
compacted topic ``pobi.subscriptions`` (key: subscriber; value: a JSON document with the contract and every
delivery schema it was ever delivered under; a tombstone when the contract is withdrawn). Workers follow
that topic (``ContractBook``), so a change applies without a restart.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from foundation.egress import Network
from foundation.errors import ConfigError
from foundation.secrets import hub_key, hub_key_id
from foundation.settings import Settings
from schemas.projection import delivery_schema, feed_schema
from schemas.registry import SchemaRegistry, WireSchema, default_registry
from topics.catalogue import CATALOGUE_PATH, Catalogue, load_catalogue
from topics.contract import LEGACY_FORMAT, ContractError, SubscriptionContract, check_contract, load_contract
from topics.documents import DocumentBook
from topics.producer import Publisher

__all__ = ["CONTRACTS_DIR", "ApplyResult", "ContractBook", "apply_contracts", "contract_document",
           "contract_feed", "deployment_catalogue", "load_contracts", "read_documents", "refuse_other_key",
           "subscribers_in", "version_problems"]

logger = logging.getLogger(__name__)
CONTRACTS_DIR = Path(__file__).with_name("contracts")
TOPIC = "pobi.subscriptions"


def subscribers_in(folder: Path) -> list[str]:
    """The subscribers that have a contract file in ``folder`` (each gets an ``out.<subscriber>`` feed)."""
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []


def deployment_catalogue(settings: Settings, contracts: Path = CONTRACTS_DIR,
                         path: Path = CATALOGUE_PATH) -> Catalogue:
    """The topic catalogue with one feed per contract in ``contracts``, named and replicated as the deployment
    names and replicates topics."""
    catalogue = load_catalogue(path, subscribers_in(contracts)).in_namespace(settings.topics.named)
    return catalogue.replicated(settings.kafka_replication)


def load_contracts(folder: Path, registry: SchemaRegistry, today: date,
                   allow: Sequence[Network] = ()) -> tuple[list[SubscriptionContract], list[str]]:
    """Every contract in ``folder`` (``*.yaml``), and one ``file:line: problem`` per file that is refused."""
    contracts, problems = [], []
    if not folder.is_dir():
        return [], [f"{folder}: no such folder of contracts"]
    for path in sorted(folder.glob("*.yaml")):
        try:
            contracts.append(load_contract(path, registry, today, allow))
        except ContractError as exc:
            problems.append(str(exc))
    return contracts, problems


def contract_feed(contract: SubscriptionContract, registry: SchemaRegistry) -> list[dict[str, Any]]:
    """The schema of the contract's whole feed: the union its registry subject ``out.<subscriber>-value``
    holds for this contract version."""
    return feed_schema(contract.subscriber, contract.version,
                       {dataset: (grant.fields, grant.masks) for dataset, grant in contract.datasets.items()}, registry)


def contract_document(contract: SubscriptionContract, registry: SchemaRegistry,
                      previous: dict[str, Any] | None = None, key_id: str = "") -> dict[str, Any]:
    """What ``pobi.subscriptions`` holds for a contract: the contract; every delivery record schema it was ever
    delivered under (``schemas``, by fingerprint: the webhook sender's decoder); and every feed schema, one per
    contract version, oldest first (``feeds``: the versions of the feed's registry subject)."""
    schemas = dict((previous or {}).get("schemas", {}))
    for dataset, grant in contract.datasets.items():
        schema = delivery_schema(contract.subscriber, contract.version, dataset, grant.fields, grant.masks, registry)
        schemas[WireSchema("delivery", 0, schema, None, "delivery").fingerprint.hex()] = schema
    feeds = [f for f in (previous or {}).get("feeds", []) if isinstance(f, dict)]
    feeds.append({"contract_version": contract.version, "format": contract.feed_format,
                  "schema": contract_feed(contract, registry)})
    return {"contract": contract.model_dump(mode="json", by_alias=True, exclude_none=True), "schemas": schemas,
            "feeds": feeds, "applied_ts_ms": int(time.time() * 1000), "hub_key_id": key_id}


def read_documents(settings: Settings, timeout_s: float = 10.0) -> dict[str, dict[str, Any]]:
    book = ContractBook(settings)
    try:
        book.load(timeout_s)
        return dict(book.documents)
    finally:
        book.close()


def version_problems(current: dict[str, dict[str, Any]], contracts: list[SubscriptionContract]) -> list[str]:
    """Contracts whose content differs from the one in force under the same (or a lower) version: refused by
    apply and reported by validate, from this one rule."""
    problems = []
    for contract in contracts:
        before = (current.get(contract.subscriber) or {}).get("contract")
        new = contract.model_dump(mode="json", by_alias=True, exclude_none=True)
        if isinstance(before, dict) and before != new and before.get("version", 0) >= contract.version:
            problems.append(f"{contract.subscriber}: the contract changed but its version stayed at "
                            f"{before.get('version')}; raise it")
    return problems


@dataclass
class ApplyResult:
    published: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    withdrawn: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # in force on the hub, not in the folder, not withdrawn


def apply_contracts(settings: Settings, contracts: list[SubscriptionContract], registry: SchemaRegistry,
                    *, withdraw_missing: bool = True, dry_run: bool = False) -> ApplyResult:
    """Publish new and changed contracts; withdraw (tombstone) those no longer in the folder. A contract
    whose content changed must carry a higher version, so deliveries name the terms they were made under.
    ``dry_run`` makes the same checks and says what would change, publishing nothing."""
    current = read_documents(settings)
    key_id = ""
    if not dry_run or (settings.secrets_path / "hub.key").exists():  # a dry run makes no key
        key_id = hub_key_id(hub_key(settings, create=not dry_run))
        refuse_other_key(current, key_id, settings)
    problems = version_problems(current, contracts)
    if problems:
        raise ContractError(problems[0])
    result = ApplyResult()
    topic = settings.topics.subscriptions
    with Publisher(settings) as publisher:
        for contract in contracts:
            before = current.get(contract.subscriber)
            new = contract.model_dump(mode="json", by_alias=True, exclude_none=True)
            if before and before["contract"] == new:
                result.unchanged.append(contract.subscriber)
                continue
            result.published.append(contract.subscriber)
            if not dry_run:
                document = contract_document(contract, registry, before, key_id)
                publisher.produce(topic, contract.subscriber.encode(),
                                  json.dumps(document, ensure_ascii=False).encode())
        for subscriber in sorted(set(current) - {c.subscriber for c in contracts}):
            if not withdraw_missing:
                result.kept.append(subscriber)
                continue
            result.withdrawn.append(subscriber)
            if not dry_run:
                publisher.produce(topic, subscriber.encode(), None)  # type: ignore[arg-type]  # a tombstone
    return result


def refuse_other_key(documents: dict[str, dict[str, Any]], key_id: str, settings: Settings) -> None:
    """ConfigError if the contracts on the hub were applied under another hub key than this process holds."""
    others = sorted({str(d.get("hub_key_id")) for d in documents.values() if d.get("hub_key_id")} - {key_id})
    if others:
        raise ConfigError(
            f"the contracts on {settings.topics.subscriptions} were applied with hub key {others[0]}, but "
            f"{settings.secrets_path / 'hub.key'} is key {key_id}: this process reads another state folder "
            "(POBI_STACK_DIR / POBI_SECRETS_DIR) than the one that applied them; pseudonyms and webhook "
            "signatures would not match. Point it at the same folder, or restore the key")


class ContractBook(DocumentBook):
    """The contracts in force as ``pobi.subscriptions`` says. Each copy of a stage holds its own."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings, settings.topics.subscriptions, "contract-book")
        self._refused: dict[str, str] = {}  # subscriber → why, logged once per reason
        self._allow = settings.webhook_networks

    def changed(self, key: str, document: dict[str, Any] | None) -> None:
        if document is None:
            logger.warning("contract %s withdrawn: its deliveries stop", key)
        else:
            logger.warning("contract %s v%s in force", key, (document.get("contract") or {}).get("version"))

    def contracts(self, registry: SchemaRegistry | None = None) -> list[SubscriptionContract]:
        """The contracts in force that pass the same checks as ``pobi subscriptions validate`` (expiry aside:
        the stages stop an expired contract themselves). Whatever else is on the topic — written by hand, by
        an older pobi, or by someone who could write there — is refused and logged, never delivered under."""
        found = [self.contract(subscriber, registry) for subscriber in self.documents]
        return [c for c in found if c is not None]

    def contract(self, subscriber: str, registry: SchemaRegistry | None = None) -> SubscriptionContract | None:
        document = self.documents.get(subscriber)
        if document is None:
            return None
        terms = document.get("contract")
        if isinstance(terms, dict) and "feeds" not in document and terms.get("delivery", "kafka") == "kafka":
            terms = {"format": LEGACY_FORMAT, **terms}  # applied before formats: its subscriber reads single-object
        try:
            contract = SubscriptionContract.model_validate(terms)
        except (ValidationError, AttributeError) as exc:
            self._refuse(subscriber, f"not a valid contract ({str(exc).splitlines()[0][:200]})")
            return None
        problems = [message for _where, message in check_contract(contract, registry or default_registry(),
                                                                      date.min, self._allow)]
        if contract.subscriber != subscriber:
            problems.insert(0, f"it names subscriber {contract.subscriber!r}")
        if problems:
            self._refuse(subscriber, problems[0])
            return None
        return contract

    def _refuse(self, subscriber: str, why: str) -> None:
        if self._refused.get(subscriber) != why:
            self._refused[subscriber] = why
            logger.error("contract %s on %s refused: %s; nothing is delivered under it", subscriber[:60],
                         self._topic, why)

