"""GET /api/v1/contacts/{id}/score/, scoring.selectors and the contact list's ``topic`` filter."""

import datetime as dt
import itertools

import pytest

from funnel import selectors as funnel_selectors
from scoring import selectors
from scoring.ingest import events_ingest
from scoring.models import ScoringSettings
from scoring.services import events_apply_pending
from tests.factories import CompanyFactory, ContactFactory

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
IDS = itertools.count()
SCORE_FIELDS = {"score", "fit_score", "engagement_score", "breakdown", "topics", "fit_breakdown"}


@pytest.fixture
def api(api_client_for, sales_user):
    return api_client_for(sales_user)


def send(contact, events, at=T0):
    """Store events of ``contact`` that occurred at ``at`` and apply them."""
    events_ingest(
        payload=[
            {
                "id": f"evt-{next(IDS)}",
                "contact": contact.pk,
                "occurred_at": at.isoformat(),
                **e,
            }
            for e in events
        ],
        now=at,
    )
    events_apply_pending(now=at)


def score_url(contact):
    return f"/api/v1/contacts/{contact.pk}/score/"


def fitting_contact():
    company = CompanyFactory(industry="Electronics", employees=80)
    return ContactFactory(company=company, job_title="Hardware Engineer", email="anna@firma.de")


def test_contact_without_score_is_all_zero(api):
    contact = ContactFactory()
    body = api.get(score_url(contact)).json()
    assert body == {
        "score": 0,
        "fit_score": 0,
        "engagement_score": 0,
        "breakdown": [],
        "topics": [],
        "fit_breakdown": [],
    }


def test_breakdown_topics_and_fit_after_events(api):
    contact = fitting_contact()
    send(
        contact,
        [
            {"type": "form_submit", "topic": "pcb-design"},
            {"type": "page_view", "topic": "pcb-design"},
            {"type": "page_view", "topic": "emc-testing"},
            {"type": "page_view", "properties": {"url": "/pricing"}},
        ],
    )
    body = selectors.contact_score(contact=contact, now=T0)
    assert set(body) == SCORE_FIELDS
    # Pricing page: 10 (and a website visit, 1); form 15; three website visits, 1 each.
    assert body["breakdown"] == [
        {"rule": "Form submitted", "points": 15.0, "events": 1},
        {"rule": "Pricing page visit", "points": 10.0, "events": 1},
        {"rule": "Website visit", "points": 3.0, "events": 3},
    ]
    assert body["engagement_score"] == 28
    assert body["topics"] == [{"topic": "pcb-design", "weight": 2.0}, {"topic": "emc-testing", "weight": 1.0}]
    # Industry 15, 50+ employees 10, engineer 15, business email 10.
    assert body["fit_score"] == 50
    assert {row["rule"] for row in body["fit_breakdown"]} == {
        "Target industry",
        "Company with 50+ employees",
        "Technical decision maker",
        "Business email address",
    }
    assert sum(row["points"] for row in body["fit_breakdown"]) == body["fit_score"]
    assert body["score"] == 78
    assert selectors.contact_topics(contact=contact, now=T0) == body["topics"]


def test_endpoint_returns_the_selectors_dict(api, monkeypatch):
    contact = fitting_contact()
    send(contact, [{"type": "download", "topic": "pcb-design"}])
    monkeypatch.setattr("django.utils.timezone.now", lambda: T0 + DAY)
    response = api.get(score_url(contact))
    assert response.status_code == 200
    assert response.json() == selectors.contact_score(contact=contact, now=T0 + DAY)
    assert response.json()["engagement_score"] == 10


def test_engagement_halves_after_one_half_life(api, monkeypatch):
    contact = ContactFactory(email="x@gmail.com")
    send(contact, [{"type": "consultation_request", "topic": "pcb-design"}, {"type": "form_submit"}])
    half_life = ScoringSettings.load().half_life_days
    now = selectors.contact_score(contact=contact, now=T0)
    later = selectors.contact_score(contact=contact, now=T0 + half_life * DAY)
    assert now["engagement_score"] == 55
    assert later["engagement_score"] == 28  # 27.5, rounded half to even → 28
    assert later["breakdown"] == [
        {"rule": "Consultation request", "points": 20.0, "events": 1},
        {"rule": "Form submitted", "points": 7.5, "events": 1},
    ]
    assert later["topics"] == [{"topic": "pcb-design", "weight": 0.5}]
    assert later["score"] == later["engagement_score"] + later["fit_score"]
    # The endpoint computes at the real "now": two half-lives on, a quarter is left.
    monkeypatch.setattr("django.utils.timezone.now", lambda: T0 + 2 * half_life * DAY)
    body = api.get(score_url(contact)).json()
    assert body["engagement_score"] == 14
    assert body["topics"] == [{"topic": "pcb-design", "weight": 0.25}]


def test_breakdown_is_ordered_by_points_descending(api):
    contact = ContactFactory()
    send(contact, [{"type": "email_open"}], at=T0)
    send(contact, [{"type": "demo_request"}, {"type": "newsletter_click"}], at=T0 + DAY)
    points = [row["points"] for row in selectors.contact_score(contact=contact, now=T0 + DAY)["breakdown"]]
    assert points == sorted(points, reverse=True)
    assert len(points) == 3


def test_score_of_unknown_contact_is_404(api):
    assert api.get("/api/v1/contacts/999999/score/").status_code == 404
    assert api.get("/api/v1/contacts/99999999999999999999999999/score/").status_code == 404


def test_score_roles(api_client_for, outsider, marketing_user, admin_user):
    contact = ContactFactory()
    assert api_client_for(outsider).get(score_url(contact)).status_code == 403
    assert api_client_for(None).get(score_url(contact)).status_code == 401
    assert api_client_for(marketing_user).get(score_url(contact)).status_code == 200
    assert api_client_for(admin_user).get(score_url(contact)).status_code == 200


def test_score_query_count_does_not_grow_with_rules_and_topics(api, django_assert_num_queries):
    contact = fitting_contact()
    api.get("/api/v1/stages/")  # the first request records the token's use
    send(contact, [{"type": "page_view", "topic": "a"}])
    # token, roles, contact, settings, score, rule scores, topics, fit rules, contact+company, tags
    with django_assert_num_queries(10):
        api.get(score_url(contact))
    send(
        contact, [{"type": t, "topic": t} for t in ("download", "form_submit", "demo_request", "email_open")]
    )
    with django_assert_num_queries(10):
        assert len(api.get(score_url(contact)).json()["breakdown"]) == 5


# The contact list's topic filter -----------------------------------------------------------------


def test_topic_filter_finds_contacts_with_current_interest(api, monkeypatch):
    keen, faded, other, none = ContactFactory.create_batch(4)
    send(keen, [{"type": "page_view", "topic": "pcb-design"}], at=T0 + 40 * DAY)
    send(faded, [{"type": "page_view", "topic": "pcb-design"}], at=T0)
    send(other, [{"type": "page_view", "topic": "emc-testing"}], at=T0 + 40 * DAY)
    # 40 days on with a half-life of 30: one old event weighs 0.4 (< 0.5), a fresh one 1.
    monkeypatch.setattr("django.utils.timezone.now", lambda: T0 + 40 * DAY)
    body = api.get("/api/v1/contacts/", {"topic": "pcb-design"}).json()
    assert [c["id"] for c in body["results"]] == [keen.pk]
    assert list(funnel_selectors.contact_list(topic="pcb-design")) == [keen]
    # Two old events together are still an interest.
    send(faded, [{"type": "download", "topic": "pcb-design"}], at=T0 + DAY)
    assert set(funnel_selectors.contact_list(topic="pcb-design")) == {keen, faded}
    assert set(funnel_selectors.contact_list(topic="")) == {keen, faded, other, none}
    assert api.get("/api/v1/contacts/", {"topic": "nothing"}).json()["count"] == 0


def test_topic_filter_combines_with_the_others(api):
    keen, lead = ContactFactory.create_batch(2)
    now = dt.datetime.now(dt.UTC)
    send(keen, [{"type": "page_view", "topic": "pcb-design"}], at=now)
    send(lead, [{"type": "demo_request", "topic": "pcb-design"}], at=now)
    body = api.get("/api/v1/contacts/", {"topic": "pcb-design", "score_min": 20}).json()
    assert [c["id"] for c in body["results"]] == [lead.pk]


def test_topic_filter_is_validated_and_documented(api):
    assert api.get("/api/v1/contacts/", {"topic": "t" * 101}).status_code == 400
