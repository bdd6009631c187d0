"""The website tracking pages: the tracked sites with their embed line, and their editing.

Marketing and admin (``roles.EDIT_FUNNEL``) manage sites: the website is a marketing channel, like
the scoring rules and nurture sequences they already own, and a site's key is no secret (it is in
every page of the site). Sales has no use for the page and gets a 403. The public collect endpoint
is ``tracking.collect``.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import roles
from accounts.decorators import role_required
from config.web import add_service_errors, vary_on_htmx, wants_fragment
from tracking import services
from tracking.forms import TrackedSiteForm
from tracking.models import TrackedSite


def script_url() -> str:
    # The unhashed name, so that an embedded line keeps working across deployments.
    return f"{settings.SITE_URL}/{settings.STATIC_URL.strip('/')}/tracking/trichter.js"


def embed_line(site: TrackedSite) -> str:
    return f'<script src="{script_url()}" data-site="{site.public_key}" async></script>'


@role_required(roles.EDIT_FUNNEL)
@require_GET
def site_list(request):
    sites = list(TrackedSite.objects.all())
    for site in sites:
        site.embed = embed_line(site)
    return render(request, "tracking/site_list.html", {"sites": sites})


@role_required(roles.EDIT_FUNNEL)
@require_http_methods(["GET", "POST"])
def site_edit(request, pk: int | None = None):
    site = get_object_or_404(TrackedSite, pk=pk) if pk else None
    form = TrackedSiteForm(request.POST or None, site=site)
    if request.method == "POST" and form.is_valid():
        try:
            site = services.site_save(site=site, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Website “%(name)s” saved.") % {"name": site.name})
            return redirect("tracking:site-list")
    status = 400 if request.method == "POST" else 200
    return render(request, "tracking/site_form.html", {"form": form, "site": site}, status=status)


@role_required(roles.EDIT_FUNNEL)
@require_POST
def site_regenerate_key(request, pk: int):
    site = services.site_regenerate_key(site=get_object_or_404(TrackedSite, pk=pk))
    site.embed = embed_line(site)
    message = _("New key for “%(name)s”: replace the line in the website.") % {"name": site.name}
    if wants_fragment(request):
        # The site's card in place, with the new line and a note to replace it.
        return vary_on_htmx(render(request, "tracking/_site.html", {"site": site, "message": message}))
    messages.success(request, message)
    return redirect("tracking:site-list")


@role_required(roles.EDIT_FUNNEL)
@require_http_methods(["GET", "POST"])
def site_delete(request, pk: int):
    site = get_object_or_404(TrackedSite, pk=pk)
    if request.method == "POST":
        services.site_delete(site=site)
        messages.success(request, _("Website “%(name)s” deleted.") % {"name": site.name})
        return redirect("tracking:site-list")
    return render(request, "tracking/site_confirm_delete.html", {"site": site})
