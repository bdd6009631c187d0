"""Serializers of the signals API: the signal as stored (read-only; it changes only by being decided),
the bodies of accept and dismiss, and the detector's precision."""

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from customers.forms import ACTIONS, REASON_MAX_LENGTH, TITLE_MAX_LENGTH
from customers.models import Signal
from funnel.api.serializers import ApiModelSerializer
from nurturing.models import Sequence


class SignalSerializer(ApiModelSerializer):
    events = serializers.ListField(
        source="event_ids",
        child=serializers.IntegerField(),
        read_only=True,
        help_text="Ids of the events that raised it (the contact's latest on the product's topics), newest "
        "first; see `GET /api/v1/contacts/{id}/events/`.",
    )

    class Meta:
        model = Signal
        fields = [
            "id",
            "contact",
            "company",
            "product",
            "kind",
            "status",
            "topic",
            "weight",
            "events",
            "owner",
            "dismiss_reason",
            "decided_at",
            "decided_by",
            "task",
            "offer",
            "enrollment",
            "created_at",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "contact": {"help_text": "Contact id."},
            "company": {"help_text": "The contact's company id when the signal was raised, or null."},
            "product": {"help_text": "Product id: the product the contact showed interest in."},
            "kind": {
                "help_text": "`cross`: a product neither the contact nor its company owns; `up`: one of "
                "the same family as an owned product; `repeat`: a repeatable product bought long ago."
            },
            "status": {"help_text": "`open` until accepted or dismissed."},
            "topic": {"help_text": "The event topic with the strongest interest."},
            "weight": {"help_text": "The decayed interest weight in that topic when it was raised."},
            "owner": {"help_text": "User id of the contact's owner, who decides the signal."},
            "decided_by": {"help_text": "User id of who accepted or dismissed it."},
            "task": {"help_text": "Id of the task accepting it created (action `task`), or null."},
            "offer": {"help_text": "Id of the draft offer accepting it created (action `offer`), or null."},
            "enrollment": {
                "help_text": "Id of the enrollment accepting it created (action `sequence`), or null."
            },
            "created_at": {"help_text": "When it was raised."},
        }


class SignalAcceptSerializer(serializers.Serializer):
    action = serializers.ChoiceField(
        choices=[value for value, _label in ACTIONS],
        help_text="`task`: a call task for the owner; `offer`: a draft offer for the product; `sequence`: "
        "enroll the contact in `sequence`.",
    )
    sequence = serializers.PrimaryKeyRelatedField(
        queryset=Sequence.objects.all(),
        required=False,
        allow_null=True,
        help_text="Id of an active sequence; required for, and only allowed with, action `sequence`.",
    )
    title = serializers.CharField(
        max_length=TITLE_MAX_LENGTH,
        required=False,
        allow_blank=True,
        default="",
        help_text="Title of the task or offer; default: one naming the contact and the product.",
    )

    def validate_sequence(self, value):
        if value is not None and not value.active:
            raise serializers.ValidationError(_("This sequence is not active."))
        return value

    def validate(self, attrs):
        action, sequence = attrs.get("action"), attrs.get("sequence")
        if action == "sequence" and sequence is None:
            raise serializers.ValidationError({"sequence": [_("Choose the sequence.")]})
        if action != "sequence" and sequence is not None:
            raise serializers.ValidationError({"sequence": [_("Only for the action “sequence”.")]})
        return attrs


class SignalDismissSerializer(serializers.Serializer):
    reason = serializers.CharField(
        max_length=REASON_MAX_LENGTH, help_text="Why: required, it shows where the detector is wrong."
    )


class KindPrecisionSerializer(serializers.Serializer):
    decided = serializers.IntegerField(help_text="Accepted plus dismissed.")
    accepted = serializers.IntegerField()
    dismissed = serializers.IntegerField()
    open = serializers.IntegerField()
    precision = serializers.FloatField(
        allow_null=True, help_text="accepted / decided, 0–1; null while none is decided."
    )


class PrecisionSerializer(KindPrecisionSerializer):
    by_kind = serializers.DictField(
        child=KindPrecisionSerializer(), help_text="The same figures per kind: `cross`, `up`, `repeat`."
    )
