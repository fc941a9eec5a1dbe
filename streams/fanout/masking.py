"""Masks a contract can put on a field: ``hash`` (keyed HMAC, stable per subscriber, so it can join its own
records without ever seeing the raw id), ``partial`` (``350102********1234``), ``redact`` (withheld), ``clear``."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from typing import Any

__all__ = ["Mask", "compile_mask", "mask_value", "partial", "pseudonym"]

Mask = Callable[[Any], Any]  # a field's mask as a function of its value alone


def pseudonym(value: Any, key: bytes) -> str:
    """HMAC-SHA256 of the value under the subscriber's key, hex, 32 characters (128 bits)."""
    return hmac.new(key, str(value).encode(), hashlib.sha256).hexdigest()[:32]


def partial(value: Any, rule: str | None) -> str:
    """Enough to recognise, not to use: identifiers keep their first six and last four characters, phones
    their first three and last four, names their first character, other text its first third."""
    text = str(value)
    if rule in ("id_number", "uscc", "holder_id") and len(text) > 10:
        return text[:6] + "*" * (len(text) - 10) + text[-4:]
    if rule == "phone" and len(text) > 7:
        return text[:3] + "*" * (len(text) - 7) + text[-4:]
    if len(text) <= 4:
        return text[:1] + "*" * (len(text) - 1)
    keep = max(1, len(text) // 3)
    return text[:keep] + "*" * (len(text) - keep)


def mask_value(mask: str, value: Any, rule: str | None, key: bytes) -> Any:
    masked = compile_mask(mask, rule, key)
    return value if masked is None else masked(value)


def compile_mask(mask: str, rule: str | None, key: bytes) -> Mask | None:
    """A mask with its rule and key bound, as a function of the value (fan-out compiles one per field of a
    contract); None for ``clear``, the value as it is. An unknown mask is refused here, when the contract is
    compiled, rather than on its first record."""
    if mask == "clear":
        return None
    if mask == "hash":
        return lambda value: None if value is None else pseudonym(value, key)
    if mask == "partial":
        return lambda value: None if value is None else partial(value, rule)
    if mask == "redact":
        return lambda _value: None
    raise ValueError(f"unknown mask {mask!r}")
