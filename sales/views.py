"""The sales workspace in the browser.

- **My day** (``/my-day/``): the user's overdue tasks, the tasks due later today (in the site's time
  zone) and unread notifications. Each task can be completed, snoozed (tomorrow 09:00, in an hour, in
  a week, or to a chosen time) and handed on to a sales user; HTMX swaps the whole ``#my-day`` part,
  since a snoozed or completed task leaves its section.
- **My tasks** (``/tasks/``): all of the user's open tasks, the most urgent first, with "done".
- **A contact's tasks**: the contact page's section (loaded by HTMX), with a small form for a new task.

A task is looked up among the user's own tasks (admins: among all), so another rep's task id is a 404
that reveals nothing; every change goes through ``sales.services``. Task actions answer with the
``notifications-changed`` HTMX event, so the bell in the top bar refreshes at once. Without
JavaScript the forms post and redirect back.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts import roles
from accounts.decorators import role_required
from config.web import add_service_errors, paginate, render_page, wants_fragment
from funnel.models import Contact
from sales import selectors, services
from sales.forms import ReassignForm, SnoozeForm, TaskForm
from sales.models import Task

PAGE_SIZE = 50
# Sent with every answer to a task action (see notifications.views.CHANGED_EVENT).
CHANGED_EVENT = "notifications-changed"
MY_DAY, CONTACT, LIST = "my-day", "contact", "list"


# --- My day ---------------------------------------------------------------------------------------


@role_required(roles.WORK_CONTACTS)
@require_GET
def my_day(request):
    return render_page(request, "sales/my_day.html", "sales/_my_day.html", _my_day_context(request))


# --- My tasks -------------------------------------------------------------------------------------


@role_required(roles.WORK_CONTACTS)
@require_GET
def task_list(request):
    page = paginate(selectors.open_tasks(user=request.user), request.GET.get("page"), page_size=PAGE_SIZE)
    context = {"page": page, "page_query": QueryDict(), "now": timezone.now()}
    return render_page(request, "sales/task_list.html", "sales/_task_results.html", context)


# --- Task actions ---------------------------------------------------------------------------------


@role_required(roles.WORK_CONTACTS)
@require_POST
def task_done(request, pk: int):
    task = _task_or_404(request, pk)
    services.task_complete(task=task, by=request.user)
    text = _("Task “%(title)s” done.") % {"title": task.title}
    return _answer(request, task, origin=_origin(request, LIST), message=text)


@role_required(roles.WORK_CONTACTS)
@require_POST
def task_snooze(request, pk: int):
    task = _task_or_404(request, pk)
    form = SnoozeForm(request.POST)
    if form.is_valid():
        try:
            task = services.task_snooze(task=task, until=form.until_from(timezone.now()), by=request.user)
        except ValidationError as exc:
            add_service_errors(form, exc)
    if form.errors:
        return _answer(request, task, origin=_origin(request, MY_DAY), error=_form_error(task, form))
    text = _("Task “%(title)s” snoozed until %(until)s.") % {
        "title": task.title,
        "until": timezone.localtime(task.due_at).strftime("%Y-%m-%d %H:%M"),
    }
    return _answer(request, task, origin=_origin(request, MY_DAY), message=text)


@role_required(roles.WORK_CONTACTS)
@require_POST
def task_reassign(request, pk: int):
    task = _task_or_404(request, pk)
    form = ReassignForm(request.POST)
    if form.is_valid():
        try:
            task = services.task_reassign(task=task, owner=form.cleaned_data["owner"], by=request.user)
        except ValidationError as exc:
            add_service_errors(form, exc)
    if form.errors:
        return _answer(request, task, origin=_origin(request, MY_DAY), error=_form_error(task, form))
    owner = form.cleaned_data["owner"]
    text = _("Task “%(title)s” given to %(user)s.") % {
        "title": task.title,
        "user": owner.get_full_name() or owner.get_username(),
    }
    return _answer(request, task, origin=_origin(request, MY_DAY), message=text)


# --- A contact's tasks ----------------------------------------------------------------------------


@role_required(roles.WORK_CONTACTS)
@require_GET
def contact_tasks(request, pk: int):
    """The contact page's task section (loaded by HTMX); without HTMX a small page of its own."""
    contact = _contact_or_404(pk)
    context = _contact_context(request, contact, form=TaskForm())
    return render_page(request, "sales/contact_tasks.html", "sales/_contact_tasks.html", context)


@role_required(roles.WORK_CONTACTS)
@require_POST
def contact_task_create(request, pk: int):
    contact = _contact_or_404(pk)
    form = TaskForm(request.POST)
    task = None
    if form.is_valid():
        try:
            task = services.task_create(contact=contact, by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
    if task is None:
        context = _contact_context(request, contact, form=form)
        if wants_fragment(request):
            return render(request, "sales/_contact_tasks.html", context)
        return render(request, "sales/contact_tasks.html", context, status=400)
    text = _("Task “%(title)s” added.") % {"title": task.title}
    if not wants_fragment(request):
        messages.success(request, text)
        return redirect(reverse("funnel:contact-detail", args=[contact.pk]) + "#contact-tasks")
    context = _contact_context(request, contact, form=TaskForm(), message=text)
    return _changed(render(request, "sales/_contact_tasks.html", context))


# --- Helpers --------------------------------------------------------------------------------------


def _task_or_404(request, pk: int) -> Task:
    tasks = Task.objects.select_related("contact", "owner")
    if not roles.has_any(request.user, roles.MANAGE_USERS):
        tasks = tasks.filter(owner=request.user)
    return get_object_or_404(tasks, pk=pk)


def _contact_or_404(pk: int) -> Contact:
    return get_object_or_404(Contact.objects.only("pk", "first_name", "last_name", "email"), pk=pk)


def _origin(request, default: str) -> str:
    origin = request.POST.get("from", "")
    return origin if origin in (MY_DAY, CONTACT, LIST) else default


def _answer(request, task: Task, *, origin: str, message: str = "", error: str = ""):
    """After a task action: the part of the page the form was on (HTMX), or a redirect back to it.
    Refused input is a 400 page without HTMX; with HTMX (which swaps only 2xx answers) the part comes
    back with the error in it."""
    if not wants_fragment(request):
        if error and origin == MY_DAY:
            return render(request, "sales/my_day.html", _my_day_context(request, error=error), status=400)
        if error:
            messages.error(request, error)
        else:
            messages.success(request, message)
        return redirect(_back_to(request, task, origin))
    if origin == MY_DAY:
        response = render(
            request, "sales/_my_day.html", _my_day_context(request, message=message, error=error)
        )
    elif origin == CONTACT:
        context = _contact_context(request, task.contact, form=TaskForm(), message=message, error=error)
        response = render(request, "sales/_contact_tasks.html", context)
    else:
        task.refresh_from_db(fields=["done_at", "due_at", "owner"])
        context = {"task": task, "now": timezone.now(), "page": None}
        response = render(request, "sales/_task_row.html", context)
    return _changed(response)


def _changed(response):
    response["HX-Trigger"] = CHANGED_EVENT
    return response


def _back_to(request, task: Task, origin: str) -> str:
    if origin == MY_DAY:
        return reverse("sales:my-day")
    if origin == CONTACT:
        return reverse("funnel:contact-detail", args=[task.contact_id]) + "#contact-tasks"
    # The page of the list the form was on (only a page number is taken over from the POST).
    url = reverse("sales:task-list")
    page = request.POST.get("page", "")
    if page.isdigit() and len(page) <= 7 and int(page) > 1:
        return f"{url}?page={int(page)}"
    return url


def _form_error(task: Task, form) -> str:
    texts = [text for errors in form.errors.values() for text in errors]
    return _("“%(title)s”: %(errors)s") % {"title": task.title, "errors": " ".join(texts)}


def _my_day_context(request, **extra) -> dict:
    now = timezone.now()
    day = selectors.my_day(user=request.user, now=now)
    has_tasks = bool(day.overdue.items or day.today.items)
    context = {
        "day": day,
        "now": now,
        "snooze_presets": [(key, label) for key, (label, _at) in SnoozeForm.PRESETS.items()],
        # One query for every row's "give to" list (none when there is no task to give).
        "assignees": list(selectors.sales_users()) if has_tasks else [],
    }
    context.update(extra)
    return context


def _contact_context(request, contact: Contact, **extra) -> dict:
    rows = list(selectors.contact_open_tasks(contact_id=contact.pk)[: selectors.CONTACT_TASKS_LIMIT + 1])
    is_admin = roles.has_any(request.user, roles.MANAGE_USERS)
    context = {
        "contact": contact,
        "tasks": rows[: selectors.CONTACT_TASKS_LIMIT],
        "more_tasks": len(rows) > selectors.CONTACT_TASKS_LIMIT,
        "changeable_ids": {t.pk for t in rows if is_admin or t.owner_id == request.user.pk},
        "now": timezone.now(),
    }
    context.update(extra)
    return context
