"""The notification inbox: the list, opening one (marks it read and goes to its contact), marking
read, and the bell's unread-count fragment that base.html polls.

Every lookup is scoped to ``request.user``: another user's notification is a 404, never a 403, so
that ids reveal nothing.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts import roles
from accounts.decorators import role_required
from config.web import paginate, render_page, wants_fragment
from notifications import selectors, services

# Everyone with a role gets notifications (the owner of a contact may be sales, marketing or admin).
ANY_ROLE = frozenset(roles.ALL_ROLES)
PAGE_SIZE = 25
# Sent with every response that changes what is unread: the bell refreshes at once, not in 30 s.
CHANGED_EVENT = "notifications-changed"


@role_required(ANY_ROLE)
@require_GET
def notification_list(request):
    return render_page(
        request,
        "notifications/notification_list.html",
        "notifications/_notification_results.html",
        _list_context(request),
    )


@role_required(ANY_ROLE)
@require_GET
def notification_open(request, pk: int):
    """Opening a notification marks it read and shows its contact (or the inbox if it has none)."""
    notification = get_object_or_404(selectors.notification_list(user=request.user), pk=pk)
    services.notification_mark_read(user=request.user, ids=[notification.pk])
    if notification.contact_id:
        return redirect("funnel:contact-detail", pk=notification.contact_id)
    return redirect("notifications:list")


@role_required(ANY_ROLE)
@require_POST
def notification_read(request, pk: int):
    """Mark one notification read. HTMX gets the updated row back."""
    notification = get_object_or_404(selectors.notification_list(user=request.user), pk=pk)
    services.notification_mark_read(user=request.user, ids=[notification.pk])
    if not wants_fragment(request):
        return redirect(_back_to_list(request))
    notification.refresh_from_db(fields=["read_at"])
    response = render(request, "notifications/_notification_row.html", {"notification": notification})
    response["HX-Trigger"] = CHANGED_EVENT
    return response


@role_required(ANY_ROLE)
@require_POST
def notification_read_all(request):
    marked = services.notification_mark_read(user=request.user)
    if not wants_fragment(request):
        messages.success(request, _("All notifications marked as read."))
        return redirect(_back_to_list(request))
    context = _list_context(request, marked=marked)
    response = render(request, "notifications/_notification_results.html", context)
    response["HX-Trigger"] = CHANGED_EVENT
    return response


@require_GET
def notification_bell(request):
    """The unread-count badge of the top bar (empty when nothing is unread).

    Polled by HTMX every 30 s: a poll after the session ended must not swap the login page into the
    top bar, so an anonymous HTMX request gets 204 (HTMX swaps nothing) instead of the redirect.
    """
    if not request.user.is_authenticated and getattr(request, "htmx", False):
        return HttpResponse(status=204)
    return _bell(request)


@role_required(ANY_ROLE)
def _bell(request):
    response = render(request, "notifications/_bell.html", {})
    response["Cache-Control"] = "no-store"
    return response


def _list_context(request, **extra) -> dict:
    number = request.GET.get("page") or request.POST.get("page")
    page = paginate(selectors.notification_list(user=request.user), number, page_size=PAGE_SIZE)
    context = {
        "page": page,
        "page_query": QueryDict(),
        "unread_count": selectors.notification_unread_count(user=request.user),
    }
    context.update(extra)
    return context


def _back_to_list(request) -> str:
    """The inbox page the form was on (only a page number is taken over from the POST)."""
    url = reverse("notifications:list")
    page = request.POST.get("page", "")
    if page.isdigit() and len(page) <= 7 and int(page) > 1:
        return f"{url}?page={int(page)}"
    return url
