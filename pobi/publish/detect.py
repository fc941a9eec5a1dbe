"""What an input is, when the publisher does not say: its format from the name and the first bytes, its
encoding from a byte-order mark or from which of UTF-8 and GB 18030 reads it. Pure: no I/O.

Each answer comes with the reason, which ``pobi publish`` prints, so that a wrong guess is visible at once
and the clerk knows which flag overrides it.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from pathlib import PurePath

__all__ = ["SAMPLE_BYTES", "Guess", "guess_encoding", "guess_format"]

SAMPLE_BYTES = 64 * 1024
_BY_EXTENSION = {".xlsx": "excel", ".xlsm": "excel", ".xls": "excel", ".ods": "excel", ".csv": "csv",
                 ".tsv": "csv", ".txt": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


@dataclass(frozen=True)
class Guess:
    value: str
    why: str


def _looks_like_debezium(text: str) -> bool:
    return '"payload"' in text or ('"source"' in text and '"connector"' in text)


def guess_format(name: str | None, head: bytes) -> Guess:
    """``jsonl``, ``csv``, ``debezium`` or ``excel`` for an input named ``name`` beginning with ``head``."""
    if head.startswith(b"PK\x03\x04") or head.startswith(b"\xd0\xcf\x11\xe0"):
        return Guess("excel", "the content is a workbook (zip or OLE)")
    extension = PurePath(name).suffix.lower() if name else ""
    if extension in _BY_EXTENSION and _BY_EXTENSION[extension] != "excel":
        found = _BY_EXTENSION[extension]
        if found == "jsonl" and _looks_like_debezium(head[:SAMPLE_BYTES].decode("utf-8", "replace")):
            return Guess("debezium", f"{extension} holding Debezium change events")
        return Guess(found, f"the name ends in {extension}")
    text = head.lstrip(codecs.BOM_UTF8).decode("utf-8", "replace").lstrip()
    if text.startswith(("{", "[")):
        if _looks_like_debezium(text):
            return Guess("debezium", "the content is JSON with Debezium's payload or source")
        return Guess("jsonl", "the content starts with JSON")
    return Guess("csv", "the content is not JSON or a workbook")


def guess_encoding(head: bytes) -> Guess:
    """The codec that reads ``head``: the one its byte-order mark names, else UTF-8 if it decodes, else
    GB 18030 (a superset of GBK and GB 2312, what Chinese Windows exports)."""
    for bom, codec in _BOMS:
        if head.startswith(bom):
            return Guess(codec, "a byte-order mark")
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)  # a cut character at the end is fine
    except UnicodeDecodeError:
        pass
    else:
        return Guess("utf-8", "it decodes as UTF-8")
    try:
        codecs.getincrementaldecoder("gb18030")().decode(head, final=False)
    except UnicodeDecodeError:
        return Guess("utf-8", "neither UTF-8 nor GB 18030 reads it; lines that do not decode go to the DLQ")
    return Guess("gb18030", "it is not UTF-8 and decodes as GB 18030")
