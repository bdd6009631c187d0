from django import forms
from django.utils.translation import gettext_lazy as _

from content.models import ContentBlock, Persona


class PersonaForm(forms.ModelForm):
    class Meta:
        model = Persona
        fields = ["name", "description", "pains", "goals", "roles", "industries"]
        widgets = {
            "description": forms.Textarea(attrs={"rows": 2}),
            "pains": forms.Textarea(attrs={"rows": 4}),
            "goals": forms.Textarea(attrs={"rows": 4}),
        }


class ContentBlockForm(forms.ModelForm):
    # "example.com/guide" means https://
    url = forms.URLField(label=_("address"), required=False, max_length=500, assume_scheme="https")
    topics = forms.CharField(
        label=_("topics"),
        required=False,
        max_length=1000,
        help_text=_("Comma-separated, as events carry them, e.g. pcb-design, emc."),
    )

    class Meta:
        model = ContentBlock
        fields = ["title", "url", "format", "phase", "persona", "topics"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and not self.is_bound:
            self.initial["topics"] = ", ".join(self.instance.topics)
        self.fields["persona"].queryset = Persona.objects.order_by("name")
        self.fields["persona"].empty_label = _("(for every persona)")

    def service_kwargs(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.Meta.fields}
