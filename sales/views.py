"""The sales workspace: "My tasks", the logged-in user's open tasks, the most urgent first, each with a
"done" button (HTMX swaps the row; without JavaScript the form posts and the list comes back).

A task is looked up among the user's own tasks (admins: among all), so another rep's task id is a
404 that reveals nothing; completing goes through ``sales.services.task_complete``.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts import roles
from accounts.decorators import role_required
from config.web import paginate, render_page, wants_fragment
from sales import selectors, services
from sales.models import Task

PAGE_SIZE = 50


@role_required(roles.WORK_CONTACTS)
@require_GET
def task_list(request):
    page = paginate(selectors.open_tasks(user=request.user), request.GET.get("page"), page_size=PAGE_SIZE)
    context = {"page": page, "page_query": QueryDict(), "now": timezone.now()}
    return render_page(request, "sales/task_list.html", "sales/_task_results.html", context)


@role_required(roles.WORK_CONTACTS)
@require_POST
def task_done(request, pk: int):
    tasks = Task.objects.select_related("contact")
    if not roles.has_any(request.user, roles.MANAGE_USERS):
        tasks = tasks.filter(owner=request.user)
    task = get_object_or_404(tasks, pk=pk)
    services.task_complete(task=task, by=request.user)
    if not wants_fragment(request):
        messages.success(request, _("Task “%(title)s” done.") % {"title": task.title})
        return redirect(_back_to_list(request))
    context = {"task": task, "now": timezone.now(), "page": None}
    return render(request, "sales/_task_row.html", context)


def _back_to_list(request) -> str:
    """The page of the list the form was on (only a page number is taken over from the POST)."""
    url = reverse("sales:task-list")
    page = request.POST.get("page", "")
    if page.isdigit() and len(page) <= 7 and int(page) > 1:
        return f"{url}?page={int(page)}"
    return url
