"""The scoring pages: the overview (settings, rebuild progress) and one page per kind of rule.

Everyone who works with contacts reads them; marketing and admin edit. The rule pages share one set
of views, configured per kind (:data:`KINDS`): a table whose rows are edited in place with HTMX (Edit
swaps the ``<tr>`` for the same row as a form, Save posts it back and gets the read-only row, or the
form with its errors; Esc or Cancel fetches the read-only row), an "add" form whose new row is
appended, an active toggle and a delete with confirmation. Plain requests get the full page or a
redirect, so every control also works without JavaScript.

All writes go through ``scoring.rules``; a ``ValueError`` from there is a refused change and is shown
as an error. When a change alters how points are computed the service asks for a rebuild of all
scores; the page then says so and shows the rebuild's progress.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Exists, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import reswap, retarget

from accounts import roles
from accounts.decorators import role_required
from config.web import add_service_errors, vary_on_htmx, wants_fragment
from scoring import rebuild, rules
from scoring.forms import (
    FIT_VALUE_HELP,
    EngagementRuleForm,
    EventTypeCreateForm,
    EventTypeEditForm,
    FitRuleForm,
    ScoringSettingsForm,
    StageRuleForm,
)
from scoring.models import EngagementRule, Event, EventType, FitRule, ScoringSettings, StageRule

REBUILD_ACTIVE = frozenset({"pending", "running"})
REBUILD_MESSAGE = gettext_lazy("Scores are being rebuilt with the new rules.")


# --- Rule kinds ----------------------------------------------------------------------------------


def _engagement_rules() -> QuerySet:
    return EngagementRule.objects.select_related("event_type")


def _fit_rules() -> QuerySet:
    return FitRule.objects.all()


def _stage_rules() -> QuerySet:
    return StageRule.objects.select_related("event_type", "from_stage", "to_stage")


def _event_types() -> QuerySet:
    stage_rule_count = (
        StageRule.objects.filter(event_type=OuterRef("pk"))
        .order_by()
        .values("event_type")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return EventType.objects.annotate(
        engagement_rule_count=Count("engagement_rules", distinct=True),
        stage_rule_count=Coalesce(Subquery(stage_rule_count, output_field=IntegerField()), 0),
        has_events=Exists(Event.objects.filter(type=OuterRef("pk"))),
    ).order_by("-builtin", "key")


@dataclass(frozen=True)
class Kind:
    """One kind of rule and what its page offers."""

    slug: str  # URL prefix and name prefix: "engagement" → scoring:engagement-list, …
    model: type
    queryset: Callable[[], QuerySet]
    create_form: type | None  # None: no "add" on this page
    edit_form: type
    columns: int  # table columns, for the "nothing here" row
    can_delete: bool = True
    can_toggle: bool = True
    extra: dict = field(default_factory=dict)

    @property
    def template(self) -> str:
        return f"scoring/{self.slug.replace('-', '_')}.html"

    @property
    def row_template(self) -> str:
        return f"scoring/_{self.slug.replace('-', '_')}_row.html"

    def url(self, action: str) -> str:
        return f"scoring:{self.slug}-{action}"

    @property
    def urls(self) -> dict[str, str]:
        """URL names for the templates: ``{% url kind.urls.edit item.pk %}``."""
        return {a: self.url(a) for a in ("list", "add", "row", "edit", "toggle", "delete")}

    def label(self, item) -> str:
        return item.name


ENGAGEMENT = Kind("engagement", EngagementRule, _engagement_rules, EngagementRuleForm, EngagementRuleForm, 8)
FIT = Kind(
    "fit",
    FitRule,
    _fit_rules,
    FitRuleForm,
    FitRuleForm,
    6,
    extra={
        "fit_help": [(value, label, FIT_VALUE_HELP[value]) for value, label in FitRule.Attribute.choices],
        "fit_help_by_attribute": FIT_VALUE_HELP,
    },
)
STAGES = Kind("stages", StageRule, _stage_rules, None, StageRuleForm, 7, can_delete=False)
EVENT_TYPES = Kind(
    "event-types", EventType, _event_types, EventTypeCreateForm, EventTypeEditForm, 6, can_toggle=False
)
KINDS = (ENGAGEMENT, FIT, STAGES, EVENT_TYPES)


# --- Overview and settings -----------------------------------------------------------------------


@role_required(roles.WORK_CONTACTS)
@require_GET
def overview(request):
    return render(request, "scoring/overview.html", _overview_context())


@role_required(roles.EDIT_FUNNEL)
@require_http_methods(["GET", "POST"])
def settings_edit(request):
    """GET ``?edit=1``: the settings card as a form (the full page without HTMX); GET without it: the
    read-only card (Cancel). POST saves through ``rules.settings_update``."""
    fragment = wants_fragment(request)
    current = ScoringSettings.load()
    if request.method == "GET":
        if not fragment and request.GET.get("edit") != "1":
            return redirect(reverse("scoring:overview") + "#settings")
        form = ScoringSettingsForm(instance=current) if request.GET.get("edit") == "1" else None
        template = "scoring/_settings.html" if fragment else "scoring/overview.html"
        return vary_on_htmx(
            render(request, template, _overview_context(settings=current, settings_form=form))
        )

    # The form validates a copy: the service compares the stored values with the new ones.
    form = ScoringSettingsForm(request.POST, instance=copy.copy(current))
    if form.is_valid():
        rebuilding = _changes_scoring(current, form.cleaned_data)
        try:
            saved = rules.settings_update(by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        except ValueError as exc:
            form.add_error(None, _(str(exc)))
    if form.errors:
        context = _overview_context(settings=current, settings_form=form)
        if fragment:
            return render(request, "scoring/_settings.html", context)
        return render(request, "scoring/overview.html", context, status=400)

    text = _("Settings saved.") + (f" {REBUILD_MESSAGE}" if rebuilding else "")
    if not fragment:
        messages.success(request, text)
        return redirect(reverse("scoring:overview") + "#settings")
    context = _overview_context(settings=saved, saved_message=text, rebuild_notice=rebuilding)
    return render(request, "scoring/_settings.html", context)


@role_required(roles.WORK_CONTACTS)
@require_GET
def rebuild_progress(request):
    """The rebuild section alone: HTMX polls it every 2 s while a rebuild is pending or running."""
    if not wants_fragment(request):
        return redirect(reverse("scoring:overview") + "#rebuild")
    return vary_on_htmx(render(request, "scoring/_rebuild.html", rebuild_context()))


# --- Rule pages ----------------------------------------------------------------------------------


@role_required(roles.WORK_CONTACTS)
@require_GET
def rule_list(request, kind: Kind):
    return render(request, kind.template, _list_context(request, kind))


@role_required(roles.EDIT_FUNNEL)
@require_POST
def rule_add(request, kind: Kind):
    fragment = wants_fragment(request)
    form = kind.create_form(request.POST, prefix="add")
    item = None
    if form.is_valid():
        try:
            item = rules.rule_create(model=kind.model, by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        except ValueError as exc:
            form.add_error(None, _(str(exc)))
    if item is None:
        if fragment:
            response = render(request, "scoring/_add_form.html", {"kind": kind, "add_form": form})
            return reswap(retarget(response, f"#{kind.slug}-add"), "outerHTML")
        return render(request, kind.template, _list_context(request, kind, add_form=form), status=400)

    rebuilding = bool(rules.SCORING_FIELDS[kind.model])
    text = _("“%(name)s” added.") % {"name": kind.label(item)}
    if rebuilding:
        text += f" {REBUILD_MESSAGE}"
    if not fragment:
        messages.success(request, text)
        return redirect(_row_anchor(kind, item))
    item = get_object_or_404(kind.queryset(), pk=item.pk)  # with the list's joins and counts
    return render_row(
        request,
        kind,
        item,
        saved_message=text,
        is_new=True,
        add_form=kind.create_form(prefix="add"),
        rebuild_notice=rebuilding,
    )


@role_required(roles.WORK_CONTACTS)
@require_GET
def rule_row(request, kind: Kind, pk: int):
    """The read-only row: what Esc and Cancel swap back in."""
    item = get_object_or_404(kind.queryset(), pk=pk)
    if not wants_fragment(request):
        return redirect(_row_anchor(kind, item))
    return vary_on_htmx(render_row(request, kind, item))


@role_required(roles.EDIT_FUNNEL)
@require_http_methods(["GET", "POST"])
def rule_edit(request, kind: Kind, pk: int):
    """GET: the row as a form. POST: save it through ``rules.rule_update``."""
    fragment = wants_fragment(request)
    item = get_object_or_404(kind.queryset(), pk=pk)
    form_id = _form_id(kind, item)
    if request.method == "GET":
        form = kind.edit_form(instance=copy.copy(item), prefix=_prefix(kind, item), form_id=form_id)
        if fragment:
            return vary_on_htmx(render_row(request, kind, item, form=form))
        return render(request, kind.template, _list_context(request, kind, editing=item, form=form))

    # The form validates a copy, so that the service still sees the stored values and knows what changed.
    form = kind.edit_form(request.POST, instance=copy.copy(item), prefix=_prefix(kind, item), form_id=form_id)
    if form.is_valid():
        rebuilding = _changes_scoring(item, form.cleaned_data)
        try:
            rules.rule_update(instance=item, by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        except ValueError as exc:
            form.add_error(None, _(str(exc)))
    if form.errors:
        item = get_object_or_404(kind.queryset(), pk=pk)  # the stored values, not the rejected ones
        if fragment:
            # 200, because HTMX does not swap error responses and the errors must be shown.
            return render_row(request, kind, item, form=form)
        return render(
            request, kind.template, _list_context(request, kind, editing=item, form=form), status=400
        )

    text = _("Saved.") + (f" {REBUILD_MESSAGE}" if rebuilding else "")
    if not fragment:
        messages.success(request, text)
        return redirect(_row_anchor(kind, item))
    item = get_object_or_404(kind.queryset(), pk=pk)
    return render_row(request, kind, item, saved_message=text, rebuild_notice=rebuilding)


@role_required(roles.EDIT_FUNNEL)
@require_POST
def rule_toggle(request, kind: Kind, pk: int):
    item = get_object_or_404(kind.queryset(), pk=pk)
    rebuilding = _changes_scoring(item, {"active": not item.active})
    rules.rule_update(instance=item, by=request.user, active=not item.active)
    text = (_("Activated.") if item.active else _("Deactivated.")) + (
        f" {REBUILD_MESSAGE}" if rebuilding else ""
    )
    if not wants_fragment(request):
        messages.success(request, f"“{kind.label(item)}”: {text}")
        return redirect(_row_anchor(kind, item))
    return render_row(request, kind, item, saved_message=text, rebuild_notice=rebuilding)


@role_required(roles.EDIT_FUNNEL)
@require_http_methods(["GET", "POST"])
def rule_delete(request, kind: Kind, pk: int):
    """GET asks for confirmation (without JavaScript; HTMX asks with ``hx-confirm``); POST deletes."""
    fragment = wants_fragment(request)
    item = get_object_or_404(kind.queryset(), pk=pk)
    context = {"kind": kind, "item": item, **_nav_context()}
    if request.method == "GET":
        return render(request, "scoring/confirm_delete.html", context)
    name = kind.label(item)
    try:
        rules.rule_delete(instance=item, by=request.user)
    except ValueError as exc:
        error = _(str(exc))
        if fragment:
            return render_row(request, kind, item, error=error)
        return render(request, "scoring/confirm_delete.html", {**context, "error": error}, status=400)

    rebuilding = bool(rules.SCORING_FIELDS[kind.model])
    text = _("“%(name)s” deleted.") % {"name": name} + (f" {REBUILD_MESSAGE}" if rebuilding else "")
    if not fragment:
        messages.success(request, text)
        return redirect(kind.url("list"))
    # An empty main answer removes the row (outerHTML); the notice comes along out of band.
    return render(
        request,
        "scoring/_deleted.html",
        {"kind": kind, "deleted_message": text, "rebuild_notice": rebuilding, **rebuild_context()},
    )


# --- Rendering -----------------------------------------------------------------------------------


def render_row(request, kind: Kind, item, *, form=None, **extra) -> HttpResponse:
    context = {
        "kind": kind,
        "item": item,
        "editing_id": item.pk if form is not None else None,
        "form": form,
        **kind.extra,
        **extra,
    }
    if extra.get("rebuild_notice"):
        context.update(rebuild_context())
    return render(request, kind.row_template, context)


def rebuild_context() -> dict:
    """The latest rebuild job and what the template needs to show it (None: none has run)."""
    job = rebuild.rebuild_status()
    if job is None:
        return {"rebuild_job": None}
    active = job.status in REBUILD_ACTIVE
    return {
        "rebuild_job": job,
        "rebuild_active": active,
        "rebuild_failed": job.status == "failed" or bool(getattr(job, "error", "")),
    }


def _list_context(request, kind: Kind, *, editing=None, form=None, add_form=None) -> dict:
    can_edit = roles.has_any(request.user, roles.EDIT_FUNNEL)
    if can_edit and kind.create_form is not None and add_form is None:
        add_form = kind.create_form(prefix="add")
    return {
        "kind": kind,
        "items": list(kind.queryset()),
        "editing_id": editing.pk if editing is not None else None,
        "form": form,
        "add_form": add_form if can_edit else None,
        **kind.extra,
        **_nav_context(),
        **rebuild_context(),
    }


def _overview_context(**extra) -> dict:
    settings = extra.pop("settings", None) or ScoringSettings.load()
    counts = {
        "engagement_count": EngagementRule.objects.filter(active=True).count(),
        "fit_count": FitRule.objects.filter(active=True).count(),
        "stage_count": StageRule.objects.filter(active=True).count(),
        "event_type_count": EventType.objects.count(),
    }
    return {"settings": settings, **counts, **_nav_context(), **rebuild_context(), **extra}


def _nav_context() -> dict:
    return {"scoring_pages": SCORING_PAGES}


def _changes_scoring(instance, fields: dict) -> bool:
    """Whether saving ``fields`` on ``instance`` makes the service ask for a rebuild (same rule as
    ``scoring.rules``: a changed value in one of the model's scoring fields)."""
    watched = rules.SCORING_FIELDS.get(type(instance), set())
    return any(getattr(instance, name) != value for name, value in fields.items() if name in watched)


def _form_id(kind: Kind, item) -> str:
    return f"{kind.slug}-{item.pk}-form"


def _prefix(kind: Kind, item) -> str:
    return f"{kind.slug}-{item.pk}"


def _row_anchor(kind: Kind, item) -> str:
    return f"{reverse(kind.url('list'))}#{kind.slug}-{item.pk}"


SCORING_PAGES = [
    ("scoring:overview", gettext_lazy("Overview")),
    ("scoring:engagement-list", gettext_lazy("Engagement rules")),
    ("scoring:fit-list", gettext_lazy("Fit rules")),
    ("scoring:stages-list", gettext_lazy("Stage rules")),
    ("scoring:event-types-list", gettext_lazy("Event types")),
    ("scoring:calibration", gettext_lazy("Calibration")),
]


def kind_urls(kind: Kind) -> list:
    """The URLs of one rule page: ``<slug>/``, ``<slug>/<pk>/``, ``<slug>/<pk>/edit/`` and, where the
    kind offers them, ``add/``, ``toggle/`` and ``delete/``."""
    prefix = kind.slug
    patterns = [
        path(f"{prefix}/", rule_list, {"kind": kind}, name=f"{kind.slug}-list"),
        path(f"{prefix}/<int:pk>/", rule_row, {"kind": kind}, name=f"{kind.slug}-row"),
        path(f"{prefix}/<int:pk>/edit/", rule_edit, {"kind": kind}, name=f"{kind.slug}-edit"),
    ]
    if kind.create_form is not None:
        patterns.append(path(f"{prefix}/add/", rule_add, {"kind": kind}, name=f"{kind.slug}-add"))
    if kind.can_toggle:
        patterns.append(
            path(f"{prefix}/<int:pk>/toggle/", rule_toggle, {"kind": kind}, name=f"{kind.slug}-toggle")
        )
    if kind.can_delete:
        patterns.append(
            path(f"{prefix}/<int:pk>/delete/", rule_delete, {"kind": kind}, name=f"{kind.slug}-delete")
        )
    return patterns
