"""The user's own account: name, roles, password and personal API tokens.

Every logged-in user may open it (an outsider learns here that they have no role yet). API tokens
are for users with a role only: a token acts with its user's role, so an outsider's would be useless.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.messages.views import SuccessMessageMixin
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse_lazy
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import roles, services
from accounts.decorators import login_required_any_user, role_required
from accounts.forms import ApiTokenCreateForm
from accounts.models import ApiToken

ROLE_LABELS = {
    roles.SALES: gettext_lazy("Sales"),
    roles.MARKETING: gettext_lazy("Marketing"),
    roles.ADMIN: gettext_lazy("Administrator"),
}


@require_GET
@login_required_any_user
def account_settings(request):
    return _settings_page(request, ApiTokenCreateForm())


@require_POST
@role_required(roles.WORK_CONTACTS)
def token_create(request):
    """Issue a token and show its key in this one response; only its hash is stored."""
    form = ApiTokenCreateForm(request.POST)
    if not form.is_valid():
        return _settings_page(request, form, status=400)
    token, key = services.token_issue(user=request.user, name=form.cleaned_data["name"], by=request.user)
    # Rendered, not redirected: the key must never sit in a session, cookie or URL.
    return _settings_page(request, ApiTokenCreateForm(), new_token=token, new_key=key)


@require_http_methods(["GET", "POST"])
@role_required(roles.WORK_CONTACTS)
def token_revoke(request, pk: int):
    """GET asks for confirmation, POST deletes. Other users' tokens do not exist here (404)."""
    token = get_object_or_404(ApiToken, pk=pk, user=request.user)
    if request.method == "POST":
        services.token_revoke(token=token, by=request.user)
        messages.success(
            request, _("The token “%(name)s” was revoked.") % {"name": token.name or token.prefix}
        )
        return redirect("account-settings")
    return render(request, "accounts/token_revoke.html", {"token": token})


@method_decorator(login_required_any_user, name="dispatch")
class PasswordChangeView(SuccessMessageMixin, auth_views.PasswordChangeView):
    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("account-settings")
    success_message = gettext_lazy("Your password was changed.")


def _settings_page(request, form, *, status=200, new_token=None, new_key=None):
    user_roles = roles.roles_of(request.user)
    may_have_tokens = bool(user_roles & roles.WORK_CONTACTS)
    context = {
        "role_labels": [ROLE_LABELS[r] for r in roles.ALL_ROLES if r in user_roles],
        "may_have_tokens": may_have_tokens,
        "tokens": request.user.api_tokens.order_by("-created_at", "-id") if may_have_tokens else [],
        "form": form,
        "new_token": new_token,
        "new_key": new_key,
    }
    response = render(request, "accounts/settings.html", context, status=status)
    if new_key:
        response["Cache-Control"] = "no-store"
    return response
