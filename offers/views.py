"""The offers pages: the offer list (filters, value, status, pagination), an offer's page with its
lines and the send / win / lose actions, the offer form with its lines, the product catalogue, and the
"Products owned" and "Offers" sections of the contact and company pages.

Everyone who works with contacts reads all of it and works with offers and ownership; marketing and
admin (``roles.EDIT_CATALOG``) change the catalogue. Every write goes through ``offers.services``;
its ``ValidationError`` is shown on the form, next to the field it names.

HTMX: the list's filters and pages swap ``#offer-results``; the actions on an offer's page answer
with ``#offer-main`` (status, lines and actions); "Add line" answers with the form; the contact and
company sections load after the page and answer their own forms. Plain requests get the full page or
a redirect, so everything also works without JavaScript.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import roles
from accounts.decorators import role_required
from config.web import add_service_errors, paginate, render_page, vary_on_htmx, wants_fragment
from funnel.models import Company, Contact
from nurturing.forms import contact_ref, contact_suggestions
from offers import selectors, services
from offers.forms import (
    ITEMS_PREFIX,
    OfferFilterForm,
    OfferForm,
    OfferLoseForm,
    OfferWinForm,
    OwnershipForm,
    ProductForm,
    item_formset,
)
from offers.models import Offer, Ownership, Product

PAGE_SIZE = 50
SECTION_ROWS = 20
FILTER_LABELS = {
    "search": gettext_lazy("Search"),
    "status": gettext_lazy("Status"),
    "owner": gettext_lazy("Owner"),
    "product": gettext_lazy("Product"),
    "contact": gettext_lazy("Contact"),
    "company": gettext_lazy("Company"),
}


# --- Offers ---------------------------------------------------------------------------------------


@role_required(roles.WORK_CONTACTS)
@require_GET
def offer_list(request):
    form = OfferFilterForm(request.GET)
    filters = form.filters()
    page = paginate(selectors.offer_list(**filters), request.GET.get("page"), page_size=PAGE_SIZE)
    query = QueryDict(mutable=True)
    for name in ("search", "status", "owner", "product", "contact", "company"):
        if name not in form.errors and request.GET.get(name):
            query[name] = request.GET[name][:200]
    context = {
        "form": form,
        "filters": filters,
        "filtered": any(value not in (None, "") for value in filters.values()),
        "ignored": [FILTER_LABELS[name] for name in form.ignored if name in FILTER_LABELS],
        "page": page,
        "page_query": query,
        "contact": _named(Contact, filters["contact_id"]),
        "company": _named(Company, filters["company_id"]),
        **_base_context(request),
    }
    return render_page(request, "offers/offer_list.html", "offers/_offer_results.html", context)


@role_required(roles.WORK_CONTACTS)
@require_GET
def offer_detail(request, pk: int):
    offer = get_object_or_404(selectors.offer_detail_queryset(), pk=pk)
    return vary_on_htmx(render(request, "offers/offer_detail.html", _detail_context(request, offer)))


@role_required(roles.WORK_CONTACTS)
@require_http_methods(["GET", "POST"])
def offer_create(request):
    initial = {"owner": request.user.pk, "currency": "EUR"}
    contact = _contact_from_query(request)
    if contact is not None:
        initial["contact"] = contact_ref(contact)
    form = OfferForm(request.POST or None, initial=initial)
    if request.method == "GET":
        return _render_form(request, form, item_formset(), offer=None)
    adding = "add_line" in request.POST
    formset = item_formset(request.POST, add=1 if adding else 0)
    if adding:
        return _render_form(request, form, formset, offer=None, show_errors=False)
    if form.is_valid() and formset.is_valid():
        try:
            offer = services.offer_create(
                contact=form.cleaned_data["contact"],
                items=formset.lines(),
                by=request.user,
                **form.service_kwargs(),
            )
        except ValidationError as exc:
            _service_errors(form, formset, exc)
        else:
            messages.success(request, _("Offer “%(title)s” created as a draft.") % {"title": offer.title})
            return redirect("offers:offer-detail", pk=offer.pk)
    return _render_form(request, form, formset, offer=None, status=400)


@role_required(roles.WORK_CONTACTS)
@require_http_methods(["GET", "POST"])
def offer_edit(request, pk: int):
    offer = get_object_or_404(selectors.offer_detail_queryset(), pk=pk)
    if offer.status not in services.EDITABLE:
        messages.error(request, _("This offer is decided; it can no longer be changed."))
        return redirect("offers:offer-detail", pk=offer.pk)
    initial = {
        "title": offer.title,
        "owner": offer.owner_id,
        "currency": offer.currency,
    }
    form = OfferForm(request.POST or None, initial=initial, offer=offer)
    if request.method == "GET":
        return _render_form(request, form, item_formset(offer=offer), offer=offer)
    adding = "add_line" in request.POST
    formset = item_formset(request.POST, offer=offer, add=1 if adding else 0)
    if adding:
        return _render_form(request, form, formset, offer=offer, show_errors=False)
    if form.is_valid() and formset.is_valid():
        try:
            services.offer_update(
                offer=offer, by=request.user, items=formset.lines(), **form.service_kwargs()
            )
        except ValidationError as exc:
            _service_errors(form, formset, exc)
        else:
            messages.success(request, _("Offer “%(title)s” saved.") % {"title": offer.title})
            return redirect("offers:offer-detail", pk=offer.pk)
    return _render_form(request, form, formset, offer=offer, status=400)


@role_required(roles.WORK_CONTACTS)
@require_POST
def offer_send(request, pk: int):
    offer = get_object_or_404(Offer, pk=pk)
    return _act(
        request,
        offer,
        lambda: services.offer_send(offer=offer, by=request.user),
        _("Offer marked as sent. Win or lose it when the customer has decided."),
    )


@role_required(roles.WORK_CONTACTS)
@require_POST
def offer_win(request, pk: int):
    offer = get_object_or_404(Offer, pk=pk)
    form = OfferWinForm(request.POST, prefix="win")
    if not form.is_valid():
        return _act_refused(request, offer, win_form=form)
    return _act(
        request,
        offer,
        lambda: services.offer_win(offer=offer, by=request.user, at=form.decided_at()),
        _("Offer won. The contact is a customer now and owns the offered products."),
        win_form=form,
    )


@role_required(roles.WORK_CONTACTS)
@require_POST
def offer_lose(request, pk: int):
    offer = get_object_or_404(Offer, pk=pk)
    form = OfferLoseForm(request.POST, prefix="lose")
    if not form.is_valid():
        return _act_refused(request, offer, lose_form=form)
    return _act(
        request,
        offer,
        lambda: services.offer_lose(offer=offer, by=request.user, reason=form.cleaned_data["reason"]),
        _("Offer marked as lost."),
        lose_form=form,
    )


@role_required(roles.WORK_CONTACTS)
@require_http_methods(["GET", "POST"])
def offer_delete(request, pk: int):
    """GET asks for confirmation; POST deletes (drafts only)."""
    offer = get_object_or_404(selectors.offer_queryset(), pk=pk)
    context = {"offer": offer}
    if request.method == "GET":
        return render(request, "offers/offer_confirm_delete.html", context)
    title = offer.title
    try:
        services.offer_delete(offer=offer, by=request.user)
    except ValidationError as exc:
        context["error"] = " ".join(exc.messages)
        return render(request, "offers/offer_confirm_delete.html", context, status=400)
    messages.success(request, _("Draft “%(title)s” deleted.") % {"title": title})
    return redirect("offers:offer-list")


def _act(request, offer: Offer, change, text: str, **forms):
    """Run a state change; HTMX gets ``#offer-main`` back, a plain post a redirect with a message.
    A refusal goes onto the form field it names, or above the actions."""
    refused, general = False, []
    try:
        change()
    except ValidationError as exc:
        refused = True
        errors = exc.message_dict if hasattr(exc, "error_dict") else {None: exc.messages}
        for name, texts in errors.items():
            form = next((f for f in forms.values() if name in f.fields), None)
            if form is None:
                general += texts
            else:
                form.add_error(name, texts)
    error = " ".join(general)
    if not wants_fragment(request):
        if not refused:
            messages.success(request, text)
        elif forms:
            return _act_refused(request, offer, action_error=error, **forms)
        else:
            messages.error(request, error)
        return redirect("offers:offer-detail", pk=offer.pk)
    fresh = selectors.offer_detail_queryset().get(pk=offer.pk)
    context = _detail_context(request, fresh, action_message="" if refused else text, action_error=error)
    if refused:
        context.update(forms)
    return render(request, "offers/_offer_main.html", context)


def _act_refused(request, offer: Offer, **extra):
    """A win or lose form with errors: HTMX gets ``#offer-main`` with the form (200, so that HTMX
    swaps it in), a plain post the whole page with status 400."""
    fresh = selectors.offer_detail_queryset().get(pk=offer.pk)
    context = _detail_context(request, fresh, **extra)
    if wants_fragment(request):
        return render(request, "offers/_offer_main.html", context)
    return render(request, "offers/offer_detail.html", context, status=400)


@role_required(roles.WORK_CONTACTS)
@require_GET
def contact_options(request):
    """``<option>``s for the offer form's contact datalist (name, email or #id as typed)."""
    text = (request.GET.get("q") or request.GET.get("contact") or "").strip()
    contacts = contact_suggestions(text) if text else []
    options = [(contact_ref(c), c.email or "") for c in contacts]
    return render(request, "offers/_contact_options.html", {"options": options})


# --- The contact's and company's sections ---------------------------------------------------------


@role_required(roles.WORK_CONTACTS)
@require_GET
def contact_section(request, pk: int):
    """The contact page's "Products owned" and "Offers" (loaded by HTMX); without HTMX a page."""
    contact = get_object_or_404(Contact.objects.select_related("company"), pk=pk)
    context = _contact_section_context(request, contact)
    return render_page(request, "offers/contact_section.html", "offers/_contact_section.html", context)


@role_required(roles.WORK_CONTACTS)
@require_POST
def ownership_record(request, pk: int):
    contact = get_object_or_404(Contact.objects.select_related("company"), pk=pk)
    form = OwnershipForm(request.POST, prefix="own")
    text = ""
    if form.is_valid():
        try:
            ownership = services.ownership_record(
                contact=contact, product=form.cleaned_data["product"], since=form.since_at(), by=request.user
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            text = _("Recorded: owns “%(product)s”.") % {"product": ownership.product.name}
    if not wants_fragment(request):
        if form.errors:
            context = _contact_section_context(request, contact, ownership_form=form)
            return render(request, "offers/contact_section.html", context, status=400)
        messages.success(request, text)
        return redirect(reverse("funnel:contact-detail", args=[contact.pk]) + "#contact-offers")
    context = _contact_section_context(
        request, contact, ownership_form=form if form.errors else None, section_message=text
    )
    return render(request, "offers/_contact_section.html", context)


@role_required(roles.WORK_CONTACTS)
@require_POST
def ownership_delete(request, pk: int):
    ownership = get_object_or_404(Ownership.objects.select_related("contact__company", "product"), pk=pk)
    contact = ownership.contact
    services.ownership_delete(ownership=ownership, by=request.user)
    text = _("Ownership of “%(product)s” deleted.") % {"product": ownership.product.name}
    if not wants_fragment(request):
        messages.success(request, text)
        return redirect(reverse("funnel:contact-detail", args=[contact.pk]) + "#contact-offers")
    context = _contact_section_context(request, contact, section_message=text)
    return render(request, "offers/_contact_section.html", context)


@role_required(roles.WORK_CONTACTS)
@require_GET
def company_section(request, pk: int):
    """The company page's "Products owned" (by any of its contacts) and "Offers"."""
    company = get_object_or_404(Company, pk=pk)
    context = {
        "company": company,
        "ownerships": list(selectors.company_ownerships(company_id=company.pk)[: SECTION_ROWS + 1]),
        "offers": list(selectors.offer_list(company_id=company.pk)[: SECTION_ROWS + 1]),
        "rows": SECTION_ROWS,
        **_base_context(request),
    }
    return render_page(request, "offers/company_section.html", "offers/_company_section.html", context)


# --- Products -------------------------------------------------------------------------------------


@role_required(roles.WORK_CONTACTS)
@require_GET
def product_list(request):
    products = list(selectors.product_list(with_usage=True))
    context = {"products": products, **_base_context(request)}
    return render(request, "offers/product_list.html", context)


@role_required(roles.EDIT_CATALOG)
@require_http_methods(["GET", "POST"])
def product_create(request):
    return _product_form(request, None)


@role_required(roles.EDIT_CATALOG)
@require_http_methods(["GET", "POST"])
def product_edit(request, pk: int):
    return _product_form(request, get_object_or_404(Product.objects.prefetch_related("topics"), pk=pk))


def _product_form(request, product: Product | None):
    form = ProductForm(request.POST or None, instance=product)
    if request.method == "POST" and form.is_valid():
        try:
            saved = services.product_save(product=_fresh(product), **form.service_kwargs())
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Product “%(name)s” saved.") % {"name": saved.name})
            return redirect("offers:product-list")
    status = 400 if request.method == "POST" else 200
    context = {"form": form, "product": product, **_base_context(request)}
    return render(request, "offers/product_form.html", context, status=status)


@role_required(roles.EDIT_CATALOG)
@require_http_methods(["GET", "POST"])
def product_delete(request, pk: int):
    """GET asks for confirmation; POST deletes, refused while offers or owners use the product. HTMX
    (from the list) gets an empty answer, which removes the row, or the row with the refusal."""
    product = get_object_or_404(selectors.product_list(with_usage=True), pk=pk)
    context = {"product": product, **_base_context(request)}
    if request.method == "GET":
        return render(request, "offers/product_confirm_delete.html", context)
    name = product.name
    try:
        services.product_delete(product=product)
    except ValidationError as exc:
        error = " ".join(exc.messages)
        if wants_fragment(request):
            return render(request, "offers/_product_row.html", {**context, "row_error": error})
        return render(request, "offers/product_confirm_delete.html", {**context, "error": error}, status=400)
    text = _("Product “%(name)s” deleted.") % {"name": name}
    if not wants_fragment(request):
        messages.success(request, text)
        return redirect("offers:product-list")
    return render(request, "offers/_product_deleted.html", {"deleted_message": text})


# --- Rendering ------------------------------------------------------------------------------------


def _base_context(request) -> dict:
    return {"can_edit_catalog": roles.has_any(request.user, roles.EDIT_CATALOG)}


def _detail_context(request, offer: Offer, **extra) -> dict:
    context = {
        "offer": offer,
        "items": list(offer.items.all()),
        "editable": offer.status in services.EDITABLE,
        "win_form": OfferWinForm(prefix="win"),
        "lose_form": OfferLoseForm(prefix="lose"),
        **_base_context(request),
    }
    context.update(extra)
    return context


def _render_form(request, form, formset, *, offer: Offer | None, status: int = 200, show_errors=True):
    context = {
        "form": form,
        "formset": formset,
        "offer": offer,
        "show_errors": show_errors,
        "items_prefix": ITEMS_PREFIX,
        **_base_context(request),
    }
    if wants_fragment(request):
        return render(request, "offers/_offer_form.html", context)
    return render(request, "offers/offer_form.html", context, status=status)


def _service_errors(form, formset, exc: ValidationError) -> None:
    """The service's errors: the lines' on the formset, the rest on the form."""
    errors = exc.message_dict if hasattr(exc, "error_dict") else {None: exc.messages}
    for name, texts in errors.items():
        if name == "items":
            formset.line_errors = [*getattr(formset, "line_errors", []), *texts]
        else:
            form.add_error(name if name in form.fields else None, texts)


def _contact_section_context(request, contact: Contact, **extra) -> dict:
    return {
        "contact": contact,
        "ownerships": list(selectors.contact_ownerships(contact_id=contact.pk)[: SECTION_ROWS + 1]),
        "offers": list(selectors.offer_list(contact_id=contact.pk)[: SECTION_ROWS + 1]),
        "rows": SECTION_ROWS,
        "ownership_form": extra.pop("ownership_form", None) or OwnershipForm(prefix="own"),
        **_base_context(request),
        **extra,
    }


def _contact_from_query(request) -> Contact | None:
    raw = request.GET.get("contact", "")
    if not raw.isdigit() or len(raw) > 18:
        return None
    return Contact.objects.filter(pk=int(raw)).first()


def _named(model, pk: int | None):
    return model.objects.filter(pk=pk).first() if pk is not None else None


def _fresh(product: Product | None) -> Product | None:
    """The product as stored: a refused save must not leave the form's values on the page's object."""
    return Product.objects.get(pk=product.pk) if product is not None else None
