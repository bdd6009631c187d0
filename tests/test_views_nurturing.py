"""Browser UI of nurturing: the sequence list and editor (settings, steps in place, activation),
manual enrollment and exits, the contact page's nurture section and the list's badge, email templates
with their preview, and the fast-lane settings. Writes go through nurturing.services."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from funnel.services import contact_set_tags
from nurturing import services
from nurturing.models import EmailTemplate, Enrollment, NurtureSettings, Sequence, Step, StepRun
from scoring.models import EventType
from tests.factories import ContactFactory, UserFactory, stage

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
XSS = '<script>alert("x")</script>'
ESCAPED = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"
LIST_URL = reverse("nurturing:sequence-list")
UNSUBSCRIBE = "Unsubscribe: {{ unsubscribe_url }}"


# --- Helpers -------------------------------------------------------------------------------------


def make_template(name="Welcome", **fields) -> EmailTemplate:
    values = {
        "subject": "Hello {{ first_name }}",
        "body_text": f"Hi {{{{ first_name }}}}, see https://example.com/guide\n{UNSUBSCRIBE}",
        "body_html": '<p>Hi {{ first_name }}, <a href="https://example.com/guide">guide</a></p>',
        **fields,
    }
    return services.template_save(name=name, **values)


def make_sequence(name="Onboarding", *, steps=(), active=False, **fields) -> Sequence:
    sequence = services.sequence_save(name=name, **fields)
    for step in steps:
        services.step_save(sequence=sequence, **step)
    if active:
        sequence = services.sequence_activate(sequence=sequence)
    return sequence


def wait_step(days=3) -> dict:
    return {"kind": "wait", "wait": timedelta(days=days)}


def enrollment(sequence, contact=None, *, state="active", reason="", step=None) -> Enrollment:
    now = timezone.now()
    return Enrollment.objects.create(
        sequence=sequence,
        contact=contact or ContactFactory(),
        state=state,
        exit_reason=reason,
        step=step,
        next_run_at=now if state == "active" else None,
        entered_at=now,
        finished_at=None if state == "active" else now,
    )


def detail_url(sequence) -> str:
    return reverse("nurturing:sequence-detail", args=[sequence.pk])


def html(response) -> str:
    return response.content.decode()


# --- Access --------------------------------------------------------------------------------------


@pytest.fixture
def sequence(db):
    return make_sequence(steps=[wait_step()])


def read_urls(sequence, contact) -> list[str]:
    return [
        LIST_URL,
        detail_url(sequence),
        reverse("nurturing:contact-enrollments", args=[contact.pk]),
    ]


def edit_gets(sequence) -> list[str]:
    step = sequence.steps.get()
    template = make_template(name="For access")
    return [
        reverse("nurturing:sequence-create"),
        reverse("nurturing:sequence-edit", args=[sequence.pk]),
        reverse("nurturing:sequence-delete", args=[sequence.pk]),
        reverse("nurturing:step-add", args=[sequence.pk]) + "?kind=wait",
        reverse("nurturing:step-edit", args=[step.pk]),
        reverse("nurturing:step-delete", args=[step.pk]),
        reverse("nurturing:template-list"),
        reverse("nurturing:template-create"),
        reverse("nurturing:template-edit", args=[template.pk]),
        reverse("nurturing:template-preview", args=[template.pk]),
        reverse("nurturing:template-delete", args=[template.pk]),
        reverse("nurturing:settings"),
        reverse("nurturing:contact-options") + "?q=a",
    ]


def edit_posts(sequence) -> list[str]:
    step = sequence.steps.get()
    an_enrollment = enrollment(sequence)
    template = make_template(name="For posts")
    return [
        reverse("nurturing:sequence-create"),
        reverse("nurturing:sequence-edit", args=[sequence.pk]),
        reverse("nurturing:sequence-activate", args=[sequence.pk]),
        reverse("nurturing:sequence-deactivate", args=[sequence.pk]),
        reverse("nurturing:sequence-delete", args=[sequence.pk]),
        reverse("nurturing:step-add", args=[sequence.pk]),
        reverse("nurturing:step-edit", args=[step.pk]),
        reverse("nurturing:step-move", args=[step.pk]),
        reverse("nurturing:step-delete", args=[step.pk]),
        reverse("nurturing:sequence-enroll", args=[sequence.pk]),
        reverse("nurturing:sequence-enroll-filtered", args=[sequence.pk]),
        reverse("nurturing:enrollment-exit", args=[an_enrollment.pk]),
        reverse("nurturing:template-create"),
        reverse("nurturing:template-edit", args=[template.pk]),
        reverse("nurturing:template-delete", args=[template.pk]),
        reverse("nurturing:settings"),
    ]


def test_anonymous_visitors_are_sent_to_the_login_page(client, sequence):
    contact = ContactFactory()
    for url in read_urls(sequence, contact) + edit_gets(sequence):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login")), url
    for url in edit_posts(sequence):
        assert client.post(url).status_code == 302, url


def test_outsiders_get_403_everywhere(client_for, outsider, sequence):
    client = client_for(outsider)
    contact = ContactFactory()
    for url in read_urls(sequence, contact) + edit_gets(sequence):
        assert client.get(url).status_code == 403, url
    for url in edit_posts(sequence):
        assert client.post(url).status_code == 403, url


def test_sales_reads_but_may_not_edit(client_for, sales_user, sequence):
    client = client_for(sales_user)
    contact = ContactFactory()
    for url in read_urls(sequence, contact):
        assert client.get(url).status_code == 200, url
    for url in edit_gets(sequence):
        assert client.get(url).status_code == 403, url
    for url in edit_posts(sequence):
        assert client.post(url, {"name": "x", "kind": "wait", "position": 1}).status_code == 403, url
    assert Sequence.objects.count() == 1
    assert Sequence.objects.get().name == "Onboarding"
    assert Step.objects.count() == 1
    assert Enrollment.objects.get().state == "active"


def test_sales_sees_no_edit_controls(client_for, sales_user, sequence):
    page = html(client_for(sales_user).get(detail_url(sequence)))
    assert reverse("nurturing:sequence-edit", args=[sequence.pk]) not in page
    assert reverse("nurturing:sequence-activate", args=[sequence.pk]) not in page
    assert reverse("nurturing:step-add", args=[sequence.pk]) not in page
    assert reverse("nurturing:sequence-enroll", args=[sequence.pk]) not in page
    nav = html(client_for(sales_user).get(LIST_URL))
    assert reverse("nurturing:template-list") not in nav
    assert reverse("nurturing:sequence-create") not in nav


@pytest.mark.parametrize(
    "url",
    [
        "/nurturing/sequences/abc/",
        "/nurturing/sequences/99999999999999999999999/",
        "/nurturing/steps/x/edit/",
        "/nurturing/templates/1.5/",
        "/nurturing/contacts/abc/enrollments/",
        "/nurturing/sequences/424242/",
    ],
)
def test_bad_ids_are_404(client_for, marketing_user, url):
    assert client_for(marketing_user).get(url).status_code == 404


def test_nav_links(client_for, sales_user, marketing_user):
    page = html(client_for(sales_user).get(reverse("funnel:contact-list")))
    assert f'href="{LIST_URL}"' in page
    assert f'href="{reverse("sales:task-list")}"' in page


# --- Sequence list -------------------------------------------------------------------------------


def test_empty_list_invites_editors_to_create_one(client_for, marketing_user, sales_user):
    page = html(client_for(marketing_user).get(LIST_URL))
    assert "No nurture sequences yet." in page
    assert reverse("nurturing:sequence-create") in page
    page = html(client_for(sales_user).get(LIST_URL))
    assert "No nurture sequences yet." in page
    assert reverse("nurturing:sequence-create") not in page


def test_list_shows_trigger_status_and_counts(client_for, marketing_user):
    tag = make_tag("vip")
    vip = make_sequence(
        "VIP care", steps=[wait_step()], active=True, trigger="tag_added", trigger_tag=tag, goal="Keep VIPs"
    )
    leads = make_sequence(
        "Lead nurture", steps=[wait_step()], trigger="stage_entered", trigger_stage=stage("lead")
    )
    for _ in range(3):
        enrollment(vip)
    enrollment(vip, state="completed")
    enrollment(vip, state="exited", reason="goal")
    enrollment(vip, state="exited", reason="goal")
    enrollment(vip, state="exited", reason="unsubscribed")
    enrollment(vip, state="failed", reason="step_failed")
    enrollment(leads, state="completed")

    response = client_for(marketing_user).get(LIST_URL)
    sequences = {s.name: s for s in response.context["sequences"]}
    counts = sequences["VIP care"].counts
    assert (counts.active, counts.completed, counts.failed) == (3, 1, 1)
    assert counts.exited == {"goal": 2, "unsubscribed": 1}
    assert counts.exited_total == 3
    assert sequences["Lead nurture"].counts.completed == 1
    assert sequences["Lead nurture"].counts.active == 0
    page = html(response)
    assert "Tag “vip” added" in page
    assert "Contact enters stage Lead" in page
    assert "Goal reached: 2" in page
    assert "Unsubscribed: 1" in page
    assert "Keep VIPs" in page


def make_tag(name):
    contact = ContactFactory()
    contact_set_tags(contact=contact, tags=[name])
    return contact.tags.get()


# Pinned: session, user, roles, the sequences (trigger/goal references joined, steps counted) and one
# grouped count of all their enrollments.
LIST_QUERIES = 5


@pytest.mark.parametrize("n", [1, 8])
def test_list_query_count_is_constant(client_for, marketing_user, django_assert_num_queries, n):
    for i in range(n):
        sequence = make_sequence(
            f"S{i}", steps=[wait_step()], trigger="stage_entered", trigger_stage=stage("lead")
        )
        enrollment(sequence)
        enrollment(sequence, state="exited", reason="manual")
    client = client_for(marketing_user)
    with django_assert_num_queries(LIST_QUERIES):
        response = client.get(LIST_URL)
    assert len(response.context["sequences"]) == n


def test_list_escapes_names(client_for, marketing_user):
    make_sequence(XSS, goal=XSS)
    page = html(client_for(marketing_user).get(LIST_URL))
    assert XSS not in page
    assert ESCAPED in page


# --- Create and edit the settings ----------------------------------------------------------------


def sequence_data(**overrides) -> dict:
    data = {
        "name": "Webinar follow-up",
        "goal": "Book a demo",
        "goal_stage": str(stage("prospect").pk),
        "trigger": "manual",
        "reentry": "never",
        "window_start": "",
        "window_end": "",
        "window_days": ["1", "2", "3", "4", "5"],
        "time_zone": "Europe/Berlin",
    }
    data.update(overrides)
    return data


def test_create_sequence(client_for, marketing_user):
    client = client_for(marketing_user)
    assert client.get(reverse("nurturing:sequence-create")).status_code == 200
    response = client.post(
        reverse("nurturing:sequence-create"),
        sequence_data(
            trigger="stage_entered",
            trigger_stage=str(stage("lead").pk),
            window_start="09:00",
            window_end="17:30",
            window_days=["5", "1", "3"],
            reentry="after_days",
            reentry_days="30",
        ),
    )
    sequence = Sequence.objects.get()
    assert response.status_code == 302
    assert response["Location"] == detail_url(sequence)
    assert sequence.trigger_stage == stage("lead")
    assert sequence.window_days == "135"
    assert sequence.time_zone == "Europe/Berlin"
    assert sequence.reentry_days == 30
    assert sequence.created_by == marketing_user
    assert not sequence.active
    page = html(client.get(detail_url(sequence)))
    assert "Mon, Wed, Fri, 09:00–17:30" in page
    assert "Again after 30 days" in page


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"name": ""}, "name", "This field is required."),
        ({"trigger": "stage_entered"}, "trigger_stage", "Choose the stage whose entry starts the sequence."),
        ({"trigger": "score_reached", "trigger_score": "0"}, "trigger_score", "greater than or equal to 1"),
        ({"trigger": "event"}, "trigger_event_type", "Choose the event type that starts the sequence."),
        ({"trigger": "tag_added", "trigger_tag": "nope"}, "trigger_tag", "There is no tag “nope” yet"),
        ({"trigger": "teleport"}, "trigger", "Select a valid choice."),
        ({"reentry": "after_days"}, "reentry_days", "Enter after how many days a contact may enter again."),
        ({"window_start": "09:00"}, "window_end", "Give both ends of the send window, or neither."),
        ({"window_start": "18:00", "window_end": "08:00"}, "window_end", "must end after it starts"),
        ({"window_start": "25:99", "window_end": "08:00"}, "window_start", "Enter a valid time."),
        (
            {"window_start": "08:00", "window_end": "18:00", "window_days": []},
            "window_days",
            "at least one weekday",
        ),
        ({"window_days": ["8"]}, "window_days", "Select a valid choice."),
        ({"time_zone": "Mars/Base"}, "time_zone", "Select a valid choice."),
        ({"goal_stage": "999999"}, "goal_stage", "Select a valid choice."),
    ],
)
def test_create_refuses_bad_input(client_for, marketing_user, overrides, field, message):
    response = client_for(marketing_user).post(
        reverse("nurturing:sequence-create"), sequence_data(**overrides)
    )
    assert response.status_code == 400
    form = response.context["form"]
    assert any(message in error for error in form.errors[field]), form.errors
    assert message.replace("“", "&ldquo;") in html(response) or message in html(response)
    assert not Sequence.objects.exists()


def test_create_refuses_a_duplicate_name(client_for, marketing_user):
    make_sequence("Webinar follow-up")
    response = client_for(marketing_user).post(reverse("nurturing:sequence-create"), sequence_data())
    assert response.status_code == 400
    assert "name" in response.context["form"].errors
    assert Sequence.objects.count() == 1


def test_fields_of_another_trigger_are_dropped(client_for, marketing_user):
    client_for(marketing_user).post(
        reverse("nurturing:sequence-create"),
        sequence_data(
            trigger="score_reached",
            trigger_score="40",
            trigger_stage=str(stage("lead").pk),
            trigger_topic="stale",
            reentry_days="not a number",
        ),
    )
    sequence = Sequence.objects.get()
    assert sequence.trigger_score == 40
    assert sequence.trigger_stage is None
    assert sequence.trigger_topic == ""
    assert sequence.reentry_days is None


def test_edit_settings(client_for, marketing_user):
    sequence = make_sequence(steps=[wait_step()])
    client = client_for(marketing_user)
    page = html(client.get(reverse("nurturing:sequence-edit", args=[sequence.pk])))
    assert 'value="Onboarding"' in page
    response = client.post(
        reverse("nurturing:sequence-edit", args=[sequence.pk]),
        sequence_data(
            name="Onboarding 2", trigger="event", trigger_event_type=str(EventType.objects.first().pk)
        ),
    )
    assert response.status_code == 302
    sequence.refresh_from_db()
    assert sequence.name == "Onboarding 2"
    assert sequence.trigger == "event"


def test_edit_with_bad_input_changes_nothing(client_for, marketing_user):
    sequence = make_sequence(steps=[wait_step()])
    response = client_for(marketing_user).post(
        reverse("nurturing:sequence-edit", args=[sequence.pk]),
        sequence_data(name="New", trigger="stage_entered"),
    )
    assert response.status_code == 400
    sequence.refresh_from_db()
    assert sequence.name == "Onboarding"
    assert sequence.trigger == "manual"


# --- Activation ----------------------------------------------------------------------------------


def broken_sequence() -> Sequence:
    """An email step without a template: step_save refuses it, so it is built with the ORM."""
    sequence = make_sequence("Broken")
    Step.objects.create(sequence=sequence, position=1, kind="email")
    return sequence


def test_activation_of_a_broken_sequence_is_refused_with_the_problems(client_for, marketing_user):
    sequence = broken_sequence()
    url = reverse("nurturing:sequence-activate", args=[sequence.pk])
    response = client_for(marketing_user).post(url, **HTMX)
    assert response.status_code == 200
    page = html(response)
    assert 'id="sequence-status"' in page
    assert "The sequence cannot be activated yet:" in page
    assert "Step 1: Choose the email template to send." in page
    sequence.refresh_from_db()
    assert not sequence.active


def test_activation_refused_without_htmx_redirects_with_the_problems(client_for, marketing_user):
    sequence = make_sequence("Empty")
    response = client_for(marketing_user).post(
        reverse("nurturing:sequence-activate", args=[sequence.pk]), follow=True
    )
    assert "The sequence has no steps." in html(response)
    assert not Sequence.objects.get().active


def test_detail_page_lists_the_problems_before_activation(client_for, marketing_user):
    sequence = broken_sequence()
    page = html(client_for(marketing_user).get(detail_url(sequence)))
    assert "Before it can be activated:" in page
    assert "Step 1: Choose the email template to send." in page


def test_activate_and_deactivate(client_for, marketing_user):
    sequence = make_sequence(steps=[wait_step()])
    client = client_for(marketing_user)
    response = client.post(reverse("nurturing:sequence-activate", args=[sequence.pk]), **HTMX)
    assert "The sequence is active" in html(response)
    assert reverse("nurturing:sequence-deactivate", args=[sequence.pk]) in html(response)
    assert Sequence.objects.get().active
    response = client.post(reverse("nurturing:sequence-deactivate", args=[sequence.pk]))
    assert response.status_code == 302
    assert not Sequence.objects.get().active


def test_activate_needs_post(client_for, marketing_user, sequence):
    assert (
        client_for(marketing_user).get(reverse("nurturing:sequence-activate", args=[sequence.pk])).status_code
        == 405
    )


# --- Delete --------------------------------------------------------------------------------------


def test_delete_sequence_with_confirmation(client_for, marketing_user, sequence):
    client = client_for(marketing_user)
    url = reverse("nurturing:sequence-delete", args=[sequence.pk])
    assert "Delete “Onboarding”?" in html(client.get(url))
    response = client.post(url)
    assert response.status_code == 302
    assert response["Location"] == LIST_URL
    assert not Sequence.objects.exists()


def test_delete_of_an_active_sequence_is_refused(client_for, marketing_user):
    sequence = make_sequence(steps=[wait_step()], active=True)
    response = client_for(marketing_user).post(reverse("nurturing:sequence-delete", args=[sequence.pk]))
    assert response.status_code == 400
    assert "Deactivate the sequence before deleting it." in html(response)
    assert Sequence.objects.exists()


# --- Steps ---------------------------------------------------------------------------------------


def add_url(sequence) -> str:
    return reverse("nurturing:step-add", args=[sequence.pk])


def test_choosing_a_kind_shows_only_its_fields(client_for, marketing_user, sequence):
    client = client_for(marketing_user)
    make_template()
    response = client.get(add_url(sequence), {"kind": "email"}, **HTMX)
    page = html(response)
    assert "<html" not in page
    assert 'name="add-template"' in page
    assert 'name="add-wait"' not in page
    assert 'name="add-text"' not in page
    page = html(client.get(add_url(sequence), {"kind": "task"}, **HTMX))
    assert 'name="add-text"' in page
    assert 'name="add-due_hours"' in page
    assert 'name="add-template"' not in page
    # Without HTMX: the whole page with the form open.
    page = html(client.get(add_url(sequence), {"kind": "wait"}))
    assert "<html" in page
    assert 'name="add-wait"' in page
    assert 'name="add-wait_unit"' in page


def test_an_unknown_kind_shows_the_chooser_with_an_error(client_for, marketing_user, sequence):
    response = client_for(marketing_user).get(add_url(sequence), {"kind": "teleport"})
    assert response.status_code == 400
    assert "Select a valid choice." in html(response)
    response = client_for(marketing_user).get(add_url(sequence), {"kind": "teleport"}, **HTMX)
    assert 'id="step-add"' in html(response)


def test_add_a_step(client_for, marketing_user, sequence):
    template = make_template()
    response = client_for(marketing_user).post(
        add_url(sequence), {"kind": "email", "add-template": template.pk}, **HTMX
    )
    assert response.status_code == 200
    page = html(response)
    assert 'id="steps"' in page
    assert "Step 2 added." in page
    assert '<section id="sequence-status" hx-swap-oob="true"' in page
    step = sequence.steps.get(position=2)
    assert step.kind == "email"
    assert step.template == template


def test_add_a_wait_in_hours(client_for, marketing_user, sequence):
    response = client_for(marketing_user).post(
        add_url(sequence), {"kind": "wait", "add-wait": "36", "add-wait_unit": "hours"}
    )
    assert response.status_code == 302
    assert sequence.steps.get(position=2).wait == timedelta(hours=36)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"kind": "email"}, "Choose the email template to send."),
        ({"kind": "email", "add-template": "999999"}, "Select a valid choice."),
        ({"kind": "wait"}, "Enter how long to wait."),
        ({"kind": "wait", "add-wait": "0"}, "greater than or equal to 1"),
        ({"kind": "wait", "add-wait": "400", "add-wait_unit": "days"}, "The wait can be at most 365 days."),
        ({"kind": "wait", "add-wait": "3", "add-wait_unit": "weeks"}, "Select a valid choice."),
        ({"kind": "wait", "add-wait": "three"}, "Enter a whole number."),
        ({"kind": "task", "add-due_hours": "4"}, "Enter the task&#x27;s title."),
        (
            {"kind": "branch", "add-condition": "score_gte", "add-condition_value": "lots"},
            "Enter a whole number.",
        ),
        ({"kind": "branch", "add-condition": "fit_grade", "add-condition_value": "Z"}, "Enter a fit grade"),
        ({"kind": "branch"}, "Choose a condition."),
        ({"kind": "add_tag", "add-tag": "missing"}, "There is no tag"),
        ({"kind": "move_stage", "add-stage": "abc"}, "Select a valid choice."),
        ({"kind": "notify", "add-text": "   "}, "Enter the message for the owner."),
    ],
)
def test_add_refuses_bad_input(client_for, marketing_user, sequence, data, message):
    response = client_for(marketing_user).post(add_url(sequence), data, **HTMX)
    assert response.status_code == 200  # HTMX swaps only 2xx answers
    assert response["HX-Retarget"] == "#step-add"
    page = html(response)
    assert message in page
    assert 'id="step-add"' in page
    assert sequence.steps.count() == 1
    # Without HTMX: the page with the form and its errors.
    response = client_for(marketing_user).post(add_url(sequence), data)
    assert response.status_code == 400
    assert message in html(response)
    assert sequence.steps.count() == 1


def test_add_to_an_active_sequence_keeps_it_valid(client_for, marketing_user):
    sequence = make_sequence(steps=[wait_step()], active=True)
    response = client_for(marketing_user).post(
        add_url(sequence), {"kind": "wait", "add-wait": "2", "add-wait_unit": "days"}, **HTMX
    )
    assert "Step 2 added." in html(response)
    assert sequence.steps.count() == 2


def test_branch_keeps_only_the_fields_of_its_condition(client_for, marketing_user):
    sequence = make_sequence(steps=[wait_step(), wait_step(), wait_step()])
    branch = services.step_save(
        sequence=sequence, position=1, kind="branch", condition="score_gte", condition_value="10"
    )
    target = sequence.steps.get(position=4)
    response = client_for(marketing_user).post(
        reverse("nurturing:step-edit", args=[branch.pk]),
        {
            f"step-{branch.pk}-condition": "stage_at_least",
            f"step-{branch.pk}-stage": str(stage("prospect").pk),
            f"step-{branch.pk}-condition_value": "garbage",
            f"step-{branch.pk}-topic": "stale",
            f"step-{branch.pk}-yes_step": str(target.pk),
        },
        **HTMX,
    )
    assert "Step 1 saved." in html(response)
    branch.refresh_from_db()
    assert branch.condition == "stage_at_least"
    assert branch.stage == stage("prospect")
    assert branch.condition_value == ""
    assert branch.topic == ""
    assert branch.yes_step == target
    page = html(client_for(marketing_user).get(detail_url(sequence)))
    assert "stage Prospect or later" in page
    assert "If yes:" in page


def test_edit_a_step_in_place(client_for, marketing_user, sequence):
    step = sequence.steps.get()
    client = client_for(marketing_user)
    response = client.get(reverse("nurturing:step-edit", args=[step.pk]), **HTMX)
    page = html(response)
    assert page.startswith("<tr") or page.lstrip().startswith("<tr")
    assert f'name="step-{step.pk}-wait" value="3"' in page
    response = client.post(
        reverse("nurturing:step-edit", args=[step.pk]),
        {f"step-{step.pk}-wait": "5", f"step-{step.pk}-wait_unit": "days"},
        **HTMX,
    )
    assert 'id="steps"' in html(response)
    step.refresh_from_db()
    assert step.wait == timedelta(days=5)
    # Cancel / Esc: the read-only row.
    page = html(client.get(reverse("nurturing:step-row", args=[step.pk]), **HTMX))
    assert "5 days" in page
    assert "<form id=" not in page


def test_edit_with_bad_input_shows_the_row_with_errors(client_for, marketing_user, sequence):
    step = sequence.steps.get()
    response = client_for(marketing_user).post(
        reverse("nurturing:step-edit", args=[step.pk]), {f"step-{step.pk}-wait": ""}, **HTMX
    )
    assert response.status_code == 200
    assert response["HX-Retarget"] == f"#step-{step.pk}"
    assert "Enter how long to wait." in html(response)
    step.refresh_from_db()
    assert step.wait == timedelta(days=3)
    response = client_for(marketing_user).post(reverse("nurturing:step-edit", args=[step.pk]), {})
    assert response.status_code == 400
    assert "Enter how long to wait." in html(response)


def test_edit_without_htmx(client_for, marketing_user, sequence):
    step = sequence.steps.get()
    client = client_for(marketing_user)
    page = html(client.get(reverse("nurturing:step-edit", args=[step.pk])))
    assert "<html" in page
    assert f'id="step-{step.pk}-form"' in page
    response = client.post(
        reverse("nurturing:step-edit", args=[step.pk]),
        {f"step-{step.pk}-wait": "2", f"step-{step.pk}-wait_unit": "hours"},
    )
    assert response.status_code == 302
    assert response["Location"].endswith(f"#step-{step.pk}")


def test_move_steps_up_and_down(client_for, marketing_user):
    sequence = make_sequence(steps=[wait_step(1), wait_step(2), wait_step(3)])
    first, second, third = sequence.steps.order_by("position")
    client = client_for(marketing_user)
    response = client.post(reverse("nurturing:step-move", args=[third.pk]), {"position": 2}, **HTMX)
    assert "Step moved to position 2." in html(response)
    assert list(sequence.steps.order_by("position").values_list("pk", flat=True)) == [
        first.pk,
        third.pk,
        second.pk,
    ]
    response = client.post(reverse("nurturing:step-move", args=[first.pk]), {"position": 2})
    assert response.status_code == 302
    assert list(sequence.steps.order_by("position").values_list("pk", flat=True)) == [
        third.pk,
        first.pk,
        second.pk,
    ]


def test_move_that_would_break_a_branch_is_refused(client_for, marketing_user):
    sequence = make_sequence(steps=[wait_step(), wait_step()])
    target = sequence.steps.get(position=2)
    branch = services.step_save(
        sequence=sequence,
        position=1,
        kind="branch",
        condition="score_gte",
        condition_value="5",
        yes_step=target,
    )
    response = client_for(marketing_user).post(
        reverse("nurturing:step-move", args=[target.pk]), {"position": 1}, **HTMX
    )
    assert "Moving the step would break step" in html(response)
    branch.refresh_from_db()
    assert branch.position == 1


@pytest.mark.parametrize("position", ["", "abc", "0", "-3"])
def test_move_with_a_bad_position(client_for, marketing_user, sequence, position):
    step = sequence.steps.get()
    response = client_for(marketing_user).post(
        reverse("nurturing:step-move", args=[step.pk]), {"position": position}, **HTMX
    )
    assert response.status_code == 200
    assert "Choose a position to move the step to." in html(response)


def test_delete_a_step(client_for, marketing_user):
    sequence = make_sequence(steps=[wait_step(1), wait_step(2)])
    first = sequence.steps.get(position=1)
    client = client_for(marketing_user)
    assert "Delete step 1 (Wait)?" in html(client.get(reverse("nurturing:step-delete", args=[first.pk])))
    response = client.post(reverse("nurturing:step-delete", args=[first.pk]), **HTMX)
    assert "Step 1 deleted." in html(response)
    assert list(sequence.steps.values_list("position", "wait")) == [(1, timedelta(days=2))]


def test_delete_of_a_step_with_contacts_on_it_is_refused(client_for, marketing_user, sequence):
    step = sequence.steps.get()
    enrollment(sequence, step=step)
    response = client_for(marketing_user).post(reverse("nurturing:step-delete", args=[step.pk]), **HTMX)
    assert "Contacts are on this step" in html(response)
    response = client_for(marketing_user).post(reverse("nurturing:step-delete", args=[step.pk]))
    assert response.status_code == 400
    assert Step.objects.filter(pk=step.pk).exists()


def test_step_counts(client_for, marketing_user):
    sequence = make_sequence(steps=[wait_step(1), wait_step(2), wait_step(3)])
    first, second, third = sequence.steps.order_by("position")
    for i in range(3):
        done = enrollment(sequence, step=second)
        StepRun.objects.create(enrollment=done, step=first, tick=0, kind="wait", ran_at=timezone.now())
        if i == 0:
            StepRun.objects.create(enrollment=done, step=second, tick=1, kind="wait", ran_at=timezone.now())
    enrollment(sequence, step=third, state="exited", reason="manual")
    response = client_for(marketing_user).get(detail_url(sequence))
    counts = [(s.position, s.reached, s.current) for s in response.context["steps"]]
    assert counts == [(1, 3, 0), (2, 1, 3), (3, 0, 0)]


# Pinned: session, user, roles, the sequence, its steps + runs per step + contacts per step, the
# enrollment counts, the activation check's steps, the tag suggestions, one page of enrollments, and
# the stage and owner choices of the enroll-a-filtered-list form.
DETAIL_QUERIES = 13


@pytest.mark.parametrize("n", [1, 6])
def test_detail_query_count_is_constant(client_for, marketing_user, django_assert_num_queries, n):
    template = make_template()
    sequence = make_sequence(steps=[{"kind": "email", "template": template}, wait_step()] * n)
    for step in sequence.steps.all():
        enrollment(sequence, step=step)
    client = client_for(marketing_user)
    with django_assert_num_queries(DETAIL_QUERIES):
        response = client.get(detail_url(sequence))
    assert len(response.context["steps"]) == 2 * n


def test_detail_escapes_user_text(client_for, marketing_user):
    template = make_template(name=XSS)
    sequence = make_sequence(XSS, goal=XSS, steps=[{"kind": "email", "template": template}])
    contact = ContactFactory(first_name=XSS)
    enrollment(sequence, contact)
    page = html(client_for(marketing_user).get(detail_url(sequence)))
    assert XSS not in page
    assert ESCAPED in page


# --- Enrollment ----------------------------------------------------------------------------------


@pytest.fixture
def active_sequence(db):
    return make_sequence("Active one", steps=[wait_step()], active=True)


def test_enroll_one_contact_by_id_email_or_suggestion(client_for, marketing_user, active_sequence):
    client = client_for(marketing_user)
    url = reverse("nurturing:sequence-enroll", args=[active_sequence.pk])
    first, second, third = ContactFactory(), ContactFactory(email="Anna@Example.com"), ContactFactory()
    response = client.post(url, {"enroll-contact": str(first.pk)}, **HTMX)
    assert response.context["enroll_result"].enrolled == [first.pk]
    assert 'id="enrollments" hx-swap-oob="true"' in html(response)
    client.post(url, {"enroll-contact": "anna@example.com"}, **HTMX)
    client.post(url, {"enroll-contact": f"Whoever (#{third.pk})"}, **HTMX)
    assert set(Enrollment.objects.values_list("contact_id", flat=True)) == {first.pk, second.pk, third.pk}
    enrolled = Enrollment.objects.get(contact=first)
    assert enrolled.enrolled_by == marketing_user
    assert enrolled.step == active_sequence.steps.get()
    # Again: already in.
    response = client.post(url, {"enroll-contact": str(first.pk)}, **HTMX)
    result = response.context["enroll_result"]
    assert (result.enrolled, result.already) == ([], [first.pk])
    # Without HTMX: redirect with the counts as a message.
    response = client.post(url, {"enroll-contact": f"#{first.pk}"}, follow=True)
    assert "Already in the sequence: 1." in html(response)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "This field is required."),
        ("#424242", "There is no contact #424242."),
        ("nobody@example.com", "No contact matches"),
        ("Vorname", "Several contacts match"),
        ("9" * 30, "No contact matches"),
    ],
)
def test_enroll_one_refuses_bad_input(client_for, marketing_user, active_sequence, value, message):
    ContactFactory()
    ContactFactory()
    url = reverse("nurturing:sequence-enroll", args=[active_sequence.pk])
    response = client_for(marketing_user).post(url, {"enroll-contact": value}, **HTMX)
    assert response.status_code == 200
    assert message in html(response)
    response = client_for(marketing_user).post(url, {"enroll-contact": value})
    assert response.status_code == 400
    assert not Enrollment.objects.exists()


def test_enroll_into_an_inactive_sequence_is_refused(client_for, marketing_user, sequence):
    contact = ContactFactory()
    response = client_for(marketing_user).post(
        reverse("nurturing:sequence-enroll", args=[sequence.pk]), {"enroll-contact": str(contact.pk)}, **HTMX
    )
    assert "The sequence is not active" in html(response)
    assert not Enrollment.objects.exists()


def test_enroll_a_filtered_list(client_for, marketing_user, sales_user, active_sequence):
    leads = [ContactFactory(stage=stage("lead"), owner=sales_user) for _ in range(3)]
    ContactFactory(stage=stage("lead"))  # another owner
    ContactFactory(stage=stage("suspect"), owner=sales_user)
    enrollment(active_sequence, leads[0])
    url = reverse("nurturing:sequence-enroll-filtered", args=[active_sequence.pk])
    response = client_for(marketing_user).post(
        url, {"filter-stage": "lead", "filter-owner": str(sales_user.pk)}, **HTMX
    )
    result = response.context["enroll_result"]
    assert sorted(result.enrolled) == sorted(c.pk for c in leads[1:])
    assert result.already == [leads[0].pk]
    page = html(response)
    assert "Enrolled" in page
    assert Enrollment.objects.filter(state="active").count() == 3


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "Choose at least one filter"),
        ({"filter-stage": "nirvana"}, "Select a valid choice."),
        ({"filter-owner": "abc"}, "Select a valid choice."),
        ({"filter-score_min": "lots"}, "Enter a whole number."),
    ],
)
def test_enroll_filtered_refuses_bad_input(client_for, marketing_user, active_sequence, data, message):
    ContactFactory()
    url = reverse("nurturing:sequence-enroll-filtered", args=[active_sequence.pk])
    response = client_for(marketing_user).post(url, data, **HTMX)
    assert message in html(response)
    assert client_for(marketing_user).post(url, data).status_code == 400
    assert not Enrollment.objects.exists()


def test_contact_options(client_for, marketing_user):
    ContactFactory(first_name="Anna", last_name="Schmidt", email="anna@example.com")
    ContactFactory(first_name="Bert")
    page = html(
        client_for(marketing_user).get(reverse("nurturing:contact-options"), {"enroll-contact": "anna"})
    )
    assert "Anna Schmidt &lt;anna@example.com&gt; (#" in page
    assert "Bert" not in page
    assert html(client_for(marketing_user).get(reverse("nurturing:contact-options"))).strip() == ""


def test_enrollment_list_filters_by_state(client_for, marketing_user, active_sequence):
    enrollment(active_sequence, ContactFactory(first_name="Active"))
    enrollment(active_sequence, ContactFactory(first_name="Gone"), state="exited", reason="goal")
    client = client_for(marketing_user)
    response = client.get(detail_url(active_sequence), {"state": "exited"}, **HTMX)
    page = html(response)
    assert page.startswith('<section id="enrollments"') or 'id="enrollments"' in page
    assert "<html" not in page
    assert "Gone" in page
    assert "Active" not in page.split("<tbody>")[1]
    # An unknown state is ignored.
    response = client.get(detail_url(active_sequence), {"state": "bogus", "page": "x"}, **HTMX)
    assert response.status_code == 200
    assert response.context["state"] == ""
    assert len(response.context["page"].items) == 2


def test_exit_an_enrollment_from_the_sequence_page(client_for, marketing_user, active_sequence):
    one = enrollment(active_sequence)
    response = client_for(marketing_user).post(reverse("nurturing:enrollment-exit", args=[one.pk]), **HTMX)
    page = html(response)
    assert page.startswith(f'<tr id="enrollment-{one.pk}"')
    assert "Ended by hand" in page
    one.refresh_from_db()
    assert (one.state, one.exit_reason) == ("exited", "manual")
    # Again: already ended, said so.
    response = client_for(marketing_user).post(reverse("nurturing:enrollment-exit", args=[one.pk]), **HTMX)
    assert "This enrollment has already ended." in html(response)


# --- The contact page ----------------------------------------------------------------------------


def test_contact_page_loads_the_nurture_section(client_for, sales_user):
    contact = ContactFactory()
    page = html(client_for(sales_user).get(reverse("funnel:contact-detail", args=[contact.pk])))
    url = reverse("nurturing:contact-enrollments", args=[contact.pk])
    assert f'hx-get="{url}" hx-trigger="load"' in page


def test_contact_section_shows_enrollments_and_step_history(client_for, sales_user, marketing_user):
    template = make_template()
    sequence = make_sequence(XSS, steps=[{"kind": "email", "template": template}, wait_step()], active=True)
    other = make_sequence("Old one", steps=[wait_step()])
    contact = ContactFactory()
    current = enrollment(sequence, contact, step=sequence.steps.get(position=2))
    StepRun.objects.create(
        enrollment=current,
        step=sequence.steps.get(position=1),
        tick=0,
        kind="email",
        ran_at=timezone.now(),
        detail="sent to person@example.com",
    )
    enrollment(other, contact, state="exited", reason="goal")
    url = reverse("nurturing:contact-enrollments", args=[contact.pk])

    response = client_for(sales_user).get(url, **HTMX)
    page = html(response)
    assert "<html" not in page
    assert 'id="contact-nurture"' in page
    assert ESCAPED in page and XSS not in page
    assert "Old one" in page
    assert "Goal reached" in page
    assert "current step: 2. Wait" in page
    assert "sent to person@example.com" in page
    assert "1 step run" in page
    assert reverse("nurturing:enrollment-exit", args=[current.pk]) not in page  # sales: read-only

    page = html(client_for(marketing_user).get(url, **HTMX))
    assert reverse("nurturing:enrollment-exit", args=[current.pk]) in page
    # Without HTMX: a page of its own.
    assert "<html" in html(client_for(marketing_user).get(url))


# Pinned: session, user, roles, the contact, its enrollments (sequence and step joined) and all
# their step runs at once.
CONTACT_SECTION_QUERIES = 6


@pytest.mark.parametrize("n", [1, 5])
def test_contact_section_query_count_is_constant(client_for, sales_user, django_assert_num_queries, n):
    contact = ContactFactory()
    for i in range(n):
        sequence = make_sequence(f"S{i}", steps=[wait_step(), wait_step()])
        one = enrollment(sequence, contact, state="completed")
        for tick, step in enumerate(sequence.steps.all()):
            StepRun.objects.create(enrollment=one, step=step, tick=tick, kind="wait", ran_at=timezone.now())
    client = client_for(sales_user)
    with django_assert_num_queries(CONTACT_SECTION_QUERIES):
        response = client.get(reverse("nurturing:contact-enrollments", args=[contact.pk]), **HTMX)
    assert len(response.context["enrollments"]) == n


def test_exit_from_the_contact_page(client_for, marketing_user, active_sequence):
    contact = ContactFactory()
    one = enrollment(active_sequence, contact)
    url = reverse("nurturing:enrollment-exit", args=[one.pk])
    response = client_for(marketing_user).post(url, {"from": "contact"}, **HTMX)
    page = html(response)
    assert 'id="contact-nurture"' in page
    assert "Enrollment in “Active one” ended." in page
    response = client_for(marketing_user).post(url, {"from": "contact"})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("funnel:contact-detail", args=[contact.pk]))


def test_contact_list_marks_contacts_in_nurture(client_for, sales_user, active_sequence):
    nurtured = ContactFactory(first_name="Nurtured")
    finished = ContactFactory(first_name="Finished")
    ContactFactory(first_name="Plain")
    enrollment(active_sequence, nurtured)
    enrollment(active_sequence, finished, state="completed")
    response = client_for(sales_user).get(reverse("funnel:contact-list"))
    rows = html(response).split("<tbody>")[1].split("<tr>")[1:]
    badges = {
        name: "In nurture" in row for row in rows for name in ("Nurtured", "Finished", "Plain") if name in row
    }
    assert badges == {"Nurtured": True, "Finished": False, "Plain": False}


# --- Email templates -----------------------------------------------------------------------------


def template_data(**overrides) -> dict:
    data = {
        "name": "Newsletter",
        "subject": "News for {{ company }}",
        "body_text": f"Hello {{{{ first_name }}}}\n{UNSUBSCRIBE}",
        "body_html": "",
    }
    data.update(overrides)
    return data


def test_template_list_shows_usage(client_for, marketing_user):
    used = make_template("Used")
    make_template("Unused")
    make_sequence("A", steps=[{"kind": "email", "template": used}, {"kind": "email", "template": used}])
    make_sequence("B", steps=[{"kind": "email", "template": used}])
    page = html(client_for(marketing_user).get(reverse("nurturing:template-list")))
    assert "2 sequences" in page
    assert "not used" in page


def test_template_list_empty_state(client_for, marketing_user):
    page = html(client_for(marketing_user).get(reverse("nurturing:template-list")))
    assert "No email templates yet." in page
    assert reverse("nurturing:template-create") in page


def test_template_list_query_count(client_for, marketing_user, django_assert_num_queries):
    for i in range(5):
        make_template(f"T{i}")
    client = client_for(marketing_user)
    with django_assert_num_queries(4):  # session, user, roles, the templates with their usage
        client.get(reverse("nurturing:template-list"))


def test_create_template_shows_the_placeholder_help(client_for, marketing_user):
    client = client_for(marketing_user)
    page = html(client.get(reverse("nurturing:template-create")))
    assert "{{ unsubscribe_url }}" in page
    assert "the personal unsubscribe link" in page
    response = client.post(reverse("nurturing:template-create"), template_data())
    assert response.status_code == 302
    assert EmailTemplate.objects.get().subject == "News for {{ company }}"


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"name": ""}, "name", "This field is required."),
        ({"subject": "Hi {{ frist_name }}"}, "subject", "Unknown placeholder {{ frist_name }}"),
        ({"body_text": "No way out"}, "body_text", "must contain {{ unsubscribe_url }}"),
        ({"body_html": "<p>{{ evil.__class__ }}</p>"}, "body_html", "Unknown placeholder"),
        ({"subject": "x" * 201}, "subject", "at most 200 characters"),
    ],
)
def test_create_template_refuses_bad_input(client_for, marketing_user, overrides, field, message):
    response = client_for(marketing_user).post(
        reverse("nurturing:template-create"), template_data(**overrides)
    )
    assert response.status_code == 400
    assert any(message in e for e in response.context["form"].errors[field]), response.context["form"].errors
    assert not EmailTemplate.objects.exists()


def test_edit_template(client_for, marketing_user):
    template = make_template()
    client = client_for(marketing_user)
    assert client.get(reverse("nurturing:template-edit", args=[template.pk])).status_code == 200
    response = client.post(
        reverse("nurturing:template-edit", args=[template.pk]), template_data(name="Renamed")
    )
    assert response.status_code == 302
    template.refresh_from_db()
    assert template.name == "Renamed"
    response = client.post(
        reverse("nurturing:template-edit", args=[template.pk]), template_data(body_text="gone")
    )
    assert response.status_code == 400
    template.refresh_from_db()
    assert "{{ unsubscribe_url }}" in template.body_text


def test_delete_of_a_used_template_is_refused(client_for, marketing_user):
    template = make_template()
    make_sequence(steps=[{"kind": "email", "template": template}])
    url = reverse("nurturing:template-delete", args=[template.pk])
    response = client_for(marketing_user).post(url, **HTMX)
    assert "This template is used by sequence steps" in html(response)
    assert html(response).startswith(f'<tr id="template-{template.pk}"')
    response = client_for(marketing_user).post(url)
    assert response.status_code == 400
    assert "This template is used by sequence steps" in html(response)
    assert EmailTemplate.objects.exists()


def test_delete_an_unused_template(client_for, marketing_user):
    template = make_template()
    client = client_for(marketing_user)
    url = reverse("nurturing:template-delete", args=[template.pk])
    assert "Delete “Welcome”?" in html(client.get(url))
    response = client.post(url, **HTMX)
    assert 'hx-swap-oob="true"' in html(response)
    assert "Template “Welcome” deleted." in html(response)
    assert not EmailTemplate.objects.exists()


def test_preview_with_a_chosen_contact(client_for, marketing_user):
    template = make_template(
        subject="Hi {{ first_name }}",
        body_text=f"Dear {{{{ first_name }}}} of {{{{ company }}}}\n{UNSUBSCRIBE}",
        body_html='<p class="x">Dear {{ first_name }}</p><script>alert("html")</script>',
    )
    contact = ContactFactory(first_name='<b>Eve</b> "E"', consent_email=True)
    url = reverse("nurturing:template-preview", args=[template.pk])
    client = client_for(marketing_user)
    assert "Choose a contact" in html(client.get(url))

    response = client.get(url, {"contact": str(contact.pk)})
    page = html(response)
    composed = response.context["composed"]
    assert composed.subject == 'Hi <b>Eve</b> "E"'
    assert "/n/u/" in composed.body_text  # the unsubscribe link, untracked
    # The HTML body sits in a sandboxed iframe's srcdoc, escaped as an attribute value, so neither
    # its markup nor its script reaches this page.
    assert '<iframe class="preview-frame" sandbox' in page
    assert 'srcdoc="&lt;p class=&quot;x&quot;&gt;Dear &amp;lt;b&amp;gt;Eve' in page
    assert '<script>alert("html")</script>' not in page
    # The text body in <pre>, escaped.
    assert '<pre class="preview-text">Dear &lt;b&gt;Eve&lt;/b&gt; &quot;E&quot; of' in page
    assert "<b>Eve</b>" not in page

    fragment = html(client.get(url, {"contact": str(contact.pk)}, **HTMX))
    assert fragment.startswith('<section id="preview-result"')


@pytest.mark.parametrize("value", ["", "#999999", "nobody@example.com", "abc'; DROP TABLE"])
def test_preview_with_a_bad_contact(client_for, marketing_user, value):
    template = make_template()
    response = client_for(marketing_user).get(
        reverse("nurturing:template-preview", args=[template.pk]), {"contact": value}
    )
    assert response.status_code == 400
    assert 'class="errorlist"' in html(response)
    assert response.context["composed"] is None


# --- Fast-lane settings --------------------------------------------------------------------------


def test_settings_page(client_for, marketing_user, sales_user):
    client = client_for(marketing_user)
    page = html(client.get(reverse("nurturing:settings")))
    assert 'name="fast_lane_response_hours"' in page
    response = client.post(
        reverse("nurturing:settings"),
        {
            "fast_lane_response_hours": "8",
            "unowned_assignment": "default_owner",
            "default_owner": sales_user.pk,
        },
    )
    assert response.status_code == 302
    row = NurtureSettings.load()
    assert (row.fast_lane_response_hours, row.unowned_assignment, row.default_owner) == (
        8,
        "default_owner",
        sales_user,
    )


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (
            {"fast_lane_response_hours": "4", "unowned_assignment": "default_owner"},
            "default_owner",
            "Choose the default owner.",
        ),
        (
            {"fast_lane_response_hours": "0", "unowned_assignment": "round_robin"},
            "fast_lane_response_hours",
            "greater than or equal to 1",
        ),
        (
            {"fast_lane_response_hours": "x", "unowned_assignment": "round_robin"},
            "fast_lane_response_hours",
            "Enter a whole number.",
        ),
        (
            {"fast_lane_response_hours": "4", "unowned_assignment": "lottery"},
            "unowned_assignment",
            "Select a valid choice.",
        ),
        (
            {"fast_lane_response_hours": "4", "unowned_assignment": "round_robin", "default_owner": "424242"},
            "default_owner",
            "Select a valid choice.",
        ),
    ],
)
def test_settings_refuse_bad_input(client_for, marketing_user, data, field, message):
    response = client_for(marketing_user).post(reverse("nurturing:settings"), data)
    assert response.status_code == 400
    assert any(message in e for e in response.context["form"].errors[field]), response.context["form"].errors
    row = NurtureSettings.load()
    assert (row.fast_lane_response_hours, row.unowned_assignment) == (4, "round_robin")


def test_inactive_users_are_not_offered_as_default_owner(client_for, admin_user):
    UserFactory(username="gone", roles=["sales"], is_active=False)
    page = html(client_for(admin_user).get(reverse("nurturing:settings")))
    assert ">gone<" not in page
    assert ">admin<" in page


def test_pages_in_german(client_for, marketing_user):
    sequence = make_sequence(steps=[wait_step(2)])
    client = client_for(marketing_user)
    page = html(client.get(LIST_URL, HTTP_ACCEPT_LANGUAGE="de"))
    assert "Nurture-Sequenzen" in page
    assert "Neue Sequenz" in page
    page = html(client.get(detail_url(sequence), HTTP_ACCEPT_LANGUAGE="de"))
    assert "Schritte" in page
    assert "2 Tage" in page
    assert "Kontakte aufnehmen" in page
