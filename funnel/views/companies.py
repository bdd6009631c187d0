"""Company pages: the list (search, pagination), detail with its contacts, create / edit / delete, and
the small suggestion endpoint behind the contact form's company input."""

from __future__ import annotations

import copy

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from accounts import roles
from accounts.decorators import role_required
from config.web import add_service_errors, paginate, render_page
from funnel import selectors, services
from funnel.forms import CompanyForm, company_ref
from funnel.models import Company
from funnel.views.contacts import SEARCH_MAX_LENGTH

COMPANY_SUGGESTIONS = 20


@role_required(roles.WORK_CONTACTS)
@require_GET
def company_list(request):
    search = request.GET.get("search", "").strip()[:SEARCH_MAX_LENGTH]
    page = paginate(selectors.company_list(search=search, with_contact_counts=False), request.GET.get("page"))
    # Counted for this page's companies only, never by grouping the whole contacts table.
    counts = selectors.company_contact_counts(company_ids=[c.pk for c in page.items])
    for company in page.items:
        company.contact_count = counts.get(company.pk, 0)
    context = {"search": search, "page": page, "page_query": _query(search=search)}
    return render_page(request, "funnel/company_list.html", "funnel/_company_results.html", context)


@role_required(roles.WORK_CONTACTS)
@require_GET
def company_detail(request, pk: int):
    company = get_object_or_404(Company, pk=pk)
    page = paginate(selectors.company_contacts(company=company), request.GET.get("page"))
    context = {"company": company, "page": page, "page_query": _query()}
    return render_page(request, "funnel/company_detail.html", "funnel/_company_contacts.html", context)


@role_required(roles.WORK_CONTACTS)
@require_GET
def company_options(request):
    """``<option>``s for the contact form's company datalist: up to 20 companies whose name contains
    the typed text. The input is named ``company``; ``q`` works too."""
    text = (request.GET.get("q") or request.GET.get("company") or "").strip()[:SEARCH_MAX_LENGTH]
    # What the user already picked ("Name (#12)") is not a search term.
    text = text.split(" (#")[0].strip()
    companies = []
    if text:
        companies = list(
            Company.objects.filter(name__icontains=text).order_by("name", "id")[:COMPANY_SUGGESTIONS]
        )
    options = [(company_ref(c), c.domain) for c in companies]
    return render(request, "funnel/_company_options.html", {"options": options})


@role_required(roles.WORK_CONTACTS)
@require_http_methods(["GET", "POST"])
def company_create(request):
    form = CompanyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        company = _save(form, lambda data: services.company_create(**data))
        if company is not None:
            messages.success(request, _("Company “%(name)s” created.") % {"name": company.name})
            return redirect("funnel:company-detail", pk=company.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "funnel/company_form.html", {"form": form, "company": None}, status=status)


@role_required(roles.WORK_CONTACTS)
@require_http_methods(["GET", "POST"])
def company_edit(request, pk: int):
    company = get_object_or_404(Company, pk=pk)
    # The ModelForm validates a copy: the instance passed to the service must not be half-changed.
    form = CompanyForm(request.POST or None, instance=copy.copy(company))
    if request.method == "POST" and form.is_valid():
        saved = _save(form, lambda data: services.company_update(company=company, **data))
        if saved is not None:
            messages.success(request, _("Company “%(name)s” saved.") % {"name": saved.name})
            return redirect("funnel:company-detail", pk=company.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "funnel/company_form.html", {"form": form, "company": company}, status=status)


@role_required(roles.WORK_CONTACTS)
@require_http_methods(["GET", "POST"])
def company_delete(request, pk: int):
    """GET asks for confirmation; only the POST of the confirmation form deletes. Contacts stay."""
    company = get_object_or_404(Company, pk=pk)
    if request.method == "POST":
        name = company.name
        services.company_delete(company=company, by=request.user)
        messages.success(request, _("Company “%(name)s” deleted.") % {"name": name})
        return redirect("funnel:company-list")
    contact_count = selectors.company_contact_counts(company_ids=[company.pk]).get(company.pk, 0)
    return render(
        request, "funnel/company_confirm_delete.html", {"company": company, "contact_count": contact_count}
    )


urlpatterns = [
    path("companies/", company_list, name="company-list"),
    path("companies/new/", company_create, name="company-create"),
    path("companies/options/", company_options, name="company-options"),
    path("companies/<int:pk>/", company_detail, name="company-detail"),
    path("companies/<int:pk>/edit/", company_edit, name="company-edit"),
    path("companies/<int:pk>/delete/", company_delete, name="company-delete"),
]


def _query(**params) -> QueryDict:
    query = QueryDict(mutable=True)
    for key, value in params.items():
        if value:
            query[key] = value
    return query


def _save(form, write):
    try:
        return write({name: form.cleaned_data[name] for name in form.Meta.fields})
    except ValidationError as exc:
        add_service_errors(form, exc)
    return None
