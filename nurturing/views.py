"""The nurturing pages: sequences (list, settings, the step editor, activation, manual enrollment),
email templates (with a preview for a chosen contact), the fast-lane settings, and the contact page's
nurture section.

Everyone who works with contacts reads sequences and a contact's enrollments; marketing and admin
(``roles.EDIT_SEQUENCES``) change them. Every write goes through ``nurturing.services``; its
``ValidationError`` is shown on the form, next to the field it names.

The sequence page is one template whose sections are the HTMX fragments: ``#sequence-status``
(activation), ``#steps`` (the editor: a step's row turns into its form in place; adding, moving and
deleting answer with the whole section, since positions shift), ``#enroll`` and ``#enrollments``.
Plain requests get the full page or a redirect, so the controls also work without JavaScript.
"""

from __future__ import annotations

import copy

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import reswap, retarget

from accounts import roles
from accounts.decorators import role_required
from config.web import add_service_errors, paginate, render_page, vary_on_htmx, wants_fragment
from funnel.models import Contact, Tag
from nurturing import selectors, services
from nurturing.emails import PLACEHOLDERS, compose
from nurturing.forms import (
    ContactPickForm,
    EnrollFilterForm,
    NurtureSettingsForm,
    SequenceForm,
    StepForm,
    StepKindForm,
    StepMoveForm,
    TemplateForm,
    contact_ref,
    contact_suggestions,
)
from nurturing.models import EmailTemplate, Enrollment, NurtureSettings, Sequence, Step

ENROLLMENTS_PAGE_SIZE = 25
TAG_SUGGESTIONS = 200
PREVIEW_KEY = "preview"

NURTURING_PAGES = [
    ("nurturing:sequence-list", gettext_lazy("Sequences"), roles.WORK_CONTACTS),
    ("nurturing:template-list", gettext_lazy("Email templates"), roles.EDIT_SEQUENCES),
    ("nurturing:settings", gettext_lazy("Fast lane"), roles.EDIT_SEQUENCES),
]


# --- Sequences -----------------------------------------------------------------------------------


@role_required(roles.WORK_CONTACTS)
@require_GET
def sequence_list(request):
    context = {"sequences": selectors.sequence_list(), **_base_context(request)}
    return render(request, "nurturing/sequence_list.html", context)


@role_required(roles.EDIT_SEQUENCES)
@require_http_methods(["GET", "POST"])
def sequence_create(request):
    form = SequenceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            sequence = services.sequence_save(by=request.user, **form.service_kwargs())
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(
                request, _("Sequence “%(name)s” created. Now add its steps.") % {"name": sequence}
            )
            return redirect("nurturing:sequence-detail", pk=sequence.pk)
    status = 400 if request.method == "POST" else 200
    context = {"form": form, "sequence": None, "tag_options": _tag_options(), **_base_context(request)}
    return render(request, "nurturing/sequence_form.html", context, status=status)


@role_required(roles.EDIT_SEQUENCES)
@require_http_methods(["GET", "POST"])
def sequence_edit(request, pk: int):
    sequence = get_object_or_404(selectors.sequence_queryset(), pk=pk)
    # The form validates a copy: the stored sequence stays as it is when the service refuses.
    form = SequenceForm(request.POST or None, instance=copy.copy(sequence))
    if request.method == "POST" and form.is_valid():
        try:
            services.sequence_save(sequence=sequence, by=request.user, **form.service_kwargs())
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Settings of “%(name)s” saved.") % {"name": sequence})
            return redirect("nurturing:sequence-detail", pk=sequence.pk)
        sequence = get_object_or_404(selectors.sequence_queryset(), pk=pk)
    status = 400 if request.method == "POST" else 200
    context = {"form": form, "sequence": sequence, "tag_options": _tag_options(), **_base_context(request)}
    return render(request, "nurturing/sequence_form.html", context, status=status)


@role_required(roles.WORK_CONTACTS)
@require_GET
def sequence_detail(request, pk: int):
    """The sequence page. HTMX requests for it (the enrollment list's filter and pages) get only the
    ``#enrollments`` section."""
    sequence = get_object_or_404(selectors.sequence_queryset(), pk=pk)
    if wants_fragment(request):
        return vary_on_htmx(
            render(request, "nurturing/_enrollments.html", _enrollments_context(request, sequence))
        )
    return vary_on_htmx(render(request, "nurturing/sequence_detail.html", _detail_context(request, sequence)))


@role_required(roles.EDIT_SEQUENCES)
@require_POST
def sequence_activate(request, pk: int):
    return _switch(request, pk, activate=True)


@role_required(roles.EDIT_SEQUENCES)
@require_POST
def sequence_deactivate(request, pk: int):
    return _switch(request, pk, activate=False)


def _switch(request, pk: int, *, activate: bool):
    sequence = get_object_or_404(Sequence, pk=pk)
    problems: list[str] = []
    try:
        if activate:
            sequence = services.sequence_activate(by=request.user, sequence=sequence)
            text = _("The sequence is active: its trigger enrolls contacts and their steps run.")
        else:
            sequence = services.sequence_deactivate(by=request.user, sequence=sequence)
            text = _("The sequence is paused: no new entries, and its contacts wait where they are.")
    except ValidationError as exc:
        problems = exc.messages
        text = ""
    if not wants_fragment(request):
        if problems:
            messages.error(
                request,
                _("The sequence cannot be activated: %(problems)s") % {"problems": " ".join(problems)},
            )
        else:
            messages.success(request, text)
        return redirect("nurturing:sequence-detail", pk=sequence.pk)
    context = {
        "sequence": sequence,
        "refused_problems": problems,
        "status_message": text,
        **_base_context(request),
    }
    return render(request, "nurturing/_sequence_status.html", context)


@role_required(roles.EDIT_SEQUENCES)
@require_http_methods(["GET", "POST"])
def sequence_delete(request, pk: int):
    """GET asks for confirmation; POST deletes (refused while active or while contacts are in it)."""
    sequence = get_object_or_404(Sequence, pk=pk)
    context = {"sequence": sequence, **_base_context(request)}
    if request.method == "GET":
        return render(request, "nurturing/sequence_confirm_delete.html", context)
    name = sequence.name
    try:
        services.sequence_delete(by=request.user, sequence=sequence)
    except ValidationError as exc:
        context["error"] = " ".join(exc.messages)
        return render(request, "nurturing/sequence_confirm_delete.html", context, status=400)
    messages.success(request, _("Sequence “%(name)s” deleted.") % {"name": name})
    return redirect("nurturing:sequence-list")


# --- Steps ---------------------------------------------------------------------------------------


@role_required(roles.EDIT_SEQUENCES)
@require_http_methods(["GET", "POST"])
def step_add(request, pk: int):
    """GET ``?kind=…``: the form for a new step of that kind (without a kind: the kind chooser).
    POST: append the step through ``services.step_save``."""
    fragment = wants_fragment(request)
    sequence = get_object_or_404(selectors.sequence_queryset(), pk=pk)
    params = request.POST if request.method == "POST" else request.GET
    kind_form = StepKindForm(params if "kind" in params else None)
    if not kind_form.is_bound or not kind_form.is_valid():
        status = 400 if kind_form.is_bound else 200
        context = {"sequence": sequence, "kind_form": kind_form, "add_form": None, **_base_context(request)}
        if fragment:
            return render(request, "nurturing/_step_add.html", context)
        context = _detail_context(request, sequence, kind_form=kind_form)
        return render(request, "nurturing/sequence_detail.html", context, status=status)

    kind = kind_form.cleaned_data["kind"]
    if request.method == "GET":
        form = StepForm(kind=kind, sequence=sequence, prefix="add")
        if fragment:
            context = {
                "sequence": sequence,
                "kind_form": kind_form,
                "add_form": form,
                **_base_context(request),
            }
            return vary_on_htmx(render(request, "nurturing/_step_add.html", context))
        context = _detail_context(request, sequence, kind_form=kind_form, add_form=form)
        return render(request, "nurturing/sequence_detail.html", context)

    form = StepForm(request.POST, kind=kind, sequence=sequence, prefix="add")
    step = None
    if form.is_valid():
        try:
            step = services.step_save(by=request.user, sequence=sequence, kind=kind, **form.service_kwargs())
        except ValidationError as exc:
            add_service_errors(form, exc)
    if step is None:
        if fragment:
            context = {
                "sequence": sequence,
                "kind_form": kind_form,
                "add_form": form,
                **_base_context(request),
            }
            response = render(request, "nurturing/_step_add.html", context)
            return reswap(retarget(response, "#step-add"), "outerHTML")
        context = _detail_context(request, sequence, kind_form=kind_form, add_form=form)
        return render(request, "nurturing/sequence_detail.html", context, status=400)

    text = _("Step %(n)s added.") % {"n": step.position}
    if not fragment:
        messages.success(request, text)
        return redirect(_step_anchor(step))
    return _render_steps(request, sequence, steps_message=text, new_id=step.pk)


@role_required(roles.WORK_CONTACTS)
@require_GET
def step_row(request, pk: int):
    """The read-only row of a step: what Cancel and Esc swap back in."""
    step = get_object_or_404(Step.objects.select_related("sequence"), pk=pk)
    if not wants_fragment(request):
        return redirect(_step_anchor(step))
    return vary_on_htmx(_render_row(request, step))


@role_required(roles.EDIT_SEQUENCES)
@require_http_methods(["GET", "POST"])
def step_edit(request, pk: int):
    """GET: the step's row as its form. POST: save it through ``services.step_save``."""
    fragment = wants_fragment(request)
    step = get_object_or_404(Step.objects.select_related("sequence", "tag"), pk=pk)
    sequence = step.sequence
    if request.method == "GET":
        form = StepForm(kind=step.kind, sequence=sequence, step=step, prefix=f"step-{step.pk}")
        if fragment:
            return vary_on_htmx(_render_row(request, step, form=form))
        context = _detail_context(request, sequence, editing_id=step.pk, edit_form=form)
        return render(request, "nurturing/sequence_detail.html", context)

    form = StepForm(request.POST, kind=step.kind, sequence=sequence, step=step, prefix=f"step-{step.pk}")
    saved = None
    if form.is_valid():
        try:
            saved = services.step_save(
                by=request.user, sequence=sequence, step=copy.copy(step), **form.service_kwargs()
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
    if saved is None:
        if fragment:
            response = _render_row(request, step, form=form)
            return reswap(retarget(response, f"#step-{step.pk}"), "outerHTML")
        context = _detail_context(request, sequence, editing_id=step.pk, edit_form=form)
        return render(request, "nurturing/sequence_detail.html", context, status=400)

    text = _("Step %(n)s saved.") % {"n": saved.position}
    if not fragment:
        messages.success(request, text)
        return redirect(_step_anchor(saved))
    return _render_steps(request, sequence, steps_message=text, new_id=saved.pk)


@role_required(roles.EDIT_SEQUENCES)
@require_POST
def step_move(request, pk: int):
    """Move a step to ``position`` (the up and down buttons send the neighbour's position)."""
    step = get_object_or_404(Step.objects.select_related("sequence"), pk=pk)
    sequence = step.sequence
    form = StepMoveForm(request.POST)
    error = text = ""
    if not form.is_valid():
        error = _("Choose a position to move the step to.")
    else:
        try:
            moved = services.step_move(by=request.user, step=step, position=form.cleaned_data["position"])
        except ValidationError as exc:
            error = " ".join(exc.messages)
        else:
            text = _("Step moved to position %(n)s.") % {"n": moved.position}
    if not wants_fragment(request):
        if error:
            messages.error(request, error)
        else:
            messages.success(request, text)
        return redirect(_step_anchor(step))
    return _render_steps(request, sequence, steps_message=text, steps_error=error, new_id=step.pk)


@role_required(roles.EDIT_SEQUENCES)
@require_http_methods(["GET", "POST"])
def step_delete(request, pk: int):
    """GET asks for confirmation (HTMX asks with ``hx-confirm``); POST deletes."""
    step = get_object_or_404(Step.objects.select_related("sequence", "template"), pk=pk)
    sequence = step.sequence
    context = {"step": step, "sequence": sequence, **_base_context(request)}
    if request.method == "GET":
        return render(request, "nurturing/step_confirm_delete.html", context)
    position = step.position
    try:
        services.step_delete(by=request.user, step=step)
    except ValidationError as exc:
        error = " ".join(exc.messages)
        if wants_fragment(request):
            return _render_steps(request, sequence, steps_error=error)
        return render(request, "nurturing/step_confirm_delete.html", {**context, "error": error}, status=400)
    text = _("Step %(n)s deleted.") % {"n": position}
    if not wants_fragment(request):
        messages.success(request, text)
        return redirect(reverse("nurturing:sequence-detail", args=[sequence.pk]) + "#steps")
    return _render_steps(request, sequence, steps_message=text)


# --- Enrollment ----------------------------------------------------------------------------------


@role_required(roles.EDIT_SEQUENCES)
@require_POST
def sequence_enroll(request, pk: int):
    """Enroll one contact (picked by id, email or a suggestion)."""
    sequence = get_object_or_404(Sequence, pk=pk)
    form = ContactPickForm(request.POST, prefix="enroll")
    result = None
    if form.is_valid():
        contact = form.cleaned_data["contact"]
        try:
            result = services.enroll(
                sequence=sequence, contact_ids=[contact.pk], by=request.user, manual=True
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
    return _enroll_answer(request, sequence, result, enroll_form=form)


@role_required(roles.EDIT_SEQUENCES)
@require_POST
def sequence_enroll_filtered(request, pk: int):
    """Enroll every contact the contact list's filters match (bounded by the service)."""
    sequence = get_object_or_404(Sequence, pk=pk)
    form = EnrollFilterForm(request.POST, prefix="filter")
    result = None
    if form.is_valid():
        try:
            result = services.enroll_filtered(sequence=sequence, by=request.user, **form.filters())
        except ValidationError as exc:
            add_service_errors(form, exc)
    return _enroll_answer(request, sequence, result, filter_form=form)


def _enroll_answer(request, sequence: Sequence, result, **forms):
    failed = any(form.errors for form in forms.values())
    if not wants_fragment(request):
        if failed:
            context = _detail_context(request, sequence, **forms)
            return render(request, "nurturing/sequence_detail.html", context, status=400)
        messages.success(request, _enroll_summary(result))
        return redirect(reverse("nurturing:sequence-detail", args=[sequence.pk]) + "#enroll")
    context = {
        "sequence": sequence,
        "enroll_result": result,
        **_enroll_forms(**forms),
        **_base_context(request),
    }
    if result is not None and result.enrolled:
        context["enrollments_oob"] = True
        context.update(_enrollments_context(request, sequence, page_param=None, state_param=""))
    return render(request, "nurturing/_enroll.html", context)


@role_required(roles.EDIT_SEQUENCES)
@require_POST
def enrollment_exit(request, pk: int):
    """End one enrollment by hand. ``from=contact`` answers with the contact's nurture section,
    otherwise with the enrollment's row of the sequence page."""
    enrollment = get_object_or_404(Enrollment.objects.select_related("sequence", "contact", "step"), pk=pk)
    on_contact = request.POST.get("from") == "contact" and enrollment.contact_id is not None
    error = text = ""
    try:
        enrollment = services.enrollment_exit(enrollment=enrollment)
    except ValidationError as exc:
        error = " ".join(exc.messages)
    else:
        text = _("Enrollment in “%(sequence)s” ended.") % {"sequence": enrollment.sequence.name}
    if not wants_fragment(request):
        if error:
            messages.error(request, error)
        else:
            messages.success(request, text)
        if on_contact:
            return redirect(
                reverse("funnel:contact-detail", args=[enrollment.contact_id]) + "#contact-nurture"
            )
        return redirect(reverse("nurturing:sequence-detail", args=[enrollment.sequence_id]) + "#enrollments")
    if on_contact:
        context = _contact_nurture_context(request, enrollment.contact_id, message=text, error=error)
        return render(request, "nurturing/_contact_enrollments.html", context)
    enrollment = get_object_or_404(Enrollment.objects.select_related("sequence", "contact", "step"), pk=pk)
    context = {"enrollment": enrollment, "row_message": text, "row_error": error, **_base_context(request)}
    return render(request, "nurturing/_enrollment_row.html", context)


@role_required(roles.WORK_CONTACTS)
@require_GET
def contact_enrollments(request, pk: int):
    """The contact page's nurture section (loaded by HTMX); without HTMX a small page of its own."""
    contact = get_object_or_404(Contact.objects.only("pk", "first_name", "last_name", "email"), pk=pk)
    context = _contact_nurture_context(request, contact.pk)
    context["contact"] = contact
    return render_page(
        request, "nurturing/contact_enrollments.html", "nurturing/_contact_enrollments.html", context
    )


@role_required(roles.EDIT_SEQUENCES)
@require_GET
def contact_options(request):
    """``<option>``s for a contact input's datalist: the input's own name or ``q`` is the text."""
    text = next(
        (value for key, value in request.GET.items() if key in ("q", "contact") or key.endswith("-contact")),
        "",
    )
    contacts = contact_suggestions(text) if text.strip() else []
    options = [(contact_ref(c), c.email or "") for c in contacts]
    return render(request, "nurturing/_contact_options.html", {"options": options})


# --- Email templates -----------------------------------------------------------------------------


@role_required(roles.EDIT_SEQUENCES)
@require_GET
def template_list(request):
    context = {"templates": list(selectors.template_list()), **_base_context(request)}
    return render(request, "nurturing/template_list.html", context)


@role_required(roles.EDIT_SEQUENCES)
@require_http_methods(["GET", "POST"])
def template_create(request):
    return _template_form(request, None)


@role_required(roles.EDIT_SEQUENCES)
@require_http_methods(["GET", "POST"])
def template_edit(request, pk: int):
    return _template_form(request, get_object_or_404(EmailTemplate, pk=pk))


def _template_form(request, template: EmailTemplate | None):
    form = TemplateForm(request.POST or None, instance=copy.copy(template) if template else None)
    if request.method == "POST" and form.is_valid():
        try:
            saved = services.template_save(template=template, **form.service_kwargs())
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Template “%(name)s” saved.") % {"name": saved.name})
            return redirect("nurturing:template-list")
    status = 400 if request.method == "POST" else 200
    context = {"form": form, "template": template, "placeholders": _placeholders(), **_base_context(request)}
    return render(request, "nurturing/template_form.html", context, status=status)


@role_required(roles.EDIT_SEQUENCES)
@require_http_methods(["GET", "POST"])
def template_delete(request, pk: int):
    """GET asks for confirmation; POST deletes, refused while a step sends the template. HTMX (from
    the list) gets an empty answer, which removes the row, or the row with the refusal."""
    fragment = wants_fragment(request)
    template = get_object_or_404(selectors.template_list(), pk=pk)
    context = {"template": template, **_base_context(request)}
    if request.method == "GET":
        return render(request, "nurturing/template_confirm_delete.html", context)
    name = template.name
    try:
        services.template_delete(template=template)
    except ValidationError as exc:
        error = " ".join(exc.messages)
        if fragment:
            return render(request, "nurturing/_template_row.html", {**context, "row_error": error})
        return render(
            request, "nurturing/template_confirm_delete.html", {**context, "error": error}, status=400
        )
    text = _("Template “%(name)s” deleted.") % {"name": name}
    if not fragment:
        messages.success(request, text)
        return redirect("nurturing:template-list")
    return render(request, "nurturing/_template_deleted.html", {"deleted_message": text})


@role_required(roles.EDIT_SEQUENCES)
@require_GET
def template_preview(request, pk: int):
    """The template as a chosen contact would get it (links not tracked). HTMX gets the result only."""
    template = get_object_or_404(EmailTemplate, pk=pk)
    form = ContactPickForm(request.GET if "contact" in request.GET else None)
    composed = contact = None
    if form.is_bound and form.is_valid():
        contact = form.cleaned_data["contact"]
        composed = compose(template, contact, key=PREVIEW_KEY, track=False)
    context = {
        "template": template,
        "form": form,
        "contact": contact,
        "composed": composed,
        **_base_context(request),
    }
    status = 400 if form.is_bound and form.errors and not wants_fragment(request) else 200
    return render_page(
        request, "nurturing/template_preview.html", "nurturing/_preview.html", context, status=status
    )


# --- Fast lane -----------------------------------------------------------------------------------


@role_required(roles.EDIT_SEQUENCES)
@require_http_methods(["GET", "POST"])
def nurture_settings(request):
    current = NurtureSettings.load()
    form = NurtureSettingsForm(request.POST or None, instance=copy.copy(current))
    if request.method == "POST" and form.is_valid():
        try:
            services.nurture_settings_update(**form.service_kwargs())
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Fast-lane settings saved."))
            return redirect("nurturing:settings")
    status = 400 if request.method == "POST" else 200
    return render(request, "nurturing/settings.html", {"form": form, **_base_context(request)}, status=status)


# --- Rendering -----------------------------------------------------------------------------------


def _base_context(request) -> dict:
    can_edit = roles.has_any(request.user, roles.EDIT_SEQUENCES)
    pages = [
        (name, label)
        for name, label, capability in NURTURING_PAGES
        if roles.has_any(request.user, capability)
    ]
    return {"can_edit": can_edit, "nurturing_pages": pages}


def _detail_context(request, sequence: Sequence, **extra) -> dict:
    """Everything the sequence page shows; ``extra`` opens forms (with their errors) in it."""
    context = _base_context(request)
    steps = selectors.sequence_steps(sequence=sequence)
    context.update(
        {
            "sequence": sequence,
            "steps": steps,
            "last_position": len(steps),
            "counts": selectors.sequence_counts(sequence_ids=[sequence.pk]).get(
                sequence.pk, selectors.SequenceCounts()
            ),
        }
    )
    if context["can_edit"]:
        context["problems"] = [] if sequence.active else services.sequence_problems(sequence)
        context["kind_form"] = StepKindForm()
        context.update(_enroll_forms())
        context["tag_options"] = _tag_options()
    context.update(_enrollments_context(request, sequence))
    context.update(extra)
    return context


def _enroll_forms(**forms) -> dict:
    return {
        "enroll_form": forms.get("enroll_form") or ContactPickForm(prefix="enroll"),
        "filter_form": forms.get("filter_form") or EnrollFilterForm(prefix="filter"),
    }


ENROLLMENT_STATES = tuple(Enrollment.State.values)


def _enrollments_context(request, sequence: Sequence, *, page_param="", state_param=None) -> dict:
    state = request.GET.get("state", "") if state_param is None else state_param
    if state not in ENROLLMENT_STATES:
        state = ""  # an unknown state is ignored, never an error
    page = paginate(
        selectors.sequence_enrollments(sequence=sequence, state=state),
        request.GET.get("page") if page_param == "" else page_param,
        page_size=ENROLLMENTS_PAGE_SIZE,
    )
    query = QueryDict(mutable=True)
    if state:
        query["state"] = state
    return {
        "sequence": sequence,
        "page": page,
        "page_query": query,
        "state": state,
        "states": Enrollment.State.choices,
        "can_edit": roles.has_any(request.user, roles.EDIT_SEQUENCES),
    }


def _render_steps(request, sequence: Sequence, **extra) -> HttpResponse:
    """The whole ``#steps`` section, with the activation status out of band (steps decide whether
    the sequence can run)."""
    sequence = Sequence.objects.select_related(
        "goal_stage", "trigger_stage", "trigger_event_type", "trigger_tag"
    ).get(pk=sequence.pk)
    context = _base_context(request)
    steps = selectors.sequence_steps(sequence=sequence)
    context.update(
        {
            "sequence": sequence,
            "steps": steps,
            "last_position": len(steps),
            "kind_form": StepKindForm(),
            "problems": [] if sequence.active else services.sequence_problems(sequence),
            "status_oob": True,
            **extra,
        }
    )
    return render(request, "nurturing/_steps.html", context)


def _render_row(request, step: Step, *, form=None) -> HttpResponse:
    steps = selectors.sequence_steps(sequence=step.sequence)
    step = next(s for s in steps if s.pk == step.pk)
    context = {
        "step": step,
        "last_position": len(steps),
        "sequence": step.sequence,
        "editing_id": step.pk if form is not None else None,
        "edit_form": form,
        **_base_context(request),
    }
    return render(request, "nurturing/_step_row.html", context)


def _contact_nurture_context(request, contact_id: int, **extra) -> dict:
    return {
        "contact_id": contact_id,
        "enrollments": selectors.contact_enrollments(contact_id=contact_id),
        **_base_context(request),
        **extra,
    }


def _enroll_summary(result) -> str:
    if result is None:
        return ""
    return _(
        "Enrolled: %(enrolled)s. Already in the sequence: %(already)s. Not again (re-entry rule): "
        "%(not_again)s. Not found: %(missing)s."
    ) % {
        "enrolled": len(result.enrolled),
        "already": len(result.already),
        "not_again": len(result.not_again),
        "missing": len(result.missing),
    }


def _tag_options() -> list[str]:
    return list(Tag.objects.order_by("name").values_list("name", flat=True)[:TAG_SUGGESTIONS])


def _placeholders() -> list[tuple[str, str]]:
    return [("{{ " + name + " }}", description) for name, description in PLACEHOLDERS.items()]


def _step_anchor(step: Step) -> str:
    return reverse("nurturing:sequence-detail", args=[step.sequence_id]) + f"#step-{step.pk}"
