"""Subscription contracts: what one subscribing system may receive — which rows (a filter per dataset),
which fields, each sensitive field masked as the contract says — under which legal basis, until when.

A contract is a YAML file (examples in ``topics/contracts/``). ``load_contract`` checks it against this
model and against the datasets' schemas, and refuses it with ``file:line: problem`` for the first thing
wrong: malformed YAML, an unknown dataset or field, a personal or sensitive field without a mask, ``clear``
on such a field without the contract naming it under ``consent_clear``, an expired date.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from foundation.egress import Network, blocked_reason, literal_address
from foundation.errors import PobiError
from schemas.registry import SchemaRegistry
from topics.contract_yaml import located_or_refused, where

__all__ = ["EVENT_FIELDS", "LEGACY_FORMAT", "ContractError", "DatasetGrant", "FeedFormat", "Match",
           "SubscriptionContract", "Webhook", "check_contract", "load_contract", "revealing_pairs"]

MASKS = ("hash", "partial", "redact", "clear")
FeedFormat = Literal["avro", "avro-single-object", "json"]
# how the feed of a contract applied by a pobi before formats existed is written: what it was then
LEGACY_FORMAT: FeedFormat = "avro-single-object"
PROTECTED = ("personal", "sensitive")
EVENT_FIELDS = ("op", "department", "system")  # filterable besides the row's own fields


class ContractError(PobiError):
    """A contract that cannot be accepted; the message names the file, the line and the problem."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Match(_Strict):
    """One filter condition: exactly one of equality, prefix or set membership. Nothing that runs code."""

    equals: str | int | float | None = Field(None, max_length=200)
    prefix: str | None = Field(None, max_length=200)
    in_: list[str | int | float] | None = Field(None, alias="in", max_length=10_000)

    @model_validator(mode="after")
    def _exactly_one(self) -> Match:
        given = [n for n in ("equals", "prefix", "in_") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError("a condition has exactly one of equals, prefix, in")
        return self

    def matches(self, value: Any) -> bool:
        if value is None:
            return False
        if self.equals is not None:
            return value == self.equals or str(value) == str(self.equals)
        if self.prefix is not None:
            return str(value).startswith(self.prefix)
        options = self.in_ or []
        return value in options or str(value) in {str(v) for v in options}


class DatasetGrant(_Strict):
    filter: dict[str, Match] = Field(default_factory=dict, max_length=50)
    fields: list[str] = Field(min_length=1, max_length=200)
    masks: dict[str, Literal["hash", "partial", "redact", "clear"]] = Field(default_factory=dict)
    consent_clear: list[str] = Field(default_factory=list)


class Webhook(_Strict):
    url: str = Field(pattern=r"^https?://[^\s/]+(/\S*)?$", max_length=2000)
    batch_size: int = Field(100, ge=1, le=5000)
    max_attempts: int = Field(8, ge=1, le=100)
    timeout_s: float = Field(10.0, gt=0, le=120)


class SubscriptionContract(_Strict):
    subscriber: str = Field(pattern=r"^[a-z][a-z0-9-]{1,40}$")
    version: int = Field(ge=1)
    owner_department: str = Field(min_length=1, max_length=200)
    purpose: str = Field(min_length=1, max_length=2000)
    legal_basis: str = Field(min_length=1, max_length=2000)
    approver: str = Field(min_length=1, max_length=200)
    valid_until: date
    delivery: Literal["kafka", "webhook"] = "kafka"
    # a Kafka feed's encoding: Confluent's wire format (default), Avro single-object, or JSON documents
    format: FeedFormat | None = None
    webhook: Webhook | None = None
    datasets: dict[str, DatasetGrant] = Field(min_length=1, max_length=50)

    def active_on(self, day: date) -> bool:
        return day <= self.valid_until

    @property
    def feed_format(self) -> FeedFormat:
        """How ``out.<subscriber>`` is written. A webhook's feed is the hub's own hop to its sender (which
        posts CloudEvents JSON), so it keeps the encoding that sender reads."""
        if self.delivery == "webhook":
            return LEGACY_FORMAT
        return self.format or "avro"


Problem = tuple[tuple[str | int, ...], str]


def check_contract(contract: SubscriptionContract, registry: SchemaRegistry, today: date,
                   allow: Sequence[Network] = ()) -> list[Problem]:
    """Everything wrong with a well-formed contract, as (path, message). ``allow``: networks an administrator
    lets webhooks reach although they are private (``POBI_WEBHOOK_ALLOW``)."""
    problems: list[Problem] = []
    if contract.webhook is not None:
        host = urlsplit(contract.webhook.url).hostname or ""
        address = literal_address(host)
        reason = None if address is None else blocked_reason(address, allow)
        if reason is not None:
            problems.append((("webhook", "url"), f"the webhook URL points at {reason}; webhooks may not reach the "
                             "hub's own network (an administrator can allow one with POBI_WEBHOOK_ALLOW)"))
    if contract.valid_until < today:
        problems.append((("valid_until",), f"the contract expired on {contract.valid_until}"))
    if contract.delivery == "webhook" and contract.webhook is None:
        problems.append((("delivery",), "delivery is webhook: add a webhook section with its url"))
    if contract.delivery == "kafka" and contract.webhook is not None:
        problems.append((("webhook",), "a webhook section is only for delivery: webhook"))
    if contract.delivery == "webhook" and contract.format is not None:
        problems.append((("format",), "format is for Kafka feeds; a webhook delivers CloudEvents JSON"))
    for dataset, grant in contract.datasets.items():
        where = ("datasets", dataset)
        if dataset not in registry.datasets:
            problems.append((where, f"unknown dataset {dataset!r}; known: {', '.join(registry.datasets)}"))
            continue
        specs = {f.name: f for f in registry.latest(dataset).fields}
        for name in grant.filter:
            if name not in specs and name not in EVENT_FIELDS:
                problems.append(((*where, "filter", name), f"{dataset} has no field {name!r} to filter on"))
        for index, name in enumerate(grant.fields):
            if name not in specs:
                problems.append(((*where, "fields", index), f"{dataset} has no field {name!r}"))
        for name, mask in grant.masks.items():
            if name not in grant.fields:
                problems.append(((*where, "masks", name), f"{name!r} is masked but not among the fields"))
            elif specs[name].sensitivity in PROTECTED and mask == "clear" and name not in grant.consent_clear:
                problems.append(((*where, "masks", name),
                                 f"{name} is {specs[name].sensitivity}: `clear` needs it listed under consent_clear"))
        for name in grant.fields:
            if name in specs and specs[name].sensitivity in PROTECTED and name not in grant.masks:
                problems.append(((*where, "fields"), f"{name} is {specs[name].sensitivity}: give it a mask "
                                 "(hash, partial, redact) or `clear` with consent_clear"))
        for name in grant.consent_clear:
            if grant.masks.get(name) != "clear":
                problems.append(((*where, "consent_clear"), f"{name} is in consent_clear but not masked `clear`"))
        problems += [((*where, "masks", name), message) for name, message in revealing_pairs(grant, specs)]
    return problems


# A partial identifier hides only some characters; a field that holds exactly those characters, delivered
# beside it, gives the identifier back whole. (field rule, partial) → the fields that must then be hashed,
# redacted or left out, and why.
_REVEALS_PARTIAL = {
    # `partial` shows an ID number's first six digits (the address code) and last four; the eight hidden
    # ones are the birth date. (The division code is already shown, so it adds nothing.)
    "id_number": {"birth_date": "its hidden digits are the birth date"},
}
_HIDING = ("hash", "redact")


def revealing_pairs(grant: DatasetGrant, specs: dict[str, Any]) -> list[tuple[str, str]]:
    """(field, why) for every field whose delivered value rebuilds a partially masked identifier."""
    found = []
    for name, mask in grant.masks.items():
        rule = "id_number" if specs.get(name) is not None and specs[name].rule in ("id_number", "holder_id") \
            else None
        if mask != "partial" or rule is None:
            continue
        for other, why in _REVEALS_PARTIAL[rule].items():
            if other in grant.fields and grant.masks.get(other, "clear") not in _HIDING:
                found.append((other, f"{other} delivered `{grant.masks.get(other, 'clear')}` beside {name} "
                              f"masked `partial` rebuilds the whole {name} ({why}); hash or redact one of them"))
    return found


def load_contract(path: Path, registry: SchemaRegistry, today: date,
                  allow: Sequence[Network] = ()) -> SubscriptionContract:
    """Read and check one contract file; ContractError ``file:line: problem`` for the first problem."""
    located = located_or_refused(path)
    if isinstance(located, str):
        raise ContractError(located)
    if not isinstance(located.data, dict):
        raise ContractError(f"{path}:1: a contract is a mapping of subscriber, version, datasets, …")
    try:
        contract = SubscriptionContract.model_validate(located.data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = tuple("in" if part == "in_" else part for part in first["loc"])
        message = f"{'.'.join(map(str, loc)) or 'contract'}: {first['msg']}"
        raise ContractError(where(path, located, loc, message)) from None
    if path.stem != contract.subscriber:
        raise ContractError(f"{path}:{located.line(('subscriber',))}: the file must be named after its subscriber "
                            f"({contract.subscriber}.yaml)")
    problems = check_contract(contract, registry, today, allow)
    if problems:
        loc, message = problems[0]
        raise ContractError(where(path, located, loc, message))
    return contract

