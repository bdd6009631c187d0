"""The signals pages of the R/U/C detector: the list (the user's own open signals by default), each
signal's evidence, accepting (a task, a draft offer or a sequence) and dismissing (with a reason) in
place, the detector's precision, its settings, and the contact page's signals section.

Everyone who works with contacts reads signals; deciding one is for its owner or an admin — the
service enforces that (``PermissionDenied``: a 403 page, or an inline message for HTMX). The detector
settings are for marketing and admin (``roles.EDIT_DETECTOR``).

A signal is one ``<tbody id="signal-…">`` of the list: its row and a panel row below it, where the
evidence and the accept and dismiss forms open. Every HTMX action answers with that ``<tbody>``, so
the row and its panel always agree; a decision also updates the precision header out of band. Plain
requests get full pages and redirects, so the controls also work without JavaScript.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from accounts import roles
from accounts.decorators import role_required
from config.web import add_service_errors, paginate, render_page, vary_on_htmx, wants_fragment
from customers import selectors, services
from customers.forms import DetectorSettingsForm, SignalAcceptForm, SignalDismissForm
from customers.models import DetectorSettings, Signal
from funnel.forms import assignable_users
from funnel.models import Contact
from offers.models import Product

PAGE_SIZE = 50
STATUS_ALL = "all"
OWNER_ME, OWNER_ALL = "me", "all"
MAX_ID_DIGITS = 18


# --- The list --------------------------------------------------------------------------------------


@dataclass
class Filters:
    """The list's filters from the query string. A value that is not understood is ignored (the
    default applies), never an error."""

    status: str = Signal.Status.OPEN
    kind: str = ""
    owner: str = OWNER_ME  # "me", "all" or a user id
    product_id: int | None = None
    contact: Contact | None = None

    @classmethod
    def from_query(cls, params) -> Filters:
        filters = cls()
        status = params.get("status", "")
        if status in (*Signal.Status.values, STATUS_ALL):
            filters.status = status
        if params.get("kind", "") in Signal.Kind.values:
            filters.kind = params["kind"]
        owner = params.get("owner", "")
        if owner in (OWNER_ME, OWNER_ALL) or _id(owner) is not None:
            filters.owner = owner
        filters.product_id = _id(params.get("product"))
        contact_id = _id(params.get("contact"))
        if contact_id is not None:
            filters.contact = (
                Contact.objects.only("id", "first_name", "last_name", "email").filter(pk=contact_id).first()
            )
        return filters

    def selector_kwargs(self, user) -> dict:
        owner_id = user.pk if self.owner == OWNER_ME else None if self.owner == OWNER_ALL else int(self.owner)
        return {
            "status": "" if self.status == STATUS_ALL else self.status,
            "kind": self.kind,
            "owner_id": owner_id,
            "product_id": self.product_id,
            "contact_id": self.contact.pk if self.contact else None,
            "open_first": True,
        }

    def query(self) -> QueryDict:
        """The filters that differ from the defaults, for page links."""
        query = QueryDict(mutable=True)
        if self.status != Signal.Status.OPEN:
            query["status"] = self.status
        if self.kind:
            query["kind"] = self.kind
        if self.owner != OWNER_ME:
            query["owner"] = self.owner
        if self.product_id is not None:
            query["product"] = str(self.product_id)
        if self.contact is not None:
            query["contact"] = str(self.contact.pk)
        return query


@role_required(roles.WORK_CONTACTS)
@require_GET
def signal_list(request):
    """The signals, open ones first; HTMX requests (filters, pages) get only ``#signal-results``."""
    filters = Filters.from_query(request.GET)
    page = paginate(
        selectors.signal_list(**filters.selector_kwargs(request.user)),
        request.GET.get("page"),
        page_size=PAGE_SIZE,
    )
    _mark_decidable(page.items, request.user)
    context = {
        "page": page,
        "page_query": filters.query(),
        "filters": filters,
        "back": request.get_full_path(),
        **_base_context(request),
    }
    if not wants_fragment(request):
        context.update(
            {
                "precision": selectors.signal_precision(),
                "owners": assignable_users(),
                "products": Product.objects.only("id", "name").order_by("name"),
                "statuses": [*Signal.Status.choices, (STATUS_ALL, _("All statuses"))],
                "kinds": Signal.Kind.choices,
            }
        )
    return render_page(request, "customers/signal_list.html", "customers/_signal_results.html", context)


# --- One signal ------------------------------------------------------------------------------------


@role_required(roles.WORK_CONTACTS)
@require_GET
def signal_row(request, pk: int):
    """The signal's ``<tbody>`` with its panel closed: what Cancel and Hide swap back in."""
    signal = _get_signal(pk)
    if not wants_fragment(request):
        return redirect(_back(request))
    return vary_on_htmx(_render_signal(request, signal))


@role_required(roles.WORK_CONTACTS)
@require_GET
def signal_evidence(request, pk: int):
    """The events that raised the signal (type, topic, time)."""
    signal = _get_signal(pk)
    events = selectors.signal_evidence(signal=signal)
    if wants_fragment(request):
        return vary_on_htmx(_render_signal(request, signal, panel="evidence", events=events))
    context = {"signal": signal, "events": events, "back": _back(request), **_base_context(request)}
    return vary_on_htmx(render(request, "customers/signal_evidence.html", context))


@role_required(roles.WORK_CONTACTS)
@require_http_methods(["GET", "POST"])
def signal_accept(request, pk: int):
    """GET: the accept form (in the row's panel, or a page). POST: accept through the service."""
    return _decide(request, pk, "accept")


@role_required(roles.WORK_CONTACTS)
@require_http_methods(["GET", "POST"])
def signal_dismiss(request, pk: int):
    """GET: the dismiss form (a reason is required). POST: dismiss through the service."""
    return _decide(request, pk, "dismiss")


def _decide(request, pk: int, mode: str) -> HttpResponse:
    fragment = wants_fragment(request)
    signal = _get_signal(pk)
    if not _can_decide(signal, request.user):
        return _refused(request, signal, _("Only the signal's owner or an admin may decide it."))
    form_class = SignalAcceptForm if mode == "accept" else SignalDismissForm
    prefix = f"signal-{signal.pk}"
    if request.method == "GET":
        if signal.status != Signal.Status.OPEN:
            if fragment:
                return vary_on_htmx(_render_signal(request, signal, row_error=_decided_already()))
            return _decide_answer(request, signal, mode, None)
        return _decide_answer(request, signal, mode, form_class(prefix=prefix))
    form = form_class(request.POST, prefix=prefix)
    if form.is_valid():
        try:
            if mode == "accept":
                decided = services.signal_accept(signal=signal, by=request.user, **form.service_kwargs())
            else:
                decided = services.signal_dismiss(
                    signal=signal, by=request.user, reason=form.cleaned_data["reason"]
                )
        except PermissionDenied as exc:  # the owner changed since the page was loaded
            return _refused(
                request, signal, str(exc) or _("Only the signal's owner or an admin may decide it.")
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            text = _decided_text(decided)
            if not fragment:
                messages.success(request, text)
                return redirect(_back(request))
            signal = _get_signal(pk)
            return _render_signal(request, signal, row_message=text, precision_oob=True)
    signal = _get_signal(pk)  # a refusal may have been that someone else decided it meanwhile
    return _decide_answer(request, signal, mode, form, status=400)


def _decide_answer(request, signal: Signal, mode: str, form, status: int = 200) -> HttpResponse:
    if wants_fragment(request):
        # HTMX swaps only successful answers: the form with its errors comes back as a 200.
        return vary_on_htmx(_render_signal(request, signal, panel=mode, form=form))
    context = {"signal": signal, "mode": mode, "form": form, "back": _back(request), **_base_context(request)}
    return vary_on_htmx(render(request, "customers/signal_decide.html", context, status=status))


def _decided_already() -> str:
    return _("This signal has been decided already.")


def _refused(request, signal: Signal, text: str) -> HttpResponse:
    if not wants_fragment(request):
        raise PermissionDenied(text)
    return _render_signal(request, signal, row_error=text)


def _decided_text(signal: Signal) -> str:
    if signal.status == Signal.Status.DISMISSED:
        return _("Signal dismissed: %(reason)s") % {"reason": signal.dismiss_reason}
    if signal.task_id:
        return _("Signal accepted: task “%(title)s” created.") % {"title": signal.task.title}
    if signal.offer_id:
        return _("Signal accepted: draft offer “%(title)s” created.") % {"title": signal.offer.title}
    if signal.enrollment_id:
        return _("Signal accepted: the contact is enrolled in “%(sequence)s”.") % {
            "sequence": signal.enrollment.sequence.name
        }
    return _("Signal accepted.")


# --- Settings --------------------------------------------------------------------------------------


@role_required(roles.EDIT_DETECTOR)
@require_http_methods(["GET", "POST"])
def detector_settings(request):
    form = DetectorSettingsForm(request.POST or None, instance=copy.copy(DetectorSettings.load()))
    if request.method == "POST" and form.is_valid():
        try:
            services.detector_settings_update(**form.service_kwargs())
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Detector settings saved. They apply to the next interest shown."))
            return redirect("customers:detector-settings")
    status = 400 if request.method == "POST" else 200
    return render(request, "customers/settings.html", {"form": form, **_base_context(request)}, status=status)


# --- The contact page's section --------------------------------------------------------------------


@role_required(roles.WORK_CONTACTS)
@require_GET
def contact_signals(request, pk: int):
    """The contact page's signals section (loaded by HTMX); without HTMX a small page of its own."""
    contact = get_object_or_404(Contact.objects.only("id", "first_name", "last_name", "email"), pk=pk)
    signals = selectors.contact_signals(contact_id=contact.pk)
    all_url = (
        reverse("customers:signal-list") + f"?owner={OWNER_ALL}&status={STATUS_ALL}&contact={contact.pk}"
    )
    context = {"contact": contact, "signals": signals, "all_url": all_url}
    return render_page(request, "customers/contact_signals.html", "customers/_contact_signals.html", context)


# --- Helpers ---------------------------------------------------------------------------------------


def _base_context(request) -> dict:
    return {"can_edit_detector": roles.has_any(request.user, roles.EDIT_DETECTOR)}


def _get_signal(pk: int) -> Signal:
    return get_object_or_404(
        Signal.objects.select_related(
            "contact", "company", "product", "owner", "decided_by", "task", "offer", "enrollment__sequence"
        ),
        pk=pk,
    )


def _can_decide(signal: Signal, user) -> bool:
    """The service's rule (its owner, anyone for an unowned one, or an admin), asked before a form is
    shown; the service checks again when it decides."""
    try:
        services._may_decide(signal, user)
    except PermissionDenied:
        return False
    return True


def _mark_decidable(signals, user) -> None:
    for signal in signals:
        signal.can_decide = signal.status == Signal.Status.OPEN and _can_decide(signal, user)


def _render_signal(request, signal: Signal, **extra) -> HttpResponse:
    _mark_decidable([signal], request.user)
    context = {"signal": signal, "back": _back(request), "panel": "", **_base_context(request), **extra}
    if extra.get("precision_oob"):
        context["precision"] = selectors.signal_precision()
    return render(request, "customers/_signal.html", context)


def _back(request) -> str:
    """Where a plain form goes back to: the list as it was (``next``, only a signals list URL), else
    the default list."""
    url = request.POST.get("next") or request.GET.get("next") or ""
    base = reverse("customers:signal-list")
    if (
        len(url) <= 2000
        and url.startswith(base)
        and url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()}, require_https=False)
    ):
        return url
    return base


def _id(value) -> int | None:
    """A positive id from a query parameter, else None."""
    if isinstance(value, str) and value.isdigit() and len(value) <= MAX_ID_DIGITS and int(value) > 0:
        return int(value)
    return None
