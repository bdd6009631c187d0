"""The audit log page (admins): who changed what, filtered by action, person, target and days."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from accounts import roles
from accounts.decorators import role_required
from audit.models import Action
from audit.selectors import audit_entries
from config.web import paginate


class AuditFilterForm(forms.Form):
    action = forms.ChoiceField(label=_("action"), required=False, choices=[("", _("all"))] + Action.choices)
    actor = forms.ModelChoiceField(
        label=_("by"),
        required=False,
        queryset=get_user_model().objects.order_by("username"),
        empty_label=_("all"),
    )
    target_type = forms.CharField(label=_("target type"), required=False, max_length=40)
    target_id = forms.CharField(label=_("target id"), required=False, max_length=40)
    since = forms.DateField(label=_("from"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label=_("until"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        data = super().clean()
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            self.add_error("until", _("Must not be before the first day."))
        return data


@require_GET
@role_required(roles.MANAGE_USERS)
def audit_list(request):
    form = AuditFilterForm(request.GET or None)
    if form.is_bound and not form.is_valid():
        return render(request, "audit/audit_list.html", {"form": form, "page": None}, status=400)
    filters = form.cleaned_data if form.is_bound else {}
    entries = audit_entries(
        action=filters.get("action") or "",
        actor_id=filters["actor"].pk if filters.get("actor") else None,
        target_type=filters.get("target_type") or "",
        target_id=filters.get("target_id") or "",
        since=filters.get("since"),
        until=filters.get("until"),
    )
    return render(
        request, "audit/audit_list.html", {"form": form, "page": paginate(entries, request.GET.get("page"))}
    )
