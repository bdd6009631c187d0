"""Serializers of the nurturing API. They check types, lengths and ranges and resolve keys and names
to rows; the rules that span fields (what a step kind needs, where a branch may go, what an active
sequence must keep) are ``nurturing.services``'s, which the views call."""

from datetime import timedelta

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from funnel.api.filters import INT64_MAX
from funnel.api.serializers import INT32_MAX, TAG_MAX_LENGTH, ApiModelSerializer, UTCDateTimeField
from funnel.models import Stage, Tag
from nurturing.models import MAX_WAIT, EmailTemplate, Enrollment, Sequence, Step
from scoring.models import EventType

MAX_WAIT_SECONDS = int(MAX_WAIT.total_seconds())
# One request enrolls at most this many contacts; the UI's "enroll the filtered list" goes further.
ENROLL_MAX_IDS = 10_000


class TagNameField(serializers.SlugRelatedField):
    """An existing tag, by name (case-insensitive, like tags everywhere in Trichter); the name out.
    Unknown names are a 400: a sequence must not create tags as a side effect of a typo."""

    default_error_messages = {
        "unknown": _("There is no tag {name!r}."),
        "invalid": _("Enter a tag name."),
    }

    def __init__(self, **kwargs):
        kwargs.setdefault("slug_field", "name")
        kwargs.setdefault("queryset", Tag.objects.all())
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        name = data.strip()
        if not name or len(name) > TAG_MAX_LENGTH or "\x00" in name:
            self.fail("unknown", name=name)
        tag = self.get_queryset().filter(name__iexact=name).first()
        if tag is None:
            self.fail("unknown", name=name)
        return tag


def stage_key_field(**kwargs) -> serializers.SlugRelatedField:
    return serializers.SlugRelatedField(slug_field="key", queryset=Stage.objects.all(), **kwargs)


def event_type_key_field(**kwargs) -> serializers.SlugRelatedField:
    return serializers.SlugRelatedField(slug_field="key", queryset=EventType.objects.all(), **kwargs)


class WaitSecondsField(serializers.IntegerField):
    """A duration as whole seconds (the model keeps a ``timedelta``)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_WAIT_SECONDS)
        super().__init__(**kwargs)

    def run_validation(self, data=serializers.empty):
        # The bounds are checked on the number of seconds; the service gets a timedelta.
        seconds = super().run_validation(data)
        return None if seconds is None else timedelta(seconds=seconds)

    def to_representation(self, value):
        return int(value.total_seconds())


class StrictIntegerField(serializers.IntegerField):
    """A JSON number that is a whole number: not ``"5"``, ``5.0`` or ``true``, which DRF's IntegerField
    would take. For id lists, where a string is a sign of a broken client rather than a convenience."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


def hh_mm_field(**kwargs) -> serializers.TimeField:
    return serializers.TimeField(
        format="%H:%M", input_formats=["%H:%M"], allow_null=True, required=False, **kwargs
    )


# Email templates ---------------------------------------------------------------------------------


class EmailTemplateSerializer(ApiModelSerializer):
    class Meta:
        model = EmailTemplate
        fields = ["id", "name", "subject", "body_text", "body_html", "created_at", "updated_at"]
        extra_kwargs = {
            "body_text": {
                "help_text": "Plain-text body; must contain `{{ unsubscribe_url }}`. Placeholders: "
                "first_name, last_name, full_name, email, company, owner, owner_email, unsubscribe_url."
            },
            "body_html": {"help_text": "Optional HTML body; the same placeholders, values escaped."},
        }


# Steps -------------------------------------------------------------------------------------------


class StepSerializer(ApiModelSerializer):
    position = serializers.IntegerField(
        min_value=1,
        max_value=INT32_MAX,
        required=False,
        help_text="1-based. On create: insert here (later steps move down); default: append. "
        "Change it with the `move` action.",
    )
    template = serializers.PrimaryKeyRelatedField(
        queryset=EmailTemplate.objects.all(),
        allow_null=True,
        required=False,
        help_text="Email template id (`email` steps).",
    )
    wait_seconds = WaitSecondsField(
        source="wait",
        allow_null=True,
        required=False,
        help_text=f"Wait in whole seconds, 1 to {MAX_WAIT_SECONDS} (365 days): how long a `wait` step "
        "waits, and the timeout of a `wait_event` step.",
    )
    event_type = event_type_key_field(
        allow_null=True,
        required=False,
        help_text="Event type key (`wait_event`; `branch` with condition `event_within`).",
    )
    yes_step = serializers.PrimaryKeyRelatedField(
        queryset=Step.objects.all(),
        allow_null=True,
        required=False,
        help_text="Step id to go to if the condition holds / the event came; a later step of this "
        "sequence. Null: the next step.",
    )
    no_step = serializers.PrimaryKeyRelatedField(
        queryset=Step.objects.all(),
        allow_null=True,
        required=False,
        help_text="Step id to go to otherwise / on timeout; a later step. Null: the next step.",
    )
    stage = stage_key_field(
        allow_null=True,
        required=False,
        help_text="Stage key (`move_stage`; `branch` with condition `stage_at_least`).",
    )
    tag = TagNameField(
        allow_null=True,
        required=False,
        help_text="An existing tag's name (`add_tag`, `remove_tag`; `branch` with condition `has_tag`).",
    )

    class Meta:
        model = Step
        fields = [
            "id",
            "position",
            "kind",
            "template",
            "wait_seconds",
            "event_type",
            "topic",
            "condition",
            "condition_value",
            "yes_step",
            "no_step",
            "stage",
            "tag",
            "text",
            "due_hours",
        ]
        extra_kwargs = {
            "kind": {"help_text": "What the step does; fields another kind uses are cleared on save."},
            "condition_value": {"help_text": "The condition's number (score, days) or fit grade A–D."},
            "text": {"help_text": "`task`: the task's title; `notify`: the message."},
        }

    def validate_position(self, value):
        if self.instance is not None and value != self.instance.position:
            raise serializers.ValidationError(_("Use the step's move action to change its position."))
        return value


class StepMoveSerializer(serializers.Serializer):
    position = serializers.IntegerField(
        min_value=1, max_value=INT32_MAX, help_text="1-based; past the end means last."
    )


# Sequences ---------------------------------------------------------------------------------------


class SequenceCountsSerializer(serializers.Serializer):
    active = serializers.IntegerField()
    completed = serializers.IntegerField()
    exited = serializers.IntegerField()
    failed = serializers.IntegerField()


COUNT_ATTRIBUTES = {state: f"enrollments_{state}" for state in Enrollment.State.values}


class SequenceSerializer(ApiModelSerializer):
    goal_stage = stage_key_field(
        allow_null=True,
        required=False,
        help_text="Stage key: reaching it (or a later stage) ends the enrollment as goal reached.",
    )
    trigger_stage = stage_key_field(
        allow_null=True, required=False, help_text="Stage key (trigger `stage_entered`)."
    )
    trigger_event_type = event_type_key_field(
        allow_null=True, required=False, help_text="Event type key (trigger `event`)."
    )
    trigger_tag = TagNameField(
        allow_null=True, required=False, help_text="An existing tag's name (trigger `tag_added`)."
    )
    window_start = hh_mm_field(help_text="Send window start, `HH:MM` in `time_zone`; null: any time.")
    window_end = hh_mm_field(help_text="Send window end, `HH:MM`; given together with `window_start`.")
    steps = StepSerializer(many=True, read_only=True, help_text="In position order.")
    counts = serializers.SerializerMethodField(help_text="Enrollments by state.")

    class Meta:
        model = Sequence
        fields = [
            "id",
            "name",
            "goal",
            "goal_stage",
            "active",
            "trigger",
            "trigger_stage",
            "trigger_score",
            "trigger_event_type",
            "trigger_topic",
            "trigger_tag",
            "reentry",
            "reentry_days",
            "window_start",
            "window_end",
            "window_days",
            "time_zone",
            "steps",
            "counts",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["active"]
        extra_kwargs = {
            "active": {"help_text": "Switched by the `activate` and `deactivate` actions."},
            "window_days": {"help_text": "ISO weekdays the window is open, digits 1 (Mon) to 7 (Sun)."},
            "time_zone": {"help_text": "IANA time zone of the send window, e.g. `Europe/Berlin`."},
        }

    @extend_schema_field(SequenceCountsSerializer)
    def get_counts(self, sequence):
        # The views annotate these in the one query that reads the sequence(s).
        return {state: getattr(sequence, attribute, 0) for state, attribute in COUNT_ATTRIBUTES.items()}


class ProblemsSerializer(serializers.Serializer):
    problems = serializers.ListField(child=serializers.CharField(), help_text="Why it cannot run.")


# Enrollment --------------------------------------------------------------------------------------


class EnrollSerializer(serializers.Serializer):
    contacts = serializers.ListField(
        child=StrictIntegerField(min_value=1, max_value=INT64_MAX),
        min_length=1,
        max_length=ENROLL_MAX_IDS,
        help_text=f"Contact ids (JSON integers), 1 to {ENROLL_MAX_IDS:,}; duplicates are ignored.",
    )


class EnrollResultSerializer(serializers.Serializer):
    enrolled = serializers.ListField(child=serializers.IntegerField(), help_text="Contact ids enrolled now.")
    already_enrolled = serializers.ListField(
        child=serializers.IntegerField(), help_text="Already active in the sequence."
    )
    not_again = serializers.ListField(
        child=serializers.IntegerField(), help_text="Were in it before; the re-entry policy says no (yet)."
    )
    missing = serializers.ListField(child=serializers.IntegerField(), help_text="No such contact.")


class EnrollmentSerializer(ApiModelSerializer):
    contact = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True, help_text="Contact id; null once the contact was deleted."
    )
    sequence = serializers.PrimaryKeyRelatedField(read_only=True, help_text="Sequence id.")
    step = serializers.PrimaryKeyRelatedField(
        read_only=True,
        allow_null=True,
        help_text="Step id: the step it is on (run next); may be null once finished.",
    )
    step_position = serializers.IntegerField(
        read_only=True, allow_null=True, help_text="That step's position."
    )
    next_run_at = UTCDateTimeField(read_only=True, allow_null=True)
    finished_at = UTCDateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = Enrollment
        fields = [
            "id",
            "contact",
            "sequence",
            "state",
            "exit_reason",
            "step",
            "step_position",
            "next_run_at",
            "entered_at",
            "finished_at",
        ]
        read_only_fields = fields
