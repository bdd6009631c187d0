"""Query-parameter filters of the signal list: an unknown status or kind, or an id that is not a whole
number, is a 400 naming the parameter, never silently ignored."""

from django_filters import rest_framework as filters

from customers.models import Signal
from nurturing.api.filters import id_filter


class SignalFilterSet(filters.FilterSet):
    status = filters.ChoiceFilter(choices=Signal.Status.choices, help_text="Only signals in this status.")
    kind = filters.ChoiceFilter(choices=Signal.Kind.choices, help_text="Only signals of this kind.")
    owner = id_filter("owner_id", "Only signals owned by this user id.")
    contact = id_filter("contact_id", "Only this contact's signals (contact id).")
    product = id_filter("product_id", "Only signals about this product (product id).")

    class Meta:
        model = Signal
        fields: list[str] = []
