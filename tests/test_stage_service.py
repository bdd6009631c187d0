import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from funnel.models import Contact, StageTransition
from funnel.services import contact_create, contact_move_stage, contact_update
from funnel.signals import contact_stage_changed
from tests.factories import ContactFactory, stage

pytestmark = pytest.mark.django_db


@pytest.fixture
def received():
    calls = []

    def receiver(sender, **kwargs):
        calls.append(kwargs)

    contact_stage_changed.connect(receiver)
    yield calls
    contact_stage_changed.disconnect(receiver)


def test_move_records_transition_with_user_and_reason(sales_user):
    contact = ContactFactory()
    transition = contact_move_stage(contact=contact, stage=stage("lead"), by=sales_user, reason="Met at fair")
    contact.refresh_from_db()
    assert contact.stage.key == "lead"
    assert transition.from_stage.key == "suspect"
    assert transition.to_stage.key == "lead"
    assert transition.by == sales_user
    assert transition.reason == "Met at fair"
    assert list(contact.transitions.values_list("to_stage__key", flat=True)) == ["suspect", "lead"]


def test_move_to_current_stage_records_nothing():
    contact = ContactFactory()
    assert contact_move_stage(contact=contact, stage=stage("suspect")) is None
    assert contact.transitions.count() == 1


def test_rule_is_recorded_instead_of_user():
    contact = ContactFactory()
    transition = contact_move_stage(contact=contact, stage=stage("prospect"), rule="fast lane: demo_request")
    assert transition.by is None
    assert transition.rule == "fast lane: demo_request"


def test_move_is_announced_only_after_commit(django_capture_on_commit_callbacks, received):
    contact = ContactFactory()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        transition = contact_move_stage(contact=contact, stage=stage("lead"))
    assert received == []
    for callback in callbacks:
        callback()
    assert received == [
        {
            "signal": contact_stage_changed,
            "contact_id": contact.pk,
            "transition_id": transition.pk,
            "from_stage": "suspect",
            "to_stage": "lead",
            "by_id": None,
            "rule": "",
        }
    ]


def test_rolled_back_move_is_neither_stored_nor_announced(django_capture_on_commit_callbacks, received):
    contact = ContactFactory()
    with django_capture_on_commit_callbacks(execute=True):
        try:
            with transaction.atomic():
                contact_move_stage(contact=contact, stage=stage("lead"))
                raise RuntimeError("boom")
        except RuntimeError:
            pass
    contact.refresh_from_db()
    assert contact.stage.key == "suspect"
    assert received == []
    assert contact.transitions.count() == 1


def test_create_records_entry_transition(sales_user):
    contact = contact_create(
        by=sales_user, email="neu@example.com", first_name="Neu", tags=["Fair", "fair", "x"]
    )
    first = contact.transitions.get()
    assert first.from_stage is None
    assert first.to_stage.key == "suspect"
    assert sorted(contact.tags.values_list("name", flat=True)) == ["Fair", "x"]


def test_update_with_stage_goes_through_move(sales_user):
    contact = ContactFactory()
    contact_update(contact=contact, by=sales_user, stage=stage("customer"), first_name="Eva")
    contact.refresh_from_db()
    assert contact.first_name == "Eva"
    assert contact.stage.key == "customer"
    assert contact.transitions.last().by == sales_user


def test_transitions_are_append_only():
    contact = ContactFactory()
    transition = contact.transitions.get()
    transition.reason = "rewritten"
    with pytest.raises(ValueError):
        transition.save()
    assert StageTransition.objects.get(pk=transition.pk).reason == ""


def test_email_unique_case_insensitive():
    contact_create(email="Anna@Example.com")
    with pytest.raises(ValidationError) as excinfo:
        contact_create(email="anna@example.com")
    assert "email" in excinfo.value.message_dict
    # The database constraint holds even when validation is bypassed (e.g. a race between two requests).
    with pytest.raises(IntegrityError), transaction.atomic():
        Contact.objects.create(email="ANNA@example.com", stage=stage("lead"))


def test_move_many_records_each_step_and_announces_after_commit(django_capture_on_commit_callbacks, received):
    from funnel.services import contact_move_stage_many

    a, b = ContactFactory(), ContactFactory(stage=stage("lead"))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        transitions = contact_move_stage_many(
            moves={
                a.pk: [(stage("lead"), "first activity"), (stage("prospect"), "fast lane")],
                b.pk: [(stage("lead"), "first activity")],  # already a lead: nothing recorded
            },
            reason="automatic rule",
        )
    assert received == []
    for callback in callbacks:
        callback()
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.stage.key, b.stage.key) == ("prospect", "lead")
    assert [(t.from_stage.key, t.to_stage.key, t.rule) for t in transitions] == [
        ("suspect", "lead", "first activity"),
        ("lead", "prospect", "fast lane"),
    ]
    assert [(r["contact_id"], r["to_stage"]) for r in received] == [(a.pk, "lead"), (a.pk, "prospect")]
    assert b.transitions.count() == 1
