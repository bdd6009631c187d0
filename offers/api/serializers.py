"""Serializers of the offers API. They check types, lengths and ranges and resolve ids to rows; the
rules (topics as slugs, at least one line, which status allows what) are ``offers.services``'s, which
the views call and whose ``ValidationError`` becomes a 400 naming the field."""

from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from funnel.api.serializers import ApiModelSerializer, UTCDateTimeField
from funnel.models import Company, Contact
from offers.models import Offer, OfferItem, Ownership, Product
from offers.services import LOST_REASON_MAX_LENGTH, MAX_ITEMS, MAX_QUANTITY, MAX_TOPICS


def money_field(**kwargs) -> serializers.DecimalField:
    kwargs.setdefault("max_digits", 12)
    kwargs.setdefault("decimal_places", 2)
    return serializers.DecimalField(**kwargs)


class TopicListField(serializers.ListField):
    """Topic strings in (normalised by the service: ``"PCB Design"`` → ``pcb-design``), stored topics
    out, from the prefetched rows."""

    def __init__(self, **kwargs):
        kwargs.setdefault("child", serializers.CharField(max_length=200, allow_blank=True))
        kwargs.setdefault("max_length", MAX_TOPICS)
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def to_representation(self, data):
        return [row.topic for row in data.all()]


# Products ----------------------------------------------------------------------------------------


class ProductSerializer(ApiModelSerializer):
    price = money_field(
        min_value=0, allow_null=True, required=False, help_text="List price (decimal string), or null."
    )
    topics = TopicListField(
        help_text="Topics events carry (`scoring` event `topic`) that show interest in the product; "
        "stored as lower-case slugs, e.g. `pcb-design`. On PATCH the list replaces the old one."
    )

    class Meta:
        model = Product
        fields = [
            "id",
            "name",
            "sku",
            "description",
            "price",
            "family",
            "repeatable",
            "active",
            "topics",
            "created_at",
            "updated_at",
        ]
        extra_kwargs = {
            "sku": {"help_text": "Article number."},
            "family": {"help_text": "Products of one family are steps of one line (up-sell)."},
            "repeatable": {"help_text": "Bought again and again (consumables, service contracts)."},
            "active": {"help_text": "Inactive products stay on old offers but are not offered any more."},
        }


# Offers ------------------------------------------------------------------------------------------


class OfferItemSerializer(serializers.ModelSerializer):
    product = serializers.PrimaryKeyRelatedField(queryset=Product.objects.all(), help_text="Product id.")
    product_name = serializers.CharField(source="product.name", read_only=True)
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY)
    unit_price = money_field(
        min_value=0,
        allow_null=True,
        required=False,
        help_text='Decimal string, e.g. `"12.50"`; left out or null: the product\'s list price.',
    )
    amount = money_field(max_digits=24, read_only=True, help_text="quantity × unit_price")

    class Meta:
        model = OfferItem
        fields = ["product", "product_name", "quantity", "unit_price", "amount"]


class OfferSerializer(ApiModelSerializer):
    contact = serializers.PrimaryKeyRelatedField(
        queryset=Contact.objects.all(),
        # Null in answers once the contact was deleted (the offer stays); never accepted as input.
        allow_null=True,
        help_text="Contact id, required; fixed once the offer exists. Null after the contact was deleted.",
    )
    company = serializers.PrimaryKeyRelatedField(
        queryset=Company.objects.all(),
        allow_null=True,
        required=False,
        help_text="Company id; default: the contact's company.",
    )
    owner = serializers.PrimaryKeyRelatedField(
        queryset=get_user_model().objects.filter(is_active=True),
        allow_null=True,
        required=False,
        help_text="User id of an active user; default: nobody.",
    )
    currency = serializers.CharField(
        max_length=3, required=False, help_text="ISO 4217 code, three capital letters; default `EUR`."
    )
    items = OfferItemSerializer(
        many=True,
        max_length=MAX_ITEMS,
        help_text="At least one line, each product once. On PATCH the list replaces all lines.",
    )
    value = money_field(max_digits=24, read_only=True, help_text="Sum of the lines' amounts.")
    sent_at = UTCDateTimeField(read_only=True, allow_null=True)
    decided_at = UTCDateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = Offer
        fields = [
            "id",
            "title",
            "contact",
            "company",
            "owner",
            "status",
            "currency",
            "items",
            "value",
            "lost_reason",
            "sent_at",
            "decided_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["status", "lost_reason"]
        extra_kwargs = {
            "status": {
                "help_text": "`draft`, `open` (sent), `won` or `lost`; changed by the send, win and "
                "lose actions."
            },
        }

    def validate_contact(self, value):
        if value is None:
            raise serializers.ValidationError(_("Choose the contact the offer is for."))
        if self.instance is not None and getattr(self.instance, "contact_id", None) != value.pk:
            raise serializers.ValidationError(_("An offer's contact cannot change; create a new offer."))
        return value

    def service_kwargs(self) -> dict:
        data = dict(self.validated_data)
        data.pop("contact", None)
        if "items" in data:
            data["items"] = [
                (line["product"], line["quantity"], line.get("unit_price")) for line in data["items"]
            ]
        return data


class OfferWinSerializer(serializers.Serializer):
    decided_at = UTCDateTimeField(
        required=False, allow_null=True, help_text="When the order came in; default now. Not in the future."
    )


class OfferLoseSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=LOST_REASON_MAX_LENGTH, help_text="Why the offer was lost.")


# Ownership ---------------------------------------------------------------------------------------


class OwnershipSerializer(ApiModelSerializer):
    contact = serializers.PrimaryKeyRelatedField(queryset=Contact.objects.all(), help_text="Contact id.")
    product = serializers.PrimaryKeyRelatedField(queryset=Product.objects.all(), help_text="Product id.")
    product_name = serializers.CharField(source="product.name", read_only=True)
    company = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True, help_text="The contact's company when it bought."
    )
    offer = serializers.PrimaryKeyRelatedField(
        read_only=True,
        allow_null=True,
        help_text="The won offer of the last purchase; null if recorded by hand.",
    )
    since = UTCDateTimeField(help_text="Owned since; not in the future.")
    last_purchase_at = UTCDateTimeField(read_only=True)

    class Meta:
        model = Ownership
        fields = ["id", "contact", "company", "product", "product_name", "since", "last_purchase_at", "offer"]
        # Recording an owned product again is not an error: the service keeps the earliest date.
        validators: list = []
