"""Reading an uploaded CSV file: encoding and delimiter detection, the header, the rows, and the
fields a column can be mapped to (with suggestions from the header names, English and German).

Spreadsheets write CSV in many ways: Excel in Germany writes ``;`` and cp1252 ("ANSI"), with
"CSV UTF-8" a BOM; LibreOffice and most tools UTF-8 with ``,``; "Unicode text" is UTF-16 with tabs.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

DELIMITERS = (",", ";", "\t")
SNIFF_LINES = 20
PREVIEW_ROWS = 10
IGNORE = ""  # the mapping value of a column that is not imported


class CsvInvalid(Exception):
    """The file cannot be imported at all; the message says why, for the user."""


@dataclass
class CsvInfo:
    encoding: str
    delimiter: str
    header: list[str]
    total_rows: int


# --- detection ------------------------------------------------------------------------------------


def detect_encoding(data: bytes) -> str:
    """UTF-8 with BOM, UTF-16 with BOM, UTF-8, else cp1252 (what German Excel writes as "CSV")."""
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return "utf-8"
    try:
        data.decode("cp1252")
    except UnicodeDecodeError:
        raise CsvInvalid(
            _("The file is not a text file (binary data, or an encoding other than UTF-8 and Windows-1252).")
        ) from None
    return "cp1252"


def detect_delimiter(text: str) -> str:
    """The candidate that splits the first lines into the same number of columns, the most columns
    winning; a file of one column is comma-separated."""
    sample = "\n".join(text.splitlines()[:SNIFF_LINES])
    best, best_score = ",", (0, 0)
    for delimiter in DELIMITERS:
        try:
            widths = [len(row) for row in csv.reader(io.StringIO(sample), delimiter=delimiter) if row]
        except csv.Error:
            continue
        if not widths or widths[0] < 2:
            continue
        consistent = sum(1 for w in widths if w == widths[0])
        score = (consistent, widths[0])
        if score > best_score:
            best, best_score = delimiter, score
    return best


def decode(data: bytes | memoryview, encoding: str) -> str:
    text = bytes(data).decode(encoding)  # PostgreSQL hands a BinaryField back as a memoryview
    return text[1:] if text.startswith("\ufeff") else text


def inspect(data: bytes) -> CsvInfo:
    """Check an upload and describe it; raises :class:`CsvInvalid` with a message for the user."""
    if not data.strip():
        raise CsvInvalid(_("The file is empty."))
    encoding = detect_encoding(data)
    text = decode(data, encoding)
    if "\x00" in text:
        raise CsvInvalid(_("The file is not a text file (it contains binary data)."))
    delimiter = detect_delimiter(text)
    reader = _reader(text, delimiter)
    try:
        header = next(reader, None)
        total = sum(1 for _row in reader)
    except csv.Error as exc:
        raise CsvInvalid(_("The file is not valid CSV: %(error)s") % {"error": exc}) from None
    header = clean_header(header or [])
    if not any(header):
        raise CsvInvalid(_("The first row must hold the column names; it is empty."))
    if any("@" in cell for cell in header):
        raise CsvInvalid(
            _("The first row looks like data (it contains an email address); it must hold the column names.")
        )
    if not total:
        raise CsvInvalid(_("The file has a header row but no data rows."))
    named = [cell or _("Column %(n)d") % {"n": i + 1} for i, cell in enumerate(header)]
    return CsvInfo(encoding=encoding, delimiter=delimiter, header=_unique(named), total_rows=total)


def clean_header(cells: list[str]) -> list[str]:
    return [cell.strip()[:100] for cell in cells]


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in names:
        n = seen.get(name, 0) + 1
        seen[name] = n
        out.append(name if n == 1 else f"{name} ({n})")
    return out


def _reader(text: str, delimiter: str):
    # A field may span lines (quoted newlines); field_size_limit guards against a runaway quote.
    return csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False)


def read_rows(
    data: bytes, encoding: str, delimiter: str, *, start: int = 0
) -> Iterator[tuple[int, list[str]]]:
    """The data rows after the header as (index from 0, cells), from ``start`` on. Blank lines count
    as rows (empty cell lists), so that indexes stay stable between runs."""
    reader = _reader(decode(data, encoding), delimiter)
    next(reader, None)
    for index, row in enumerate(reader):
        if index >= start:
            yield index, row


def preview(
    data: bytes, encoding: str, delimiter: str, width: int, rows: int = PREVIEW_ROWS
) -> list[list[str]]:
    out = []
    for _index, row in read_rows(data, encoding, delimiter):
        out.append([cell[:80] for cell in (row + [""] * width)[:width]])
        if len(out) >= rows:
            break
    return out


# --- fields and suggestions -----------------------------------------------------------------------

FIELDS: dict[str, list[tuple[str, object]]] = {
    "contacts": [
        ("email", gettext_lazy("Email")),
        ("first_name", gettext_lazy("First name")),
        ("last_name", gettext_lazy("Last name")),
        ("phone", gettext_lazy("Phone")),
        ("job_title", gettext_lazy("Job title")),
        ("company", gettext_lazy("Company")),
        ("stage", gettext_lazy("Stage")),
        ("owner", gettext_lazy("Owner (username)")),
        ("source", gettext_lazy("Source")),
        ("tags", gettext_lazy("Tags")),
        ("consent_email", gettext_lazy("Email consent")),
    ],
    "companies": [
        ("name", gettext_lazy("Name")),
        ("domain", gettext_lazy("Domain / website")),
        ("industry", gettext_lazy("Industry")),
        ("employees", gettext_lazy("Employees")),
    ],
    "events": [
        ("external_id", gettext_lazy("Event id")),
        ("type", gettext_lazy("Event type")),
        ("email", gettext_lazy("Email")),
        ("contact", gettext_lazy("Contact id")),
        ("anonymous_id", gettext_lazy("Visitor id")),
        ("occurred_at", gettext_lazy("Occurred at")),
        ("topic", gettext_lazy("Topic")),
    ],
}

# Header names (normalised: lower case, letters and digits only) that suggest a field.
SYNONYMS: dict[str, dict[str, tuple[str, ...]]] = {
    "contacts": {
        "email": ("email", "emailadresse", "emailaddress", "mail", "epost"),
        "first_name": ("firstname", "vorname", "givenname", "first"),
        "last_name": ("lastname", "nachname", "surname", "familyname", "name", "last"),
        "phone": ("phone", "telefon", "tel", "telefonnummer", "phonenumber", "mobil", "mobile", "handy"),
        "job_title": ("jobtitle", "position", "title", "titel", "funktion", "berufsbezeichnung", "rolle"),
        "company": ("company", "firma", "unternehmen", "organisation", "organization", "companyname"),
        "stage": ("stage", "phase", "funnelstage", "stufe"),
        "owner": ("owner", "besitzer", "verantwortlich", "betreuer", "zustandig", "zustaendig"),
        "source": ("source", "quelle", "herkunft", "leadsource", "kanal"),
        "tags": ("tags", "tag", "schlagworte", "schlagwort", "labels"),
        "consent_email": ("consent", "consentemail", "emailconsent", "einwilligung", "newsletter", "optin"),
    },
    "companies": {
        "name": ("name", "company", "firma", "unternehmen", "companyname", "firmenname"),
        "domain": ("domain", "website", "webseite", "url", "homepage", "web"),
        "industry": ("industry", "branche", "sector", "sektor"),
        "employees": (
            "employees",
            "mitarbeiter",
            "mitarbeitende",
            "beschaftigte",
            "size",
            "grosse",
            "headcount",
        ),
    },
    "events": {
        "external_id": ("id", "eventid", "externalid", "ereignisid"),
        "type": ("type", "eventtype", "typ", "ereignistyp", "art"),
        "email": ("email", "emailadresse", "mail"),
        "contact": ("contact", "contactid", "kontakt", "kontaktid"),
        "anonymous_id": ("anonymousid", "visitorid", "besucherid", "cookie"),
        "occurred_at": ("occurredat", "date", "datum", "time", "zeit", "zeitpunkt", "timestamp"),
        "topic": ("topic", "thema"),
    },
}


def normalise_name(name: str) -> str:
    name = name.lower().replace("ä", "a").replace("ö", "o").replace("ü", "u").replace("ß", "ss")
    return re.sub(r"[^a-z0-9]", "", name)


def field_choices(kind: str) -> list[tuple[str, object]]:
    return [(IGNORE, gettext_lazy("— ignore —")), *FIELDS[kind]]


def suggest_mapping(kind: str, header: list[str]) -> dict[str, str]:
    """Column → field for the columns whose name is a known synonym; each field at most once (the
    first column wins), the rest ignored."""
    synonyms = SYNONYMS[kind]
    field_names = {key for key, _label in FIELDS[kind]}
    lookup = {}
    for field_name, names in synonyms.items():
        for name in (field_name, *names):
            lookup.setdefault(normalise_name(name), field_name)
    taken: set[str] = set()
    mapping = {}
    for column in header:
        field_name = lookup.get(normalise_name(column), IGNORE)
        if field_name in field_names and field_name not in taken:
            taken.add(field_name)
            mapping[column] = field_name
        else:
            mapping[column] = IGNORE
    return mapping


def validate_mapping(kind: str, header: list[str], mapping: dict) -> dict[str, str]:
    """A mapping for ``header``: every column named, fields known and not used twice, and the fields
    a kind needs (contacts: email or a name; companies: name; events: id, type, who). Raises
    :class:`CsvInvalid`."""
    if not isinstance(mapping, dict):
        raise CsvInvalid(_("The mapping must be an object of column → field."))
    known = {key for key, _label in FIELDS[kind]}
    unknown_columns = set(mapping) - set(header)
    if unknown_columns:
        raise CsvInvalid(_("Unknown column(s): %(c)s.") % {"c": ", ".join(sorted(map(str, unknown_columns)))})
    clean: dict[str, str] = {}
    used: set[str] = set()
    for column in header:
        value = mapping.get(column) or IGNORE
        if not isinstance(value, str) or (value != IGNORE and value not in known):
            raise CsvInvalid(_("Unknown field %(f)s for column %(c)s.") % {"f": repr(value), "c": column})
        if value != IGNORE:
            if value in used:
                raise CsvInvalid(_("The field %(f)s is mapped to more than one column.") % {"f": value})
            used.add(value)
        clean[column] = value
    if kind == "contacts" and not used & {"email", "first_name", "last_name"}:
        raise CsvInvalid(_("Map at least the email or a name column."))
    if kind == "companies" and "name" not in used:
        raise CsvInvalid(_("Map the company name column."))
    if kind == "events":
        if not {"external_id", "type"} <= used:
            raise CsvInvalid(_("Map the event id and the event type columns."))
        if not used & {"email", "contact", "anonymous_id"}:
            raise CsvInvalid(
                _("Map a column that names who the event is about (email, contact id or visitor id).")
            )
    return clean
