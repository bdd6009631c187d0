"""The two pages recipients of nurture emails reach without logging in: unsubscribe and the
click-tracking redirect. Both are addressed by a signed token (nurturing.emails); a forged or damaged
token gets a 404, never information about contacts."""

from __future__ import annotations

import hashlib

from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from funnel.models import Contact
from nurturing import emails
from nurturing.models import ConsentChange
from nurturing.services import consent_withdraw
from scoring.ingest import EventBatchInvalid, events_ingest

CLICK_EVENT_TYPE = "newsletter_click"


def _mask(email: str | None) -> str:
    """``a•••@example.com``: enough to recognise one's address, not to read it off a shared screen."""
    if not email or "@" not in email:
        return ""
    local, _at, domain = email.partition("@")
    return f"{local[:1]}•••@{domain}"


# CSRF is off on purpose: mail clients' one-click unsubscribe (RFC 8058) POSTs without a token, and
# the signed contact token in the URL is what authorises the request.
@csrf_exempt
@never_cache
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token: str):
    contact_id = emails.unsubscribe_contact_id(token)
    contact = (
        Contact.objects.filter(pk=contact_id).only("pk", "email", "consent_email").first()
        if contact_id
        else None
    )
    if contact is None:
        raise Http404
    if request.method == "POST":
        consent_withdraw(
            contact_id=contact.pk,
            source=ConsentChange.Source.UNSUBSCRIBE_LINK,
            detail=(request.headers.get("User-Agent") or "")[:200],
        )
        return render(request, "nurturing/public/unsubscribed.html", {"email": _mask(contact.email)})
    # A GET only asks: link scanners and previews open links, and must not unsubscribe anybody.
    return render(
        request,
        "nurturing/public/unsubscribe.html",
        {"email": _mask(contact.email), "already": not contact.consent_email},
    )


@never_cache
@require_GET
def click(request, token: str):
    target = emails.click_target(token)
    if target is None:
        raise Http404
    url, key = target["u"], str(target.get("k", ""))
    digest = hashlib.sha256(f"{key}|{url}".encode()).hexdigest()[:24]
    try:
        # One event per email and link: a scanner or a double click does not count twice.
        events_ingest(
            payload={
                "id": f"click:{digest}",
                "type": CLICK_EVENT_TYPE,
                "contact": target["c"],
                "properties": {
                    "url": url[:2000],
                    "email": key,
                    # A link to a content block counts for it (content.selectors.content_performance).
                    **({"content_id": target["i"]} if isinstance(target.get("i"), int) else {}),
                },
            }
        )
    except EventBatchInvalid:
        pass  # the contact was deleted (or the type removed): the recipient still gets where they clicked
    return HttpResponseRedirect(url)
