"""Forms of the sales pages. They validate and convert input; the rules (who may, what time is
allowed) are ``sales.services``'s, whose errors the views put back on these forms."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from funnel.forms import UserChoiceField
from sales import selectors
from sales.models import Task

DATETIME_INPUT = "%Y-%m-%dT%H:%M"


def datetime_field(**kwargs) -> forms.DateTimeField:
    """A ``datetime-local`` input, read in the site's time zone."""
    return forms.DateTimeField(
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_INPUT),
        input_formats=[DATETIME_INPUT, "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"],
        **kwargs,
    )


def tomorrow_at_nine(now: datetime) -> datetime:
    local = timezone.localtime(now)
    return timezone.make_aware(datetime.combine(local.date() + timedelta(days=1), time(9)))


class SnoozeForm(forms.Form):
    """Snooze to a preset (the button pressed) or to a chosen date and time."""

    PRESETS = {
        "tomorrow": (_("Tomorrow 09:00"), tomorrow_at_nine),
        "hour": (_("In an hour"), lambda now: now + timedelta(hours=1)),
        "week": (_("In a week"), lambda now: now + timedelta(weeks=1)),
    }
    CUSTOM = "custom"

    preset = forms.ChoiceField(
        choices=[*((key, label) for key, (label, _at) in PRESETS.items()), (CUSTOM, _("At"))],
        required=False,
    )
    until = datetime_field(label=_("Snooze until"), required=False)

    def clean(self):
        data = super().clean()
        preset = data.get("preset") or self.CUSTOM
        if preset == self.CUSTOM and not data.get("until") and "until" not in self.errors:
            self.add_error("until", _("Give a date and time."))
        data["preset"] = preset
        return data

    def until_from(self, now: datetime) -> datetime:
        """The time to snooze to (call after ``is_valid()``)."""
        preset = self.cleaned_data["preset"]
        if preset == self.CUSTOM:
            return self.cleaned_data["until"]
        return self.PRESETS[preset][1](now)


class ReassignForm(forms.Form):
    owner = UserChoiceField(
        queryset=selectors.sales_users(),
        label=_("Give to"),
        error_messages={"invalid_choice": _("Choose an active sales user.")},
    )


class TaskForm(forms.Form):
    """A manual task on the contact page (for the user who writes it)."""

    title = forms.CharField(label=_("Task"), max_length=Task._meta.get_field("title").max_length)
    kind = forms.ChoiceField(label=_("Kind"), choices=Task.Kind.choices, initial=Task.Kind.CALL)
    due_at = datetime_field(label=_("Due"))
    priority = forms.TypedChoiceField(
        label=_("Priority"), choices=Task.Priority.choices, coerce=int, initial=Task.Priority.NORMAL
    )

    def __init__(self, *args, now: datetime | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("due_at", tomorrow_at_nine(now or timezone.now()))
