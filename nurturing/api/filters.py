"""Query-parameter filters of the nurturing lists. A value that is not understood is a 400 naming the
parameter, never silently ignored (django-filter's BooleanFilter would ignore ``?active=maybe``)."""

from django import forms
from django.utils.translation import gettext_lazy as _
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema_field

from funnel.api.filters import INT64_MAX, IntegerFilter
from nurturing.models import Enrollment, Sequence


class StrictBooleanField(forms.NullBooleanField):
    default_error_messages = {"invalid": _("Enter true or false.")}

    def to_python(self, value):
        if value in (None, ""):
            return None
        if str(value).lower() in ("true", "1"):
            return True
        if str(value).lower() in ("false", "0"):
            return False
        raise forms.ValidationError(self.error_messages["invalid"], code="invalid")


class StrictBooleanFilter(filters.BooleanFilter):
    field_class = StrictBooleanField

    def __init__(self, *args, **kwargs):
        # django-filter's BooleanWidget would turn an unknown value into None before the field sees it.
        kwargs.setdefault("widget", forms.TextInput)
        super().__init__(*args, **kwargs)


def id_filter(field_name: str, description: str):
    # The model fields are foreign keys, which drf-spectacular would document as a "number".
    return extend_schema_field({"type": "integer", "description": description})(
        IntegerFilter(field_name=field_name, min_value=1, max_value=INT64_MAX)
    )


class SequenceFilterSet(filters.FilterSet):
    active = StrictBooleanFilter(help_text="Only active (`true`) or inactive (`false`) sequences.")
    trigger = filters.ChoiceFilter(
        choices=Sequence.Trigger.choices, help_text="Only sequences with this trigger."
    )

    class Meta:
        model = Sequence
        fields: list[str] = []


class EnrollmentFilterSet(filters.FilterSet):
    contact = id_filter("contact_id", "Only this contact's enrollments (contact id).")
    sequence = id_filter("sequence_id", "Only enrollments in this sequence (sequence id).")
    state = filters.ChoiceFilter(
        choices=Enrollment.State.choices, help_text="Only enrollments in this state."
    )

    class Meta:
        model = Enrollment
        fields: list[str] = []
