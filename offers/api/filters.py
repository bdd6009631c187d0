"""Query-parameter filters of the offers lists. They only validate the parameters (an unknown status
or a non-integer id is a 400 naming the parameter); the query is built by ``offers.selectors``, the
same one the browser UI filters with."""

from django import forms
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema_field

from funnel.api.filters import INT64_MAX, IntegerFilter
from offers import selectors
from offers.models import TOPIC_MAX_LENGTH, Offer, Ownership, Product


def id_filter(description: str):
    # The model fields are foreign keys, which drf-spectacular would document as a "number".
    return extend_schema_field({"type": "integer", "description": description})(
        IntegerFilter(min_value=1, max_value=INT64_MAX)
    )


class StrictBooleanField(forms.NullBooleanField):
    """``true``/``false`` (or ``1``/``0``); anything else is a 400, not silently "no filter"."""

    def to_python(self, value):
        if value in (None, ""):
            return None
        text = str(value).lower()
        if text in ("true", "1"):
            return True
        if text in ("false", "0"):
            return False
        raise forms.ValidationError("Enter true or false.", code="invalid")


class StrictBooleanFilter(filters.BooleanFilter):
    field_class = StrictBooleanField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", forms.TextInput)
        super().__init__(*args, **kwargs)


class ProductFilterSet(filters.FilterSet):
    active = StrictBooleanFilter(help_text="Only active (`true`) or inactive (`false`) products.")
    topic = filters.CharFilter(max_length=TOPIC_MAX_LENGTH, help_text="Only products with this topic.")
    family = filters.CharFilter(max_length=100, help_text="Only products of this family (case-insensitive).")
    search = filters.CharFilter(max_length=200, help_text="Part of the name or article number.")

    class Meta:
        model = Product
        fields: list[str] = []

    def filter_queryset(self, queryset):
        data = self.form.cleaned_data
        return selectors.product_list(
            active=data.get("active"),
            topic=data.get("topic") or "",
            family=data.get("family") or "",
            search=data.get("search") or "",
        )


class OfferFilterSet(filters.FilterSet):
    status = filters.ChoiceFilter(choices=Offer.Status.choices, help_text="Only offers in this status.")
    owner = id_filter("Only offers owned by this user id.")
    contact = id_filter("Only offers for this contact id.")
    company = id_filter("Only offers for this company id.")
    product = id_filter("Only offers with a line of this product id.")
    search = filters.CharFilter(max_length=200, help_text="Part of the title.")

    class Meta:
        model = Offer
        fields: list[str] = []

    def filter_queryset(self, queryset):
        data = self.form.cleaned_data
        return selectors.offer_list(
            status=data.get("status") or "",
            owner_id=data.get("owner"),
            contact_id=data.get("contact"),
            company_id=data.get("company"),
            product_id=data.get("product"),
            search=data.get("search") or "",
            with_items=True,
        )


class OwnershipFilterSet(filters.FilterSet):
    contact = id_filter("Only what this contact owns (contact id).")
    company = id_filter("Only what this company owns (company id).")
    product = id_filter("Only owners of this product (product id).")

    class Meta:
        model = Ownership
        fields: list[str] = []

    def filter_queryset(self, queryset):
        data = self.form.cleaned_data
        return selectors.ownership_list(
            contact_id=data.get("contact"), company_id=data.get("company"), product_id=data.get("product")
        )
