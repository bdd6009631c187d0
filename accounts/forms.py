from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import ApiToken


class ApiTokenCreateForm(forms.Form):
    name = forms.CharField(
        label=_("Token name"),
        max_length=ApiToken._meta.get_field("name").max_length,
        help_text=_("What the token is for, e.g. “website forms” or “newsletter sync”."),
        widget=forms.TextInput(attrs={"placeholder": _("e.g. website forms"), "autocomplete": "off"}),
    )
