"""Browser UI: what lead scoring shows on the contact pages — the score card (breakdown, fit, topics,
threshold), the activity timeline with its "Load more" fragment, and the list's topic filter."""

from datetime import timedelta
from uuid import uuid4

import pytest
from django.urls import reverse
from django.utils import timezone

from funnel.views import contacts as views
from scoring.ingest import events_ingest
from scoring.models import ContactTopic, ThresholdCrossing
from scoring.selectors import contact_score
from scoring.services import events_apply_pending
from tests.factories import CompanyFactory, ContactFactory

pytestmark = pytest.mark.django_db

LIST_URL = reverse("funnel:contact-list")
HTMX = {"HTTP_HX_REQUEST": "true"}
XSS = "<script>alert(1)</script>"
ESCAPED_XSS = "&lt;script&gt;alert(1)&lt;/script&gt;"


@pytest.fixture
def client(client, sales_user):
    client.force_login(sales_user)
    return client


def detail_url(contact, **params):
    url = reverse("funnel:contact-detail", args=[contact.pk])
    if params:
        url += "?" + "&".join(f"{k}={v}" for k, v in params.items())
    return url


def ingest(contact, *events):
    """Store events for the contact through the real ingestion and apply them as the worker would."""
    now = timezone.now()
    payload = [
        {
            "id": str(uuid4()),
            "contact": contact.pk,
            "occurred_at": (now - timedelta(minutes=len(events) - i)).isoformat(),
            **event,
        }
        for i, event in enumerate(events)
    ]
    events_ingest(payload=payload)
    while events_apply_pending():
        pass


def page_views(n, start=0):
    return [{"type": "page_view", "properties": {"title": f"page-{i:03d}"}} for i in range(start, start + n)]


def timeline_titles(html: str) -> list[str]:
    return [part.split("<", 1)[0] for part in html.split('<dd class="mono">')[1:]]


# --- Score card -------------------------------------------------------------------------------------


def test_detail_shows_score_breakdown_fit_topics_and_timeline(client, sales_user):
    contact = ContactFactory(
        email="eva@platinen.de",
        job_title="Hardware engineer",
        company=CompanyFactory(industry="electronics", employees=80),
        owner=sales_user,
    )
    ingest(
        contact,
        {"type": "page_view", "properties": {"url": "https://example.com/pricing", "title": "Prices"}},
        {"type": "download", "topic": "pcb-design", "properties": {"title": "PCB checklist"}},
        {"type": "download", "topic": "pcb-design", "properties": {"title": "Layout guide"}},
        {"type": "download", "topic": "emc-testing"},
        {"type": "demo_request", "properties": {"name": "Online demo"}},
    )
    response = client.get(detail_url(contact))
    assert response.status_code == 200
    html = response.content.decode()

    score = response.context["score"]
    assert score == contact_score(contact=contact) | {"topics": score["topics"]}
    assert score["engagement_score"] >= 50  # demo 40 + downloads 30 + pricing and visit
    assert response.context["above_threshold"] is True
    assert response.context["fit_grade"] == "A"  # industry, size, title, business email
    for text in (
        "Score",
        "Grade A",
        "above threshold",
        "at or above the sales threshold of 50",
        # breakdown: rule, events, points
        "Download (paid with contact details)",
        "Demo request",
        "Pricing page visit",
        # fit rules that matched
        "Target industry",
        "Technical decision maker",
        "Business email address",
        # topics, each a link to the filtered list
        f'href="{LIST_URL}?topic=pcb-design"',
        f'href="{LIST_URL}?topic=emc-testing"',
        # timeline: type, topic, key properties, fast lane
        "Activity",
        "PCB checklist",
        "https://example.com/pricing",
        "Online demo",
        "fast lane",
        # the crossing of the sales threshold
        "Reached the sales threshold",
    ):
        assert text in html, text
    assert [t["topic"] for t in score["topics"]] == ["pcb-design", "emc-testing"]  # heaviest first
    assert score["topics"][0]["share"] == 100
    breakdown = {row["rule"]: row for row in score["breakdown"]}
    assert breakdown["Download (paid with contact details)"]["events"] == 3
    assert ThresholdCrossing.objects.filter(contact=contact).count() == 1


def test_timeline_is_newest_first_with_type_and_time(client):
    contact = ContactFactory()
    ingest(contact, *page_views(3))
    html = client.get(detail_url(contact)).content.decode()
    assert timeline_titles(html) == ["page-002", "page-001", "page-000"]
    assert html.count('class="timeline-item') == 3
    assert "Page view" in html
    assert "Load more" not in html


def test_below_threshold_and_low_grade(client):
    contact = ContactFactory(email="someone@gmail.com")
    ingest(contact, {"type": "page_view"})
    response = client.get(detail_url(contact))
    html = response.content.decode()
    assert response.context["above_threshold"] is False
    assert "below threshold" in html
    assert "The sales threshold is 50" in html
    assert "Grade D" in html
    assert "Reached the sales threshold" not in html


def test_empty_states(client):
    contact = ContactFactory()
    html = client.get(detail_url(contact)).content.decode()
    assert "No activity yet" in html
    assert "Events arrive through the API or the website snippet." in html
    assert "No activity has earned points yet." in html
    assert "No topic interests yet" in html


# --- Timeline paging --------------------------------------------------------------------------------


def test_load_more_fragment_returns_the_next_twenty(client):
    contact = ContactFactory()
    ingest(contact, *page_views(45))
    html = client.get(detail_url(contact)).content.decode()
    assert html.count('class="timeline-item') == 20
    assert timeline_titles(html)[0] == "page-044"
    more = detail_url(contact, activity_page=2)
    assert f'hx-get="{more}"' in html
    assert f'href="{more}#contact-activity"' in html  # the same link without JavaScript
    assert 'hx-swap="outerHTML"' in html

    response = client.get(more, **HTMX)
    fragment = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in fragment
    assert "HX-Request" in response["Vary"]
    assert fragment.count('class="timeline-item') == 20
    assert timeline_titles(fragment) == [f"page-{i:03d}" for i in range(24, 4, -1)]
    assert f'hx-get="{detail_url(contact, activity_page=3)}"' in fragment

    last = client.get(detail_url(contact, activity_page=3), **HTMX).content.decode()
    assert timeline_titles(last) == [f"page-{i:03d}" for i in range(4, -1, -1)]
    assert "Load more" not in last


def test_timeline_pages_without_javascript(client):
    contact = ContactFactory()
    ingest(contact, *page_views(25))
    response = client.get(detail_url(contact, activity_page=2))
    html = response.content.decode()
    assert "<html" in html
    assert timeline_titles(html) == [f"page-{i:03d}" for i in range(4, -1, -1)]
    assert "Back to the newest activity" in html


@pytest.mark.parametrize("value", ["x", "-3", "0", "9" * 40])
def test_odd_activity_pages_are_never_a_500(client, value):
    contact = ContactFactory()
    ingest(contact, *page_views(2))
    assert client.get(detail_url(contact, activity_page=value)).status_code == 200
    assert client.get(detail_url(contact, activity_page=value), **HTMX).status_code == 200


def test_load_more_of_an_unknown_contact_is_404(client):
    url = reverse("funnel:contact-detail", args=[999999]) + "?activity_page=2"
    assert client.get(url, **HTMX).status_code == 404


def test_load_more_needs_a_role(client, outsider):
    contact = ContactFactory()
    client.force_login(outsider)
    assert client.get(detail_url(contact, activity_page=2), **HTMX).status_code == 403


# Pinned: session, user, roles, the contact (stage, company, owner joined) + its tags, the stage
# history, scoring settings; the score selector (settings, score state, rule breakdown, topics, fit
# rules, the contact with company + tags for the fit test); threshold crossings; one page of events
# with their type; the stages of the move form; the consent log (privacy). The same for 3 and for 30
# events.
DETAIL_QUERIES = 18


@pytest.mark.parametrize("n", [3, 30])
def test_detail_query_count_is_constant(client, django_assert_num_queries, n):
    contact = ContactFactory(company=CompanyFactory())
    ingest(
        contact,
        *[
            {"type": "download", "topic": f"topic-{i % 7}", "properties": {"title": f"t{i}", "url": f"/u{i}"}}
            for i in range(n)
        ],
        {"type": "demo_request"},
    )
    with django_assert_num_queries(DETAIL_QUERIES):
        response = client.get(detail_url(contact))
    assert len(response.context["timeline"].events) == min(n + 1, 20)


def test_load_more_fragment_query_count(client, django_assert_num_queries):
    contact = ContactFactory()
    ingest(contact, *page_views(45))
    # session, user, roles, the contact's id, one page of events with their type
    with django_assert_num_queries(5):
        client.get(detail_url(contact, activity_page=2), **HTMX)


# --- Escaping ---------------------------------------------------------------------------------------


def test_event_and_topic_text_is_escaped(client):
    contact = ContactFactory()
    ingest(
        contact,
        {"type": "download", "topic": XSS, "properties": {"title": XSS, "url": XSS, "name": {"k": XSS}}},
    )
    for response in (client.get(detail_url(contact)), client.get(LIST_URL, {"topic": XSS})):
        html = response.content.decode()
        assert XSS not in html
        assert ESCAPED_XSS in html
    # the topic link's query string is URL-encoded
    assert "?topic=%3Cscript%3Ealert%281%29%3C/script%3E" in client.get(detail_url(contact)).content.decode()


def test_long_property_values_are_shortened(client):
    contact = ContactFactory()
    ingest(contact, {"type": "page_view", "properties": {"url": "https://example.com/" + "a" * 500}})
    html = client.get(detail_url(contact)).content.decode()
    assert "a" * 500 not in html
    assert "…" in html


# --- Contact list: "Interested in" ------------------------------------------------------------------


def test_topic_filter_narrows_the_list(client):
    pcb = ContactFactory(first_name="Pcb")
    emc = ContactFactory(first_name="Emc")
    ContactFactory(first_name="Nothing")
    ingest(pcb, {"type": "download", "topic": "pcb-design"})
    ingest(emc, {"type": "download", "topic": "emc-testing"})

    response = client.get(LIST_URL, {"topic": "pcb-design", "stage": "lead"})
    assert [c.first_name for c in response.context["page"].items] == ["Pcb"]  # moved to lead by the rule
    html = response.content.decode()
    assert "interested in “pcb-design”" in html
    assert f'href="{LIST_URL}?stage=lead">Show all topics' in html
    assert 'value="pcb-design"' in html

    fragment = client.get(LIST_URL, {"topic": "emc-testing"}, **HTMX)
    assert [c.first_name for c in fragment.context["page"].items] == ["Emc"]
    assert "<html" not in fragment.content.decode()

    assert client.get(LIST_URL, {"topic": "unknown"}).context["page"].items == []


def test_topic_filter_combines_and_pages_keep_it(client, monkeypatch):
    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    for i in range(3):
        ingest(ContactFactory(first_name=f"Pcb{i}"), {"type": "download", "topic": "pcb-design"})
    ContactFactory(first_name="Other")
    html = client.get(LIST_URL, {"topic": "pcb-design"}).content.decode()
    assert "?topic=pcb-design&amp;page=2" in html


def test_too_long_topic_is_ignored_with_a_note(client):
    ContactFactory(first_name="Anyone")
    response = client.get(LIST_URL, {"topic": "x" * 101})
    assert response.status_code == 200
    assert response.context["filters"].topic == ""
    assert [c.first_name for c in response.context["page"].items] == ["Anyone"]
    assert "longer than 100 characters" in response.content.decode()


def test_list_suggests_the_most_common_topics(client):
    for _ in range(3):
        ingest(ContactFactory(), {"type": "download", "topic": "common"})
    ingest(ContactFactory(), {"type": "download", "topic": "rare"})
    response = client.get(LIST_URL)
    assert response.context["topic_suggestions"] == ["common", "rare"]
    assert '<datalist id="topic-suggestions"><option value="common"></option><option value="rare">' in (
        response.content.decode()
    )
    # the HTMX results fragment does not need them
    assert "topic_suggestions" not in client.get(LIST_URL, **HTMX).context


def test_topic_suggestions_are_capped(client, monkeypatch):
    monkeypatch.setattr(views, "TOPIC_SUGGESTIONS", 2)
    contact = ContactFactory()
    ContactTopic.objects.bulk_create(
        [ContactTopic(contact=contact, topic=f"t{i}", events=1, acc=1.0) for i in range(5)]
    )
    assert len(client.get(LIST_URL).context["topic_suggestions"]) == 2
