"""What a rule can say about a value: it is broken (RuleViolation), or it is usable with a remark (Flag).

Each carries a stable code (``id_number.checksum``) that DLQ records, metrics and dashboards group by, and a
message a person understands."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Flag", "RuleViolation"]


@dataclass(frozen=True)
class Flag:
    code: str
    message: str


class RuleViolation(Exception):  # noqa: N818 - a violation is the domain word; it is not a bug
    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
