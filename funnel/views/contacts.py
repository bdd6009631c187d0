"""Contact pages: the list (search, filters, sorting, pagination), the detail page with its score,
activity timeline and stage-move control, and create / edit / delete.

Each page is one template; its HTMX fragment is a partial that the full page includes, and the same
view renders either (see :func:`render_page`). All writes go through ``funnel.services``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.db.models import Count, Subquery
from django.http import HttpResponseBadRequest, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import roles
from accounts.decorators import role_required
from audit.services import audit_export
from config.csv import spreadsheet_locale
from config.web import add_service_errors, page_number, paginate, render_page, vary_on_htmx, wants_fragment
from funnel import selectors, services
from funnel.exports import contact_export_response
from funnel.forms import CONTACT_ORDERING_LABELS, ContactForm, StageMoveForm, assignable_users
from funnel.models import Contact, Stage, Tag
from scoring import selectors as scoring_selectors
from scoring.models import TOPIC_MAX_LENGTH, ContactTopic, ScoringSettings, ThresholdCrossing

PAGE_SIZE = 50
SEARCH_MAX_LENGTH = 200
TAG_SUGGESTIONS = 200
TOPIC_SUGGESTIONS = 50
TOPIC_SUGGESTION_SAMPLE = 20_000
TIMELINE_PAGE_SIZE = 20
CROSSINGS_SHOWN = 5
# Event properties worth a glance in the timeline, in this order; the rest stays in the API.
TIMELINE_PROPERTIES = ("title", "url", "name", "file", "subject", "campaign", "source")
TIMELINE_PROPERTIES_SHOWN = 3
TIMELINE_PROPERTY_MAX_LENGTH = 120


# --- Views ---------------------------------------------------------------------------------------


@role_required(roles.WORK_CONTACTS)
@require_GET
def contact_list(request):
    stages = list(selectors.stage_list())
    owners = list(assignable_users())
    filters = parse_contact_filters(request.GET, stages=stages, owners=owners)
    contacts = selectors.contact_list(
        search=filters.search,
        stage=filters.stage,
        owner_id=filters.owner.pk if filters.owner else None,
        tag=filters.tag,
        topic=filters.topic,
        ordering=filters.ordering,
    )
    page = paginate(contacts, request.GET.get("page"), page_size=PAGE_SIZE)
    context = {
        "filters": filters,
        "page": page,
        "page_query": filters.query(),
        "stages": stages,
        "owners": owners,
        "orderings": list(CONTACT_ORDERING_LABELS.items()),
    }
    if not wants_fragment(request):
        context["tag_suggestions"] = list(
            Tag.objects.order_by("name").values_list("name", flat=True)[:TAG_SUGGESTIONS]
        )
        context["topic_suggestions"] = topic_suggestions()
    return render_page(request, "funnel/contact_list.html", "funnel/_contact_results.html", context)


@role_required(roles.WORK_CONTACTS)
@require_GET
def contact_export(request):
    """The list's contacts, with the list's filters and order, as a streamed CSV file (all pages).

    Unlike the page, which shows everything and says which filter it ignored, a file has no place for
    that note: an export of "all contacts" where the user asked for one stage would be a silent data
    leak, so an unknown filter is a 400 that names it. The page's export link only carries valid ones.
    """
    filters = parse_contact_filters(
        request.GET, stages=list(selectors.stage_list()), owners=list(assignable_users())
    )
    if filters.notes:
        return HttpResponseBadRequest("\n".join(filters.notes), content_type="text/plain; charset=utf-8")
    contacts = selectors.contact_list(
        search=filters.search,
        stage=filters.stage,
        owner_id=filters.owner.pk if filters.owner else None,
        tag=filters.tag,
        topic=filters.topic,
        ordering=filters.ordering,
    )
    audit_export(actor=request.user, what="contacts.csv", params=request.GET)
    return contact_export_response(contacts, locale=spreadsheet_locale())


@role_required(roles.WORK_CONTACTS)
@require_GET
def contact_detail(request, pk: int):
    """The contact page. ``?activity_page=n`` pages the activity timeline: HTMX ("Load more") gets only
    the next events and the button row that replaces the old one; without JavaScript the same link
    shows the full page with that page of the timeline."""
    if wants_fragment(request) and "activity_page" in request.GET:
        contact = get_object_or_404(Contact.objects.only("pk"), pk=pk)
        context = {"contact": contact, "timeline": timeline_page(contact, request.GET["activity_page"])}
        return vary_on_htmx(render(request, "funnel/_contact_timeline.html", context))
    contact = get_object_or_404(selectors.contact_queryset(), pk=pk)
    context = detail_context(contact)
    context.update(scoring_context(contact, activity_page=request.GET.get("activity_page")))
    return vary_on_htmx(render(request, "funnel/contact_detail.html", context))


@role_required(roles.WORK_CONTACTS)
@require_POST
def contact_move(request, pk: int):
    """Move the contact to another stage. HTMX gets the stage section back; a plain form post is
    redirected to the detail page."""
    contact = get_object_or_404(selectors.contact_queryset(), pk=pk)
    form = StageMoveForm(request.POST)
    if not form.is_valid():
        context = detail_context(contact, move_form=form)
        if wants_fragment(request):
            # 200, because HTMX does not swap error responses and the errors must be shown.
            return render(request, "funnel/_contact_stage.html", context)
        context.update(scoring_context(contact))
        return render(request, "funnel/contact_detail.html", context, status=400)

    old_stage = contact.stage
    new_stage = form.cleaned_data["stage"]
    transition = services.contact_move_stage(
        contact=contact, stage=new_stage, by=request.user, reason=form.cleaned_data["reason"]
    )
    if transition is None:
        level = messages.INFO
        text = _("Already in this stage (%(stage)s); nothing was recorded.") % {"stage": new_stage.name}
    else:
        level = messages.SUCCESS
        text = _("Moved from %(old)s to %(new)s.") % {"old": old_stage.name, "new": new_stage.name}
    if not wants_fragment(request):
        messages.add_message(request, level, text)
        return redirect("funnel:contact-detail", pk=contact.pk)
    context = detail_context(contact, move_message=text, move_moved=transition is not None)
    return render(request, "funnel/_contact_stage.html", context)


@role_required(roles.WORK_CONTACTS)
@require_http_methods(["GET", "POST"])
def contact_create(request):
    form = ContactForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        contact = _save(form, lambda data: services.contact_create(by=request.user, **data))
        if contact is not None:
            messages.success(request, _("Contact “%(name)s” created.") % {"name": contact})
            return redirect("funnel:contact-detail", pk=contact.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "funnel/contact_form.html", {"form": form, "contact": None}, status=status)


@role_required(roles.WORK_CONTACTS)
@require_http_methods(["GET", "POST"])
def contact_edit(request, pk: int):
    contact = get_object_or_404(selectors.contact_queryset(), pk=pk)
    form = ContactForm(request.POST or None, instance=contact)
    if request.method == "POST" and form.is_valid():
        saved = _save(form, lambda data: services.contact_update(contact=contact, by=request.user, **data))
        if saved is not None:
            messages.success(request, _("Contact “%(name)s” saved.") % {"name": saved})
            return redirect("funnel:contact-detail", pk=contact.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "funnel/contact_form.html", {"form": form, "contact": contact}, status=status)


@role_required(roles.WORK_CONTACTS)
@require_http_methods(["GET", "POST"])
def contact_delete(request, pk: int):
    """GET asks for confirmation; only the POST of the confirmation form deletes."""
    contact = get_object_or_404(Contact.objects.select_related("company", "stage"), pk=pk)
    if request.method == "POST":
        name = str(contact)
        services.contact_delete(contact=contact, by=request.user)
        messages.success(request, _("Contact “%(name)s” deleted.") % {"name": name})
        return redirect("funnel:contact-list")
    return render(request, "funnel/contact_confirm_delete.html", {"contact": contact})


urlpatterns = [
    path("contacts/", contact_list, name="contact-list"),
    path("contacts/export.csv", contact_export, name="contact-export"),
    path("contacts/new/", contact_create, name="contact-create"),
    path("contacts/<int:pk>/", contact_detail, name="contact-detail"),
    path("contacts/<int:pk>/edit/", contact_edit, name="contact-edit"),
    path("contacts/<int:pk>/delete/", contact_delete, name="contact-delete"),
    path("contacts/<int:pk>/move/", contact_move, name="contact-move"),
]


# --- Rendering -----------------------------------------------------------------------------------


def detail_context(contact: Contact, **extra) -> dict:
    context = {
        "contact": contact,
        "properties": [
            (key, value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))
            for key, value in sorted((contact.properties or {}).items())
        ],
        # Newest first: the latest move is what people look for.
        "transitions": list(selectors.contact_transitions(contact=contact).reverse()),
        "move_form": StageMoveForm(initial={"stage": contact.stage.key}),
    }
    context.update(extra)
    return context


def scoring_context(contact: Contact, *, activity_page=None) -> dict:
    """The score card (live score, its explanation, topic interests, threshold crossings) and the
    first (or requested) page of the activity timeline. A fixed number of queries, however many
    events, rules or topics the contact has."""
    settings = ScoringSettings.load()
    score = scoring_selectors.contact_score(contact=contact)
    top_weight = max((t["weight"] for t in score["topics"]), default=0)
    for topic in score["topics"]:
        topic["share"] = round(100 * topic["weight"] / top_weight) if top_weight > 0 else 0
    threshold = settings.sales_threshold
    return {
        "score": score,
        "fit_grade": settings.grade(score["fit_score"]),
        "sales_threshold": threshold,
        "above_threshold": score["engagement_score"] >= threshold,
        "threshold_share": min(100, max(0, round(100 * score["engagement_score"] / threshold))),
        "crossings": list(
            ThresholdCrossing.objects.filter(contact_id=contact.pk).order_by("-crossed_at", "-id")[
                :CROSSINGS_SHOWN
            ]
        ),
        "timeline": timeline_page(contact, activity_page),
    }


@dataclass
class Timeline:
    events: list
    number: int
    has_next: bool

    @property
    def next_number(self) -> int:
        return self.number + 1


def timeline_page(contact: Contact, page_param) -> Timeline:
    """One page of the contact's events, newest first. One query: a row more than the page tells
    whether there is a next one, and "Load more" needs no total."""
    number = page_number(page_param)
    offset = (number - 1) * TIMELINE_PAGE_SIZE
    rows = list(scoring_selectors.contact_events(contact=contact)[offset : offset + TIMELINE_PAGE_SIZE + 1])
    events = rows[:TIMELINE_PAGE_SIZE]
    for event in events:
        event.key_properties = _key_properties(event.properties)
    return Timeline(events=events, number=number, has_next=len(rows) > TIMELINE_PAGE_SIZE)


def _key_properties(properties) -> list[tuple[str, str]]:
    if not isinstance(properties, dict):
        return []
    shown = []
    for key in TIMELINE_PROPERTIES:
        value = properties.get(key)
        if value in (None, "", [], {}):
            continue
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        if len(text) > TIMELINE_PROPERTY_MAX_LENGTH:
            text = text[: TIMELINE_PROPERTY_MAX_LENGTH - 1] + "…"
        shown.append((key, text))
        if len(shown) == TIMELINE_PROPERTIES_SHOWN:
            break
    return shown


def topic_suggestions() -> list[str]:
    """The most common topics of interest, for the list's "Interested in" suggestions.

    Counted over the newest TOPIC_SUGGESTION_SAMPLE interest rows only: grouping all of them would
    scan millions of rows on every list page at platform scale, and recent interests are the better
    suggestions anyway. One bounded query.
    """
    newest = ContactTopic.objects.order_by("-id").values("id")[:TOPIC_SUGGESTION_SAMPLE]
    rows = (
        ContactTopic.objects.filter(id__in=Subquery(newest))
        .order_by()
        .values("topic")
        .annotate(n=Count("id"))
        .order_by("-n", "topic")
        .values_list("topic", flat=True)[:TOPIC_SUGGESTIONS]
    )
    return list(rows)


def _save(form, write):
    """Call the service with the form's data; errors it still finds (a race on the unique email)
    land on the form. Returns the contact, or None when the form now has errors."""
    try:
        return write(form.service_kwargs())
    except ValidationError as exc:
        add_service_errors(form, exc)
    except IntegrityError:
        form.add_error("email", _("A contact with this email address already exists."))
    return None


# --- List filters --------------------------------------------------------------------------------


@dataclass
class ContactFilters:
    """The list's parameters after validation: anything unknown is dropped and explained in ``notes``."""

    search: str = ""
    stage: Stage | None = None
    owner: object | None = None
    tag: str = ""
    topic: str = ""
    ordering: str = selectors.DEFAULT_CONTACT_ORDERING
    notes: list[str] = field(default_factory=list)

    @property
    def active(self) -> bool:
        """Whether anything narrows the list (ordering does not)."""
        return bool(self.search or self.stage or self.owner or self.tag or self.topic)

    def query(self) -> QueryDict:
        """The valid parameters only, for page links."""
        query = QueryDict(mutable=True)
        if self.search:
            query["search"] = self.search
        if self.stage:
            query["stage"] = self.stage.key
        if self.owner:
            query["owner"] = str(self.owner.pk)
        if self.tag:
            query["tag"] = self.tag
        if self.topic:
            query["topic"] = self.topic
        if self.ordering != selectors.DEFAULT_CONTACT_ORDERING:
            query["ordering"] = self.ordering
        return query


def parse_contact_filters(params, *, stages: list[Stage], owners: list) -> ContactFilters:
    filters = ContactFilters()
    filters.search = params.get("search", "").strip()[:SEARCH_MAX_LENGTH]
    filters.tag = params.get("tag", "").strip()[: Tag._meta.get_field("name").max_length]
    topic = params.get("topic", "").strip()
    if len(topic) > TOPIC_MAX_LENGTH:
        note = _("Topic longer than %(max)s characters ignored: showing all topics.")
        filters.notes.append(note % {"max": TOPIC_MAX_LENGTH})
    else:
        filters.topic = topic

    stage_key = params.get("stage", "").strip()
    if stage_key:
        filters.stage = next((s for s in stages if s.key == stage_key), None)
        if filters.stage is None:
            note = _("Unknown stage “%(value)s” ignored: showing all stages.")
            filters.notes.append(note % {"value": stage_key})

    owner_id = params.get("owner", "").strip()
    if owner_id:
        filters.owner = next((u for u in owners if str(u.pk) == owner_id), None)
        if filters.owner is None:
            note = _("Unknown owner “%(value)s” ignored: showing all owners.")
            filters.notes.append(note % {"value": owner_id})

    ordering = params.get("ordering", "").strip()
    if ordering:
        if ordering in selectors.CONTACT_ORDERINGS:
            filters.ordering = ordering
        else:
            filters.notes.append(
                _("Unknown sort order “%(value)s” ignored: showing newest first.") % {"value": ordering}
            )
    return filters


# --- Pagination ----------------------------------------------------------------------------------
