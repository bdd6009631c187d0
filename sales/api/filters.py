"""Query-parameter filters of the task list. A value that is not understood is a 400 naming the
parameter, never silently ignored."""

import datetime as dt

from django.core.exceptions import ValidationError
from django_filters import rest_framework as filters

from nurturing.api.filters import StrictBooleanFilter, id_filter
from sales.models import Task

TASK_ORDERINGS = {
    "due_at": ("due_at", "id"),
    "-due_at": ("-due_at", "-id"),
    "created_at": ("created_at", "id"),
    "-created_at": ("-created_at", "-id"),
}
DEFAULT_TASK_ORDERING = "due_at"


class UTCIsoDateTimeFilter(filters.IsoDateTimeFilter):
    """An ISO 8601 time compared in UTC. ISO allows offsets up to ±23:59, PostgreSQL only up to
    ±15:59 (found by schemathesis: "…-22:59" was a 500); in UTC every valid time is storable, and one
    that leaves the calendar there is a 400."""

    def __init__(self, *args, param: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.param = param  # the query parameter, for the 400

    def filter(self, qs, value):
        if value is not None and value.tzinfo is not None:
            try:
                value = value.astimezone(dt.UTC)
            except OverflowError:
                raise ValidationError({self.param: ["The time is out of range."]}) from None
        return super().filter(qs, value)


class TaskFilterSet(filters.FilterSet):
    owner = id_filter("owner_id", "Only tasks of this user (user id).")
    contact = id_filter("contact_id", "Only tasks about this contact (contact id).")
    open = StrictBooleanFilter(
        method="filter_open", help_text="Only open (`true`) or only completed (`false`) tasks."
    )
    due_before = UTCIsoDateTimeFilter(
        param="due_before",
        field_name="due_at",
        lookup_expr="lt",
        help_text="Only tasks due before this time (ISO 8601).",
    )
    source = filters.ChoiceFilter(choices=Task.Source.choices, help_text="Only tasks from this source.")
    ordering = filters.ChoiceFilter(
        choices=[(key, key) for key in TASK_ORDERINGS],
        method="filter_ordering",
        help_text=f"Sort order; default `{DEFAULT_TASK_ORDERING}` (the most urgent first).",
    )

    class Meta:
        model = Task
        fields: list[str] = []

    def filter_open(self, queryset, name, value):
        return queryset.filter(done_at__isnull=value)

    def filter_ordering(self, queryset, name, value):
        return queryset.order_by(*TASK_ORDERINGS[value])
