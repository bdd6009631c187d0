"""Query-parameter filters of the list endpoints.

The FilterSets only *validate* the parameters (an unknown stage, a non-integer owner or an ordering
outside the allowlist is a 400 naming the parameter, never silently ignored); the query itself is
built by the selectors, so the browser UI and the API filter exactly the same way.
"""

from django import forms
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema_field

from funnel import selectors
from funnel.models import Company, Contact, Stage
from scoring.models import TOPIC_MAX_LENGTH

# PostgreSQL's integer column holds scores; the owner id is a bigint. Bounding the parameters keeps
# an absurd number a 400 instead of a database error.
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
INT64_MAX = 2**63 - 1


class IntegerFilter(filters.NumberFilter):
    """A whole number; django-filter's NumberFilter would also accept ``1.5``."""

    field_class = forms.IntegerField

    def get_max_validator(self):
        return None  # bounds are given per filter (min_value/max_value)


class ContactFilterSet(filters.FilterSet):
    stage = filters.ModelChoiceFilter(
        queryset=Stage.objects.all(), to_field_name="key", help_text="Only contacts in this stage (key)."
    )
    # The model field is a foreign key, which drf-spectacular would document as a "number".
    owner = extend_schema_field({"type": "integer", "description": "Only contacts owned by this user id."})(
        IntegerFilter(min_value=1, max_value=INT64_MAX)
    )
    search = filters.CharFilter(max_length=200, help_text="Part of the name, email or company name.")
    score_min = IntegerFilter(
        field_name="score",
        min_value=INT32_MIN,
        max_value=INT32_MAX,
        help_text="Only contacts with at least this total score.",
    )
    tag = filters.CharFilter(max_length=50, help_text="Only contacts with this tag (case-insensitive).")
    topic = filters.CharFilter(
        max_length=TOPIC_MAX_LENGTH,
        help_text="Only contacts interested in this topic now (recent events on it, e.g. `pcb-design`).",
    )
    ordering = filters.ChoiceFilter(
        choices=[(key, key) for key in selectors.CONTACT_ORDERINGS],
        help_text=f"Sort order; default `{selectors.DEFAULT_CONTACT_ORDERING}`.",
    )

    class Meta:
        model = Contact
        fields: list[str] = []

    def filter_queryset(self, queryset):
        # Deliberately not django-filter's per-field filtering: contact_list is the one definition
        # of these filters (the UI uses it too). Its queryset already has the list's joins built in.
        data = self.form.cleaned_data
        return selectors.contact_list(
            search=data.get("search") or "",
            stage=data.get("stage"),
            owner_id=data.get("owner"),
            tag=data.get("tag") or "",
            score_min=data.get("score_min"),
            ordering=data.get("ordering") or selectors.DEFAULT_CONTACT_ORDERING,
            topic=data.get("topic") or "",
        )


class CompanyFilterSet(filters.FilterSet):
    search = filters.CharFilter(max_length=200, help_text="Part of the company name or domain.")
    industry = filters.CharFilter(max_length=100, help_text="Exactly this industry (case-insensitive).")

    class Meta:
        model = Company
        fields: list[str] = []

    def filter_queryset(self, queryset):
        # As above: company_list is shared with the UI.
        data = self.form.cleaned_data
        return selectors.company_list(
            search=data.get("search") or "", industry=data.get("industry") or "", with_contact_counts=False
        )
