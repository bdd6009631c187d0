from django import forms
from django.utils.translation import gettext_lazy as _

from webhooks.models import KINDS


class SubscriptionForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    url = forms.CharField(
        label=_("Target URL"),
        max_length=500,
        help_text=_("http(s) address that receives the events as POST requests."),
        widget=forms.URLInput(attrs={"placeholder": "https://"}),
    )
    kinds = forms.MultipleChoiceField(
        label=_("Events"), choices=KINDS, widget=forms.CheckboxSelectMultiple, required=True
    )
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)
