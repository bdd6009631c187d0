"""Forms of the signals pages. They validate and convert input; every write goes through
``customers.services``, whose field errors the views put back on these forms."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from customers.models import DetectorSettings
from nurturing.models import Sequence

ACTIONS = [
    ("task", _("Create a call task")),
    ("offer", _("Create a draft offer")),
    ("sequence", _("Enroll in a sequence")),
]
TITLE_MAX_LENGTH = 200  # sales.Task.title and offers.Offer.title
REASON_MAX_LENGTH = 300  # Signal.dismiss_reason


class SequenceChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return obj.name


class SignalAcceptForm(forms.Form):
    action = forms.ChoiceField(
        label=_("What to do"), choices=ACTIONS, initial="task", widget=forms.RadioSelect
    )
    sequence = SequenceChoiceField(
        label=_("Sequence"),
        queryset=Sequence.objects.none(),
        required=False,
        empty_label="—",
        help_text=_("Only for “Enroll in a sequence”: the active sequences."),
    )
    title = forms.CharField(
        label=_("Title"),
        max_length=TITLE_MAX_LENGTH,
        required=False,
        help_text=_("Of the task or the offer; empty: a title naming the contact and the product."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["sequence"].queryset = (
            Sequence.objects.filter(active=True).only("id", "name").order_by("name", "id")
        )

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("action") != "sequence":
            # A sequence picked before switching to another action is not an error; it is ignored.
            self._errors.pop("sequence", None)
            cleaned["sequence"] = None
        elif not cleaned.get("sequence") and "sequence" not in self._errors:
            self.add_error("sequence", _("Choose the sequence."))
        return cleaned

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        return {"action": data["action"], "sequence": data["sequence"], "title": data["title"]}


class SignalDismissForm(forms.Form):
    reason = forms.CharField(
        label=_("Why dismiss it?"),
        max_length=REASON_MAX_LENGTH,
        help_text=_("Required: the reasons show where the detector is wrong."),
        error_messages={"required": _("Say why: it teaches the detector's precision.")},
    )


class DetectorSettingsForm(forms.ModelForm):
    class Meta:
        model = DetectorSettings
        fields = ["interest_threshold", "repeat_after_days"]
        widgets = {
            "interest_threshold": forms.NumberInput(
                attrs={"class": "input-num", "step": "0.5", "min": "0.5"}
            ),
            "repeat_after_days": forms.NumberInput(attrs={"class": "input-num", "min": "1"}),
        }

    def service_kwargs(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.Meta.fields}
