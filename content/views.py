"""The content pages: the content map (hourglass phases × personas, gaps highlighted), the content
list with what each block achieved, and personas. Everyone with a role reads; marketing and admin
(``roles.EDIT_FUNNEL``) edit. Writes go through ``content.services``."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from accounts import roles
from accounts.decorators import role_required
from config.web import add_service_errors, paginate
from content import selectors, services
from content.forms import ContentBlockForm, PersonaForm
from content.hourglass import Phase
from content.models import ContentBlock, Persona


@role_required(roles.WORK_CONTACTS)
@require_GET
def content_map(request):
    personas, rows = selectors.content_map()
    phase = request.GET.get("phase", "")
    phase = phase if phase in Phase.values else ""
    persona_id = request.GET.get("persona", "")
    persona_id = int(persona_id) if persona_id.isdigit() and len(persona_id) < 10 else None
    page = paginate(selectors.content_list(phase=phase, persona_id=persona_id), request.GET.get("page"))
    performance = selectors.content_performance([b.pk for b in page.items])
    for block in page.items:
        block.performance = performance.get(block.pk, {"events": 0, "contacts": 0, "moved": 0})
    context = {
        "personas": personas,
        "rows": rows,
        "page": page,
        "phases": Phase.choices,
        "phase": phase,
        "persona_id": persona_id,
        "can_edit": roles.has_any(request.user, roles.EDIT_FUNNEL),
    }
    return render(request, "content/map.html", context)


def _save(request, form, save, success: str, target: str):
    if request.method == "POST" and form.is_valid():
        try:
            item = save(form)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, success % {"name": item})
            return redirect(target)
    return None


@role_required(roles.EDIT_FUNNEL)
@require_http_methods(["GET", "POST"])
def block_edit(request, pk: int | None = None):
    block = get_object_or_404(ContentBlock, pk=pk) if pk else None
    form = ContentBlockForm(request.POST or None, instance=block)
    done = _save(
        request,
        form,
        lambda f: services.content_save(block=block, **f.service_kwargs()),
        _("Content “%(name)s” saved."),
        "content:map",
    )
    if done:
        return done
    status = 400 if request.method == "POST" else 200
    return render(request, "content/form.html", {"form": form, "item": block, "kind": "block"}, status=status)


@role_required(roles.EDIT_FUNNEL)
@require_http_methods(["GET", "POST"])
def block_delete(request, pk: int):
    block = get_object_or_404(ContentBlock, pk=pk)
    if request.method == "POST":
        services.content_delete(block=block)
        messages.success(request, _("Content “%(name)s” deleted.") % {"name": block})
        return redirect("content:map")
    return render(request, "content/confirm_delete.html", {"item": block, "cancel": "content:map"})


@role_required(roles.WORK_CONTACTS)
@require_GET
def persona_list(request):
    personas = Persona.objects.order_by("name")
    context = {"personas": personas, "can_edit": roles.has_any(request.user, roles.EDIT_FUNNEL)}
    return render(request, "content/persona_list.html", context)


@role_required(roles.EDIT_FUNNEL)
@require_http_methods(["GET", "POST"])
def persona_edit(request, pk: int | None = None):
    persona = get_object_or_404(Persona, pk=pk) if pk else None
    form = PersonaForm(request.POST or None, instance=persona)
    done = _save(
        request,
        form,
        lambda f: services.persona_save(persona=persona, **f.cleaned_data),
        _("Persona “%(name)s” saved."),
        "content:persona-list",
    )
    if done:
        return done
    status = 400 if request.method == "POST" else 200
    return render(
        request, "content/form.html", {"form": form, "item": persona, "kind": "persona"}, status=status
    )


@role_required(roles.EDIT_FUNNEL)
@require_http_methods(["GET", "POST"])
def persona_delete(request, pk: int):
    persona = get_object_or_404(Persona, pk=pk)
    if request.method == "POST":
        services.persona_delete(persona=persona)
        messages.success(request, _("Persona “%(name)s” deleted.") % {"name": persona})
        return redirect("content:persona-list")
    return render(request, "content/confirm_delete.html", {"item": persona, "cancel": "content:persona-list"})
