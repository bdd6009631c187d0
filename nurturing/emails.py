"""Nurture emails: personalisation, tracked links and the signed unsubscribe link.

Personalisation is a fixed set of placeholders, ``{{ first_name }}`` and the like, replaced by plain
text — not a template language: marketing's text cannot reach anything but these values, and in the
HTML body every value is escaped. Links (``href="https://…"`` in HTML, bare ``https://…`` in text) are
rewritten to this installation's click-tracking redirect, which records a ``newsletter_click`` event
and forwards to the original address.
"""

from __future__ import annotations

import functools
import html as html_lib
import re
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils.html import escape
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from funnel.models import Contact
from nurturing.models import EmailTemplate

PLACEHOLDERS = {
    "first_name": gettext_lazy("the contact's first name"),
    "last_name": gettext_lazy("the contact's last name"),
    "full_name": gettext_lazy("first and last name"),
    "email": gettext_lazy("the contact's email address"),
    "company": gettext_lazy("the company's name"),
    "owner": gettext_lazy("the owner's name"),
    "owner_email": gettext_lazy("the owner's email address"),
    "unsubscribe_url": gettext_lazy("the personal unsubscribe link"),
}
# Shown with the placeholders: {{ content:<number> }} is the address of that content block.
_PLACEHOLDER = re.compile(r"\{\{\s*([a-zA-Z_]+)\s*\}\}")
# {{ content:12 }}: the address of content block 12 (content app); its clicks count for that block.
_CONTENT = re.compile(r"\{\{\s*content:(\d{1,9})\s*\}\}")
_ANY_BRACES = re.compile(r"\{\{.*?\}\}", re.S)
_HREF = re.compile(r"""(href\s*=\s*)(["'])(https?://[^"']+)\2""", re.I)
_TEXT_URL = re.compile(r"""https?://[^\s<>"')\]]+""")

UNSUBSCRIBE_SALT = "nurturing.unsubscribe"
CLICK_SALT = "nurturing.click"


@dataclass(frozen=True)
class Composed:
    subject: str
    body_text: str
    body_html: str


def template_problems(template: EmailTemplate) -> dict[str, list[str]]:
    """Unknown placeholders per field (a typo would otherwise reach the recipient as ``{{ frist }}``)."""
    problems: dict[str, list[str]] = {}
    for name in ("subject", "body_text", "body_html"):
        text = getattr(template, name) or ""
        unknown = []
        for match in _ANY_BRACES.finditer(text):
            inner = _PLACEHOLDER.fullmatch(match.group(0))
            if _CONTENT.fullmatch(match.group(0)):
                continue
            if inner is None or inner.group(1) not in PLACEHOLDERS:
                unknown.append(match.group(0))
        if unknown:
            problems[name] = [
                _("Unknown placeholder %(found)s. Known: %(known)s.")
                % {
                    "found": ", ".join(sorted(set(unknown))),
                    "known": ", ".join(f"{{{{ {p} }}}}" for p in PLACEHOLDERS),
                }
            ]
    wanted = {
        int(i) for name in ("body_text", "body_html") for i in _CONTENT.findall(getattr(template, name) or "")
    }
    if wanted:
        from content.models import ContentBlock

        usable = set(ContentBlock.objects.filter(pk__in=wanted).exclude(url="").values_list("pk", flat=True))
        missing = sorted(wanted - usable)
        if missing:
            problems.setdefault("body_text", []).append(
                _("No content block with an address has the number %(ids)s.")
                % {"ids": ", ".join(str(i) for i in missing)}
            )
    if "{{ unsubscribe_url }}" not in _normalise(template.body_text or ""):
        problems.setdefault("body_text", []).append(
            _("The text body must contain {{ unsubscribe_url }}: every nurture email offers a way out.")
        )
    return problems


def _normalise(text: str) -> str:
    return _PLACEHOLDER.sub(lambda m: "{{ " + m.group(1) + " }}", text)


def absolute(path: str) -> str:
    return settings.SITE_URL + path


def unsubscribe_token(contact_id: int) -> str:
    # A plain signed id (not signing.dumps): every email carries one, and this is ~10× cheaper.
    return signing.Signer(salt=UNSUBSCRIBE_SALT).sign(str(contact_id))


def unsubscribe_contact_id(token: str) -> int | None:
    """The contact of an unsubscribe token, or None when it is forged or damaged. No expiry: an
    unsubscribe link in an old email must still work."""
    try:
        value = signing.Signer(salt=UNSUBSCRIBE_SALT).unsign(token)
    except signing.BadSignature:
        return None
    return int(value) if value.isdigit() else None


@functools.cache
def _route(name: str) -> tuple[str, str]:
    """The absolute URL of route ``name`` around its token, resolved once (``reverse`` per link cost
    more than the rest of an email's composition)."""
    marker = "TOKEN"
    head, _marker, tail = absolute(reverse(name, args=[marker])).rpartition(marker)
    return head, tail


def unsubscribe_url(contact_id: int) -> str:
    head, tail = _route("nurturing:unsubscribe")
    return head + unsubscribe_token(contact_id) + tail


def click_token(*, contact_id: int, key: str, url: str, content_id: int | None = None) -> str:
    value = {"c": contact_id, "k": key, "u": url}
    if content_id is not None:
        value["i"] = content_id
    return signing.dumps(value, salt=CLICK_SALT, compress=True)


def click_target(token: str) -> dict | None:
    """``{"c": contact id, "k": email key, "u": url}`` of a click token, or None when forged."""
    try:
        value = signing.loads(token, salt=CLICK_SALT)
    except signing.BadSignature:
        return None
    if not (isinstance(value, dict) and isinstance(value.get("c"), int) and isinstance(value.get("u"), str)):
        return None
    if not value["u"].lower().startswith(("http://", "https://")):
        return None  # never an open redirect to javascript: or data:
    return value


def click_url(*, contact_id: int, key: str, url: str, content_id: int | None = None) -> str:
    head, tail = _route("nurturing:click")
    return head + click_token(contact_id=contact_id, key=key, url=url, content_id=content_id) + tail


def _content_urls(template: EmailTemplate) -> dict[int, str]:
    """Content block id → address, for the blocks the template names; cached on the template object,
    so a batch of emails from one template asks the database once."""
    cached = getattr(template, "_content_urls", None)
    if cached is None:
        wanted = {
            int(i) for text in (template.body_text, template.body_html) for i in _CONTENT.findall(text or "")
        }
        cached = {}
        if wanted:
            from content.models import ContentBlock

            cached = dict(ContentBlock.objects.filter(pk__in=wanted).exclude(url="").values_list("pk", "url"))
        template._content_urls = cached
    return cached


def _values(contact: Contact) -> dict[str, str]:
    owner = contact.owner
    return {
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "full_name": contact.full_name,
        "email": contact.email or "",
        "company": contact.company.name if contact.company_id else "",
        "owner": (owner.get_full_name() or owner.get_username()) if owner else "",
        "owner_email": owner.email if owner else "",
        "unsubscribe_url": unsubscribe_url(contact.pk),
    }


def compose(template: EmailTemplate, contact: Contact, *, key: str, track: bool = True) -> Composed:
    """The personalised email for one contact; ``key`` names this send (it goes into tracked links).
    ``contact`` should come with ``company`` and ``owner`` selected."""
    values = _values(contact)
    unsubscribe = values["unsubscribe_url"]

    tracked: dict[str, str] = {}  # the same link in the text and the HTML body: one token
    contents = _content_urls(template)
    content_of = {url: content_id for content_id, url in contents.items()}

    def track_url(url: str) -> str:
        if not track or url == unsubscribe or url.startswith(settings.SITE_URL + "/n/"):
            return url
        if url not in tracked:
            tracked[url] = click_url(contact_id=contact.pk, key=key, url=url, content_id=content_of.get(url))
        return tracked[url]

    def content(text: str, *, html: bool) -> str:
        # A block deleted since the template was saved leaves an empty address, not "{{ content:… }}".
        def one(match: re.Match) -> str:
            url = contents.get(int(match.group(1)), "")
            return escape(url) if html else url

        return _CONTENT.sub(one, text)

    def fill(text: str, *, html: bool) -> str:
        def one(match: re.Match) -> str:
            value = values.get(match.group(1), "")
            return escape(value) if html else value

        return _PLACEHOLDER.sub(one, text)

    subject = " ".join(fill(template.subject, html=False).split())  # no header injection by newlines
    text = _TEXT_URL.sub(lambda m: track_url(m.group(0)), content(template.body_text, html=False))
    text = fill(text, html=False)
    html = ""
    if template.body_html:
        html = _HREF.sub(
            lambda m: (
                f"{m.group(1)}{m.group(2)}{escape(track_url(html_lib.unescape(m.group(3))))}{m.group(2)}"
            ),
            content(template.body_html, html=True),
        )
        html = fill(html, html=True)
    return Composed(subject=subject[:300], body_text=text, body_html=html)
