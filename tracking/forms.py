from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tracking.services import parse_origins


class TrackedSiteForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=100)
    allowed_origins = forms.CharField(
        label=gettext_lazy("Allowed origins"),
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}),
        help_text=gettext_lazy(
            "One per line, as https://www.example.com (with :port if not the default). Only pages from "
            "these origins may send events."
        ),
    )
    is_active = forms.BooleanField(label=gettext_lazy("Active"), required=False, initial=True)

    def __init__(self, *args, site=None, **kwargs):
        if site is not None:
            kwargs.setdefault(
                "initial",
                {
                    "name": site.name,
                    "allowed_origins": "\n".join(site.allowed_origins),
                    "is_active": site.is_active,
                },
            )
        super().__init__(*args, **kwargs)

    def clean_allowed_origins(self):
        try:
            origins = parse_origins(self.cleaned_data["allowed_origins"])
        except ValidationError as exc:
            params = exc.params or {}
            raise ValidationError(
                _("“%(origin)s” is not an origin: write it as https://host[:port].") % params
            ) from None
        if not origins:
            raise ValidationError(_("Name at least one origin."))
        return origins
