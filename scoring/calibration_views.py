"""The calibration page (``/scoring/calibration/``): what history says about the rules' points and the
sales threshold (see :mod:`scoring.calibration`), and applying the suggested points.

Everyone who works with contacts reads it; marketing and admin apply suggestions (POST), one rule or
all at once, through ``scoring.calibration.calibration_apply`` → ``scoring.rules.rule_update``, which
asks for a rebuild of all scores. Plain forms and a redirect after the POST: the page works without
JavaScript, and the report is computed afresh on each request (a few grouped queries).
"""

from __future__ import annotations

from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from accounts import roles
from accounts.decorators import role_required
from scoring import calibration
from scoring.views import REBUILD_MESSAGE, SCORING_PAGES, rebuild_context

PAGES = SCORING_PAGES


class WindowForm(forms.Form):
    window_days = forms.IntegerField(
        label=gettext_lazy("Window (days)"),
        min_value=calibration.WINDOW_MIN_DAYS,
        max_value=calibration.WINDOW_MAX_DAYS,
        initial=calibration.WINDOW_DEFAULT_DAYS,
        help_text=gettext_lazy("How far back the cut-off lies: 30 to 730 days."),
    )


class ApplyForm(WindowForm):
    rule = forms.CharField(required=False, max_length=50)
    all = forms.BooleanField(required=False)

    def clean(self):
        cleaned = super().clean()
        if bool(cleaned.get("rule")) == bool(cleaned.get("all")):
            raise forms.ValidationError(_("Apply either one rule's suggestion or all of them."))
        return cleaned


@role_required(roles.WORK_CONTACTS)
@require_GET
def calibration_page(request):
    data = request.GET if "window_days" in request.GET else {"window_days": calibration.WINDOW_DEFAULT_DAYS}
    form = WindowForm(data)
    if not form.is_valid():
        return render(request, "scoring/calibration.html", _context(request, form=form), status=400)
    report = calibration.calibration_report(window_days=form.cleaned_data["window_days"])
    return render(request, "scoring/calibration.html", _context(request, form=form, report=report))


@role_required(roles.EDIT_FUNNEL)
@require_POST
def calibration_apply(request):
    form = ApplyForm(request.POST)
    errors: list[str] = []
    if form.is_valid():
        window_days = form.cleaned_data["window_days"]
        try:
            changed = calibration.calibration_apply(
                by=request.user,
                keys=[form.cleaned_data["rule"]] if form.cleaned_data["rule"] else None,
                apply_all=form.cleaned_data["all"],
                window_days=window_days,
            )
        except calibration.CalibrationError as exc:
            errors.append(str(exc))
        else:
            if changed:
                names = ", ".join(f"{c['name']} ({c['old_points']} → {c['new_points']})" for c in changed)
                messages.success(
                    request, _("Points changed: %(rules)s.") % {"rules": names} + f" {REBUILD_MESSAGE}"
                )
            else:
                messages.info(request, _("Nothing to change: the points already are the suggested ones."))
            query = urlencode({"window_days": window_days})
            return redirect(f"{reverse('scoring:calibration')}?{query}")
    else:
        errors = [e for field_errors in form.errors.values() for e in field_errors]
    window = form.cleaned_data.get("window_days") if hasattr(form, "cleaned_data") else None
    window_form = WindowForm({"window_days": window or calibration.WINDOW_DEFAULT_DAYS})
    window_form.is_valid()
    report = calibration.calibration_report(window_days=window_form.cleaned_data["window_days"])
    context = _context(request, form=window_form, report=report, apply_errors=errors)
    return render(request, "scoring/calibration.html", context, status=400)


def _context(request, *, form, report=None, **extra) -> dict:
    return {
        "form": form,
        "report": report,
        # Event types nobody had before the cut-off (purchases, usage: after it) are left out.
        "event_types": [f for f in report.event_types if f.with_contacts] if report else [],
        "can_apply": roles.has_any(request.user, roles.EDIT_FUNNEL),
        "scoring_pages": PAGES,
        **rebuild_context(),
        **extra,
    }
