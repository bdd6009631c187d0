from django import forms
from django.utils.translation import gettext_lazy as _

from customers.models import Occasion, Reference


class ReferenceForm(forms.ModelForm):
    link = forms.URLField(label=_("link"), required=False, max_length=500, assume_scheme="https")

    class Meta:
        model = Reference
        fields = ["kind", "date", "link", "may_publish", "note"]
        widgets = {"date": forms.DateInput(attrs={"type": "date"}), "note": forms.Textarea(attrs={"rows": 2})}


class OccasionForm(forms.ModelForm):
    class Meta:
        model = Occasion
        fields = ["kind", "date", "note"]
        widgets = {"date": forms.DateInput(attrs={"type": "date"})}
