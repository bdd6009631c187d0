"""The scoring engine: ingestion, applying events, decay, caps, stage rules, threshold crossings."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from funnel.models import Contact
from funnel.services import contact_update
from notifications.models import Notification
from scoring import decay
from scoring.ingest import EventBatchInvalid, events_ingest
from scoring.models import (
    ContactRuleScore,
    ContactScore,
    ContactTopic,
    EngagementRule,
    Event,
    ScoringSettings,
)
from scoring.services import events_apply_pending, fit_recompute, scores_refresh_due
from tests.factories import CompanyFactory, ContactFactory, UserFactory, stage

pytestmark = pytest.mark.django_db


def ingest_and_apply(events, now=None):
    result = events_ingest(payload=events, now=now)
    events_apply_pending(now=now)
    return result


def only_rule(event_type: str, points: int, **extra) -> EngagementRule:
    """Make ``event_type`` worth exactly ``points`` (one active rule), for arithmetic tests."""
    EngagementRule.objects.filter(event_type__key=event_type).update(active=False)
    return EngagementRule.objects.create(
        name=f"test {event_type}", event_type_id=_type_id(event_type), points=points, **extra
    )


def _type_id(key):
    from scoring.models import EventType

    return EventType.objects.get(key=key).pk


# --- Decay arithmetic -----------------------------------------------------------------------------


def test_decay_halves_after_one_half_life():
    t = datetime(2026, 3, 1, tzinfo=UTC)
    acc = 40 * decay.growth(t, 30)
    assert decay.value(acc, t, 30) == pytest.approx(40)
    assert decay.value(acc, t + timedelta(days=30), 30) == pytest.approx(20)
    assert decay.value(acc, t + timedelta(days=90), 30) == pytest.approx(5)


def test_next_change_is_when_the_rounded_value_drops():
    t = datetime(2026, 3, 1, tzinfo=UTC)
    acc = 10 * decay.growth(t, 30)
    at = decay.next_change_at(acc, 10, 30)
    # 10 → 9.5 takes log2(10/9.5) half-lives.
    assert (at - t).total_seconds() == pytest.approx(30 * 86400 * 0.0740005814, rel=1e-6)
    assert round(decay.value(acc, at - timedelta(seconds=1), 30)) == 10
    assert round(decay.value(acc, at + timedelta(seconds=1), 30)) == 9
    assert decay.next_change_at(acc, 0, 30) is None


# --- Ingestion ------------------------------------------------------------------------------------


def test_unknown_email_creates_a_suspect_and_resending_counts_duplicates():
    first = events_ingest(payload={"id": "a1", "type": "page_view", "email": "New@Example-Elec.de"})
    again = events_ingest(payload=[{"id": "a1", "type": "page_view", "email": "new@example-elec.de"}])
    assert (first.accepted, first.duplicates) == (1, 0)
    assert (again.accepted, again.duplicates) == (0, 1)
    contact = Contact.objects.get(email__iexact="new@example-elec.de")
    assert contact.stage.key == "suspect"
    assert Event.objects.filter(contact=contact).count() == 1


def test_duplicates_inside_one_batch_are_stored_once():
    contact = ContactFactory()
    result = events_ingest(payload=[{"id": "x", "type": "download", "contact": contact.pk}] * 3)
    assert (result.accepted, result.duplicates) == (1, 2)


def test_a_batch_with_one_invalid_event_stores_nothing():
    contact = ContactFactory()
    before = Contact.objects.count()
    future = (timezone.now() + timedelta(minutes=10)).isoformat()
    with pytest.raises(EventBatchInvalid) as excinfo:
        events_ingest(
            payload=[
                {"id": "ok", "type": "page_view", "email": "never-created@example.com"},
                {"id": "late", "type": "page_view", "contact": contact.pk, "occurred_at": future},
                {"id": "who", "type": "page_view"},
            ]
        )
    assert {(e["index"], e["field"]) for e in excinfo.value.errors} == {
        (1, "occurred_at"),
        (2, "non_field_errors"),
    }
    assert Event.objects.count() == 0
    assert Contact.objects.count() == before


def test_contact_and_email_must_name_the_same_contact():
    a, b = ContactFactory(), ContactFactory()
    with pytest.raises(EventBatchInvalid) as excinfo:
        events_ingest(payload={"id": "m", "type": "page_view", "contact": a.pk, "email": b.email})
    assert excinfo.value.errors[0]["field"] == "email"


def test_identification_attaches_anonymous_history():
    only_rule("page_view", 3)
    ingest_and_apply([{"id": f"anon{i}", "type": "page_view", "anonymous_id": "cookie-1"} for i in range(2)])
    assert Event.objects.filter(contact__isnull=True).count() == 2
    ingest_and_apply(
        {"id": "form", "type": "form_submit", "anonymous_id": "cookie-1", "email": "eva@firma.de"}
    )
    contact = Contact.objects.get(email="eva@firma.de")
    assert contact.events.count() == 3
    rule = ContactRuleScore.objects.get(contact=contact, rule__name="test page_view")
    assert rule.events == 2  # the two earlier anonymous visits now count for the contact
    contact.refresh_from_db()
    assert contact.engagement_score == 3 + 3 + 15


# --- Applying events ------------------------------------------------------------------------------


def test_points_breakdown_topics_and_total():
    contact = ContactFactory()
    now = timezone.now()
    ingest_and_apply(
        [
            {"id": "d1", "type": "download", "contact": contact.pk, "topic": "pcb-design"},
            {"id": "d2", "type": "download", "contact": contact.pk, "topic": "pcb-design"},
            {"id": "n1", "type": "newsletter_click", "contact": contact.pk, "topic": "ems"},
        ],
        now=now,
    )
    contact.refresh_from_db()
    state = ContactScore.objects.get(contact=contact)
    assert contact.engagement_score == 10 + 10 + 5
    assert contact.score == contact.engagement_score + state.fit_score
    topics = {t.topic: t.events for t in ContactTopic.objects.filter(contact=contact)}
    assert topics == {"pcb-design": 2, "ems": 1}
    assert Event.objects.filter(applied_at__isnull=True).count() == 0


def test_applying_twice_counts_once():
    contact = ContactFactory()
    events_ingest(payload={"id": "once", "type": "download", "contact": contact.pk})
    assert events_apply_pending() == 1
    assert events_apply_pending() == 0
    contact.refresh_from_db()
    assert contact.engagement_score == 10


def test_property_match_rule():
    contact = ContactFactory()
    ingest_and_apply(
        [
            {"id": "p1", "type": "page_view", "contact": contact.pk, "properties": {"url": "/de/Pricing/"}},
            {"id": "p2", "type": "page_view", "contact": contact.pk, "properties": {"url": "/blog"}},
        ]
    )
    names = dict(ContactRuleScore.objects.filter(contact=contact).values_list("rule__name", "events"))
    assert names == {"Website visit": 2, "Pricing page visit": 1}


def test_daily_cap_holds_across_batches_and_resets_next_day():
    contact = ContactFactory()
    only_rule("email_open", 2, daily_cap=5)
    day1 = timezone.now() - timedelta(days=2)
    day2 = day1 + timedelta(days=1)
    for batch in range(2):
        ingest_and_apply(
            [
                {
                    "id": f"o{batch}{i}",
                    "type": "email_open",
                    "contact": contact.pk,
                    "occurred_at": day1.isoformat(),
                }
                for i in range(2)
            ]
        )
    ingest_and_apply(
        {"id": "next", "type": "email_open", "contact": contact.pk, "occurred_at": day2.isoformat()}
    )
    settings = ScoringSettings.load()
    acc = ContactScore.objects.get(contact=contact).engagement_acc
    expected = 5 * decay.growth(day1, settings.half_life_days) + 2 * decay.growth(
        day2, settings.half_life_days
    )
    assert acc == pytest.approx(expected, rel=1e-9)
    assert ContactRuleScore.objects.get(contact=contact, rule__name="test email_open").events == 5


def test_engagement_decays_and_due_refresh_stores_it():
    contact = ContactFactory()
    only_rule("download", 40)
    t0 = timezone.now()
    ingest_and_apply(
        {"id": "dl", "type": "download", "contact": contact.pk, "occurred_at": t0.isoformat()}, now=t0
    )
    contact.refresh_from_db()
    assert contact.engagement_score == 40
    later = t0 + timedelta(days=30)
    assert scores_refresh_due(now=later) == 1
    contact.refresh_from_db()
    assert contact.engagement_score == 20


# --- Stage rules ----------------------------------------------------------------------------------


def test_first_identified_activity_makes_a_lead():
    contact = ContactFactory()
    ingest_and_apply({"id": "v", "type": "page_view", "contact": contact.pk})
    contact.refresh_from_db()
    assert contact.stage.key == "lead"
    assert contact.transitions.last().rule == "First identified activity"


def test_fast_lane_event_goes_straight_to_prospect_with_each_step_recorded():
    contact = ContactFactory()
    ingest_and_apply({"id": "demo", "type": "demo_request", "contact": contact.pk})
    contact.refresh_from_db()
    assert contact.stage.key == "prospect"
    assert list(contact.transitions.values_list("to_stage__key", "rule")) == [
        ("suspect", ""),
        ("lead", "First identified activity"),
        ("prospect", "Sales fast lane"),
    ]


@pytest.mark.parametrize(
    "start, event_type, end",
    [
        ("prospect", "purchase", "customer"),
        ("customer", "usage", "consumption"),
        ("consumption", "reference_given", "reference"),
        ("consumption", "referral", "reference"),
        ("lead", "usage", "lead"),  # usage before buying moves nothing
    ],
)
def test_event_type_rules(start, event_type, end):
    contact = ContactFactory(stage=stage(start))
    ingest_and_apply({"id": "e", "type": event_type, "contact": contact.pk})
    contact.refresh_from_db()
    assert contact.stage.key == end


def test_rules_never_move_backwards():
    contact = ContactFactory(stage=stage("reference"))
    ingest_and_apply({"id": "buy", "type": "purchase", "contact": contact.pk})
    contact.refresh_from_db()
    assert contact.stage.key == "reference"


def test_right_time_needs_threshold_and_fit_b():
    company = CompanyFactory(industry="electronics", employees=300)
    fitting = ContactFactory(stage=stage("lead"), company=company, job_title="Hardware-Entwickler")
    unfit = ContactFactory(stage=stage("lead"), email="someone@gmail.com")
    fit_recompute(contact_ids=[fitting.pk, unfit.pk])
    assert ContactScore.objects.get(contact=fitting).fit_grade in ("A", "B")
    assert ContactScore.objects.get(contact=unfit).fit_grade == "D"
    only_rule("service_call", 60)
    ingest_and_apply(
        [
            {"id": "f", "type": "service_call", "contact": fitting.pk},
            {"id": "u", "type": "service_call", "contact": unfit.pk},
        ]
    )
    fitting.refresh_from_db()
    unfit.refresh_from_db()
    assert fitting.stage.key == "prospect"
    assert fitting.transitions.last().rule.startswith("Right time")
    assert unfit.stage.key == "lead"


# --- Threshold crossings --------------------------------------------------------------------------


def test_owner_is_notified_once_per_crossing():
    owner = UserFactory(username="rep", roles=["sales"])
    contact = ContactFactory(stage=stage("customer"), owner=owner)
    only_rule("service_call", 60)
    t0 = timezone.now() - timedelta(days=200)
    ingest_and_apply(
        {"id": "c1", "type": "service_call", "contact": contact.pk, "occurred_at": t0.isoformat()}, now=t0
    )
    ingest_and_apply(
        {"id": "c2", "type": "service_call", "contact": contact.pk, "occurred_at": t0.isoformat()}, now=t0
    )  # still above: no second notification
    assert Notification.objects.filter(user=owner, kind="threshold_crossed").count() == 1
    # Decay takes it below the threshold; new activity brings it back up: a new crossing.
    scores_refresh_due(now=t0 + timedelta(days=150))
    assert ContactScore.objects.get(contact=contact).above_threshold is False
    ingest_and_apply({"id": "c3", "type": "service_call", "contact": contact.pk})
    assert Notification.objects.filter(user=owner, kind="threshold_crossed").count() == 2
    assert contact.threshold_crossings.count() == 2


def test_unowned_contact_crossing_is_recorded_without_notification():
    contact = ContactFactory(stage=stage("customer"))
    only_rule("service_call", 60)
    ingest_and_apply({"id": "c", "type": "service_call", "contact": contact.pk})
    assert contact.threshold_crossings.count() == 1
    assert Notification.objects.count() == 0


# --- Fit ------------------------------------------------------------------------------------------


def test_fit_follows_contact_changes_after_commit(django_capture_on_commit_callbacks):
    contact = ContactFactory(email="a@gmail.com")
    with django_capture_on_commit_callbacks(execute=True):
        contact_update(contact=contact, email="a@alpha-board.de", job_title="CTO")
    contact.refresh_from_db()
    state = ContactScore.objects.get(contact=contact)
    assert state.fit_score == 10 + 15  # business email + technical decision maker
    assert contact.fit_score == 25
    assert contact.score == 25


def test_company_change_rescoring_fit(django_capture_on_commit_callbacks):
    from funnel.services import company_update

    company = CompanyFactory(industry="retail", employees=10)
    contact = ContactFactory(company=company, email="x@gmail.com")
    with django_capture_on_commit_callbacks(execute=True):
        company_update(company=company, industry="Electronics")
    assert ContactScore.objects.get(contact=contact).fit_score == 15
