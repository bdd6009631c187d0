"""User management for administrators: the user list (search, filters, inline role editing), creating
users, a user's page with their API tokens, deactivation and token revocation.

Only users with the MANAGE_USERS capability (the admin role; superusers count as admins) get here;
Django's admin stays for staff. Each page is one template whose HTMX fragment is an included partial
(the list's results, a table row); all writes go through ``accounts.services``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib import messages
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.http import QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from accounts import roles, selectors, services
from accounts.decorators import role_required
from accounts.forms import ROLE_CHOICES, UserCreateForm, UserRolesForm
from accounts.models import ApiToken
from config.web import add_service_errors, paginate, render_page, wants_fragment
from funnel.views.contacts import SEARCH_MAX_LENGTH

ROLE_LABELS = dict(ROLE_CHOICES)
ROLE_BADGES = {roles.SALES: "badge-blue", roles.MARKETING: "badge-green", roles.ADMIN: "badge-amber"}
STATUS_VALUES = {"active": True, "inactive": False}


# --- Views ---------------------------------------------------------------------------------------


@role_required(roles.MANAGE_USERS)
@require_GET
def user_list(request):
    filters = parse_user_filters(request.GET)
    users = selectors.user_list(search=filters.search, role=filters.role, active=filters.active)
    page = paginate(users, request.GET.get("page"))
    for account in page.items:
        decorate(account)
    context = {
        "filters": filters,
        "page": page,
        "page_query": filters.query(),
        "role_filters": [(value, ROLE_LABELS[value]) for value in roles.ALL_ROLES],
    }
    return render_page(request, "accounts/user_list.html", "accounts/_user_results.html", context)


@role_required(roles.MANAGE_USERS)
@require_http_methods(["GET", "POST"])
def user_create(request):
    form = UserCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            account = services.user_create(by=request.user, **form.service_kwargs())
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("User “%(username)s” created.") % {"username": account.username})
            return redirect("user-detail", pk=account.pk)
    context = {"form": form, "password_help": password_validation.password_validators_help_texts()}
    status = 400 if request.method == "POST" else 200
    return render(request, "accounts/user_form.html", context, status=status)


@role_required(roles.MANAGE_USERS)
@require_GET
def user_detail(request, pk: int):
    account = get_object_or_404(selectors.user_queryset(), pk=pk)
    return render(request, "accounts/user_detail.html", detail_context(request, account))


@role_required(roles.MANAGE_USERS)
@require_http_methods(["GET", "POST"])
def user_roles(request, pk: int):
    """The roles of one user. For HTMX, GET gives the user's list row with the role checkboxes
    (``?edit=1``) or without them (cancel), and POST saves and gives back the row alone; without
    HTMX this is the form on the user's page."""
    account = get_object_or_404(selectors.user_queryset(), pk=pk)
    fragment = wants_fragment(request)
    if request.method == "GET":
        if not fragment:
            return redirect(reverse("user-detail", args=[account.pk]) + "#roles")
        editing = request.GET.get("edit") == "1"
        return render_row(request, account, editing=editing)

    form = UserRolesForm(request.POST, account=account)
    if form.is_valid():
        try:
            services.user_set_roles(user=account, roles=form.cleaned_data["roles"], by=request.user)
        except ValidationError as exc:
            add_service_errors(form, exc)
    if form.errors:
        if fragment:
            # 200, because HTMX does not swap error responses and the error must be shown.
            return render_row(request, account, editing=True, form=form)
        context = detail_context(request, account, roles_form=form)
        return render(request, "accounts/user_detail.html", context, status=400)

    account = selectors.user_queryset().get(pk=account.pk)  # the roles just stored
    text = _("Roles of “%(username)s” saved.") % {"username": account.username}
    if not fragment:
        messages.success(request, text)
        return redirect("user-detail", pk=account.pk)
    return render_row(request, account, saved_message=text)


@role_required(roles.MANAGE_USERS)
@require_http_methods(["GET", "POST"])
def user_set_active(request, pk: int, active: bool):
    """GET asks for confirmation; the POST of the confirmation form deactivates (or reactivates)."""
    account = get_object_or_404(selectors.user_queryset(), pk=pk)
    error = None
    if request.method == "POST":
        try:
            services.user_set_active(user=account, active=active, by=request.user)
        except ValidationError as exc:
            error = " ".join(exc.messages)
        else:
            if active:
                text = _("“%(username)s” can log in again; their API tokens work again.")
            else:
                text = _(
                    "“%(username)s” was deactivated: they cannot log in and their API tokens are refused."
                )
            messages.success(request, text % {"username": account.username})
            return redirect("user-detail", pk=account.pk)
    context = {"account": account, "active": active, "error": error}
    status = 400 if error else 200
    return render(request, "accounts/user_confirm_active.html", context, status=status)


@role_required(roles.MANAGE_USERS)
@require_http_methods(["GET", "POST"])
def user_token_revoke(request, pk: int, token_pk: int):
    """Any user's token; GET asks for confirmation, POST deletes it."""
    token = get_object_or_404(ApiToken.objects.select_related("user"), pk=token_pk, user_id=pk)
    if request.method == "POST":
        services.token_revoke(token=token, by=request.user)
        messages.success(
            request, _("The token “%(name)s” was revoked.") % {"name": token.name or token.prefix}
        )
        return redirect("user-detail", pk=pk)
    return render(request, "accounts/user_token_revoke.html", {"token": token, "account": token.user})


# --- Rendering -----------------------------------------------------------------------------------


def decorate(account):
    """Put what the templates show on the user object: roles as (key, label, badge class) and the
    roles stored as groups (the checkboxes). Uses the prefetch of ``selectors.user_queryset``."""
    account.role_badges = [(r, ROLE_LABELS[r], ROLE_BADGES[r]) for r in selectors.role_names(account)]
    account.group_roles = selectors.group_role_names(account)
    return account


def render_row(request, account, *, editing=False, form=None, saved_message=""):
    decorate(account)
    if editing and form is None:
        form = UserRolesForm(initial={"roles": account.group_roles}, account=account)
    context = {"account": account, "editing": editing, "roles_form": form, "saved_message": saved_message}
    return render(request, "accounts/_user_row.html", context)


def detail_context(request, account, *, roles_form=None) -> dict:
    decorate(account)
    return {
        "account": account,
        "roles_form": roles_form or UserRolesForm(initial={"roles": account.group_roles}, account=account),
        "tokens": list(selectors.user_tokens(user=account)),
        "is_self": account.pk == request.user.pk,
    }


# --- List filters --------------------------------------------------------------------------------


@dataclass
class UserFilters:
    search: str = ""
    role: str = ""  # one of selectors.ROLE_FILTERS or ""
    status: str = ""  # "active", "inactive" or ""
    notes: list[str] = field(default_factory=list)

    @property
    def active(self) -> bool | None:
        return STATUS_VALUES.get(self.status)

    @property
    def is_narrowed(self) -> bool:
        return bool(self.search or self.role or self.status)

    def query(self) -> QueryDict:
        query = QueryDict(mutable=True)
        for key in ("search", "role", "status"):
            if getattr(self, key):
                query[key] = getattr(self, key)
        return query


def parse_user_filters(params) -> UserFilters:
    filters = UserFilters(search=params.get("search", "").strip()[:SEARCH_MAX_LENGTH])
    role = params.get("role", "").strip()
    if role in selectors.ROLE_FILTERS:
        filters.role = role
    elif role:
        filters.notes.append(_("Unknown role “%(value)s” ignored: showing all roles.") % {"value": role})
    status = params.get("status", "").strip()
    if status in STATUS_VALUES:
        filters.status = status
    elif status:
        filters.notes.append(
            _("Unknown status “%(value)s” ignored: showing active and deactivated users.") % {"value": status}
        )
    return filters
