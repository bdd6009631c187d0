"""POST /api/v1/events/ and GET /api/v1/contacts/{id}/events/ (API.md "Events", "Contacts")."""

import datetime as dt
import threading

import pytest
from django.core.cache import cache
from django.db import connection
from django.utils import timezone
from rest_framework.throttling import SimpleRateThrottle

from funnel.models import Contact
from scoring.api.views import EventsThrottle
from scoring.ingest import events_ingest
from scoring.models import Event
from scoring.services import events_apply_pending
from tests.factories import ContactFactory, stage

pytestmark = pytest.mark.django_db

URL = "/api/v1/events/"
EVENT_FIELDS = {"id", "type", "occurred_at", "topic", "properties", "anonymous_id", "received_at"}


@pytest.fixture
def api(api_client_for, sales_user):
    return api_client_for(sales_user)


def post(api, body):
    return api.post(URL, body, format="json")


def stored():
    """What a rejected request must leave untouched."""
    return Event.objects.count(), Contact.objects.count()


def events_url(contact):
    return f"/api/v1/contacts/{contact.pk}/events/"


# Accepting ---------------------------------------------------------------------------------------


def test_single_event_is_accepted_and_stored(api):
    contact = ContactFactory()
    response = post(
        api,
        {
            "id": "evt-1",
            "type": "download",
            "contact": contact.pk,
            "occurred_at": "2026-01-22T10:00:00+01:00",
            "topic": "pcb-design",
            "properties": {"file": "guide.pdf"},
        },
    )
    assert response.status_code == 202
    assert response.json() == {"accepted": 1, "duplicates": 0}
    event = Event.objects.select_related("type").get()
    assert (event.external_id, event.type.key, event.contact_id) == ("evt-1", "download", contact.pk)
    assert event.occurred_at == dt.datetime(2026, 1, 22, 9, 0, tzinfo=dt.UTC)
    assert (event.topic, event.properties) == ("pcb-design", {"file": "guide.pdf"})
    assert event.applied_at is None  # the scoring applies it, not the request


def test_batch_is_accepted(api):
    contact = ContactFactory()
    batch = [{"id": f"b-{i}", "type": "page_view", "contact": contact.pk} for i in range(20)]
    response = post(api, batch)
    assert response.status_code == 202
    assert response.json() == {"accepted": 20, "duplicates": 0}
    assert Event.objects.filter(contact=contact).count() == 20


def test_occurred_at_defaults_to_now(api):
    contact = ContactFactory()
    before = timezone.now()
    post(api, {"id": "n", "type": "page_view", "contact": contact.pk})
    assert before <= Event.objects.get().occurred_at <= timezone.now()


def test_resent_ids_are_duplicates_and_store_nothing_new(api):
    contact = ContactFactory()
    batch = [{"id": f"r-{i}", "type": "page_view", "contact": contact.pk} for i in range(3)]
    assert post(api, batch).json() == {"accepted": 3, "duplicates": 0}
    batch.append({"id": "r-new", "type": "page_view", "contact": contact.pk})
    assert post(api, batch).json() == {"accepted": 1, "duplicates": 3}
    assert Event.objects.count() == 4


def test_duplicate_ids_inside_one_batch_count_once(api):
    contact = ContactFactory()
    event = {"id": "same", "type": "page_view", "contact": contact.pk}
    response = post(api, [event, event, {**event, "type": "download"}])
    assert response.status_code == 202
    assert response.json() == {"accepted": 1, "duplicates": 2}
    assert Event.objects.get().type.key == "page_view"  # the first one wins


def test_unknown_email_creates_a_suspect(api):
    response = post(api, {"id": "e1", "type": "page_view", "email": "Neu@Example.com"})
    assert response.status_code == 202
    contact = Contact.objects.get(email__iexact="neu@example.com")
    assert contact.stage.key == "suspect"
    assert Event.objects.get().contact_id == contact.pk
    # A second event with the same email (any case) finds that contact.
    post(api, {"id": "e2", "type": "page_view", "email": "neu@example.COM"})
    assert Contact.objects.count() == 1
    assert Event.objects.filter(contact=contact).count() == 2


def test_known_email_and_matching_contact_are_fine(api):
    contact = ContactFactory(email="anna@example.com")
    response = post(api, {"id": "m", "type": "page_view", "contact": contact.pk, "email": "ANNA@example.com"})
    assert response.status_code == 202
    assert Event.objects.get().contact_id == contact.pk


def test_anonymous_events_belong_to_the_contact_once_identified(api):
    old = timezone.now() - dt.timedelta(hours=2)
    response = post(
        api,
        [
            {"id": "a1", "type": "page_view", "anonymous_id": "visitor-1", "occurred_at": old.isoformat()},
            {"id": "a2", "type": "download", "anonymous_id": "visitor-1", "occurred_at": old.isoformat()},
            {"id": "other", "type": "page_view", "anonymous_id": "visitor-2"},
        ],
    )
    assert response.json() == {"accepted": 3, "duplicates": 0}
    assert Contact.objects.count() == 0
    # Anonymous events have nothing to apply yet.
    assert events_apply_pending() == 0

    post(api, {"id": "a3", "type": "form_submit", "anonymous_id": "visitor-1", "email": "v@example.com"})
    contact = Contact.objects.get(email="v@example.com")
    body = api.get(events_url(contact)).json()
    assert body["count"] == 3
    assert [e["id"] for e in body["results"]] == ["a3", "a2", "a1"]  # newest first
    assert Event.objects.get(external_id="other").contact_id is None

    # The earlier events now count for the contact's score.
    events_apply_pending()
    score = api.get(f"/api/v1/contacts/{contact.pk}/score/").json()
    rules = {row["rule"]: row["events"] for row in score["breakdown"]}
    assert rules["Form submitted"] == 1
    assert rules["Download (paid with contact details)"] == 1
    assert rules["Website visit"] == 1


def test_anonymous_events_in_the_identifying_batch_belong_to_the_contact(api):
    post(
        api,
        [
            {"id": "x1", "type": "page_view", "anonymous_id": "visitor-9"},
            {"id": "x2", "type": "page_view", "anonymous_id": "visitor-9", "email": "nine@example.com"},
        ],
    )
    contact = Contact.objects.get(email="nine@example.com")
    assert set(Event.objects.values_list("contact_id", flat=True)) == {contact.pk}


def test_applied_events_show_in_the_score_and_move_the_stage(api):
    contact = ContactFactory()
    assert contact.stage.key == "suspect"
    post(
        api,
        [
            {"id": "s1", "type": "form_submit", "contact": contact.pk, "topic": "pcb-design"},
            {"id": "s2", "type": "newsletter_click", "contact": contact.pk, "topic": "pcb-design"},
        ],
    )
    assert events_apply_pending() == 2
    score = api.get(f"/api/v1/contacts/{contact.pk}/score/").json()
    assert score["engagement_score"] == 20
    assert score["score"] == score["engagement_score"] + score["fit_score"]
    assert score["breakdown"][0] == {"rule": "Form submitted", "points": 15.0, "events": 1}
    assert score["topics"] == [{"topic": "pcb-design", "weight": 2.0}]
    contact.refresh_from_db()
    assert contact.stage.key == "lead"
    assert contact.engagement_score == 20
    # Applying again changes nothing: every event counts once.
    assert events_apply_pending() == 0


# Rejecting ---------------------------------------------------------------------------------------


def _valid(contact):
    return {"id": "ok-0", "type": "page_view", "contact": contact.pk}


def _future():
    return (timezone.now() + dt.timedelta(minutes=6)).isoformat()


# Each case: the second event of a batch, given the contact of the first; the field it must name.
INVALID = {
    "unknown-type": (lambda c: {"id": "x", "type": "nope", "contact": c.pk}, "type"),
    "missing-type": (lambda c: {"id": "x", "contact": c.pk}, "type"),
    "missing-id": (lambda c: {"type": "page_view", "contact": c.pk}, "id"),
    "empty-id": (lambda c: {"id": " ", "type": "page_view", "contact": c.pk}, "id"),
    "number-id": (lambda c: {"id": 5, "type": "page_view", "contact": c.pk}, "id"),
    "too-long-id": (lambda c: {"id": "x" * 256, "type": "page_view", "contact": c.pk}, "id"),
    "no-who": (lambda c: {"id": "x", "type": "page_view"}, "non_field_errors"),
    "contact-and-other-email": (
        lambda c: {"id": "x", "type": "page_view", "contact": c.pk, "email": "someone-else@example.com"},
        "email",
    ),
    "unknown-contact": (lambda c: {"id": "x", "type": "page_view", "contact": 999999}, "contact"),
    "contact-not-a-number": (lambda c: {"id": "x", "type": "page_view", "contact": "5"}, "contact"),
    "absurd-contact": (lambda c: {"id": "x", "type": "page_view", "contact": 2**70}, "contact"),
    "bad-email": (lambda c: {"id": "x", "type": "page_view", "email": "not-an-email"}, "email"),
    "future": (
        lambda c: {"id": "x", "type": "page_view", "contact": c.pk, "occurred_at": _future()},
        "occurred_at",
    ),
    "bad-date": (
        lambda c: {"id": "x", "type": "page_view", "contact": c.pk, "occurred_at": "yesterday"},
        "occurred_at",
    ),
    "impossible-date": (
        lambda c: {"id": "x", "type": "page_view", "contact": c.pk, "occurred_at": "2026-13-45T10:00:00Z"},
        "occurred_at",
    ),
    "date-out-of-range": (
        lambda c: {
            "id": "x",
            "type": "page_view",
            "contact": c.pk,
            "occurred_at": "0001-01-01T00:00:00+05:00",
        },
        "occurred_at",
    ),
    "properties-not-object": (
        lambda c: {"id": "x", "type": "page_view", "contact": c.pk, "properties": [1, 2]},
        "properties",
    ),
    "properties-too-large": (
        lambda c: {"id": "x", "type": "page_view", "contact": c.pk, "properties": {"t": "x" * 16 * 1024}},
        "properties",
    ),
    "properties-with-nul": (
        lambda c: {"id": "x", "type": "page_view", "contact": c.pk, "properties": {"t": "a\x00"}},
        "properties",
    ),
    "topic-too-long": (
        lambda c: {"id": "x", "type": "page_view", "contact": c.pk, "topic": "t" * 101},
        "topic",
    ),
    "topic-with-nul": (
        lambda c: {"id": "x", "type": "page_view", "contact": c.pk, "topic": "a\x00"},
        "topic",
    ),
    "anonymous-id-with-nul": (
        lambda c: {"id": "x", "type": "page_view", "anonymous_id": "a\x00"},
        "anonymous_id",
    ),
    "unknown-field": (lambda c: {"id": "x", "type": "page_view", "contact": c.pk, "colour": "red"}, "colour"),
    "not-an-object": (lambda c: "page_view", "non_field_errors"),
}


@pytest.mark.parametrize("case", INVALID.values(), ids=INVALID.keys())
def test_invalid_event_rejects_the_batch_naming_index_and_field(api, case):
    build, field = case
    contact = ContactFactory()
    ContactFactory(email="someone-else@example.com")
    before = stored()
    response = post(api, [_valid(contact), build(contact), {**_valid(contact), "id": "ok-2"}])
    assert response.status_code == 400, response.content
    errors = response.json()["errors"]
    assert {"index": 1, "field": field} == {k: errors[0][k] for k in ("index", "field")}
    assert all(e["index"] == 1 for e in errors)
    assert isinstance(errors[0]["message"], str) and errors[0]["message"]
    assert stored() == before


def test_properties_of_exactly_16_kib_are_fine(api):
    contact = ContactFactory()
    properties = {"t": "x" * (16 * 1024 - len('{"t":""}'))}
    response = post(api, {"id": "big", "type": "page_view", "contact": contact.pk, "properties": properties})
    assert response.status_code == 202


def test_every_invalid_event_is_reported(api):
    response = post(api, [{"id": "a", "type": "nope", "email": "a@example.com"}, {"type": "page_view"}])
    errors = response.json()["errors"]
    assert {(e["index"], e["field"]) for e in errors} >= {(0, "type"), (1, "id"), (1, "non_field_errors")}


def test_a_new_email_is_not_created_when_the_batch_is_rejected(api):
    response = post(
        api,
        [
            {"id": "a", "type": "page_view", "email": "new@example.com"},
            {"id": "b", "type": "page_view", "contact": 999999},
        ],
    )
    assert response.status_code == 400
    assert stored() == (0, 0)


def test_batch_of_1000_is_fine_and_1001_is_not(api):
    contact = ContactFactory()
    batch = [{"id": f"k-{i}", "type": "page_view", "contact": contact.pk} for i in range(1001)]
    response = post(api, batch)
    assert response.status_code == 400
    assert response.json()["errors"][0]["index"] is None
    assert Event.objects.count() == 0
    assert post(api, batch[:1000]).json() == {"accepted": 1000, "duplicates": 0}


@pytest.mark.parametrize("body", [[], [1, 2], ["a"], [None]], ids=["empty", "numbers", "strings", "null"])
def test_empty_batch_or_list_of_non_objects_is_400(api, body):
    response = post(api, body)
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert errors[0]["index"] in (None, 0)
    if body:
        assert errors[0]["index"] == 0
    assert Event.objects.count() == 0


@pytest.mark.parametrize("body", [b'"page_view"', b"42", b"null", b"true"])
def test_json_that_is_neither_object_nor_list_is_400(api, body):
    response = api.post(URL, body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["index"] is None
    assert Event.objects.count() == 0


@pytest.mark.parametrize(
    "body", [b'{"id": "x"', b"{'id': 'x'}", b'{"id": NaN}', b"\xff\xfe", b'{"id": "\\ud800"}']
)
def test_non_json_is_400(api, body):
    response = api.post(URL, body, content_type="application/json")
    assert response.status_code == 400
    assert "JSON parse error" in response.json()["errors"][0]["message"]
    assert Event.objects.count() == 0


def test_form_encoded_body_is_415(api):
    assert api.post(URL, {"id": "x", "type": "page_view"}).status_code == 415
    assert Event.objects.count() == 0


# Roles, throttling, queries ------------------------------------------------------------------------


@pytest.mark.parametrize("role_user", ["sales_user", "marketing_user", "admin_user"])
def test_every_role_may_send_events(api_client_for, request, role_user):
    client = api_client_for(request.getfixturevalue(role_user))
    response = post(client, {"id": f"r-{role_user}", "type": "page_view", "anonymous_id": "v"})
    assert response.status_code == 202


def test_outsider_is_403_and_no_token_is_401(api_client_for, outsider):
    event = {"id": "x", "type": "page_view", "anonymous_id": "v"}
    assert post(api_client_for(outsider), event).status_code == 403
    assert post(api_client_for(None), event).status_code == 401
    assert Event.objects.count() == 0


def test_events_have_their_own_throttle(api_client_for, sales_user, monkeypatch):
    monkeypatch.setattr(
        SimpleRateThrottle, "THROTTLE_RATES", {"user": "1/min", "anon": "1/min", "events": "3/min"}
    )
    cache.delete(EventsThrottle.cache_format % {"scope": "events", "ident": sales_user.pk})
    cache.delete(EventsThrottle.cache_format % {"scope": "user", "ident": sales_user.pk})
    client = api_client_for(sales_user)
    for i in range(3):  # more than the user rate: events do not count against it
        assert post(client, {"id": f"t{i}", "type": "page_view", "anonymous_id": "v"}).status_code == 202
    response = post(client, {"id": "t3", "type": "page_view", "anonymous_id": "v"})
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert Event.objects.count() == 3


def test_events_throttle_falls_back_to_the_user_rate(api_client_for, sales_user, monkeypatch):
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"user": "2/min", "anon": "1/min"})
    cache.delete(EventsThrottle.cache_format % {"scope": "events", "ident": sales_user.pk})
    client = api_client_for(sales_user)
    for i in range(2):
        assert post(client, {"id": f"t{i}", "type": "page_view", "anonymous_id": "v"}).status_code == 202
    assert post(client, {"id": "t2", "type": "page_view", "anonymous_id": "v"}).status_code == 429


@pytest.mark.parametrize("size", [10, 1000])
def test_a_batch_costs_the_same_queries_whatever_its_size(api, size, django_assert_num_queries):
    contacts = ContactFactory.create_batch(3)
    api.get("/api/v1/stages/")  # the first request records the token's use
    batch = [
        {
            "id": f"q-{i}",
            "type": "page_view",
            "contact": contacts[i % 3].pk,
            "email": contacts[i % 3].email,
            "anonymous_id": f"visitor-{i}",
            "topic": "pcb-design",
        }
        for i in range(size)
    ]
    # token, roles, event types, contacts by id, contacts by email, visitors with anonymous events,
    # savepoint + release, the INSERT in chunks of 500
    with django_assert_num_queries(8 + (size + 499) // 500):
        assert post(api, batch).json() == {"accepted": size, "duplicates": 0}


# The contact's events --------------------------------------------------------------------------------


def test_contact_events_newest_first_with_all_fields(api):
    contact = ContactFactory()
    ContactFactory()  # another contact's events do not show
    events_ingest(
        payload=[
            {
                "id": "old",
                "type": "download",
                "contact": contact.pk,
                "occurred_at": "2026-01-01T10:00:00+02:00",
                "topic": "pcb-design",
                "properties": {"file": "a.pdf"},
                "anonymous_id": "v-1",
            },
            {"id": "new", "type": "page_view", "contact": contact.pk, "occurred_at": "2026-02-01T10:00:00Z"},
            {"id": "someone-else", "type": "page_view", "anonymous_id": "v-2"},
        ]
    )
    body = api.get(events_url(contact)).json()
    assert body["count"] == 2
    first, second = body["results"]
    assert set(first) == EVENT_FIELDS
    assert [first["id"], second["id"]] == ["new", "old"]
    assert second == {
        "id": "old",
        "type": "download",
        "occurred_at": "2026-01-01T08:00:00Z",
        "topic": "pcb-design",
        "properties": {"file": "a.pdf"},
        "anonymous_id": "v-1",
        "received_at": second["received_at"],
    }
    assert second["received_at"].endswith("Z")
    assert (first["topic"], first["properties"], first["anonymous_id"]) == ("", {}, "")


def test_contact_events_are_paginated(api):
    contact = ContactFactory()
    events_ingest(payload=[{"id": f"p{i}", "type": "page_view", "contact": contact.pk} for i in range(7)])
    body = api.get(events_url(contact), {"page_size": 5}).json()
    assert body["count"] == 7 and len(body["results"]) == 5 and body["next"]
    assert api.get(events_url(contact), {"page_size": 501}).status_code == 400


def test_contact_events_of_unknown_contact_is_404(api):
    assert api.get("/api/v1/contacts/999999/events/").status_code == 404
    assert api.get("/api/v1/contacts/99999999999999999999999999/events/").status_code == 404


def test_contact_events_roles(api_client_for, outsider):
    contact = ContactFactory()
    assert api_client_for(outsider).get(events_url(contact)).status_code == 403
    assert api_client_for(None).get(events_url(contact)).status_code == 401


def test_contact_events_query_count_is_constant(api, django_assert_num_queries):
    contact = ContactFactory()
    api.get("/api/v1/stages/")  # the first request records the token's use
    events_ingest(payload=[{"id": "one", "type": "page_view", "contact": contact.pk}])
    # token, roles, contact, count, page (with the event type joined)
    with django_assert_num_queries(5):
        assert api.get(events_url(contact)).json()["count"] == 1
    events_ingest(
        payload=[
            {"id": f"m{i}", "type": t, "contact": contact.pk}
            for i, t in enumerate(["download", "purchase"] * 20)
        ]
    )
    with django_assert_num_queries(5):
        assert api.get(events_url(contact)).json()["count"] == 41


# Concurrency (PostgreSQL) --------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_duplicates_are_stored_once():
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises writers; concurrent inserts are a PostgreSQL matter")
    contact = ContactFactory()
    batch = [{"id": f"c-{i}", "type": "page_view", "contact": contact.pk} for i in range(200)]
    # A new email as well: both requests try to create that suspect.
    batch += [{"id": f"n-{i}", "type": "page_view", "email": "race@example.com"} for i in range(5)]
    barrier = threading.Barrier(2)
    results, failures = [], []

    def send():
        try:
            barrier.wait(timeout=10)
            results.append(events_ingest(payload=batch))
        except Exception as exc:  # noqa: BLE001 — reported by the assertion below
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not failures, failures
    assert sum(r.accepted for r in results) == len(batch)
    assert sum(r.duplicates for r in results) == len(batch)
    assert Event.objects.count() == len(batch)
    assert Contact.objects.filter(email__iexact="race@example.com").count() == 1
    assert stage("suspect").pk == Contact.objects.get(email="race@example.com").stage_id
