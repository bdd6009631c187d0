"""Forms of the scoring pages. They validate input (including the models' ``clean()`` rules); every
write goes through ``scoring.rules``.

A rule's row is edited in place: its inputs sit in the table cells and belong to one ``<form>`` in the
actions cell through the HTML ``form`` attribute (a ``<form>`` may not wrap table cells). ``RowForm``
sets that attribute on every widget when given a ``form_id``.
"""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from funnel.models import Stage
from scoring.models import EngagementRule, EventType, FitRule, ScoringSettings, StageRule

POINTS_MIN, POINTS_MAX = -1000, 1000

# What a fit rule's value means, per attribute (shown next to the value and in the legend).
FIT_VALUE_HELP = {
    FitRule.Attribute.INDUSTRY_IN: _(
        "Comma-separated industries, e.g. “electronics, automotive”; compared with the company’s industry, "
        "ignoring case."
    ),
    FitRule.Attribute.EMPLOYEES_GTE: _("A whole number: the company has at least this many employees."),
    FitRule.Attribute.JOB_TITLE_CONTAINS: _(
        "Comma-separated words; the job title must contain one of them (ignoring case)."
    ),
    FitRule.Attribute.BUSINESS_EMAIL: _(
        "No value needed: the email address is not from a free-mail provider such as gmail.com or web.de."
    ),
    FitRule.Attribute.HAS_TAG: _("Comma-separated tags; the contact must carry one of them."),
}


class EventTypeChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.name} ({obj.key})"


class StageChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return obj.name


class RowForm(forms.ModelForm):
    """A model form whose widgets can belong to a ``<form>`` elsewhere in the row."""

    def __init__(self, *args, form_id: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        for index, field in enumerate(self.fields.values()):
            if form_id:
                field.widget.attrs["form"] = form_id
                if index == 0:
                    field.widget.attrs["autofocus"] = True  # so that Esc reaches the row at once
            if isinstance(field.widget, forms.NumberInput):
                field.widget.attrs.setdefault("class", "input-num")


class EngagementRuleForm(RowForm):
    event_type = EventTypeChoiceField(
        queryset=EventType.objects.order_by("key"), label=_("event type"), empty_label=_("Choose…")
    )
    points = forms.IntegerField(label=_("points"), min_value=POINTS_MIN, max_value=POINTS_MAX)

    class Meta:
        model = EngagementRule
        fields = [
            "name",
            "event_type",
            "points",
            "topic",
            "property_key",
            "property_contains",
            "daily_cap",
            "active",
        ]
        widgets = {
            "property_key": forms.TextInput(attrs={"placeholder": _("e.g. url")}),
            "property_contains": forms.TextInput(attrs={"placeholder": _("e.g. /pricing")}),
            "daily_cap": forms.NumberInput(attrs={"min": 1, "placeholder": _("none")}),
            "topic": forms.TextInput(attrs={"placeholder": _("any")}),
        }
        labels = {"topic": _("topic"), "daily_cap": _("daily cap")}


class FitRuleForm(RowForm):
    attribute = forms.ChoiceField(
        label=_("attribute"), choices=[("", _("Choose…")), *FitRule.Attribute.choices]
    )
    points = forms.IntegerField(label=_("points"), min_value=POINTS_MIN, max_value=POINTS_MAX)

    class Meta:
        model = FitRule
        fields = ["name", "attribute", "value", "points", "active"]


class StageRuleForm(RowForm):
    event_type = EventTypeChoiceField(
        queryset=EventType.objects.order_by("key"),
        required=False,
        label=_("event type"),
        empty_label="—",
    )
    from_stage = StageChoiceField(queryset=Stage.objects.order_by("position"), label=_("from stage"))
    to_stage = StageChoiceField(queryset=Stage.objects.order_by("position"), label=_("to stage"))

    class Meta:
        model = StageRule
        fields = ["name", "trigger", "event_type", "from_stage", "to_stage", "active"]


class EventTypeCreateForm(RowForm):
    class Meta:
        model = EventType
        fields = ["key", "name", "fast_lane"]
        help_texts = {
            "key": _("Lower-case letters, digits, - and _; integrations send it, so it cannot change later."),
        }
        widgets = {"key": forms.TextInput(attrs={"placeholder": _("e.g. webinar_attended")})}


class EventTypeEditForm(RowForm):
    class Meta:
        model = EventType
        fields = ["name", "fast_lane"]


class ScoringSettingsForm(forms.ModelForm):
    """Validated by the model: half-life 7..3650 days, grade thresholds A > B > C."""

    class Meta:
        model = ScoringSettings
        fields = ["half_life_days", "sales_threshold", "grade_a_min", "grade_b_min", "grade_c_min"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.widget.attrs.setdefault("class", "input-num")
