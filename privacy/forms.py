from django import forms
from django.utils.translation import gettext_lazy as _

from privacy.services import REASON_MAX_LENGTH

CONFIRM_WORD = "ERASE"


class EraseForm(forms.Form):
    """Typing the contact's email (or ERASE) guards against erasing the wrong contact by a slip."""

    confirm = forms.CharField(label=_("Type the contact's email address or ERASE"), max_length=254)
    reason = forms.CharField(
        label=_("Reason"),
        required=False,
        max_length=REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("For the erasure log, e.g. “request by email of 3 May”. Do not name the person."),
    )

    def __init__(self, *args, contact, **kwargs):
        super().__init__(*args, **kwargs)
        self.contact = contact

    def clean_confirm(self):
        typed = self.cleaned_data["confirm"].strip()
        email = (self.contact.email or "").strip()
        if typed != CONFIRM_WORD and not (email and typed.lower() == email.lower()):
            raise forms.ValidationError(_("Type the contact's email address or ERASE to confirm."))
        return typed
