"""The full score rebuild (scoring.rebuild): same scores as the incremental engine, jobs, progress."""

import random
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from funnel.models import Contact, Tag
from notifications.models import Notification
from scoring import decay, rebuild
from scoring.ingest import events_ingest
from scoring.models import (
    ContactRuleScore,
    ContactScore,
    ContactTopic,
    EngagementRule,
    Event,
    EventType,
    FitRule,
    RebuildJob,
    RuleDayCount,
    ScoringSettings,
    ThresholdCrossing,
)
from scoring.rules import rule_update
from scoring.services import events_apply_pending, fit_recompute
from scoring.tasks import rebuild_scores, resume_score_rebuilds
from tests.factories import CompanyFactory, ContactFactory, UserFactory, stage

pytestmark = pytest.mark.django_db

REL = 1e-9
TYPES = ["page_view", "page_view", "page_view", "email_open", "newsletter_click", "download", "form_submit"]
TOPICS = ["", "", "pcb-design", "ems", "Löten"]
URLS = ["/", "/de/PRICING/", "/pricing", "/service/repair", "/blog", None, 123]


def _type(key):
    return EventType.objects.get(key=key)


@pytest.fixture
def world():
    """Contacts with every kind of fit, extra rules (topic, property, negative, uneven caps, a
    property on a number), and events over several days, applied incrementally in chronological
    chunks (so daily caps carry over from one applied batch to the next)."""
    now = timezone.now()
    owner = UserFactory(username="rep", roles=["sales"])
    electronics = CompanyFactory(industry=" Electronics ", employees=300)
    retail = CompanyFactory(industry="retail", employees=10)
    vip = Tag.objects.create(name="VIP")
    contacts = [
        ContactFactory(company=electronics, job_title="Senior Hardware Engineer", email="a@alpha-board.de"),
        ContactFactory(company=retail, email="b@gmail.com", owner=owner, stage=stage("lead")),
        ContactFactory(company=None, email=None, job_title="CTO"),
        ContactFactory(company=electronics, email="noatsign", owner=owner),
        ContactFactory(company=retail, email="e@GMX.de"),
        ContactFactory(company=None, email="f@firma.de", stage=stage("customer")),
        ContactFactory(),  # no events at all
    ]
    contacts[1].tags.add(vip)
    contacts[4].tags.add(vip)
    FitRule.objects.create(name="VIP tag", attribute="has_tag", value="vip, key account", points=7)
    FitRule.objects.create(name="Retail is a poor fit", attribute="industry_in", value="Retail", points=-5)
    EngagementRule.objects.create(
        name="PCB downloads", event_type=_type("download"), points=7, topic="pcb-design"
    )
    EngagementRule.objects.create(
        name="Service pages",
        event_type=_type("page_view"),
        points=4,
        daily_cap=10,
        property_key="url",
        property_contains="SERVICE",
    )
    EngagementRule.objects.create(
        name="Unsubscribed",
        event_type=_type("newsletter_click"),
        points=-20,
        daily_cap=5,
        property_key="action",
        property_contains="unsub",
    )
    EngagementRule.objects.create(
        name="Plan 4x", event_type=_type("form_submit"), points=3, property_key="plan", property_contains="4"
    )
    EngagementRule.objects.create(name="Old rule", event_type=_type("page_view"), points=50, active=False)
    fit_recompute(contact_ids=[c.pk for c in contacts], now=now)

    rng = random.Random(7)
    events = []
    for day in range(12, 0, -1):
        base = now - timedelta(days=day, hours=rng.randrange(0, 12))
        for index, contact in enumerate(contacts[:-1]):
            for n in range(rng.randrange(0, 9)):
                kind = rng.choice(TYPES)
                properties = {"url": rng.choice(URLS)}
                if kind == "newsletter_click" and rng.random() < 0.3:
                    properties["action"] = "Unsubscribe"
                if kind == "form_submit":
                    properties["plan"] = rng.choice([42, 7, "14b"])
                events.append(
                    {
                        "id": f"e{len(events)}",
                        "type": kind,
                        "contact": contact.pk,
                        "topic": rng.choice(TOPICS),
                        "properties": properties,
                        "occurred_at": (base + timedelta(minutes=7 * n + index)).isoformat(),
                    }
                )
    # Anonymous visits (uncapped type) that a later identification attaches to contact 0.
    for i in range(3):
        events.append(
            {
                "id": f"anon{i}",
                "type": "download",
                "anonymous_id": "cookie-1",
                "topic": "ems",
                "occurred_at": (now - timedelta(days=13, minutes=i)).isoformat(),
            }
        )
    events.sort(key=lambda e: e["occurred_at"])
    for start in range(0, len(events), 17):
        events_ingest(payload=events[start : start + 17], now=now)
        events_apply_pending(now=now)
    events_ingest(
        payload={"id": "ident", "type": "download", "anonymous_id": "cookie-1", "contact": contacts[0].pk},
        now=now,
    )
    events_apply_pending(now=now)
    assert not Event.objects.filter(applied_at__isnull=True).exists()
    return {"now": now, "contacts": contacts, "owner": owner}


def snapshot():
    return {
        "rules": {(r.contact_id, r.rule_id): (r.events, r.acc) for r in ContactRuleScore.objects.all()},
        "topics": {(t.contact_id, t.topic): (t.events, t.acc) for t in ContactTopic.objects.all()},
        "days": {(d.contact_id, d.rule_id, d.day): d.points for d in RuleDayCount.objects.all()},
        "scores": {
            s.contact_id: (s.engagement_acc, s.fit_score, s.fit_grade, s.above_threshold, s.due_at)
            for s in ContactScore.objects.all()
        },
        "contacts": {
            c.pk: (c.engagement_score, c.fit_score, c.score, c.stage_id) for c in Contact.objects.all()
        },
    }


def assert_same(actual, expected):
    assert actual.keys() == expected.keys()
    for part in expected:
        assert actual[part].keys() == expected[part].keys(), part
        for key, want in expected[part].items():
            got = actual[part][key]
            want = want if isinstance(want, tuple) else (want,)
            got = got if isinstance(got, tuple) else (got,)
            for g, w in zip(got, want, strict=True):
                if isinstance(w, float):
                    assert g == pytest.approx(w, rel=REL), (part, key)
                elif hasattr(w, "timestamp") and g is not None:
                    assert abs((g - w).total_seconds()) < 0.01, (part, key)
                else:
                    assert g == w, (part, key)


def run_job(job_id=None, *, now, **kwargs):
    job_id = job_id or rebuild.rebuild_request(reason="test").pk
    while rebuild.rebuild_run(job_id=job_id, now=now, **kwargs):
        pass
    return RebuildJob.objects.get(pk=job_id)


def wipe_scores():
    for model in (ContactRuleScore, ContactTopic, RuleDayCount):
        model.objects.all().delete()
    ContactScore.objects.update(engagement_acc=123.0, fit_score=99, fit_grade="A", due_at=None)
    Contact.objects.update(engagement_score=7, fit_score=7, score=14)


# --- Same scores as the incremental engine --------------------------------------------------------


def test_rebuild_gives_the_same_scores_as_incremental_updates(world):
    expected = snapshot()
    assert len(expected["rules"]) > 15 and len(expected["days"]) > 20 and len(expected["topics"]) > 10
    assert any(acc < 0 for _events, acc in expected["rules"].values())  # the negative rule counted
    crossings, notifications = ThresholdCrossing.objects.count(), Notification.objects.count()
    wipe_scores()

    job = run_job(now=world["now"], batch_size=3)

    assert job.status == RebuildJob.Status.DONE
    assert_same(snapshot(), expected)
    assert (ThresholdCrossing.objects.count(), Notification.objects.count()) == (crossings, notifications)


def test_rebuild_of_rebuilt_scores_changes_nothing(world):
    expected = snapshot()
    run_job(now=world["now"])
    run_job(now=world["now"], batch_size=2)
    assert_same(snapshot(), expected)


def test_daily_cap_counts_in_order_of_occurrence(world):
    contact = world["contacts"][6]
    webinar = EventType.objects.create(key="webinar", name="Webinar")
    rule = EngagementRule.objects.create(name="Webinars", event_type=webinar, points=2, daily_cap=5)
    day = world["now"] - timedelta(days=1)
    late_first = [  # delivered in reverse: the engine sorts a batch by occurrence, as the rebuild does
        {
            "id": f"w{i}",
            "type": "webinar",
            "contact": contact.pk,
            "occurred_at": (day + timedelta(minutes=i)).isoformat(),
        }
        for i in reversed(range(4))
    ]
    events_ingest(payload=late_first, now=world["now"])
    events_apply_pending(now=world["now"])
    expected = snapshot()
    assert RuleDayCount.objects.get(contact=contact, rule=rule).points == 5  # 2 + 2 + 1 + 0
    run_job(now=world["now"])
    assert_same(snapshot(), expected)
    acc = ContactRuleScore.objects.get(contact=contact, rule=rule).acc
    weights = [decay.growth(day + timedelta(minutes=i), 30) for i in range(4)]
    assert acc == pytest.approx(2 * weights[0] + 2 * weights[1] + weights[2], rel=REL)


# --- Rule changes, jobs ---------------------------------------------------------------------------


def test_rule_change_requests_a_rebuild_that_gives_the_new_scores(world, django_capture_on_commit_callbacks):
    now = world["now"]
    contact = world["contacts"][0]
    visit = EngagementRule.objects.get(name="Website visit")
    opened = EngagementRule.objects.get(name="Email opened")
    assert ContactRuleScore.objects.filter(rule=opened).exists()
    with django_capture_on_commit_callbacks() as callbacks:
        rule_update(instance=visit, by=world["owner"], points=2, daily_cap=None)
        rule_update(instance=opened, by=world["owner"], active=False)
    job = RebuildJob.objects.get()  # the second change joined the pending job
    assert job.status == RebuildJob.Status.PENDING
    assert "Website visit" in job.reason and "Email opened" in job.reason
    assert job.requested_by == world["owner"]
    assert len(callbacks) == 2

    job = run_job(job.pk, now=now)
    assert job.status == RebuildJob.Status.DONE
    rebuilt = snapshot()
    # Website visits are now worth 2 each without a cap, weighted by when they happened.
    visits = list(
        Event.objects.filter(contact=contact, type__key="page_view").values_list("occurred_at", flat=True)
    )
    acc = ContactRuleScore.objects.get(contact=contact, rule=visit).acc
    assert acc == pytest.approx(sum(2 * decay.growth(t, 30) for t in visits), rel=REL)
    assert not RuleDayCount.objects.filter(rule=visit).exists()
    assert not ContactRuleScore.objects.filter(rule=opened).exists()
    assert not RuleDayCount.objects.filter(rule=opened).exists()

    # The same as applying every event from scratch with the new rules (in order of occurrence).
    for model in (ContactRuleScore, ContactTopic, RuleDayCount, ContactScore):
        model.objects.all().delete()
    Event.objects.filter(contact__isnull=False).update(applied_at=None)
    events_apply_pending(now=now, limit=10_000)
    fit_recompute(contact_ids=Contact.objects.values_list("pk", flat=True), now=now)
    from_scratch = snapshot()
    # Stage rules moved nobody during the rebuild; the replay may, so compare scores only.
    for part in ("rules", "topics", "days", "scores"):
        assert_same({part: rebuilt[part]}, {part: from_scratch[part]})
    for pk, values in from_scratch["contacts"].items():
        assert_same({"c": {pk: values[:3]}}, {"c": {pk: rebuilt["contacts"][pk][:3]}})


def test_crossing_caused_by_a_rule_change_notifies_nobody(world):
    owner, contact = world["owner"], world["contacts"][1]
    assert contact.owner == owner
    ScoringSettings.objects.update(sales_threshold=100_000)
    run_job(now=world["now"])  # nobody is above the threshold now, silently
    state = ContactScore.objects.get(contact=contact)
    assert not state.above_threshold
    crossings, notifications = ThresholdCrossing.objects.count(), Notification.objects.count()
    EngagementRule.objects.create(name="Huge", event_type=_type("page_view"), points=1000)
    ScoringSettings.objects.update(sales_threshold=500)
    run_job(now=world["now"])
    state.refresh_from_db()
    contact.refresh_from_db()
    assert state.above_threshold and contact.engagement_score >= 500
    assert ThresholdCrossing.objects.count() == crossings
    assert Notification.objects.count() == notifications


def test_pending_events_are_left_to_the_engine_and_the_sum_is_exact(world):
    now, contact = world["now"], world["contacts"][2]
    events_ingest(
        payload=[
            {"id": "late1", "type": "download", "contact": contact.pk, "topic": "ems"},
            {"id": "late2", "type": "page_view", "contact": contact.pk, "properties": {"url": "/service"}},
        ],
        now=now,
    )
    run_job(now=now)  # the two pending events are not part of it
    assert Event.objects.filter(applied_at__isnull=True).count() == 2
    events_apply_pending(now=now)
    incremental = snapshot()
    run_job(now=now)
    assert_same(snapshot(), incremental)


def test_running_a_done_job_again_does_nothing(world):
    job = run_job(now=world["now"])
    before = snapshot()
    wipe_scores()  # would be visible if the job ran again
    wiped = snapshot()
    assert rebuild_scores(job.pk) is False
    assert rebuild.rebuild_run(job_id=job.pk) is False
    assert_same(snapshot(), wiped)
    again = RebuildJob.objects.get(pk=job.pk)
    assert (again.status, again.batches, again.done_contacts, again.finished_at) == (
        job.status,
        job.batches,
        job.done_contacts,
        job.finished_at,
    )
    assert before != wiped


def test_a_job_resumed_after_a_crash_gives_the_same_result(world, monkeypatch):
    expected = snapshot()
    wipe_scores()
    name = "_rebuild_range_sql" if rebuild.connection.vendor == "postgresql" else "_rebuild_range_python"
    real = getattr(rebuild, name)
    calls = []

    def crash_in_second_batch(lo, hi, now):
        calls.append((lo, hi))
        real(lo, hi, now)  # the batch's writes happen, then the worker dies before commit
        if len(calls) == 2:
            raise RuntimeError("worker lost")

    monkeypatch.setattr(rebuild, name, crash_in_second_batch)
    job = rebuild.rebuild_request(reason="test")
    with pytest.raises(RuntimeError):
        rebuild.rebuild_run(job_id=job.pk, now=world["now"], batch_size=2)
    job.refresh_from_db()
    ids = sorted(Contact.objects.values_list("pk", flat=True))
    assert job.status == RebuildJob.Status.RUNNING
    assert (job.last_contact_id, job.done_contacts, job.batches, job.failures) == (ids[1], 2, 1, 1)
    assert job.error == ""  # one failure is not fatal
    # The second batch was rolled back with the cursor: its contacts still show the wiped values.
    assert Contact.objects.get(pk=ids[2]).score == 14

    job = run_job(job.pk, now=world["now"], batch_size=2)
    assert job.status == RebuildJob.Status.DONE
    assert job.done_contacts == len(ids) and job.failures == 0
    assert calls[2][0] == ids[1]  # resumed after the last committed batch
    assert_same(snapshot(), expected)


def test_a_job_fails_after_repeated_errors(world, monkeypatch):
    def broken(lo, hi, now):
        raise RuntimeError("disk full")

    monkeypatch.setattr(rebuild, "_rebuild_range_sql", broken)
    monkeypatch.setattr(rebuild, "_rebuild_range_python", broken)
    job = rebuild.rebuild_request()
    for _ in range(rebuild.MAX_FAILURES):
        with pytest.raises(RuntimeError):
            rebuild.rebuild_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == RebuildJob.Status.FAILED
    assert "disk full" in job.error and job.finished_at
    assert rebuild.rebuild_status() == job


def test_progress_fields_advance(world):
    seen = []
    job = rebuild.rebuild_request(reason="test")
    assert rebuild.rebuild_status() == job
    assert (job.done_contacts, job.total_contacts, job.started_at) == (0, 0, None)
    while rebuild.rebuild_run(job_id=job.pk, batch_size=3, budget_seconds=1e-9, progress=seen.append):
        pass
    total = Contact.objects.count()
    assert [j.done_contacts for j in seen] == [3, 6, 7, 7]
    assert all(j.total_contacts == total for j in seen)
    assert [j.status for j in seen][-1] == RebuildJob.Status.DONE
    lasts = [j.last_contact_id for j in seen]
    assert lasts == sorted(lasts) and lasts[-1] == max(c.pk for c in world["contacts"])
    job.refresh_from_db()
    assert job.started_at <= job.heartbeat_at <= job.finished_at
    assert (job.batches, job.percent) == (3, 100)


def test_requests_join_a_pending_job_and_a_new_one_supersedes_a_running_one(
    monkeypatch, django_capture_on_commit_callbacks
):
    queued = []
    monkeypatch.setattr(rebuild_scores, "delay", queued.append)
    with django_capture_on_commit_callbacks(execute=True):
        first = rebuild.rebuild_request(reason="rule A changed")
        same = rebuild.rebuild_request(reason="rule B changed")
        rebuild.rebuild_request(reason="rule B changed")
    assert same.pk == first.pk
    first.refresh_from_db()
    assert first.reason == "rule A changed; rule B changed"
    assert queued == [first.pk] * 3  # each request queues it (a lost message is made up for)

    assert rebuild.rebuild_run(job_id=first.pk, budget_seconds=1e-9, batch_size=1) is False  # no contacts
    first.refresh_from_db()
    assert first.status == RebuildJob.Status.DONE

    ContactFactory.create_batch(3)
    running = rebuild.rebuild_request(reason="rule C changed")
    assert running.pk != first.pk
    assert rebuild.rebuild_run(job_id=running.pk, budget_seconds=1e-9, batch_size=1) is True
    newer = rebuild.rebuild_request(reason="rule D changed")
    assert newer.pk != running.pk and newer.status == RebuildJob.Status.PENDING
    assert rebuild.rebuild_status() == newer
    run_job(newer.pk, now=timezone.now(), batch_size=1)
    running.refresh_from_db()
    assert running.status == RebuildJob.Status.SUPERSEDED
    assert rebuild.rebuild_run(job_id=running.pk) is False  # its task stops at the next batch
    running.refresh_from_db()
    assert running.done_contacts == 1


def test_broker_errors_are_logged_and_the_periodic_check_queues_the_job(
    monkeypatch, caplog, django_capture_on_commit_callbacks
):
    def down(job_id):
        raise ConnectionError("broker down")

    monkeypatch.setattr(rebuild_scores, "delay", down)
    with django_capture_on_commit_callbacks(execute=True):
        job = rebuild.rebuild_request(reason="x")  # does not raise
    assert "Could not queue score rebuild" in caplog.text
    queued = []
    monkeypatch.setattr(rebuild_scores, "delay", queued.append)
    assert resume_score_rebuilds() == 0  # too recent: its task may still be on the way
    RebuildJob.objects.filter(pk=job.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    assert resume_score_rebuilds() == 1
    assert queued == [job.pk]

    # A running job whose worker died is queued again, one that makes progress is not.
    ContactFactory.create_batch(2)
    rebuild.rebuild_run(job_id=job.pk, batch_size=1, budget_seconds=1e-9)
    assert rebuild.rebuild_resume() == []
    later = timezone.now() + rebuild.RESUME_AFTER + timedelta(seconds=1)
    assert rebuild.rebuild_resume(now=later) == [job.pk]


def test_task_requeues_itself_until_done(world, monkeypatch):
    queued = []
    monkeypatch.setattr(rebuild_scores, "delay", queued.append)
    monkeypatch.setattr(rebuild, "TASK_BUDGET_SECONDS", 1e-9)
    monkeypatch.setattr(rebuild, "BATCH_CONTACTS", 3)
    monkeypatch.setattr(rebuild, "BATCH_CONTACTS_PYTHON", 3)
    job = rebuild.rebuild_request()
    queued.clear()
    while rebuild_scores(job.pk):
        assert queued.pop() == job.pk
    assert not queued
    assert RebuildJob.objects.get(pk=job.pk).status == RebuildJob.Status.DONE


def test_command_rebuilds_with_progress(world):
    expected = snapshot()
    wipe_scores()
    out = StringIO()
    call_command("rebuild_scores", "--batch-size", "4", stdout=out)
    text = out.getvalue()
    assert "4 of 7 contacts" in text and "done: 7 contacts in 2 batches" in text
    assert_same(snapshot(), expected)
