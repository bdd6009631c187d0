from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from accounts import roles
from accounts.models import ApiToken


class ApiTokenCreateForm(forms.Form):
    name = forms.CharField(
        label=_("Token name"),
        max_length=ApiToken._meta.get_field("name").max_length,
        help_text=_("What the token is for, e.g. “website forms” or “newsletter sync”."),
        widget=forms.TextInput(attrs={"placeholder": _("e.g. website forms"), "autocomplete": "off"}),
    )


# --- user management (accounts.user_views) ---------------------------------------------------------

User = get_user_model()

ROLE_CHOICES = [
    (roles.SALES, _("Sales")),
    (roles.MARKETING, _("Marketing")),
    (roles.ADMIN, _("Administrator")),
]


def _roles_field():
    return forms.MultipleChoiceField(
        label=_("Roles"),
        choices=ROLE_CHOICES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Without a role a user can log in but sees nothing."),
    )


class UserCreateForm(forms.Form):
    """The shape of a new user; uniqueness, password rules and roles are checked by
    ``accounts.services.user_create``, whose errors the view puts on these fields."""

    username = User._meta.get_field("username").formfield(
        label=_("Username"), widget=forms.TextInput(attrs={"autocomplete": "off", "autofocus": True})
    )
    email = forms.EmailField(label=_("Email"), required=False, max_length=254)
    first_name = forms.CharField(label=_("First name"), required=False, max_length=150)
    last_name = forms.CharField(label=_("Last name"), required=False, max_length=150)
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password_confirm = forms.CharField(
        label=_("Password (again)"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    roles = _roles_field()

    def clean(self):
        cleaned = super().clean()
        password, again = cleaned.get("password"), cleaned.get("password_confirm")
        if password and again and password != again:
            self.add_error("password_confirm", _("The two passwords do not match."))
        return cleaned

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        return {
            "username": data["username"],
            "email": data["email"],
            "first_name": data["first_name"],
            "last_name": data["last_name"],
            "password": data["password"],
            "roles": data["roles"],
        }


class UserRolesForm(forms.Form):
    roles = _roles_field()

    def __init__(self, *args, account=None, **kwargs):
        # Many of these forms share the user list: the element ids must differ per user.
        if account is not None:
            kwargs.setdefault("auto_id", f"id_user{account.pk}_%s")
        super().__init__(*args, **kwargs)
