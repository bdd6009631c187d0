"""Serializers of the funnel API: they validate input completely, so that the services and the
database never meet a value they would reject with an exception (that would be a 500 instead of a
400 naming the field), and they render times in UTC."""

import datetime as dt
import json

from django.contrib.auth import get_user_model
from django.db import models
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from content.models import Persona
from funnel.models import STAGE_TEXT_COLUMNS, Company, Contact, Stage, StageTransition, Tag

PROPERTIES_MAX_BYTES = 16 * 1024
# Deeper than any sensible set of custom properties, and shallow enough that walking and encoding
# the value can never hit Python's recursion limit.
PROPERTIES_MAX_DEPTH = 32
TAG_MAX_LENGTH = Tag._meta.get_field("name").max_length
MAX_TAGS = 50
# PostgreSQL's integer column; SQLite would take more, but the API promises the same on both.
INT32_MAX = 2**31 - 1
EMAIL_TAKEN = _("A contact with this email address already exists.")
PERSONA_UNKNOWN = _("There is no persona with id {pk_value}.")


class UTCDateTimeField(serializers.DateTimeField):
    """ISO 8601 in UTC ("…Z"), whatever ``settings.TIME_ZONE`` is: integrations compare these
    strings across installations, and API.md promises UTC in responses."""

    def __init__(self, **kwargs):
        kwargs.setdefault("default_timezone", dt.UTC)
        super().__init__(**kwargs)


class ApiModelSerializer(serializers.ModelSerializer):
    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.DateTimeField: UTCDateTimeField,
    }


@extend_schema_field({"type": "object", "additionalProperties": {}, "description": "Custom properties."})
class PropertiesField(serializers.JSONField):
    """Free-form custom properties: a JSON object of at most 16 KiB (UTF-8, compact)."""

    default_error_messages = {
        "not_object": _("Must be a JSON object."),
        "too_deep": _("Nested more than {max_depth} levels deep."),
        "too_large": _("Must be at most {max_bytes} bytes when serialized."),
        "null_character": _("Null characters are not allowed."),
    }

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            self.fail("not_object")
        # Before super(), which serializes the value and would recurse without bound.
        _check_structure(self, data)
        data = super().to_internal_value(data)
        size = len(json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "replace"))
        if size > PROPERTIES_MAX_BYTES:
            self.fail("too_large", max_bytes=PROPERTIES_MAX_BYTES)
        return data


def _check_structure(field: PropertiesField, value) -> None:
    """Depth limit, and no NUL in any string (PostgreSQL's jsonb refuses ``\\u0000``).

    Iterative, so that a deeply nested value is refused instead of exhausting the stack.
    """
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            if depth > PROPERTIES_MAX_DEPTH:
                field.fail("too_deep", max_depth=PROPERTIES_MAX_DEPTH)
            for key, child in item.items():
                if "\x00" in key:
                    field.fail("null_character")
                pending.append((child, depth + 1))
        elif isinstance(item, list):
            if depth > PROPERTIES_MAX_DEPTH:
                field.fail("too_deep", max_depth=PROPERTIES_MAX_DEPTH)
            pending.extend((child, depth + 1) for child in item)
        elif isinstance(item, str) and "\x00" in item:
            field.fail("null_character")


class TagListField(serializers.ListField):
    """Tag names in, tag names out. Read from the prefetched tags: no query per row."""

    def __init__(self, **kwargs):
        kwargs.setdefault("child", serializers.CharField(max_length=TAG_MAX_LENGTH))
        kwargs.setdefault("max_length", MAX_TAGS)
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def to_representation(self, data):
        # Sorted here, not by the database, whose collation would order "VIP" and "messe"
        # differently on SQLite and PostgreSQL.
        return sorted((tag.name for tag in data.all()), key=str.casefold)


@extend_schema_field(
    {
        "type": "string",
        "enum": [*Contact.Source.values, ""],
        "description": "Where the contact came from; blank means unknown.\n\n"
        + "\n".join(f"* `{value}` - {label}" for value, label in Contact.Source.choices),
    },
    # A named component of its own: left to drf-spectacular, two enum fields called "source" (this
    # and the task's) would both be renamed, and the published SourceEnum of tasks would disappear.
    component_name="ContactSourceEnum",
)
class ContactSourceField(serializers.ChoiceField):
    """One of ``Contact.Source`` or "" (unknown, the default)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("choices", Contact.Source.choices)
        kwargs.setdefault("allow_blank", True)
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)


# Stages ------------------------------------------------------------------------------------------


class StageSerializer(ApiModelSerializer):
    contact_count = serializers.IntegerField(read_only=True, help_text="Contacts in this stage now.")

    class Meta:
        model = Stage
        fields = ["key", "name", "position", *STAGE_TEXT_COLUMNS, "contact_count"]
        # Only the name and the five texts are editable; the keys and order are the funnel's identity.
        read_only_fields = ["key", "position"]


# Companies ---------------------------------------------------------------------------------------


class CompanySerializer(ApiModelSerializer):
    employees = serializers.IntegerField(min_value=0, max_value=INT32_MAX, allow_null=True, required=False)
    properties = PropertiesField()

    class Meta:
        model = Company
        fields = ["id", "name", "domain", "industry", "employees", "properties", "created_at", "updated_at"]


# Contacts ----------------------------------------------------------------------------------------


class ContactSerializer(ApiModelSerializer):
    email = serializers.EmailField(
        max_length=Contact._meta.get_field("email").max_length,
        required=False,
        allow_null=True,
        allow_blank=True,
        help_text="Unique (case-insensitive) when present; blank means none (stored as null).",
    )
    company = serializers.PrimaryKeyRelatedField(
        queryset=Company.objects.all(), required=False, allow_null=True, help_text="Company id."
    )
    stage = serializers.SlugRelatedField(
        slug_field="key",
        queryset=Stage.objects.all(),
        required=False,
        help_text="Stage key; default `suspect`. Setting it records a stage transition.",
    )
    owner = serializers.PrimaryKeyRelatedField(
        # Assigning a deactivated user would hide the contact from every work list.
        queryset=get_user_model().objects.filter(is_active=True),
        required=False,
        allow_null=True,
        help_text="User id of an active user.",
    )
    tags = TagListField()
    source = ContactSourceField()
    persona = serializers.PrimaryKeyRelatedField(
        queryset=Persona.objects.all(),
        required=False,
        allow_null=True,
        error_messages={"does_not_exist": PERSONA_UNKNOWN},
        help_text="Persona id, or null.",
    )
    properties = PropertiesField()

    class Meta:
        model = Contact
        fields = [
            "id",
            "email",
            "first_name",
            "last_name",
            "phone",
            "job_title",
            "company",
            "stage",
            "owner",
            "tags",
            "source",
            "persona",
            "consent_email",
            "properties",
            "score",
            "fit_score",
            "engagement_score",
            "created_at",
            "updated_at",
        ]
        # Scores are kept by the scoring app; the API only shows them.
        read_only_fields = ["id", "score", "fit_score", "engagement_score", "created_at", "updated_at"]

    def validate_email(self, value):
        email = (value or "").strip() or None
        if email:
            clash = Contact.objects.filter(email__iexact=email)
            if self.instance is not None:
                clash = clash.exclude(pk=self.instance.pk)
            if clash.exists():
                raise serializers.ValidationError(EMAIL_TAKEN)
        return email


class ContactMoveSerializer(serializers.Serializer):
    stage = serializers.SlugRelatedField(
        slug_field="key", queryset=Stage.objects.all(), help_text="Stage key."
    )
    reason = serializers.CharField(
        max_length=StageTransition._meta.get_field("reason").max_length, allow_blank=True, default=""
    )


class StageTransitionSerializer(ApiModelSerializer):
    from_stage = serializers.SlugRelatedField(
        slug_field="key", read_only=True, allow_null=True, help_text="Null for the entry into the funnel."
    )
    to_stage = serializers.SlugRelatedField(slug_field="key", read_only=True)
    by = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True, help_text="User id, if a user.")
    rule = serializers.CharField(read_only=True, help_text="The automatic rule that moved it, if a rule.")

    class Meta:
        model = StageTransition
        fields = ["from_stage", "to_stage", "at", "by", "rule", "reason"]
        read_only_fields = fields
