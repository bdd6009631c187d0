"""Forms of the nurturing pages. They validate and convert input; every write goes through
``nurturing.services``, whose field errors the views put back on these forms.

Fields that only some choices use (a trigger's stage, a branch condition's value) are all in the form;
the page shows the ones the current choice needs (CSS ``:has()``, see nurturing.css) and ``clean()``
drops the others, so a sequence never keeps the stage of a trigger it no longer has.
"""

from __future__ import annotations

import re
import zoneinfo
from datetime import timedelta
from functools import lru_cache

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from funnel.forms import UserChoiceField, assignable_users
from funnel.models import Contact, Stage, Tag
from funnel.selectors import contact_search_q
from nurturing.models import MAX_WAIT, EmailTemplate, NurtureSettings, Sequence, Step
from nurturing.selectors import step_choices_after
from nurturing.services import KIND_FIELDS
from scoring.models import TOPIC_MAX_LENGTH, EventType

SEARCH_MAX_LENGTH = 200
CONTACT_SUGGESTIONS = 10
# "Anna Schmidt <anna@example.com> (#12)": how a picked suggestion names one contact unambiguously.
CONTACT_REF_RE = re.compile(r"\(#(\d{1,18})\)\s*$")
ID_RE = re.compile(r"^#?(\d{1,18})$")

WEEKDAYS = [
    ("1", _("Mon")),
    ("2", _("Tue")),
    ("3", _("Wed")),
    ("4", _("Thu")),
    ("5", _("Fri")),
    ("6", _("Sat")),
    ("7", _("Sun")),
]
# Which sequence fields each trigger uses (the others are cleared).
TRIGGER_FIELDS = {
    Sequence.Trigger.MANUAL: set(),
    Sequence.Trigger.STAGE_ENTERED: {"trigger_stage"},
    Sequence.Trigger.SCORE_REACHED: {"trigger_score"},
    Sequence.Trigger.EVENT: {"trigger_event_type", "trigger_topic"},
    Sequence.Trigger.TAG_ADDED: {"trigger_tag"},
}
TRIGGER_EMPTY = {
    "trigger_stage": None,
    "trigger_score": None,
    "trigger_event_type": None,
    "trigger_topic": "",
    "trigger_tag": None,
}
# Which branch conditions use which of the step's fields besides the value.
CONDITION_FIELDS = {
    "condition_value": {
        Step.Condition.SCORE_GTE,
        Step.Condition.FIT_GRADE,
        Step.Condition.EVENT_WITHIN,
    },
    "stage": {Step.Condition.STAGE_AT_LEAST},
    "event_type": {Step.Condition.EVENT_WITHIN},
    "topic": {Step.Condition.TOPIC_INTEREST},
    "tag": {Step.Condition.HAS_TAG},
}
WAIT_UNITS = {"minutes": timedelta(minutes=1), "hours": timedelta(hours=1), "days": timedelta(days=1)}
WAIT_UNIT_CHOICES = [("minutes", _("minutes")), ("hours", _("hours")), ("days", _("days"))]


@lru_cache(maxsize=1)
def time_zone_choices() -> list[tuple[str, str]]:
    names = sorted(zoneinfo.available_timezones() - {"Factory", "localtime"})
    return [(name, name.replace("_", " ")) for name in names]


def contact_ref(contact: Contact | None) -> str:
    if contact is None:
        return ""
    name = contact.full_name or contact.email or ""
    if contact.email and contact.full_name:
        name = f"{contact.full_name} <{contact.email}>"
    return f"{name} (#{contact.pk})".strip()


def contact_suggestions(text: str) -> list[Contact]:
    """Up to CONTACT_SUGGESTIONS contacts matching what was typed (name, email, company, or an id)."""
    text = (text or "").strip()[:SEARCH_MAX_LENGTH]
    match = CONTACT_REF_RE.search(text) or ID_RE.match(text)
    if match:
        return list(Contact.objects.filter(pk=int(match.group(1))))
    text = text.split(" (#")[0].split(" <")[0].strip()
    if not text:
        return []
    return list(
        Contact.objects.filter(contact_search_q(text)).order_by("last_name", "first_name", "id")[
            :CONTACT_SUGGESTIONS
        ]
    )


class ContactRefField(forms.CharField):
    """A contact by id (``12`` or ``#12``), by email address, by a picked suggestion "Name (#12)", or
    by a name that matches exactly one contact."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", SEARCH_MAX_LENGTH + 40)
        kwargs.setdefault("label", _("Contact"))
        super().__init__(**kwargs)

    def clean(self, value):
        text = super().clean(value).strip()
        if not text:
            return None
        match = CONTACT_REF_RE.search(text) or ID_RE.match(text)
        if match:
            contact = (
                Contact.objects.select_related("company", "owner").filter(pk=int(match.group(1))).first()
            )
            if contact is None:
                raise forms.ValidationError(_("There is no contact #%(id)s."), params={"id": match.group(1)})
            return contact
        if "@" in text:
            found = list(Contact.objects.select_related("company", "owner").filter(email__iexact=text)[:2])
        else:
            found = list(
                Contact.objects.select_related("company", "owner").filter(contact_search_q(text))[:2]
            )
        if not found:
            raise forms.ValidationError(_("No contact matches “%(text)s”."), params={"text": text})
        if len(found) > 1:
            raise forms.ValidationError(
                _("Several contacts match “%(text)s”; pick one from the suggestions."), params={"text": text}
            )
        return found[0]


class TagField(forms.CharField):
    """An existing tag, typed by name (case does not matter)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", Tag._meta.get_field("name").max_length)
        super().__init__(**kwargs)
        self.widget.attrs.update({"list": "tag-options", "autocomplete": "off"})

    def prepare_value(self, value):
        if isinstance(value, Tag):
            return value.name
        if isinstance(value, int):
            tag = Tag.objects.filter(pk=value).first()
            return tag.name if tag else ""
        return value

    def clean(self, value):
        text = super().clean(value).strip()
        if not text:
            return None
        tag = Tag.objects.filter(name__iexact=text).first()
        if tag is None:
            raise forms.ValidationError(
                _("There is no tag “%(name)s” yet: a tag exists once a contact carries it."),
                params={"name": text},
            )
        return tag


class StageChoiceField(forms.ModelChoiceField):
    def __init__(self, **kwargs):
        kwargs.setdefault("queryset", Stage.objects.order_by("position"))
        kwargs.setdefault("empty_label", "—")
        super().__init__(**kwargs)

    def label_from_instance(self, obj):
        return obj.name


class EventTypeChoiceField(forms.ModelChoiceField):
    def __init__(self, **kwargs):
        kwargs.setdefault("queryset", EventType.objects.order_by("key"))
        kwargs.setdefault("empty_label", _("Choose…"))
        super().__init__(**kwargs)

    def label_from_instance(self, obj):
        return f"{obj.name} ({obj.key})"


class StepChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        label = f"{obj.position}. {obj.get_kind_display()}"
        if obj.kind == Step.Kind.EMAIL and obj.template_id:
            label += f": {obj.template.name}"
        return label


# --- Sequences -------------------------------------------------------------------------------------


class SequenceForm(forms.ModelForm):
    goal_stage = StageChoiceField(required=False, label=_("Goal: stage reached"))
    trigger_stage = StageChoiceField(required=False, label=_("Stage"))
    trigger_event_type = EventTypeChoiceField(required=False, label=_("Event type"))
    trigger_tag = TagField(required=False, label=_("Tag"))
    window_days = forms.MultipleChoiceField(
        choices=WEEKDAYS, required=False, widget=forms.CheckboxSelectMultiple, label=_("Send on weekdays")
    )
    time_zone = forms.ChoiceField(label=_("Time zone"))

    class Meta:
        model = Sequence
        fields = [
            "name",
            "goal",
            "goal_stage",
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
        ]
        labels = {
            "name": _("Name"),
            "goal": _("Goal"),
            "trigger": _("Entry trigger"),
            "trigger_score": _("Score"),
            "trigger_topic": _("Topic (optional)"),
            "reentry": _("Re-entry"),
            "reentry_days": _("Again after (days)"),
            "window_start": _("Send from"),
            "window_end": _("Send until"),
        }
        help_texts = {
            "goal": _("What the sequence is for, in a sentence."),
            "reentry": _("Whether a contact who finished or left the sequence may enter it again."),
        }
        widgets = {
            "goal": forms.TextInput(),
            "window_start": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "window_end": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "trigger_score": forms.NumberInput(attrs={"min": 1, "max": 100000, "class": "input-num"}),
            "reentry_days": forms.NumberInput(attrs={"min": 1, "max": 3650, "class": "input-num"}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        choices = time_zone_choices()
        current = self.initial.get("time_zone") or settings.TIME_ZONE
        if current not in {value for value, _label in choices}:
            choices = [(current, current), *choices]
        self.fields["time_zone"].choices = choices
        self.fields["time_zone"].initial = settings.TIME_ZONE
        if not self.is_bound:
            self.initial["window_days"] = list(self.instance.window_days or "")
            self.initial.setdefault("time_zone", settings.TIME_ZONE)
        self.fields["goal_stage"].help_text = _(
            "Reaching this stage (or a later one) ends the enrollment as “goal reached”."
        )

    def clean_window_days(self):
        return "".join(sorted(set(self.cleaned_data.get("window_days") or [])))

    def clean(self):
        data = super().clean()
        used = TRIGGER_FIELDS.get(data.get("trigger"), set())
        for name, empty in TRIGGER_EMPTY.items():
            if name not in used:
                data[name] = empty
                self.errors.pop(name, None)
        if data.get("reentry") != Sequence.Reentry.AFTER_DAYS:
            data["reentry_days"] = None
            self.errors.pop("reentry_days", None)
        return data

    def _post_clean(self):
        # The model's own checks run on the instance, which must not keep values clean() dropped.
        for name in (*TRIGGER_EMPTY, "reentry_days"):
            if name in self.cleaned_data:
                setattr(self.instance, name, self.cleaned_data[name])
        super()._post_clean()

    def service_kwargs(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.Meta.fields if name in self.cleaned_data}


# --- Steps -----------------------------------------------------------------------------------------


class StepForm(forms.Form):
    """The fields of one kind of step. Requiredness is the service's to decide (its messages say what
    is missing for this kind); the form converts and bounds the values."""

    template = forms.ModelChoiceField(
        queryset=EmailTemplate.objects.order_by("name"),
        required=False,
        label=_("Email template"),
        empty_label=_("Choose…"),
    )
    wait = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=int(MAX_WAIT.total_seconds() // 60),
        label=_("Wait"),
        widget=forms.NumberInput(attrs={"class": "input-num", "min": 1}),
    )
    wait_unit = forms.ChoiceField(choices=WAIT_UNIT_CHOICES, initial="days", required=False, label=_("Unit"))
    event_type = EventTypeChoiceField(required=False, label=_("Event type"))
    topic = forms.CharField(required=False, max_length=TOPIC_MAX_LENGTH, label=_("Topic"))
    condition = forms.ChoiceField(
        required=False, choices=[("", _("Choose…")), *Step.Condition.choices], label=_("Condition")
    )
    condition_value = forms.CharField(required=False, max_length=20, label=_("Value"))
    yes_step = StepChoiceField(queryset=Step.objects.none(), required=False, empty_label=_("the next step"))
    no_step = StepChoiceField(queryset=Step.objects.none(), required=False, empty_label=_("the next step"))
    stage = StageChoiceField(required=False, label=_("Stage"))
    tag = TagField(required=False, label=_("Tag"))
    text = forms.CharField(required=False, max_length=200, label=_("Text"))
    due_hours = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=24 * 90,
        label=_("Due within (hours)"),
        widget=forms.NumberInput(attrs={"class": "input-num", "min": 1, "max": 24 * 90}),
    )

    def __init__(self, *args, kind: str, sequence: Sequence, step: Step | None = None, **kwargs):
        if step is not None and not kwargs.get("data") and not args:
            kwargs.setdefault("initial", step_initial(step))
        super().__init__(*args, **kwargs)
        self.kind = kind
        self.step = step
        self.order_fields(KIND_ORDER.get(kind, []))
        used = KIND_FIELDS[kind]
        for name in list(self.fields):
            base = "wait" if name == "wait_unit" else name
            if base not in used:
                del self.fields[name]
        for name in ("yes_step", "no_step"):
            if name in self.fields:
                self.fields[name].queryset = step_choices_after(sequence=sequence, step=step)
        labels = KIND_LABELS.get(kind, {})
        for name, label in labels.items():
            if name in self.fields:
                self.fields[name].label = label
        for name, text in KIND_HELP.get(kind, {}).items():
            if name in self.fields:
                self.fields[name].help_text = text
        if step is not None and self.fields:
            # The row being edited takes the focus, so that Esc (handled by the row) cancels at once.
            next(iter(self.fields.values())).widget.attrs["autofocus"] = True

    def clean(self):
        data = super().clean()
        if "wait" in self.fields and data.get("wait") is not None:
            amount = data["wait"]
            unit = WAIT_UNITS.get(data.get("wait_unit") or "days", WAIT_UNITS["days"])
            wait = amount * unit
            if wait > MAX_WAIT:
                self.add_error("wait", _("The wait can be at most 365 days."))
            else:
                data["wait"] = wait
        if self.kind == Step.Kind.BRANCH:
            condition = data.get("condition")
            for name, conditions in CONDITION_FIELDS.items():
                if condition not in conditions:
                    data[name] = "" if name in ("condition_value", "topic") else None
                    self.errors.pop(name, None)
        return data

    def service_kwargs(self) -> dict:
        return {name: self.cleaned_data.get(name) for name in KIND_FIELDS[self.kind]}

    @property
    def kind_label(self) -> str:
        return Step.Kind(self.kind).label

    @property
    def rows(self) -> list[dict]:
        """The fields to show, in order: each with its unit field (the wait's) and, in a condition,
        the conditions that use it (space-separated, for ``data-conditions``; empty: always shown)."""
        rows = []
        for bound in self:
            if bound.name == "wait_unit":
                continue
            conditions = ""
            if self.kind == Step.Kind.BRANCH and bound.name in CONDITION_FIELDS:
                conditions = " ".join(str(c) for c in CONDITION_FIELDS[bound.name])
            unit = self["wait_unit"] if bound.name == "wait" and "wait_unit" in self.fields else None
            rows.append({"field": bound, "unit": unit, "conditions": conditions})
        return rows


# Where a kind's fields do not follow the declaration order: what is checked first, then where to go.
KIND_ORDER = {
    Step.Kind.WAIT_EVENT: ["event_type", "topic", "wait", "wait_unit", "yes_step", "no_step"],
    Step.Kind.BRANCH: [
        "condition",
        "condition_value",
        "stage",
        "event_type",
        "topic",
        "tag",
        "yes_step",
        "no_step",
    ],
}
KIND_LABELS = {
    Step.Kind.WAIT_EVENT: {
        "wait": _("Give up after"),
        "topic": _("Topic (optional)"),
        "yes_step": _("When the event happens, go to"),
        "no_step": _("When the wait times out, go to"),
    },
    Step.Kind.BRANCH: {"yes_step": _("If yes, go to"), "no_step": _("If no, go to")},
    Step.Kind.TASK: {"text": _("Task title")},
    Step.Kind.NOTIFY: {"text": _("Message to the owner")},
    Step.Kind.MOVE_STAGE: {"stage": _("Move to stage")},
}
KIND_HELP = {
    Step.Kind.BRANCH: {
        "condition_value": _(
            "Score at least: a whole number. Fit grade at least: A, B, C or D. Event within: a number "
            "of days (1–3650)."
        ),
    },
    Step.Kind.TASK: {
        "due_hours": _("The task goes to the contact's owner (or is assigned by the fast-lane policy).")
    },
}


def step_initial(step: Step) -> dict:
    initial = {
        "template": step.template_id,
        "event_type": step.event_type_id,
        "topic": step.topic,
        "condition": step.condition,
        "condition_value": step.condition_value,
        "yes_step": step.yes_step_id,
        "no_step": step.no_step_id,
        "stage": step.stage_id,
        "tag": step.tag.name if step.tag_id else "",
        "text": step.text,
        "due_hours": step.due_hours,
    }
    if step.wait:
        for unit in ("days", "hours", "minutes"):
            size = WAIT_UNITS[unit]
            if step.wait % size == timedelta(0):
                initial["wait"] = step.wait // size
                initial["wait_unit"] = unit
                break
    return initial


class StepKindForm(forms.Form):
    kind = forms.ChoiceField(choices=[("", _("Choose…")), *Step.Kind.choices], label=_("Kind of step"))


class StepMoveForm(forms.Form):
    position = forms.IntegerField(min_value=1, max_value=10_000)


# --- Templates -------------------------------------------------------------------------------------


class TemplateForm(forms.ModelForm):
    class Meta:
        model = EmailTemplate
        fields = ["name", "subject", "body_text", "body_html"]
        labels = {
            "name": _("Name"),
            "subject": _("Subject"),
            "body_text": _("Text body"),
            "body_html": _("HTML body (optional)"),
        }
        help_texts = {
            "name": _("For you: recipients do not see it."),
            "body_text": _("Every email needs it; it must contain {{ unsubscribe_url }}."),
            "body_html": _("Shown by mail programs that display HTML; the text body is the fallback."),
        }
        widgets = {
            "body_text": forms.Textarea(attrs={"rows": 12, "class": "mono"}),
            "body_html": forms.Textarea(attrs={"rows": 12, "class": "mono"}),
        }

    def service_kwargs(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.Meta.fields}


class ContactPickForm(forms.Form):
    contact = ContactRefField(
        widget=forms.TextInput(
            attrs={"list": "contact-options", "autocomplete": "off", "placeholder": _("Name, email or #id")}
        )
    )


# --- Enrollment ------------------------------------------------------------------------------------


class EnrollFilterForm(forms.Form):
    """The contact list's filters, to enroll everyone they match."""

    search = forms.CharField(required=False, max_length=SEARCH_MAX_LENGTH, label=_("Search"))
    stage = forms.ModelChoiceField(
        queryset=Stage.objects.order_by("position"),
        to_field_name="key",
        required=False,
        empty_label=_("All stages"),
        label=_("Stage"),
    )
    owner = UserChoiceField(queryset=None, required=False, empty_label=_("All owners"), label=_("Owner"))
    tag = forms.CharField(required=False, max_length=Tag._meta.get_field("name").max_length, label=_("Tag"))
    topic = forms.CharField(required=False, max_length=TOPIC_MAX_LENGTH, label=_("Interested in"))
    score_min = forms.IntegerField(
        required=False, min_value=-1_000_000, max_value=1_000_000, label=_("Score at least")
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = assignable_users()
        self.fields["tag"].widget.attrs.update({"list": "tag-options", "autocomplete": "off"})
        self.fields["score_min"].widget.attrs["class"] = "input-num"

    def clean(self):
        data = super().clean()
        if not self.errors and not any(data.get(name) not in (None, "") for name in self.fields):
            raise forms.ValidationError(
                _("Choose at least one filter: enrolling every contact at once is not offered.")
            )
        return data

    def filters(self) -> dict:
        data = self.cleaned_data
        return {
            "search": (data.get("search") or "").strip(),
            "stage": data.get("stage"),
            "owner_id": data["owner"].pk if data.get("owner") else None,
            "tag": (data.get("tag") or "").strip(),
            "topic": (data.get("topic") or "").strip(),
            "score_min": data.get("score_min"),
        }


# --- Fast lane -------------------------------------------------------------------------------------


class NurtureSettingsForm(forms.ModelForm):
    default_owner = UserChoiceField(queryset=None, required=False, empty_label="—", label=_("Default owner"))

    class Meta:
        model = NurtureSettings
        fields = ["fast_lane_response_hours", "unowned_assignment", "default_owner"]
        labels = {
            "fast_lane_response_hours": _("Respond to a fast-lane request within (hours)"),
            "unowned_assignment": _("Contacts without an owner go to"),
        }
        help_texts = {
            "fast_lane_response_hours": _("The due time of the task sales gets: 1 to 336 hours."),
            "unowned_assignment": _(
                "Round-robin takes the active sales users in turn; a default owner gets them all."
            ),
        }
        widgets = {"fast_lane_response_hours": forms.NumberInput(attrs={"class": "input-num", "min": 1})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["default_owner"].queryset = assignable_users(include_id=self.instance.default_owner_id)
        self.fields["default_owner"].help_text = _(
            "Needed for “a default owner”; with round-robin, used when there are no sales users."
        )

    def service_kwargs(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.Meta.fields}
