"""Browser UI of the privacy app: download a contact's personal data, erase a contact.

Both are admin-only (roles.MANAGE_USERS): an export hands over everything on a person, an erasure
cannot be undone. The consent log on the contact page is for every role (privacy_tags).
"""

import json

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from accounts import roles
from accounts.decorators import role_required
from audit.services import audit_export
from funnel.models import Contact
from privacy import selectors, services
from privacy.forms import EraseForm


@role_required(roles.MANAGE_USERS)
@require_GET
def contact_export(request, pk: int):
    contact = get_object_or_404(Contact.objects.only("pk"), pk=pk)
    body = json.dumps(selectors.contact_data(contact), ensure_ascii=False, indent=2)
    audit_export(actor=request.user, what="personal_data.json", contact_id=pk)
    response = HttpResponse(body, content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="contact-{pk}-personal-data.json"'
    response["Cache-Control"] = "no-store"
    return response


@role_required(roles.MANAGE_USERS)
@require_http_methods(["GET", "POST"])
def contact_erase(request, pk: int):
    """GET shows the confirmation form; its POST (with the email or ERASE typed) erases."""
    contact = get_object_or_404(Contact.objects.select_related("company"), pk=pk)
    form = EraseForm(request.POST or None, contact=contact)
    if request.method == "POST" and form.is_valid():
        try:
            record = services.contact_erase(
                contact=contact, by=request.user, reason=form.cleaned_data["reason"]
            )
        except Contact.DoesNotExist:
            messages.info(request, _("This contact has already been erased."))
            return redirect("funnel:contact-list")
        messages.success(
            request, _("Contact #%(id)s erased; the erasure is logged.") % {"id": record.contact_id}
        )
        return redirect("funnel:contact-list")
    status = 400 if request.method == "POST" else 200
    return render(
        request, "privacy/contact_confirm_erase.html", {"contact": contact, "form": form}, status=status
    )
