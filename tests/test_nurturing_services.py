"""Building sequences: validation that refuses broken sequences, reordering, deleting, templates."""

from datetime import time, timedelta

import pytest
from django.core.exceptions import ValidationError

from funnel.models import Tag
from nurturing.emails import compose
from nurturing.models import EmailTemplate, Enrollment, Step
from nurturing.services import (
    enroll,
    enrollment_exit,
    sequence_activate,
    sequence_deactivate,
    sequence_delete,
    sequence_problems,
    sequence_save,
    step_delete,
    step_move,
    step_save,
    template_delete,
    template_save,
)
from scoring.models import EventType
from tests.factories import ContactFactory, stage

pytestmark = pytest.mark.django_db


@pytest.fixture
def template():
    return template_save(name="T", subject="Hi {{ first_name }}", body_text="Text {{ unsubscribe_url }}")


def positions(sequence):
    return list(sequence.steps.order_by("position").values_list("kind", flat=True))


def errors_of(exc_info) -> dict:
    return exc_info.value.message_dict


# --- Templates ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"subject": "Hi {{ frist_name }}"}, "subject"),
        ({"body_text": "no way out"}, "body_text"),
        ({"body_html": "<p>{{ contact.owner.password }}</p>"}, "body_html"),
        ({"subject": ""}, "subject"),
        ({"name": ""}, "name"),
    ],
)
def test_template_problems_are_refused(fields, field):
    data = {"name": "X", "subject": "S", "body_text": "{{ unsubscribe_url }}", **fields}
    with pytest.raises(ValidationError) as exc:
        template_save(**data)
    assert field in errors_of(exc)
    assert not EmailTemplate.objects.exists()


def test_template_in_use_cannot_be_deleted(template):
    sequence = sequence_save(name="S")
    step_save(sequence=sequence, kind="email", template=template)
    with pytest.raises(ValidationError):
        template_delete(template=template)
    assert EmailTemplate.objects.filter(pk=template.pk).exists()


def test_compose_preview_without_tracking(template):
    contact = ContactFactory(first_name="Eva")
    template.body_text = "See https://example.com/x {{ unsubscribe_url }}"
    composed = compose(template, contact, key="preview", track=False)
    assert composed.subject == "Hi Eva"
    assert "https://example.com/x" in composed.body_text


# --- Sequences and steps --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"trigger": "stage_entered"}, "trigger_stage"),
        ({"trigger": "score_reached"}, "trigger_score"),
        ({"trigger": "event"}, "trigger_event_type"),
        ({"trigger": "tag_added"}, "trigger_tag"),
        ({"trigger": "bogus"}, "trigger"),
        ({"reentry": "after_days"}, "reentry_days"),
        ({"window_start": time(9)}, "window_end"),
        ({"window_start": time(18), "window_end": time(8)}, "window_end"),
        ({"window_days": "189"}, "window_days"),
        ({"time_zone": "Mars/Base"}, "time_zone"),
    ],
)
def test_sequence_settings_are_validated(fields, field):
    with pytest.raises(ValidationError) as exc:
        sequence_save(name="S", **fields)
    assert field in errors_of(exc)


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"kind": "email"}, "template"),
        ({"kind": "wait"}, "wait"),
        ({"kind": "wait", "wait": timedelta(0)}, "wait"),
        ({"kind": "wait", "wait": timedelta(days=-1)}, "wait"),
        ({"kind": "wait", "wait": timedelta(days=400)}, "wait"),
        ({"kind": "wait_event", "wait": timedelta(days=1)}, "event_type"),
        ({"kind": "branch"}, "condition"),
        ({"kind": "branch", "condition": "score_gte", "condition_value": "lots"}, "condition_value"),
        ({"kind": "branch", "condition": "fit_grade", "condition_value": "E"}, "condition_value"),
        ({"kind": "branch", "condition": "event_within", "condition_value": "7"}, "event_type"),
        ({"kind": "branch", "condition": "topic_interest"}, "topic"),
        ({"kind": "task", "text": "Call"}, "due_hours"),
        ({"kind": "task", "due_hours": 4}, "text"),
        ({"kind": "move_stage"}, "stage"),
        ({"kind": "add_tag"}, "tag"),
        ({"kind": "notify"}, "text"),
        ({"kind": "teleport"}, "kind"),
    ],
)
def test_broken_steps_are_refused(fields, field):
    sequence = sequence_save(name="S")
    with pytest.raises(ValidationError) as exc:
        step_save(sequence=sequence, **fields)
    assert field in errors_of(exc)
    assert not Step.objects.exists()


def test_branches_only_go_forward_within_the_sequence(template):
    sequence = sequence_save(name="S")
    first = step_save(sequence=sequence, kind="email", template=template)
    branch = step_save(sequence=sequence, kind="branch", condition="score_gte", condition_value="5")
    other = sequence_save(name="Other")
    elsewhere = step_save(sequence=other, kind="end")
    with pytest.raises(ValidationError) as exc:
        step_save(
            sequence=sequence,
            step=branch,
            kind="branch",
            condition="score_gte",
            condition_value="5",
            yes_step=first,
        )
    assert "yes_step" in errors_of(exc)
    with pytest.raises(ValidationError) as exc:
        step_save(
            sequence=sequence,
            step=branch,
            kind="branch",
            condition="score_gte",
            condition_value="5",
            no_step=elsewhere,
        )
    assert "no_step" in errors_of(exc)


def test_activation_lists_the_problems(template):
    sequence = sequence_save(name="S")
    with pytest.raises(ValidationError) as exc:
        sequence_activate(sequence=sequence)
    assert exc.value.messages == ["The sequence has no steps."]
    # A step that became broken behind the services' back (e.g. edited in the database).
    Step.objects.create(sequence=sequence, position=1, kind="email")
    assert sequence_problems(sequence) == ["Step 1: Choose the email template to send."]
    with pytest.raises(ValidationError):
        sequence_activate(sequence=sequence)
    sequence.refresh_from_db()
    assert not sequence.active


def test_active_sequences_refuse_edits_that_break_them(template):
    sequence = sequence_save(name="S")
    step_save(sequence=sequence, kind="email", template=template)
    sequence = sequence_activate(sequence=sequence)
    with pytest.raises(ValidationError):
        sequence_save(sequence=sequence, trigger="stage_entered")  # no stage given
    assert sequence_deactivate(sequence=sequence).active is False


def test_insert_move_and_delete_keep_positions_dense(template):
    sequence = sequence_save(name="S")
    step_save(sequence=sequence, kind="email", template=template)
    step_save(sequence=sequence, kind="end")
    wait = step_save(sequence=sequence, kind="wait", wait=timedelta(days=1), position=2)
    assert positions(sequence) == ["email", "wait", "end"]
    step_move(step=wait, position=1)
    assert positions(sequence) == ["wait", "email", "end"]
    step_move(step=wait, position=99)
    assert positions(sequence) == ["email", "end", "wait"]
    step_delete(step=Step.objects.get(sequence=sequence, kind="end"))
    assert positions(sequence) == ["email", "wait"]
    assert list(sequence.steps.order_by("position").values_list("position", flat=True)) == [1, 2]


def test_moving_a_branch_target_before_the_branch_is_refused(template):
    sequence = sequence_save(name="S")
    branch = step_save(sequence=sequence, kind="branch", condition="score_gte", condition_value="5")
    target = step_save(sequence=sequence, kind="end")
    step_save(
        sequence=sequence,
        step=branch,
        kind="branch",
        condition="score_gte",
        condition_value="5",
        yes_step=target,
    )
    with pytest.raises(ValidationError):
        step_move(step=target, position=1)
    assert positions(sequence) == ["branch", "end"]


def test_steps_in_use_cannot_be_deleted(template):
    sequence = sequence_save(name="S")
    branch = step_save(sequence=sequence, kind="branch", condition="score_gte", condition_value="5")
    target = step_save(sequence=sequence, kind="end")
    step_save(
        sequence=sequence,
        step=branch,
        kind="branch",
        condition="score_gte",
        condition_value="5",
        yes_step=target,
    )
    with pytest.raises(ValidationError):
        step_delete(step=target)  # another step goes there
    sequence = sequence_activate(sequence=sequence)
    enroll(sequence=sequence, contact_ids=[ContactFactory().pk])
    with pytest.raises(ValidationError):
        step_delete(step=branch)  # a contact is on it
    with pytest.raises(ValidationError):
        sequence_delete(sequence=sequence)  # active


def test_a_step_keeps_only_its_kinds_fields(template):
    sequence = sequence_save(name="S")
    tag = Tag.objects.create(name="x")
    step = step_save(
        sequence=sequence, kind="email", template=template, tag=tag, text="stray", wait=timedelta(1)
    )
    assert (step.tag, step.text, step.wait) == (None, "", None)


def test_enroll_needs_an_active_sequence_and_reports_missing(template):
    sequence = sequence_save(name="S")
    step_save(sequence=sequence, kind="email", template=template)
    contact = ContactFactory()
    with pytest.raises(ValidationError):
        enroll(sequence=sequence, contact_ids=[contact.pk])
    sequence = sequence_activate(sequence=sequence)
    result = enroll(sequence=sequence, contact_ids=[contact.pk, 999999])
    assert (result.enrolled, result.missing) == ([contact.pk], [999999])
    enrollment = Enrollment.objects.get()
    enrollment_exit(enrollment=enrollment)
    assert (enrollment.state, enrollment.exit_reason) == ("exited", "manual")
    with pytest.raises(ValidationError):
        enrollment_exit(enrollment=enrollment)


def test_event_condition_needs_whole_days():
    sequence = sequence_save(name="S")
    download = EventType.objects.get(key="download")
    with pytest.raises(ValidationError) as exc:
        step_save(
            sequence=sequence,
            kind="branch",
            condition="event_within",
            condition_value="0",
            event_type=download,
        )
    assert "condition_value" in errors_of(exc)
    step = step_save(sequence=sequence, kind="branch", condition="stage_at_least", stage=stage("lead"))
    assert step.stage.key == "lead"


def test_owners_are_assigned_round_robin_in_bulk(django_assert_max_num_queries):
    from nurturing.models import NurtureSettings
    from nurturing.services import contacts_assign_owners
    from tests.factories import UserFactory

    reps = [UserFactory(username=f"rr{i}", roles=["sales"]) for i in range(2)]
    taken = ContactFactory(owner=reps[1])
    unowned = [ContactFactory() for _ in range(5)]
    NurtureSettings.load()  # created once, outside the measured calls
    with django_assert_max_num_queries(10):
        owners = contacts_assign_owners(contact_ids=[taken.pk] + [c.pk for c in unowned])
    assert owners[taken.pk] == reps[1].pk  # kept
    assert [owners[c.pk] for c in unowned] == [reps[i % 2].pk for i in range(5)]
    later = ContactFactory()
    assert contacts_assign_owners(contact_ids=[later.pk]) == {later.pk: reps[1].pk}  # the round goes on
    many = [ContactFactory() for _ in range(40)]
    with django_assert_max_num_queries(10):  # the same few queries for 40 contacts as for 5
        contacts_assign_owners(contact_ids=[c.pk for c in many])
