"""Cleaning text as departments send it: full-width forms, invisible characters, placeholders."""

from __future__ import annotations

import re
import unicodedata

__all__ = ["PLACEHOLDERS", "clean_text", "compact_identifier"]

# values that mean "nothing here"; mapped to null rather than stored as text
PLACEHOLDERS = frozenset({"无", "暂无", "/", "-", "--", "—", "NULL", "null", "None", "N/A", "n/a", "空"})
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"))
_SPACES = re.compile(r"\s+")
# anything clean_text would change besides NFKC: invisible characters, NBSP, any whitespace but one inner space
_UNTIDY = re.compile(r"[\u200b\u200c\u200d\u2060\ufeff\xa0]|\s\s|[^\S ]|^\s|\s$")
_IDENTIFIER_NOISE = re.compile(r"[\s\-_/.]+")


def clean_text(value: str | None) -> str | None:
    """NFKC (full-width → ASCII, U+3000 → space), invisible characters removed, runs of spaces collapsed,
    trimmed; empty strings and placeholders become None."""
    if value is None:
        return None
    if unicodedata.is_normalized("NFKC", value) and not _UNTIDY.search(value):
        return value if value and value not in PLACEHOLDERS else None  # the common case, already tidy
    text = unicodedata.normalize("NFKC", value).translate(_INVISIBLE).replace("\xa0", " ")
    text = _SPACES.sub(" ", text).strip()
    return None if not text or text in PLACEHOLDERS else text


def compact_identifier(value: str | None) -> str | None:
    """An identifier in one spelling: cleaned, every space and ``-_/.`` removed, upper case."""
    text = clean_text(value)
    if text is None:
        return None
    return _IDENTIFIER_NOISE.sub("", text).upper() or None
