"""The search index's tokens — the specification of what ``search_tokens`` holds (ClickHouse derives the rows
in SQL, by a materialized view and by `pobi views rebuild`; tests hold that SQL equal to ``name_tokens`` on
18.16 and on current ClickHouse), and the token a fragment is looked up under.

A name is indexed by every character and every pair of neighbouring characters of its first 32 characters,
so a Chinese name (two to four characters) is found by any one character or any two-character fragment in
one key range of ``search_tokens``; a longer fragment looks up its first pair and keeps the names holding the
whole fragment. Only ASCII letters are folded to lower case, as ClickHouse's ``lower`` does.
"""

from __future__ import annotations

__all__ = ["INDEXED_CHARACTERS", "NAME_ATTRIBUTES", "fold", "lookup_token", "name_tokens"]

NAME_ATTRIBUTES = ("name", "legal_rep_name", "holder_name", "licence_name", "item_name")
INDEXED_CHARACTERS = 32
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def fold(text: str) -> str:
    return text.translate(_ASCII_LOWER)


def name_tokens(value: str) -> list[str]:
    """The tokens a name is found by, each once, in order of first appearance."""
    head = fold(value)[:INDEXED_CHARACTERS]
    pairs = [head[i:i + 2] for i in range(len(head) - 1)]
    return list(dict.fromkeys([*head, *pairs]))


def lookup_token(fragment: str) -> str:
    """The token whose key range holds every name containing ``fragment`` (its first one or two characters)."""
    return fold(fragment)[:2]
