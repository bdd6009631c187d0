"""Serializers of the webhooks API: types and lengths; the target check and the kinds are
``webhooks.services``'s."""

from rest_framework import serializers

from funnel.api.serializers import ApiModelSerializer
from webhooks.models import KINDS, Delivery, Subscription


class SubscriptionSerializer(ApiModelSerializer):
    url = serializers.CharField(
        max_length=500,
        help_text="http(s) URL the events are POSTed to. Hosts that resolve to loopback, private, "
        "link-local or reserved addresses are refused.",
    )
    kinds = serializers.ListField(
        child=serializers.ChoiceField(choices=KINDS),
        allow_empty=False,
        help_text="The event kinds to send.",
    )
    secret = serializers.CharField(
        read_only=True,
        help_text="The signing secret: `Trichter-Signature: v1=<hex HMAC-SHA256(secret, "
        '"<Trichter-Timestamp>.<body>")>`.',
    )

    class Meta:
        model = Subscription
        fields = [
            "id",
            "name",
            "url",
            "kinds",
            "is_active",
            "secret",
            "disabled_reason",
            "owner",
            "consecutive_failures",
            "last_success_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "disabled_reason",
            "owner",
            "consecutive_failures",
            "last_success_at",
            "created_at",
            "updated_at",
        ]


class DeliverySerializer(ApiModelSerializer):
    class Meta:
        model = Delivery
        fields = [
            "delivery_id",
            "kind",
            "state",
            "attempts",
            "next_attempt_at",
            "last_attempt_at",
            "last_status_code",
            "last_response",
            "last_error",
            "created_at",
            "delivered_at",
            "payload",
        ]
        read_only_fields = fields
