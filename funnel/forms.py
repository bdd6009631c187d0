"""Forms of the browser UI. They validate and convert input; writes go through funnel.services."""

from __future__ import annotations

import re

from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts import roles
from content.models import Persona
from funnel.models import Company, Contact, Stage, StageTransition, Tag, normalise_domain
from funnel.selectors import CONTACT_ORDERINGS
from funnel.services import normalise_tags

# How the company input refers to one company unambiguously: "Name (#id)", as the suggestions offer it.
COMPANY_REF_RE = re.compile(r"\(#(\d+)\)\s*$")
TAGS_MAX_LENGTH = 500
TAG_NAME_MAX_LENGTH = Tag._meta.get_field("name").max_length

CONTACT_ORDERING_LABELS = {
    "-created_at": _("Newest first"),
    "created_at": _("Oldest first"),
    "-score": _("Score, highest first"),
    "score": _("Score, lowest first"),
    "last_name": _("Last name, A–Z"),
}
assert set(CONTACT_ORDERING_LABELS) == set(CONTACT_ORDERINGS), "label every ordering the selector allows"


def assignable_users(*, include_id: int | None = None):
    """Active users with a role (the people a contact can belong to), plus ``include_id`` if given.

    The extra id keeps a contact's current owner selectable after that user lost their role, so
    that editing the contact does not fail on a field the user did not touch.
    """
    has_role = Q(is_active=True) & (Q(groups__name__in=roles.ALL_ROLES) | Q(is_superuser=True))
    if include_id is not None:
        has_role |= Q(pk=include_id)
    User = get_user_model()
    return User.objects.filter(pk__in=User.objects.filter(has_role).values("pk")).order_by("username")


def company_ref(company: Company | None) -> str:
    return f"{company.name} (#{company.pk})" if company else ""


class UserChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return obj.get_full_name() or obj.get_username()


class CompanyRefField(forms.CharField):
    """A company typed by name, or picked from the suggestions as "Name (#id)"."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 250)
        super().__init__(**kwargs)

    def clean(self, value):
        text = super().clean(value).strip()
        if not text:
            return None
        match = COMPANY_REF_RE.search(text)
        if match:
            company = Company.objects.filter(pk=int(match.group(1))).first()
            if company is None:
                raise forms.ValidationError(_("This company no longer exists."), code="missing")
            return company
        found = list(Company.objects.filter(name__iexact=text)[:2])
        if not found:
            raise forms.ValidationError(
                _("There is no company named “%(name)s”. Create it first or pick a suggestion."),
                code="unknown",
                params={"name": text},
            )
        if len(found) > 1:
            raise forms.ValidationError(
                _("Several companies are named “%(name)s”; pick one from the suggestions."),
                code="ambiguous",
                params={"name": text},
            )
        return found[0]

    def prepare_value(self, value):
        if isinstance(value, Company):
            return company_ref(value)
        return value


class ContactForm(forms.Form):
    """Create (with a stage) or edit (stage moves go through the stage control) a contact."""

    first_name = forms.CharField(label=_("First name"), max_length=100, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=100, required=False)
    email = forms.EmailField(label=_("Email"), max_length=254, required=False)
    phone = forms.CharField(label=_("Phone"), max_length=40, required=False)
    job_title = forms.CharField(label=_("Job title"), max_length=120, required=False)
    company = CompanyRefField(
        label=_("Company"),
        required=False,
        help_text=_("Start typing a company name and pick a suggestion."),
    )
    owner = UserChoiceField(label=_("Owner"), queryset=None, required=False, empty_label=_("— nobody —"))
    tags = forms.CharField(
        label=_("Tags"),
        max_length=TAGS_MAX_LENGTH,
        required=False,
        help_text=_("Comma-separated, e.g. “trade fair, newsletter”."),
    )
    source = forms.ChoiceField(
        label=_("Source"),
        choices=[("", _("— unknown —")), *Contact.Source.choices],
        required=False,
        help_text=_("Where the contact came from; the funnel analytics compare conversion by source."),
    )
    persona = forms.ModelChoiceField(
        label=_("Persona"),
        queryset=Persona.objects.order_by("name"),
        required=False,
        empty_label=_("— none —"),
        help_text=_("The buyer persona this contact fits best."),
    )
    consent_email = forms.BooleanField(label=_("Agreed to receive emails"), required=False)
    stage = forms.ModelChoiceField(
        label=_("Stage"), queryset=Stage.objects.order_by("position"), to_field_name="key", empty_label=None
    )

    def __init__(self, *args, instance: Contact | None = None, **kwargs):
        self.instance = instance
        if instance is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                "first_name": instance.first_name,
                "last_name": instance.last_name,
                "email": instance.email or "",
                "phone": instance.phone,
                "job_title": instance.job_title,
                "company": instance.company,
                "owner": instance.owner_id,
                "tags": ", ".join(t.name for t in instance.tags.all()),
                "source": instance.source,
                "persona": instance.persona_id,
                "consent_email": instance.consent_email,
            }
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = assignable_users(
            include_id=instance.owner_id if instance is not None else None
        )
        if instance is not None:
            # The stage changes only through the stage-move control, which records a reason.
            del self.fields["stage"]
        else:
            first = Stage.objects.order_by("position").values_list("key", flat=True).first()
            self.fields["stage"].initial = first

    def clean_email(self):
        email = (self.cleaned_data.get("email") or "").strip() or None
        if email:
            clash = Contact.objects.filter(email__iexact=email)
            if self.instance is not None:
                clash = clash.exclude(pk=self.instance.pk)
            if clash.exists():
                raise forms.ValidationError(
                    _("A contact with this email address already exists."), code="duplicate"
                )
        return email

    def clean_tags(self):
        names = normalise_tags(self.cleaned_data.get("tags", "").split(","))
        too_long = [n for n in names if len(n) > TAG_NAME_MAX_LENGTH]
        if too_long:
            raise forms.ValidationError(
                _("A tag can have at most %(max)d characters."),
                code="max_length",
                params={"max": TAG_NAME_MAX_LENGTH},
            )
        return names

    def service_kwargs(self) -> dict:
        """The cleaned data as keyword arguments of contact_create / contact_update."""
        data = dict(self.cleaned_data)
        data.setdefault("email", None)
        return data


class CompanyForm(forms.ModelForm):
    class Meta:
        model = Company
        fields = ["name", "domain", "industry", "employees"]
        labels = {
            "name": _("Name"),
            "domain": _("Domain"),
            "industry": _("Industry"),
            "employees": _("Employees"),
        }
        help_texts = {"domain": _("e.g. example.com")}

    def clean_domain(self):
        return normalise_domain(self.cleaned_data.get("domain", ""))


class StageMoveForm(forms.Form):
    stage = forms.ModelChoiceField(
        label=_("Move to"), queryset=Stage.objects.order_by("position"), to_field_name="key", empty_label=None
    )
    reason = forms.CharField(
        label=_("Reason"),
        max_length=StageTransition._meta.get_field("reason").max_length,
        required=False,
        widget=forms.TextInput,
    )
