"""The German translation: pages follow the browser's language (English by default), the language
switch sticks, and the committed catalogue (locale/de/LC_MESSAGES/django.po and the compiled
django.mo, both in git so that no gettext tools are needed to run Trichter) is complete and current.

The catalogue tests parse the .po file with plain Python; the ones that need GNU msgfmt are skipped
where it is not installed.
"""

from __future__ import annotations

import ast
import gettext
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation

from tests.factories import CompanyFactory, ContactFactory

LOCALE_DIR = Path(settings.BASE_DIR) / "locale" / "de" / "LC_MESSAGES"
PO_FILE = LOCALE_DIR / "django.po"
MO_FILE = LOCALE_DIR / "django.mo"
TEMPLATES_DIR = Path(settings.BASE_DIR) / "templates"

DE = {"HTTP_ACCEPT_LANGUAGE": "de"}
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


def page(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


# --- pages follow Accept-Language ----------------------------------------------------------------


@pytest.mark.django_db
def test_funnel_table_in_german(client_for, marketing_user):
    html = page(client_for(marketing_user).get(reverse("funnel:table"), **DE))
    assert '<html lang="de">' in html
    # The five columns, in the German source document's words.
    for word in ("Kaufprozess", "Aufgabe", "Erwartete Antwort", "Metrik", "Entdeckung"):
        assert word in html
    for word in ("Stufe", "Kontakte", "Firmen", "Abmelden", "Übersicht", "Gesamt", "Der Trichter"):
        assert word in html
    # The screen-reader label of an editable cell is one translatable phrase, not "Edit" + column.
    assert "Kaufprozess bearbeiten" in html
    for english in ("Buying process", "Expected response", "Log out", "Overview"):
        assert english not in html


@pytest.mark.django_db
def test_funnel_table_in_english(client_for, marketing_user):
    html = page(client_for(marketing_user).get(reverse("funnel:table"), **EN))
    assert '<html lang="en">' in html
    for word in ("Buying process", "Task", "Expected response", "Metric", "Discovery", "Contacts", "Log out"):
        assert word in html
    assert "Edit buying process" in html
    for german in ("Kaufprozess", "Abmelden", "Übersicht"):
        assert german not in html


@pytest.mark.django_db
def test_contact_list_in_german(client_for, sales_user):
    ContactFactory(owner=sales_user)
    response = client_for(sales_user).get(reverse("funnel:contact-list"), **DE)
    assert response["Content-Language"] == "de"
    html = page(response)
    for word in (
        "Kontakte",
        "Kontakt hinzufügen",
        "Betreuer",
        "Alle Stufen",
        "Schlagwort",
        "Sortieren nach",
        "Neueste zuerst",
    ):
        assert word in html
    assert re.search(r"1–1 von 1 Kontakt\b", html)  # the plural form for one
    for english in ("Add contact", "All owners", "Sort by", "Newest first"):
        assert english not in html


@pytest.mark.django_db
def test_contact_list_in_english(client_for, sales_user):
    ContactFactory(owner=sales_user)
    response = client_for(sales_user).get(reverse("funnel:contact-list"), **EN)
    assert response["Content-Language"] == "en"
    html = page(response)
    for word in ("Contacts", "Add contact", "Owner", "All stages", "Sort by"):
        assert word in html
    assert re.search(r"1–1 of 1 contact\b", html)
    assert "Kontakte" not in html


@pytest.mark.django_db
def test_login_page_in_german_and_english(client):
    html = page(client.get(reverse("login"), **DE))
    assert "Anmelden" in html
    assert "Bei Trichter anmelden" in html
    assert "Benutzername" in html  # Django's own catalogue: the login form's labels
    assert "Log in" not in html

    html = page(client.get(reverse("login"), **EN))
    assert "Log in to Trichter" in html
    assert "Username" in html
    assert "Anmelden" not in html


@pytest.mark.django_db
def test_regional_variant_falls_back_to_german(client):
    html = page(client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="de-AT,de;q=0.9,en;q=0.5"))
    assert "Bei Trichter anmelden" in html


@pytest.mark.django_db
def test_english_is_the_default(client):
    """No Accept-Language (as in the rest of the suite) or one we do not offer: English."""
    assert "Log in to Trichter" in page(client.get(reverse("login")))
    assert "Log in to Trichter" in page(client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="fr"))


@pytest.mark.django_db
def test_plural_forms(client_for, sales_user):
    CompanyFactory(name="Eins GmbH")
    html = page(client_for(sales_user).get(reverse("funnel:company-list"), **DE))
    assert "1–1 von 1 Firma" in html
    CompanyFactory(name="Zwei GmbH")
    html = page(client_for(sales_user).get(reverse("funnel:company-list"), **DE))
    assert "1–2 von 2 Firmen" in html
    with translation.override("de"):
        assert translation.ngettext("%(counter)s contact", "%(counter)s contacts", 1) == "%(counter)s Kontakt"
        assert (
            translation.ngettext("%(counter)s contact", "%(counter)s contacts", 2) == "%(counter)s Kontakte"
        )


@pytest.mark.django_db
def test_flash_messages_and_form_errors_in_german(client_for, sales_user):
    client = client_for(sales_user)
    response = client.post(reverse("funnel:company-create"), {"name": "Musterbau GmbH"}, follow=True, **DE)
    assert "Firma „Musterbau GmbH“ angelegt." in page(response)

    response = client.post(
        reverse("funnel:contact-create"), {"company": "Gibt es nicht", "stage": "lead"}, **DE
    )
    assert response.status_code == 400
    assert "Es gibt keine Firma namens „Gibt es nicht“." in response.content.decode()


# --- switching the language ----------------------------------------------------------------------


@pytest.mark.django_db
def test_language_switch_sets_the_cookie_and_the_next_page_is_german(client_for, sales_user):
    client = client_for(sales_user)
    contacts = reverse("funnel:contact-list")
    assert "Add contact" in page(client.get(contacts))

    response = client.post(reverse("set_language"), {"language": "de", "next": contacts})
    assert response.status_code == 302
    assert response["Location"] == contacts
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "de"

    html = page(client.get(contacts))  # no Accept-Language: the cookie decides
    assert "Kontakt hinzufügen" in html
    assert '<option value="de" selected>' in html
    # The chosen language beats the browser's.
    assert "Kontakt hinzufügen" in page(client.get(contacts, **EN))

    client.post(reverse("set_language"), {"language": "en", "next": contacts})
    assert "Add contact" in page(client.get(contacts, **DE))


@pytest.mark.django_db
def test_language_switch_works_before_login(client):
    response = client.post(reverse("set_language"), {"language": "de", "next": reverse("login")}, follow=True)
    assert "Bei Trichter anmelden" in page(response)


# --- the catalogue -------------------------------------------------------------------------------


def _unquote(chunks: list[str]) -> str:
    return "".join(ast.literal_eval(chunk) for chunk in chunks)


def parse_po(path: Path) -> list[dict]:
    """Entries of a .po file: {"msgid", "msgid_plural", "msgstr" (list), "flags", "obsolete"}.

    Enough of the format for what makemessages writes (no msgctxt in this project, but parsed).
    """
    entries: list[dict] = []
    for block in path.read_text(encoding="utf-8").strip().split("\n\n"):
        entry = {
            "msgctxt": None,
            "msgid": None,
            "msgid_plural": None,
            "msgstr": {},
            "flags": set(),
            "obsolete": False,
        }
        current: list[str] | None = None
        for line in block.splitlines():
            if line.startswith("#~"):
                entry["obsolete"] = True
                continue
            if line.startswith("#,"):
                entry["flags"].update(f.strip() for f in line[2:].split(","))
                continue
            if line.startswith("#"):
                continue
            match = re.match(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[(\d+)\])?)\s+(".*")$', line)
            if match:
                keyword, index, chunk = match.groups()
                current = [chunk]
                if keyword.startswith("msgstr"):
                    entry["msgstr"][int(index or 0)] = current
                else:
                    entry[keyword] = current
            elif line.startswith('"') and current is not None:
                current.append(line)
            else:
                raise AssertionError(f"unexpected line in {path.name}: {line!r}")
        if entry["msgid"] is None and not entry["obsolete"]:
            continue
        for key in ("msgctxt", "msgid", "msgid_plural"):
            if entry[key] is not None:
                entry[key] = _unquote(entry[key])
        entry["msgstr"] = [_unquote(entry["msgstr"][i]) for i in sorted(entry["msgstr"])]
        entries.append(entry)
    return entries


@pytest.fixture(scope="module")
def po_entries():
    assert PO_FILE.exists(), f"{PO_FILE} is missing: run `make messages`"
    return parse_po(PO_FILE)


def messages_of(entries):
    return [e for e in entries if e["msgid"] and not e["obsolete"]]


def test_po_header(po_entries):
    header = next(e for e in po_entries if e["msgid"] == "")
    assert "fuzzy" not in header["flags"]
    text = header["msgstr"][0]
    assert "Language: de\n" in text
    assert "Content-Type: text/plain; charset=UTF-8\n" in text
    assert "Plural-Forms: nplurals=2; plural=(n != 1);\n" in text


def test_po_has_no_untranslated_fuzzy_or_obsolete_entries(po_entries):
    entries = messages_of(po_entries)
    assert len(entries) > 200
    untranslated = [e["msgid"] for e in entries if not all(e["msgstr"])]
    fuzzy = [e["msgid"] for e in entries if "fuzzy" in e["flags"]]
    obsolete = [e for e in po_entries if e["obsolete"]]
    assert not untranslated, f"untranslated: {untranslated}"
    assert not fuzzy, f"fuzzy: {fuzzy}"
    assert not obsolete, "obsolete (#~) entries: delete them"
    for e in entries:
        if e["msgid_plural"] is not None:
            assert len(e["msgstr"]) == 2, f"two plural forms expected: {e['msgid']!r}"


PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|\{\w*\}|</?\w+[^>]*>")


@pytest.mark.parametrize("which", ["singular", "plural"])
def test_translations_keep_placeholders_and_html(po_entries, which):
    """Every %(name)s, {name} and HTML tag of the English text is in the German one, and no other."""
    problems = []
    for e in messages_of(po_entries):
        if which == "singular":
            source, target = e["msgid"], e["msgstr"][0]
        elif e["msgid_plural"] is not None:
            source, target = e["msgid_plural"], e["msgstr"][1]
        else:
            continue
        if sorted(PLACEHOLDER.findall(source)) != sorted(PLACEHOLDER.findall(target)):
            problems.append((source, target))
    assert not problems


def test_no_english_typographic_quotes_in_german(po_entries):
    """German quotes are „…“; an English opening “ left in a translation is a slip."""
    slips = [
        e["msgstr"] for e in messages_of(po_entries) if any("“" in s and "„" not in s for s in e["msgstr"])
    ]
    assert not slips


# Header lines that makemessages rewrites on every run without changing any translation.
VOLATILE_HEADER = re.compile(r"^(POT-Creation-Date|PO-Revision-Date):.*\n", re.MULTILINE)


def catalogue(mo_path: Path) -> dict:
    """The messages of a compiled catalogue, its header without the volatile dates."""
    with mo_path.open("rb") as fp:
        messages = dict(gettext.GNUTranslations(fp)._catalog)
    messages[""] = VOLATILE_HEADER.sub("", messages.get("", ""))
    return messages


def test_compiled_catalogue_matches_the_po_file(po_entries):
    """The committed django.mo holds exactly the .po's translations (no gettext tools needed)."""
    assert MO_FILE.exists(), f"{MO_FILE} is missing: run `make messages`"
    compiled = catalogue(MO_FILE)
    header = next(e for e in po_entries if e["msgid"] == "")
    expected = {"": VOLATILE_HEADER.sub("", header["msgstr"][0])}
    for e in messages_of(po_entries):
        key = e["msgid"] if e["msgctxt"] is None else f"{e['msgctxt']}\x04{e['msgid']}"
        if e["msgid_plural"] is None:
            expected[key] = e["msgstr"][0]
        else:
            for i, text in enumerate(e["msgstr"]):
                expected[(key, i)] = text
    assert compiled == expected, "django.mo is stale: run `manage.py compilemessages`"


def test_msgfmt_statistics_report_everything_translated():
    msgfmt = shutil.which("msgfmt")
    if msgfmt is None:
        pytest.skip("GNU gettext's msgfmt is not installed")
    result = subprocess.run(
        [msgfmt, "--check-format", "--statistics", "-o", os.devnull, str(PO_FILE)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "LC_ALL": "C", "LANGUAGE": ""},
    )
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(r"\d+ translated messages\.\s*", result.stderr), result.stderr


def test_msgfmt_compiles_to_the_committed_mo(tmp_path):
    """Compiling the .po now gives the catalogue that is committed (compared entry by entry, so that
    another msgfmt version's byte layout does not matter)."""
    msgfmt = shutil.which("msgfmt")
    if msgfmt is None:
        pytest.skip("GNU gettext's msgfmt is not installed")
    fresh = tmp_path / "django.mo"
    subprocess.run([msgfmt, "--check-format", "-o", str(fresh), str(PO_FILE)], check=True)
    assert catalogue(fresh) == catalogue(MO_FILE), "django.mo is stale: run `manage.py compilemessages`"


TRANSLATE_TAG = re.compile(
    r"""\{%\s*(?:translate|trans)\s+(?:"([^"]*)"|'([^']*)')(?:\s+context\s+\S+)?\s*%\}"""
)


def test_every_translate_tag_in_the_templates_is_in_the_catalogue(po_entries):
    """A new {% translate "…" %} without a German entry shows English on a German page: run
    `make messages` and translate it."""
    known = {e["msgid"] for e in messages_of(po_entries)}
    missing = set()
    for path in TEMPLATES_DIR.rglob("*.html"):
        for match in TRANSLATE_TAG.finditer(path.read_text(encoding="utf-8")):
            text = match.group(1) if match.group(1) is not None else match.group(2)
            if text not in known:
                missing.add((str(path.relative_to(TEMPLATES_DIR)), text))
    assert not missing, sorted(missing)
