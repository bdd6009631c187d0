"""Serializers of the tasks API. They check types, lengths and choices and resolve ids to rows; who may
do what (owner or admin, tasks only to sales users, snoozing into the future) is ``sales.services``'s,
which the views call."""

from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from funnel.api.serializers import ApiModelSerializer, UTCDateTimeField
from funnel.models import Contact
from sales.models import Task

# The API names priorities; the database keeps their rank.
PRIORITY_NAMES = {Task.Priority.LOW: "low", Task.Priority.NORMAL: "normal", Task.Priority.HIGH: "high"}
PRIORITY_VALUES = {name: value for value, name in PRIORITY_NAMES.items()}


class PriorityField(serializers.ChoiceField):
    def __init__(self, **kwargs):
        super().__init__(choices=list(PRIORITY_VALUES), **kwargs)

    def to_internal_value(self, data):
        return PRIORITY_VALUES[super().to_internal_value(data)]

    def to_representation(self, value):
        return PRIORITY_NAMES[Task.Priority(int(value))]


class TaskSerializer(ApiModelSerializer):
    contact = serializers.PrimaryKeyRelatedField(
        queryset=Contact.objects.all(), help_text="Contact id. Set on creation; it cannot change."
    )
    owner = serializers.PrimaryKeyRelatedField(
        queryset=get_user_model().objects.all(),
        required=False,
        allow_null=True,
        help_text="User id. On creation default: you; another owner must be an active sales user. "
        "Changing it hands the task on (its owner or an admin may; only to an active sales user), and "
        "the new owner is notified. Null in responses for a task without owner.",
    )
    kind = serializers.ChoiceField(choices=Task.Kind.choices, default=Task.Kind.CALL)
    source = serializers.ChoiceField(
        choices=Task.Source.choices,
        default=Task.Source.MANUAL,
        help_text="Where the task came from; set on creation (default `manual`), it cannot change.",
    )
    # A default is not converted like input: it is the stored value already.
    priority = PriorityField(default=Task.Priority.NORMAL)
    note = serializers.CharField(
        max_length=Task._meta.get_field("note").max_length, allow_blank=True, required=False, default=""
    )

    class Meta:
        model = Task
        fields = [
            "id",
            "title",
            "note",
            "contact",
            "owner",
            "kind",
            "source",
            "priority",
            "due_at",
            "done_at",
            "created_at",
        ]
        read_only_fields = ["id", "done_at", "created_at"]
        extra_kwargs = {
            "due_at": {"help_text": "When it is due (ISO 8601; UTC in responses)."},
            "done_at": {"help_text": "When it was completed; null while open."},
        }

    def validate_owner(self, value):
        if value is None and self.instance is not None:
            raise serializers.ValidationError(_("A task cannot be left without an owner."))
        return value

    def validate(self, attrs):
        if self.instance is not None:
            for name, current in (("contact", self.instance.contact_id), ("source", self.instance.source)):
                if name in self.initial_data and name in attrs:
                    given = attrs[name].pk if name == "contact" else attrs[name]
                    if given != current:
                        raise serializers.ValidationError({name: [_("This cannot be changed.")]})
                    del attrs[name]
        elif attrs.get("owner", "") is None:
            del attrs["owner"]  # null on creation: the default (the requesting user)
        return attrs


class TaskSnoozeSerializer(serializers.Serializer):
    until = UTCDateTimeField(help_text="The new due time: in the future, at most a year ahead.")
