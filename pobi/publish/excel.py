"""Excel workbooks (``.xlsx``, ``.xlsm``, ``.xls``, ``.ods``), read by python-calamine, with the same header
mappings and checks as CSV.

A clerk's workbook is not a clean table: a title row or two above the header, an instructions sheet, dates
that Excel keeps as serial numbers, and ID numbers that Excel turned into ``3.50102E+17`` when the column was
not formatted as text. So: the header row is the first of a sheet's first ``HEADER_SEARCH_ROWS`` rows that
names the dataset's key field (after the mapping); a sheet without one is skipped and said so, unless it was
chosen with ``--sheet`` (then its rows are refused as ``excel.header``); a number in a date field is a serial
date; and a number in a text field that is too long to be exact in a spreadsheet's floating point (an ID
number, a credit code) is refused with a reason that tells the clerk what to do.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any, BinaryIO

import orjson
from python_calamine import CalamineWorkbook

from pobi.publish.adapters import Draft, Item, Rejected, Skipped
from schemas.registry import FieldSpec, WireSchema
from schemas.rows import RowError, coerce_text_row

__all__ = ["HEADER_SEARCH_ROWS", "read_workbook"]

HEADER_SEARCH_ROWS = 20
_EXACT_INTEGERS = 2**53  # beyond this a spreadsheet's double cannot hold every digit
_EXCEL_EPOCH = dt.date(1899, 12, 30)  # serial 1 is 1900-01-01, counting Lotus's phantom 1900-02-29


def _serial_date(serial: float) -> dt.datetime:
    return dt.datetime.combine(_EXCEL_EPOCH, dt.time()) + dt.timedelta(days=serial)


def cell_value(spec: FieldSpec | None, name: str, cell: Any) -> Any:
    """A cell as the field wants it; RowError when the spreadsheet already lost what the field needs."""
    if cell is None or cell == "":
        return None
    if isinstance(cell, bool) or spec is None:
        return cell
    if isinstance(cell, dt.datetime):
        return cell.date().isoformat() if spec.rule == "date" else cell.isoformat()
    if isinstance(cell, dt.date):
        return cell.isoformat()
    if isinstance(cell, dt.time | dt.timedelta):
        return str(cell)
    if isinstance(cell, int | float) and spec.base_type == "string":
        if spec.rule in ("date", "datetime") and 0 < cell < 2_958_466:  # a serial date (up to 9999-12-31)
            moment = _serial_date(float(cell))
            return moment.date().isoformat() if spec.rule == "date" else moment.isoformat()
        if float(cell).is_integer() and abs(cell) < _EXACT_INTEGERS:
            return str(int(cell))
        raise RowError("excel.number_as_text", f"{name} {cell:.6g} is stored by Excel as a number and has lost its "
                       "last digits; format the column as text (设置单元格格式 → 文本), type the values again "
                       "and export")
    return cell


def _header_row(rows: list[list[Any]], mapping: dict[str, str], key_field: str) -> tuple[int, list[str]] | None:
    for index, cells in enumerate(rows[:HEADER_SEARCH_ROWS]):
        names = [mapping.get(str(c).strip(), str(c).strip()) for c in cells]
        if key_field in names:
            return index, names
    return None


def _sheet_items(sheet: str, rows: list[list[Any]], schema: WireSchema, mapping: dict[str, str],
                 chosen: bool) -> Iterator[Item]:
    found = _header_row(rows, mapping, schema.key_field)
    if found is None:
        if not chosen:
            yield Skipped(0, "excel.sheet_without_header", sheet=sheet)
            return
        problem = (f"no row among the first {HEADER_SEARCH_ROWS} of sheet {sheet!r} names {schema.key_field!r}; "
                   "give --mapping for its column names")
        for number, cells in enumerate(rows, start=1):
            yield Rejected(number, orjson.dumps(cells, default=str), "excel.header", problem, sheet=sheet)
        return
    at, header = found
    specs = {f.name: f for f in schema.fields}
    for number, cells in enumerate(rows[at + 1:], start=at + 2):
        if not any(c not in (None, "") for c in cells):
            continue
        raw = orjson.dumps(dict(zip(header, cells, strict=False)), default=str)
        try:
            row = {name: cell_value(specs.get(name), name, cell) for name, cell in zip(header, cells, strict=False)
                   if name}
            yield Draft(number, raw, None, coerce_text_row(schema, row), sheet=sheet)
        except RowError as problem:
            yield Rejected(number, raw, problem.reason, problem.message, sheet=sheet)


def read_workbook(source: BinaryIO, schema: WireSchema, mapping: dict[str, str],
                  sheet: str | None = None) -> Iterator[Item]:
    """Every record of every sheet (or of ``sheet``), as drafts, refusals and skipped sheets."""
    try:
        book = CalamineWorkbook.from_filelike(source)
    except Exception as exc:  # calamine's errors have no common base: a file it cannot open at all
        yield Rejected(0, b"", "excel.unreadable", f"not a workbook python-calamine can read: {str(exc)[:200]}")
        return
    names = list(book.sheet_names)
    if sheet is not None and sheet not in names:
        yield Rejected(0, b"", "excel.no_sheet", f"no sheet {sheet!r}; the workbook has {', '.join(names)}")
        return
    for name in [sheet] if sheet is not None else names:
        rows = book.get_sheet_by_name(name).to_python(skip_empty_area=False)
        yield from _sheet_items(name, rows, schema, mapping, chosen=sheet is not None)
