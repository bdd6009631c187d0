"""CSV downloads that open safely and correctly in spreadsheet programs.

Two things go wrong with naive CSV exports: a cell that a spreadsheet reads as a formula (formula or
"CSV" injection — a company named ``=HYPERLINK(...)`` becomes a live link, ``@SUM(...)`` a call),
and Excel guessing the encoding and mangling umlauts. :func:`safe_cell` neutralises the first for
every text cell while leaving real numbers alone; :func:`csv_response` writes a UTF-8 BOM for the
second. :func:`csv_stream_response` is the same file written row by row as the client reads it, for
exports too large to build in memory.

Shared by every app that offers a CSV download (analytics figures and plans, the contact export).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from decimal import Decimal

from django.http import HttpResponse, StreamingHttpResponse
from django.utils import translation

# What a spreadsheet may start a formula with (OWASP), plus the full-width forms some read the same.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")


# Spreadsheet conventions by language: (delimiter, decimal mark). German Excel splits on ";" and
# reads "0,5" as a number; English on "," and "0.5". The API always writes the English form.
DIALECTS = {"en": (",", "."), "de": (";", ",")}


def spreadsheet_locale() -> str:
    """The dialect of the page's language (the browser's downloads follow the UI language)."""
    return "de" if (translation.get_language() or "").startswith("de") else "en"


def safe_cell(value, *, decimal: str = ".") -> str:
    """The text of one cell. Numbers (int, float, Decimal) are written as they are, so -3 stays -3
    (with ``decimal`` as the decimal mark); any text that a spreadsheet could take for a formula
    gets a leading apostrophe, so the string "-3" or "=1+1" arrives as text. None is an empty cell,
    dates are ISO 8601."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float | Decimal):
        return str(value).replace(".", decimal)
    if isinstance(value, datetime | date):
        return value.isoformat()
    text = str(value)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def csv_response(
    filename: str, header: list[str], rows: Iterable[Iterable], *, locale: str = "en"
) -> HttpResponse:
    """A CSV download: UTF-8 with BOM (so Excel opens umlauts right), in the spreadsheet
    ``locale``'s dialect (DIALECTS: delimiter and decimal mark), every cell through
    :func:`safe_cell`, offered as an attachment named after ``filename`` (reduced to letters,
    digits, ``.``, ``_`` and ``-``; ``.csv`` is added when missing)."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{_safe_filename(filename)}"'
    response.write("\ufeff")
    delimiter, decimal = DIALECTS[locale]
    writer = csv.writer(response, delimiter=delimiter)
    writer.writerow([safe_cell(cell, decimal=decimal) for cell in header])
    for row in rows:
        writer.writerow([safe_cell(cell, decimal=decimal) for cell in row])
    return response


def csv_stream_response(
    filename: str, header: list[str], rows: Iterable[Iterable], *, locale: str = "en"
) -> StreamingHttpResponse:
    """:func:`csv_response` for large files: the same BOM, cells and filename, but ``rows`` is consumed
    lazily while the response is sent, so only the current row is held in memory (pass an iterator,
    e.g. ``queryset.iterator(chunk_size=...)``, not a list)."""
    response = StreamingHttpResponse(_csv_lines(header, rows, locale), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{_safe_filename(filename)}"'
    return response


class _Line:
    """A file-like object whose write() hands back what it was given: csv.writer then formats one row
    at a time for the generator below instead of into a buffer."""

    def write(self, value: str) -> str:
        return value


def _csv_lines(header: list[str], rows: Iterable[Iterable], locale: str) -> Iterator[str]:
    delimiter, decimal = DIALECTS[locale]
    writer = csv.writer(_Line(), delimiter=delimiter)
    yield "\ufeff" + writer.writerow([safe_cell(cell, decimal=decimal) for cell in header])
    for row in rows:
        yield writer.writerow([safe_cell(cell, decimal=decimal) for cell in row])


def _safe_filename(filename: str) -> str:
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", filename)
    name = re.sub(r"\.{2,}", ".", name).strip(".-") or "export"
    if not name.lower().endswith(".csv"):
        name += ".csv"
    return name
