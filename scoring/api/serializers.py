"""Serializers of the scoring API (../shared/API.md: Events, contact score, scoring configuration).

Incoming events are *not* validated here: :func:`scoring.ingest.events_ingest` checks a batch of
1,000 in a plain loop, which a serializer per event could not do fast enough. ``EventInSerializer``
only documents the event object in the OpenAPI schema.
"""

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from funnel.api.serializers import ApiModelSerializer, UTCDateTimeField
from funnel.models import Stage
from scoring.models import (
    EVENT_ID_MAX_LENGTH,
    PROPERTIES_MAX_BYTES,
    TOPIC_MAX_LENGTH,
    EngagementRule,
    EventType,
    FitRule,
    ScoringSettings,
    StageRule,
)

INT32_MAX = 2**31 - 1
INT32_MIN = -(2**31)


# Events ------------------------------------------------------------------------------------------


class EventInSerializer(serializers.Serializer):
    """One event as an integration sends it (schema only; see the module docstring)."""

    id = serializers.CharField(
        max_length=EVENT_ID_MAX_LENGTH, help_text="Idempotency key, unique across the installation."
    )
    type = serializers.CharField(help_text="An event type key (GET /api/v1/event-types/).")
    occurred_at = serializers.DateTimeField(
        required=False, help_text="Default now; at most 5 minutes in the future."
    )
    contact = serializers.IntegerField(required=False, min_value=1, help_text="Contact id.")
    email = serializers.EmailField(
        required=False, help_text="An unknown email creates the contact in stage `suspect`."
    )
    anonymous_id = serializers.CharField(required=False, max_length=255, help_text="Visitor cookie id.")
    topic = serializers.CharField(required=False, max_length=TOPIC_MAX_LENGTH)
    properties = serializers.JSONField(
        required=False, help_text=f"A JSON object of at most {PROPERTIES_MAX_BYTES // 1024} KiB."
    )


class EventBatchResultSerializer(serializers.Serializer):
    accepted = serializers.IntegerField(help_text="Events stored by this request.")
    duplicates = serializers.IntegerField(help_text="Events whose id was already stored (nothing stored).")


class EventErrorSerializer(serializers.Serializer):
    index = serializers.IntegerField(allow_null=True, help_text="Position in the batch; null for the batch.")
    field = serializers.CharField()
    message = serializers.CharField()


class EventBatchErrorsSerializer(serializers.Serializer):
    errors = EventErrorSerializer(many=True)


class EventSerializer(serializers.Serializer):
    """A stored event as the contact's timeline shows it. A plain Serializer: a page of 500 rows must
    not pay for ModelSerializer field building."""

    id = serializers.CharField(source="external_id", read_only=True)
    type = serializers.CharField(source="type.key", read_only=True, help_text="Event type key.")
    occurred_at = UTCDateTimeField(read_only=True)
    topic = serializers.CharField(read_only=True)
    properties = serializers.JSONField(read_only=True)
    anonymous_id = serializers.CharField(read_only=True)
    received_at = UTCDateTimeField(read_only=True)


# Score -------------------------------------------------------------------------------------------


class ScoreRuleSerializer(serializers.Serializer):
    rule = serializers.CharField(help_text="Engagement rule name.")
    points = serializers.FloatField(help_text="Its decayed points now (2 decimals).")
    events = serializers.IntegerField(help_text="Events that counted for it.")


class ScoreTopicSerializer(serializers.Serializer):
    topic = serializers.CharField()
    weight = serializers.FloatField(
        help_text="Decayed interest: one per event on the topic, halving per half-life."
    )


class FitRuleMatchSerializer(serializers.Serializer):
    rule = serializers.CharField(help_text="Fit rule name.")
    points = serializers.IntegerField()


class ContactScoreSerializer(serializers.Serializer):
    score = serializers.IntegerField(help_text="fit_score + engagement_score.")
    fit_score = serializers.IntegerField()
    engagement_score = serializers.IntegerField(help_text="Decayed engagement now, rounded.")
    breakdown = ScoreRuleSerializer(many=True, help_text="Engagement by rule, most points first.")
    topics = ScoreTopicSerializer(many=True, help_text="Topics of interest, heaviest first.")
    fit_breakdown = FitRuleMatchSerializer(many=True, help_text="The active fit rules the contact matches.")


# Configuration -----------------------------------------------------------------------------------


class EventTypeSerializer(ApiModelSerializer):
    class Meta:
        model = EventType
        fields = ["key", "name", "description", "fast_lane", "builtin"]
        read_only_fields = ["builtin"]
        extra_kwargs = {"name": {"required": False, "help_text": "Default: the key."}}

    def validate_key(self, value):
        if self.instance is not None and self.instance.builtin and value != self.instance.key:
            raise serializers.ValidationError(
                _("The key of a built-in event type cannot change: integrations send it.")
            )
        return value


class EngagementRuleSerializer(ApiModelSerializer):
    event_type = serializers.SlugRelatedField(
        slug_field="key", queryset=EventType.objects.all(), help_text="Event type key."
    )
    daily_cap = serializers.IntegerField(
        min_value=1,
        max_value=INT32_MAX,
        allow_null=True,
        required=False,
        help_text="Points per contact and day.",
    )

    class Meta:
        model = EngagementRule
        fields = [
            "id",
            "name",
            "event_type",
            "points",
            "topic",
            "property_key",
            "property_contains",
            "daily_cap",
            "active",
            "created_at",
            "updated_at",
        ]


class FitRuleSerializer(ApiModelSerializer):
    class Meta:
        model = FitRule
        fields = ["id", "name", "attribute", "value", "points", "active", "created_at", "updated_at"]


class StageRuleSerializer(ApiModelSerializer):
    event_type = serializers.SlugRelatedField(
        slug_field="key",
        queryset=EventType.objects.all(),
        allow_null=True,
        required=False,
        help_text="Event type key; only (and required) for the `event_type` trigger.",
    )
    from_stage = serializers.SlugRelatedField(
        slug_field="key", queryset=Stage.objects.all(), help_text="Stage key."
    )
    to_stage = serializers.SlugRelatedField(
        slug_field="key", queryset=Stage.objects.all(), help_text="Stage key."
    )

    class Meta:
        model = StageRule
        fields = ["id", "name", "trigger", "event_type", "from_stage", "to_stage", "active"]


class ScoringSettingsSerializer(ApiModelSerializer):
    # Bounded so that an absurd number is a 400 and not a database error on PostgreSQL.
    grade_a_min = serializers.IntegerField(min_value=INT32_MIN, max_value=INT32_MAX, required=False)
    grade_b_min = serializers.IntegerField(min_value=INT32_MIN, max_value=INT32_MAX, required=False)
    grade_c_min = serializers.IntegerField(min_value=INT32_MIN, max_value=INT32_MAX, required=False)

    class Meta:
        model = ScoringSettings
        fields = [
            "half_life_days",
            "sales_threshold",
            "grade_a_min",
            "grade_b_min",
            "grade_c_min",
            "updated_at",
        ]
        read_only_fields = ["updated_at"]
