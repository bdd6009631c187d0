from django import forms
from django.utils.translation import gettext_lazy as _

from imports.models import ImportJob
from imports.parsing import field_choices


class UploadForm(forms.Form):
    kind = forms.ChoiceField(label=_("What to import"), choices=ImportJob.Kind.choices)
    file = forms.FileField(
        label=_("CSV file"),
        help_text=_(
            "UTF-8 or Windows-1252, separated by comma, semicolon or tab; the first row names the columns."
        ),
    )


class MappingForm(forms.Form):
    """One select per column of the file (``col_0``, ``col_1`` …) plus the duplicate rule."""

    dedup = forms.ChoiceField(
        label=_("Records that already exist"),
        choices=ImportJob.Dedup.choices,
        widget=forms.RadioSelect,
        initial=ImportJob.Dedup.SKIP,
    )

    def __init__(self, *args, job: ImportJob, **kwargs):
        super().__init__(*args, **kwargs)
        self.job = job
        self.fields["dedup"].initial = job.dedup
        for position, column in enumerate(job.header):
            self.fields[f"col_{position}"] = forms.ChoiceField(
                label=column,
                choices=field_choices(job.kind),
                required=False,
                initial=job.mapping.get(column, ""),
            )

    def column_fields(self):
        return [self[f"col_{i}"] for i in range(len(self.job.header))]

    def mapping(self) -> dict[str, str]:
        return {column: self.cleaned_data.get(f"col_{i}") or "" for i, column in enumerate(self.job.header)}
