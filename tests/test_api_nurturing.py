"""Nurturing over the API: /api/v1/email-templates/, /api/v1/sequences/ (with activate, deactivate,
enroll and the nested steps) and /api/v1/enrollments/ (with exit)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from funnel.models import Tag
from nurturing import services
from nurturing.models import EmailTemplate, Enrollment, Sequence, Step
from scoring.models import EventType
from tests.factories import ContactFactory, stage

pytestmark = pytest.mark.django_db

BODY = "Hallo {{ first_name }},\n\nAbmelden: {{ unsubscribe_url }}"
TEMPLATE_FIELDS = {"id", "name", "subject", "body_text", "body_html", "created_at", "updated_at"}
SEQUENCE_FIELDS = {
    "id",
    "name",
    "goal",
    "goal_stage",
    "active",
    "trigger",
    "trigger_stage",
    "trigger_score",
    "trigger_event_type",
    "trigger_topic",
    "trigger_tag",
    "reentry",
    "reentry_days",
    "window_start",
    "window_end",
    "window_days",
    "time_zone",
    "steps",
    "counts",
    "created_at",
    "updated_at",
}
STEP_FIELDS = {
    "id",
    "position",
    "kind",
    "template",
    "wait_seconds",
    "event_type",
    "topic",
    "condition",
    "condition_value",
    "yes_step",
    "no_step",
    "stage",
    "tag",
    "text",
    "due_hours",
}
ENROLLMENT_FIELDS = {
    "id",
    "contact",
    "sequence",
    "state",
    "exit_reason",
    "step",
    "step_position",
    "next_run_at",
    "entered_at",
    "finished_at",
}
NO_COUNTS = {"active": 0, "completed": 0, "exited": 0, "failed": 0}


@pytest.fixture
def marketing(api_client_for, marketing_user):
    return api_client_for(marketing_user)


@pytest.fixture
def sales(api_client_for, sales_user):
    return api_client_for(sales_user)


@pytest.fixture
def queued(monkeypatch):
    """Counts ``queue_tick`` calls instead of reaching the broker."""
    calls = []
    monkeypatch.setattr("nurturing.tasks.queue_tick", lambda: calls.append(1))
    return calls


def template(name="Welcome", **fields):
    return services.template_save(name=name, subject=fields.pop("subject", "Hallo"), body_text=BODY, **fields)


def sequence(name="Onboarding", **fields):
    return services.sequence_save(name=name, **fields)


def add_step(seq, kind=Step.Kind.END, **fields):
    return services.step_save(sequence=seq, kind=kind, **fields)


def active_sequence(name="Onboarding", **fields):
    seq = sequence(name, **fields)
    add_step(seq, Step.Kind.EMAIL, template=template(f"{name} mail"))
    add_step(seq, Step.Kind.WAIT, wait=timedelta(days=2))
    return services.sequence_activate(sequence=seq)


def enrollment(seq, contact=None, state=Enrollment.State.ACTIVE, **fields):
    now = timezone.now()
    finished = None if state == Enrollment.State.ACTIVE else now
    return Enrollment.objects.create(
        contact=contact or ContactFactory(),
        sequence=seq,
        state=state,
        step=fields.pop("step", seq.steps.order_by("position").first()),
        entered_at=fields.pop("entered_at", now),
        finished_at=finished,
        next_run_at=now if state == Enrollment.State.ACTIVE else None,
        **fields,
    )


def positions(seq):
    return list(seq.steps.order_by("position").values_list("kind", "position"))


def stored():
    """Everything a refused request must leave as it was."""
    return (
        list(EmailTemplate.objects.values()),
        list(Sequence.objects.values()),
        list(Step.objects.values()),
        list(Enrollment.objects.values()),
        Tag.objects.count(),
    )


# Roles -------------------------------------------------------------------------------------------


def read_urls():
    seq = active_sequence()
    step = seq.steps.first()
    entry = enrollment(seq)
    return [
        "/api/v1/email-templates/",
        f"/api/v1/email-templates/{step.template_id}/",
        "/api/v1/sequences/",
        f"/api/v1/sequences/{seq.pk}/",
        f"/api/v1/sequences/{seq.pk}/steps/",
        f"/api/v1/sequences/{seq.pk}/steps/{step.pk}/",
        "/api/v1/enrollments/",
        f"/api/v1/enrollments/{entry.pk}/",
    ]


@pytest.mark.parametrize("role_user", ["sales_user", "marketing_user", "admin_user"])
def test_every_role_reads(api_client_for, request, role_user):
    client = api_client_for(request.getfixturevalue(role_user))
    for url in read_urls():
        assert client.get(url).status_code == 200, url


def test_outsider_is_403_and_no_token_is_401(api_client_for, outsider):
    for url in read_urls():
        assert api_client_for(outsider).get(url).status_code == 403, url
        response = api_client_for(None).get(url)
        assert response.status_code == 401, url
        assert response["WWW-Authenticate"] == "Token"


def _seq():
    return sequence("Writable")


def _active():
    return active_sequence("Running")


WRITES = {
    "template-create": (
        "post",
        lambda: "/api/v1/email-templates/",
        {"name": "X", "subject": "S", "body_text": BODY},
    ),
    "template-patch": ("patch", lambda: f"/api/v1/email-templates/{template('T').pk}/", {"subject": "New"}),
    "template-delete": ("delete", lambda: f"/api/v1/email-templates/{template('T').pk}/", None),
    "sequence-create": ("post", lambda: "/api/v1/sequences/", {"name": "New"}),
    "sequence-patch": ("patch", lambda: f"/api/v1/sequences/{_seq().pk}/", {"goal": "More leads"}),
    "sequence-delete": ("delete", lambda: f"/api/v1/sequences/{_seq().pk}/", None),
    "activate": ("post", lambda: f"/api/v1/sequences/{add_step(_seq()).sequence_id}/activate/", None),
    "deactivate": ("post", lambda: f"/api/v1/sequences/{_active().pk}/deactivate/", None),
    "enroll": ("post", lambda: f"/api/v1/sequences/{_active().pk}/enroll/", {"contacts": [1]}),
    "step-create": ("post", lambda: f"/api/v1/sequences/{_seq().pk}/steps/", {"kind": "end"}),
    "step-patch": (
        "patch",
        lambda: f"/api/v1/sequences/{(s := add_step(_seq())).sequence_id}/steps/{s.pk}/",
        {"kind": "notify", "text": "Hi"},
    ),
    "step-delete": (
        "delete",
        lambda: f"/api/v1/sequences/{(s := add_step(_seq())).sequence_id}/steps/{s.pk}/",
        None,
    ),
    "step-move": (
        "post",
        lambda: f"/api/v1/sequences/{(s := add_step(_seq())).sequence_id}/steps/{s.pk}/move/",
        {"position": 1},
    ),
    "exit": ("post", lambda: f"/api/v1/enrollments/{enrollment(_active()).pk}/exit/", None),
}


@pytest.mark.parametrize("write", WRITES.values(), ids=WRITES.keys())
def test_sales_and_outsiders_may_not_write(api_client_for, sales_user, outsider, queued, write):
    method, url, body = write
    url = url()
    before = stored()
    for user, expected in ((sales_user, 403), (outsider, 403), (None, 401)):
        response = getattr(api_client_for(user), method)(url, body, format="json")
        assert response.status_code == expected, (user, response.content)
    assert stored() == before
    assert queued == []


@pytest.mark.parametrize("write", WRITES.values(), ids=WRITES.keys())
@pytest.mark.parametrize("role_user", ["marketing_user", "admin_user"])
def test_marketing_and_admin_may_write(api_client_for, request, queued, role_user, write):
    method, url, body = write
    response = getattr(api_client_for(request.getfixturevalue(role_user)), method)(url(), body, format="json")
    assert response.status_code in (200, 201, 204), response.content


# Email templates ---------------------------------------------------------------------------------


def test_create_template(marketing):
    response = marketing.post(
        "/api/v1/email-templates/",
        {
            "name": "Welcome",
            "subject": "Hallo {{ first_name }}",
            "body_text": BODY,
            "body_html": "<p>Hallo {{first_name}}</p>",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == TEMPLATE_FIELDS
    assert body["created_at"].endswith("Z")
    stored_template = EmailTemplate.objects.get(pk=body["id"])
    assert (stored_template.name, stored_template.subject, stored_template.body_html) == (
        "Welcome",
        "Hallo {{ first_name }}",
        "<p>Hallo {{first_name}}</p>",
    )


def test_list_retrieve_patch_delete_template(marketing):
    template("B")
    a = template("A")
    body = marketing.get("/api/v1/email-templates/").json()
    assert [t["name"] for t in body["results"]] == ["A", "B"]
    url = f"/api/v1/email-templates/{a.pk}/"
    assert marketing.get(url).json()["subject"] == "Hallo"
    response = marketing.patch(url, {"subject": "Neu: {{ company }}"}, format="json")
    assert response.status_code == 200
    assert response.json()["subject"] == "Neu: {{ company }}"
    a.refresh_from_db()
    assert a.subject == "Neu: {{ company }}"
    assert marketing.delete(url).status_code == 204
    assert not EmailTemplate.objects.filter(pk=a.pk).exists()
    assert marketing.get(url).status_code == 404


@pytest.mark.parametrize(
    "body, field",
    [
        ({"name": ""}, "name"),
        ({"name": "n" * 101}, "name"),
        ({"name": "Taken"}, "name"),
        ({"name": "a\x00b"}, "name"),
        ({"name": ["x"]}, "name"),
        ({"subject": "s" * 201}, "subject"),
        ({"subject": "Hi {{ frist_name }}"}, "subject"),
        ({"body_text": "No way out"}, "body_text"),
        ({"body_text": "x" * 100_001}, "body_text"),
        ({"body_text": None}, "body_text"),
        ({"body_html": "<p>{{ secret }}</p>"}, "body_html"),
        ({"body_html": True}, "body_html"),
    ],
)
def test_invalid_template_is_400_and_stores_nothing(marketing, body, field):
    template("Taken")
    before = stored()
    response = marketing.post(
        "/api/v1/email-templates/", {"name": "New", "subject": "S", "body_text": BODY, **body}, format="json"
    )
    assert response.status_code == 400
    assert list(response.json()) == [field], response.json()
    assert stored() == before


def test_missing_template_fields_are_named(marketing):
    response = marketing.post("/api/v1/email-templates/", {}, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"name", "subject", "body_text"}


def test_invalid_template_patch_changes_nothing(marketing):
    t = template()
    response = marketing.patch(
        f"/api/v1/email-templates/{t.pk}/", {"subject": "New", "body_text": "no link"}, format="json"
    )
    assert response.status_code == 400
    assert list(response.json()) == ["body_text"]
    t.refresh_from_db()
    assert (t.subject, t.body_text) == ("Hallo", BODY)


def test_template_name_race_is_400_not_500(marketing, monkeypatch):
    """Two requests racing past the uniqueness checks: the database decides, the loser gets a 400."""
    template("Taken")
    monkeypatch.setattr("rest_framework.validators.UniqueValidator.__call__", lambda self, value, field: None)
    monkeypatch.setattr(EmailTemplate, "validate_unique", lambda self, exclude=None: None)
    before = stored()
    response = marketing.post(
        "/api/v1/email-templates/", {"name": "Taken", "subject": "S", "body_text": BODY}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {"name": ["email template with this name already exists."]}
    assert stored() == before
    # The same message as the serializer's check gives without the race.
    monkeypatch.undo()
    response = marketing.post(
        "/api/v1/email-templates/", {"name": "Taken", "subject": "S", "body_text": BODY}, format="json"
    )
    assert response.json() == {"name": ["email template with this name already exists."]}


def test_template_used_by_a_step_cannot_be_deleted(marketing):
    seq = active_sequence()
    used = seq.steps.get(kind=Step.Kind.EMAIL).template
    response = marketing.delete(f"/api/v1/email-templates/{used.pk}/")
    assert response.status_code == 400
    assert "used by sequence steps" in response.json()["non_field_errors"][0]
    assert EmailTemplate.objects.filter(pk=used.pk).exists()


# Sequences ---------------------------------------------------------------------------------------


def test_create_sequence_with_all_fields(marketing, marketing_user):
    Tag.objects.create(name="Messe")
    response = marketing.post(
        "/api/v1/sequences/",
        {
            "name": "Fair follow-up",
            "goal": "Book a demo",
            "goal_stage": "prospect",
            "trigger": "tag_added",
            "trigger_stage": "lead",
            "trigger_score": 50,
            "trigger_event_type": "download",
            "trigger_topic": "pcb-design",
            "trigger_tag": "messe",
            "reentry": "after_days",
            "reentry_days": 90,
            "window_start": "08:30",
            "window_end": "17:00",
            "window_days": "531",
            "time_zone": "Europe/Berlin",
            "active": True,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == SEQUENCE_FIELDS
    assert body == {
        **body,
        "name": "Fair follow-up",
        "goal_stage": "prospect",
        "active": False,  # only the activate action switches it on
        "trigger": "tag_added",
        "trigger_stage": "lead",
        "trigger_score": 50,
        "trigger_event_type": "download",
        "trigger_tag": "Messe",  # the existing tag, as it is spelt
        "reentry_days": 90,
        "window_start": "08:30",
        "window_end": "17:00",
        "window_days": "135",
        "time_zone": "Europe/Berlin",
        "steps": [],
        "counts": NO_COUNTS,
    }
    seq = Sequence.objects.get(pk=body["id"])
    assert seq.created_by == marketing_user
    assert seq.trigger_tag.name == "Messe"
    assert Tag.objects.count() == 1


def test_create_sequence_defaults(marketing):
    body = marketing.post("/api/v1/sequences/", {"name": "Plain"}, format="json").json()
    assert body == {
        **body,
        "goal": "",
        "goal_stage": None,
        "active": False,
        "trigger": "manual",
        "trigger_stage": None,
        "trigger_score": None,
        "trigger_event_type": None,
        "trigger_tag": None,
        "reentry": "never",
        "reentry_days": None,
        "window_start": None,
        "window_end": None,
        "window_days": "12345",
    }


@pytest.mark.parametrize(
    "body, field",
    [
        ({"name": ""}, "name"),
        ({"name": "n" * 121}, "name"),
        ({"name": "Taken"}, "name"),
        ({"goal": "g" * 301}, "goal"),
        ({"goal_stage": "nope"}, "goal_stage"),
        ({"trigger": "whenever"}, "trigger"),
        ({"trigger": "stage_entered"}, "trigger_stage"),
        ({"trigger": "stage_entered", "trigger_stage": "nope"}, "trigger_stage"),
        ({"trigger": "score_reached"}, "trigger_score"),
        ({"trigger": "score_reached", "trigger_score": 0}, "trigger_score"),
        ({"trigger_score": 100_001}, "trigger_score"),
        ({"trigger_score": "many"}, "trigger_score"),
        ({"trigger_score": 2**70}, "trigger_score"),
        ({"trigger": "event"}, "trigger_event_type"),
        ({"trigger": "event", "trigger_event_type": "nope"}, "trigger_event_type"),
        ({"trigger_topic": "t" * 101}, "trigger_topic"),
        ({"trigger": "tag_added"}, "trigger_tag"),
        ({"trigger": "tag_added", "trigger_tag": "unknown"}, "trigger_tag"),
        ({"trigger_tag": 5}, "trigger_tag"),
        ({"trigger_tag": "x" * 51}, "trigger_tag"),
        ({"trigger_tag": "a\x00"}, "trigger_tag"),
        ({"reentry": "sometimes"}, "reentry"),
        ({"reentry": "after_days"}, "reentry_days"),
        ({"reentry": "after_days", "reentry_days": 0}, "reentry_days"),
        ({"reentry_days": -3}, "reentry_days"),
        ({"reentry_days": 3651}, "reentry_days"),
        ({"window_start": "9am", "window_end": "17:00"}, "window_start"),
        ({"window_start": "25:00", "window_end": "17:00"}, "window_start"),
        ({"window_start": "09:00"}, "window_end"),
        ({"window_start": "17:00", "window_end": "09:00"}, "window_end"),
        ({"window_start": 9, "window_end": "17:00"}, "window_start"),
        ({"window_days": "189"}, "window_days"),
        ({"window_days": "11"}, "window_days"),
        ({"window_days": "12345678"}, "window_days"),
        ({"window_days": "", "window_start": "09:00", "window_end": "17:00"}, "window_days"),
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"time_zone": "../../etc/passwd"}, "time_zone"),
        ({"time_zone": "Z" * 65}, "time_zone"),
        ({"active": "yes"}, None),  # read-only: ignored, not an error
    ],
)
def test_invalid_sequence_is_400_and_stores_nothing(marketing, body, field):
    sequence("Taken")
    Tag.objects.create(name="vip")
    before = stored()
    response = marketing.post("/api/v1/sequences/", {"name": "New", **body}, format="json")
    if field is None:
        assert response.status_code == 201
        assert response.json()["active"] is False
        return
    assert response.status_code == 400
    assert list(response.json()) == [field], response.json()
    assert stored() == before


def test_sequence_name_race_is_400_not_500(marketing, monkeypatch):
    sequence("Taken")
    monkeypatch.setattr("rest_framework.validators.UniqueValidator.__call__", lambda self, value, field: None)
    monkeypatch.setattr(Sequence, "validate_unique", lambda self, exclude=None: None)
    before = stored()
    response = marketing.post("/api/v1/sequences/", {"name": "Taken"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"name": ["sequence with this name already exists."]}
    assert stored() == before


def test_sequence_list_with_steps_counts_and_filters(sales):
    running = active_sequence("B running", trigger="score_reached", trigger_score=40)
    idle = sequence("A idle")
    for state in ("active", "active", "completed", "exited", "failed", "failed", "failed"):
        enrollment(running, state=state)
    body = sales.get("/api/v1/sequences/").json()
    assert [s["name"] for s in body["results"]] == ["A idle", "B running"]
    listed = body["results"][1]
    assert listed["counts"] == {"active": 2, "completed": 1, "exited": 1, "failed": 3}
    assert [(s["position"], s["kind"]) for s in listed["steps"]] == [(1, "email"), (2, "wait")]
    assert set(listed["steps"][0]) == STEP_FIELDS
    assert listed["steps"][1]["wait_seconds"] == 2 * 86400
    assert body["results"][0]["counts"] == NO_COUNTS

    def names(query):
        return [s["name"] for s in sales.get(f"/api/v1/sequences/?{query}").json()["results"]]

    assert names("active=true") == ["B running"]
    assert names("active=false") == ["A idle"]
    assert names("trigger=score_reached") == ["B running"]
    assert names("trigger=manual") == ["A idle"]
    assert names("trigger=manual&active=true") == []
    assert names("active=false&trigger=manual") == [idle.name]


@pytest.mark.parametrize(
    "query, param",
    [
        ("active=maybe", "active"),
        ("active=", None),
        ("trigger=whenever", "trigger"),
        ("trigger=a%00", "trigger"),
    ],
)
def test_invalid_sequence_filter_is_400_naming_the_parameter(sales, query, param):
    sequence()
    response = sales.get(f"/api/v1/sequences/?{query}")
    if param is None:
        assert response.status_code == 200
        return
    assert response.status_code == 400
    assert list(response.json()) == [param]


def test_sequence_detail(sales):
    seq = active_sequence()
    enrollment(seq)
    body = sales.get(f"/api/v1/sequences/{seq.pk}/").json()
    assert body["counts"] == {**NO_COUNTS, "active": 1}
    assert body["active"] is True
    assert [s["kind"] for s in body["steps"]] == ["email", "wait"]
    # Filters belong to the list: they do not turn a detail into a 404.
    assert sales.get(f"/api/v1/sequences/{seq.pk}/?active=false").status_code == 200


@pytest.mark.parametrize("pk", ["999999", "abc", "9" * 30])
def test_unknown_sequence_is_404(sales, pk):
    assert sales.get(f"/api/v1/sequences/{pk}/").status_code == 404


def test_patch_sequence(marketing):
    seq = sequence()
    enrollment(add_step(seq).sequence, state="completed")
    response = marketing.patch(
        f"/api/v1/sequences/{seq.pk}/",
        {"name": "Renamed", "trigger": "stage_entered", "trigger_stage": "lead", "active": True},
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["name"], body["trigger_stage"], body["active"]) == ("Renamed", "lead", False)
    assert body["counts"] == {**NO_COUNTS, "completed": 1}
    seq.refresh_from_db()
    assert (seq.name, seq.trigger, seq.trigger_stage.key, seq.active) == (
        "Renamed",
        "stage_entered",
        "lead",
        False,
    )
    # Clearing a window and a key.
    response = marketing.patch(
        f"/api/v1/sequences/{seq.pk}/", {"trigger": "manual", "trigger_stage": None}, format="json"
    )
    assert response.json()["trigger_stage"] is None


def test_invalid_patch_of_active_sequence_changes_nothing(marketing):
    seq = active_sequence(trigger="stage_entered", trigger_stage=stage("lead"))
    before = stored()
    response = marketing.patch(
        f"/api/v1/sequences/{seq.pk}/", {"name": "Other", "trigger_stage": None}, format="json"
    )
    assert response.status_code == 400
    assert list(response.json()) == ["trigger_stage"]
    assert stored() == before


def test_delete_sequence(marketing):
    seq = active_sequence()
    end = add_step(seq, Step.Kind.END)
    add_step(seq, Step.Kind.BRANCH, condition="score_gte", condition_value="5", position=1, yes_step=end)
    finished = enrollment(seq, state="completed")
    url = f"/api/v1/sequences/{seq.pk}/"
    response = marketing.delete(url)
    assert response.status_code == 400
    assert "Deactivate" in response.json()["non_field_errors"][0]
    services.sequence_deactivate(sequence=seq)
    running = enrollment(seq)
    response = marketing.delete(url)
    assert response.status_code == 400
    assert "still in this sequence" in response.json()["non_field_errors"][0]
    services.enrollment_exit(enrollment=running)
    # Finished enrollments (still pointing at the steps) go with it; the templates stay.
    assert marketing.delete(url).status_code == 204
    assert not Sequence.objects.filter(pk=seq.pk).exists()
    assert not Enrollment.objects.filter(pk=finished.pk).exists()
    assert not Step.objects.exists()
    assert EmailTemplate.objects.count() == 1


def test_activate_and_deactivate(marketing):
    seq = sequence()
    url = f"/api/v1/sequences/{seq.pk}/"
    response = marketing.post(url + "activate/")
    assert response.status_code == 400
    assert response.json() == {"problems": ["The sequence has no steps."]}
    assert Sequence.objects.get(pk=seq.pk).active is False

    add_step(seq, Step.Kind.NOTIFY, text="Hi")
    response = marketing.post(url + "activate/")
    assert response.status_code == 200
    assert response.json()["active"] is True
    assert set(response.json()) == SEQUENCE_FIELDS
    assert Sequence.objects.get(pk=seq.pk).active is True
    assert marketing.post(url + "activate/").status_code == 200  # already active: fine

    response = marketing.post(url + "deactivate/")
    assert response.status_code == 200
    assert response.json()["active"] is False
    assert marketing.post(url + "deactivate/").status_code == 200
    assert Sequence.objects.get(pk=seq.pk).active is False


def test_activate_lists_every_problem(marketing):
    seq = sequence()
    # Rows the service would refuse, as an old or hand-edited database might hold them.
    Step.objects.create(sequence=seq, position=1, kind=Step.Kind.EMAIL)
    Step.objects.create(sequence=seq, position=2, kind=Step.Kind.WAIT)
    response = marketing.post(f"/api/v1/sequences/{seq.pk}/activate/")
    assert response.status_code == 400
    assert response.json() == {
        "problems": ["Step 1: Choose the email template to send.", "Step 2: Enter how long to wait."]
    }
    assert Sequence.objects.get(pk=seq.pk).active is False


def test_actions_on_unknown_sequence_are_404(marketing):
    for action in ("activate", "deactivate", "enroll"):
        assert (
            marketing.post(
                f"/api/v1/sequences/999999/{action}/", {"contacts": [1]}, format="json"
            ).status_code
            == 404
        )


def test_sequence_list_query_count_is_constant(sales, django_assert_num_queries):
    sales.get("/api/v1/stages/")  # the first request records the token's use
    active_sequence("One", trigger="tag_added", trigger_tag=Tag.objects.create(name="t"))
    # token, roles, count, page (with the counts and keys), steps (with their keys)
    with django_assert_num_queries(5):
        assert sales.get("/api/v1/sequences/").json()["count"] == 1
    for i in range(4):
        seq = active_sequence(f"More {i}", goal_stage=stage("customer"))
        add_step(seq, Step.Kind.MOVE_STAGE, stage=stage("lead"))
        add_step(seq, Step.Kind.ADD_TAG, tag=Tag.objects.create(name=f"tag {i}"))
        for state in ("active", "completed", "failed"):
            enrollment(seq, state=state)
    with django_assert_num_queries(5):
        body = sales.get("/api/v1/sequences/").json()
    assert body["count"] == 5
    assert [s["counts"]["active"] for s in body["results"]] == [1, 1, 1, 1, 0]  # "More …", "One"
    with django_assert_num_queries(5):
        assert sales.get("/api/v1/sequences/?active=true&trigger=manual").json()["count"] == 4


def test_sequence_detail_query_count(sales, django_assert_num_queries):
    seq = active_sequence()
    sales.get("/api/v1/stages/")
    # token, roles, the sequence (with counts and keys), its steps
    with django_assert_num_queries(4):
        sales.get(f"/api/v1/sequences/{seq.pk}/")


# Steps -------------------------------------------------------------------------------------------


def steps_url(seq, step=None):
    base = f"/api/v1/sequences/{seq.pk}/steps/"
    return base if step is None else f"{base}{step.pk}/"


def test_step_list_and_detail(sales):
    seq = active_sequence()
    body = sales.get(steps_url(seq)).json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert [(s["position"], s["kind"]) for s in body["results"]] == [(1, "email"), (2, "wait")]
    email = body["results"][0]
    assert set(email) == STEP_FIELDS
    assert email["template"] == EmailTemplate.objects.get().pk
    wait = seq.steps.get(kind="wait")
    assert sales.get(steps_url(seq, wait)).json()["wait_seconds"] == 172800


def test_steps_of_unknown_sequence_or_other_sequence_are_404(sales):
    seq = active_sequence()
    other = sequence("Other")
    step = seq.steps.first()
    assert sales.get("/api/v1/sequences/999999/steps/").status_code == 404
    assert sales.get(f"/api/v1/sequences/{'9' * 30}/steps/").status_code == 404
    assert sales.get(steps_url(other, step)).status_code == 404
    assert sales.get(f"{steps_url(seq)}999999/").status_code == 404
    assert sales.get(f"{steps_url(seq)}abc/").status_code == 404


def test_writes_to_steps_of_unknown_sequence_are_404_whatever_the_body(marketing, sales):
    assert (
        marketing.post("/api/v1/sequences/999999/steps/", {"kind": "nope"}, format="json").status_code == 404
    )
    assert sales.post("/api/v1/sequences/999999/steps/", {"kind": "end"}, format="json").status_code == 403


@pytest.mark.parametrize(
    "body, expected",
    [
        ({"kind": "wait", "wait_seconds": 3600}, {"wait_seconds": 3600}),
        ({"kind": "wait", "wait_seconds": 365 * 86400}, {"wait_seconds": 365 * 86400}),
        (
            {"kind": "wait_event", "wait_seconds": 86400, "event_type": "download", "topic": "pcb"},
            {"wait_seconds": 86400, "event_type": "download", "topic": "pcb"},
        ),
        (
            {"kind": "branch", "condition": "score_gte", "condition_value": "40"},
            {"condition": "score_gte", "condition_value": "40"},
        ),
        (
            {"kind": "branch", "condition": "fit_grade", "condition_value": " b "},
            {"condition": "fit_grade", "condition_value": "B"},
        ),
        ({"kind": "branch", "condition": "stage_at_least", "stage": "lead"}, {"stage": "lead"}),
        (
            {"kind": "branch", "condition": "event_within", "condition_value": "7", "event_type": "download"},
            {"event_type": "download"},
        ),
        ({"kind": "branch", "condition": "topic_interest", "topic": "pcb"}, {"topic": "pcb"}),
        ({"kind": "branch", "condition": "has_tag", "tag": "VIP"}, {"tag": "vip"}),
        ({"kind": "task", "text": "Call", "due_hours": 24}, {"text": "Call", "due_hours": 24}),
        ({"kind": "move_stage", "stage": "prospect"}, {"stage": "prospect"}),
        ({"kind": "add_tag", "tag": "vip"}, {"tag": "vip"}),
        ({"kind": "remove_tag", "tag": "vip"}, {"tag": "vip"}),
        ({"kind": "notify", "text": "Look at this"}, {"text": "Look at this"}),
        # Fields the kind does not use are cleared.
        ({"kind": "end", "text": "ignored", "wait_seconds": 60}, {"text": "", "wait_seconds": None}),
    ],
)
def test_create_step_of_every_kind(marketing, body, expected):
    Tag.objects.create(name="vip")
    seq = sequence()
    response = marketing.post(steps_url(seq), body, format="json")
    assert response.status_code == 201, response.content
    result = response.json()
    assert set(result) == STEP_FIELDS
    assert result["position"] == 1
    assert result == {**result, **expected}
    assert Step.objects.get(pk=result["id"]).sequence == seq


def test_create_email_step(marketing):
    seq = sequence()
    t = template()
    response = marketing.post(steps_url(seq), {"kind": "email", "template": t.pk}, format="json")
    assert response.status_code == 201
    assert response.json()["template"] == t.pk


def test_create_appends_or_inserts(marketing):
    seq = sequence()
    add_step(seq, Step.Kind.NOTIFY, text="a")
    add_step(seq, Step.Kind.END)
    assert (
        marketing.post(steps_url(seq), {"kind": "wait", "wait_seconds": 60}, format="json").json()["position"]
        == 3
    )
    response = marketing.post(
        steps_url(seq), {"kind": "task", "text": "t", "due_hours": 1, "position": 1}, format="json"
    )
    assert response.json()["position"] == 1
    assert positions(seq) == [("task", 1), ("notify", 2), ("end", 3), ("wait", 4)]
    response = marketing.post(steps_url(seq), {"kind": "end", "position": 99}, format="json")
    assert response.json()["position"] == 5


def test_branch_to_a_later_step(marketing):
    seq = sequence()
    add_step(seq, Step.Kind.NOTIFY, text="a")
    target = add_step(seq, Step.Kind.END)
    response = marketing.post(
        steps_url(seq),
        {
            "kind": "branch",
            "condition": "score_gte",
            "condition_value": "10",
            "yes_step": target.pk,
            "position": 1,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["yes_step"] == target.pk
    assert response.json()["no_step"] is None


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "kind"),
        ({"kind": "teleport"}, "kind"),
        ({"kind": None}, "kind"),
        ({"kind": "email"}, "template"),
        ({"kind": "email", "template": None}, "template"),
        ({"kind": "email", "template": 999999}, "template"),
        ({"kind": "email", "template": "abc"}, "template"),
        ({"kind": "wait"}, "wait_seconds"),
        ({"kind": "wait", "wait_seconds": -60}, "wait_seconds"),
        ({"kind": "wait", "wait_seconds": 0}, "wait_seconds"),
        ({"kind": "wait", "wait_seconds": 365 * 86400 + 1}, "wait_seconds"),
        ({"kind": "wait", "wait_seconds": 2**70}, "wait_seconds"),
        ({"kind": "wait", "wait_seconds": "long"}, "wait_seconds"),
        ({"kind": "wait", "wait_seconds": 1.5}, "wait_seconds"),
        ({"kind": "wait_event", "wait_seconds": 60}, "event_type"),
        ({"kind": "wait_event", "wait_seconds": 60, "event_type": "nope"}, "event_type"),
        ({"kind": "wait_event", "wait_seconds": 60, "event_type": "download", "topic": "t" * 101}, "topic"),
        ({"kind": "branch"}, "condition"),
        ({"kind": "branch", "condition": "moon_phase"}, "condition"),
        ({"kind": "branch", "condition": "score_gte", "condition_value": "lots"}, "condition_value"),
        ({"kind": "branch", "condition": "score_gte", "condition_value": "1" * 21}, "condition_value"),
        ({"kind": "branch", "condition": "fit_grade", "condition_value": "E"}, "condition_value"),
        (
            {"kind": "branch", "condition": "event_within", "condition_value": "0", "event_type": "download"},
            "condition_value",
        ),
        ({"kind": "branch", "condition": "event_within", "condition_value": "3"}, "event_type"),
        ({"kind": "branch", "condition": "stage_at_least"}, "stage"),
        ({"kind": "branch", "condition": "has_tag", "tag": "unknown"}, "tag"),
        ({"kind": "branch", "condition": "topic_interest"}, "topic"),
        (
            {"kind": "branch", "condition": "score_gte", "condition_value": "1", "yes_step": "EARLIER"},
            "yes_step",
        ),
        ({"kind": "branch", "condition": "score_gte", "condition_value": "1", "no_step": "OTHER"}, "no_step"),
        (
            {"kind": "branch", "condition": "score_gte", "condition_value": "1", "yes_step": 999999},
            "yes_step",
        ),
        ({"kind": "branch", "condition": "score_gte", "condition_value": "1", "no_step": [1]}, "no_step"),
        (
            {"kind": "wait_event", "wait_seconds": 60, "event_type": "download", "no_step": "EARLIER"},
            "no_step",
        ),
        ({"kind": "task", "due_hours": 4}, "text"),
        ({"kind": "task", "text": "   ", "due_hours": 4}, "text"),
        ({"kind": "task", "text": "Call"}, "due_hours"),
        ({"kind": "task", "text": "Call", "due_hours": 0}, "due_hours"),
        ({"kind": "task", "text": "Call", "due_hours": -1}, "due_hours"),
        ({"kind": "task", "text": "Call", "due_hours": 24 * 90 + 1}, "due_hours"),
        ({"kind": "task", "text": "x" * 201, "due_hours": 1}, "text"),
        ({"kind": "notify"}, "text"),
        ({"kind": "notify", "text": "a\x00b"}, "text"),
        ({"kind": "move_stage"}, "stage"),
        ({"kind": "move_stage", "stage": "nope"}, "stage"),
        ({"kind": "add_tag"}, "tag"),
        ({"kind": "add_tag", "tag": "newtag"}, "tag"),
        ({"kind": "remove_tag", "tag": {"name": "vip"}}, "tag"),
        ({"kind": "end", "position": 0}, "position"),
        ({"kind": "end", "position": "first"}, "position"),
        ({"kind": "end", "position": 2**40}, "position"),
    ],
)
def test_invalid_step_is_400_and_stores_nothing(marketing, body, field):
    Tag.objects.create(name="vip")
    seq = sequence()
    earlier = add_step(seq, Step.Kind.NOTIFY, text="first")
    other = add_step(sequence("Other"), Step.Kind.END)
    targets = {"EARLIER": earlier.pk, "OTHER": other.pk}
    body = {k: targets.get(v, v) if isinstance(v, str) else v for k, v in body.items()}
    before = stored()
    response = marketing.post(steps_url(seq), body, format="json")
    assert response.status_code == 400
    assert list(response.json()) == [field], response.json()
    assert stored() == before


def test_insert_between_a_branch_and_its_target(marketing):
    """Inserting before a branch's target is fine (it moves too); the target stays after the branch."""
    seq = sequence()
    end = add_step(seq, Step.Kind.END)
    add_step(seq, Step.Kind.BRANCH, condition="score_gte", condition_value="5", position=1, yes_step=end)
    response = marketing.post(steps_url(seq), {"kind": "notify", "text": "x", "position": 2}, format="json")
    assert response.status_code == 201
    assert positions(seq) == [("branch", 1), ("notify", 2), ("end", 3)]


def test_patch_step(marketing):
    seq = sequence()
    step = add_step(seq, Step.Kind.TASK, text="Call", due_hours=4)
    response = marketing.patch(steps_url(seq, step), {"text": "Call back", "position": 1}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["text"] == "Call back"
    assert response.json()["due_hours"] == 4
    step.refresh_from_db()
    assert (step.kind, step.text, step.due_hours) == ("task", "Call back", 4)
    # Another kind: its fields are needed, the old ones cleared.
    response = marketing.patch(steps_url(seq, step), {"kind": "wait", "wait_seconds": 120}, format="json")
    assert response.status_code == 200
    assert response.json() == {
        **response.json(),
        "kind": "wait",
        "wait_seconds": 120,
        "text": "",
        "due_hours": None,
    }


@pytest.mark.parametrize(
    "body, field",
    [
        ({"kind": "email"}, "template"),
        ({"due_hours": 0}, "due_hours"),
        ({"text": ""}, "text"),
        ({"position": 2}, "position"),
        ({"kind": "wait"}, "wait_seconds"),
    ],
)
def test_invalid_step_patch_changes_nothing(marketing, body, field):
    seq = sequence()
    step = add_step(seq, Step.Kind.TASK, text="Call", due_hours=4)
    add_step(seq, Step.Kind.END)
    before = stored()
    response = marketing.patch(steps_url(seq, step), body, format="json")
    assert response.status_code == 400
    assert list(response.json()) == [field], response.json()
    assert stored() == before


def test_kind_of_a_step_with_contacts_on_it_cannot_change(marketing):
    seq = active_sequence()
    email = seq.steps.get(kind="email")
    enrollment(seq, step=email)
    before = stored()
    response = marketing.patch(steps_url(seq, email), {"kind": "end"}, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["kind"]
    assert stored() == before


def test_delete_step(marketing):
    seq = sequence()
    first = add_step(seq, Step.Kind.NOTIFY, text="a")
    add_step(seq, Step.Kind.END)
    assert marketing.delete(steps_url(seq, first)).status_code == 204
    assert positions(seq) == [("end", 1)]


def test_refused_step_deletes(marketing):
    seq = sequence()
    end = add_step(seq, Step.Kind.END)
    branch = add_step(
        seq, Step.Kind.BRANCH, condition="score_gte", condition_value="5", position=1, yes_step=end
    )
    before = stored()
    response = marketing.delete(steps_url(seq, end))
    assert response.status_code == 400
    assert "goes to this one" in response.json()["non_field_errors"][0]
    assert stored() == before

    services.sequence_activate(sequence=seq)
    enrollment(seq, step=branch)
    before = stored()
    response = marketing.delete(steps_url(seq, branch))
    assert response.status_code == 400
    assert "Contacts are on this step" in response.json()["non_field_errors"][0]
    assert stored() == before


def test_last_step_of_an_active_sequence_cannot_be_deleted(marketing):
    seq = sequence()
    only = add_step(seq, Step.Kind.END)
    services.sequence_activate(sequence=seq)
    before = stored()
    response = marketing.delete(steps_url(seq, only))
    assert response.status_code == 400
    assert response.json() == {"non_field_errors": ["The sequence has no steps."]}
    assert stored() == before


def test_move_step(marketing):
    seq = sequence()
    add_step(seq, Step.Kind.NOTIFY, text="a")
    add_step(seq, Step.Kind.WAIT, wait=timedelta(hours=1))
    end = add_step(seq, Step.Kind.END)
    response = marketing.post(steps_url(seq, end) + "move/", {"position": 1}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["position"] == 1
    assert set(response.json()) == STEP_FIELDS
    assert positions(seq) == [("end", 1), ("notify", 2), ("wait", 3)]
    # Past the end means last.
    assert (
        marketing.post(steps_url(seq, end) + "move/", {"position": 50}, format="json").json()["position"] == 3
    )
    assert positions(seq) == [("notify", 1), ("wait", 2), ("end", 3)]


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "position"),
        ({"position": 0}, "position"),
        ({"position": "top"}, "position"),
        ({"position": None}, "position"),
        ({"position": 2**40}, "position"),
        ({"position": 3}, "non_field_errors"),  # the branch's target would come before it
    ],
)
def test_invalid_move_is_400_and_changes_nothing(marketing, body, field):
    seq = sequence()
    target = add_step(seq, Step.Kind.END)
    branch = add_step(
        seq, Step.Kind.BRANCH, condition="score_gte", condition_value="5", position=1, yes_step=target
    )
    add_step(seq, Step.Kind.NOTIFY, text="x")
    before = stored()
    response = marketing.post(steps_url(seq, branch) + "move/", body, format="json")
    assert response.status_code == 400
    assert list(response.json()) == [field], response.json()
    assert stored() == before


def test_step_list_query_count_is_constant(sales, django_assert_num_queries):
    seq = sequence()
    add_step(seq, Step.Kind.NOTIFY, text="Hi")
    sales.get("/api/v1/stages/")
    # token, roles, the sequence, count, page (with the keys)
    with django_assert_num_queries(5):
        sales.get(steps_url(seq))
    for i in range(5):
        add_step(seq, Step.Kind.MOVE_STAGE, stage=stage("lead"))
        add_step(seq, Step.Kind.ADD_TAG, tag=Tag.objects.create(name=f"t{i}"))
        add_step(
            seq,
            Step.Kind.WAIT_EVENT,
            wait=timedelta(days=1),
            event_type=EventType.objects.get(key="download"),
        )
    with django_assert_num_queries(5):
        assert sales.get(steps_url(seq)).json()["count"] == 16


# Enroll ------------------------------------------------------------------------------------------


def test_enroll(marketing, marketing_user, queued, django_capture_on_commit_callbacks):
    seq = active_sequence()
    fresh = ContactFactory()
    inside = enrollment(seq).contact
    before = enrollment(seq, state="completed").contact  # re-entry "never"
    with django_capture_on_commit_callbacks(execute=True):
        response = marketing.post(
            f"/api/v1/sequences/{seq.pk}/enroll/",
            {"contacts": [fresh.pk, fresh.pk, inside.pk, before.pk, 999999]},
            format="json",
        )
    assert response.status_code == 200, response.content
    assert response.json() == {
        "enrolled": [fresh.pk],
        "already_enrolled": [inside.pk],
        "not_again": [before.pk],
        "missing": [999999],
    }
    new = Enrollment.objects.get(contact=fresh)
    assert (new.state, new.step.position, new.enrolled_by) == ("active", 1, marketing_user)
    assert queued == [1]


def test_enroll_nobody_new_queues_nothing(marketing, queued, django_capture_on_commit_callbacks):
    seq = active_sequence()
    with django_capture_on_commit_callbacks(execute=True):
        response = marketing.post(
            f"/api/v1/sequences/{seq.pk}/enroll/", {"contacts": [999999]}, format="json"
        )
    assert response.json()["missing"] == [999999]
    assert queued == []


def test_enroll_takes_ten_thousand_ids(marketing, queued):
    seq = active_sequence()
    contact = ContactFactory()
    ids = [contact.pk] + list(range(10**6, 10**6 + 9_999))
    response = marketing.post(f"/api/v1/sequences/{seq.pk}/enroll/", {"contacts": ids}, format="json")
    assert response.status_code == 200
    assert response.json()["enrolled"] == [contact.pk]
    assert len(response.json()["missing"]) == 9_999


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"contacts": None},
        {"contacts": "1,2"},
        {"contacts": 5},
        {"contacts": {"1": 2}},
        {"contacts": []},
        {"contacts": ["1"]},
        {"contacts": [1.0]},
        {"contacts": [1.5]},
        {"contacts": [True]},
        {"contacts": [None]},
        {"contacts": [[1]]},
        {"contacts": [0]},
        {"contacts": [-1]},
        {"contacts": [2**70]},
        {"contacts": list(range(1, 10_002))},
        {"contact": [1]},
    ],
)
def test_invalid_enroll_is_400_and_stores_nothing(marketing, queued, body):
    seq = active_sequence()
    ContactFactory()
    before = stored()
    response = marketing.post(f"/api/v1/sequences/{seq.pk}/enroll/", body, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["contacts"], response.json()
    assert stored() == before
    assert queued == []


def test_enroll_body_must_be_an_object(marketing, queued):
    seq = active_sequence()
    response = marketing.post(f"/api/v1/sequences/{seq.pk}/enroll/", [1, 2], format="json")
    assert response.status_code == 400
    assert not Enrollment.objects.exists()


def test_enroll_into_inactive_sequence_is_400(marketing, queued):
    seq = sequence()
    add_step(seq)
    contact = ContactFactory()
    before = stored()
    response = marketing.post(
        f"/api/v1/sequences/{seq.pk}/enroll/", {"contacts": [contact.pk]}, format="json"
    )
    assert response.status_code == 400
    assert "not active" in response.json()["non_field_errors"][0]
    assert stored() == before
    assert queued == []


# Enrollments -------------------------------------------------------------------------------------


def test_enrollment_list_filters_and_order(sales):
    a, b = active_sequence("A"), active_sequence("B")
    anna, bert = ContactFactory(), ContactFactory()
    now = timezone.now()
    old = enrollment(a, anna, state="completed", entered_at=now - timedelta(days=3))
    mid = enrollment(b, anna, entered_at=now - timedelta(days=2))
    new = enrollment(a, bert, entered_at=now - timedelta(days=1))

    def ids(query=""):
        response = sales.get(f"/api/v1/enrollments/?{query}")
        assert response.status_code == 200
        return [e["id"] for e in response.json()["results"]]

    assert ids() == [new.pk, mid.pk, old.pk]
    assert ids(f"contact={anna.pk}") == [mid.pk, old.pk]
    assert ids(f"sequence={a.pk}") == [new.pk, old.pk]
    assert ids("state=completed") == [old.pk]
    assert ids(f"contact={anna.pk}&sequence={a.pk}&state=active") == []
    assert ids("contact=999999") == []

    body = sales.get(f"/api/v1/enrollments/{mid.pk}/").json()
    assert set(body) == ENROLLMENT_FIELDS
    assert body == {
        **body,
        "contact": anna.pk,
        "sequence": b.pk,
        "state": "active",
        "exit_reason": "",
        "step": b.steps.get(position=1).pk,
        "step_position": 1,
        "finished_at": None,
    }
    assert body["entered_at"].endswith("Z")
    assert body["next_run_at"].endswith("Z")


def test_enrollment_of_deleted_contact_shows_null(sales):
    e = enrollment(active_sequence())
    e.contact.delete()
    assert sales.get(f"/api/v1/enrollments/{e.pk}/").json()["contact"] is None


@pytest.mark.parametrize(
    "query, param",
    [
        ("contact=abc", "contact"),
        ("contact=1.5", "contact"),
        ("contact=0", "contact"),
        ("contact=99999999999999999999999", "contact"),
        ("sequence=abc", "sequence"),
        ("sequence=-1", "sequence"),
        ("state=asleep", "state"),
    ],
)
def test_invalid_enrollment_filter_is_400_naming_the_parameter(sales, query, param):
    response = sales.get(f"/api/v1/enrollments/?{query}")
    assert response.status_code == 400
    assert list(response.json()) == [param]


def test_enrollments_cannot_be_created_changed_or_deleted(marketing):
    e = enrollment(active_sequence())
    assert marketing.post("/api/v1/enrollments/", {}, format="json").status_code == 405
    assert (
        marketing.patch(f"/api/v1/enrollments/{e.pk}/", {"state": "completed"}, format="json").status_code
        == 405
    )
    assert marketing.delete(f"/api/v1/enrollments/{e.pk}/").status_code == 405
    assert Enrollment.objects.get(pk=e.pk).state == "active"


def test_exit_enrollment(marketing):
    e = enrollment(active_sequence())
    url = f"/api/v1/enrollments/{e.pk}/exit/"
    response = marketing.post(url)
    assert response.status_code == 200
    body = response.json()
    assert (body["state"], body["exit_reason"]) == ("exited", "manual")
    assert body["finished_at"].endswith("Z")
    assert body["next_run_at"] is None
    e.refresh_from_db()
    assert (e.state, e.exit_reason) == ("exited", "manual")

    before = stored()
    response = marketing.post(url)
    assert response.status_code == 400
    assert "already ended" in response.json()["non_field_errors"][0]
    assert stored() == before
    assert marketing.post("/api/v1/enrollments/999999/exit/").status_code == 404


def test_enrollment_list_query_count_is_constant(sales, django_assert_num_queries):
    seq = active_sequence()
    sales.get("/api/v1/stages/")
    enrollment(seq)
    # token, roles, count, page (with the step's position)
    with django_assert_num_queries(4):
        sales.get("/api/v1/enrollments/")
    for state in ("active", "completed", "exited", "failed") * 5:
        enrollment(seq, state=state)
    with django_assert_num_queries(4):
        assert sales.get("/api/v1/enrollments/").json()["count"] == 21
    with django_assert_num_queries(4):
        assert sales.get(f"/api/v1/enrollments/?sequence={seq.pk}&state=failed").json()["count"] == 5


# Schema and routes -------------------------------------------------------------------------------


def test_api_root_still_lists_the_routes(sales):
    body = sales.get("/api/v1/").json()
    assert {"email-templates", "sequences", "enrollments"} <= set(body)


def test_schema_documents_the_endpoints(client):
    paths = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()["paths"]
    for path in (
        "/api/v1/email-templates/{id}/",
        "/api/v1/sequences/{id}/activate/",
        "/api/v1/sequences/{id}/deactivate/",
        "/api/v1/sequences/{id}/enroll/",
        "/api/v1/sequences/{sequence_id}/steps/",
        "/api/v1/sequences/{sequence_id}/steps/{id}/move/",
        "/api/v1/enrollments/{id}/exit/",
    ):
        assert path in paths
    assert "put" not in paths["/api/v1/sequences/{id}/"]
    params = {p["name"] for p in paths["/api/v1/enrollments/"]["get"]["parameters"]}
    assert {"contact", "sequence", "state", "page", "page_size"} <= params
