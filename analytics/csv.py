"""CSV downloads that open safely and correctly in spreadsheet programs.

Two things go wrong with naive CSV exports: a cell that a spreadsheet reads as a formula (formula or
"CSV" injection — a company named ``=HYPERLINK(...)`` becomes a live link, ``@SUM(...)`` a call),
and Excel guessing the encoding and mangling umlauts. :func:`safe_cell` neutralises the first for
every text cell while leaving real numbers alone; :func:`csv_response` writes a UTF-8 BOM for the
second.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal

from django.http import HttpResponse

# What a spreadsheet may start a formula with (OWASP), plus the full-width forms some read the same.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")


def safe_cell(value) -> str:
    """The text of one cell. Numbers (int, float, Decimal) are written as they are, so -3 stays -3;
    any text that a spreadsheet could take for a formula gets a leading apostrophe, so the string
    "-3" or "=1+1" arrives as text. None is an empty cell, dates are ISO 8601."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float | Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    text = str(value)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def csv_response(filename: str, header: list[str], rows: Iterable[Iterable]) -> HttpResponse:
    """A CSV download: UTF-8 with BOM (so Excel opens umlauts right), comma-separated, every cell
    through :func:`safe_cell`, offered as an attachment named after ``filename`` (reduced to
    letters, digits, ``.``, ``_`` and ``-``; ``.csv`` is added when missing)."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{_safe_filename(filename)}"'
    response.write("\ufeff")
    writer = csv.writer(response)
    writer.writerow([safe_cell(cell) for cell in header])
    for row in rows:
        writer.writerow([safe_cell(cell) for cell in row])
    return response


def _safe_filename(filename: str) -> str:
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", filename)
    name = re.sub(r"\.{2,}", ".", name).strip(".-") or "export"
    if not name.lower().endswith(".csv"):
        name += ".csv"
    return name
