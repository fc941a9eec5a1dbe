"""Cleaning text as departments send it: full-width forms, invisible characters, placeholders."""

from __future__ import annotations

import re
import unicodedata

__all__ = ["PLACEHOLDERS", "clean_text", "compact_identifier"]

# values that mean "nothing here"; mapped to null rather than stored as text
PLACEHOLDERS = frozenset({"无", "暂无", "/", "-", "--", "—", "NULL", "null", "None", "N/A", "n/a", "空"})
# zero-width characters and BOM; bidirectional controls (a right-to-left override makes a name or an id
# display as something else); C0 controls other than whitespace, and DEL (a NUL breaks C-string consumers)
_INVISIBLE_CHARS = ("\u200b\u200c\u200d\u2060\ufeff\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
                    "\u2066\u2067\u2068\u2069\x00\x01\x02\x03\x04\x05\x06\x07\x08\x0e\x0f\x10\x11"
                    "\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x7f")
_INVISIBLE = dict.fromkeys(map(ord, _INVISIBLE_CHARS))
_SPACES = re.compile(r"\s+")
# anything clean_text would change besides NFKC: invisible characters, NBSP, any whitespace but one inner space
_UNTIDY = re.compile(f"[{re.escape(_INVISIBLE_CHARS)}\xa0]" + r"|\s\s|[^\S ]|^\s|\s$")
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
