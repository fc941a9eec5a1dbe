"""Classification coding: the entity a clean event is about and the entities it mentions, as (type, id)
with normalised ids, so later stages can fuse records about one person or enterprise across departments."""

from __future__ import annotations

from typing import Any

__all__ = ["ENTITY_TYPES", "classify"]

ENTITY_TYPES = {"person": "person", "enterprise": "enterprise", "licence": "licence", "approval_case": "case",
                "sensor_reading": "sensor"}


def _related(role: str, kind: str | None, value: Any) -> list[dict[str, str]]:
    return [{"role": role, "type": kind, "id": value}] if value and kind else []


def classify(dataset: str, key_field: str, row: dict[str, Any], holder_kinds: dict[str, str],
             derived: dict[str, str]) -> tuple[dict[str, str], list[dict[str, str]]]:
    """(entity, related entities) of one clean row. ``holder_kinds`` says whether each holder or applicant
    id is a person's or an enterprise's."""
    entity = {"type": ENTITY_TYPES[dataset], "id": str(row[key_field])}
    related: list[dict[str, str]] = []
    if dataset == "enterprise":
        related += _related("legal_representative", "person", row.get("legal_rep_id"))
    elif dataset == "licence":
        related += _related("holder", holder_kinds.get("holder_id"), row.get("holder_id"))
        related += _related("issuer", "enterprise", derived.get("licence_id.issuer"))
    elif dataset == "approval_case":
        related += _related("applicant", holder_kinds.get("applicant_id"), row.get("applicant_id"))
    elif dataset == "sensor_reading":
        related += _related("station", "station", row.get("station_id"))
    return entity, related
