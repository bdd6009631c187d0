"""References and delight occasions in the browser: the contact page's section (list and add, with
HTMX) and the references page with the yearly count. Everyone with a role reads and records them
(they are facts about customers, like a logged call); deleting is for the one who recorded a
reference, or an admin."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import roles
from accounts.decorators import role_required
from config.web import add_service_errors, paginate, vary_on_htmx, wants_fragment
from customers.forms_references import OccasionForm, ReferenceForm
from customers.models import Occasion, Reference
from customers.references import occasion_save, reference_create, reference_delete, references_per_year
from funnel.models import Contact


def _section(request, contact, *, reference_form=None, occasion_form=None, status=200):
    context = {
        "contact": contact,
        "references": list(contact.references.order_by("-date", "-id")[:20]),
        "occasions": list(contact.occasions.order_by("date", "id")),
        "reference_form": reference_form or ReferenceForm(prefix="ref"),
        "occasion_form": occasion_form or OccasionForm(prefix="occ"),
    }
    template = (
        "customers/_contact_references.html"
        if wants_fragment(request)
        else "customers/contact_references.html"
    )
    return vary_on_htmx(render(request, template, context, status=status))


@role_required(roles.WORK_CONTACTS)
@require_GET
def contact_references(request, pk: int):
    return _section(request, get_object_or_404(Contact, pk=pk))


@role_required(roles.WORK_CONTACTS)
@require_POST
def reference_add(request, pk: int):
    contact = get_object_or_404(Contact, pk=pk)
    form = ReferenceForm(request.POST, prefix="ref")
    if form.is_valid():
        try:
            reference_create(contact=contact, by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            return (
                _section(request, contact)
                if wants_fragment(request)
                else redirect("funnel:contact-detail", pk=pk)
            )
    return _section(request, contact, reference_form=form, status=400)


@role_required(roles.WORK_CONTACTS)
@require_POST
def occasion_add(request, pk: int):
    contact = get_object_or_404(Contact, pk=pk)
    form = OccasionForm(request.POST, prefix="occ")
    if form.is_valid():
        try:
            occasion_save(contact=contact, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            return (
                _section(request, contact)
                if wants_fragment(request)
                else redirect("funnel:contact-detail", pk=pk)
            )
    return _section(request, contact, occasion_form=form, status=400)


@role_required(roles.WORK_CONTACTS)
@require_POST
def occasion_remove(request, pk: int):
    occasion = get_object_or_404(Occasion.objects.select_related("contact"), pk=pk)
    occasion.delete()
    if wants_fragment(request):
        return _section(request, occasion.contact)
    return redirect("funnel:contact-detail", pk=occasion.contact_id)


@role_required(roles.WORK_CONTACTS)
@require_http_methods(["POST"])
def reference_remove(request, pk: int):
    reference = get_object_or_404(Reference.objects.select_related("contact"), pk=pk)
    if reference.created_by_id != request.user.pk and not roles.has_any(request.user, roles.MANAGE_USERS):
        raise PermissionDenied
    reference_delete(reference=reference)
    if wants_fragment(request):
        return _section(request, reference.contact)
    return redirect("funnel:contact-detail", pk=reference.contact_id)


@role_required(roles.WORK_CONTACTS)
@require_GET
def reference_list(request):
    kind = request.GET.get("kind", "")
    references = Reference.objects.select_related("contact", "company").order_by("-date", "-id")
    if kind in Reference.Kind.values:
        references = references.filter(kind=kind)
    else:
        kind = ""
    context = {
        "page": paginate(references, request.GET.get("page")),
        "per_year": references_per_year(),
        "kinds": Reference.Kind.choices,
        "kind": kind,
    }
    return render(request, "customers/reference_list.html", context)


@role_required(roles.WORK_CONTACTS)
@require_GET
def consumption_list(request):
    """Customers by consumption state (kept by the daily check, customers.consumption)."""
    from django.db.models import Count

    from customers.models import Consumption

    state = request.GET.get("state", Consumption.State.NOT_CONSUMING)
    if state not in Consumption.State.values:
        state = Consumption.State.NOT_CONSUMING
    rows = (
        Consumption.objects.filter(state=state)
        .select_related("contact", "contact__owner", "product")
        .order_by("last_usage_at", "id")
    )
    counts = dict(Consumption.objects.order_by().values_list("state").annotate(n=Count("id")))
    context = {
        "page": paginate(rows, request.GET.get("page")),
        "state": state,
        "states": [(value, label, counts.get(value, 0)) for value, label in Consumption.State.choices],
    }
    return render(request, "customers/consumption_list.html", context)


@role_required(roles.WORK_CONTACTS)
@require_GET
def company_references(request, pk: int):
    """The company page's references (of all its contacts), loaded by HTMX; without HTMX a page."""
    from funnel.models import Company

    company = get_object_or_404(Company, pk=pk)
    references = list(
        Reference.objects.filter(company=company).select_related("contact").order_by("-date", "-id")[:50]
    )
    context = {"company": company, "references": references}
    template = (
        "customers/_company_references.html"
        if wants_fragment(request)
        else "customers/company_references.html"
    )
    return vary_on_htmx(render(request, template, context))
