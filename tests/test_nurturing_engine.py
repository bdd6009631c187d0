"""The nurture engine: steps in order with frozen time, branches, waits, triggers, exits, the fast
lane, consent, and exactly-once effects (retries, crashes, two workers)."""

import threading
from datetime import UTC, datetime, time, timedelta

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from funnel.models import Contact, Tag
from funnel.services import contact_delete, contact_move_stage, contact_set_tags
from notifications.models import Notification
from nurturing import delivery, engine, triggers
from nurturing.models import (
    Enrollment,
    NurtureSettings,
    OutboundEmail,
    Sequence,
    Step,
    StepRun,
)
from nurturing.services import (
    enroll,
    sequence_activate,
    sequence_save,
    step_save,
    template_save,
)
from sales.models import Task
from scoring.models import Event, EventType
from tests.factories import ContactFactory, UserFactory, stage

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday


@pytest.fixture
def template(db):
    return template_save(
        name="Welcome",
        subject="Hello {{ first_name }}",
        body_text="Hi {{ first_name }}, see https://example.com/guide\nUnsubscribe: {{ unsubscribe_url }}",
        body_html='<p>Hi {{ first_name }}, <a href="https://example.com/guide?a=1&amp;b=2">guide</a></p>',
    )


def build(*steps, name="Nurture", **fields) -> Sequence:
    """A sequence with these steps (dicts of step_save fields), activated."""
    sequence = sequence_save(name=name, **fields)
    for fields_ in steps:
        step_save(sequence=sequence, **fields_)
    return sequence_activate(sequence=sequence)


def run(now, rounds=5):
    for _ in range(rounds):
        if not engine.tick(now=now):
            break


def consenting(**kwargs) -> Contact:
    return ContactFactory(consent_email=True, **kwargs)


def kinds_run(enrollment):
    return list(StepRun.objects.filter(enrollment=enrollment).order_by("tick").values_list("kind", "outcome"))


# --- Steps in order -------------------------------------------------------------------------------


def test_three_mails_over_two_weeks(template):
    sequence = build(
        {"kind": "email", "template": template},
        {"kind": "wait", "wait": timedelta(days=7)},
        {"kind": "email", "template": template},
        {"kind": "wait", "wait": timedelta(days=7)},
        {"kind": "email", "template": template},
    )
    contact = consenting(first_name="Anna")
    enroll(sequence=sequence, contact_ids=[contact.pk], now=T0)
    run(T0)
    assert OutboundEmail.objects.count() == 1
    enrollment = Enrollment.objects.get()
    assert enrollment.next_run_at == T0 + timedelta(days=7)
    assert enrollment.step.position == 3

    run(T0 + timedelta(days=6, hours=23))  # not yet
    assert OutboundEmail.objects.count() == 1
    run(T0 + timedelta(days=7))
    assert OutboundEmail.objects.count() == 2
    run(T0 + timedelta(days=14))
    enrollment.refresh_from_db()
    assert OutboundEmail.objects.count() == 3
    assert enrollment.state == Enrollment.State.COMPLETED
    assert enrollment.step is None and enrollment.next_run_at is None
    assert [k for k, _ in kinds_run(enrollment)] == ["email", "wait", "email", "wait", "email"]
    assert sorted(OutboundEmail.objects.values_list("key", flat=True)) == [
        f"n{enrollment.pk}t0",
        f"n{enrollment.pk}t2",
        f"n{enrollment.pk}t4",
    ]


def test_email_is_personalised_escaped_and_tracked(template):
    sequence = build({"kind": "email", "template": template})
    contact = consenting(first_name="<b>Jörg</b>")
    enroll(sequence=sequence, contact_ids=[contact.pk], now=T0)
    run(T0)
    email = OutboundEmail.objects.get()
    assert email.subject == "Hello <b>Jörg</b>"  # plain text: no escaping in a header
    assert "&lt;b&gt;Jörg&lt;/b&gt;" in email.body_html
    assert "https://example.com/guide" not in email.body_text  # rewritten to the tracking redirect
    assert "/n/c/" in email.body_text and "/n/u/" in email.body_text
    assert "/n/c/" in email.body_html


def test_no_consent_no_email_but_the_sequence_goes_on(template):
    sequence = build({"kind": "email", "template": template}, {"kind": "email", "template": template})
    contact = ContactFactory(consent_email=False)
    enroll(sequence=sequence, contact_ids=[contact.pk], now=T0)
    run(T0)
    assert not OutboundEmail.objects.exists()
    enrollment = Enrollment.objects.get()
    assert enrollment.state == Enrollment.State.COMPLETED
    assert kinds_run(enrollment) == [("email", "skipped"), ("email", "skipped")]


def test_send_window_defers_to_the_next_opening(template):
    sequence = build(
        {"kind": "email", "template": template},
        window_start=time(8),
        window_end=time(18),
        window_days="12345",
        time_zone="Europe/Berlin",
    )
    contact = consenting()
    saturday_noon = datetime(2026, 3, 7, 11, 0, tzinfo=UTC)
    enroll(sequence=sequence, contact_ids=[contact.pk], now=saturday_noon)
    run(saturday_noon)
    enrollment = Enrollment.objects.get()
    assert not OutboundEmail.objects.exists()
    # Monday 08:00 in Berlin (CET, UTC+1) = 07:00 UTC; deferred, not dropped.
    assert enrollment.next_run_at == datetime(2026, 3, 9, 7, 0, tzinfo=UTC)
    assert enrollment.state == Enrollment.State.ACTIVE
    run(datetime(2026, 3, 9, 7, 0, tzinfo=UTC))
    assert OutboundEmail.objects.count() == 1


# --- Branches and waiting for events --------------------------------------------------------------


def test_branch_on_score(template):
    sequence = sequence_save(name="Branchy")
    branch = step_save(sequence=sequence, kind="branch", condition="score_gte", condition_value="50")
    step_save(sequence=sequence, kind="notify", text="Warm lead")
    end = step_save(sequence=sequence, kind="end")
    tag = Tag.objects.create(name="cold")
    step_save(sequence=sequence, kind="add_tag", tag=tag)
    step_save(
        sequence=sequence,
        step=branch,
        kind="branch",
        condition="score_gte",
        condition_value="50",
        no_step=Step.objects.get(sequence=sequence, position=4),
    )
    sequence = sequence_activate(sequence=sequence)
    owner = UserFactory(roles=["sales"])
    hot = ContactFactory(owner=owner)
    cold = ContactFactory(owner=owner)
    Contact.objects.filter(pk=hot.pk).update(score=60)
    Contact.objects.filter(pk=cold.pk).update(score=10)
    enroll(sequence=sequence, contact_ids=[hot.pk, cold.pk], now=T0)
    run(T0)
    assert Notification.objects.filter(kind="sequence", contact=hot).count() == 1
    assert not Notification.objects.filter(contact=cold).exists()
    assert list(cold.tags.values_list("name", flat=True)) == ["cold"]
    assert not hot.tags.exists()
    hot_runs = StepRun.objects.filter(enrollment__contact=hot).order_by("tick")
    assert [(r.kind, r.step_id) for r in hot_runs] == [
        ("branch", branch.pk),
        ("notify", hot_runs[1].step_id),
        ("end", end.pk),
    ]
    assert set(Enrollment.objects.values_list("state", flat=True)) == {"completed"}


def _wait_for_demo(template):
    demo = EventType.objects.get(key="download")
    sequence = sequence_save(name="Wait")
    wait = step_save(sequence=sequence, kind="wait_event", event_type=demo, wait=timedelta(days=3))
    yes = step_save(sequence=sequence, kind="notify", text="Downloaded")
    step_save(sequence=sequence, kind="end")
    no = step_save(sequence=sequence, kind="email", template=template)
    step_save(
        sequence=sequence,
        step=wait,
        kind="wait_event",
        event_type=demo,
        wait=timedelta(days=3),
        yes_step=yes,
        no_step=no,
    )
    return sequence_activate(sequence=sequence), demo


def test_wait_until_event_takes_the_yes_branch_when_it_comes(template):
    sequence, download = _wait_for_demo(template)
    contact = consenting(owner=UserFactory(roles=["sales"]))
    enroll(sequence=sequence, contact_ids=[contact.pk], now=T0)
    run(T0)
    enrollment = Enrollment.objects.get()
    assert enrollment.waiting_since == T0 and enrollment.next_run_at == T0 + timedelta(days=3)
    event = Event.objects.create(
        external_id="d1", type=download, contact=contact, occurred_at=T0 + timedelta(days=1)
    )
    triggers.events_applied(events=[(event.pk, contact.pk, download.pk, "")], now=T0 + timedelta(days=1))
    enrollment.refresh_from_db()
    assert enrollment.next_run_at == T0 + timedelta(days=1)  # woken now, not at the timeout
    run(T0 + timedelta(days=1, minutes=1))
    enrollment.refresh_from_db()
    assert enrollment.state == "completed"
    assert Notification.objects.filter(kind="sequence", title="Downloaded").count() == 1
    assert not OutboundEmail.objects.exists()


def test_wait_until_event_times_out_to_the_no_branch(template):
    sequence, download = _wait_for_demo(template)
    contact = consenting()
    # An event before the wait began does not count.
    Event.objects.create(
        external_id="old", type=download, contact=contact, occurred_at=T0 - timedelta(days=1)
    )
    enroll(sequence=sequence, contact_ids=[contact.pk], now=T0)
    run(T0)
    run(T0 + timedelta(days=2))
    assert Enrollment.objects.get().state == "active"
    run(T0 + timedelta(days=3))
    assert OutboundEmail.objects.count() == 1
    assert Enrollment.objects.get().state == "completed"


# --- Triggers -------------------------------------------------------------------------------------


def test_stage_entry_enrolls_and_goal_exits(template, sales_user):
    sequence = build(
        {"kind": "wait", "wait": timedelta(days=1)},
        {"kind": "email", "template": template},
        trigger="stage_entered",
        trigger_stage=stage("lead"),
        goal_stage=stage("prospect"),
    )
    contact = consenting()
    with pytest.raises(Enrollment.DoesNotExist):
        Enrollment.objects.get(contact=contact)
    with_commit(lambda: contact_move_stage(contact=contact, stage=stage("lead"), by=sales_user))
    enrollment = Enrollment.objects.get(contact=contact, sequence=sequence)
    assert enrollment.state == "active"
    with_commit(lambda: contact_move_stage(contact=contact, stage=stage("prospect"), by=sales_user))
    enrollment.refresh_from_db()
    assert (enrollment.state, enrollment.exit_reason) == ("exited", "goal")


def with_commit(fn):
    """Run ``fn`` and its on-commit callbacks (the receivers run after commit)."""
    from django.test import TestCase

    with TestCase.captureOnCommitCallbacks(execute=True):
        return fn()


def test_score_event_and_tag_triggers(template):
    by_score = build({"kind": "end"}, name="Hot", trigger="score_reached", trigger_score=40)
    download = EventType.objects.get(key="download")
    by_event = build(
        {"kind": "end"}, name="PCB", trigger="event", trigger_event_type=download, trigger_topic="pcb-design"
    )
    tag = Tag.objects.create(name="webinar")
    by_tag = build({"kind": "end"}, name="Tagged", trigger="tag_added", trigger_tag=tag)
    a, b = ContactFactory(), ContactFactory()
    Contact.objects.filter(pk=a.pk).update(score=45)
    triggers.scores_changed(contact_ids=[a.pk, b.pk])
    assert list(Enrollment.objects.filter(sequence=by_score).values_list("contact_id", flat=True)) == [a.pk]
    triggers.events_applied(events=[(1, a.pk, download.pk, "other"), (2, b.pk, download.pk, "pcb-design")])
    assert list(Enrollment.objects.filter(sequence=by_event).values_list("contact_id", flat=True)) == [b.pk]
    with_commit(lambda: contact_set_tags(contact=a, tags=["webinar"]))
    assert list(Enrollment.objects.filter(sequence=by_tag).values_list("contact_id", flat=True)) == [a.pk]


def test_reentry_never_and_after_days(template):
    never = build({"kind": "end"}, name="Once")
    again = build({"kind": "end"}, name="Again", reentry="after_days", reentry_days=30)
    contact = ContactFactory()
    for sequence in (never, again):
        assert enroll(sequence=sequence, contact_ids=[contact.pk], now=T0).enrolled == [contact.pk]
        assert enroll(sequence=sequence, contact_ids=[contact.pk], now=T0).already == [contact.pk]
    run(T0)
    assert enroll(sequence=never, contact_ids=[contact.pk], now=T0 + timedelta(days=90)).not_again == [
        contact.pk
    ]
    assert enroll(sequence=again, contact_ids=[contact.pk], now=T0 + timedelta(days=29)).not_again == [
        contact.pk
    ]
    assert enroll(sequence=again, contact_ids=[contact.pk], now=T0 + timedelta(days=31)).enrolled == [
        contact.pk
    ]


def test_inactive_sequences_take_nobody_and_pause(template):
    sequence = build({"kind": "wait", "wait": timedelta(hours=1)}, {"kind": "email", "template": template})
    contact = consenting()
    enroll(sequence=sequence, contact_ids=[contact.pk], now=T0)
    run(T0)
    Sequence.objects.filter(pk=sequence.pk).update(active=False)
    run(T0 + timedelta(hours=2))
    assert not OutboundEmail.objects.exists()  # paused, not skipped
    Sequence.objects.filter(pk=sequence.pk).update(active=True)
    run(T0 + timedelta(hours=2))
    assert OutboundEmail.objects.count() == 1


# --- Exits: fast lane, unsubscribe, deletion ------------------------------------------------------


def test_fast_lane_ends_all_sequences_and_creates_one_task(template):
    reps = [UserFactory(username=f"rep{i}", roles=["sales"]) for i in range(2)]
    NurtureSettings.load()
    first = build(
        {"kind": "wait", "wait": timedelta(days=3)}, {"kind": "email", "template": template}, name="A"
    )
    second = build(
        {"kind": "wait", "wait": timedelta(days=3)}, {"kind": "email", "template": template}, name="B"
    )
    unowned = [consenting(), consenting()]
    for sequence in (first, second):
        enroll(sequence=sequence, contact_ids=[c.pk for c in unowned], now=T0)
    demo = EventType.objects.get(key="demo_request")
    events = [(100 + i, c.pk, demo.pk, "") for i, c in enumerate(unowned)]
    triggers.events_applied(events=events)
    triggers.events_applied(events=events)  # delivered twice: nothing new
    assert set(Enrollment.objects.values_list("state", "exit_reason")) == {("exited", "fast_lane")}
    tasks = list(Task.objects.order_by("contact_id"))
    assert len(tasks) == 2
    assert all(t.source == "fast_lane" and t.priority == Task.Priority.HIGH for t in tasks)
    # Round-robin among the sales users: each rep got one.
    assert sorted(t.owner_id for t in tasks) == sorted(r.pk for r in reps)
    for task in tasks:
        assert Contact.objects.get(pk=task.contact_id).owner_id == task.owner_id
    assert Notification.objects.filter(kind="fast_lane").count() == 2
    run(T0 + timedelta(days=4))
    assert not OutboundEmail.objects.exists()


def test_fast_lane_default_owner(template):
    boss = UserFactory(roles=["sales"])
    NurtureSettings.objects.update_or_create(
        pk=1, defaults={"unowned_assignment": "default_owner", "default_owner": boss}
    )
    contact = ContactFactory()
    demo = EventType.objects.get(key="price_request")
    triggers.events_applied(events=[(7, contact.pk, demo.pk, "")])
    assert Task.objects.get().owner == boss


def test_unsubscribe_exits_and_suppresses_queued_mail(template, client):
    sequence = build(
        {"kind": "email", "template": template},
        {"kind": "wait", "wait": timedelta(days=1)},
        {"kind": "email", "template": template},
    )
    contact = consenting()
    enroll(sequence=sequence, contact_ids=[contact.pk], now=T0)
    run(T0)
    from nurturing.emails import unsubscribe_url

    path = unsubscribe_url(contact.pk).split("://", 1)[1].split("/", 1)[1]
    assert client.get("/" + path).status_code == 200
    contact.refresh_from_db()
    assert contact.consent_email  # a GET (link scanner) does not unsubscribe
    assert client.post("/" + path).status_code == 200
    contact.refresh_from_db()
    assert not contact.consent_email
    assert contact.consent_changes.get().source == "unsubscribe_link"
    enrollment = Enrollment.objects.get()
    assert (enrollment.state, enrollment.exit_reason) == ("exited", "unsubscribed")
    delivery.deliver(now=T0)
    assert OutboundEmail.objects.get().state == "suppressed"
    assert mail.outbox == []
    assert client.post("/n/u/forged-token/").status_code == 404


def test_deleted_contact_ends_its_enrollments(template):
    sequence = build({"kind": "wait", "wait": timedelta(days=1)}, {"kind": "email", "template": template})
    contact = consenting()
    enroll(sequence=sequence, contact_ids=[contact.pk], now=T0)
    contact_delete(contact=contact)
    enrollment = Enrollment.objects.get()
    assert (enrollment.state, enrollment.exit_reason, enrollment.contact_id) == (
        "exited",
        "contact_deleted",
        None,
    )


# --- Delivery -------------------------------------------------------------------------------------


def test_delivery_sends_once_with_the_key_as_message_id(template):
    sequence = build({"kind": "email", "template": template})
    contact = consenting(email="anna@example.com")
    enroll(sequence=sequence, contact_ids=[contact.pk], now=T0)
    run(T0)
    assert delivery.deliver(now=T0) == 1
    assert delivery.deliver(now=T0) == 0
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    row = OutboundEmail.objects.get()
    assert row.state == "sent" and row.attempts == 1
    assert message.extra_headers["Message-ID"] == row.message_id
    assert message.to == ["anna@example.com"]
    assert "List-Unsubscribe" in message.extra_headers
    assert message.alternatives and "text/html" in message.alternatives[0][1]


def test_emails_a_crash_left_unattempted_are_sent_after_the_lease(template):
    sequence = build({"kind": "email", "template": template})
    enroll(sequence=sequence, contact_ids=[consenting().pk], now=T0)
    run(T0)
    # A worker claimed the batch ("sending"), then died before it got to this email.
    OutboundEmail.objects.update(state="sending", sending_since=T0)
    assert delivery.deliver(now=T0 + timedelta(minutes=5)) == 0  # within the lease: maybe still working
    assert delivery.deliver(now=T0 + delivery.LEASE) == 1
    row = OutboundEmail.objects.get()
    assert (row.state, row.attempts) == ("sent", 1)
    assert [m.extra_headers["Message-ID"] for m in mail.outbox] == [row.message_id]


def test_the_email_in_flight_at_a_crash_is_never_sent_twice(template):
    sequence = build({"kind": "email", "template": template})
    enroll(sequence=sequence, contact_ids=[consenting().pk], now=T0)
    run(T0)
    # The worker recorded the attempt, maybe handed the email to the provider, and died.
    OutboundEmail.objects.update(state="sending", sending_since=T0, attempted_at=T0, attempts=1)
    assert delivery.deliver(now=T0 + delivery.LEASE) == 0
    row = OutboundEmail.objects.get()
    assert (row.state, row.attempts) == ("unconfirmed", 1)
    assert "not sent again" in row.last_error
    assert mail.outbox == []


def test_provider_errors_are_retried_with_backoff_then_fail(template, settings):
    settings.EMAIL_BACKEND = "tests.test_nurturing_engine.FailingBackend"
    sequence = build({"kind": "email", "template": template})
    enroll(sequence=sequence, contact_ids=[consenting().pk], now=T0)
    run(T0)
    now = T0
    for attempt in range(1, delivery.MAX_ATTEMPTS + 1):
        assert delivery.deliver(now=now) == 1
        row = OutboundEmail.objects.get()
        assert row.attempts == attempt
        if attempt < delivery.MAX_ATTEMPTS:
            assert row.state == "queued" and row.next_attempt_at > now
            now = row.next_attempt_at
    assert row.state == "failed" and "ConnectionRefusedError" in row.last_error
    assert delivery.deliver(now=now + timedelta(days=30)) == 0


class FailingBackend:
    def __init__(self, *args, **kwargs):
        pass

    def open(self):
        return True

    def close(self):
        pass

    def send_messages(self, messages):
        raise ConnectionRefusedError("provider down")


# --- Exactly once ---------------------------------------------------------------------------------


def test_a_crash_before_commit_leaves_nothing_and_the_rerun_sends_once(template, monkeypatch):
    sequence = build({"kind": "email", "template": template}, {"kind": "notify", "text": "x"})
    owner = UserFactory(roles=["sales"])
    enroll(sequence=sequence, contact_ids=[consenting(owner=owner).pk], now=T0)

    def crash(self):
        real_write(self)
        raise SystemExit("worker killed after writing, before commit")

    real_write = engine._Batch.write
    monkeypatch.setattr(engine._Batch, "write", crash)
    with pytest.raises(SystemExit):
        engine.tick(now=T0)
    assert not OutboundEmail.objects.exists() and not StepRun.objects.exists()
    monkeypatch.setattr(engine._Batch, "write", real_write)
    run(T0)
    run(T0)
    assert OutboundEmail.objects.count() == 1
    assert Notification.objects.filter(kind="sequence").count() == 1
    assert StepRun.objects.count() == 2


def test_a_failing_step_is_retried_then_the_enrollment_fails(template, monkeypatch):
    sequence = build({"kind": "email", "template": template})
    enroll(sequence=sequence, contact_ids=[consenting().pk], now=T0)

    def broken(*args, **kwargs):
        raise RuntimeError("template engine exploded")

    monkeypatch.setattr(engine.emails, "compose", broken)
    now = T0
    for _ in range(engine.MAX_ATTEMPTS):
        assert engine.tick(now=now) == 1
        enrollment = Enrollment.objects.get()
        now = enrollment.next_run_at or now
    assert (enrollment.state, enrollment.exit_reason) == ("failed", "step_failed")
    assert "exploded" in enrollment.last_error
    assert kinds_run(enrollment) == [("email", "failed")]
    assert engine.tick(now=now + timedelta(days=1)) == 0


def test_tick_queries_do_not_grow_with_the_batch(template, django_assert_max_num_queries):
    sequence = build({"kind": "email", "template": template}, {"kind": "wait", "wait": timedelta(days=1)})
    contacts = [consenting() for _ in range(30)]
    enroll(sequence=sequence, contact_ids=[c.pk for c in contacts], now=T0)
    with CaptureQueriesContext(connection) as queries:
        assert engine.tick(now=T0) == 30
    few = len(queries)
    more = [consenting() for _ in range(60)]
    enroll(sequence=sequence, contact_ids=[c.pk for c in more], now=T0)
    with django_assert_max_num_queries(few):
        assert engine.tick(now=T0) == 60


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_workers_never_run_a_step_twice():
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises writers; concurrent claims are a PostgreSQL matter")
    template = template_save(name="T", subject="S", body_text="x {{ unsubscribe_url }}")
    sequence = build({"kind": "email", "template": template}, {"kind": "email", "template": template})
    contacts = [consenting() for _ in range(300)]
    enroll(sequence=sequence, contact_ids=[c.pk for c in contacts], now=T0)
    barrier = threading.Barrier(2)
    failures = []

    def worker():
        try:
            barrier.wait(timeout=10)
            while engine.tick(limit=25, now=T0):
                pass
        except Exception as exc:  # noqa: BLE001 — reported below
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not failures, failures
    assert OutboundEmail.objects.count() == 600
    assert StepRun.objects.count() == 600
    assert Enrollment.objects.filter(state="completed").count() == 300

    def sender():
        try:
            while delivery.deliver(limit=50, now=T0):
                pass
        finally:
            connection.close()

    threads = [threading.Thread(target=sender) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(mail.outbox) == 600
    assert len({m.extra_headers["Message-ID"] for m in mail.outbox}) == 600


# --- Links in the emails, and the way in from scoring ---------------------------------------------


def test_click_link_records_one_event_and_redirects(template, client):
    from nurturing.emails import click_target, click_url

    contact = consenting()
    url = click_url(contact_id=contact.pk, key="n1t0", url="https://example.com/pcb?x=1")
    path = "/" + url.split("://", 1)[1].split("/", 1)[1]
    response = client.get(path)
    assert response.status_code == 302 and response["Location"] == "https://example.com/pcb?x=1"
    assert client.get(path).status_code == 302  # a second click (or a link scanner) …
    event = Event.objects.get()  # … is the same event
    assert (event.contact_id, event.type.key) == (contact.pk, "newsletter_click")
    assert event.properties == {"url": "https://example.com/pcb?x=1", "email": "n1t0"}
    assert client.get("/n/c/not-a-token/").status_code == 404
    assert (
        click_target(click_url(contact_id=1, key="k", url="javascript:alert(1)").rsplit("/", 2)[-2]) is None
    )


def test_a_deleted_contacts_link_still_redirects(template, client):
    from nurturing.emails import click_url

    contact = consenting()
    path = "/" + click_url(contact_id=contact.pk, key="k", url="https://example.com/").split("/", 3)[3]
    contact_delete(contact=contact)
    assert client.get(path).status_code == 302
    assert not Event.objects.exists()


def test_a_fast_lane_event_through_the_api_reaches_sales(template, api_client_for, marketing_user):
    from scoring.services import events_apply_pending

    rep = UserFactory(roles=["sales"])
    contact = consenting(owner=rep)
    sequence = build({"kind": "wait", "wait": timedelta(days=1)}, {"kind": "email", "template": template})
    enroll(sequence=sequence, contact_ids=[contact.pk], now=T0)
    api = api_client_for(marketing_user)
    response = api.post(
        "/api/v1/events/", {"id": "demo-1", "type": "demo_request", "contact": contact.pk}, format="json"
    )
    assert response.status_code == 202
    with_commit(events_apply_pending)
    enrollment = Enrollment.objects.get()
    assert (enrollment.state, enrollment.exit_reason) == ("exited", "fast_lane")
    task = Task.objects.get()
    assert (task.owner, task.contact_id, task.source) == (rep, contact.pk, "fast_lane")
    assert Notification.objects.filter(user=rep, kind="fast_lane").count() == 1


def test_the_sweep_hands_over_fast_lane_requests_whose_reaction_was_lost(template):
    from nurturing.triggers import fast_lane_sweep

    rep = UserFactory(roles=["sales"])
    contact = consenting(owner=rep)
    demo = EventType.objects.get(key="demo_request")
    now = datetime.now(UTC)
    first = Event.objects.create(
        external_id="lost-1", type=demo, contact=contact, occurred_at=now, received_at=now, applied_at=now
    )
    Event.objects.create(  # a second request in the same batch: one task per contact, as the receiver does
        external_id="lost-2", type=demo, contact=contact, occurred_at=now, received_at=now, applied_at=now
    )
    assert fast_lane_sweep(now=now + timedelta(minutes=5)) == 1
    assert fast_lane_sweep(now=now + timedelta(minutes=10)) == 0
    assert Task.objects.get().dedupe_key == f"fastlane:{first.pk}"


def test_content_links_in_emails_count_for_the_content_block(db, client):
    from content.selectors import content_performance
    from content.services import content_save

    block = content_save(title="EMC guide", phase="education", url="https://example.com/emc?a=1&b=2")
    with pytest.raises(ValidationError):
        template_save(name="Broken", subject="S", body_text="{{ content:999999 }} {{ unsubscribe_url }}")
    template = template_save(
        name="With content",
        subject="Read this",
        body_text=f"Guide: {{{{ content:{block.pk} }}}}\n{{{{ unsubscribe_url }}}}",
        body_html=f'<a href="{{{{ content:{block.pk} }}}}">guide</a> {{{{ content:{block.pk} }}}}',
    )
    sequence = build({"kind": "email", "template": template})
    contact = consenting()
    enroll(sequence=sequence, contact_ids=[contact.pk], now=T0)
    run(T0)
    email = OutboundEmail.objects.get()
    assert "example.com/emc" not in email.body_text  # the address is behind the click redirect
    assert "a=1&amp;b=2" in email.body_html  # escaped where it stands as text in HTML
    link = next(word for word in email.body_text.split() if "/n/c/" in word)
    response = client.get("/" + link.split("://", 1)[1].split("/", 1)[1])
    assert response.status_code == 302 and response["Location"] == "https://example.com/emc?a=1&b=2"
    assert Event.objects.get().properties["content_id"] == block.pk
    assert content_performance([block.pk])[block.pk]["events"] == 1
